"""The secretariat's offers: how often a member may use one, the offer form, and a shop's offers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared.refusals import FormInvalid
from app.services.wallet.admin_forms import (
    LONG_TEXT_MAX,
    NAME_MAX,
    block,
    check_length,
    check_url,
    flag,
    line,
    parse_date,
    whole_number,
)
from db.tables import Offer

LIMIT_KINDS = ("once", "per_day", "unlimited")
LIMIT_KIND_LABELS = {
    "once": _l("Once per member"),
    "per_day": _l("Up to N times a day"),
    "unlimited": _l("Unlimited"),
}
PER_DAY_MAX = 20
POSITION_MAX = 9999


def limit_label(kind: str, count: int = 1) -> str:
    if kind == "per_day":
        return _("Up to %(count)d times a day", count=count)
    return str(LIMIT_KIND_LABELS.get(kind, kind))


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
    premium_only: bool = False
    position: int | str = 0

    def row(self) -> dict:
        return asdict(self)


def parse_offer(form: dict) -> OfferValues:
    count_text = line(form.get("limit_count"))
    from_text, to_text = line(form.get("valid_from")), line(form.get("valid_to"))
    position_text = line(form.get("position")) or "0"
    values = OfferValues(
        title=line(form.get("title")),
        description=block(form.get("description")),
        terms=block(form.get("terms")),
        limit_kind=line(form.get("limit_kind")),
        limit_count=count_text,
        valid_from=from_text,
        valid_to=to_text,
        image_url=line(form.get("image_url")),
        active=flag(form.get("active")),
        premium_only=flag(form.get("premium_only")),
        position=position_text,
    )
    errors: dict[str, str] = {}
    if not values.title:
        errors["title"] = _("Enter the offer's title.")
    check_length(errors, "title", values.title, NAME_MAX)
    check_length(errors, "description", values.description, LONG_TEXT_MAX)
    check_length(errors, "terms", values.terms, LONG_TEXT_MAX)
    count = 1
    if values.limit_kind not in LIMIT_KINDS:
        errors["limit_kind"] = _("Choose how often a member may use it.")
    elif values.limit_kind == "per_day":
        count = whole_number(count_text, 1, PER_DAY_MAX)
        if count is None:
            errors["limit_count"] = _("Enter a whole number from %(low)d to %(high)d.", low=1, high=PER_DAY_MAX)
    valid_from = parse_date(from_text) if from_text else None
    valid_to = parse_date(to_text) if to_text else None
    if from_text and valid_from is None:
        errors["valid_from"] = _("Enter a date such as 2026-04-01.")
    if to_text and valid_to is None:
        errors["valid_to"] = _("Enter a date such as 2026-04-01.")
    if valid_from and valid_to and valid_to < valid_from:
        errors["valid_to"] = _("The last day must be on or after the first day.")
    check_url(errors, "image_url", values.image_url, required=False)
    position = whole_number(position_text, 0, POSITION_MAX)
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
