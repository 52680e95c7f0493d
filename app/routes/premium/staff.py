"""The secretariat decides on premium applications from the one review queue (review/staff.py lists them)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.push_sender import wake_sender
from app.rendering import csv_download, see_other
from app.routes.forms import form_dict
from app.services.membership import membership
from app.services.notify.personal import Told
from app.services.premium import applications
from app.services.premium.applications import PremiumRefused
from app.services.shared import clock, exports
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


@get("/staff/members/{member_id:int}/evidence.csv", name="export_member_evidence", guards=[guards.staff],
     cache_control=None)
async def export_member_evidence(request: Request, member_id: FromPath[int]) -> object:
    """A member's evidence of activities (the same file the member downloads), for the secretariat to send."""
    if not await membership.member_details(member_id):
        raise NotFoundException()
    now = clock.now()
    text = await applications.evidence_csv(member_id, request.app.state.settings.region_municipality, now)
    await exports.record_export(current_account(request).id, "member", str(member_id), {"kind": "premium_evidence"}, now)
    return csv_download(f"evidence-member-{member_id}.csv", text)


handlers = [decide_premium, export_member_evidence]
