"""The travel subsidy through its pages: the terms on the program's page and its card, a member claiming with a
receipt once attended (and refused, with the reason, before), bad input answered next to its field and never a 500,
the secretariat's list with its tabs and counts, each step on a claim, the correction, and the CSV."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from app.i18n import to_tokyo
from app.services.shared import clock
from db.tables import AuditLog, Notice, TravelClaim, TravelSubsidy
from tests import factories
from tests.conftest import Client, log_in


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "JPEG")
    return out.getvalue()


def day(delta: int) -> str:
    return (to_tokyo(clock.now()).date() + timedelta(days=delta)).isoformat()


def claim_form(**changes) -> dict:
    return {"departure": "東京都世田谷区", "route": "羽田空港→新千歳空港（航空機）、新千歳空港→苫小牧駅（JR）",
            "transports": ["air", "rail"], "outbound_on": day(-3), "return_on": day(-2), "fare": "32,400", **changes}


async def post_claim(client: Client, url: str, data: dict, receipts: list[tuple] | None = None):
    token = await client.ensure_csrf()
    files = [("receipts", r) for r in (receipts if receipts is not None else [("receipt.jpg", photo(), "image/jpeg")])]
    files = files or [("receipts", ("", b"", "application/octet-stream"))]
    return await client.post(url, data={**data, "_csrf_token": token}, files=files, follow_redirects=False)


async def held_program(**rules) -> dict:
    """A program of 勇払 held the day before yesterday (Japan), covered up to 20,000 yen, and a member who attended."""
    area = await factories.area()
    now = clock.now()
    program = await factories.program(area, title="勇払の酪農体験", starts_at=now - timedelta(days=2, hours=6),
                                      ends_at=now - timedelta(days=2), apply_from=now - timedelta(days=30),
                                      apply_until=now - timedelta(days=3), status="completed")
    await factories.travel_subsidy(program, organiser="苫小牧市 勇払地区まちづくり協議会", **rules)
    member = await factories.member("ふるさと花子", email="hanako@example.jp")
    await factories.attendance(program, member.member_id)
    return {"area": area, "program": program, "member": member}


async def test_the_program_page_shows_the_subsidy_to_everyone_and_the_way_to_claim_to_an_attendee(client):
    held = await held_program()
    public = await client.get(f"/programs/{held['program']}")
    assert 'data-testid="program-subsidy"' in public.text and "20,000" in public.text
    assert "勇払地区まちづくり協議会" in public.text and 'data-testid="program-claim"' not in public.text
    listed = await client.get("/programs?past=1")
    assert 'data-testid="badge-subsidy"' in listed.text
    await log_in(client, held["member"].account_id)
    mine = await client.get(f"/programs/{held['program']}")
    assert f'href="/programs/{held["program"]}/claim"' in mine.text
    assert 'data-testid="claimable-program"' in (await client.get("/account/claims")).text


async def test_a_member_claims_with_a_receipt_and_the_fare_above_the_maximum_claims_the_maximum(client):
    held = await held_program()
    await log_in(client, held["member"].account_id)
    form = await client.get(f"/programs/{held['program']}/claim")
    assert form.status_code == 200 and 'data-testid="claim-form"' in form.text
    assert f'value="{day(-2)}"' in form.text  # the trip opens on the program's days
    sent = await post_claim(client, f"/programs/{held['program']}/claim", claim_form())
    assert sent.status_code == 303
    claim = await TravelClaim.select().first().output(load_json=True)
    assert sent.headers["location"] == f"/account/claims/{claim['id']}"
    assert (claim["fare"], claim["amount"], len(claim["receipts"])) == (32_400, 20_000, 1)
    page = await client.get(sent.headers["location"])
    assert 'data-status="submitted"' in page.text and 'data-testid="claim-receipt"' in page.text
    assert "20,000" in page.text and "32,400" in page.text
    again = await client.get(f"/programs/{held['program']}/claim", follow_redirects=False)
    assert again.status_code == 303  # one claim: the form leads to it
    twice = await post_claim(client, f"/programs/{held['program']}/claim", claim_form())
    assert twice.status_code == 303 and await TravelClaim.count() == 1
    other = await factories.member("ふるさと次郎")
    async with Client(app=client.app, base_url="http://localhost:8000", raise_server_exceptions=False) as stranger:
        await log_in(stranger, other.account_id)
        assert (await stranger.get(f"/account/claims/{claim['id']}")).status_code == 404


async def test_no_claim_before_attendance_or_after_the_deadline_and_the_page_says_why(client):
    held = await held_program(deadline=to_tokyo(clock.now()).date() - timedelta(days=1))
    await log_in(client, held["member"].account_id)
    late = await client.get(f"/programs/{held['program']}/claim")
    assert 'data-testid="claim-refused"' in late.text and 'data-testid="claim-form"' not in late.text
    refused = await post_claim(client, f"/programs/{held['program']}/claim", claim_form())
    assert refused.status_code == 409 and 'data-testid="claim-problem"' in refused.text
    waiting = await factories.member("ふるさと三郎")
    await factories.attendance(held["program"], waiting.member_id, status="accepted")
    await TravelSubsidy.update({TravelSubsidy.deadline: to_tokyo(clock.now()).date()}).where(TravelSubsidy.id > 0)
    client.cookies.clear()
    await log_in(client, waiting.account_id)
    page = await client.get(f"/programs/{held['program']}/claim")
    assert 'data-testid="claim-refused"' in page.text and "出席" in page.text
    assert await TravelClaim.count() == 0


@pytest.mark.parametrize("changes, field", [
    ({"fare": "たくさん"}, "fare"), ({"transports": ["car"]}, "transports"), ({"departure": ""}, "departure"),
    ({"outbound_on": "2020-01-01"}, "outbound_on"), ({"return_on": "明日"}, "return_on"), ({"transports": []}, "transports"),
])
async def test_a_bad_claim_comes_back_with_its_message_and_what_was_typed(client, changes, field):
    held = await held_program()
    await log_in(client, held["member"].account_id)
    response = await post_claim(client, f"/programs/{held['program']}/claim", claim_form(**changes))
    assert response.status_code == 422 and f'data-testid="error-{field}"' in response.text
    assert "羽田空港→新千歳空港" in response.text and await TravelClaim.count() == 0


async def test_a_claim_sent_without_its_fields_or_as_json_comes_back_with_messages_not_a_500(client):
    held = await held_program()
    await log_in(client, held["member"].account_id)
    token = await client.ensure_csrf()
    for url in (f"/programs/{held['program']}/claim", f"/account/claims/{2**31 - 1}"):
        bare = await post_claim(client, url, {"program": "-1"})
        assert bare.status_code in (404, 422), (url, bare.status_code)
        sent = await client.post(url, content=b'{"program": -1}', headers={"content-type": "application/json",
                                                                           "x-csrftoken": token})
        assert sent.status_code < 500, (url, sent.status_code)
    bare = await post_claim(client, f"/programs/{held['program']}/claim", {"program": "-1"})
    assert 'data-testid="error-departure"' in bare.text and await TravelClaim.count() == 0


@pytest.mark.parametrize("receipts", [[], [("receipt.exe", b"MZ\x90\x00" * 50, "application/octet-stream")],
                                      [("r.jpg", photo(), "image/jpeg")] * 4])
async def test_receipts_are_required_checked_by_content_and_limited_to_three(client, receipts):
    held = await held_program()
    await log_in(client, held["member"].account_id)
    response = await post_claim(client, f"/programs/{held['program']}/claim", claim_form(), receipts)
    assert response.status_code == 422 and 'data-testid="error-receipts"' in response.text
    assert await TravelClaim.count() == 0


async def test_staff_approve_less_with_a_note_then_mark_it_paid_and_the_member_reads_each_step(app, client):
    held = await held_program()
    claim_id = await factories.travel_claim(held["program"], held["member"].member_id)
    await log_in(client, await factories.staff_account())
    listed = await client.get("/staff/claims")
    assert 'data-testid="claim-tab-submitted"' in listed.text and listed.text.count('data-testid="claim-row"') == 1
    # The accountant's file holds every claim of the year, whichever tab is open.
    assert re.search(r'href="/staff/claims/csv\?year=\d{4}&amp;status=all"', listed.text)
    assert 'data-testid="console-nav-staff-travel-claims-count">1<' in listed.text  # the console's navigation counts it
    assert 'data-testid="attention-claims"' in (await client.get("/staff")).text
    detail = await client.get(f"/staff/claims/{claim_id}")
    assert 'data-testid="approve-form"' in detail.text and "ふるさと花子" in detail.text
    assert "出席を記録" in detail.text  # the attendance the claim rests on
    silent = await client.submit(f"/staff/claims/{claim_id}/decision", {"decision": "approve", "amount": "15,000", "note": ""})
    assert silent.status_code == 422 and 'data-testid="error-note"' in silent.text
    too_much = await client.submit(f"/staff/claims/{claim_id}/decision", {"decision": "approve", "amount": "25,000"})
    assert too_much.status_code == 422 and 'data-testid="error-amount"' in too_much.text
    approved = await client.submit(f"/staff/claims/{claim_id}/decision",
                                   {"decision": "approve", "amount": "15,000", "note": "JR区間の領収書がありません"},
                                   follow_redirects=True)
    assert 'data-status="approved"' in approved.text and 'data-testid="pay-form"' in approved.text
    twice = await client.submit(f"/staff/claims/{claim_id}/decision", {"decision": "decline", "reason": "重複"})
    assert twice.status_code == 409 and 'data-testid="claim-problem"' in twice.text
    future = await client.submit(f"/staff/claims/{claim_id}/paid", {"paid_on": day(3)})
    assert future.status_code == 422 and 'data-testid="error-paid_on"' in future.text
    paid = await client.submit(f"/staff/claims/{claim_id}/paid", {"paid_on": day(0)}, follow_redirects=True)
    assert 'data-status="paid"' in paid.text and 'data-testid="claim-paid-on"' in paid.text
    assert [r["action"] for r in await AuditLog.select(AuditLog.action).where(AuditLog.target_type == "travel_claim")] == [
        "travel_claim.approve", "travel_claim.paid"]
    csv = await client.get("/staff/claims/csv?status=all")
    text = csv.content.decode("utf-8-sig")
    assert csv.status_code == 200 and "ふるさと花子" in text and "JR区間の領収書がありません" in text
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as member:
        await log_in(member, held["member"].account_id)
        page = await member.get(f"/account/claims/{claim_id}")
        assert 'data-status="paid"' in page.text and "JR区間の領収書がありません" in page.text
        assert 'data-testid="claim-paid-on"' in page.text


async def test_a_returned_claim_is_corrected_by_the_member_and_comes_back_to_the_list(app, client):
    held = await held_program()
    await log_in(client, held["member"].account_id)
    await post_claim(client, f"/programs/{held['program']}/claim", claim_form())
    claim_id = (await TravelClaim.select(TravelClaim.id).first())["id"]
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as office:
        await log_in(office, await factories.staff_account())
        empty = await office.submit(f"/staff/claims/{claim_id}/decision", {"decision": "return", "reason": ""})
        assert empty.status_code == 422 and 'data-testid="error-reason"' in empty.text
        await office.submit(f"/staff/claims/{claim_id}/decision", {"decision": "return", "reason": "領収書が読めません"})
        assert 'data-testid="claim-tab-returned"' in (await office.get("/staff/claims?status=returned")).text
    page = await client.get(f"/account/claims/{claim_id}")
    assert 'data-testid="claim-correction"' in page.text and "領収書が読めません" in page.text
    bad = await post_claim(client, f"/account/claims/{claim_id}", claim_form(fare="-1"), [])
    assert bad.status_code == 422 and 'data-testid="error-fare"' in bad.text
    sent = await post_claim(client, f"/account/claims/{claim_id}", claim_form(fare="19,800"), [])
    assert sent.status_code == 303
    row = await TravelClaim.select(TravelClaim.status, TravelClaim.amount).first()
    assert row == {"status": "submitted", "amount": 19_800}
    again = await post_claim(client, f"/account/claims/{claim_id}", claim_form(), [])
    assert again.status_code == 409  # only while the secretariat asks for a correction
    assert await Notice.count().where(Notice.account == held["member"].account_id) >= 2


async def test_staff_cover_a_program_from_its_page_and_bad_terms_come_back_with_their_messages(client):
    area = await factories.area()
    program = await factories.program(area, title="植苗の農家民泊")
    await log_in(client, await factories.staff_account())
    edit = await client.get(f"/editor/programs/{program}")
    assert f'href="/staff/programs/{program}/subsidy"' in edit.text
    form = await client.get(f"/staff/programs/{program}/subsidy")
    assert 'data-testid="subsidy-form"' in form.text
    bad = await client.submit(f"/staff/programs/{program}/subsidy", {"action": "save", "max_amount": "-1", "deadline": "2000-01-01"})
    assert bad.status_code == 422 and 'data-testid="error-max_amount"' in bad.text and 'data-testid="error-deadline"' in bad.text
    assert 'data-testid="error-transports"' in bad.text and await TravelSubsidy.count() == 0
    saved = await client.submit(f"/staff/programs/{program}/subsidy", {
        "action": "save", "max_amount": "２０，０００", "transports": ["rail", "air"], "deadline": day(60),
        "scheme": "関係人口来県支援交通費補助金", "organiser": "", "conditions": ""}, follow_redirects=True)
    assert 'data-testid="subsidy-remove"' in saved.text
    assert (await TravelSubsidy.select(TravelSubsidy.max_amount).first())["max_amount"] == 20_000
    assert 'data-testid="subsidy-rules"' in (await client.get(f"/editor/programs/{program}")).text
    await client.submit(f"/staff/programs/{program}/subsidy", {"action": "remove"})
    assert await TravelSubsidy.count() == 0


async def test_an_editor_sees_the_terms_but_cannot_set_them(client):
    held = await held_program()
    await log_in(client, await factories.staff_account("編集 勇払", role="editor", area=held["area"]))
    page = await client.get(f"/editor/programs/{held['program']}")
    assert 'data-testid="subsidy-rules"' in page.text and 'data-testid="edit-subsidy"' not in page.text
    assert (await client.get(f"/staff/programs/{held['program']}/subsidy")).status_code == 403
    assert (await client.get("/staff/claims")).status_code == 403


@pytest.mark.parametrize("url", [
    "/staff/claims?year=abc", "/staff/claims?year=99999", "/staff/claims?area=x&program=-1&status=zzz&page=0",
    "/staff/claims?area=99999999999", "/staff/claims/csv?year=%00", "/staff/claims/999999",
    "/staff/programs/999999/subsidy",
])
async def test_odd_addresses_never_give_a_500(client, url):
    await log_in(client, await factories.staff_account())
    assert (await client.get(url)).status_code in (200, 404, 422)


async def test_a_decision_that_is_not_one_is_answered_on_the_page(client):
    held = await held_program()
    claim_id = await factories.travel_claim(held["program"], held["member"].member_id)
    await log_in(client, await factories.staff_account())
    assert (await client.submit(f"/staff/claims/{claim_id}/decision", {"decision": "pay"})).status_code == 422
    assert (await client.submit("/staff/claims/999999/decision", {"decision": "approve"})).status_code == 404
    assert (await client.submit("/staff/claims/999999/paid", {"paid_on": day(0)})).status_code == 404


async def test_the_demo_fills_the_claims_in_every_state_with_receipts_and_each_page_renders(client):
    from app.demo import load_demo_data

    var_dir = client.app.state.settings.var_dir  # as `make run` gives it: the receipts are served from there
    created = await load_demo_data(var_dir)
    assert created["travel_subsidies"] == 3 and created["travel_claims"] >= 6
    assert (await load_demo_data(var_dir))["travel_claims"] == 0  # once
    statuses = {row["status"] for row in await TravelClaim.select(TravelClaim.status)}
    assert statuses == {"paid", "approved", "submitted", "returned", "declined"}
    await log_in(client, await factories.staff_account())
    listed = await client.get("/staff/claims?status=all")
    assert listed.text.count('data-testid="claim-row"') == created["travel_claims"]
    assert listed.text.count('data-testid="claim-total"') == 3
    for claim in await TravelClaim.select(TravelClaim.id, TravelClaim.receipts).output(load_json=True):
        page = await client.get(f"/staff/claims/{claim['id']}")
        assert page.status_code == 200 and 'data-testid="claim-receipt"' in page.text
        assert (await client.get(claim["receipts"][0])).status_code == 200
    returned = await TravelClaim.select(TravelClaim.member.account.as_alias("account"), TravelClaim.id).where(
        TravelClaim.status == "returned").first()
    client.cookies.clear()
    await log_in(client, returned["account"])
    assert 'data-testid="claim-correction"' in (await client.get(f"/account/claims/{returned['id']}")).text
