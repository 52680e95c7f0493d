"""The secretariat's home: where each part of the work starts, with what waits for them."""

from __future__ import annotations

from litestar import Request, get

from app import guards
from app.rendering import page
from app.services.membership import membership
from app.services.review import moderation


@get("/staff", name="staff_home", guards=[guards.staff], cache_control=None)
async def staff_home(request: Request) -> object:
    counts = {"members": await membership.member_count(), "pending": await moderation.pending_count()}
    return page(request, "console/index.html", {"counts": counts}, cache="no-store")


handlers = [staff_home]
