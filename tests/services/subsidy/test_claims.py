"""A participant's travel-subsidy claim: filed once attendance is recorded, with receipts checked by their content; a
fare above the maximum claims the maximum and says so; refused before attendance, after the deadline, twice, for a
means of transport not covered and for a trip that does not fit the program; a returned claim corrected and sent
again."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from app.i18n import in_locale
from app.services.shared.refusals import FormInvalid
from app.services.subsidy import claims
from app.services.subsidy.claims import ClaimRefused
from db.tables import AuditLog, Notice, TravelClaim, Upload
from tests import factories
from tests.services.subsidy.conftest import NOW, PDF, TODAY, claim_form, photo


async def test_a_member_who_attended_files_a_claim_with_receipts_and_finds_it_in_their_inbox(covered, tmp_path):
    assert (await claims.standing(covered.program, covered.member.member_id, TODAY)).may_claim
    claim_id = await claims.submit(covered.program, covered.member.member_id, claim_form(), [photo(), PDF], tmp_path, NOW)
    row = await TravelClaim.select().where(TravelClaim.id == claim_id).first().output(load_json=True)
    assert (row["status"], row["fare"], row["amount"], row["max_amount"], row["fiscal_year"]) == ("submitted", 18_400, 18_400,
                                                                                                 20_000, 2026)
    assert row["transports"] == ["rail", "air"] and len(row["receipts"]) == 2
    assert [u.endswith((".jpg", ".pdf")) for u in row["receipts"]] == [True, True]
    assert all((tmp_path / "uploads" / url.rsplit("/", 1)[1]).is_file() for url in row["receipts"])
    notice = await Notice.select().where(Notice.account == covered.member.account_id).first()
    assert "勇払の酪農体験" in notice["title"] and "18,400" in notice["body"] and notice["url"] == f"/account/claims/{claim_id}"
    entry = await AuditLog.select().where(AuditLog.action == "travel_claim.submit").first().output(load_json=True)
    assert (entry["actor"], entry["target_id"], entry["detail"]) == (covered.member.account_id, str(claim_id),
                                                                     {"fare": 18_400, "amount": 18_400})
    standing = await claims.standing(covered.program, covered.member.member_id, TODAY)
    assert standing.refusal == "already_claimed" and standing.claim["id"] == claim_id


async def test_a_fare_above_the_maximum_claims_the_maximum_and_says_so(covered, tmp_path):
    claim_id = await claims.submit(covered.program, covered.member.member_id, claim_form(fare="¥32,400"), [photo()],
                                   tmp_path, NOW)
    row = await TravelClaim.select(TravelClaim.fare, TravelClaim.amount).where(TravelClaim.id == claim_id).first()
    assert (row["fare"], row["amount"]) == (32_400, 20_000)
    notice = await Notice.select(Notice.body).first()
    assert "32,400" in notice["body"] and "20,000" in notice["body"]


async def test_no_claim_before_attendance_is_recorded(covered, tmp_path):
    other = await factories.member("ふるさと次郎")
    await factories.attendance(covered.program, other.member_id, status="accepted")
    with pytest.raises(ClaimRefused) as refused:
        await claims.submit(covered.program, other.member_id, claim_form(), [photo()], tmp_path, NOW)
    assert refused.value.reason == "not_attended"
    assert await TravelClaim.count() == 0 and await Upload.count() == 0


async def test_no_claim_after_the_deadline_nor_for_a_program_the_subsidy_does_not_cover(covered, tmp_path):
    after = datetime(2027, 1, 1, 0, 0, tzinfo=timezone.utc)  # 9:00 on 1 January in Japan: the 31st was the last day
    with pytest.raises(ClaimRefused) as late:
        await claims.submit(covered.program, covered.member.member_id, claim_form(), [photo()], tmp_path, after)
    with in_locale("ja"):
        assert late.value.reason == "past_deadline" and "12月31日" in late.value.message
    last_minute = datetime(2026, 12, 31, 14, 59, tzinfo=timezone.utc)  # 23:59 on the 31st in Japan
    assert await claims.submit(covered.program, covered.member.member_id, claim_form(), [photo()], tmp_path, last_minute)
    uncovered = await factories.program(covered.area, title="対象外のプログラム")
    await factories.attendance(uncovered, covered.member.member_id)
    with pytest.raises(ClaimRefused) as refused:
        await claims.submit(uncovered, covered.member.member_id, claim_form(), [photo()], tmp_path, NOW)
    assert refused.value.reason == "not_covered"


async def test_a_second_claim_for_the_same_program_is_refused_even_when_both_are_sent_at_once(covered, tmp_path):
    results = await asyncio.gather(*(claims.submit(covered.program, covered.member.member_id, claim_form(), [photo()],
                                                   tmp_path, NOW) for _ in range(2)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, ClaimRefused)]
    assert len(refused) == 1 and refused[0].reason == "already_claimed"
    assert await TravelClaim.count() == 1 and await Upload.count() == 1  # the refused one's receipt is gone again
    assert len(list((tmp_path / "uploads").glob("*.jpg"))) == 1
    with pytest.raises(ClaimRefused) as again:
        await claims.submit(covered.program, covered.member.member_id, claim_form(), [photo()], tmp_path, NOW)
    assert again.value.reason == "already_claimed"


@pytest.mark.parametrize("changes, field", [
    ({"transports": ["car"]}, "transports"), ({"transports": []}, "transports"), ({"departure": " "}, "departure"),
    ({"route": "経" * 501}, "route"), ({"fare": "12.5"}, "fare"), ({"fare": "0"}, "fare"), ({"fare": "-300"}, "fare"),
    ({"outbound_on": "2026-12-07"}, "outbound_on"),  # set out after the program ended
    ({"outbound_on": "2026-11-20"}, "outbound_on"),  # more than a week before
    ({"return_on": "2026-12-04"}, "return_on"),  # back before it began
    ({"return_on": "2026-12-10"}, "return_on"),  # not over yet
    ({"outbound_on": "2025-12-04"}, "outbound_on"),  # last year typed
    ({"return_on": "2026/12/06"}, "return_on"), ({"outbound_on": ""}, "outbound_on"),
])
async def test_a_form_that_cannot_be_kept_comes_back_with_its_message_and_nothing_is_stored(covered, tmp_path, changes,
                                                                                            field):
    with pytest.raises(FormInvalid) as invalid:
        await claims.submit(covered.program, covered.member.member_id, claim_form(**changes), [photo()], tmp_path, NOW)
    assert field in invalid.value.errors and invalid.value.values["route"] == claim_form(**changes)["route"]
    assert await TravelClaim.count() == 0 and await Upload.count() == 0


async def test_the_subsidy_names_what_it_covers_when_another_means_is_chosen(covered):
    found = await claims.standing(covered.program, covered.member.member_id, TODAY)
    program = {"starts_at": NOW - timedelta(days=4), "ends_at": NOW - timedelta(days=3)}
    with in_locale("ja"), pytest.raises(FormInvalid) as invalid:
        claims.read_claim(claim_form(transports=["car", "rail"]), found.rules, program, TODAY)
    assert invalid.value.errors["transports"] == "このプログラムの補助の対象は、鉄道（新幹線・JR・私鉄）、航空機、高速バス・路線バスです。"


@pytest.mark.parametrize("files, message", [
    ([], "Add a photo"), ([b"MZ\x90\x00" * 50], "photo (JPEG, PNG or WebP) or a PDF"), ([photo()] * 4, "at most 3"),
    ([b"%PDF-1.4\n cut short"], "could not be read"),
])
async def test_receipts_are_required_and_checked_by_their_content(covered, tmp_path, files, message):
    with in_locale("en"), pytest.raises(FormInvalid) as invalid:
        await claims.submit(covered.program, covered.member.member_id, claim_form(), files, tmp_path, NOW)
    assert message in invalid.value.errors["receipts"]
    assert await TravelClaim.count() == 0 and await Upload.count() == 0


async def test_a_returned_claim_is_corrected_and_sent_again_with_new_receipts_in_place_of_the_old(covered, tmp_path):
    claim_id = await claims.submit(covered.program, covered.member.member_id, claim_form(), [photo()], tmp_path, NOW)
    old = (await TravelClaim.select(TravelClaim.receipts).first().output(load_json=True))["receipts"]
    with pytest.raises(ClaimRefused) as not_yet:
        await claims.resubmit(claim_id, covered.member.member_id, claim_form(), [], tmp_path, NOW)
    assert not_yet.value.reason == "not_returned"
    await TravelClaim.update({TravelClaim.status: "returned"}).where(TravelClaim.id == claim_id)
    later = NOW + timedelta(days=40)  # past the deadline: a correction is the same claim
    await claims.resubmit(claim_id, covered.member.member_id, claim_form(fare="21,000"), [PDF], tmp_path, later)
    row = await TravelClaim.select().where(TravelClaim.id == claim_id).first().output(load_json=True)
    assert (row["status"], row["fare"], row["amount"]) == ("submitted", 21_000, 20_000)
    assert row["receipts"] != old and row["receipts"][0].endswith(".pdf")
    assert await Upload.count() == 1 and not (tmp_path / "uploads" / old[0].rsplit("/", 1)[1]).exists()
    actions = [r["action"] for r in await AuditLog.select(AuditLog.action).order_by(AuditLog.id)]
    assert actions == ["travel_claim.submit", "travel_claim.resubmit"]


async def test_a_correction_without_new_receipts_keeps_the_earlier_ones(covered, tmp_path):
    claim_id = await claims.submit(covered.program, covered.member.member_id, claim_form(), [photo()], tmp_path, NOW)
    await TravelClaim.update({TravelClaim.status: "returned"}).where(TravelClaim.id == claim_id)
    before = (await TravelClaim.select(TravelClaim.receipts).first().output(load_json=True))["receipts"]
    await claims.resubmit(claim_id, covered.member.member_id, claim_form(route="羽田空港→新千歳空港"), [], tmp_path, NOW)
    after = await TravelClaim.select(TravelClaim.receipts, TravelClaim.route).first().output(load_json=True)
    assert after == {"receipts": before, "route": "羽田空港→新千歳空港"}


async def test_a_member_sees_only_their_own_claims(covered, tmp_path):
    claim_id = await claims.submit(covered.program, covered.member.member_id, claim_form(), [photo()], tmp_path, NOW)
    other = await factories.member("ふるさと次郎")
    assert await claims.claim_of_member(claim_id, other.member_id) is None
    with pytest.raises(ClaimRefused):
        await claims.resubmit(claim_id, other.member_id, claim_form(), [], tmp_path, NOW)
    mine = await claims.of_member(covered.member.member_id)
    assert [(c["id"], c["program_title"], c["area_name"]) for c in mine] == [(claim_id, "勇払の酪農体験", "勇払")]
    assert await claims.of_member(other.member_id) == []


async def test_the_members_data_export_holds_their_claims_with_the_trip_and_receipts(covered, tmp_path):
    from app.services.membership import data_export

    await claims.submit(covered.program, covered.member.member_id, claim_form(), [photo(), PDF], tmp_path, NOW)
    [claim] = (await data_export.export_data(covered.member.account_id))["travel_subsidy_claims"]
    assert (claim["program"], claim["status"], claim["departure"], claim["fare"], claim["amount"]) == (
        "勇払の酪農体験", "submitted", "東京都世田谷区", 18_400, 18_400)
    assert claim["transports"] == ["rail", "air"] and len(claim["receipts"]) == 2
    other = await factories.member("ふるさと次郎")
    assert (await data_export.export_data(other.account_id))["travel_subsidy_claims"] == []
