"""Check-ins at designated activities: the member's scan of the day's code (online or synced later), the
organiser's scan of the card, staff by hand; once per member, activity and day; every refusal."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date, datetime, timedelta

import pytest

from app.i18n import TOKYO
from app.keyfile import new_signing_key
from app.services.activities import check_ins
from app.services.activities.check_ins import CheckInRefused
from app.services.membership.member_card import CARD_REFUSALS
from app.services.shared.signed_tokens import TokenSigner
from db.tables import AuditLog, CheckIn
from tests import factories

DAY = date(2026, 11, 14)
AT_THE_VENUE = datetime(2026, 11, 14, 10, 30, tzinfo=TOKYO)


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(new_signing_key())


def nonce() -> str:
    return secrets.token_urlsafe(12)


async def test_a_member_scanning_the_days_code_is_checked_in_once(scene, signer):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    code = check_ins.code_for(signer, activity, DAY)
    first = await check_ins.with_code(signer, code, member.member_id, nonce(), None, AT_THE_VENUE)
    assert (first.activity_id, first.day, first.first) == (activity, DAY, True)
    # Scanning again (another nonce) the same day: one check-in
    again = await check_ins.with_code(signer, code, member.member_id, nonce(), None, AT_THE_VENUE + timedelta(hours=2))
    assert again.first is False
    rows = await CheckIn.select().where(CheckIn.member == member.member_id)
    assert [(r["activity"], r["day"], r["method"]) for r in rows] == [(activity, DAY, "code")]


async def test_an_offline_check_in_synced_later_keeps_its_day_and_the_same_nonce_records_once(scene, signer):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    code = check_ins.code_for(signer, activity, DAY)
    sent = nonce()
    two_days_later = AT_THE_VENUE + timedelta(days=2)
    first = await check_ins.with_code(signer, code, member.member_id, sent, AT_THE_VENUE, two_days_later)
    assert first.first and first.day == DAY
    # The phone did not hear the answer and sends it again
    again = await check_ins.with_code(signer, code, member.member_id, sent, AT_THE_VENUE, two_days_later)
    assert (again.first, again.day) == (False, DAY)
    row = await CheckIn.select().where(CheckIn.member == member.member_id).first()
    assert row["scanned_at"] == AT_THE_VENUE and row["client_nonce"] == sent
    assert await CheckIn.count() == 1


async def test_a_nonce_of_another_member_is_refused(scene, signer):
    activity = await factories.activity(scene.area)
    hanako, taro = await factories.member("花子"), await factories.member("太郎")
    code = check_ins.code_for(signer, activity, DAY)
    sent = nonce()
    await check_ins.with_code(signer, code, hanako.member_id, sent, None, AT_THE_VENUE)
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.with_code(signer, code, taro.member_id, sent, None, AT_THE_VENUE)
    assert refused.value.reason == "bad_nonce"


@pytest.mark.parametrize("scanned_at, now, reason", [
    # last week's poster, scanned today
    (AT_THE_VENUE + timedelta(days=7), AT_THE_VENUE + timedelta(days=7), "expired"),
    # the day after, at 00:00 in Japan
    (datetime(2026, 11, 15, 0, 0, tzinfo=TOKYO), datetime(2026, 11, 15, 0, 0, tzinfo=TOKYO), "expired"),
    # the phone says it scanned the day before the code's day
    (datetime(2026, 11, 13, 20, 0, tzinfo=TOKYO), datetime(2026, 11, 14, 9, 0, tzinfo=TOKYO), "not_yet"),
    # scanned on the day, but sent more than three days after the code's day
    (AT_THE_VENUE, datetime(2026, 11, 18, 0, 1, tzinfo=TOKYO), "too_late"),
])
async def test_a_code_of_another_day_or_synced_too_late_is_refused(scene, signer, scanned_at, now, reason):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    code = check_ins.code_for(signer, activity, DAY)
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.with_code(signer, code, member.member_id, nonce(), scanned_at, now)
    assert refused.value.reason == reason and refused.value.message
    assert await CheckIn.count() == 0


async def test_the_last_minute_of_the_day_in_japan_still_counts_for_that_day(scene, signer):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    last_minute = datetime(2026, 11, 14, 23, 59, 30, tzinfo=TOKYO)  # 14:59:30 UTC
    recorded = await check_ins.with_code(signer, check_ins.code_for(signer, activity, DAY), member.member_id, nonce(),
                                         None, last_minute)
    assert recorded.day == DAY


async def test_forged_damaged_and_other_kinds_of_code_are_refused(scene, signer):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    someone_else = TokenSigner(new_signing_key())
    card = signer.sign("card", member.member_id, AT_THE_VENUE + timedelta(days=1))
    for code, reason in ((check_ins.code_for(someone_else, activity, DAY), "forged"), ("NOT-A-CODE", "damaged"),
                         (card, "wrong_kind"), ("", "damaged")):
        with pytest.raises(CheckInRefused) as refused:
            await check_ins.with_code(signer, code, member.member_id, nonce(), None, AT_THE_VENUE)
        assert refused.value.reason == reason
    for bad in ("", "short", "x" * 65, "空白のある値です"):
        with pytest.raises(CheckInRefused) as refused:
            await check_ins.with_code(signer, check_ins.code_for(signer, activity, DAY), member.member_id, bad, None,
                                      AT_THE_VENUE)
        assert refused.value.reason == "bad_nonce"


async def test_outside_the_period_cancelled_unknown_and_full_are_refused(scene, signer):
    member = await factories.member()
    one_day = await factories.activity(scene.area, starts_on=DAY, ends_on=DAY)
    with pytest.raises(CheckInRefused) as refused:
        code = check_ins.code_for(signer, one_day, DAY + timedelta(days=1))
        await check_ins.with_code(signer, code, member.member_id, nonce(), None, AT_THE_VENUE + timedelta(days=1))
    assert refused.value.reason == "outside_period"
    cancelled = await factories.activity(scene.area, status="cancelled")
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.with_code(signer, check_ins.code_for(signer, cancelled, DAY), member.member_id, nonce(), None,
                                  AT_THE_VENUE)
    assert refused.value.reason == "cancelled"
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.with_code(signer, check_ins.code_for(signer, 999_999, DAY), member.member_id, nonce(), None,
                                  AT_THE_VENUE)
    assert refused.value.reason == "not_found"
    small = await factories.activity(scene.area, capacity=1)
    code = check_ins.code_for(signer, small, DAY)
    await check_ins.with_code(signer, code, member.member_id, nonce(), None, AT_THE_VENUE)
    # The one who came keeps coming on other days; a second person does not fit
    later = check_ins.code_for(signer, small, DAY + timedelta(days=1))
    assert (await check_ins.with_code(signer, later, member.member_id, nonce(), None,
                                      AT_THE_VENUE + timedelta(days=1))).first
    other = await factories.member("二人目")
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.with_code(signer, code, other.member_id, nonce(), None, AT_THE_VENUE)
    assert refused.value.reason == "full"


async def test_many_members_at_once_never_exceed_the_capacity(scene, signer):
    activity = await factories.activity(scene.area, capacity=5)
    members = [await factories.member(f"参加者{i}") for i in range(12)]
    code = check_ins.code_for(signer, activity, DAY)

    async def scan(member):
        try:
            return (await check_ins.with_code(signer, code, member.member_id, nonce(), None, AT_THE_VENUE)).first
        except CheckInRefused as refused:
            return refused.reason

    results = await asyncio.gather(*(scan(m) for m in members), *(scan(m) for m in members[:3]))
    assert results.count(True) == 5 and await CheckIn.count() == 5
    assert set(results) <= {True, False, "full"}


async def test_the_same_nonce_twice_at_once_records_once(scene, signer):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    code, sent = check_ins.code_for(signer, activity, DAY), nonce()
    results = await asyncio.gather(*(check_ins.with_code(signer, code, member.member_id, sent, None, AT_THE_VENUE)
                                     for _ in range(4)))
    assert sorted(r.first for r in results) == [False, False, False, True]
    assert await CheckIn.count() == 1


async def test_the_organiser_scans_a_card_and_staff_record_by_hand_with_a_reason(scene, signer):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    card = signer.sign("card", member.member_id, AT_THE_VENUE + timedelta(days=1))
    recorded, holder = await check_ins.by_card(signer, activity, card, scene.editor, AT_THE_VENUE)
    assert recorded.first and holder["id"] == member.member_id
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.by_card(signer, activity, card, scene.other_editor, AT_THE_VENUE)
    assert refused.value.reason == "not_your_area"
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.by_hand(activity, member.member_no, "2026-11-20", " ", scene.staff)
    assert refused.value.reason == "reason_needed"
    for day, reason in (("2026-13-01", "bad_day"), ("2026-12-01", "outside_period")):
        with pytest.raises(CheckInRefused) as refused:
            await check_ins.by_hand(activity, member.member_no, day, "受付で記名", scene.staff)
        assert refused.value.reason == reason
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.by_hand(activity, "NO-SUCH", "2026-11-20", "受付で記名", scene.staff)
    assert refused.value.reason == "unknown_member"
    by_hand = await check_ins.by_hand(activity, member.member_no.lower(), "2026-11-20", "スマホを忘れたため受付で記名", scene.staff)
    assert by_hand.first
    audit = await AuditLog.select().where(AuditLog.action == "check_in.by_hand").first().output(load_json=True)
    assert audit["actor"] == scene.staff.account_id and audit["detail"]["reason"] == "スマホを忘れたため受付で記名"
    listed = await check_ins.check_ins_of(activity, scene.editor)
    assert [(r["day"], r["method"]) for r in listed] == [(DAY, "card"), (date(2026, 11, 20), "hand")]


async def test_a_refused_card_is_worded_for_a_card_not_for_the_activitys_code(scene, signer):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    old_card = signer.sign("card", member.member_id, AT_THE_VENUE - timedelta(days=1))
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.by_card(signer, activity, old_card, scene.editor, AT_THE_VENUE)
    assert (refused.value.reason, refused.value.field) == ("card_expired", "code")
    assert refused.value.message == str(CARD_REFUSALS["expired"])
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.by_card(signer, activity, check_ins.code_for(signer, activity, DAY), scene.editor, AT_THE_VENUE)
    assert refused.value.reason == "card_wrong_kind"


async def test_a_member_number_or_reason_with_control_characters_never_reaches_the_database_as_typed(scene):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    with pytest.raises(CheckInRefused) as refused:
        await check_ins.by_hand(activity, "TMK\x00-000001", "2026-11-20", "受付で記名", scene.staff)
    assert refused.value.reason == "unknown_member"
    recorded = await check_ins.by_hand(activity, member.member_no, "2026-11-20", "受付で\x00記名", scene.staff)
    assert recorded.first
    assert (await CheckIn.select(CheckIn.reason).first())["reason"] == "受付で記名"


async def test_a_code_records_the_activity_it_names_and_no_other(scene, signer):
    """The code names its activity: a member who came to one activity and scans another's code (a poster of the
    next event, say) is checked in to that other one, never to the first; its day and period rules apply."""
    first = await factories.activity(scene.area, title="浜のごみ拾い")
    other = await factories.activity(scene.area, title="秋祭りの設営", starts_on=DAY + timedelta(days=20),
                                     ends_on=DAY + timedelta(days=20))
    member = await factories.member()
    with pytest.raises(CheckInRefused) as refused:  # the other's code for today: not one of its days
        await check_ins.with_code(signer, check_ins.code_for(signer, other, DAY), member.member_id, nonce(), None,
                                  AT_THE_VENUE)
    assert refused.value.reason == "outside_period"
    recorded = await check_ins.with_code(signer, check_ins.code_for(signer, first, DAY), member.member_id, nonce(),
                                         None, AT_THE_VENUE)
    assert recorded.activity_id == first
    assert [row["activity"] for row in await CheckIn.select(CheckIn.activity)] == [first]
