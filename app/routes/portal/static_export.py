"""The portal outside the app: the secretariat builds the static HTML export of the public pages for the city's own
web server (app/services/portal/static_export.py), sees when it was last built and downloads it."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import File

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.rendering import page, see_other
from app.services.portal import static_export
from app.services.shared import clock
from app.settings import Settings
from app.static_pages import page_fetcher

STAFF = [guards.staff]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


@get("/staff/portal/static", name="get_static_export", guards=STAFF, cache_control=None)
async def get_static_export(request: Request) -> object:
    settings = _settings(request)
    build = await static_export.last_build(settings.var_dir)
    context = {
        "build": build,
        "size_mb": f"{build.size / (1024 * 1024):.1f}" if build else "",
        "contents": await static_export.contents(clock.now()),
        "max_articles": static_export.MAX_ARTICLES,
        "base_url": settings.base_url,
    }
    return page(request, "portal/staff/static_export.html", context, cache="no-store")


@post("/staff/portal/static", name="build_static_export", guards=STAFF)
async def build_static_export(request: Request) -> object:
    """Every page is rendered by this app, as a visitor sees it (app/static_pages.py), then written to the archive."""
    settings = _settings(request)
    try:
        build = await static_export.build(
            page_fetcher(request.app), request.app.route_reverse, settings.base_url, settings.default_locale,
            settings.var_dir, current_account(request).id)
    except OSError:
        message = _("The HTML could not be written to the server's disk; the last one built is kept. Ask the server's administrator.")
        request.session["flash"] = message
    else:
        request.session["flash"] = _("The HTML was built: %(pages)d pages and %(images)d images.",
                                     pages=build.pages, images=build.images)
    return see_other(request, request.app.route_reverse("get_static_export"))


@get("/staff/portal/static/portal-static.zip", name="download_static_export", guards=STAFF, cache_control=None)
async def download_static_export(request: Request) -> File:
    build = await static_export.last_build(_settings(request).var_dir)
    if build is None:
        raise NotFoundException()
    return File(build.path, filename=build.filename, media_type="application/zip", headers={"Cache-Control": "no-store"})


handlers = [get_static_export, build_static_export, download_static_export]
