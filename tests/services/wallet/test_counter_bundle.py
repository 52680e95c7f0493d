"""The counter bundle: what a shop's device keeps to decide a scan by itself."""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric import ed25519

from app.keyfile import new_signing_key
from app.services.shared.signed_tokens import SIGNATURE_BYTES, TokenSigner
from app.services.wallet.counter_bundle import counter_bundle
from tests import factories

UTC = timezone.utc
NOW = datetime(2026, 8, 9, 15, 30, tzinfo=UTC)  # 00:30 on 10 August in Tokyo
ACTIVATED = NOW - timedelta(days=10)


async def a_shop_and_wallets() -> dict:
    shop, (once, daily, off) = await factories.shop_with_offers(
        "海鮮食堂 ほっき屋",
        {"title": "ほっきカレー 大盛り無料", "limit_kind": "once"},
        {"title": "ソフトドリンク1杯", "limit_kind": "per_day", "limit_count": 3, "valid_to": date(2026, 8, 31)},
        {"title": "冬季限定 ほっき丼", "active": False},
    )
    _other, (elsewhere,) = await factories.shop_with_offers("とまこまいレンタカー", {"title": "10%引き"})
    plain = await factories.entry_pass(once, daily, elsewhere)
    stay = await factories.entry_pass(once, name="滞在パス", requires_stay=True)
    wallets = {}
    for name, pass_id, fields in [
        ("active", plain, {}), ("suspended", plain, {"status": "suspended"}), ("revoked", plain, {"status": "revoked"}),
        ("revoked_expired", plain, {"status": "revoked", "days": 5}),
        ("staying", stay, {"stay_from": date(2026, 8, 8), "stay_to": date(2026, 8, 12)}),
        ("stay_over", stay, {"stay_from": date(2026, 8, 1), "stay_to": date(2026, 8, 9)}),
    ]:
        member = await factories.member(f"旅人 {name}", home_prefecture="13")
        wallets[name], _code = await factories.wallet_pass(member.member_id, pass_id, ACTIVATED, **fields)
    return {"shop": shop, "once": once, "daily": daily, "off": off, "elsewhere": elsewhere, "wallets": wallets}


async def test_the_bundle_lists_the_shops_offers_with_their_limits_and_dates():
    scene = await a_shop_and_wallets()
    bundle = await counter_bundle(TokenSigner(new_signing_key()), scene["shop"], NOW)
    offers = {offer["id"]: offer for offer in bundle["offers"]}
    assert set(offers) == {scene["once"], scene["daily"], scene["off"]}  # this shop's only
    assert offers[scene["once"]]["limit_kind"] == "once"
    assert offers[scene["daily"]] == {
        "id": scene["daily"], "title": "ソフトドリンク1杯", "limit_kind": "per_day", "limit_count": 3,
        "valid_from": None, "valid_to": "2026-08-31", "active": True, "premium_only": False,
    }
    assert offers[scene["off"]]["active"] is False
    assert bundle["generated_at"] == NOW.isoformat()
    assert bundle["shop"]["name"] == "海鮮食堂 ほっき屋"


async def test_the_bundle_lists_stopped_passes_and_stays_that_still_matter():
    scene = await a_shop_and_wallets()
    wallets = scene["wallets"]
    bundle = await counter_bundle(TokenSigner(new_signing_key()), scene["shop"], NOW)
    assert bundle["suspended"] == [wallets["suspended"]]
    assert bundle["revoked"] == [wallets["revoked"]]  # the expired one is refused by its token anyway
    assert bundle["stays"] == {str(wallets["staying"]): ["2026-08-08", "2026-08-12"]}  # the stay over is left out


async def test_the_bundles_public_key_verifies_a_wallet_token_as_a_device_would():
    signer = TokenSigner(new_signing_key())
    scene = await a_shop_and_wallets()
    bundle = await counter_bundle(signer, scene["shop"], NOW)
    token = signer.sign("wallet", scene["wallets"]["active"], NOW + timedelta(days=5))
    raw = base64.b32decode(token + "=" * (-len(token) % 8))
    body, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    assert body[0] == bundle["token"]["version"] and body[2] == bundle["token"]["kind"]
    key = bundle["token"]["keys"][str(body[1])]
    public = ed25519.Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)))
    public.verify(signature, body)  # raises if the key were not the signer's


async def test_there_is_no_bundle_for_a_shop_that_does_not_exist():
    assert await counter_bundle(TokenSigner(new_signing_key()), 987654, NOW) is None
