"""The secretariat edits the public portal: the hero message and image, the link cards (add, edit, reorder,
hide) and the consultation desk's contact details. The programs and articles featured on the home page are
chosen in featured_admin.py, which writes its block with the helpers here.

Every block is a PortalBlock row (see services/portal.py for how the portal reads them); every change is
written with its audit entry in one transaction. The routes clear the portal cache after a change.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.desk.contact import Desk, desk_from_blocks
from app.services.desk.validation import normalise_phone, phone_is_valid
from app.services.membership.membership import EMAIL_MAX, EMAIL_PATTERN
from app.services.portal.portal import LinkCard
from app.services.shared import clock, uploads
from app.services.shared.refusals import FormInvalid, Refusal
from app.services.shared.uploads import PreparedImage
from db.engine import atomic, is_row_id
from db.tables import AuditLog, PortalBlock

HERO_KEY, DESK_KEY = "hero", "desk"
# The icons a link card may show (components/icons.html draws them).
ICONS = {
    "gift": _l("Gift"),
    "home": _l("House"),
    "laptop": _l("Laptop"),
    "globe": _l("Globe"),
    "compass": _l("Compass"),
    "ticket": _l("Ticket"),
    "chat": _l("Speech bubble"),
    "arrow": _l("Arrow"),
}
HERO_TITLE_MAX, HERO_BODY_MAX, ALT_MAX = 100, 400, 200
LINK_TITLE_MAX, LINK_BODY_MAX, URL_MAX = 40, 120, 500
DESK_NAME_MAX, HOURS_MAX = 100, 200
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class PortalInvalid(FormInvalid):
    """Field name → message, and the values as typed, to show the form again."""


class PortalRefused(Refusal):
    """The step is not possible: not_found | full | not_public | links_exist."""


@dataclass
class HeroValues:
    title: str = ""
    body: str = ""
    image: str = ""  # /uploads/<name>, or "" for none
    image_alt: str = ""


@dataclass
class LinkValues:
    title: str = ""
    body: str = ""
    url: str = ""
    icon: str = "arrow"


def icon_choices() -> list[tuple[str, str]]:
    return [(code, str(label)) for code, label in ICONS.items()]


def _text(form: dict, name: str, multiline: bool = False) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    if not isinstance(value, str):
        return ""
    value = CONTROL.sub("", value).replace("\r\n", "\n").strip()
    return value if multiline else " ".join(value.split())


def _too_long(errors: dict[str, str], name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        errors[name] = _("Use %(max)d characters or fewer.", max=limit)


def web_address_error(url: str) -> str | None:
    """A link card opens in the visitor's browser: only http(s) addresses with a host, nothing else
    (javascript:, data: and the like never reach the page)."""
    if not url:
        return _("Enter the address of the page, starting with https://.")
    if len(url) > URL_MAX:
        return _("Use %(max)d characters or fewer.", max=URL_MAX)
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        return _("Enter an address that starts with https:// (or http://), such as https://www.city.example.jp/.")
    return None


# Reading ----------------------------------------------------------------------------------------------


async def block_of(key: str) -> dict | None:
    """The block with this key (hero, desk, featured), its fields read as JSON; None until it is written."""
    return await PortalBlock.select().where(PortalBlock.key == key).first().output(load_json=True)


def fields_of(block: dict | None) -> dict:
    """A block's fields, or {} for no block or fields that are not a mapping."""
    fields = block["fields"] if block else {}
    return fields if isinstance(fields, dict) else {}


async def hero_values(default_title: str, default_body: str) -> HeroValues:
    """The hero as stored, or the defaults the portal shows until staff write one."""
    block = await block_of(HERO_KEY)
    if block is None:
        return HeroValues(default_title, default_body)
    fields = fields_of(block)
    return HeroValues(block["title"], block["body"], str(fields.get("image", "")), str(fields.get("image_alt", "")))


async def desk_values(default_name: str) -> Desk:
    """The desk as stored (shown or not), read the way the inquiry pages read it."""
    block = await block_of(DESK_KEY)
    return desk_from_blocks([block] if block else [], default_name)


async def link_blocks() -> list[dict]:
    """Every link card, shown and hidden, in portal order."""
    return await PortalBlock.select().where(PortalBlock.kind == "link").order_by(PortalBlock.position).order_by(
        PortalBlock.id
    )


async def link_block(block_id: int) -> dict:
    row = None
    if is_row_id(block_id):
        row = await PortalBlock.select().where((PortalBlock.id == block_id) & (PortalBlock.kind == "link")).first()
    if row is None:
        raise PortalRefused("not_found")
    return row


def link_values(block: dict) -> LinkValues:
    return LinkValues(block["title"], block["body"], block["url"], block["icon"] or "arrow")


# Writing ----------------------------------------------------------------------------------------------


async def audit(actor_id: int | None, action: str, block_id: int, detail: dict) -> None:
    """The audit entry for a change to a portal block (inside the caller's transaction)."""
    await AuditLog.insert(AuditLog(actor=actor_id, action=action, target_type="portal_block", target_id=str(block_id),
                                   detail=detail, created_at=clock.now()))


async def upsert_block(key: str, kind: str, title: str, fields: dict, body: str | None = None) -> int:
    """Write the block with this key, creating it when it is not there yet (inside the caller's transaction).
    A body of None is left as it is (the desk's body is not part of this editor)."""
    changes = {PortalBlock.title: title, PortalBlock.fields: fields, PortalBlock.updated_at: clock.now()}
    if body is not None:
        changes[PortalBlock.body] = body
    rows = await PortalBlock.update(changes).where(PortalBlock.key == key).returning(PortalBlock.id)
    if not rows:
        rows = await PortalBlock.insert(PortalBlock(
            kind=kind, key=key, title=title, body=body or "", fields=fields, updated_at=clock.now()
        )).returning(PortalBlock.id)
    return rows[0]["id"]


async def parse_hero(form: dict) -> HeroValues:
    values = HeroValues(
        title=_text(form, "title"), body=_text(form, "body", multiline=True),
        image="" if _text(form, "remove_image") else _text(form, "image"), image_alt=_text(form, "image_alt"),
    )
    errors: dict[str, str] = {}
    if not values.title:
        errors["title"] = _("Enter a heading.")
    _too_long(errors, "title", values.title, HERO_TITLE_MAX)
    _too_long(errors, "body", values.body, HERO_BODY_MAX)
    _too_long(errors, "image_alt", values.image_alt, ALT_MAX)
    if values.image and not await uploads.is_public(values.image):
        errors["image_file"] = _("Upload the image again.")
        values.image = ""
    if errors:
        raise PortalInvalid(errors, values)
    return values


async def save_hero(values: HeroValues, image: PreparedImage | None, var_dir: Path, actor_id: int | None) -> None:
    """Save the hero; a newly chosen image is stored with it, or not at all (no row, no file)."""
    stored = ""
    try:
        async with atomic(PortalBlock._meta.db):
            if image is not None:
                stored = values.image = await uploads.store(image, var_dir, actor_id)
            fields = {"image": values.image, "image_alt": values.image_alt} if values.image else {}
            block_id = await upsert_block(HERO_KEY, "hero", values.title, fields, values.body)
            await audit(actor_id, "portal.hero", block_id, asdict(values))
    except BaseException:
        if stored:
            await uploads.discard(stored, var_dir)
        raise


def parse_link(form: dict) -> LinkValues:
    values = LinkValues(title=_text(form, "title"), body=_text(form, "body"), url=_text(form, "url"),
                        icon=_text(form, "icon"))
    errors: dict[str, str] = {}
    if not values.title:
        errors["title"] = _("Enter a title.")
    _too_long(errors, "title", values.title, LINK_TITLE_MAX)
    _too_long(errors, "body", values.body, LINK_BODY_MAX)
    if (problem := web_address_error(values.url)) is not None:
        errors["url"] = problem
    if values.icon not in ICONS:
        errors["icon"] = _("Choose from the list.")
        values.icon = "arrow"
    if errors:
        raise PortalInvalid(errors, values)
    return values


async def _next_position() -> int:
    return max((block["position"] for block in await link_blocks()), default=0) + 1


async def create_link(values: LinkValues, actor_id: int | None) -> int:
    """A new link card at the end of the list, shown at once."""
    async with atomic(PortalBlock._meta.db):
        rows = await PortalBlock.insert(PortalBlock(
            kind="link", key=f"link-{secrets.token_hex(6)}", title=values.title, body=values.body, url=values.url,
            icon=values.icon, position=await _next_position(), updated_at=clock.now(),
        )).returning(PortalBlock.id)
        await audit(actor_id, "portal.link.create", rows[0]["id"], asdict(values))
    return rows[0]["id"]


async def update_link(block_id: int, values: LinkValues, actor_id: int | None) -> None:
    await link_block(block_id)
    async with atomic(PortalBlock._meta.db):
        await PortalBlock.update({
            PortalBlock.title: values.title, PortalBlock.body: values.body, PortalBlock.url: values.url,
            PortalBlock.icon: values.icon, PortalBlock.updated_at: clock.now(),
        }).where(PortalBlock.id == block_id)
        await audit(actor_id, "portal.link.update", block_id, asdict(values))


async def move_link(block_id: int, direction: str, actor_id: int | None) -> None:
    """Swap a card with its neighbour above or below. Positions are renumbered 1..n on the way, so cards
    that share a position (or have gaps) still move one step at a time."""
    if direction not in ("up", "down"):
        raise PortalRefused("not_found")
    async with atomic(PortalBlock._meta.db):
        order = [row["id"] for row in await link_blocks()]
        if block_id not in order:
            raise PortalRefused("not_found")
        index = order.index(block_id)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(order):
            order[index], order[other] = order[other], order[index]
        for position, row_id in enumerate(order, start=1):
            await PortalBlock.update({PortalBlock.position: position}).where(PortalBlock.id == row_id)
        await audit(actor_id, "portal.link.move", block_id, {"direction": direction})


async def set_link_shown(block_id: int, shown: bool, actor_id: int | None) -> None:
    await link_block(block_id)
    async with atomic(PortalBlock._meta.db):
        await PortalBlock.update({PortalBlock.active: shown, PortalBlock.updated_at: clock.now()}).where(
            PortalBlock.id == block_id)
        await audit(actor_id, "portal.link.show" if shown else "portal.link.hide", block_id, {})


async def copy_default_links(defaults: list[LinkCard], actor_id: int | None) -> None:
    """Turn the default cards (from settings) into blocks staff can edit: only while there are none."""
    async with atomic(PortalBlock._meta.db):
        if await PortalBlock.exists().where(PortalBlock.kind == "link"):
            raise PortalRefused("links_exist")
        for position, card in enumerate(defaults, start=1):
            rows = await PortalBlock.insert(PortalBlock(
                kind="link", key=f"link-{secrets.token_hex(6)}", title=card.title, body=card.body, url=card.url,
                icon=card.icon, position=position, updated_at=clock.now(),
            )).returning(PortalBlock.id)
            await audit(actor_id, "portal.link.create", rows[0]["id"], asdict(card))


def parse_desk(form: dict) -> Desk:
    values = Desk(name=_text(form, "name"), phone=normalise_phone(_text(form, "phone")),
                        email=_text(form, "email"), hours=_text(form, "hours"), notice=_text(form, "notice"))
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = _("Enter the desk's name.")
    _too_long(errors, "name", values.name, DESK_NAME_MAX)
    _too_long(errors, "hours", values.hours, HOURS_MAX)
    _too_long(errors, "notice", values.notice, HOURS_MAX)
    if values.phone and not phone_is_valid(values.phone):
        errors["phone"] = _("Enter a phone number with its area code, such as 0144-32-6111.")
    if values.email and (len(values.email) > EMAIL_MAX or not EMAIL_PATTERN.match(values.email)):
        errors["email"] = _("Enter an e-mail address such as taro@example.jp.")
    if not (values.phone or values.email) and not ({"phone", "email"} & errors.keys()):
        errors["phone"] = _("Enter a phone number or an e-mail address, so people can reach the desk.")
    if errors:
        raise PortalInvalid(errors, values)
    return values


async def save_desk(values: Desk, actor_id: int | None) -> None:
    async with atomic(PortalBlock._meta.db):
        fields = {"phone": values.phone, "email": values.email, "hours": values.hours, "notice": values.notice}
        block_id = await upsert_block(DESK_KEY, "desk", values.name, fields)
        await audit(actor_id, "portal.desk", block_id, asdict(values))
