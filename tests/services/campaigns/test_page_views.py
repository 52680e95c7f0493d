"""Views and visits counted in a process and written in batches: months in Japan time, crawlers left out, batches
that add up, and the year's figures by source and by month."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from app.services.campaigns import campaigns, figures, page_views
from app.services.programs.activities import fiscal_year_bounds
from app.services.shared import clock
from db.tables import Application, CampaignVisit, Member, PageView, PageViewSeen, WalletPass
from tests import factories

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
MAY_1_IN_TOKYO = datetime(2026, 4, 30, 15, 0, tzinfo=timezone.utc).timestamp()


PHONE = f"203.0.113.7\n{IPHONE}"
OTHER_PHONE = f"198.51.100.2\n{IPHONE}"


def test_a_view_counts_once_per_visitor_page_and_day_in_japan():
    tally = page_views.Tally("secret")
    tally.view("portal", PHONE, "/", MAY_1_IN_TOKYO - 1)  # April 30 in Japan
    tally.view("portal", PHONE, "/", MAY_1_IN_TOKYO)  # May 1: another day
    tally.view("portal", PHONE, "/", MAY_1_IN_TOKYO + 60)  # the same day again: not counted
    tally.view("program", PHONE, "/programs/3", MAY_1_IN_TOKYO + 60)  # another page
    tally.view("portal", OTHER_PHONE, "/", MAY_1_IN_TOKYO + 60)  # another visitor
    tally.visit(7, MAY_1_IN_TOKYO - 1)  # arrivals by a campaign stay requests
    tally.visit(7, MAY_1_IN_TOKYO - 1)
    assert sorted((day, kind) for (day, _digest), kind in tally.views.items()) == [
        ("2026-04-30", "portal"), ("2026-05-01", "portal"), ("2026-05-01", "portal"), ("2026-05-01", "program")]
    assert tally.counts == {("2026-04", 7): 2}


def test_the_digest_names_nobody_without_the_secret():
    one, other = page_views.Tally("secret"), page_views.Tally("another secret")
    one.view("portal", PHONE, "/", MAY_1_IN_TOKYO)
    other.view("portal", PHONE, "/", MAY_1_IN_TOKYO)
    (digest,), (other_digest,) = ([d for (_day, d) in t.views] for t in (one, other))
    assert digest != other_digest and 0 <= digest < 2**63
    assert "203.0.113.7" not in repr(one.views)


async def test_a_visitor_served_by_two_processes_counts_once_and_past_days_are_forgotten():
    one, two = page_views.Tally("secret"), page_views.Tally("secret")
    for tally in (one, two):
        tally.view("article", PHONE, "/articles/1", MAY_1_IN_TOKYO)
    two.view("article", OTHER_PHONE, "/articles/1", MAY_1_IN_TOKYO)
    assert await page_views.flush(one, today=date(2026, 5, 1)) == 1
    assert await page_views.flush(two, today=date(2026, 5, 1)) == 1  # only the other visitor was new
    assert await PageView.select(PageView.month, PageView.kind, PageView.views) == [
        {"month": "2026-05", "kind": "article", "views": 2}]
    assert await PageViewSeen.count() == 2
    await page_views.flush(one, today=date(2026, 5, 2))
    assert await PageViewSeen.count() == 0


def test_a_process_keeps_a_bounded_number_of_pairs(monkeypatch):
    monkeypatch.setattr(page_views, "SEEN_MAX", 3)
    tally = page_views.Tally("secret")
    for n in range(10):
        tally.view("program", PHONE, f"/programs/{n}", MAY_1_IN_TOKYO)
    assert len(tally.views) == 3


def test_crawlers_link_previews_and_scripts_are_told_from_browsers():
    assert not page_views.is_crawler(IPHONE)
    for agent in ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "facebookexternalhit/1.1",
                  "Twitterbot/1.0", "curl/8.5.0", "python-httpx/0.28.1", ""):
        assert page_views.is_crawler(agent), agent


async def test_batches_from_several_processes_add_up_per_month_and_kind():
    staff = await factories.staff_account()
    campaign_id = await campaigns.create(campaigns.validate({"name": "X投稿", "source": "X", "kind": "sns"}), staff,
                                         datetime.now(timezone.utc))
    one, two = page_views.Tally("secret"), page_views.Tally("secret")
    for n, tally in enumerate((one, two, one)):
        tally.view("program", f"192.0.2.{n}\n{IPHONE}", "/programs/1", MAY_1_IN_TOKYO)
        tally.visit(campaign_id, MAY_1_IN_TOKYO)
    assert await page_views.flush(one, today=date(2026, 5, 1)) == 3 and one.counts == {} and one.views == {}
    assert await page_views.flush(two, today=date(2026, 5, 1)) == 2
    assert await page_views.flush(two, today=date(2026, 5, 1)) == 0
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

    rows = await figures.by_source(start, end, clock.year_months(date(2026, 4, 1)), date(2027, 3, 31))
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
    tally = page_views.Tally("secret")
    tally.view("portal", PHONE, "/", april.timestamp())
    tally.view("article", PHONE, "/articles/1", april.timestamp())
    await page_views.flush(tally, today=date(2026, 4, 10))
    start, end = fiscal_year_bounds(2026)
    months = await figures.portal_months(start, end, clock.year_months(date(2026, 4, 1)))
    assert len(months) == 12 and months[0].month == date(2026, 4, 1) and months[-1].month == date(2027, 3, 1)
    assert (months[0].articles, months[0].programs, months[0].portal_edits, months[0].views) == (0, 1, 1, (1, 0, 1))
    assert (months[1].articles, months[1].total_views) == (1, 0)
