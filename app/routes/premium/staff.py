"""The secretariat decides on premium applications from the one review queue (review/staff.py lists them)."""

from __future__ import annotations

from litestar import Request, post
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.push_sender import wake_sender
from app.rendering import see_other
from app.routes.forms import form_dict
from app.services.premium import applications
from app.services.premium.applications import PremiumRefused, Told
from app.services.shared.actor import Actor


@post("/staff/premium/{application_id:int}/decision", name="decide_premium", guards=[guards.staff])
async def decide_premium(request: Request, application_id: FromPath[int]) -> object:
    form = await form_dict(request)
    decision = form.get("decision", "")
    settings = request.app.state.settings
    try:
        await applications.decide(application_id, Actor.of(current_account(request)), decision, form.get("reason", ""),
                                  Told(settings.smtp, settings.base_url))
    except PremiumRefused as refused:
        request.session["flash"] = refused.message
    else:
        wake_sender(request)
        request.session["flash"] = _("Premium granted. The member is told.") if decision == "approve" else _(
            "The application was declined. The member is told, with your reason.")
    return see_other(request, request.app.route_reverse("list_moderation") + "?kind=premium")


handlers = [decide_premium]
