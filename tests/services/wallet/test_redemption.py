"""Redeeming an offer at a shop: every rule and every refusal, exactly once under concurrency, nonce retries.

Time is always passed in (`now`), so Tokyo-day rules are tested at the minutes where the Tokyo date and
the UTC date differ: 2026-08-01 00:30 in Tokyo is still 2026-07-31 15:30 in UTC.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import date, datetime, timedelta

import pytest

from app.keyfile import new_signing_key
from app.services.membership import erasure
from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import redemption
from app.services.wallet.redemption import Redeemed, Refused
from db.tables import AuditLog, Member, Offer, PassOffer, Redemption, WalletPass
from tests import factories
from tests.services.wallet.redemption_scene import ACTIVATED, NOW, TOKYO_MIDNIGHT_1_AUG, UTC, Scene, stay_wallet

# --- The token and the short code ---------------------------------------------------------------------


async def test_a_signed_wallet_token_redeems_an_offer(scene):
    result = await scene.redeem(scene.once)
    assert result.offer_title == "ほっきカレー 大盛り無料"
    assert result.display_name == "旅する花子"
    assert result.redeemed_at == NOW
    assert result.replayed is False
    assert await Redemption.count() == 1


async def test_a_token_signed_by_another_installation_is_refused_as_forged(scene):
    other = TokenSigner(new_signing_key())
    assert await scene.refusal(scene.once, code=other.sign("wallet", scene.wallet_pass, NOW + timedelta(days=1))) == "forged"


async def test_a_token_with_a_changed_character_is_refused_as_forged_or_damaged(scene):
    index = 20
    tampered = scene.token[:index] + ("A" if scene.token[index] != "A" else "B") + scene.token[index + 1 :]
    assert await scene.refusal(scene.once, code=tampered) in ("forged", "damaged")


@pytest.mark.parametrize("cut", [lambda t: t[:40], lambda t: t[:-30], lambda t: t + "!!!!", lambda t: "1" * len(t)])
async def test_a_damaged_token_is_refused_as_damaged(scene, cut):
    assert await scene.refusal(scene.once, code=cut(scene.token)) in ("damaged", "forged")


async def test_a_token_cut_short_or_with_foreign_characters_is_refused_as_damaged(scene):
    assert await scene.refusal(scene.once, code=scene.token[:40]) == "damaged"
    assert await scene.refusal(scene.once, code=scene.token[:60] + "!" + scene.token[61:]) == "damaged"


async def test_an_expired_token_is_refused_as_expired(scene):
    stale = scene.token_for(scene.wallet_pass, NOW - timedelta(minutes=1))
    assert await scene.refusal(scene.once, code=stale) == "expired"


async def test_a_member_card_token_is_refused_as_the_wrong_kind(scene):
    card = scene.signer.sign("card", scene.member_id, NOW + timedelta(days=1))
    assert await scene.refusal(scene.once, code=card) == "wrong_kind"


async def test_a_genuine_token_for_a_wallet_pass_that_no_longer_exists_is_unknown(scene):
    gone = scene.token_for(scene.wallet_pass + 1000, NOW + timedelta(days=1))
    assert await scene.refusal(scene.once, code=gone) == "unknown"


async def test_the_short_code_typed_in_lower_case_with_a_dash_works(scene):
    typed = f" {scene.short_code[:4].lower()}-{scene.short_code[4:].lower()} "
    result = await scene.redeem(scene.once, code=typed)
    assert result.display_name == "旅する花子"
    assert (await redemption.preview(scene.signer, typed, scene.shop, NOW)).scanned.wallet_pass_id == scene.wallet_pass


async def test_an_unknown_short_code_is_refused_as_unknown(scene):
    unknown = "ZZZZZZZZ" if scene.short_code != "ZZZZZZZZ" else "YYYYYYYY"
    assert await scene.refusal(scene.once, code=unknown) == "unknown"
    assert await scene.refusal(scene.once, code="zzzz-zzzz" if unknown == "ZZZZZZZZ" else "yyyy-yyyy") == "unknown"


# --- The pass: status, expiry, stay --------------------------------------------------------------------


@pytest.mark.parametrize("status", ["suspended", "revoked"])
async def test_suspending_or_revoking_a_pass_takes_effect_at_the_next_scan(scene, status):
    await scene.redeem(scene.unlimited)
    await WalletPass.update({WalletPass.status: status}).where(WalletPass.id == scene.wallet_pass)
    assert await scene.refusal(scene.unlimited) == status
    assert await scene.refusal(scene.once, code=scene.short_code) == status
    preview = await redemption.preview(scene.signer, scene.token, scene.shop, NOW)
    assert preview.problem == status
    assert all(not state.usable and state.reason == status for state in preview.offers)
    await WalletPass.update({WalletPass.status: "active"}).where(WalletPass.id == scene.wallet_pass)
    await scene.redeem(scene.unlimited)
    assert await Redemption.count() == 2


async def test_an_expired_pass_is_refused_even_when_its_code_has_not_expired(scene):
    await WalletPass.update({WalletPass.expires_at: NOW - timedelta(seconds=1)}).where(WalletPass.id == scene.wallet_pass)
    assert await scene.refusal(scene.once) == "expired"
    assert await scene.refusal(scene.once, code=scene.short_code) == "expired"


async def test_a_pass_is_expired_from_the_moment_it_expires(scene):
    expires_at = ACTIVATED + timedelta(days=30)
    assert (await scene.redeem(scene.unlimited, now=expires_at - timedelta(seconds=1))).redeemed_at < expires_at
    assert await scene.refusal(scene.unlimited, code=scene.short_code, now=expires_at) == "expired"


async def test_before_the_stay_is_refused_until_midnight_in_tokyo(scene):
    token = await stay_wallet(scene, date(2026, 8, 1), date(2026, 8, 3))
    just_before = TOKYO_MIDNIGHT_1_AUG - timedelta(minutes=1)  # 31 July 23:59 in Tokyo
    assert await scene.refusal(scene.unlimited, code=token, now=just_before) == "before_stay"
    half_past = TOKYO_MIDNIGHT_1_AUG + timedelta(minutes=30)  # 1 August 00:30 in Tokyo, still 31 July in UTC
    assert half_past.date() == date(2026, 7, 31)
    assert (await scene.redeem(scene.unlimited, code=token, now=half_past)).redeemed_at == half_past


async def test_after_the_stay_is_refused_from_midnight_in_tokyo(scene):
    token = await stay_wallet(scene, date(2026, 7, 29), date(2026, 7, 31))
    late_evening = TOKYO_MIDNIGHT_1_AUG - timedelta(minutes=30)  # 31 July 23:30 in Tokyo: the last day
    await scene.redeem(scene.unlimited, code=token, now=late_evening)
    half_past = TOKYO_MIDNIGHT_1_AUG + timedelta(minutes=30)  # 1 August in Tokyo, 31 July in UTC
    assert await scene.refusal(scene.unlimited, code=token, now=half_past) == "after_stay"
    preview = await redemption.preview(scene.signer, token, scene.shop, half_past)
    assert preview.problem == "after_stay"


async def test_a_pass_without_a_stay_works_on_any_day_of_its_validity(scene):
    await scene.redeem(scene.unlimited, now=ACTIVATED + timedelta(minutes=1))
    await scene.redeem(scene.unlimited, now=ACTIVATED + timedelta(days=29, hours=23))
    assert await Redemption.count() == 2


# --- The offer -----------------------------------------------------------------------------------------


async def test_an_offer_of_another_shop_is_refused_as_wrong_shop(scene):
    assert await scene.refusal(scene.other_shop_offer) == "wrong_shop"
    assert await scene.refusal(scene.once, shop=scene.other_shop, account=scene.other_staff) == "wrong_shop"
    assert await Redemption.count() == 0


async def test_an_offer_of_this_shop_that_the_pass_does_not_include_is_refused_as_not_in_pass(scene):
    assert await scene.refusal(scene.not_in_pass) == "not_in_pass"


async def test_an_offer_that_does_not_exist_is_refused_as_not_in_pass(scene):
    assert await scene.refusal(scene.not_in_pass + 1000) == "not_in_pass"


async def test_an_inactive_offer_is_refused_as_unavailable(scene):
    assert await scene.refusal(scene.inactive) == "offer_unavailable"


async def test_an_offer_outside_its_dates_is_refused_as_unavailable_by_the_tokyo_date(scene):
    # valid until 9 August: 9 August 23:30 in Tokyo is fine, 10 August 00:30 in Tokyo (9 August in UTC) is not.
    await scene.redeem(scene.ended, now=datetime(2026, 8, 9, 14, 30, tzinfo=UTC))
    assert await scene.refusal(scene.ended, now=datetime(2026, 8, 9, 15, 30, tzinfo=UTC)) == "offer_unavailable"
    await Offer.update({Offer.valid_from: date(2026, 8, 11), Offer.valid_to: None}).where(Offer.id == scene.ended)
    assert await scene.refusal(scene.ended) == "offer_unavailable"


# --- Premium members only ------------------------------------------------------------------------------

MIDNIGHT_11_AUG = datetime(2026, 8, 10, 15, 0, tzinfo=UTC)  # 11 August 00:00 in Tokyo, still 10 August in UTC


async def premium_offer(scene: Scene) -> int:
    """An offer for premium members only at the scene's shop, in the member's pass."""
    offer = Offer(shop=scene.shop, title="プレミアム会員限定 ほっき丼", limit_kind="unlimited", premium_only=True)
    await offer.save()
    await PassOffer(entry_pass=scene.pass_id, offer=offer.id).save()
    return offer.id


async def test_a_premium_only_offer_is_refused_to_a_basic_member_and_nothing_is_recorded(scene):
    offer = await premium_offer(scene)
    assert await scene.refusal(offer) == "premium_only"
    assert await Redemption.count() == 0
    await scene.redeem(scene.unlimited)  # the offers not limited to premium are used as before
    assert await Redemption.count() == 1


async def test_a_premium_member_uses_a_premium_only_offer(scene):
    offer = await premium_offer(scene)
    await factories.premium(scene.member_id, date(2027, 3, 31))
    result = await scene.redeem(offer)
    assert result.offer_title == "プレミアム会員限定 ほっき丼"
    assert await Redemption.count().where(Redemption.offer == offer) == 1


async def test_premium_that_ended_yesterday_is_refused_from_midnight_in_japan(scene):
    offer = await premium_offer(scene)
    await factories.premium(scene.member_id, date(2026, 8, 10))
    await scene.redeem(offer, now=MIDNIGHT_11_AUG - timedelta(minutes=1))  # 10 August 23:59 in Tokyo: still premium
    assert await scene.refusal(offer, now=MIDNIGHT_11_AUG) == "premium_only"
    assert await Redemption.count() == 1


async def test_the_preview_shows_a_premium_only_offer_unusable_for_a_basic_member_and_why(scene):
    offer = await premium_offer(scene)
    preview = await redemption.preview(scene.signer, scene.token, scene.shop, NOW)
    states = {state.offer["id"]: state for state in preview.offers}
    assert (states[offer].usable, states[offer].reason) == (False, "premium_only")
    assert states[scene.unlimited].usable and preview.problem == ""
    await factories.premium(scene.member_id, date(2026, 8, 10))
    preview = await redemption.preview(scene.signer, scene.token, scene.shop, NOW)
    assert next(s for s in preview.offers if s.offer["id"] == offer).usable


async def test_an_inactive_premium_only_offer_is_unavailable_before_it_is_for_premium_members(scene):
    offer = await premium_offer(scene)
    await Offer.update({Offer.active: False}).where(Offer.id == offer)
    assert await scene.refusal(offer) == "offer_unavailable"


# --- Limits --------------------------------------------------------------------------------------------


async def test_a_once_only_offer_is_used_once_then_already_used(scene):
    await scene.redeem(scene.once)
    assert await scene.refusal(scene.once) == "already_used"
    assert await scene.refusal(scene.once, account=scene.colleague) == "already_used"
    assert await scene.refusal(scene.once, now=NOW + timedelta(days=5)) == "already_used"
    assert await Redemption.count() == 1


async def test_a_per_day_offer_gives_n_uses_a_tokyo_day_then_already_used_today(scene):
    for _ in range(3):
        await scene.redeem(scene.daily)
    assert await scene.refusal(scene.daily) == "already_used_today"
    last_minute = datetime(2026, 8, 10, 14, 59, tzinfo=UTC)  # 10 August 23:59 in Tokyo
    assert await scene.refusal(scene.daily, now=last_minute) == "already_used_today"
    next_day = datetime(2026, 8, 10, 15, 0, tzinfo=UTC)  # 11 August 00:00 in Tokyo, still 10 August in UTC
    for _ in range(3):
        await scene.redeem(scene.daily, now=next_day)
    assert await scene.refusal(scene.daily, now=next_day) == "already_used_today"
    assert await Redemption.count() == 6


async def test_an_unlimited_offer_is_always_ok_and_every_use_is_counted(scene):
    results = [await scene.redeem(scene.unlimited, now=NOW + timedelta(minutes=n)) for n in range(7)]
    assert len({r.redemption_id for r in results}) == 7
    assert await Redemption.count().where(Redemption.offer == scene.unlimited) == 7
    preview = await redemption.preview(scene.signer, scene.token, scene.shop, NOW)
    state = next(s for s in preview.offers if s.offer["id"] == scene.unlimited)
    assert state.usable and state.remaining is None


async def test_a_deleted_members_wallet_is_unknown(scene):
    await scene.redeem(scene.unlimited)
    await erasure.delete_account(scene.member_account)
    assert await scene.refusal(scene.unlimited) == "unknown"
    assert await scene.refusal(scene.unlimited, code=scene.short_code) == "unknown"
    with pytest.raises(Refused) as refused:
        await redemption.preview(scene.signer, scene.token, scene.shop, NOW)
    assert refused.value.reason == "unknown"
    assert await Redemption.count() == 1  # the history stays, for the shop's counts


# --- What is recorded ----------------------------------------------------------------------------------


async def test_every_redemption_records_shop_offer_wallet_pass_time_account_and_home_prefecture(scene):
    result = await scene.redeem(scene.once, nonce="scan-1", account=scene.colleague)
    row = await Redemption.select().where(Redemption.id == result.redemption_id).first()
    assert row["shop"] == scene.shop
    assert row["offer"] == scene.once
    assert row["wallet_pass"] == scene.wallet_pass
    assert row["redeemed_at"] == NOW
    assert row["scanned_by"] == scene.colleague
    assert row["client_nonce"] == "scan-1"
    assert row["home_prefecture"] == "13"
    assert row["undone_at"] is None


async def test_the_home_prefecture_snapshot_stays_when_the_member_moves(scene):
    first = await scene.redeem(scene.unlimited)
    await Member.update({Member.home_prefecture: "27", Member.home_municipality: "大阪市"}).where(
        Member.id == scene.member_id
    )
    second = await scene.redeem(scene.unlimited)
    rows = {r["id"]: r["home_prefecture"] for r in await Redemption.select(Redemption.id, Redemption.home_prefecture)}
    assert rows == {first.redemption_id: "13", second.redemption_id: "27"}


# --- Undo ----------------------------------------------------------------------------------------------


async def test_undo_within_five_minutes_frees_the_use_and_is_audited(scene):
    used = await scene.redeem(scene.once)
    assert await redemption.undo(used.redemption_id, scene.shop, scene.staff, NOW + timedelta(minutes=4, seconds=59))
    row = await Redemption.select().where(Redemption.id == used.redemption_id).first()
    assert row["undone_at"] == NOW + timedelta(minutes=4, seconds=59)  # the row stays, marked undone
    log = await AuditLog.select().where(AuditLog.action == "redemption.undo")
    assert [(e["actor"], e["target_type"], e["target_id"]) for e in log] == [
        (scene.staff, "redemption", str(used.redemption_id))
    ]
    again = await scene.redeem(scene.once, now=NOW + timedelta(minutes=6))
    assert again.redemption_id != used.redemption_id
    assert await redemption.shop_month_count(scene.shop, NOW + timedelta(minutes=6)) == 1


async def test_undo_frees_one_use_of_a_per_day_offer(scene):
    uses = [await scene.redeem(scene.daily) for _ in range(3)]
    assert await scene.refusal(scene.daily) == "already_used_today"
    assert await redemption.undo(uses[0].redemption_id, scene.shop, scene.colleague, NOW + timedelta(minutes=1))
    await scene.redeem(scene.daily, now=NOW + timedelta(minutes=2))
    assert await scene.refusal(scene.daily, now=NOW + timedelta(minutes=3)) == "already_used_today"


async def test_undo_after_five_minutes_is_refused(scene):
    used = await scene.redeem(scene.once)
    assert not await redemption.undo(used.redemption_id, scene.shop, scene.staff, NOW + timedelta(minutes=5, seconds=1))
    assert not await redemption.undo(used.redemption_id, scene.shop, scene.staff, NOW + timedelta(hours=2))
    assert await scene.refusal(scene.once, now=NOW + timedelta(minutes=6)) == "already_used"
    assert await AuditLog.count() == 0


async def test_undo_by_another_shop_is_refused(scene):
    used = await scene.redeem(scene.once)
    assert not await redemption.undo(used.redemption_id, scene.other_shop, scene.other_staff, NOW + timedelta(minutes=1))
    assert (await Redemption.select(Redemption.undone_at).first())["undone_at"] is None
    assert await AuditLog.count() == 0


async def test_undo_twice_or_of_an_unknown_redemption_is_refused(scene):
    used = await scene.redeem(scene.once)
    assert await redemption.undo(used.redemption_id, scene.shop, scene.staff, NOW + timedelta(minutes=1))
    assert not await redemption.undo(used.redemption_id, scene.shop, scene.staff, NOW + timedelta(minutes=2))
    assert not await redemption.undo(used.redemption_id + 1000, scene.shop, scene.staff, NOW + timedelta(minutes=2))
    assert await AuditLog.count() == 1


# --- Nonce retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["once", "daily", "unlimited"])
async def test_a_retry_with_the_same_nonce_returns_the_first_answer_and_counts_once(scene, kind):
    offer = getattr(scene, kind)
    first = await scene.redeem(offer, nonce="retry-me")
    retry = await scene.redeem(offer, nonce="retry-me", now=NOW + timedelta(seconds=20))
    assert retry.replayed is True
    assert (retry.redemption_id, retry.offer_title, retry.display_name, retry.redeemed_at) == (
        first.redemption_id, first.offer_title, first.display_name, first.redeemed_at
    )
    assert await Redemption.count() == 1


async def test_a_retry_arriving_while_the_first_is_in_flight_counts_once(scene):
    results = await asyncio.gather(*[scene.redeem(scene.unlimited, nonce="same-scan") for _ in range(10)])
    assert len({r.redemption_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert await Redemption.count() == 1


async def test_the_same_nonce_from_another_account_is_a_separate_scan(scene):
    mine = await scene.redeem(scene.unlimited, nonce="n-1", account=scene.staff)
    theirs = await scene.redeem(scene.unlimited, nonce="n-1", account=scene.colleague)
    assert not mine.replayed and not theirs.replayed
    assert mine.redemption_id != theirs.redemption_id
    await scene.redeem(scene.once, nonce="n-2", account=scene.staff)
    assert await scene.refusal(scene.once, nonce="n-2", account=scene.colleague) == "already_used"
    assert await Redemption.count() == 3


@pytest.mark.parametrize("nonce", ["", "x" * 65])
async def test_a_missing_or_overlong_nonce_is_refused_as_damaged(scene, nonce):
    assert await scene.refusal(scene.once, nonce=nonce) == "damaged"


async def test_the_longest_nonce_is_accepted_for_every_kind_of_offer(scene):
    for offer in (scene.once, scene.daily, scene.unlimited):
        nonce = secrets.token_hex(32)
        assert len(nonce) == redemption.MAX_NONCE
        assert (await scene.redeem(offer, nonce=nonce)).replayed is False
    assert await Redemption.count() == 3


# --- Garbage never raises anything but Refused ---------------------------------------------------------

GARBAGE_CODES = [
    "", "   ", "\x00", "abcd\x00efg", "A" * 16 + "\x00", "🙂" * 10, "A" * 300, "ÄÖÜ" * 20, "' or 1=1 --", "%_%",
    "\ud800", "\ud800" * 40, "0" * 17, "-" * 16, "ＡＢＣＤ－ＥＦＧＨ", "\n\t", "MFRGG===", "a" * 12,
]


@pytest.mark.parametrize("code", GARBAGE_CODES)
async def test_garbage_codes_are_refused_never_an_error(scene, code):
    for call in (
        lambda: scene.redeem(scene.once, code=code),
        lambda: redemption.preview(scene.signer, code, scene.shop, NOW),
        lambda: redemption.read_code(scene.signer, code, NOW),
    ):
        with pytest.raises(Refused) as refused:
            await call()
        assert refused.value.reason in ("damaged", "forged", "unknown")


@pytest.mark.parametrize("nonce", ["\x00", "a\x00b", "\ud800", "🙂" * 65, "\n" * 3])
async def test_garbage_nonces_are_refused_never_an_error(scene, nonce):
    assert await scene.refusal(scene.once, nonce=nonce) == "damaged"
    assert await Redemption.count() == 0


@pytest.mark.parametrize("offer", [-1, 0, 2**31, 2**63, 10**30])
async def test_garbage_offer_ids_are_refused_never_an_error(scene, offer):
    assert await scene.refusal(offer) == "not_in_pass"


# --- Exactly once, at the same moment ------------------------------------------------------------------


async def gather_scans(scene: Scene, offer: int, count: int) -> tuple[list[Redeemed], list[str]]:
    results = await asyncio.gather(
        *[scene.redeem(offer, nonce=f"device-{n}") for n in range(count)], return_exceptions=True
    )
    unexpected = [r for r in results if not isinstance(r, (Redeemed, Refused))]
    assert not unexpected, unexpected[:3]
    return [r for r in results if isinstance(r, Redeemed)], [r.reason for r in results if isinstance(r, Refused)]


async def test_fifty_scans_of_a_single_use_offer_at_once_give_one_ok_and_49_already_used(scene):
    ok, refused = await gather_scans(scene, scene.once, 50)
    assert len(ok) == 1 and not ok[0].replayed
    assert refused == ["already_used"] * 49
    assert await Redemption.count() == 1


async def test_fifty_scans_of_a_three_a_day_offer_at_once_give_exactly_three_oks(scene):
    ok, refused = await gather_scans(scene, scene.daily, 50)
    assert len(ok) == 3 and len({r.redemption_id for r in ok}) == 3
    assert refused == ["already_used_today"] * 47
    slots = await Redemption.select(Redemption.slot, Redemption.limit_key).order_by(Redemption.slot)
    assert slots == [{"slot": n, "limit_key": "2026-08-10"} for n in (1, 2, 3)]


# --- What the shop sees --------------------------------------------------------------------------------


async def test_the_preview_lists_only_this_shops_offers_in_the_pass_with_what_is_left(scene):
    await scene.redeem(scene.once)
    await scene.redeem(scene.daily)
    preview = await redemption.preview(scene.signer, scene.token, scene.shop, NOW)
    assert preview.problem == ""
    assert preview.scanned.display_name == "旅する花子" and preview.scanned.home_prefecture == "13"
    states = {s.offer["id"]: (s.usable, s.reason, s.used, s.remaining) for s in preview.offers}
    assert states == {
        scene.once: (False, "already_used", 1, 0),
        scene.daily: (True, "", 1, 2),
        scene.unlimited: (True, "", 0, None),
        scene.inactive: (False, "offer_unavailable", 0, 1),
        scene.ended: (False, "offer_unavailable", 0, 1),
    }
    other = await redemption.preview(scene.signer, scene.token, scene.other_shop, NOW)
    assert [s.offer["id"] for s in other.offers] == [scene.other_shop_offer]


async def test_todays_list_and_the_monthly_count_follow_tokyo_days(scene):
    late_31_july = TOKYO_MIDNIGHT_1_AUG - timedelta(minutes=30)
    early_1_august = TOKYO_MIDNIGHT_1_AUG + timedelta(minutes=30)
    await scene.redeem(scene.unlimited, now=late_31_july)
    assert await redemption.shop_month_count(scene.shop, late_31_july) == 1
    kept = await scene.redeem(scene.unlimited, now=early_1_august)
    undone = await scene.redeem(scene.unlimited, now=early_1_august + timedelta(hours=1))
    assert await redemption.undo(undone.redemption_id, scene.shop, scene.staff, early_1_august + timedelta(hours=1))
    noon = datetime(2026, 8, 1, 3, 0, tzinfo=UTC)
    today = await redemption.shop_day(scene.shop, noon)
    assert [r["id"] for r in today] == [undone.redemption_id, kept.redemption_id]
    assert today[0]["undone_at"] is not None and today[1]["display_name"] == "旅する花子"
    assert await redemption.shop_month_count(scene.shop, noon) == 1  # August: the undone use is not counted
    assert await redemption.shop_day(scene.other_shop, noon) == []


# --- The preview and the redemption give the same reasons ----------------------------------------------


async def assert_the_preview_and_the_redemption_agree(scene: Scene, *, code: str | None = None, shop: int | None = None,
                                                      account: int | None = None, now: datetime = NOW) -> list[str]:
    """The preview's reasons come from redemption.pass_problem/offer_problem, a redemption's from one SQL
    statement (redemption_sql.py): for every offer the preview lists, redeeming it gives the preview's answer."""
    code = scene.token if code is None else code
    shop = scene.shop if shop is None else shop
    preview = await redemption.preview(scene.signer, code, shop, now)
    answers = []
    for state in preview.offers:
        try:
            await scene.redeem(state.offer["id"], code=code, shop=shop, account=account, now=now)
            answer = ""
        except Refused as refused:
            answer = refused.reason
        assert (state.offer["title"], answer) == (state.offer["title"], "" if state.usable else state.reason)
        answers.append(answer)
    return answers


async def test_the_preview_and_the_redemption_agree_on_every_offer_and_every_pass_problem(scene):
    offer = await premium_offer(scene)
    assert set(await assert_the_preview_and_the_redemption_agree(scene)) == {"", "offer_unavailable", "premium_only"}
    assert set(await assert_the_preview_and_the_redemption_agree(scene)) == {
        "", "already_used", "offer_unavailable", "premium_only"}
    assert "already_used_today" not in await assert_the_preview_and_the_redemption_agree(scene, code=scene.short_code)
    await factories.premium(scene.member_id, date(2026, 8, 10))
    answers = await assert_the_preview_and_the_redemption_agree(scene)
    assert "already_used_today" in answers and "premium_only" not in answers
    assert await Redemption.count().where(Redemption.offer == offer) == 1
    assert await assert_the_preview_and_the_redemption_agree(scene, shop=scene.other_shop, account=scene.other_staff) == [""]
    for status in ("suspended", "revoked"):
        await WalletPass.update({WalletPass.status: status}).where(WalletPass.id == scene.wallet_pass)
        assert set(await assert_the_preview_and_the_redemption_agree(scene)) == {status}
    await WalletPass.update({WalletPass.status: "active"}).where(WalletPass.id == scene.wallet_pass)
    expires_at = ACTIVATED + timedelta(days=30)
    assert set(await assert_the_preview_and_the_redemption_agree(scene, code=scene.short_code, now=expires_at)) == {"expired"}
    token = await stay_wallet(scene, date(2026, 8, 1), date(2026, 8, 3))
    assert await assert_the_preview_and_the_redemption_agree(
        scene, code=token, now=TOKYO_MIDNIGHT_1_AUG - timedelta(minutes=1)) == ["before_stay"]
    assert await assert_the_preview_and_the_redemption_agree(scene, code=token, now=TOKYO_MIDNIGHT_1_AUG) == [""]
    assert await assert_the_preview_and_the_redemption_agree(
        scene, code=token, now=datetime(2026, 8, 3, 15, 0, tzinfo=UTC)) == ["after_stay"]
