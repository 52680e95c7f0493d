"""The member's side of the entry pass: who may activate which pass, activation, and the wallet view."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.services.membership.membership import effective_tier
from app.services.shared.refusals import Refusal
from db.engine import is_unique_violation
from db.tables import Member, Pass, PassOffer, Redemption, Shop, WalletPass

# Crockford's base32 without look-alikes (no I, L, O, U): easy to read aloud and type at a counter.
SHORT_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_CODE_LENGTH = 8
MAX_STAY_DAYS = 366
SHOP_CATEGORIES = ("coworking", "rental_car", "rental_bicycle", "tourism", "restaurant", "other")
SHOP_CATEGORY_LABELS = {
    "coworking": _l("Coworking space"),
    "rental_car": _l("Rental car"),
    "rental_bicycle": _l("Rental bicycle"),
    "tourism": _l("Tourist facility"),
    "restaurant": _l("Restaurant"),
    "other": _l("Other"),
}


def category_label(code: str) -> str:
    return str(SHOP_CATEGORY_LABELS.get(code, SHOP_CATEGORY_LABELS["other"]))


class ActivationRefused(Refusal):
    """Why a pass cannot be activated; `field` when one answer is the cause."""


def tokyo_today(now: datetime) -> date:
    return to_tokyo(now).date()


def new_short_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def normalise_short_code(typed: str) -> str:
    """What a person types: lower case, spaces, dashes, and O/I/L for 0/1/1 are all accepted."""
    text = unicodedata.normalize("NFKC", typed).upper()
    text = text.translate(str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None}))
    return text


def lives_outside(region_prefecture: str, region_municipality: str, member: dict) -> bool:
    """The entry pass is for visitors: a member whose home is the region itself may not activate it."""
    if member["home_prefecture"] != region_prefecture:
        return True
    if not region_municipality:
        return False

    def fold(name: str) -> str:
        return unicodedata.normalize("NFKC", name).replace(" ", "").replace("　", "")

    home, region = fold(member["home_municipality"]), fold(region_municipality)
    # "苫小牧" and "苫小牧市" are the same place, whichever side leaves 市 out; an empty municipality cannot
    # prove the member is outside.
    return bool(home) and region not in (home, home + "市") and home != region + "市"


async def open_passes() -> list[dict]:
    passes = await Pass.select().where(Pass.active.eq(True)).order_by(Pass.id)
    offers = await offers_by_pass([p["id"] for p in passes])
    return [{**p, "offers": offers.get(p["id"], [])} for p in passes]


async def offers_by_pass(pass_ids: list[int]) -> dict[int, list[dict]]:
    if not pass_ids:
        return {}
    rows = await PassOffer.select(
        PassOffer.entry_pass,
        PassOffer.offer.id.as_alias("id"),
        PassOffer.offer.title.as_alias("title"),
        PassOffer.offer.description.as_alias("description"),
        PassOffer.offer.terms.as_alias("terms"),
        PassOffer.offer.limit_kind.as_alias("limit_kind"),
        PassOffer.offer.limit_count.as_alias("limit_count"),
        PassOffer.offer.valid_from.as_alias("valid_from"),
        PassOffer.offer.valid_to.as_alias("valid_to"),
        PassOffer.offer.active.as_alias("active"),
        PassOffer.offer.premium_only.as_alias("premium_only"),
        PassOffer.offer.shop.id.as_alias("shop_id"),
        PassOffer.offer.shop.name.as_alias("shop_name"),
        PassOffer.offer.shop.category.as_alias("shop_category"),
        PassOffer.offer.shop.active.as_alias("shop_active"),
    ).where(PassOffer.entry_pass.is_in(pass_ids)).order_by(PassOffer.offer.position).order_by(PassOffer.offer.id)
    grouped: dict[int, list[dict]] = {}
    for row in rows:
        if row["active"] and row["shop_active"]:
            grouped.setdefault(row["entry_pass"], []).append(row)
    return grouped


async def shops(category: str = "") -> list[dict]:
    query = Shop.select().where(Shop.active.eq(True)).order_by(Shop.category).order_by(Shop.name)
    if category in SHOP_CATEGORIES:
        query = query.where(Shop.category == category)
    return await query


@dataclass(frozen=True)
class Region:
    prefecture: str
    municipality: str


async def activate(member_id: int, pass_id: int, region: Region, now: datetime,
                   stay_from: date | None = None, stay_to: date | None = None, campaign_id: int | None = None) -> int:
    """Activate a pass for a member. Returns the wallet pass id; refusals carry a reason (and the field).
    `campaign_id`: the first campaign the member came by (app/services/campaigns/)."""
    entry_pass = await Pass.select().where((Pass.id == pass_id) & Pass.active.eq(True)).first()
    if entry_pass is None:
        raise ActivationRefused("unknown_pass")
    member = await Member.select(
        Member.home_prefecture, Member.home_municipality, Member.tier, Member.premium_until,
    ).where(Member.id == member_id).first()
    if member is None:
        raise ActivationRefused("unknown_pass")
    if entry_pass["outside_residents_only"] and not lives_outside(region.prefecture, region.municipality, member):
        raise ActivationRefused("not_eligible")
    today = tokyo_today(now)
    # Checked on the day of activation only: the pass stays in the wallet if premium lapses later, and each
    # premium-only offer in it is checked again at the counter.
    if entry_pass["premium_only"] and effective_tier(member, today) != "premium":
        raise ActivationRefused("premium_only")
    if entry_pass["requires_stay"]:
        if stay_from is None:
            raise ActivationRefused("stay_missing", "stay_from")
        if stay_to is None:
            raise ActivationRefused("stay_missing", "stay_to")
        if stay_to < stay_from:
            raise ActivationRefused("stay_order", "stay_to")
        if stay_to < today:
            raise ActivationRefused("stay_past", "stay_to")
        if (stay_to - stay_from).days >= MAX_STAY_DAYS:
            raise ActivationRefused("stay_too_long", "stay_to")
    else:
        stay_from = stay_to = None
    expires_at = now + timedelta(days=entry_pass["validity_days"])
    for _attempt in range(5):  # a short code colliding with another is rare; five tries make it vanishing
        try:
            rows = await WalletPass.insert(
                WalletPass(
                    member=member_id,
                    entry_pass=pass_id,
                    short_code=new_short_code(),
                    activated_at=now,
                    expires_at=expires_at,
                    stay_from=stay_from,
                    stay_to=stay_to,
                    campaign=campaign_id,
                )
            ).returning(WalletPass.id)
            return rows[0]["id"]
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            if await WalletPass.exists().where((WalletPass.member == member_id) & (WalletPass.entry_pass == pass_id)):
                raise ActivationRefused("already_active") from None
    raise ActivationRefused("try_again")


# The wallet page, opened at every counter: the member's passes, their offers and the member's uses, in three
# statements written out once (the same text on SQLite and PostgreSQL), each finding its rows by the member.
# Piccolo building the same joins (fifteen columns through three tables for the offers) cost ≈ 2.5 ms of CPU a
# page, these ≈ 0.4 ms. The offers are those of offers_by_pass (the offer and its shop active, in the offer's
# order), which the other pages keep using.
WALLET_PASSES_SQL = """
SELECT w.id, w.member, w.entry_pass, w.short_code, w.status, w.status_reason, w.activated_at, w.expires_at,
       w.stay_from, w.stay_to, p.name AS pass_name, p.description AS pass_description
FROM wallet_pass AS w LEFT JOIN pass AS p ON p.id = w.entry_pass
WHERE w.member = {}
ORDER BY w.activated_at DESC
"""
WALLET_OFFERS_SQL = """
SELECT po.entry_pass, o.id, o.title, o.description, o.terms, o.limit_kind, o.limit_count, o.valid_from, o.valid_to,
       o.active, o.premium_only, s.id AS shop_id, s.name AS shop_name, s.category AS shop_category,
       s.active AS shop_active
FROM pass_offer AS po JOIN offer AS o ON o.id = po.offer JOIN shop AS s ON s.id = o.shop
WHERE po.entry_pass IN (SELECT entry_pass FROM wallet_pass WHERE member = {}) AND o.active = {} AND s.active = {}
ORDER BY o.position, o.id
"""
WALLET_USES_SQL = """
SELECT r.wallet_pass, r.offer, r.limit_key, r.redeemed_at
FROM redemption AS r JOIN wallet_pass AS w ON w.id = r.wallet_pass
WHERE w.member = {} AND r.undone_at IS NULL
"""


async def wallet(member_id: int, now: datetime) -> list[dict]:
    """The member's passes with their offers and how much of each is used (today, for daily offers)."""
    wallet_passes = await WalletPass.raw(WALLET_PASSES_SQL, member_id)
    if not wallet_passes:
        return []
    offers: dict[int, list[dict]] = {}
    for row in await PassOffer.raw(WALLET_OFFERS_SQL, member_id, True, True):
        offers.setdefault(row["entry_pass"], []).append(row)
    used = await Redemption.raw(WALLET_USES_SQL, member_id)
    today_key = tokyo_today(now).isoformat()
    result = []
    for w in wallet_passes:
        items = []
        for offer in offers.get(w["entry_pass"], []):
            mine = [u for u in used if u["wallet_pass"] == w["id"] and u["offer"] == offer["id"]]
            items.append({**offer, **usage(offer, mine, today_key)})
        days_left = max(0, (to_tokyo(w["expires_at"]).date() - tokyo_today(now)).days)
        result.append({**w, "offers": items, "days_left": days_left, "live": w["status"] == "active" and w["expires_at"] > now})
    return result


def usage(offer: dict, rows: list[dict], today_key: str) -> dict:
    """Used and remaining for one offer: all time for once-only, today for daily; when unlimited, counts only
    (today's is what the member sees change after a use at the counter)."""
    if offer["limit_kind"] == "once":
        used = sum(1 for r in rows if r["limit_key"] == "once")
        return {"used": used, "remaining": max(0, 1 - used)}
    if offer["limit_kind"] == "per_day":
        used = sum(1 for r in rows if r["limit_key"] == today_key)
        return {"used": used, "remaining": max(0, offer["limit_count"] - used)}
    used_today = sum(1 for r in rows if tokyo_today(r["redeemed_at"]).isoformat() == today_key)
    return {"used": len(rows), "remaining": None, "used_today": used_today}


# Polled by the wallet page (its history fragment) besides being on it: one statement written out once.
HISTORY_SQL = """
SELECT r.id, r.redeemed_at, r.undone_at, o.title AS offer_title, s.name AS shop_name
FROM redemption AS r JOIN wallet_pass AS w ON w.id = r.wallet_pass
LEFT JOIN offer AS o ON o.id = r.offer LEFT JOIN shop AS s ON s.id = r.shop
WHERE w.member = {}
ORDER BY r.redeemed_at DESC
LIMIT {}
"""


async def history(member_id: int, limit: int = 50) -> list[dict]:
    return await Redemption.raw(HISTORY_SQL, member_id, limit)


# Asked every few seconds by each open wallet page, so one statement over indexed columns (the member by its
# account, their passes, their uses) that returns one row of counts. Uses are only added and undone (an undo
# sets undone_at once), so the count, the newest id and the undone count change with every event the page shows.
USES_VERSION_SQL = """
SELECT COUNT(r.id) AS uses, MAX(r.id) AS newest, COUNT(r.undone_at) AS undone
FROM member AS m JOIN wallet_pass AS w ON w.member = m.id JOIN redemption AS r ON r.wallet_pass = w.id
WHERE m.account = {}
"""


async def uses_version(account_id: int, now: datetime) -> str:
    """A short mark of the member's uses as the wallet shows them: it changes with a use, an undo and the Tokyo
    date (per-day offers start again at midnight), so an open page redraws its offers only then."""
    row = (await Redemption.raw(USES_VERSION_SQL, account_id))[0]
    return f"{tokyo_today(now):%Y%m%d}.{row['uses']}.{row['newest'] or 0}.{row['undone']}"
