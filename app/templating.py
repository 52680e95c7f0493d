"""The Jinja environment: translations, branding, static URLs with content hashes, the bottom navigation."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine

from app import i18n
from app.settings import Settings

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# The member's bottom navigation: (route name, label, icon). An item shows once its route exists,
# so each part of the product adds its own tab by registering the route, without touching this base.
MEMBER_NAV = (
    ("get_home", i18n.lazy_gettext("Home"), "home"),
    ("list_programs", i18n.lazy_gettext("Programs"), "compass"),
    ("get_wallet", i18n.lazy_gettext("Wallet"), "ticket"),
    ("get_card", i18n.lazy_gettext("Card"), "card"),
    ("get_inbox", i18n.lazy_gettext("News"), "bell"),
)


def static_hashes(directory: Path = STATIC_DIR) -> dict[str, str]:
    """Content hash of every static file, computed once at start: `?v=` changes only when the file does."""
    hashes = {}
    for path in directory.rglob("*"):
        if path.is_file():
            hashes[path.relative_to(directory).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return hashes


def make_template_engine(settings: Settings) -> JinjaTemplateEngine:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "xml", "svg"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    hashes = static_hashes()

    def static_url(path: str) -> str:
        version = hashes.get(path)
        return f"/static/{path}?v={version}" if version else f"/static/{path}"

    @pass_context
    def has_route(context: Mapping[str, Any], name: str) -> bool:
        return context["request"].app.get_handler_index_by_name(name) is not None

    resolved_nav: list[tuple[str, Any, str]] = []

    @pass_context
    def member_nav(context: Mapping[str, Any]) -> list[dict[str, Any]]:
        request = context["request"]
        if not resolved_nav:  # routes are fixed once the app exists: look them up on the first page only
            app = request.app
            resolved_nav.extend(
                (app.route_reverse(name), label, icon)
                for name, label, icon in MEMBER_NAV
                if app.get_handler_index_by_name(name) is not None
            )
        path = request.url.path
        return [
            {"href": href, "label": str(label), "icon": icon, "current": path == href or (href != "/" and path.startswith(href))}
            for href, label, icon in resolved_nav
        ]

    @pass_context
    def signed_in(context: Mapping[str, Any]):
        return context["request"].scope.get("state", {}).get("account")

    @pass_context
    def take_flash(context: Mapping[str, Any]) -> str | None:
        """The one-off message a redirect left behind (shown once, then gone)."""
        session = context["request"].scope.get("session")
        return session.pop("flash", None) if isinstance(session, dict) else None

    env.globals.update(
        signed_in=signed_in,
        take_flash=take_flash,
        branding=settings.branding,
        site_settings=settings,
        static_url=static_url,
        has_route=has_route,
        member_nav=member_nav,
        current_locale=i18n.current_locale.get,
        locale_names=i18n.LOCALE_NAMES,
    )
    env.filters.update(date=i18n.format_date, datetime=i18n.format_datetime)
    return JinjaTemplateEngine.from_environment(env)
