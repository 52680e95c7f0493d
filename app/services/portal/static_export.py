"""The portal outside the app (seed 004 §4(5)ウ): the public portal, the program pages and the articles as a ZIP
of plain HTML the city can put on its own web server, or open from a disk with no network.

The pages are the app's own, rendered as a visitor sees them (app/static_pages.py renders them through the app
and hands them here as `fetch`), without scripts or forms; their links are made relative (static_html.py):
a page of the export leads to its file, anything that needs the app (registering, applying, logging in,
following) to the app's own address (BASE_URL). The stylesheet, the icons and every image a page shows are in
the ZIP beside the pages. Only what the public sees goes in: the portal, the programs the public lists show
(those to come and those ended, as many as the lists show), and the latest published articles up to
MAX_ARTICLES. Japanese, the site's language, is at the top; every other language of the app in a folder of its
own (en/), linked from each page's language switch.

One archive is kept (var/published/portal-static.zip), replaced whole by each build; each build is written to the
audit log with what it holds, which is also what the staff page shows.
"""

from __future__ import annotations

import os
import posixpath
import re
import secrets
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from app.i18n import LOCALE_NAMES, TOKYO
from app.services.articles.articles import KINDS, published_articles
from app.services.portal.static_html import rewrite
from app.services.programs.reads import public_programs
from app.services.shared import clock
from db.tables import AuditLog

MAX_ARTICLES = 200  # the articles list of the export shows them all on one page (routes/articles/pages.py)
ACTION = "portal.export"
ARCHIVE = Path("published") / "portal-static.zip"
# What a page may load from the app into the ZIP: images and stylesheets, under a plain name.
ASSET_TYPES = ("image/", "text/css")
ASSET_PATH = re.compile(r"^/(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}/){0,4}[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")

Fetch = Callable[[str, str], Awaitable[tuple[int, str, bytes]]]  # (address, locale) -> (status, type, body)
UrlFor = Callable[..., str]  # a route's name and path parameters -> its address in the app


@dataclass(frozen=True)
class Build:
    """The archive kept now: when and by whom it was built, and what it holds."""

    path: Path
    built_at: datetime
    actor_name: str | None
    pages: int
    images: int
    size: int

    @property
    def filename(self) -> str:
        return f"portal-static-{self.built_at.astimezone(TOKYO):%Y%m%d-%H%M}.zip"


@dataclass(frozen=True)
class Contents:
    programs: list[dict]
    articles: list[dict]


def archive_path(var_dir: Path) -> Path:
    return Path(var_dir) / ARCHIVE


async def contents(now: datetime) -> Contents:
    """What a build takes in now: the programs of both public lists, as those lists show them, and the latest
    published articles."""
    programs = await public_programs(now=now) + await public_programs(past=True, now=now)
    return Contents(programs, await published_articles(limit=MAX_ARTICLES))


def _address(url: str) -> tuple[str, str]:
    """(the address as the export's layout names it, the #fragment): the query in one order, empty values dropped
    (a link to "/programs?" is the list itself)."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query)))
    return parts.path + ("?" + query if query else ""), parts.fragment


def layout(url_for: UrlFor, found: Contents) -> dict[str, str]:
    """The app's address of every page of the export -> its file in one language's folder."""
    programs, articles = url_for("list_programs"), url_for("list_articles")
    pages = {url_for("get_home"): "index.html", programs: "programs/index.html",
             programs + "?past=1": "programs/ended.html", articles: "articles/index.html"}
    pages.update({f"{articles}?kind={kind}": f"articles/{kind}.html" for kind in KINDS})
    pages.update({url_for("get_program", program_id=p["id"]): f"programs/{p['id']}.html" for p in found.programs})
    pages.update({url_for("get_article", article_id=a["id"]): f"articles/{a['id']}.html" for a in found.articles})
    return {_address(address)[0]: file for address, file in pages.items()}


def _folder(locale: str, default_locale: str) -> str:
    return "" if locale == default_locale else f"{locale}/"


def _is_app_path(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


class _Site:
    """The pages and files of one build, and how a link from one of them is written."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.files: dict[str, dict[str, str]] = {}  # locale -> page address -> file in the ZIP
        self.assets: dict[str, str] = {}  # app path -> file in the ZIP

    def link(self, url: str, hreflang: str | None, locale: str, current: str) -> str:
        if not _is_app_path(url):
            return url
        address, fragment = _address(url)
        target = self.files.get(hreflang or locale, {}).get(address)
        if target is None:
            return self.base_url + url  # what needs the app: registering, applying, logging in, a filtered list
        return posixpath.relpath(target, posixpath.dirname(current) or ".") + (f"#{fragment}" if fragment else "")

    def asset(self, url: str, current: str) -> str:
        if not _is_app_path(url):
            return url
        target = self.assets.get(urlsplit(url).path)
        return self.base_url + url if target is None else posixpath.relpath(target, posixpath.dirname(current) or ".")


async def _render_pages(fetch: Fetch, pages: dict[str, str], locales: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """locale -> address -> HTML of every page that answered as a page (one unpublished meanwhile is left out)."""
    rendered: dict[str, dict[str, str]] = {}
    for locale in locales:
        rendered[locale] = {}
        for address in pages:
            status, content_type, body = await fetch(address, locale)
            if status == 200 and content_type.startswith("text/html"):
                rendered[locale][address] = body.decode("utf-8")
    return rendered


async def _fetch_assets(fetch: Fetch, rendered: dict[str, dict[str, str]], locale: str) -> dict[str, bytes]:
    """app path -> bytes of every image and stylesheet the pages load from the app."""
    wanted: set[str] = set()

    def note(url: str) -> str:
        if _is_app_path(url):
            wanted.add(url)
        return url

    for pages in rendered.values():
        for html in pages.values():
            rewrite(html, lambda url, _lang: url, note)
    found: dict[str, bytes] = {}
    for url in sorted(wanted):
        path = urlsplit(url).path
        if path in found or not ASSET_PATH.match(path):  # a plain name only: no "..", no odd characters
            continue
        status, content_type, body = await fetch(url, locale)
        if status == 200 and content_type.startswith(ASSET_TYPES):
            found[path] = body
    return found


def _entry(name: str, now: datetime, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=now.astimezone(TOKYO).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED  # images are compressed already
    return info


async def build(fetch: Fetch, url_for: UrlFor, base_url: str, default_locale: str, var_dir: Path,
                actor_id: int | None) -> Build:
    """Render every page, write the archive in place of the last one, and record the build in the audit log."""
    now = clock.now()
    locales = (default_locale, *(code for code in LOCALE_NAMES if code != default_locale))
    pages = layout(url_for, await contents(now))
    rendered = await _render_pages(fetch, pages, locales)
    site = _Site(base_url)
    site.files = {locale: {address: _folder(locale, default_locale) + pages[address] for address in rendered[locale]}
                  for locale in locales}
    assets = await _fetch_assets(fetch, rendered, default_locale)
    site.assets = {path: path.lstrip("/") for path in assets}
    target = archive_path(var_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{secrets.token_hex(6)}-{target.name}")
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for locale in locales:
                for address, html in rendered[locale].items():
                    current = site.files[locale][address]
                    page = rewrite(html, lambda url, lang, c=current, lo=locale: site.link(url, lang, lo, c),
                                   lambda url, c=current: site.asset(url, c))
                    archive.writestr(_entry(current, now, True), page.encode("utf-8"))
            for path, data in assets.items():
                archive.writestr(_entry(site.assets[path], now, not path.startswith("/uploads/")), data)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    page_count = sum(len(files) for files in site.files.values())
    images = sum(1 for path in assets if not path.endswith(".css"))
    detail = {"pages": page_count, "images": images, "bytes": target.stat().st_size, "locales": list(locales)}
    await AuditLog.insert(AuditLog(actor=actor_id, action=ACTION, target_type="portal", target_id="static",
                                   detail=detail, created_at=now))
    return Build(target, now, None, page_count, images, detail["bytes"])


async def last_build(var_dir: Path) -> Build | None:
    """The archive kept now, as its build recorded it; None before the first build (or once the file is gone)."""
    path = archive_path(var_dir)
    if not path.is_file():
        return None
    entry = await AuditLog.select(
        AuditLog.created_at, AuditLog.detail, AuditLog.actor.display_name.as_alias("actor_name"),
    ).where(AuditLog.action == ACTION).order_by(AuditLog.created_at, ascending=False).order_by(
        AuditLog.id, ascending=False).first().output(load_json=True)
    size = path.stat().st_size
    if entry is None:  # a file put there by hand: what the file itself says
        return Build(path, datetime.fromtimestamp(path.stat().st_mtime, TOKYO), None, 0, 0, size)
    detail = entry["detail"] if isinstance(entry["detail"], dict) else {}
    return Build(path, entry["created_at"], entry["actor_name"], int(detail.get("pages", 0)),
                 int(detail.get("images", 0)), size)
