"""The secretariat's shops: the shop form, and the shops with how many offers each has."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import asdict, dataclass

from app.i18n import gettext as _
from app.services.shared.refusals import FormInvalid
from app.services.wallet.admin_forms import LINE_MAX, LONG_TEXT_MAX, NAME_MAX, block, check_length, check_url, flag, line
from app.services.wallet.wallet import SHOP_CATEGORIES
from db.tables import Area, Offer, Shop

PHONE_MAX = 20
PHONE_PATTERN = re.compile(r"^[0-9+\- ]+$")


@dataclass
class ShopValues:
    name: str = ""
    category: str = ""
    description: str = ""
    address: str = ""
    map_url: str = ""
    opening_hours: str = ""
    notice: str = ""
    phone: str = ""
    photo_url: str = ""
    area: int | None = None  # optional: a shop outside every area is still a shop
    active: bool = True

    def row(self) -> dict:
        return asdict(self)


def parse_shop(form: dict, area_ids: Collection[int] = ()) -> ShopValues:
    """Read the shop form; `area_ids` are the areas it may name (read_shop passes the ones there are)."""
    area_text = line(form.get("area"))
    values = ShopValues(
        name=line(form.get("name")),
        category=line(form.get("category")),
        description=block(form.get("description")),
        address=line(form.get("address")),
        map_url=line(form.get("map_url")),
        opening_hours=line(form.get("opening_hours")),
        notice=line(form.get("notice")),
        phone=line(form.get("phone")),
        photo_url=line(form.get("photo_url")),
        active=flag(form.get("active")),
    )
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = _("Enter the shop's name.")
    check_length(errors, "name", values.name, NAME_MAX)
    if values.category not in SHOP_CATEGORIES:
        errors["category"] = _("Choose a category.")
    check_length(errors, "description", values.description, LONG_TEXT_MAX)
    check_length(errors, "address", values.address, LINE_MAX)
    check_url(errors, "map_url", values.map_url, required=True)
    check_length(errors, "opening_hours", values.opening_hours, LINE_MAX)
    check_length(errors, "notice", values.notice, LINE_MAX)
    if values.phone and (len(values.phone) > PHONE_MAX or not PHONE_PATTERN.match(values.phone)):
        errors["phone"] = _("Use digits, +, - and spaces only, %(max)d characters at most (for example 0144-12-3456).",
                            max=PHONE_MAX)
    check_url(errors, "photo_url", values.photo_url, required=False)
    if area_text:
        # Anything but the id of an existing area (a stale form, a hand-made request) is a field error.
        area_id = int(area_text) if area_text.isascii() and area_text.isdecimal() and len(area_text) <= 9 else None
        if area_id in area_ids:
            values.area = area_id
        else:
            errors["area"] = _("Choose an area from the list, or leave it empty.")
    if errors:
        raise FormInvalid(errors, values)
    return values


async def read_shop(form: dict) -> ShopValues:
    """parse_shop against the areas there are now. Raises FormInvalid."""
    return parse_shop(form, {row["id"] for row in await Area.select(Area.id)})


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


def shop_values(row: dict) -> ShopValues:
    return ShopValues(**{name: row[name] for name in ShopValues.__dataclass_fields__})
