"""The in-app inbox (お知らせ)."""

from litestar import Request, get, post

from app import guards
from app.auth import current_account
from app.page_cache import MEMBER_PAGE
from app.rendering import page, see_other
from app.services.notify import notices


@get("/inbox", name="get_inbox", guards=[guards.logged_in], cache_control=None, opt=MEMBER_PAGE)
async def get_inbox(request: Request) -> object:
    account = current_account(request)
    return page(request, "notify/inbox/inbox.html", {"notices": await notices.inbox(account.id)})


@post("/inbox/read", name="mark_inbox_read", guards=[guards.logged_in])
async def mark_inbox_read(request: Request) -> object:
    await notices.mark_all_read(current_account(request).id)
    return see_other(request, request.app.route_reverse("get_inbox"))


handlers = [get_inbox, mark_inbox_read]
