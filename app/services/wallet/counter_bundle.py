"""What a shop's counter keeps so it can decide a scan on the device, before (or without) the network.

The bundle holds only what the device-side rules (app/static/js/counter_rules.js, specified by the table
tests/cases/counter_rules.json) read: the public keys that verify a wallet token, the shop's offers with their
limits and dates, the wallet passes that are stopped (suspended or revoked) and the declared stays of passes
that need one. The server applies every rule again when the scan reaches it (redemption.py); the bundle
never decides alone what the server cannot check later.

Stopped passes and stays are listed only while the pass has not expired: an expired pass is refused by the
token's own expiry, so the lists stay short.
"""

from __future__ import annotations

import base64
from datetime import datetime

from app.services.shared.signed_tokens import KINDS, VERSION, TokenSigner
from app.services.wallet.wallet import tokyo_today
from db.tables import Offer, Shop, WalletPass

BUNDLE_VERSION = 1
# How often a counter should ask again while online; its age is shown on the scanner.
REFRESH_SECONDS = 300


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def token_rules(signer: TokenSigner) -> dict:
    """The wallet token's layout constants and the public keys by key id (base64url), as signed_tokens.py
    writes them: what the device needs to verify a code with Ed25519 and no network."""
    return {
        "version": VERSION,
        "kind": KINDS["wallet"],
        "keys": {str(key_id): _b64url(raw) for key_id, raw in signer.public_keys().items()},
    }


def _offer(row: dict) -> dict:
    return {
        "id": row["id"],
        "title": row["title"],
        "limit_kind": row["limit_kind"],
        "limit_count": row["limit_count"],
        "valid_from": row["valid_from"].isoformat() if row["valid_from"] else None,
        "valid_to": row["valid_to"].isoformat() if row["valid_to"] else None,
        "active": bool(row["active"] and row["shop_active"]),
        "premium_only": bool(row["premium_only"]),
    }


async def counter_bundle(signer: TokenSigner, shop_id: int, now: datetime) -> dict | None:
    """The shop's bundle at `now`, or None when there is no such shop."""
    shop = await Shop.select(Shop.id, Shop.name, Shop.active).where(Shop.id == shop_id).first()
    if shop is None:
        return None
    offers = await Offer.select(*Offer.all_columns(), Offer.shop.active.as_alias("shop_active")).where(
        Offer.shop == shop_id
    ).order_by(Offer.position).order_by(Offer.id)
    stopped = await WalletPass.select(WalletPass.id, WalletPass.status).where(
        WalletPass.status.is_in(["suspended", "revoked"]) & (WalletPass.expires_at > now)
    ).order_by(WalletPass.id)
    stays = await WalletPass.select(WalletPass.id, WalletPass.stay_from, WalletPass.stay_to).where(
        (WalletPass.status == "active") & (WalletPass.expires_at > now)
        & WalletPass.entry_pass.requires_stay.eq(True)
        & ((WalletPass.stay_to >= tokyo_today(now)) | WalletPass.stay_to.is_null())
    ).order_by(WalletPass.id)
    return {
        "bundle_version": BUNDLE_VERSION,
        "generated_at": now.isoformat(),
        "refresh_seconds": REFRESH_SECONDS,
        "shop": {"id": shop["id"], "name": shop["name"], "active": bool(shop["active"])},
        "token": token_rules(signer),
        "offers": [_offer(row) for row in offers],
        "suspended": [row["id"] for row in stopped if row["status"] == "suspended"],
        "revoked": [row["id"] for row in stopped if row["status"] == "revoked"],
        "stays": {
            str(row["id"]): [
                row["stay_from"].isoformat() if row["stay_from"] else None,
                row["stay_to"].isoformat() if row["stay_to"] else None,
            ]
            for row in stays
        },
    }
