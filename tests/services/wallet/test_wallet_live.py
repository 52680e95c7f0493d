"""The open wallet follows the counter: the mark it polls changes with a use, an undo and the Tokyo date, and
nothing else; an unlimited offer counts today's uses."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from app.keyfile import new_signing_key
from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import redemption, wallet
from app.services.wallet.wallet import Region
from tests import factories

UTC = timezone.utc
NOW = datetime(2026, 8, 10, 3, 0, tzinfo=UTC)  # 12:00 on 10 August in Tokyo
TOMAKOMAI = Region("01", "苫小牧市")


async def a_member_with_a_pass(name: str = "旅する花子", shop_name: str = "海鮮食堂 ほっき屋"):
    """A member from Tokyo with a pass of an unlimited and a once-only offer, and a way to use them at the shop."""
    shop, (unlimited, once) = await factories.shop_with_offers(
        shop_name,
        {"title": "お会計5%引き", "limit_kind": "unlimited"},
        {"title": "ほっきカレー 大盛り無料", "limit_kind": "once"},
    )
    pass_id = await factories.entry_pass(unlimited, once, name=f"{shop_name}のパス")
    member = await factories.member(name, home_prefecture="13")
    wallet_pass_id = await wallet.activate(member.member_id, pass_id, TOMAKOMAI, NOW - timedelta(days=1))
    staff = await factories.staff_account("店員 田中", role="shop", shop=shop)
    signer = TokenSigner(new_signing_key())
    token = signer.sign("wallet", wallet_pass_id, NOW + timedelta(days=20))

    async def use(offer: int, now: datetime = NOW) -> int:
        result = await redemption.redeem(signer, token, offer, shop, staff, secrets.token_urlsafe(8), now)
        return result.redemption_id

    async def undo(redemption_id: int) -> None:
        assert await redemption.undo(redemption_id, shop, staff, NOW)

    return member, {"unlimited": unlimited, "once": once}, use, undo


async def test_the_mark_changes_with_each_use_and_each_undo_and_stays_put_otherwise():
    member, offers, use, undo = await a_member_with_a_pass()
    marks = [await wallet.uses_version(member.account_id, NOW)]
    assert await wallet.uses_version(member.account_id, NOW) == marks[0]
    first = await use(offers["unlimited"])
    marks.append(await wallet.uses_version(member.account_id, NOW))
    await use(offers["once"])
    marks.append(await wallet.uses_version(member.account_id, NOW))
    await undo(first)
    marks.append(await wallet.uses_version(member.account_id, NOW))
    assert len(set(marks)) == 4
    assert await wallet.uses_version(member.account_id, NOW) == marks[-1]


async def test_the_mark_changes_at_midnight_in_tokyo_when_per_day_offers_start_again():
    member, _offers, _use, _undo = await a_member_with_a_pass()
    before = datetime(2026, 8, 10, 14, 59, tzinfo=UTC)  # 10 August 23:59 in Tokyo
    after = datetime(2026, 8, 10, 15, 0, tzinfo=UTC)  # 11 August 00:00 in Tokyo, still 10 August in UTC
    assert await wallet.uses_version(member.account_id, before) != await wallet.uses_version(member.account_id, after)


async def test_another_members_use_leaves_the_mark_alone():
    member, _offers, _use, _undo = await a_member_with_a_pass()
    other, offers, use_other, _undo_other = await a_member_with_a_pass("別の人", "ウトナイ湖サイクル")
    mark = await wallet.uses_version(member.account_id, NOW)
    await use_other(offers["unlimited"])
    assert await wallet.uses_version(member.account_id, NOW) == mark
    assert await wallet.uses_version(other.account_id, NOW) != mark


async def test_an_account_without_a_wallet_has_a_mark_too():
    staff = await factories.staff_account("店員 田中", role="shop")
    assert await wallet.uses_version(staff, NOW) == await wallet.uses_version(staff, NOW)
    assert await wallet.uses_version(999_999, NOW) == "20260810.0.0.0"


async def test_an_unlimited_offer_counts_todays_uses_in_tokyo_days_and_leaves_out_undone_ones():
    member, offers, use, undo = await a_member_with_a_pass()
    await use(offers["unlimited"], datetime(2026, 8, 9, 14, 30, tzinfo=UTC))  # 9 August 23:30 in Tokyo
    await use(offers["unlimited"], datetime(2026, 8, 9, 15, 30, tzinfo=UTC))  # 10 August 00:30 in Tokyo
    await use(offers["unlimited"])
    await undo(await use(offers["unlimited"]))
    (item,) = await wallet.wallet(member.member_id, NOW)
    unlimited = next(o for o in item["offers"] if o["id"] == offers["unlimited"])
    assert (unlimited["used"], unlimited["used_today"], unlimited["remaining"]) == (3, 2, None)
