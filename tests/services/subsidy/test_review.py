"""The secretariat's steps on a claim: approve (less only with a note), return for a correction, decline with a
reason, mark paid; each once however many decide at once, each audited, and the member told on every channel at
each step, in their own words and language."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.i18n import in_locale
from app.services.notify import push_notifications
from app.services.notify.personal import Told
from app.services.shared.refusals import FormInvalid
from app.services.subsidy import claims, review
from app.services.subsidy.review import ClaimFilter, ReviewRefused
from app.settings import Smtp
from db.tables import Account, AuditLog, Notice, Notification, OutboxMail, TravelClaim
from tests import factories
from tests.services.subsidy.conftest import NOW, claim_form, photo

TOLD = Told(Smtp(), "https://tsunagu.example.jp")


async def filed(covered, tmp_path, **changes) -> int:
    return await claims.submit(covered.program, covered.member.member_id, claim_form(**changes), [photo()], tmp_path, NOW)


async def told(account_id: int) -> list[dict]:
    """What reached the member's inbox besides their own steps: the personal notifications, fanned out."""
    await push_notifications.fan_out_due(NOW + timedelta(days=60))
    return await Notice.select(Notice.title, Notice.body, Notice.url).where(Notice.account == account_id).order_by(Notice.id)


async def test_a_claim_is_approved_then_paid_and_the_member_is_told_each_time_by_inbox_push_and_mail(covered, tmp_path):
    claim_id = await filed(covered, tmp_path)
    assert await review.waiting_count() == 1
    assert await review.approve(claim_id, covered.staff, "18,400", "", TOLD, NOW) == 18_400
    paid_on = await review.mark_paid(claim_id, covered.staff, "2026-12-09", TOLD, NOW)
    row = await TravelClaim.select().where(TravelClaim.id == claim_id).first()
    assert (row["status"], row["approved_amount"], row["paid_on"], row["paid_by"]) == ("paid", 18_400, paid_on, covered.staff)
    assert await review.waiting_count() == 0
    notices = await told(covered.member.account_id)
    assert [n["url"] for n in notices] == [f"/account/claims/{claim_id}"] * 3
    assert "承認" in notices[1]["title"] and "18,400" in notices[1]["body"]
    assert "支払" in notices[2]["title"] and "2026/12/09" in notices[2]["body"]
    assert await Notification.count().where(Notification.topic == "personal") == 2  # pushed too (and to LINE when linked)
    mails = await OutboxMail.select(OutboxMail.to_address, OutboxMail.purpose, OutboxMail.body).order_by(OutboxMail.id)
    assert [(m["to_address"], m["purpose"]) for m in mails] == [("hanako@example.jp", "travel_claim")] * 2
    assert f"https://tsunagu.example.jp/account/claims/{claim_id}" in mails[0]["body"]
    actions = [e["action"] for e in await review.history(claim_id)]
    assert actions == ["travel_claim.submit", "travel_claim.approve", "travel_claim.paid"]


async def test_less_than_claimed_is_approved_only_with_a_note_and_never_more(covered, tmp_path):
    claim_id = await filed(covered, tmp_path, fare="30,000")  # 20,000 claimed
    with pytest.raises(FormInvalid) as more:
        await review.approve(claim_id, covered.staff, "25,000", "", now=NOW)
    assert "20,000" in more.value.errors["amount"]
    with pytest.raises(FormInvalid) as silent:
        await review.approve(claim_id, covered.staff, "15,000", " ", now=NOW)
    assert "note" in silent.value.errors and silent.value.values == {"amount": "15,000", "note": " "}
    with pytest.raises(FormInvalid):
        await review.approve(claim_id, covered.staff, "abc", "", now=NOW)
    await review.approve(claim_id, covered.staff, "１５，０００", "JR区間の領収書がないため航空運賃分のみ", now=NOW)
    row = await TravelClaim.select(TravelClaim.approved_amount, TravelClaim.note).first()
    assert row == {"approved_amount": 15_000, "note": "JR区間の領収書がないため航空運賃分のみ"}
    body = (await told(covered.member.account_id))[-1]["body"]
    assert "15,000" in body and "20,000" in body and "JR区間" in body
    entry = await AuditLog.select(AuditLog.detail).where(AuditLog.action == "travel_claim.approve").first().output(load_json=True)
    assert entry["detail"] == {"amount": 15_000, "claimed": 20_000, "note": "JR区間の領収書がないため航空運賃分のみ"}


async def test_a_returned_claim_comes_back_corrected_and_a_decline_needs_its_reason(covered, tmp_path):
    claim_id = await filed(covered, tmp_path)
    with pytest.raises(FormInvalid):
        await review.send_back(claim_id, covered.staff, "", now=NOW)
    await review.send_back(claim_id, covered.staff, "領収書の金額が読み取れません。撮り直してください。", now=NOW)
    returned = (await told(covered.member.account_id))[-1]
    assert "修正" in returned["title"] and "撮り直して" in returned["body"]
    with pytest.raises(ReviewRefused) as not_waiting:
        await review.approve(claim_id, covered.staff, "18,400", "", now=NOW)
    assert not_waiting.value.reason == "changed_meanwhile"
    await claims.resubmit(claim_id, covered.member.member_id, claim_form(), [photo()], tmp_path, NOW)
    with pytest.raises(FormInvalid) as silent:
        await review.decline(claim_id, covered.staff, "  ", now=NOW)
    assert "reason" in silent.value.errors
    await review.decline(claim_id, covered.staff, "プログラム参加のための移動と確認できませんでした。", now=NOW)
    row = await TravelClaim.select(TravelClaim.status, TravelClaim.note).first()
    assert row == {"status": "declined", "note": "プログラム参加のための移動と確認できませんでした。"}
    assert (await told(covered.member.account_id))[-1]["body"] == row["note"]
    with pytest.raises(ReviewRefused):
        await review.mark_paid(claim_id, covered.staff, "2026-12-09", now=NOW)  # only an approved claim is paid


async def test_two_staff_deciding_at_once_give_one_decision(covered, tmp_path):
    claim_id = await filed(covered, tmp_path)
    results = await asyncio.gather(review.approve(claim_id, covered.staff, "18,400", "", now=NOW),
                                   review.decline(claim_id, covered.staff, "対象外です", now=NOW), return_exceptions=True)
    assert sum(isinstance(r, ReviewRefused) for r in results) == 1
    assert await AuditLog.count().where(AuditLog.action.is_in(["travel_claim.approve", "travel_claim.decline"])) == 1
    assert await Notification.count().where(Notification.topic == "personal") == 1


@pytest.mark.parametrize("paid_on", ["2026-12-10", "2026-12-01", "昨日", ""])
async def test_the_day_paid_is_from_the_approval_to_today(covered, tmp_path, paid_on):
    claim_id = await filed(covered, tmp_path)
    await review.approve(claim_id, covered.staff, "18,400", "", now=NOW - timedelta(days=2))
    with in_locale("ja", audience="staff"), pytest.raises(FormInvalid) as invalid:
        await review.mark_paid(claim_id, covered.staff, paid_on, now=NOW)
    assert "令和8年12月7日" in invalid.value.errors["paid_on"]


async def test_unknown_claims_are_refused(covered):
    for step in (review.approve(999, covered.staff, "1", "", now=NOW), review.send_back(2**40, covered.staff, "x", now=NOW)):
        with pytest.raises(ReviewRefused) as refused:
            await step
        assert refused.value.reason == "not_found"


async def test_a_member_reading_english_is_told_in_english(covered, tmp_path):
    await Account.update({Account.locale: "en"}).where(Account.id == covered.member.account_id)
    claim_id = await filed(covered, tmp_path)
    await review.approve(claim_id, covered.staff, "18,400", "", now=NOW)
    assert (await told(covered.member.account_id))[-1]["title"] == "Travel subsidy approved: 勇払の酪農体験"


async def test_the_list_shows_a_year_by_area_program_and_status_with_counts(covered, tmp_path):
    first = await filed(covered, tmp_path)
    tarumae = await factories.area("樽前", "tarumae")
    there = await factories.program(tarumae, title="樽前の空き家再生", starts_at=NOW - timedelta(days=3),
                                    ends_at=NOW - timedelta(days=3, hours=-6))
    someone = await factories.member("ふるさと次郎")
    second = await factories.travel_claim(there, someone.member_id, status="approved", approved_amount=20_000)
    await factories.travel_claim(there, covered.member.member_id, fiscal_year=2025)
    year = ClaimFilter(2026)
    assert await review.status_counts(year) == {"submitted": 1, "approved": 1}
    assert [c["id"] for c in await review.claims(ClaimFilter(2026, status="submitted"))] == [first]
    assert [c["id"] for c in await review.claims(ClaimFilter(2026, area_id=tarumae))] == [second]
    assert [c["id"] for c in await review.claims(ClaimFilter(2026, program_id=covered.program))] == [first]
    assert await review.status_counts(ClaimFilter(2026, area_id=tarumae)) == {"approved": 1}
    detail = await review.claim(first)
    assert (detail["member_no"], detail["area_name"], detail["attended_at"] is not None) == (covered.member.member_no, "勇払",
                                                                                            True)
    assert await review.claim(2**40) is None
