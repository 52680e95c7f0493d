"""The scene of the redemption tests (one shop with an offer of each kind, a member with the pass), shared by
the tests of redemption and of uses a counter sends after deciding offline; `scene` is its fixture (conftest.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest

from app.keyfile import new_signing_key
from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import redemption
from app.services.wallet.redemption import Redeemed, Refused
from tests import factories

UTC = timezone.utc
NOW = datetime(2026, 8, 10, 3, 0, tzinfo=UTC)  # 12:00 on 10 August in Tokyo
ACTIVATED = NOW - timedelta(days=20)  # 21 July: the wallet pass is valid until 20 August
TOKYO_MIDNIGHT_1_AUG = datetime(2026, 7, 31, 15, 0, tzinfo=UTC)


@dataclass
class Scene:
    """One shop with one offer of each kind, a second shop, a pass, a member from Tokyo with it in the
    wallet, two staff accounts of the shop and one of the other shop."""

    signer: TokenSigner
    shop: int
    once: int
    daily: int  # three a day
    unlimited: int
    inactive: int
    ended: int  # valid until 9 August
    not_in_pass: int
    other_shop: int
    other_shop_offer: int
    pass_id: int
    member_account: int
    member_id: int
    wallet_pass: int
    short_code: str
    token: str
    staff: int
    colleague: int
    other_staff: int

    async def redeem(self, offer: int, *, code: str | None = None, nonce: str | None = None,
                     account: int | None = None, shop: int | None = None, now: datetime = NOW) -> Redeemed:
        return await redemption.redeem(
            self.signer, self.token if code is None else code, offer, self.shop if shop is None else shop,
            self.staff if account is None else account, secrets.token_urlsafe(12) if nonce is None else nonce, now,
        )

    async def refusal(self, offer: int, **kwargs) -> str:
        with pytest.raises(Refused) as refused:
            await self.redeem(offer, **kwargs)
        return refused.value.reason

    def token_for(self, wallet_pass_id: int, expires_at: datetime) -> str:
        return self.signer.sign("wallet", wallet_pass_id, expires_at)


async def new_scene() -> Scene:
    shop, (once, daily, unlimited, inactive, ended, not_in_pass) = await factories.shop_with_offers(
        "海鮮食堂 ほっき屋",
        {"title": "ほっきカレー 大盛り無料", "limit_kind": "once"},
        {"title": "ソフトドリンク1杯", "limit_kind": "per_day", "limit_count": 3},
        {"title": "お会計5%引き", "limit_kind": "unlimited"},
        {"title": "冬季限定 ほっき丼", "active": False},
        {"title": "夏祭り割引", "valid_from": date(2026, 7, 1), "valid_to": date(2026, 8, 9)},
        {"title": "パス対象外の特典"},
    )
    other_shop, (other_shop_offer,) = await factories.shop_with_offers(
        "とまこまいレンタカー 駅前店", {"title": "レンタカー10%引き"}
    )
    pass_id = await factories.entry_pass(once, daily, unlimited, inactive, ended, other_shop_offer)
    member = await factories.member("旅する花子", home_prefecture="13", home_municipality="世田谷区")
    wallet_pass, short_code = await factories.wallet_pass(member.member_id, pass_id, ACTIVATED)
    signer = TokenSigner(new_signing_key())
    return Scene(
        signer=signer, shop=shop, once=once, daily=daily, unlimited=unlimited, inactive=inactive, ended=ended,
        not_in_pass=not_in_pass, other_shop=other_shop, other_shop_offer=other_shop_offer, pass_id=pass_id,
        member_account=member.account_id, member_id=member.member_id, wallet_pass=wallet_pass, short_code=short_code,
        token=signer.sign("wallet", wallet_pass, ACTIVATED + timedelta(days=30)),
        staff=await factories.staff_account("店員 田中", role="shop", shop=shop),
        colleague=await factories.staff_account("店員 鈴木", role="shop", shop=shop),
        other_staff=await factories.staff_account("店員 高橋", role="shop", shop=other_shop),
    )


async def stay_wallet(scene: Scene, stay_from: date, stay_to: date) -> str:
    """A second pass that needs a declared stay, in the same member's wallet; returns its token."""
    pass_id = await factories.entry_pass(scene.unlimited, name="滞在パス", requires_stay=True)
    wallet_pass, _ = await factories.wallet_pass(scene.member_id, pass_id, ACTIVATED, stay_from=stay_from, stay_to=stay_to)
    return scene.token_for(wallet_pass, ACTIVATED + timedelta(days=30))
