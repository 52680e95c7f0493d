"""Every error a person can cause becomes a page in their language (or JSON for JSON clients)."""

from __future__ import annotations

import logging
import traceback
from urllib.parse import urlencode

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState
from markupsafe import escape

from app.i18n import gettext as _
from db.engine import unavailable

log = logging.getLogger("tsunagu.errors")

CSRF_FAILURE = "CSRF token verification failed"


def _messages(status: int, detail: str) -> tuple[str, str]:
    """(title, what to do) for a status; texts are translated when the error happens."""
    if status == 403 and detail == CSRF_FAILURE:
        return (
            _("This form has expired"),
            _("For your security the form could not be accepted. Reload the page and try again."),
        )
    table = {
        400: (_("We could not read what was sent"), _("Check what you entered and try again.")),
        401: (_("Please log in"), _("Log in with your passkey to see this page.")),
        403: (_("You cannot open this page"), _("Your account does not have access to this page.")),
        404: (_("Page not found"), _("The page may have moved or been removed. Try the home page.")),
        405: (_("This action is not available here"), _("Go back and use the buttons on the page.")),
        413: (_("What you sent is too large"), _("Make the file or text smaller and try again.")),
        429: (_("Too many attempts"), _("Please wait a moment and try again.")),
        503: (_("We could not finish this just now"),
              _("The connection to our database was interrupted for a moment. Please try again in a few seconds.")),
    }
    if status in table:
        return table[status]
    if status < 500:
        return (_("The request could not be completed"), _("Check what you entered and try again."))
    return (
        _("Something went wrong on our side"),
        # Nothing is promised about what was sent: the failure may have come before or after it was saved.
        _("Please wait a moment and try again."),
    )


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _render(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    title, hint = _messages(status, detail)
    if _wants_json(request):
        return Response({"status": status, "title": title, "detail": hint}, status_code=status, headers=headers)
    headers = {"Cache-Control": "no-store", **(headers or {})}
    # Rendered here, not lazily, so that a failure in the error page itself still answers plainly.
    try:
        template = request.app.template_engine.get_template("errors/error.html")
        body = template.render(
            request=request,
            status=status,
            title=title,
            hint=hint,
            csrf_input=_csrf_input(request),
        )
    except Exception:
        log.exception("the error page could not be rendered")
        body = f"<!doctype html><meta charset=utf-8><title>{status}</title><h1>{escape(title)}</h1><p>{escape(hint)}</p>"
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=headers)


def _csrf_input(request: Request) -> str:
    token = ScopeState.from_scope(request.scope).csrf_token
    if not isinstance(token, str):
        return ""
    return f'<input type="hidden" name="_csrf_token" value="{escape(token)}" />'


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    headers = dict(exc.headers or {})
    if exc.status_code == 401 and not _wants_json(request):
        return _to_login(request)
    return _render(request, exc.status_code, str(exc.detail), headers)


def _to_login(request: Request) -> Response:
    """A page that needs a login sends the person to log in and brings them back afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "") if request.method == "GET" else ""
    login = request.app.route_reverse("get_login") + (f"?{urlencode({'next': target})}" if target else "")
    if request.headers.get("hx-request") == "true":
        return Response("", status_code=401, headers={"HX-Redirect": login})
    return Redirect(login, status_code=303)


# Litestar decodes every multipart field as UTF-8 and lets the error out: bytes that are no UTF-8 text in a
# form are the sender's mistake (a 400 page), told apart from our own decoding bugs by where they failed.
BODY_PARSERS = ("litestar/_multipart.py", "litestar/connection/request.py")


def _failed_reading_the_body(exc: Exception) -> bool:
    if not isinstance(exc, UnicodeDecodeError):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.endswith(BODY_PARSERS)


def internal_error_handler(request: Request, exc: Exception) -> Response:
    if _failed_reading_the_body(exc):
        return _render(request, 400, "")
    if unavailable(exc):  # a lost database connection, not a bug: logged where it was noticed (db/engine.py)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return _render(request, 503, "", {"Retry-After": "5"})
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _render(request, 500, "")
