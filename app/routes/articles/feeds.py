"""The published articles as feeds: Atom (feed readers) and RSS 2.0 (WordPress and most CMSs import RSS, so a
municipality's own site can take the articles in), with the full text and the cover image. Both come from one
list of entries, so they never say different things."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime as rfc822

from litestar import Request, get
from litestar.response import Template

from app.i18n import gettext as _
from app.services.articles import articles
from app.services.shared import markdown
from app.settings import Settings

FEED_SIZE = 20
FEED_CACHE = "public, max-age=300"
# Fetched without cookies in mind: no session, no CSRF cookie on them.
NO_SESSION = {"skip_session": True, "exclude_from_csrf": True}
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
               ".gif": "image/gif"}


def _utc(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(timezone.utc)
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _image_type(url: str) -> str:
    return next((kind for ending, kind in IMAGE_TYPES.items() if url.lower().endswith(ending)), "image/jpeg")


async def _feed(request: Request, self_route: str) -> dict:
    settings: Settings = request.app.state.settings

    def absolute(name: str, **params) -> str:
        return settings.base_url + request.app.route_reverse(name, **params)

    entries, newest = [], None
    for row in await articles.published_articles(limit=FEED_SIZE):
        published = _utc(row["published_at"])
        updated = max(published, _utc(row["updated_at"])) if row["updated_at"] else published
        newest = max(newest or updated, updated)
        image = settings.base_url + row["cover_image"] if row["cover_image"].startswith("/") else row["cover_image"]
        entries.append({
            "title": row["title"], "url": absolute("get_article", article_id=row["id"]),
            "published": _rfc3339(published), "updated": _rfc3339(updated), "pub_date": rfc822(published),
            "summary": row["lead"],
            # A plain string: the templates escape it, as Atom's type="html" and RSS's description expect.
            "content": str(markdown.render(row["body"])),
            "kind": row["kind"], "category": articles.kind_label(row["kind"]), "area_name": row["area_name"] or "",
            "image": image, "image_type": _image_type(image),
        })
    return {
        "feed_title": _("%(site)s: articles", site=settings.branding.site_name),
        "subtitle": settings.branding.tagline,
        "feed_url": absolute(self_route),
        "site_url": absolute("list_articles"),
        "author": settings.branding.site_name,
        "updated": _rfc3339(newest or _utc(None)),
        "last_build": rfc822(newest or _utc(None)),
        "entries": entries,
    }


@get("/articles.atom", name="get_article_feed", opt=NO_SESSION)
async def get_article_feed(request: Request) -> Template:
    return Template(template_name="articles/feed.xml", context=await _feed(request, "get_article_feed"),
                    media_type="application/atom+xml; charset=utf-8", headers={"Cache-Control": FEED_CACHE})


@get("/articles.rss", name="get_article_rss", opt=NO_SESSION)
async def get_article_rss(request: Request) -> Template:
    return Template(template_name="articles/feed.rss", context=await _feed(request, "get_article_rss"),
                    media_type="application/rss+xml; charset=utf-8", headers={"Cache-Control": FEED_CACHE})


handlers = [get_article_feed, get_article_rss]
