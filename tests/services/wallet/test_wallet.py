"""The member's side of the entry pass: who may activate it, the declared stay, one copy per member, and
what the wallet shows (used and remaining per offer, days left in Tokyo days)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date, datetime, timedelta, timezone

import pytest

from app.keyfile import new_signing_key
from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import redemption, wallet
from app.services.wallet.wallet import SHORT_CODE_ALPHABET, ActivationRefused, Region
from db.tables import Offer, Pass, Shop, WalletPass
from tests import factories

UTC = timezone.utc
NOW = datetime(2026, 8, 10, 3, 0, tzinfo=UTC)  # 12:00 on 10 August in Tokyo
TOMAKOMAI = Region("01", "苫小牧市")


async def a_pass(**fields) -> int:
    _shop, (offer,) = await factories.shop_with_offers("ウトナイ湖サイクル", {"title": "レンタサイクル1日無料"})
    return await factories.entry_pass(offer, **fields)


async def activation_refusal(member_id: int, pass_id: int, region: Region = TOMAKOMAI, now: datetime = NOW,
                             **stay) -> ActivationRefused:
    with pytest.raises(ActivationRefused) as refused:
        await wallet.activate(member_id, pass_id, region, now, **stay)
    return refused.value


# --- Who may activate ----------------------------------------------------------------------------------


async def test_a_member_from_another_prefecture_activates_the_pass():
    pass_id = await a_pass(validity_days=30)
    member = await factories.member("旅する花子", home_prefecture="13", home_municipality="世田谷区")
    wallet_pass_id = await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW)
    row = await WalletPass.select().where(WalletPass.id == wallet_pass_id).first()
    assert (row["member"], row["entry_pass"], row["status"]) == (member.member_id, pass_id, "active")
    assert row["activated_at"] == NOW and row["expires_at"] == NOW + timedelta(days=30)
    assert len(row["short_code"]) == wallet.SHORT_CODE_LENGTH and set(row["short_code"]) <= set(SHORT_CODE_ALPHABET)
    assert row["stay_from"] is None and row["stay_to"] is None


@pytest.mark.parametrize("municipality", ["苫小牧市", "苫小牧", " 苫小牧市 ", "苫小牧　市", "苫小牧 "])
async def test_a_resident_of_the_city_is_not_eligible_however_the_city_is_written(municipality):
    pass_id = await a_pass()
    member = await factories.member("地元の人", home_prefecture="01", home_municipality=municipality)
    assert (await activation_refusal(member.member_id, pass_id)).reason == "not_eligible"
    assert await WalletPass.count() == 0


@pytest.mark.parametrize("municipality", ["苫小牧市", "苫小牧"])
async def test_the_city_without_its_suffix_is_the_same_city_whichever_side_omits_it(municipality):
    pass_id = await a_pass()
    member = await factories.member("地元の人", home_prefecture="01", home_municipality=municipality)
    for region in (Region("01", "苫小牧"), Region("01", "苫小牧市")):
        assert (await activation_refusal(member.member_id, pass_id, region)).reason == "not_eligible"


async def test_another_municipality_in_the_same_prefecture_may_activate():
    pass_id = await a_pass()
    member = await factories.member("札幌の人", home_prefecture="01", home_municipality="札幌市")
    assert await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW)


async def test_a_municipality_of_the_same_name_in_another_prefecture_may_activate():
    pass_id = await a_pass()
    member = await factories.member("府中の人", home_prefecture="34", home_municipality="府中市")
    assert await wallet.activate(member.member_id, pass_id, Region("13", "府中市"), NOW)


async def test_an_empty_municipality_in_the_same_prefecture_is_not_eligible():
    pass_id = await a_pass()
    member = await factories.member("道内の人", home_prefecture="01", home_municipality="")
    assert (await activation_refusal(member.member_id, pass_id)).reason == "not_eligible"


async def test_a_region_that_is_the_whole_prefecture_refuses_everyone_living_in_it():
    pass_id = await a_pass()
    member = await factories.member("札幌の人", home_prefecture="01", home_municipality="札幌市")
    assert (await activation_refusal(member.member_id, pass_id, Region("01", ""))).reason == "not_eligible"


async def test_a_pass_open_to_everyone_lets_a_resident_activate():
    pass_id = await a_pass(outside_residents_only=False)
    member = await factories.member("地元の人", home_prefecture="01", home_municipality="苫小牧市")
    assert await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW)


@pytest.mark.parametrize(
    ("prefecture", "municipality", "outside"),
    [("13", "千代田区", True), ("01", "札幌市", True), ("01", "苫小牧市", False), ("01", "苫小牧", False),
     ("01", "ｔｏｍａｋｏｍａｉ", True), ("01", "", False), ("01", "  ", False)],
)
def test_lives_outside(prefecture, municipality, outside):
    member = {"home_prefecture": prefecture, "home_municipality": municipality}
    assert wallet.lives_outside("01", "苫小牧市", member) is outside


async def test_an_inactive_or_missing_pass_is_an_unknown_pass():
    pass_id = await a_pass(active=False)
    member = await factories.member(home_prefecture="13")
    assert (await activation_refusal(member.member_id, pass_id)).reason == "unknown_pass"
    assert (await activation_refusal(member.member_id, pass_id + 1000)).reason == "unknown_pass"
    await Pass.update({Pass.active: True}).where(Pass.id == pass_id)
    assert await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW)


# --- The declared stay ---------------------------------------------------------------------------------


async def stay_refusal(**stay) -> ActivationRefused:
    pass_id = await a_pass(requires_stay=True)
    member = await factories.member(home_prefecture="13")
    return await activation_refusal(member.member_id, pass_id, **stay)


async def test_a_stay_pass_needs_both_dates():
    missing_from = await stay_refusal(stay_to=date(2026, 8, 12))
    assert (missing_from.reason, missing_from.field) == ("stay_missing", "stay_from")
    missing_to = await stay_refusal(stay_from=date(2026, 8, 12))
    assert (missing_to.reason, missing_to.field) == ("stay_missing", "stay_to")


async def test_the_last_day_of_the_stay_cannot_come_before_the_first():
    refused = await stay_refusal(stay_from=date(2026, 8, 12), stay_to=date(2026, 8, 11))
    assert (refused.reason, refused.field) == ("stay_order", "stay_to")


async def test_a_stay_that_ended_before_today_in_tokyo_is_refused():
    pass_id = await a_pass(requires_stay=True)
    member = await factories.member(home_prefecture="13")
    half_past_midnight = datetime(2026, 7, 31, 15, 30, tzinfo=UTC)  # 1 August in Tokyo, 31 July in UTC
    refused = await activation_refusal(member.member_id, pass_id, now=half_past_midnight,
                                       stay_from=date(2026, 7, 25), stay_to=date(2026, 7, 31))
    assert (refused.reason, refused.field) == ("stay_past", "stay_to")
    # A stay that started earlier and ends today is fine: the member is still here.
    assert await wallet.activate(member.member_id, pass_id, TOMAKOMAI, half_past_midnight,
                                 stay_from=date(2026, 7, 25), stay_to=date(2026, 8, 1))


async def test_a_stay_of_more_than_a_year_is_refused():
    refused = await stay_refusal(stay_from=date(2026, 8, 10), stay_to=date(2027, 8, 11))
    assert (refused.reason, refused.field) == ("stay_too_long", "stay_to")
    pass_id = await factories.entry_pass(name="滞在パス 2", requires_stay=True)
    member = await factories.member("もう一人", home_prefecture="13")
    assert await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW,
                                 stay_from=date(2026, 8, 10), stay_to=date(2027, 8, 10))  # one year to the day


async def test_the_declared_stay_is_stored_and_a_pass_without_a_stay_ignores_dates():
    stay_pass = await a_pass(requires_stay=True)
    plain_pass = await factories.entry_pass(name="通常パス")
    member = await factories.member(home_prefecture="13")
    stay_id = await wallet.activate(member.member_id, stay_pass, TOMAKOMAI, NOW,
                                    stay_from=date(2026, 8, 12), stay_to=date(2026, 8, 15))
    plain_id = await wallet.activate(member.member_id, plain_pass, TOMAKOMAI, NOW,
                                     stay_from=date(2026, 8, 12), stay_to=date(2026, 8, 15))
    rows = {r["id"]: (r["stay_from"], r["stay_to"]) for r in await WalletPass.select()}
    assert rows == {stay_id: (date(2026, 8, 12), date(2026, 8, 15)), plain_id: (None, None)}


# --- Premium members only ------------------------------------------------------------------------------

MIDNIGHT_11_AUG = datetime(2026, 8, 10, 15, 0, tzinfo=UTC)  # 11 August begins in Tokyo; still the 10th in UTC


async def test_a_basic_member_cannot_activate_a_premium_only_pass():
    pass_id = await a_pass(premium_only=True)
    member = await factories.member(home_prefecture="13")
    refused = await activation_refusal(member.member_id, pass_id)
    assert (refused.reason, refused.field) == ("premium_only", "")
    assert await WalletPass.count() == 0


async def test_a_premium_member_activates_a_premium_only_pass_on_the_last_day_of_premium():
    pass_id = await a_pass(premium_only=True)
    member = await factories.member(home_prefecture="13")
    await factories.premium(member.member_id, date(2026, 8, 10))
    wallet_pass_id = await wallet.activate(member.member_id, pass_id, TOMAKOMAI, MIDNIGHT_11_AUG - timedelta(seconds=1))
    assert await WalletPass.exists().where(WalletPass.id == wallet_pass_id)


async def test_premium_that_ended_yesterday_in_japan_does_not_activate_a_premium_only_pass():
    pass_id = await a_pass(premium_only=True)
    member = await factories.member(home_prefecture="13")
    await factories.premium(member.member_id, date(2026, 8, 10))
    assert (await activation_refusal(member.member_id, pass_id, now=MIDNIGHT_11_AUG)).reason == "premium_only"
    assert await WalletPass.count() == 0


async def test_a_pass_not_limited_to_premium_is_activated_by_a_basic_member():
    pass_id = await a_pass(premium_only=False)
    member = await factories.member(home_prefecture="13")
    assert await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW)


async def test_a_resident_is_told_the_pass_is_for_visitors_before_anything_about_premium():
    pass_id = await a_pass(premium_only=True)
    member = await factories.member("地元の人", home_prefecture="01", home_municipality="苫小牧市")
    assert (await activation_refusal(member.member_id, pass_id)).reason == "not_eligible"


# --- One copy per member -------------------------------------------------------------------------------


async def test_activating_a_pass_already_in_the_wallet_is_refused():
    pass_id = await a_pass()
    member = await factories.member(home_prefecture="13")
    await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW)
    assert (await activation_refusal(member.member_id, pass_id, now=NOW + timedelta(days=1))).reason == "already_active"
    await WalletPass.update({WalletPass.status: "revoked"}).where(WalletPass.member == member.member_id)
    assert (await activation_refusal(member.member_id, pass_id)).reason == "already_active"
    assert await WalletPass.count() == 1


async def test_two_activations_at_once_make_one_wallet_pass():
    pass_id = await a_pass()
    member = await factories.member(home_prefecture="13")
    results = await asyncio.gather(
        *[wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW) for _ in range(2)], return_exceptions=True
    )
    ids = [r for r in results if isinstance(r, int)]
    refusals = [r.reason for r in results if isinstance(r, ActivationRefused)]
    assert len(ids) == 1 and refusals == ["already_active"], results
    assert await WalletPass.count() == 1


async def test_other_members_activate_the_same_pass_with_different_short_codes():
    pass_id = await a_pass()
    ids = []
    for n in range(5):
        member = await factories.member(f"旅人{n}", home_prefecture="13")
        ids.append(await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW))
    codes = [r["short_code"] for r in await WalletPass.select(WalletPass.short_code)]
    assert len(set(ids)) == 5 and len(set(codes)) == 5


# --- The wallet ----------------------------------------------------------------------------------------


async def wallet_with_uses() -> tuple[int, dict]:
    """A member with a pass of one offer of each kind, and uses made at the shop over two Tokyo days."""
    shop, (once, daily, unlimited) = await factories.shop_with_offers(
        "海鮮食堂 ほっき屋",
        {"title": "ほっきカレー 大盛り無料", "limit_kind": "once"},
        {"title": "ソフトドリンク1杯", "limit_kind": "per_day", "limit_count": 3},
        {"title": "お会計5%引き", "limit_kind": "unlimited"},
    )
    pass_id = await factories.entry_pass(once, daily, unlimited)
    member = await factories.member("旅する花子", home_prefecture="13")
    wallet_pass_id = await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW - timedelta(days=3))
    staff = await factories.staff_account("店員 田中", role="shop", shop=shop)
    signer = TokenSigner(new_signing_key())
    token = signer.sign("wallet", wallet_pass_id, NOW + timedelta(days=20))

    async def use(offer: int, now: datetime) -> int:
        result = await redemption.redeem(signer, token, offer, shop, staff, secrets.token_urlsafe(8), now)
        return result.redemption_id

    yesterday_late = datetime(2026, 8, 9, 14, 30, tzinfo=UTC)  # 9 August 23:30 in Tokyo
    today_early = datetime(2026, 8, 9, 15, 30, tzinfo=UTC)  # 10 August 00:30 in Tokyo, 9 August in UTC
    await use(once, yesterday_late)
    await use(daily, yesterday_late)
    await use(daily, yesterday_late)
    await use(daily, today_early)
    undone = await use(daily, NOW - timedelta(minutes=1))
    assert await redemption.undo(undone, shop, staff, NOW)
    for minutes in range(4):
        await use(unlimited, NOW - timedelta(hours=minutes + 1))
    return member.member_id, {"once": once, "daily": daily, "unlimited": unlimited}


async def test_the_wallet_shows_used_and_remaining_for_each_kind_of_offer():
    member_id, offers = await wallet_with_uses()
    (item,) = await wallet.wallet(member_id, NOW)
    usage = {o["id"]: (o["used"], o["remaining"]) for o in item["offers"]}
    assert usage == {
        offers["once"]: (1, 0),  # used once, ever
        offers["daily"]: (1, 2),  # today in Tokyo only: not yesterday's two, not the one taken back
        offers["unlimited"]: (4, None),  # just counted
    }


async def test_the_daily_count_starts_again_at_midnight_in_tokyo():
    member_id, offers = await wallet_with_uses()
    next_day = datetime(2026, 8, 10, 15, 0, tzinfo=UTC)  # 11 August 00:00 in Tokyo
    (item,) = await wallet.wallet(member_id, next_day)
    daily = next(o for o in item["offers"] if o["id"] == offers["daily"])
    assert (daily["used"], daily["remaining"]) == (0, 3)


async def test_days_left_are_counted_in_tokyo_days():
    pass_id = await a_pass(validity_days=30)
    member = await factories.member(home_prefecture="13")
    activated = datetime(2026, 8, 1, 16, 0, tzinfo=UTC)  # 2 August 01:00 in Tokyo
    await wallet.activate(member.member_id, pass_id, TOMAKOMAI, activated)  # until 1 September 01:00 in Tokyo

    async def shown(now: datetime) -> tuple[int, bool]:
        (item,) = await wallet.wallet(member.member_id, now)
        return item["days_left"], item["live"]

    assert await shown(activated) == (30, True)
    # 31 August 19:00 in Tokyo (10:00 UTC): one Tokyo day left, though it is the last day in UTC.
    assert await shown(datetime(2026, 8, 31, 10, 0, tzinfo=UTC)) == (1, True)
    # 1 September 00:30 in Tokyo: the last half hour, still live.
    assert await shown(datetime(2026, 8, 31, 15, 30, tzinfo=UTC)) == (0, True)
    assert await shown(datetime(2026, 8, 31, 16, 0, tzinfo=UTC)) == (0, False)
    assert await shown(datetime(2026, 10, 1, tzinfo=UTC)) == (0, False)


async def test_a_suspended_pass_is_shown_but_not_live():
    pass_id = await a_pass()
    member = await factories.member(home_prefecture="13")
    await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW)
    await WalletPass.update({WalletPass.status: "suspended"}).where(WalletPass.member == member.member_id)
    (item,) = await wallet.wallet(member.member_id, NOW)
    assert item["status"] == "suspended" and item["live"] is False


async def test_the_wallet_leaves_out_inactive_offers_and_closed_shops_and_other_members_passes():
    shop, (shown, hidden) = await factories.shop_with_offers(
        "海鮮食堂 ほっき屋", {"title": "表示される特典"}, {"title": "休止中の特典", "active": False}
    )
    closed_shop, (closed,) = await factories.shop_with_offers("閉店したお店", {"title": "閉店した店の特典"})
    await Shop.update({Shop.active: False}).where(Shop.id == closed_shop)
    pass_id = await factories.entry_pass(shown, hidden, closed)
    member = await factories.member(home_prefecture="13")
    other = await factories.member("別の人", home_prefecture="13")
    await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW)
    assert await wallet.wallet(other.member_id, NOW) == []
    (item,) = await wallet.wallet(member.member_id, NOW)
    assert [o["title"] for o in item["offers"]] == ["表示される特典"]
    assert item["pass_name"] == "苫小牧エントリーパス"
    assert await Offer.count() == 3


# --- The short code ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ABCD2345", "ABCD2345"),
        ("abcd-2345", "ABCD2345"),
        (" ab cd 23 45 ", "ABCD2345"),
        ("ＡＢＣＤ－２３４５", "ABCD2345"),  # full width, as a Japanese keyboard types it
        ("oOiIlL", "001111"),  # look-alikes read as the digits they resemble
        ("", ""),
    ],
)
def test_normalise_short_code(typed, expected):
    assert wallet.normalise_short_code(typed) == expected


def test_short_codes_use_only_unambiguous_characters():
    codes = {wallet.new_short_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(code) == 8 and set(code) <= set(SHORT_CODE_ALPHABET) for code in codes)
    assert not set("ILOU") & set(SHORT_CODE_ALPHABET)
    assert all(wallet.normalise_short_code(code.lower()) == code for code in codes)
