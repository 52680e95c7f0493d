"""What makes Tsunagu installable and usable offline: manifest, icons, theme, service worker, offline page."""

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response

from app.i18n import gettext as _
from app.icons import ICON_SIZES, draw_icon, icon_svg
from app.rendering import page
from app.service_worker import build_service_worker

ICON_CACHE = "public, max-age=86400"
PRECACHED_STATIC = ("css/app.css", "js/http.js", "js/app.js", "vendor/htmx-2.0.8.min.js")


@get("/manifest.webmanifest", name="get_manifest")
async def get_manifest(request: Request) -> Response:
    branding = request.app.state.settings.branding
    icons = [
        {"src": f"/icons/icon-{size}.png", "sizes": f"{size}x{size}", "type": "image/png", "purpose": "any"}
        for size in ICON_SIZES
    ]
    icons.append({"src": "/icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"})
    manifest = {
        "id": "/",
        "name": branding.site_name,
        "short_name": branding.short_name,
        "description": branding.tagline,
        "lang": "ja",
        "dir": "ltr",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        # No orientation lock: a shop's tablet at the counter stands in landscape (WCAG 1.3.4).
        "background_color": "#ffffff",
        "theme_color": branding.theme_color,
        "categories": ["lifestyle", "travel", "government"],
        "icons": icons,
        # A long press on the installed app's icon opens these directly.
        "shortcuts": [
            {"name": str(_("Member card")), "url": request.app.route_reverse("get_card"),
             "icons": [{"src": "/icons/icon-192.png", "sizes": "192x192", "type": "image/png"}]},
            {"name": str(_("Wallet")), "url": request.app.route_reverse("get_wallet"),
             "icons": [{"src": "/icons/icon-192.png", "sizes": "192x192", "type": "image/png"}]},
        ],
        # Shown by the browser's richer install dialog.
        "screenshots": [
            {"src": f"/static/screenshots/{name}-phone.png", "sizes": "390x844", "type": "image/png", "form_factor": "narrow", "label": str(label)}
            for name, label in (("home", _("Portal")), ("card", _("Member card")))
        ],
    }
    return Response(manifest, media_type="application/manifest+json", headers={"Cache-Control": "no-cache"})


@get("/icons/{filename:str}", name="get_icon")
async def get_icon(request: Request, filename: FromPath[str]) -> Response:
    branding = request.app.state.settings.branding
    if filename == "icon.svg":
        return Response(icon_svg(branding.theme_color, branding.accent_color), media_type="image/svg+xml",
                        headers={"Cache-Control": ICON_CACHE})
    known = {f"icon-{size}.png": (size, False) for size in ICON_SIZES}
    known.update({"maskable-512.png": (512, True), "apple-touch-icon.png": (180, True)})
    if filename not in known:
        raise NotFoundException()
    size, maskable = known[filename]
    png = draw_icon(size, branding.theme_color, branding.accent_color, maskable)
    return Response(png, media_type="image/png", headers={"Cache-Control": ICON_CACHE})


@get("/theme.css", name="get_theme_css")
async def get_theme_css(request: Request) -> Response:
    branding = request.app.state.settings.branding
    css = f":root {{ --brand: {branding.theme_color}; --accent: {branding.accent_color}; }}\n"
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-cache"})


@get("/sw.js", name="get_service_worker")
async def get_service_worker(request: Request) -> Response:
    app = request.app
    if "service_worker" not in app.state:
        static_url = app.template_engine.engine.globals["static_url"]
        precache = [static_url(path) for path in PRECACHED_STATIC]
        # The logo every page shows, and the notification icon (service_worker/push.js).
        precache += ["/theme.css", "/manifest.webmanifest", "/icons/icon.svg", "/icons/icon-192.png"]
        app.state.service_worker = build_service_worker(precache, app.route_reverse("get_offline"), "0.1.0")
    script, version = app.state.service_worker
    return Response(
        script,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "X-SW-Version": version, "Service-Worker-Allowed": "/"},
    )


@get("/offline", name="get_offline")
async def get_offline(request: Request) -> object:
    return page(request, "system/offline.html", {"title": _("You are offline")})


handlers = [get_manifest, get_icon, get_theme_css, get_service_worker, get_offline]
