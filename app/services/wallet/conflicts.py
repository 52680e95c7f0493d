"""Uses a shop counter decided with no network, arriving later: each one is counted as a redemption, or kept
as a conflict for staff.

The counter allowed the use by the rules it could know alone (app/static/js/counter_rules.js): the token's
signature and expiry, the stopped passes and stays of its bundle, and its own earlier uses. When the use
arrives, the server applies every rule as at the time of the scan (redemption.redeem with `now` = the scan,
so a stay or an offer's last day is judged on the day it was given). What it cannot count is the offer's
limit taken meanwhile by another counter or online, or a rule the device could not know (the offer not in
the member's pass, premium lapsed, a pass stopped after the bundle was fetched). The offer was given all the
same, so such a use becomes a conflict, never a silent drop: the first use to reach the server keeps the
limit, the later one is the conflict and names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from piccolo.query import Count as CountQuery

from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import redemption
from app.services.wallet.redemption import Redeemed, Refused
from db.engine import atomic, is_row_id
from db.tables import AuditLog, Conflict, Offer, Redemption, WalletPass

STATES = ("open", "reviewed")


@dataclass(frozen=True)
class Arrived:
    """What became of a use sent by a counter: recorded, already (a resend), or conflict (with its reason)."""

    status: str
    reason: str = ""
    redeemed: Redeemed | None = None


async def _earlier_conflict(account_id: int, nonce: str) -> str | None:
    row = await Conflict.select(Conflict.reason).where(
        (Conflict.scanned_by == account_id) & (Conflict.client_nonce == nonce)
    ).first()
    return row["reason"] if row else None


async def arrive(signer: TokenSigner, code: str, offer_id: int, shop_id: int | None, account_id: int, nonce: str,
                 scanned_at: datetime, now: datetime) -> Arrived:
    """Count a use the counter `account_id` allowed offline at `scanned_at`, or keep it as a conflict.

    Raises Refused("damaged") for a nonce no counter writes (nothing to keep it by) and Refused("wrong_shop") for
    a shop account without a shop. Sending the same use again gives the same answer and changes nothing."""
    redemption.check_scan(nonce, shop_id)
    earlier = await _earlier_conflict(account_id, nonce)
    if earlier is not None:
        return Arrived("conflict", earlier)
    # A device clock ahead of ours cannot put a use in the future: it happened by now at the latest.
    moment = min(scanned_at, now)
    try:
        redeemed = await redemption.redeem(signer, code, offer_id, shop_id, account_id, nonce, moment, offline=True)
    except Refused as refused:
        await _keep(signer, code, offer_id, shop_id, account_id, nonce, moment, now, refused.reason)
        return Arrived("conflict", await _earlier_conflict(account_id, nonce) or refused.reason)
    return Arrived("already" if redeemed.replayed else "recorded", redeemed=redeemed)


async def _wallet_pass_of(signer: TokenSigner, code: str, moment: datetime) -> dict | None:
    """The wallet pass a code names, as the counter read it; None when the server cannot tell (a key rotated
    away, a member erased since): the conflict is kept without it."""
    try:
        by_short_code, value = redemption.locate(signer, code, moment)
    except Refused:
        return None
    where = WalletPass.short_code == value if by_short_code else WalletPass.id == value
    return await WalletPass.select(
        WalletPass.id, WalletPass.member.home_prefecture.as_alias("home_prefecture")
    ).where(where).first()


async def _kept_use(wallet_pass_id: int, offer_id: int, moment: datetime) -> int | None:
    """The use that holds the offer's limit for this pass at `moment`: the one the server kept."""
    offer = await Offer.select(Offer.limit_kind, Offer.limit_count).where(Offer.id == offer_id).first()
    if offer is None or offer["limit_kind"] == "unlimited":
        return None
    key, _slots = redemption.limit_of(offer, moment)
    row = await Redemption.select(Redemption.id).where(
        (Redemption.wallet_pass == wallet_pass_id) & (Redemption.offer == offer_id)
        & (Redemption.limit_key == key) & Redemption.undone_at.is_null()
    ).order_by(Redemption.redeemed_at).first()
    return row["id"] if row else None


async def _keep(signer: TokenSigner, code: str, offer_id: int, shop_id: int, account_id: int, nonce: str,
                moment: datetime, now: datetime, reason: str) -> None:
    wallet_pass = await _wallet_pass_of(signer, code, moment)
    offer_exists = is_row_id(offer_id) and await Offer.exists().where(Offer.id == offer_id)
    kept = None
    if wallet_pass and offer_exists and reason in redemption.USED:
        kept = await _kept_use(wallet_pass["id"], offer_id, moment)
    # The page and the service worker may send the same use at once: the unique nonce keeps one row.
    await Conflict.insert(Conflict(
        wallet_pass=wallet_pass["id"] if wallet_pass else None, offer=offer_id if offer_exists else None,
        shop=shop_id, scanned_by=account_id, client_nonce=nonce, reason=reason, kept_redemption=kept,
        home_prefecture=wallet_pass["home_prefecture"] if wallet_pass else "", scanned_at=moment, received_at=now,
    )).on_conflict(action="DO NOTHING")


async def conflicts(state: str, limit: int, offset: int = 0) -> list[dict]:
    """Conflicts still to review ("open", oldest scan first) or reviewed (most recently reviewed first), with what
    staff need to settle each: the shop, the offer, the member, and the use that kept the limit."""
    reviewed = state == "reviewed"
    query = Conflict.select(
        Conflict.id, Conflict.reason, Conflict.scanned_at,
        Conflict.received_at, Conflict.reviewed_at,
        Conflict.shop.name.as_alias("shop_name"),
        Conflict.offer.title.as_alias("offer_title"),
        Conflict.wallet_pass.member.member_no.as_alias("member_no"),
        Conflict.wallet_pass.member.account.display_name.as_alias("display_name"),
        Conflict.scanned_by.display_name.as_alias("scanned_by_name"),
        Conflict.reviewed_by.display_name.as_alias("reviewed_by_name"),
        Conflict.kept_redemption.redeemed_at.as_alias("kept_at"),
        Conflict.kept_redemption.shop.name.as_alias("kept_shop"),
        Conflict.kept_redemption.offline.as_alias("kept_offline"),
    )
    if reviewed:
        query = query.where(Conflict.reviewed_at.is_not_null()).order_by(
            Conflict.reviewed_at, ascending=False)
    else:
        query = query.where(Conflict.reviewed_at.is_null()).order_by(Conflict.scanned_at)
    return await query.order_by(Conflict.id).limit(limit).offset(offset)


def open_count() -> CountQuery:
    """Conflicts no one has settled (a query: awaited, the number; attention.counts sends it with the console's
    other counts as one statement)."""
    return Conflict.count().where(Conflict.reviewed_at.is_null())


async def review(conflict_id: int, actor_id: int, now: datetime) -> bool:
    """Mark a conflict as settled by staff; audited. False when there is no such open conflict."""
    if not is_row_id(conflict_id):
        return False
    async with atomic(Conflict._meta.db):
        rows = await Conflict.update(
            {Conflict.reviewed_at: now, Conflict.reviewed_by: actor_id}
        ).where((Conflict.id == conflict_id) & Conflict.reviewed_at.is_null()).returning(
            Conflict.id)
        if not rows:
            return False
        await AuditLog.insert(AuditLog(actor=actor_id, action="conflict.review",
                                       target_type="conflict", target_id=str(conflict_id), created_at=now))
    return True
