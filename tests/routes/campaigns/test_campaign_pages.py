"""Campaigns through the pages: staff make a link and print its poster; a visitor who scans it is counted and keeps
that first campaign through registration, pass activation and a program application, which the dashboard shows by
source; SMOUT's visitors are counted as SMOUT; views of public pages are counted per process, crawlers, HEAD,
fragments and errors left out. Bad input is answered on the page, never a 500."""

from __future__ import annotations

from collections import Counter

import pytest

from app.services.campaigns import page_views
from db.tables import Application, Campaign, CampaignVisit, Member, PageView, WalletPass
from tests import factories
from tests.conftest import Client, log_in
from tests.passkey_client import register

BROWSER = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                         "Version/17.5 Mobile/15E148 Safari/604.1"}
OTHER_BROWSER = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                               "Chrome/131.0.0.0 Mobile Safari/537.36"}
GOOGLEBOT = {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}


def campaign_form(**changes) -> dict:
    return {"name": "駅ポスター（JR苫小牧駅）", "source": "JR苫小牧駅", "kind": "poster", "slug": "station", "target": "/passes",
            "poster_text": "週末は苫小牧へ。", **changes}


async def make_campaign(client: Client, **changes) -> int:
    response = await client.submit("/staff/campaigns", campaign_form(**changes), follow_redirects=False)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def visits(app) -> dict:
    return dict(app.state.page_views.counts)


def views(app) -> dict:
    return dict(Counter(app.state.page_views.views.values()))


async def test_staff_make_a_link_and_print_its_poster_with_the_qr_code(client):
    await log_in(client, await factories.staff_account())
    assert 'data-testid="campaign-form"' in (await client.get("/staff/campaigns")).text
    campaign_id = await make_campaign(client)
    page = await client.get(f"/staff/campaigns/{campaign_id}")
    assert "http://localhost:8000/c/station" in page.text
    poster = await client.get(f"/staff/campaigns/{campaign_id}/poster")
    assert poster.status_code == 200 and 'data-testid="poster-qr"' in poster.text and "<svg" in poster.text
    assert "週末は苫小牧へ。" in poster.text and "http://localhost:8000/c/station" in poster.text
    listed = await client.get("/staff/campaigns")
    assert 'data-slug="station"' in listed.text


@pytest.mark.parametrize("changes, field", [
    ({"name": ""}, "name"), ({"kind": "billboard"}, "kind"), ({"slug": "駅前"}, "slug"),
    ({"target": "https://evil.example/"}, "target"), ({"poster_text": "あ" * 301}, "poster_text"),
])
async def test_a_bad_campaign_comes_back_with_its_message_and_nothing_is_kept(client, changes, field):
    await log_in(client, await factories.staff_account())
    response = await client.submit("/staff/campaigns", campaign_form(**changes))
    assert response.status_code == 422 and f'data-testid="error-{field}"' in response.text
    assert "駅ポスター" in response.text or field == "name"
    assert await Campaign.count() == 0


async def test_a_taken_short_name_and_a_bad_change_are_answered_on_the_page(client):
    await log_in(client, await factories.staff_account())
    campaign_id = await make_campaign(client)
    taken = await client.submit("/staff/campaigns", campaign_form(name="二枚目"))
    assert taken.status_code == 422 and 'data-testid="error-slug"' in taken.text
    changed = await client.submit(f"/staff/campaigns/{campaign_id}", campaign_form(target="//evil.example"))
    assert changed.status_code == 422 and 'data-testid="error-target"' in changed.text
    assert (await Campaign.select(Campaign.target).first())["target"] == "/passes"
    assert (await client.get("/staff/campaigns/999999")).status_code == 404


async def test_only_staff_open_the_campaign_pages(client):
    assert (await client.get("/staff/campaigns", follow_redirects=False)).status_code in (302, 303, 401, 403)
    member = await factories.member()
    await log_in(client, member.account_id)
    assert (await client.get("/staff/campaigns")).status_code == 403
    assert (await client.submit("/staff/campaigns", campaign_form())).status_code == 403
    assert await Campaign.count() == 0


async def test_an_unknown_or_stopped_link_shows_a_friendly_page(client):
    page = await client.get("/c/nothing-here", headers=BROWSER)
    assert page.status_code == 404 and 'data-testid="campaign-unknown"' in page.text
    assert (await client.get("/c/%E2%80%AE", headers=BROWSER)).status_code == 404


async def test_attribution_from_the_first_visit_through_registration_activation_and_application(app, client):
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as office:
        await log_in(office, await factories.staff_account())
        poster = await make_campaign(office)
        sns = await make_campaign(office, name="X投稿", source="X（旧Twitter）", kind="sns", slug="x-post", target="/")
    area = await factories.area()
    program_id = await factories.program(area)
    pass_id = await factories.entry_pass()
    client.headers.update(BROWSER)

    arrived = await client.get("/c/STATION", follow_redirects=False)
    assert arrived.status_code == 302 and arrived.headers["location"] == "/passes"
    await client.get("/c/x-post", follow_redirects=False)  # a later campaign: the first one stays
    assert sorted((key[1], n) for key, n in visits(app).items()) == [(poster, 1), (sns, 1)]
    registered = await register(client)
    assert registered.status_code == 201, registered.text
    member = await Member.select(Member.id, Member.campaign).first()
    assert member["campaign"] == poster

    activated = await client.submit(f"/passes/{pass_id}/activate", {}, follow_redirects=False)
    assert activated.status_code == 303
    applied = await client.submit(f"/programs/{program_id}/apply", {"motivation": "海の仕事を手伝いたい"}, follow_redirects=False)
    assert applied.status_code == 303
    assert (await WalletPass.select(WalletPass.campaign).first())["campaign"] == poster
    assert (await Application.select(Application.campaign).first())["campaign"] == poster

    await page_views.flush(app.state.page_views)
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as office:
        await log_in(office, await factories.staff_account("事務局 鈴木"))
        dashboard = await office.get("/staff/dashboard")
        listed = await office.get("/staff/campaigns")
        csv = (await office.get("/staff/dashboard/sources/csv")).content.decode("utf-8-sig")
    section = dashboard.text.split('data-testid="source-figures"')[1].split("</section>")[0]
    assert "JR苫小牧駅" in section and "X（旧Twitter）" in section and 'data-testid="table-sources"' in section
    rows = {line.split(",")[0]: line.split(",")[2:] for line in csv.splitlines()[1:]}
    assert rows["JR苫小牧駅"] == ["1", "1", "100.0", "1", "1", "0"]  # visits, registered (%), activations, applications
    assert rows["X（旧Twitter）"] == ["1", "0", "0.0", "0", "0", "0"]
    assert 'data-testid="campaign-registrations">1<' in listed.text


async def test_a_crawler_following_a_link_is_sent_on_but_neither_counted_nor_given_a_session(app, client):
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as office:
        await log_in(office, await factories.staff_account())
        await make_campaign(office)
    response = await client.get("/c/station", headers=GOOGLEBOT, follow_redirects=False)
    assert response.status_code == 302 and "tsunagu_session" not in response.headers.get("set-cookie", "")
    assert visits(app) == {}


async def test_a_visitor_from_smout_is_counted_as_smout_and_keeps_it(app, client):
    area = await factories.area()
    program_id = await factories.program(area, matching_url="https://smout.jp/plans/1234")
    page = await client.get(f"/programs/{program_id}", headers={**BROWSER, "Referer": "https://smout.jp/plans/1234"})
    assert page.status_code == 200 and 'data-testid="matching-link"' in page.text
    smout = await Campaign.select().where(Campaign.kind == "matching_site").first()
    assert smout["source"] == "SMOUT" and list(visits(app).values()) == [1]
    client.headers.update(BROWSER)
    await register(client)
    assert (await Member.select(Member.campaign).first())["campaign"] == smout["id"]
    await page_views.flush(app.state.page_views)
    assert (await CampaignVisit.select(CampaignVisit.visits).first())["visits"] == 1


async def test_views_of_public_pages_are_counted_kept_or_not_and_only_for_browsers(app, client):
    area = await factories.area()
    program_id = await factories.program(area)
    for _ in range(3):  # the first is rendered, the others come from the page cache; one visitor, one view
        assert (await client.get("/", headers=BROWSER)).status_code == 200
    assert (await client.get("/", headers=OTHER_BROWSER)).status_code == 200  # another visitor
    await client.get(f"/programs/{program_id}", headers=BROWSER)
    await client.get("/programs", headers={**BROWSER, "HX-Request": "true", "HX-Boosted": "true"})
    await client.get("/programs", headers={**BROWSER, "HX-Request": "true"})  # a fragment: not a view
    await client.head("/", headers=BROWSER)
    await client.get("/", headers=GOOGLEBOT)
    await client.get("/programs/999999", headers=BROWSER)
    await client.get("/articles", headers=BROWSER)
    assert views(app) == {"portal": 2, "program": 2, "article": 1}
    await page_views.flush(app.state.page_views)
    assert {r["kind"]: r["views"] for r in await PageView.select()} == {"portal": 2, "program": 2, "article": 1}
