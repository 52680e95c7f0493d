"""Premium through the pages: the member sees where they stand and applies (every refusal shown on the form),
the secretariat decides in the one review queue, the member opens the certificate (page and PDF)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from app.i18n import TOKYO
from app.services.activities import check_ins
from app.services.premium import applications
from app.services.shared import clock, pdf
from app.services.shared.actor import Actor
from db.tables import AuditLog, Member, PremiumApplication
from tests import factories
from tests.conftest import log_in


async def member_with_activities(app, client, count: int, **profile) -> tuple[int, int]:
    """A logged-in member with `count` counted activities in the last weeks: (account id, member id)."""
    registered = await factories.member("担い手 花子", **profile)
    area = await factories.area("勇払", f"yufutsu-{registered.member_id}")
    signer = app.state.signer
    for n in range(count):
        moment = clock.now() - timedelta(days=10 + n)
        day = moment.astimezone(TOKYO).date()
        activity = await factories.activity(area, title=f"浜のごみ拾い{n}", starts_on=day, ends_on=day)
        await check_ins.with_code(signer, check_ins.code_for(signer, activity, day), registered.member_id,
                                  f"page-nonce-{registered.member_id}-{n}", None, moment)
    await log_in(client, registered.account_id)
    return registered.account_id, registered.member_id


async def test_two_activities_show_the_progress_and_no_form(app, client):
    await member_with_activities(app, client, 2)
    page = await client.get("/account/premium")
    assert page.status_code == 200
    assert 'data-reason="not_enough"' in page.text and 'data-testid="premium-apply"' not in page.text
    assert page.text.count('data-testid="premium-evidence-item"') == 2
    assert "2 / 3" in page.text


async def test_a_member_applies_and_every_refusal_is_shown_on_the_form(app, client):
    _account, member_id = await member_with_activities(app, client, 3)
    page = await client.get("/account/premium")
    assert 'data-testid="premium-apply"' in page.text and page.text.count('data-testid="premium-evidence-item"') == 3
    cases = [
        ({"home_municipality": ""}, "error-home_municipality"),
        ({"home_municipality": "苫小牧市"}, "error-home_municipality"),
        ({"home_municipality": "東京都世田谷区", "other_name_1": "山口市", "other_name_2": "萩市", "other_name_3": "長門市"},
         "error-others"),
        ({"home_municipality": "東京都世田谷区", "other_name_1": "山口市", "other_name_2": "山口市"}, "error-other_name_2"),
        ({"home_municipality": "x" * 51}, "error-home_municipality"),
        ({"home_municipality": "東京都世田谷区", "other_state_1": "owner", "other_name_1": "萩市"}, "error-other_name_1"),
    ]
    for form, error in cases:
        response = await client.submit("/account/premium/apply", form)
        assert response.status_code == 422, form
        assert f'data-testid="{error}"' in response.text, form
    assert await PremiumApplication.count() == 0
    response = await client.submit("/account/premium/apply", {"home_municipality": "東京都世田谷区", "other_name_1": "山口市",
                                                              "other_state_1": "applying"}, follow_redirects=False)
    assert response.status_code == 303
    page = await client.get("/account/premium")
    assert 'data-testid="premium-waiting"' in page.text and 'data-testid="flash"' in page.text
    row = await PremiumApplication.select().where(PremiumApplication.member == member_id).first().output(load_json=True)
    assert row["other_municipalities"] == [{"name": "山口市", "state": "applying"}]
    # Sent again (a double tap): refused as waiting, nothing more
    again = await client.submit("/account/premium/apply", {"home_municipality": "東京都世田谷区"})
    assert again.status_code == 422 and 'data-testid="error-form"' in again.text
    assert await PremiumApplication.count() == 1
    await client.submit("/account/premium/withdraw", {})
    assert (await PremiumApplication.select().first())["status"] == "withdrawn"


async def test_staff_approve_in_the_queue_and_the_member_opens_the_certificate(app, client):
    account_id, member_id = await member_with_activities(app, client, 3, email="hanako@example.jp")
    await client.submit("/account/premium/apply", {"home_municipality": "札幌市"})
    application = await PremiumApplication.select().first()
    not_yet = await client.get("/account/premium/certificate", follow_redirects=False)  # not premium yet
    assert not_yet.status_code == 303 and not_yet.headers["location"] == "/account/premium"

    staff = await factories.staff_account()
    await log_in(client, staff)
    queue = await client.get("/staff/moderation?kind=premium")
    assert 'data-kind="premium"' in queue.text and "札幌市" in queue.text
    assert queue.text.count('data-testid="premium-evidence-item"') == 3
    # Declining needs a reason: told on the page, nothing changes
    await client.submit(f"/staff/premium/{application['id']}/decision", {"decision": "decline", "reason": ""})
    assert (await PremiumApplication.select().first())["status"] == "submitted"
    response = await client.submit(f"/staff/premium/{application['id']}/decision", {"decision": "approve"},
                                   follow_redirects=False)
    assert response.status_code == 303
    assert (await Member.select(Member.tier).where(Member.id == member_id).first())["tier"] == "premium"
    # Deciding twice (another tab): the second is refused with a message
    await client.submit(f"/staff/premium/{application['id']}/decision", {"decision": "decline", "reason": "重複"})
    assert (await PremiumApplication.select().first())["status"] == "approved"
    assert (await client.get("/staff/moderation?kind=premium")).text.count('data-kind="premium"') == 0

    await log_in(client, account_id)
    page = await client.get("/account/premium")
    number = f"P{date.today().year}-{application['id']:06d}"
    assert 'data-testid="premium-active"' in page.text and number[1:5] in page.text
    certificate = await client.get("/account/premium/certificate")
    assert certificate.status_code == 200
    assert re.search(r'data-testid="certificate-no">P\d{4}-\d{6}<', certificate.text)
    card = await client.get("/card")
    assert 'member-card-premium' in card.text


async def test_an_editor_or_a_member_cannot_decide(app, client):
    _account, _member = await member_with_activities(app, client, 3)
    await client.submit("/account/premium/apply", {"home_municipality": "札幌市"})
    application = await PremiumApplication.select().first()
    response = await client.submit(f"/staff/premium/{application['id']}/decision", {"decision": "approve"})
    assert response.status_code == 403
    area = await factories.area("樽前", "tarumae")
    await log_in(client, await factories.staff_account("編集", role="editor", area=area))
    response = await client.submit(f"/staff/premium/{application['id']}/decision", {"decision": "approve"})
    assert response.status_code == 403
    assert (await PremiumApplication.select().first())["status"] == "submitted"


async def test_a_decision_on_an_unknown_application_is_a_message_not_an_error(client):
    await log_in(client, await factories.staff_account())
    for application_id in (999_999, 2_147_483_647):
        response = await client.submit(f"/staff/premium/{application_id}/decision", {"decision": "approve"})
        assert response.status_code == 200 and 'data-testid="flash"' in response.text


@pytest.mark.skipif(pdf.chromium_path() is None, reason="no Chromium on this machine")
async def test_the_certificate_pdf_is_one_a4_page(app, client):
    _account, member_id = await member_with_activities(app, client, 3)
    await client.submit("/account/premium/apply", {"home_municipality": "札幌市"})
    staff = await factories.staff_account()
    await applications.decide((await PremiumApplication.select().first())["id"], Actor(staff, "staff"), "approve",
                              now=datetime.now(TOKYO))
    response = await client.get("/account/premium/certificate.pdf", timeout=120)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", response.content)) == 1


async def test_the_evidence_csv_lists_each_activity_once_in_japanese_for_the_member_and_the_secretariat(app, client):
    _account, member_id = await member_with_activities(app, client, 3)
    await client.get("/account/premium")
    response = await client.get("/account/premium/evidence.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff会員番号,区分,活動,種類,日付,場所,記録方法,市区町村\r\n")
    rows = text.strip().split("\r\n")[1:]
    assert len(rows) == 3 and all(",担い手活動,浜のごみ拾い" in row and row.endswith(",苫小牧市") for row in rows)
    await log_in(client, await factories.staff_account())
    staff_copy = await client.get(f"/staff/members/{member_id}/evidence.csv")
    assert staff_copy.content == response.content
    assert (await client.get("/staff/members/999999/evidence.csv")).status_code == 404
    exports = await AuditLog.select().where(AuditLog.action == "export.csv").output(load_json=True)
    assert [e["detail"]["kind"] for e in exports] == ["premium_evidence", "premium_evidence"]


async def test_the_data_export_holds_check_ins_and_premium_applications(app, client):
    await member_with_activities(app, client, 3)
    await client.submit("/account/premium/apply", {"home_municipality": "札幌市"})
    data = (await client.get("/account/data")).json()
    assert len(data["activity_check_ins"]) == 3 and data["premium_applications"][0]["home_municipality"] == "札幌市"


async def test_a_program_opens_early_for_premium_members_on_its_page(app, client):
    now = clock.now()
    area = await factories.area("樽前", "tarumae")
    program = await factories.program(area, apply_from=now + timedelta(days=3), premium_apply_from=now - timedelta(hours=1))
    basic = await factories.member("ベーシック 会員")
    await log_in(client, basic.account_id)
    page = await client.get(f"/programs/{program}")
    assert 'data-testid="apply-not-yet"' in page.text and 'data-testid="apply-premium-early"' in page.text
    refused = await client.submit(f"/programs/{program}/apply", {"motivation": ""})
    assert refused.status_code == 422
    holder = await factories.member("プレミアム 会員")
    await Member.update({Member.tier: "premium", Member.premium_until: date(2099, 3, 31)}).where(
        Member.id == holder.member_id)
    await log_in(client, holder.account_id)
    page = await client.get(f"/programs/{program}")
    assert 'data-testid="apply-form"' in page.text
    applied = await client.submit(f"/programs/{program}/apply", {"motivation": "早めに申し込みます"}, follow_redirects=False)
    assert applied.status_code == 303
