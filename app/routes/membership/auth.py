"""Logging in and out. The passkey ceremony itself is in routes/passkeys.py."""

from litestar import Request, get, post
from litestar.params import FromQuery
from litestar.response import Response

from app.auth import auth_token, cleared_auth_cookie, current_account
from app.rendering import page, safe_next, see_other
from app.routes.membership.passkeys import landing_for
from app.services.membership import login_sessions


@get("/login", name="get_login", cache_control=None)
async def get_login(request: Request, next: FromQuery[str] = "") -> object:
    account = current_account(request)
    if account is not None:
        return see_other(request, safe_next(next) if next else landing_for(request, account.role))
    return page(request, "membership/auth/login.html", {"next": safe_next(next) if next else ""}, cache="no-store")


@post("/logout", name="logout")
async def logout(request: Request) -> Response:
    token = auth_token(request)
    if token:
        await login_sessions.end(token)
    request.clear_session()
    response = see_other(request, request.app.route_reverse("get_logged_out"))
    response.cookies.append(cleared_auth_cookie(request.app.state.settings.secure_cookies))
    return response


@get("/logged-out", name="get_logged_out", cache_control=None)
async def get_logged_out(request: Request) -> object:
    return page(request, "membership/auth/logged_out.html", cache="no-store")


handlers = [get_login, logout, get_logged_out]
