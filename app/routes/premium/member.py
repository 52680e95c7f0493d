"""A member's premium tier: whether they may apply and with which activities, the application, the waiting
application and the decisions, and the 登録証 (printable page and PDF) while premium holds."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.response import Response

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.page_cache import MEMBER_PAGE
from app.rendering import csv_download, page, print_stylesheet, see_other
from app.routes.forms import form_dict
from app.services.activities import progress
from app.services.membership import membership
from app.services.premium import applications
from app.services.premium.applications import PremiumInvalid, PremiumRefused, PremiumRequest
from app.services.shared import clock, exports, pdf


async def _member(request: Request) -> dict:
    return await membership.member_for_account(current_account(request).id)


async def _context(member: dict, request_values: PremiumRequest | None = None, errors: dict | None = None) -> dict:
    now = clock.now()
    eligibility = await applications.eligibility(member["id"], now)
    return {
        "member": member,
        "eligibility": eligibility,
        "refusal_text": PremiumRefused(eligibility.refusal).message if eligibility.refusal else "",
        "status_labels": applications.STATUS_LABELS,
        "how_labels": progress.HOW_LABELS,
        "progress": await progress.progress(member["id"], now),
        "waiting": await applications.waiting_application(member["id"]),
        "history": await applications.of_member(member["id"]),
        "certificate": await applications.certificate(member["id"], now),
        "values": request_values or PremiumRequest(home_municipality=member.get("home_municipality") or ""),
        "errors": errors or {},
        "max_others": applications.MAX_MUNICIPALITIES - 1,
    }


@get("/account/premium", name="get_premium", guards=[guards.member], cache_control=None, opt=MEMBER_PAGE)
async def get_premium(request: Request) -> object:
    return page(request, "premium/member/index.html", await _context(await _member(request)))


@post("/account/premium/apply", name="apply_premium", guards=[guards.member])
async def apply_premium(request: Request) -> object:
    member = await _member(request)
    form = await form_dict(request)
    try:
        values = applications.read_request(form)
        await applications.apply(member["id"], values, request.app.state.settings.region_municipality)
    except PremiumInvalid as invalid:
        return page(request, "premium/member/index.html", await _context(member, invalid.values, invalid.errors),
                    status_code=422)
    except PremiumRefused as refused:
        errors = {refused.field or "form": refused.message}
        return page(request, "premium/member/index.html", await _context(member, values, errors), status_code=422)
    request.session["flash"] = _("Your application was sent. The secretariat will check your activities.")
    return see_other(request, request.app.route_reverse("get_premium"))


@post("/account/premium/withdraw", name="withdraw_premium", guards=[guards.member])
async def withdraw_premium(request: Request) -> object:
    member = await _member(request)
    if await applications.withdraw(member["id"]):
        request.session["flash"] = _("Your application was withdrawn.")
    return see_other(request, request.app.route_reverse("get_premium"))


async def _certificate(request: Request) -> dict | None:
    """The member's certificate, or None with the reason kept for the premium page they are sent back to."""
    found = await applications.certificate((await _member(request))["id"], clock.now())
    if found is None:
        request.session["flash"] = _("There is a certificate while premium holds, once the secretariat approved it.")
    return found


@get("/account/premium/certificate", name="get_premium_certificate", guards=[guards.member], cache_control=None)
async def get_premium_certificate(request: Request) -> object:
    certificate = await _certificate(request)
    if certificate is None:
        return see_other(request, request.app.route_reverse("get_premium"))
    return page(request, "premium/member/certificate.html", {
        "certificate": certificate, "for_pdf": False, "print_stylesheet": print_stylesheet(request, False)})


@get("/account/premium/certificate.pdf", name="download_premium_certificate", guards=[guards.member], cache_control=None)
async def download_premium_certificate(request: Request) -> object:
    certificate = await _certificate(request)
    if certificate is None:
        return see_other(request, request.app.route_reverse("get_premium"))
    template = request.app.template_engine.get_template("premium/member/certificate.html")
    html = template.render(request=request, certificate=certificate, for_pdf=True,
                           print_stylesheet=print_stylesheet(request, True))
    try:
        data = await pdf.render_pdf(html)
    except pdf.PdfUnavailable as unavailable:
        request.session["flash"] = unavailable.message
        return see_other(request, request.app.route_reverse("get_premium_certificate"))
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=certificate-{certificate['certificate_no']}.pdf",
        "Cache-Control": "no-store"})


@get("/account/premium/evidence.csv", name="download_premium_evidence", guards=[guards.member], cache_control=None)
async def download_premium_evidence(request: Request) -> object:
    """The member's evidence of activities, for submission to the national registration app."""
    member = await _member(request)
    now = clock.now()
    text = await applications.evidence_csv(member["id"], request.app.state.settings.region_municipality, now)
    await exports.record_export(current_account(request).id, "member", str(member["id"]), {"kind": "premium_evidence"},
                                now)
    return csv_download(f"evidence-{member['member_no']}.csv", text)


handlers = [download_premium_evidence, get_premium, apply_premium, withdraw_premium, get_premium_certificate, download_premium_certificate]
