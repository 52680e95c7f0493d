"""Redeeming an offer at a shop: every rule checked on the server, exactly once by the database.

The scan is read from a signed wallet token (or the short code typed by hand). Checks run in the order
a shop assistant would explain them; the last step inserts a row whose unique index is the limit, so two
devices scanning at the same moment get one OK and one "already used", whatever the timing.

The scanner's preview runs the checks here (pass_problem, offer_problem); a redemption runs the same checks
and the insert as one SQL statement, for speed at the counter: redemption_sql.py, which says why.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.i18n import to_tokyo
from app.services.membership.membership import effective_tier
from app.services.shared.refusals import Refusal
from app.services.shared.signed_tokens import TokenError, TokenSigner
from app.services.wallet import redemption_sql
from app.services.wallet.wallet import SHORT_CODE_ALPHABET, normalise_short_code, tokyo_today
from db.engine import atomic, is_row_id
from db.tables import AuditLog, Offer, PassOffer, Redemption, WalletPass

UNDO_WINDOW = timedelta(minutes=5)
MAX_NONCE = 64
MAX_SHORT_CODE = 12  # the column's length


class Refused(Refusal):
    """Why an offer cannot be used now: a stable code the counter turns into words."""


@dataclass(frozen=True)
class Scanned:
    wallet_pass_id: int
    member_id: int
    display_name: str
    pass_name: str
    home_prefecture: str
    status: str
    expires_at: datetime
    stay_from: date | None
    stay_to: date | None
    requires_stay: bool
    tier: str
    premium_until: date | None

    def premium_on(self, now: datetime) -> bool:
        """Premium is read at each scan: it may have lapsed since the pass was activated."""
        return effective_tier({"tier": self.tier, "premium_until": self.premium_until}, tokyo_today(now)) == "premium"


@dataclass
class OfferState:
    offer: dict
    usable: bool
    reason: str = ""
    used: int = 0
    remaining: int | None = None


@dataclass
class Preview:
    scanned: Scanned
    offers: list[OfferState] = field(default_factory=list)
    problem: str = ""  # a reason that stops every offer (expired, revoked, outside the stay)


@dataclass(frozen=True)
class Redeemed:
    redemption_id: int
    offer_title: str
    display_name: str
    redeemed_at: datetime
    replayed: bool = False


def locate(signer: TokenSigner, code: str, now: datetime) -> tuple[bool, int | str]:
    """Which wallet pass a scanned code names: (by short code?, the short code or the wallet pass id)."""
    text = (code or "").strip()
    if not text:
        raise Refused("damaged")
    if len(text) <= 16:
        short_code = normalise_short_code(text)
        # Only the code's own letters reach the database (a NUL or a lone surrogate would make it fail).
        if not short_code or len(short_code) > MAX_SHORT_CODE or not set(short_code) <= set(SHORT_CODE_ALPHABET):
            raise Refused("unknown")
        return True, short_code
    try:
        claims = signer.verify(text, "wallet", now)
    except TokenError as exc:
        raise Refused(exc.reason) from None
    return False, claims.subject_id


async def read_code(signer: TokenSigner, code: str, now: datetime) -> Scanned:
    """A wallet QR token, or the short code printed under it."""
    by_short_code, value = locate(signer, code, now)
    where = WalletPass.short_code == value if by_short_code else WalletPass.id == value
    row = await WalletPass.select(
        WalletPass.id, WalletPass.status, WalletPass.expires_at, WalletPass.stay_from, WalletPass.stay_to,
        WalletPass.member.id.as_alias("member_id"),
        WalletPass.member.home_prefecture.as_alias("home_prefecture"),
        WalletPass.member.tier.as_alias("tier"),
        WalletPass.member.premium_until.as_alias("premium_until"),
        WalletPass.member.account.display_name.as_alias("display_name"),
        WalletPass.member.account.status.as_alias("account_status"),
        WalletPass.entry_pass.name.as_alias("pass_name"),
        WalletPass.entry_pass.requires_stay.as_alias("requires_stay"),
    ).where(where).first()
    if row is None or row["account_status"] != "active":
        raise Refused("unknown")
    return Scanned(
        wallet_pass_id=row["id"], member_id=row["member_id"], display_name=row["display_name"],
        pass_name=row["pass_name"], home_prefecture=row["home_prefecture"], status=row["status"],
        expires_at=row["expires_at"], stay_from=row["stay_from"], stay_to=row["stay_to"],
        requires_stay=row["requires_stay"], tier=row["tier"], premium_until=row["premium_until"],
    )


def pass_problem(scanned: Scanned, now: datetime) -> str:
    """What makes the whole pass unusable right now, or ""."""
    if scanned.status == "revoked":
        return "revoked"
    if scanned.status == "suspended":
        return "suspended"
    if scanned.expires_at <= now:
        return "expired"
    if scanned.requires_stay:
        today = tokyo_today(now)
        if scanned.stay_from and today < scanned.stay_from:
            return "before_stay"
        if scanned.stay_to and today > scanned.stay_to:
            return "after_stay"
    return ""


def limit_of(offer: dict, now: datetime) -> tuple[str, int]:
    """(limit key, number of slots) for the unique index that enforces the offer's limit.

    An unlimited offer gets a key of its own for every use: a retry is caught by the (account, nonce)
    index, and the same nonce sent by another account is another scan, not a clash."""
    if offer["limit_kind"] == "once":
        return "once", 1
    if offer["limit_kind"] == "per_day":
        return tokyo_today(now).isoformat(), max(1, offer["limit_count"])
    return f"n:{secrets.token_hex(16)}", 1


def offer_problem(offer: dict, shop_id: int, in_pass: bool, premium: bool, now: datetime) -> str:
    if offer["shop"] != shop_id:
        return "wrong_shop"
    if not offer["shop_active"]:
        return "offer_unavailable"
    if not in_pass:
        return "not_in_pass"
    today = tokyo_today(now)
    if not offer["active"] or (offer["valid_from"] and today < offer["valid_from"]) or (
        offer["valid_to"] and today > offer["valid_to"]
    ):
        return "offer_unavailable"
    if offer["premium_only"] and not premium:
        return "premium_only"
    return ""


async def _offers_in_pass(wallet_pass_id: int) -> set[int]:
    wallet = await WalletPass.select(WalletPass.entry_pass).where(WalletPass.id == wallet_pass_id).first()
    rows = await PassOffer.select(PassOffer.offer).where(PassOffer.entry_pass == wallet["entry_pass"])
    return {row["offer"] for row in rows}


async def preview(signer: TokenSigner, code: str, shop_id: int, now: datetime) -> Preview:
    """After a scan: who it is, and only this shop's offers in the pass, each usable or not and why."""
    scanned = await read_code(signer, code, now)
    result = Preview(scanned=scanned, problem=pass_problem(scanned, now))
    in_pass = await _offers_in_pass(scanned.wallet_pass_id)
    offers = await Offer.select(*Offer.all_columns(), Offer.shop.active.as_alias("shop_active")).where(
        (Offer.shop == shop_id) & Offer.id.is_in(list(in_pass) or [-1])
    ).order_by(Offer.position)
    used = await Redemption.select(Redemption.offer, Redemption.limit_key).where(
        (Redemption.wallet_pass == scanned.wallet_pass_id) & Redemption.undone_at.is_null()
    )
    for offer in offers:
        key, slots = limit_of(offer, now)
        taken = sum(1 for u in used if u["offer"] == offer["id"] and u["limit_key"] == key)
        reason = result.problem or offer_problem(offer, shop_id, True, scanned.premium_on(now), now)
        if not reason and offer["limit_kind"] != "unlimited" and taken >= slots:
            reason = "already_used_today" if offer["limit_kind"] == "per_day" else "already_used"
        remaining = None if offer["limit_kind"] == "unlimited" else max(0, slots - taken)
        result.offers.append(OfferState(offer=offer, usable=not reason, reason=reason, used=taken, remaining=remaining))
    return result


def check_scan(nonce: str, shop_id: int | None) -> None:
    """What no counter sends: a nonce it does not write (nothing to keep the scan by), or a shop account without a
    shop (no offer is for it)."""
    if not nonce or len(nonce) > MAX_NONCE or not nonce.isprintable():
        raise Refused("damaged")
    if shop_id is None:
        raise Refused("wrong_shop")


async def _replay(account_id: int, nonce: str) -> Redeemed | None:
    # Every scan asks; almost none is a retry. The cheap lookup first, the joins only for a real retry.
    if not await Redemption.exists().where((Redemption.scanned_by == account_id) & (Redemption.client_nonce == nonce)):
        return None
    row = await Redemption.select(
        Redemption.id, Redemption.redeemed_at, Redemption.offer.title.as_alias("offer_title"),
        Redemption.wallet_pass.member.account.display_name.as_alias("display_name"),
    ).where((Redemption.scanned_by == account_id) & (Redemption.client_nonce == nonce)).first()
    return Redeemed(row["id"], row["offer_title"], row["display_name"], row["redeemed_at"], replayed=True)


# A scan that lost the race for a slot runs again for the next one; far more than a day's limit of tries is a
# bug, not a busy counter.
MAX_ATTEMPTS = 100


async def redeem(
    signer: TokenSigner, code: str, offer_id: int, shop_id: int | None, account_id: int, nonce: str, now: datetime,
    offline: bool = False,
) -> Redeemed:
    """Record one use, or raise Refused. A retry with the same nonce gets the first answer back.

    The rules and the insert are one statement (redemption_sql.py says why); only a scan that inserted
    nothing asks whether it was a retry, so a retry is answered first, as before, whatever else has changed."""
    check_scan(nonce, shop_id)
    try:
        by_short_code, wallet_pass = locate(signer, code, now)
    except Refused:
        earlier = await _replay(account_id, nonce)
        if earlier is not None:
            return earlier
        raise
    for _ in range(MAX_ATTEMPTS):
        facts = await redemption_sql.redeem_once(
            by_short_code=by_short_code, wallet_pass=wallet_pass, offer_id=offer_id if is_row_id(offer_id) else 0,
            shop_id=shop_id, account_id=account_id, nonce=nonce, now=now, today=tokyo_today(now),
            fresh_key=limit_of({"limit_kind": "unlimited"}, now)[0], offline=offline,
        )
        if facts is not None and facts["redemption_id"] is not None:
            return Redeemed(facts["redemption_id"], facts["offer_title"], facts["display_name"], now)
        earlier = await _replay(account_id, nonce)
        if earlier is not None:
            return earlier
        if facts is None:
            raise Refused("unknown")
        if facts["reason"] in USED:
            raise Refused(facts["reason"], **await last_use(facts["wallet_pass"], offer_id))
        if facts["reason"]:
            raise Refused(facts["reason"])
        # Every rule held but the slot was taken between our read and our insert: try the next one.
    raise Refused("already_used")


USED = ("already_used", "already_used_today")


async def last_use(wallet_pass_id: int, offer_id: int) -> dict:
    """When and at which shop this pass last used this offer ({at, shop}, or {} if never): the counter says it,
    so a clerk can tell a visitor "used at 10:50 at ほっき屋" rather than only "used"."""
    row = await Redemption.select(Redemption.redeemed_at, Redemption.shop.name.as_alias("shop")).where(
        (Redemption.wallet_pass == wallet_pass_id) & (Redemption.offer == offer_id) & Redemption.undone_at.is_null()
    ).order_by(Redemption.redeemed_at, ascending=False).first()
    return {"at": row["redeemed_at"], "shop": row["shop"]} if row else {}


async def undo(redemption_id: int, shop_id: int, account_id: int, now: datetime) -> bool:
    """Take back a mistaken tap within a few minutes; the row stays, marked undone, and is audited."""
    async with atomic(Redemption._meta.db):
        rows = await Redemption.update(
            {Redemption.undone_at: now, Redemption.limit_key: f"undone:{redemption_id}:{secrets.token_hex(4)}"}
        ).where(
            (Redemption.id == redemption_id) & (Redemption.shop == shop_id) & Redemption.undone_at.is_null()
            & (Redemption.redeemed_at > now - UNDO_WINDOW)
        ).returning(Redemption.id)
        if not rows:
            return False
        await AuditLog.insert(
            AuditLog(actor=account_id, action="redemption.undo", target_type="redemption",
                     target_id=str(redemption_id), created_at=now)
        )
    return True


async def shop_day(shop_id: int, now: datetime) -> list[dict]:
    """Today's redemptions at a shop (Tokyo day), newest first."""
    start = to_day_start(now)
    return await Redemption.select(
        Redemption.id, Redemption.redeemed_at, Redemption.undone_at,
        Redemption.offer.title.as_alias("offer_title"),
        Redemption.wallet_pass.member.account.display_name.as_alias("display_name"),
    ).where((Redemption.shop == shop_id) & (Redemption.redeemed_at >= start)).order_by(
        Redemption.redeemed_at, ascending=False
    )


async def shop_month_count(shop_id: int, now: datetime) -> int:
    start = to_day_start(now).replace(day=1)
    return await Redemption.count().where(
        (Redemption.shop == shop_id) & (Redemption.redeemed_at >= start) & Redemption.undone_at.is_null()
    )


def to_day_start(now: datetime) -> datetime:
    local = to_tokyo(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)
