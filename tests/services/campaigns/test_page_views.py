"""Views and visits counted in a process and written in batches: months in Japan time, crawlers left out, batches
that add up, and the year's figures by source and by month."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from app.services.campaigns import campaigns, figures, page_views
from app.services.programs.activities import fiscal_year_bounds
from db.tables import Application, CampaignVisit, Member, PageView, WalletPass
from tests import factories

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
MAY_1_IN_TOKYO = datetime(2026, 4, 30, 15, 0, tzinfo=timezone.utc).timestamp()


def test_a_view_counts_in_the_month_it_is_in_japan():
    tally = page_views.Tally()
    tally.view("portal", MAY_1_IN_TOKYO - 1)
    tally.view("portal", MAY_1_IN_TOKYO)
    tally.view("portal", MAY_1_IN_TOKYO + 60)
    tally.visit(7, MAY_1_IN_TOKYO - 1)  # the clock may be read out of order: the month is worked out again
    assert tally.counts == {("2026-04", "portal"): 1, ("2026-05", "portal"): 2, ("2026-04", 7): 1}


def test_crawlers_link_previews_and_scripts_are_told_from_browsers():
    assert not page_views.is_crawler(IPHONE)
    for agent in ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "facebookexternalhit/1.1",
                  "Twitterbot/1.0", "curl/8.5.0", "python-httpx/0.28.1", ""):
        assert page_views.is_crawler(agent), agent


async def test_batches_from_several_processes_add_up_per_month_and_kind():
    staff = await factories.staff_account()
    campaign_id = await campaigns.create(campaigns.validate({"name": "X投稿", "source": "X", "kind": "sns"}), staff,
                                         datetime.now(timezone.utc))
    one, two = page_views.Tally(), page_views.Tally()
    for tally in (one, two, one):
        tally.view("program", MAY_1_IN_TOKYO)
        tally.visit(campaign_id, MAY_1_IN_TOKYO)
    assert await page_views.flush(one) == 2 and one.counts == {}
    assert await page_views.flush(two) == 2
    assert await page_views.flush(two) == 0
    assert await PageView.select(PageView.month, PageView.kind, PageView.views) == [
        {"month": "2026-05", "kind": "program", "views": 3}]
    assert (await CampaignVisit.select(CampaignVisit.visits).first())["visits"] == 3
    assert await page_views.visits_by_campaign(["2026-05"]) == {campaign_id: 3}
    assert await page_views.visits_by_campaign(["2026-06"]) == {}


async def test_the_year_by_source_adds_campaigns_of_one_source_and_keeps_those_who_came_by_themselves():
    staff = await factories.staff_account()
    start, end = fiscal_year_bounds(2026)
    made = start + timedelta(days=30)

    def values(name, source, kind):
        return campaigns.validate({"name": name, "source": source, "kind": kind})
    poster = await campaigns.create(values("駅ポスター 春", "JR苫小牧駅", "poster"), staff, made)
    poster_2 = await campaigns.create(values("駅ポスター 秋", "JR苫小牧駅", "poster"), staff, made)
    flyer = await campaigns.create(values("移住フェア配布チラシ", "移住フェア東京", "flyer"), staff, made)
    tally = page_views.Tally()
    for campaign_id, count in ((poster, 5), (poster_2, 3), (flyer, 4)):
        for _ in range(count):
            tally.visit(campaign_id, made.timestamp())
    await page_views.flush(tally)
    area = await factories.area()
    program_id = await factories.program(area)
    pass_id = await factories.entry_pass()
    for campaign_id in (poster, poster_2, None):
        member = await factories.member()
        await Member.update({Member.campaign: campaign_id, Member.created_at: made}).where(Member.id == member.member_id)
        await factories.wallet_pass(member.member_id, pass_id, made, campaign=campaign_id)
        await Application.insert(Application(program=program_id, member=member.member_id, status="accepted",
                                             created_at=made, campaign=campaign_id))
    await factories.premium(member.member_id, date(2027, 6, 30))
    await Member.update({Member.campaign: poster}).where(Member.id == member.member_id)

    rows = await figures.by_source(start, end, figures.year_months(date(2026, 4, 1)), date(2027, 3, 31))
    assert [(r.source, r.campaigns, r.visits, r.registrations, r.activations, r.applications, r.premium) for r in rows] == [
        ("JR苫小牧駅", 2, 8, 3, 2, 2, 1), ("移住フェア東京", 1, 4, 0, 0, 0, 0), (figures.DIRECT, 0, None, 0, 1, 1, 0)]
    assert await WalletPass.count() == 3


async def test_the_portal_months_count_what_was_published_changed_and_viewed():
    staff = await factories.staff_account()
    area = await factories.area()
    april = datetime(2026, 4, 10, 3, 0, tzinfo=timezone.utc)
    await factories.program(area, staff, published_at=april)
    from db.tables import Article, AuditLog
    await Article.insert(Article(title="移住者インタビュー", status="published", published_at=april + timedelta(days=30)),
                         Article(title="下書き", status="draft", published_at=None))
    await AuditLog.insert(AuditLog(actor=staff, action="portal.hero", created_at=april),
                          AuditLog(actor=staff, action="program.approve", created_at=april))
    tally = page_views.Tally()
    tally.view("portal", april.timestamp())
    tally.view("article", april.timestamp())
    await page_views.flush(tally)
    start, end = fiscal_year_bounds(2026)
    months = await figures.portal_months(start, end, figures.year_months(date(2026, 4, 1)))
    assert len(months) == 12 and months[0].month == date(2026, 4, 1) and months[-1].month == date(2027, 3, 1)
    assert (months[0].articles, months[0].programs, months[0].portal_edits, months[0].views) == (0, 1, 1, (1, 0, 1))
    assert (months[1].articles, months[1].total_views) == (1, 0)
