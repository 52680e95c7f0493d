"""A campaign's short address (/c/<slug>) and visitors sent by a matching site: both note the visitor's first
campaign in their session (app/sessions.py) and count an arrival (app/services/campaigns/ holds the rules)."""

from __future__ import annotations

import time

from litestar import Request, get
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from app.middleware import REFERRED_BY
from app.rendering import page, safe_next
from app.services.campaigns import campaigns, page_views
from app.services.shared import clock
from app.sessions import note_campaign


def _arrived(request: Request, campaign_id: int) -> None:
    """A browser came by the campaign: noted as its first unless it came by one before, and counted. A crawler
    gets neither (nor a session)."""
    if page_views.is_crawler(request.headers.get("user-agent", "")):
        return
    note_campaign(request.session, campaign_id)
    request.app.state.page_views.visit(campaign_id, time.time())


@get("/c/{slug:str}", name="follow_campaign", cache_control=None)
async def follow_campaign(request: Request, slug: FromPath[str], to: FromQuery[str | None] = None) -> object:
    campaign = await campaigns.by_slug(slug)
    if campaign is None:
        return page(request, "campaigns/unknown.html", {}, status_code=404, cache="no-store")
    _arrived(request, campaign["id"])
    # 302 and no-store: every scan of a poster comes back here and is counted.
    return Redirect(path=safe_next(campaigns.destination(campaign, to)), status_code=302,
                    headers={"Cache-Control": "no-store"})


async def note_referral(request: Request) -> None:
    """Before a page: a visitor a matching site sent (the front layer saw its Referer) gets the site's campaign."""
    site = request.scope.get(REFERRED_BY)
    if (site and request.method == "GET" and "session" in request.scope
            and not page_views.is_crawler(request.headers.get("user-agent", ""))):
        _arrived(request, await campaigns.matching_site_campaign(site, clock.now()))


handlers = [follow_campaign]
