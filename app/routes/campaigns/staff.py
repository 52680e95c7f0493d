"""Staff make and change campaign links and print their posters (app/services/campaigns/ holds the rules)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.qr import qr_svg
from app.rendering import page, print_stylesheet, see_other
from app.routes.forms import form_dict
from app.services.campaigns import campaigns, figures, page_views
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid

STAFF = [guards.staff]


def _short_url(request: Request, slug: str) -> str:
    return request.app.state.settings.base_url.rstrip("/") + request.app.route_reverse("follow_campaign", slug=slug)


def _form_context(values: dict | None = None, errors: dict | None = None) -> dict:
    return {"kinds": [(k, campaigns.kind_label(k)) for k in campaigns.STAFF_KINDS], "values": values or {"target": "/"},
            "errors": errors or {}, "poster_text_max": campaigns.POSTER_TEXT_MAX}


async def _list_context(request: Request, values: dict | None = None, errors: dict | None = None) -> dict:
    rows = await campaigns.all_campaigns()
    counts = await figures.attributed(None, None, clock.today_in_japan())
    visits = await page_views.visits_by_campaign()
    return {
        **_form_context(values, errors),
        "campaigns": [{**c, "short_url": _short_url(request, c["slug"]), "kind_label": campaigns.kind_label(c["kind"]),
                       "visits": visits.get(c["id"], 0), **{step: counts[step][c["id"]] for step in counts}}
                      for c in rows],
    }


@get("/staff/campaigns", name="list_campaigns", guards=STAFF, cache_control=None)
async def list_campaigns(request: Request) -> object:
    return page(request, "campaigns/index.html", await _list_context(request), cache="no-store")


@post("/staff/campaigns", name="create_campaign", guards=STAFF)
async def create_campaign(request: Request) -> object:
    form = await form_dict(request)
    try:
        values = campaigns.validate(form)
        campaign_id = await campaigns.create(values, current_account(request).id, clock.now())
    except FormInvalid as invalid:
        return page(request, "campaigns/index.html", await _list_context(request, invalid.values, invalid.errors),
                    status_code=422, cache="no-store")
    request.session["flash"] = _("The campaign link is ready. Print its poster or copy its address.")
    return see_other(request, request.app.route_reverse("edit_campaign", campaign_id=campaign_id))


async def _campaign(campaign_id: int) -> dict:
    campaign = await campaigns.get(campaign_id)
    if campaign is None:
        raise NotFoundException()
    return campaign


def _edit_context(request: Request, campaign: dict, values: dict | None = None, errors: dict | None = None) -> dict:
    return {**_form_context(values or campaign, errors), "campaign": campaign,
            "short_url": _short_url(request, campaign["slug"]), "kind_label": campaigns.kind_label(campaign["kind"])}


@get("/staff/campaigns/{campaign_id:int}", name="edit_campaign", guards=STAFF, cache_control=None)
async def edit_campaign(request: Request, campaign_id: FromPath[int]) -> object:
    campaign = await _campaign(campaign_id)
    return page(request, "campaigns/edit.html", _edit_context(request, campaign), cache="no-store")


@post("/staff/campaigns/{campaign_id:int}", name="update_campaign", guards=STAFF)
async def update_campaign(request: Request, campaign_id: FromPath[int]) -> object:
    campaign = await _campaign(campaign_id)
    form = await form_dict(request)
    if campaign["kind"] == "matching_site":  # its kind is not the staff's to choose
        form = {**form, "kind": "other"}
    try:
        values = campaigns.validate(form)
        await campaigns.update(campaign_id, values, form.get("active") == "on", current_account(request).id, clock.now())
    except FormInvalid as invalid:
        return page(request, "campaigns/edit.html", _edit_context(request, campaign, invalid.values, invalid.errors),
                    status_code=422, cache="no-store")
    request.session["flash"] = _("The campaign was saved.")
    return see_other(request, request.app.route_reverse("edit_campaign", campaign_id=campaign_id))


@get("/staff/campaigns/{campaign_id:int}/poster", name="get_campaign_poster", guards=STAFF, cache_control=None)
async def get_campaign_poster(request: Request, campaign_id: FromPath[int]) -> object:
    campaign = await _campaign(campaign_id)
    short_url = _short_url(request, campaign["slug"])
    return page(request, "campaigns/poster.html", {
        "campaign": campaign, "short_url": short_url, "stylesheet": print_stylesheet(request, False),
        "qr": qr_svg(short_url, _("QR code of %(address)s", address=short_url)),
    }, cache="no-store")


handlers = [list_campaigns, create_campaign, edit_campaign, update_campaign, get_campaign_poster]
