"""The desk's contact details, from the portal block staff edit, and what sending a mail needs: the mail
server, the desk and the links to an inquiry's pages (given by the routes: services know no URLs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from app.settings import Smtp
from db.tables import PortalBlock


@dataclass(frozen=True)
class Desk:
    name: str
    phone: str = ""
    email: str = ""
    hours: str = ""
    # A notice for a while: days the desk is closed (年末年始, お盆), a change of number. Shown above the rest.
    notice: str = ""


def desk_from_blocks(blocks: list[dict], default_name: str) -> Desk:
    """The desk from the portal's blocks (kind "desk"); only its name when staff have not written one."""
    block = next((b for b in blocks if b["kind"] == "desk"), None)
    if block is None:
        return Desk(default_name)
    fields = json.loads(block["fields"] or "{}") if isinstance(block["fields"], str) else block["fields"]
    fields = fields if isinstance(fields, dict) else {}
    return Desk(block["title"] or default_name, str(fields.get("phone", "")), str(fields.get("email", "")),
                str(fields.get("hours", "")), str(fields.get("notice", "")))


async def load_desk(default_name: str) -> Desk:
    blocks = await PortalBlock.select().where(
        (PortalBlock.kind == "desk") & PortalBlock.active.eq(True)
    ).order_by(PortalBlock.position).output(load_json=True)
    return desk_from_blocks(blocks, default_name)


@dataclass(frozen=True)
class Links:
    """Where an inquiry's pages are. Given by the routes: services know no URLs."""

    base_url: str
    thread: Callable[[int], str]  # the member's thread, a path
    staff: Callable[[int], str]  # the inquiry in the staff inbox, a path

    def absolute(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


@dataclass(frozen=True)
class Post:
    """What sending needs: the mail server, the desk (its name and Reply-To address) and the links."""

    smtp: Smtp
    desk: Desk
    links: Links


# The pages' paths as the routes name them (get_my_inquiry, get_staff_inquiry), for what runs outside a request,
# where no router is at hand: tests/routes/desk check that they still agree.
MEMBER_THREAD_PATH = "/account/inquiries/{id}"
STAFF_INQUIRY_PATH = "/staff/inquiries/{id}"


def round_links(base_url: str) -> Links:
    return Links(base_url, thread=lambda inquiry_id: MEMBER_THREAD_PATH.format(id=inquiry_id),
                 staff=lambda inquiry_id: STAFF_INQUIRY_PATH.format(id=inquiry_id))
