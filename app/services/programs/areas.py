"""Areas (市町・地域): the towns or districts that host programs; editors are scoped to one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.i18n import gettext as _
from app.services.shared.refusals import FormInvalid
from db.engine import is_unique_violation
from db.tables import Area

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
NAME_MAX, DESCRIPTION_MAX = 100, 2000


@dataclass
class AreaValues:
    name: str = ""
    slug: str = ""
    description: str = ""
    image_url: str = ""
    position: int = 0


class AreaInvalid(FormInvalid):
    """What staff typed into the area form cannot be saved."""


def validate_area(form: dict) -> AreaValues:
    def text(name: str) -> str:
        return str(form.get(name, "") or "").strip()

    values = AreaValues(name=text("name"), slug=text("slug").lower(), description=text("description"),
                        image_url=text("image_url"))
    errors: dict[str, str] = {}
    if not values.name or len(values.name) > NAME_MAX:
        errors["name"] = _("Enter a name of %(max)d characters or fewer.", max=NAME_MAX)
    if not SLUG.match(values.slug):
        errors["slug"] = _("Use lower-case letters, digits and hyphens, for example yufutsu.")
    if len(values.description) > DESCRIPTION_MAX:
        errors["description"] = _("Use %(max)d characters or fewer.", max=DESCRIPTION_MAX)
    if values.image_url and not (values.image_url.startswith("/uploads/") or values.image_url.startswith("https://")):
        errors["image_url"] = _("Enter a link that starts with https://.")
    position = text("position") or "0"
    if position.isdecimal() and int(position) <= 9999:
        values.position = int(position)
    else:
        errors["position"] = _("Enter a whole number from %(low)d to %(high)d.", low=0, high=9999)
    if errors:
        raise AreaInvalid(errors, values)
    return values


async def save_area(values: AreaValues, area_id: int | None = None) -> int:
    """Create or update; a slug already used by another area is reported next to its field."""
    columns = {Area.name: values.name, Area.slug: values.slug, Area.description: values.description,
               Area.image_url: values.image_url, Area.position: values.position}
    try:
        if area_id is None:
            rows = await Area.insert(Area(**{c._meta.name: v for c, v in columns.items()})).returning(Area.id)
        else:
            rows = await Area.update(columns).where(Area.id == area_id).returning(Area.id)
    except Exception as exc:
        if is_unique_violation(exc):
            raise AreaInvalid({"slug": _("Another area already uses this address name.")}, values) from None
        raise
    if not rows:
        raise LookupError(area_id)
    return rows[0]["id"]


async def area_values(area_id: int) -> AreaValues | None:
    """An area as its edit form shows it; None when there is no such area."""
    row = await Area.select().where(Area.id == area_id).first()
    if row is None:
        return None
    return AreaValues(row["name"], row["slug"], row["description"], row["image_url"], row["position"])


async def area_name(area_id: int | None) -> str:
    """The area's name, or "" for no area (an editor not yet assigned one) or one that no longer exists."""
    if not area_id:
        return ""
    row = await Area.select(Area.name).where(Area.id == area_id).first()
    return row["name"] if row else ""


async def list_areas() -> list[dict]:
    return await Area.select().order_by(Area.position).order_by(Area.id)


async def choices() -> list[dict]:
    """Every area as {id, name}, in the staff's order: what every area filter, target and form lists."""
    return await Area.select(Area.id, Area.name).order_by(Area.position).order_by(Area.name).order_by(Area.id)
