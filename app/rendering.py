"""Full page or fragment from the same template, as CONVENTIONS.md habit 4 asks; and where a redirect may go."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from litestar import MediaType, Request
from litestar.response import Redirect, Response, Template

from app.services.shared.text import is_site_path
from app.templating import STATIC_DIR

PRINT_CSS = "css/print.css"


def wants_fragment(request: Request) -> bool:
    """An HTMX request that is neither boosted nor a history restore wants only the fragment."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    cache: str = "no-cache",
) -> Template:
    """Render `template`, or only `fragment` for an HTMX request.

    `cache="no-store"` keeps a page out of the browser's and the service worker's caches (staff pages,
    one-time links); member pages stay "no-cache" so the service worker can keep them for offline use.
    """
    name = fragment if fragment and wants_fragment(request) else template
    return Template(
        template_name=name,
        context=context or {},
        status_code=status_code,
        media_type=MediaType.HTML,
        headers={"Vary": "HX-Request, Cookie, Accept-Language", "Cache-Control": cache},
    )


def see_other(request: Request, path: str) -> Response:
    """The end of a POST that changed data: 303, so a plain form and a reload both behave.

    An HTMX fragment request would follow a 303 inside its XHR and swap the next page into the form,
    so it is told to load the next page as a page (HX-Redirect: HX-Location's follow-up request would
    itself look like a fragment request and get only a fragment back). Like every redirect, it leads
    only to a path on this site (safe_next).
    """
    path = safe_next(path)
    if wants_fragment(request):
        return Response(b"", status_code=200, headers={"HX-Redirect": path})
    return Redirect(path=path, status_code=303)


def safe_next(target: str | None) -> str:
    """The place to go after login or a language change: a path on this site, or the home page.

    Browsers forgive a lot: they drop tabs and newlines inside a URL, read `\\` as `/`, and decode
    `%2F`, so `/%09/evil.example` or `/\\evil.example` lead off the site although they start with one
    slash. A target is taken only if, as given and as decoded (a few rounds), it is a path with no
    scheme or host and holds no backslash, whitespace or control or format character.
    """
    if not target or len(target) > MAX_NEXT:
        return "/"
    text = target
    for _round in range(3):
        if not is_site_path(text):
            return "/"
        decoded = unquote(text)
        if decoded == text:
            return target
        text = decoded
    return "/"  # still encoded after three rounds: no link of ours looks like that


MAX_NEXT = 2000


def csv_download(filename: str, text: str) -> Response:
    """A CSV file to save (the text carries its BOM for Excel); never kept by a cache: it holds personal data."""
    return Response(
        text.encode("utf-8"),
        media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types
        headers={"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"},
    )


def print_stylesheet(request: Request, for_pdf: bool) -> str:
    """The stylesheet of a printable page (the yearly report, a 登録証): from this site in the browser, a file://
    URL when Chromium prints the page to PDF from a file with no server behind it."""
    if for_pdf:
        return (STATIC_DIR / PRINT_CSS).as_uri()
    return request.app.template_engine.engine.globals["static_url"](PRINT_CSS)
