"""Who is logged in: the auth cookie is resolved once per request into `request.state.account`."""

from __future__ import annotations

from litestar import Request
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from app.rate_limit import resolve_login
from app.services.membership import login_sessions
from app.services.membership.login_sessions import SESSION_TTL, CurrentAccount

AUTH_COOKIE = "tsunagu_auth"


def cookie_name(name: str, secure: bool) -> str:
    """On https every cookie of ours is a `__Host-` cookie: the browser then accepts it only from this exact
    host, over https, for the whole site, so a sibling subdomain cannot plant a session or a login."""
    return f"__Host-{name}" if secure else name


def _cookie(scope: Scope, wanted: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _sep, token = part.strip().partition("=")
                if name == wanted and token:
                    return token
    return None


class AuthMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)
    # Files and machine endpoints never need to know who is asking.
    should_bypass_for_scope = staticmethod(
        lambda scope: scope["path"].startswith(("/static/", "/icons/", "/uploads/")) or scope["path"] in ("/sw.js", "/healthz")
    )

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        state = scope.setdefault("state", {})
        if "account" not in state:  # the front layer may have looked the login up already (app/middleware.py)
            token = _cookie(scope, cookie_name(AUTH_COOKIE, scope["app"].state.settings.secure_cookies))
            state["account"] = await resolve_login(scope, token) if token else None
        await next_app(scope, receive, send)


def current_account(request: Request) -> CurrentAccount | None:
    return request.state.get("account")


async def account_asking(request: Request) -> CurrentAccount | None:
    """Who is logged in, for a route the middleware skips (files): looked up only when that route needs to know."""
    token = auth_token(request)
    return await login_sessions.resolve(token) if token else None


def auth_cookie(token: str, secure: bool) -> Cookie:
    return Cookie(
        key=cookie_name(AUTH_COOKIE, secure),
        value=token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def cleared_auth_cookie(secure: bool) -> Cookie:
    return Cookie(key=cookie_name(AUTH_COOKIE, secure), value="", max_age=0, httponly=True, samesite="lax", secure=secure, path="/")


def auth_token(request: Request) -> str | None:
    return request.cookies.get(cookie_name(AUTH_COOKIE, request.app.state.settings.secure_cookies))
