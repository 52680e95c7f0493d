"""The secretariat's side of the entry pass: shops, offers, passes, and members' wallet passes.

Every form is read into a small dataclass; every problem is reported at once, next to its field, and
nothing is written until the whole form is valid. Writes that touch several rows run in one transaction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared.refusals import FormInvalid
from app.services.wallet.wallet import SHOP_CATEGORIES
from db.engine import atomic
from db.tables import AuditLog, Member, Offer, Pass, PassOffer, Redemption, Shop, WalletPass

LIMIT_KINDS = ("once", "per_day", "unlimited")
LIMIT_KIND_LABELS = {
    "once": _l("Once per member"),
    "per_day": _l("Up to N times a day"),
    "unlimited": _l("Unlimited"),
}
WALLET_PASS_STATUS_LABELS = {
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "revoked": _l("Revoked"),
}
# action -> (new status, statuses it may start from). Revoking is final: the member cannot activate the
# same pass again (one wallet pass per member and pass), so a revoked pass is never brought back.
STATUS_ACTIONS = {
    "suspend": ("suspended", ("active",)),
    "revoke": ("revoked", ("active", "suspended")),
    "reactivate": ("active", ("suspended",)),
}

NAME_MAX = 100
LONG_TEXT_MAX = 2000
LINE_MAX = 200
URL_MAX = 500
PHONE_MAX = 20
PHONE_PATTERN = re.compile(r"^[0-9+\- ]+$")
PER_DAY_MAX = 20
POSITION_MAX = 9999
VALIDITY_DAYS_MAX = 366
REASON_MAX = 200


def limit_label(kind: str, count: int = 1) -> str:
    if kind == "per_day":
        return _("Up to %(count)d times a day", count=count)
    return str(LIMIT_KIND_LABELS.get(kind, kind))


def status_label(status: str) -> str:
    return str(WALLET_PASS_STATUS_LABELS.get(status, status))


# Reading form values -------------------------------------------------------------------------------


def _first(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "")


def _line(value) -> str:
    """One line of text; NFKC folds full-width digits and letters typed on Japanese keyboards."""
    return unicodedata.normalize("NFKC", _first(value)).strip()


def _block(value) -> str:
    """Several lines of text, kept as typed apart from line endings and surrounding space."""
    return _first(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _flag(value) -> bool:
    return _first(value) not in ("", "0", "false", "off")


def _list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if str(v)]


def _is_web_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in text)


def _check_length(errors: dict[str, str], name: str, text: str, maximum: int) -> None:
    if len(text) > maximum and name not in errors:
        errors[name] = _("Use %(max)d characters or fewer.", max=maximum)


def _check_url(errors: dict[str, str], name: str, text: str, *, required: bool) -> None:
    if not text:
        if required:
            errors[name] = _("Enter a link that starts with https://.")
    elif len(text) > URL_MAX:
        errors[name] = _("Use %(max)d characters or fewer.", max=URL_MAX)
    elif not _is_web_url(text):
        errors[name] = _("Enter a link that starts with https:// or http://.")


def _whole_number(text: str, low: int, high: int) -> int | None:
    try:
        number = int(text)
    except ValueError:
        return None
    return number if low <= number <= high else None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# Shops --------------------------------------------------------------------------------------------


@dataclass
class ShopValues:
    name: str = ""
    category: str = ""
    description: str = ""
    address: str = ""
    map_url: str = ""
    opening_hours: str = ""
    phone: str = ""
    photo_url: str = ""
    active: bool = True

    def row(self) -> dict:
        return asdict(self)


def parse_shop(form: dict) -> ShopValues:
    values = ShopValues(
        name=_line(form.get("name")),
        category=_line(form.get("category")),
        description=_block(form.get("description")),
        address=_line(form.get("address")),
        map_url=_line(form.get("map_url")),
        opening_hours=_line(form.get("opening_hours")),
        phone=_line(form.get("phone")),
        photo_url=_line(form.get("photo_url")),
        active=_flag(form.get("active")),
    )
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = _("Enter the shop's name.")
    _check_length(errors, "name", values.name, NAME_MAX)
    if values.category not in SHOP_CATEGORIES:
        errors["category"] = _("Choose a category.")
    _check_length(errors, "description", values.description, LONG_TEXT_MAX)
    _check_length(errors, "address", values.address, LINE_MAX)
    _check_url(errors, "map_url", values.map_url, required=True)
    _check_length(errors, "opening_hours", values.opening_hours, LINE_MAX)
    if values.phone and (len(values.phone) > PHONE_MAX or not PHONE_PATTERN.match(values.phone)):
        errors["phone"] = _("Use digits, +, - and spaces only, %(max)d characters at most (for example 0144-12-3456).",
                            max=PHONE_MAX)
    _check_url(errors, "photo_url", values.photo_url, required=False)
    if errors:
        raise FormInvalid(errors, values)
    return values


async def create_shop(values: ShopValues) -> int:
    rows = await Shop.insert(Shop(**values.row())).returning(Shop.id)
    return rows[0]["id"]


async def update_shop(shop_id: int, values: ShopValues) -> bool:
    """Deactivating a shop hides it and its offers from members at once (wallet.offers_by_pass)."""
    rows = await Shop.update(values.row()).where(Shop.id == shop_id).returning(Shop.id)
    return bool(rows)


async def get_shop(shop_id: int) -> dict | None:
    return await Shop.select().where(Shop.id == shop_id).first()


async def list_shops() -> list[dict]:
    shops = await Shop.select().order_by(Shop.active, ascending=False).order_by(Shop.name)
    offers = await Offer.select(Offer.shop, Offer.active)
    for shop in shops:
        mine = [o for o in offers if o["shop"] == shop["id"]]
        shop["offer_count"] = len(mine)
        shop["active_offer_count"] = sum(1 for o in mine if o["active"])
    return shops


async def shop_choices() -> list[dict]:
    """Every active shop as {id, name}, by name: what a form that picks a shop lists."""
    return await Shop.select(Shop.id, Shop.name).where(Shop.active.eq(True)).order_by(Shop.name)


# Offers -------------------------------------------------------------------------------------------


@dataclass
class OfferValues:
    title: str = ""
    description: str = ""
    terms: str = ""
    limit_kind: str = "once"
    limit_count: int | str = 1
    valid_from: date | str | None = None
    valid_to: date | str | None = None
    image_url: str = ""
    active: bool = True
    position: int | str = 0

    def row(self) -> dict:
        return asdict(self)


def parse_offer(form: dict) -> OfferValues:
    count_text = _line(form.get("limit_count"))
    from_text, to_text = _line(form.get("valid_from")), _line(form.get("valid_to"))
    position_text = _line(form.get("position")) or "0"
    values = OfferValues(
        title=_line(form.get("title")),
        description=_block(form.get("description")),
        terms=_block(form.get("terms")),
        limit_kind=_line(form.get("limit_kind")),
        limit_count=count_text,
        valid_from=from_text,
        valid_to=to_text,
        image_url=_line(form.get("image_url")),
        active=_flag(form.get("active")),
        position=position_text,
    )
    errors: dict[str, str] = {}
    if not values.title:
        errors["title"] = _("Enter the offer's title.")
    _check_length(errors, "title", values.title, NAME_MAX)
    _check_length(errors, "description", values.description, LONG_TEXT_MAX)
    _check_length(errors, "terms", values.terms, LONG_TEXT_MAX)
    count = 1
    if values.limit_kind not in LIMIT_KINDS:
        errors["limit_kind"] = _("Choose how often a member may use it.")
    elif values.limit_kind == "per_day":
        count = _whole_number(count_text, 1, PER_DAY_MAX)
        if count is None:
            errors["limit_count"] = _("Enter a whole number from %(low)d to %(high)d.", low=1, high=PER_DAY_MAX)
    valid_from = _date(from_text) if from_text else None
    valid_to = _date(to_text) if to_text else None
    if from_text and valid_from is None:
        errors["valid_from"] = _("Enter a date such as 2026-04-01.")
    if to_text and valid_to is None:
        errors["valid_to"] = _("Enter a date such as 2026-04-01.")
    if valid_from and valid_to and valid_to < valid_from:
        errors["valid_to"] = _("The last day must be on or after the first day.")
    _check_url(errors, "image_url", values.image_url, required=False)
    position = _whole_number(position_text, 0, POSITION_MAX)
    if position is None:
        errors["position"] = _("Enter a whole number from %(low)d to %(high)d.", low=0, high=POSITION_MAX)
    if errors:
        raise FormInvalid(errors, values)
    values.limit_count = count
    values.valid_from, values.valid_to = valid_from, valid_to
    values.position = position
    return values


async def create_offer(shop_id: int, values: OfferValues) -> int:
    rows = await Offer.insert(Offer(shop=shop_id, **values.row())).returning(Offer.id)
    return rows[0]["id"]


async def update_offer(offer_id: int, values: OfferValues) -> bool:
    rows = await Offer.update(values.row()).where(Offer.id == offer_id).returning(Offer.id)
    return bool(rows)


async def get_offer(offer_id: int) -> dict | None:
    return await Offer.select(
        *Offer.all_columns(), Offer.shop.name.as_alias("shop_name"), Offer.shop.active.as_alias("shop_active"),
    ).where(Offer.id == offer_id).first()


async def shop_offers(shop_id: int) -> list[dict]:
    return await Offer.select().where(Offer.shop == shop_id).order_by(Offer.position).order_by(Offer.id)


def offer_values(row: dict) -> OfferValues:
    return OfferValues(**{name: row[name] for name in OfferValues.__dataclass_fields__})


def shop_values(row: dict) -> ShopValues:
    return ShopValues(**{name: row[name] for name in ShopValues.__dataclass_fields__})


# Passes -------------------------------------------------------------------------------------------


@dataclass
class PassValues:
    name: str = ""
    description: str = ""
    validity_days: int | str = 30
    outside_residents_only: bool = True
    requires_stay: bool = False
    active: bool = True
    offer_ids: list[int] = field(default_factory=list)

    def row(self) -> dict:
        values = asdict(self)
        values.pop("offer_ids")
        return values


async def parse_pass(form: dict) -> PassValues:
    days_text = _line(form.get("validity_days"))
    values = PassValues(
        name=_line(form.get("name")),
        description=_block(form.get("description")),
        validity_days=days_text,
        outside_residents_only=_flag(form.get("outside_residents_only")),
        requires_stay=_flag(form.get("requires_stay")),
        active=_flag(form.get("active")),
    )
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = _("Enter the pass's name.")
    _check_length(errors, "name", values.name, NAME_MAX)
    _check_length(errors, "description", values.description, LONG_TEXT_MAX)
    days = _whole_number(days_text, 1, VALIDITY_DAYS_MAX)
    if days is None:
        errors["validity_days"] = _("Enter a number of days from %(low)d to %(high)d.", low=1, high=VALIDITY_DAYS_MAX)
    try:
        wanted = sorted({int(v) for v in _list(form.get("offers"))})
    except ValueError:
        wanted = None
    if wanted is None:
        errors["offers"] = _("Choose from the list.")
    else:
        values.offer_ids = wanted
        if wanted and len(await Offer.select(Offer.id).where(Offer.id.is_in(wanted))) != len(wanted):
            errors["offers"] = _("Choose from the list.")
    if errors:
        raise FormInvalid(errors, values)
    values.validity_days = days
    return values


async def _replace_pass_offers(pass_id: int, offer_ids: list[int]) -> None:
    await PassOffer.delete().where(PassOffer.entry_pass == pass_id)
    if offer_ids:
        await PassOffer.insert(*[PassOffer(entry_pass=pass_id, offer=offer_id) for offer_id in offer_ids])


async def create_pass(values: PassValues) -> int:
    async with atomic(Pass._meta.db):
        rows = await Pass.insert(Pass(**values.row())).returning(Pass.id)
        pass_id = rows[0]["id"]
        await _replace_pass_offers(pass_id, values.offer_ids)
    return pass_id


async def update_pass(pass_id: int, values: PassValues) -> bool:
    """The pass and the offers it includes change together or not at all."""
    async with atomic(Pass._meta.db):
        rows = await Pass.update(values.row()).where(Pass.id == pass_id).returning(Pass.id)
        if not rows:
            return False
        await _replace_pass_offers(pass_id, values.offer_ids)
    return True


async def get_pass(pass_id: int) -> dict | None:
    return await Pass.select().where(Pass.id == pass_id).first()


async def pass_values(pass_id: int) -> PassValues | None:
    row = await get_pass(pass_id)
    if row is None:
        return None
    offers = await PassOffer.select(PassOffer.offer).where(PassOffer.entry_pass == pass_id)
    fields = {name: row[name] for name in PassValues.__dataclass_fields__ if name != "offer_ids"}
    return PassValues(**fields, offer_ids=sorted(o["offer"] for o in offers))


async def list_passes() -> list[dict]:
    passes = await Pass.select().order_by(Pass.active, ascending=False).order_by(Pass.id)
    links = await PassOffer.select(PassOffer.entry_pass)
    wallets = await WalletPass.select(WalletPass.entry_pass)
    for entry_pass in passes:
        entry_pass["offer_count"] = sum(1 for link in links if link["entry_pass"] == entry_pass["id"])
        entry_pass["activation_count"] = sum(1 for w in wallets if w["entry_pass"] == entry_pass["id"])
    return passes


async def offer_choices() -> list[dict]:
    """Every offer, grouped by shop, for the pass form's checkboxes (inactive ones marked, not hidden)."""
    shops = await Shop.select(Shop.id, Shop.name, Shop.category, Shop.active).order_by(Shop.name).order_by(Shop.id)
    offers = await Offer.select(
        Offer.id, Offer.shop, Offer.title, Offer.active, Offer.limit_kind, Offer.limit_count,
    ).order_by(Offer.position).order_by(Offer.id)
    groups = []
    for shop in shops:
        mine = [o for o in offers if o["shop"] == shop["id"]]
        if mine:
            groups.append({**shop, "offers": mine})
    return groups


# Members' wallet passes ---------------------------------------------------------------------------


async def find_member(text: str) -> dict | None:
    """A member by id or by member number (as printed on the card)."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return None
    where = Member.id == int(text) if text.isdigit() and len(text) < 10 else Member.member_no == text.upper()
    return await Member.select(
        Member.id, Member.member_no, Member.home_prefecture, Member.account.display_name.as_alias("display_name"),
    ).where(where).first()


async def member_wallet_passes(member_id: int) -> list[dict]:
    rows = await WalletPass.select(
        *WalletPass.all_columns(), WalletPass.entry_pass.name.as_alias("pass_name"),
    ).where(WalletPass.member == member_id).order_by(WalletPass.activated_at, ascending=False)
    if rows:
        used = await Redemption.select(Redemption.wallet_pass).where(
            Redemption.wallet_pass.is_in([r["id"] for r in rows]) & Redemption.undone_at.is_null()
        )
        for row in rows:
            row["redemption_count"] = sum(1 for u in used if u["wallet_pass"] == row["id"])
            row["actions"] = [action for action, (_to, starts) in STATUS_ACTIONS.items() if row["status"] in starts]
    return rows


async def get_wallet_pass(wallet_pass_id: int) -> dict | None:
    return await WalletPass.select(WalletPass.id, WalletPass.member, WalletPass.status).where(
        WalletPass.id == wallet_pass_id
    ).first()


async def set_wallet_pass_status(actor_id: int, wallet_pass_id: int, action: str, reason: str, now: datetime) -> str:
    """Suspend, revoke or reactivate a member's pass; audited. The next scan reads the new status.

    Raises FormInvalid (fields "action" and "reason") when the action is unknown, not possible from the
    pass's current status, or the reason is missing; returns the new status.
    """
    reason = unicodedata.normalize("NFKC", reason or "").strip()
    errors: dict[str, str] = {}
    values = {"action": action, "reason": reason}
    current = await get_wallet_pass(wallet_pass_id)
    if current is None:
        raise LookupError(wallet_pass_id)
    if action not in STATUS_ACTIONS:
        errors["action"] = _("Choose what to do with this pass.")
    elif current["status"] not in STATUS_ACTIONS[action][1]:
        errors["action"] = _("This cannot be done while the pass is %(status)s.", status=status_label(current["status"]))
    if not reason and action in ("suspend", "revoke"):
        errors["reason"] = _("Write the reason. It is kept in the audit log.")
    _check_length(errors, "reason", reason, REASON_MAX)
    if errors:
        raise FormInvalid(errors, values)
    new_status = STATUS_ACTIONS[action][0]
    async with atomic(WalletPass._meta.db):
        # Conditional on the status just read: two staff acting at once cannot both change it.
        rows = await WalletPass.update({WalletPass.status: new_status, WalletPass.status_reason: reason}).where(
            (WalletPass.id == wallet_pass_id) & (WalletPass.status == current["status"])
        ).returning(WalletPass.id)
        if not rows:
            raise FormInvalid({"action": _("The pass was changed in the meantime. Check its status and try again.")}, values)
        await AuditLog.insert(
            AuditLog(
                actor=actor_id,
                action="wallet_pass.status",
                target_type="wallet_pass",
                target_id=str(wallet_pass_id),
                detail={"member": current["member"], "from": current["status"], "to": new_status, "reason": reason},
                created_at=now,
            )
        )
    return new_status
