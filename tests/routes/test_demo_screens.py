"""The demo (what `make run` loads) fills every screen: each page a person of each role can open renders,
and the lists that matter show demo rows rather than an empty state."""

from __future__ import annotations

import re

from app.demo import load_demo_data
from app.services.activities import progress
from app.services.shared import clock
from db.tables import (
    Account,
    Activity,
    Inquiry,
    JourneyEvent,
    Member,
    PremiumApplication,
    Program,
    Survey,
    SurveyInvitation,
)
from tests import factories
from tests.conftest import log_in
from tests.routes.test_access import route_table


async def pages_without_ids(client, role: str) -> dict[str, int]:
    """Every GET page without a path parameter this role may open, with the status it answered."""
    statuses = {}
    for name, method, path, allowed in route_table(client.app):
        if method != "GET" or role not in allowed or "999999" in path or "unknown" in path:
            continue
        if name.startswith(("get_icon", "get_upload", "get_service_worker")) or path.endswith((".ics", ".csv", ".zip",
                                                                                               ".pdf", ".xml")):
            continue
        response = await client.get(path)
        statuses[path] = response.status_code
    return statuses


async def test_every_staff_page_renders_with_the_demo_and_the_lists_are_filled(client):
    await load_demo_data()
    await log_in(client, await factories.staff_account())
    statuses = await pages_without_ids(client, "staff")
    # Registering is for people without an account: a logged-in person is told so (403).
    assert {path: status for path, status in statuses.items() if status >= 400} == {"/register": 403}
    inbox = await client.get("/staff/inquiries")
    assert inbox.text.count("Q-DEMO-") >= 3  # the open ones
    for inquiry in await Inquiry.select(Inquiry.id):
        assert (await client.get(f"/staff/inquiries/{inquiry['id']}")).status_code == 200
    for survey in await Survey.select(Survey.id):
        results = await client.get(f"/staff/surveys/{survey['id']}/results")
        assert results.status_code == 200 and "<svg" in results.text
    dashboard = await client.get("/staff/dashboard")
    assert dashboard.status_code == 200 and dashboard.text.count("<svg") >= 5
    assert "JR苫小牧駅" in dashboard.text.split('data-testid="source-figures"')[1].split("</section>")[0]
    assert (await client.get("/staff/campaigns")).text.count('data-testid="campaign-row"') == 5
    for program in await Program.select(Program.id):
        assert (await client.get(f"/programs/{program['id']}")).status_code == 200
    # An editor's change to a public program waits in the queue while the public page keeps the old place.
    queue = await client.get("/staff/moderation")
    assert "樽前の空き家再生ワークショップ" in queue.text and "現地集合" in queue.text
    workshop = await Program.select(Program.id).where(Program.title == "樽前の空き家再生ワークショップ").first()
    assert "現地集合" not in (await client.get(f"/programs/{workshop['id']}")).text


async def test_a_demo_member_sees_their_card_programs_and_a_waiting_survey(client):
    await load_demo_data()
    invited = await Survey.select(Survey.id).where(Survey.status == "published").first()
    assert invited is not None
    waiting = await SurveyInvitation.select(SurveyInvitation.account).where(
        (SurveyInvitation.survey == invited["id"]) & SurveyInvitation.responded_at.is_null()).first()
    assert waiting is not None, "the demo survey waits for some demo members"
    await log_in(client, waiting["account"])
    statuses = await pages_without_ids(client, "member")
    # /line/link opens only from the link LINE sends (its token in the query), and only with LINE set up.
    assert {path: status for path, status in statuses.items()
            if status >= 400 and path not in ("/register", "/line/link")} == {}
    surveys = await client.get("/surveys")
    assert surveys.status_code == 200 and re.search(r"アンケート", surveys.text)
    assert "アンケートのお願い" in (await client.get("/inbox")).text  # the invitation reached the inbox too
    account = await Account.select(Account.display_name).where(Account.id == waiting["account"]).first()
    assert account["display_name"] in (await client.get("/card")).text


async def test_anyone_sees_the_portal_programs_articles_passes_and_the_desk(client):
    await load_demo_data()
    statuses = await pages_without_ids(client, "anonymous")
    assert {path: status for path, status in statuses.items() if status >= 400 and path != "/logout"} == {}
    home = await client.get("/")
    assert 'data-testid="desk-section"' in home.text
    assert "0144-" in (await client.get("/contact")).text


async def test_the_demo_climbs_the_ladder_activities_a_member_at_two_an_application_waiting_and_premium(client):
    await load_demo_data()
    assert "activities" not in await load_demo_data()  # loaded once
    await log_in(client, await factories.staff_account())
    activities = await client.get("/editor/activities")
    assert all(title in activities.text for title in ("勇払原野 湿原の木道補修ボランティア", "錦大沼公園 冬の遊歩道づくり"))
    today_code = await Activity.select(Activity.id).where(Activity.title == "錦大沼公園 冬の遊歩道づくり").first()
    code_page = await client.get(f"/editor/activities/{today_code['id']}/code")
    assert code_page.status_code == 200 and "<svg" in code_page.text
    queue = await client.get("/staff/moderation?kind=premium")
    assert queue.text.count('data-kind="premium"') == 1 and "東京都世田谷区" in queue.text
    # The rungs, each as its member sees it
    rungs = {}
    for member in await Member.select(Member.id, Member.account, Member.tier, Member.premium_until):
        page = await progress.progress(member["id"], clock.now())
        rungs.setdefault(page.last_twelve_months, []).append(member)
    assert rungs.get(2), "a member at 2 / 3"
    await log_in(client, rungs[2][0]["account"])
    assert "2 / 3" in (await client.get("/account/premium")).text
    ending = await PremiumApplication.select(PremiumApplication.member.account.as_alias("account")).where(
        (PremiumApplication.status == "approved") & (PremiumApplication.valid_until > clock.now().date())).first()
    await log_in(client, ending["account"])
    premium = await client.get("/account/premium")
    assert 'data-testid="premium-active"' in premium.text
    assert (await client.get("/account/premium/certificate")).status_code == 200
    lapsed = await JourneyEvent.select(JourneyEvent.member).where(JourneyEvent.rule == "premium_lapsed").first()
    assert lapsed is not None
