"""The travel subsidy for members: a claim for a program they attended (from the program's page), their claims, and
correcting one the secretariat returned. The rules are in app/services/subsidy/claims.py."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import current_locale, to_tokyo
from app.i18n import gettext as _
from app.rendering import page, see_other
from app.routes.forms import form_dict, single_values, uploaded_files
from app.services.membership import membership
from app.services.programs import reads
from app.services.shared import clock, uploads
from app.services.shared.reference import prefecture_name
from app.services.shared.refusals import FormInvalid
from app.services.subsidy import claims
from app.services.subsidy.claims import MAX_RECEIPTS, ClaimRefused
from app.services.subsidy.rules import TRANSPORTS, transport_label, transport_labels

MEMBERS = [guards.member]


def labels() -> dict:
    """The names the claim templates show for codes."""
    return {"transport_label": transport_label, "transport_labels": transport_labels,
            "claim_status_label": claims.member_status_label,
            "max_receipts": MAX_RECEIPTS}


async def _member(request: Request) -> dict:
    member = await membership.member_for_account(current_account(request).id)
    if member is None:
        raise NotFoundException()
    return member


async def _program(program_id: int) -> dict:
    program = await reads.program_page(program_id)
    if program is None:
        raise NotFoundException()
    return program


def _blank(member: dict, program: dict) -> dict:
    """The form as it opens: from the member's home, there on the program's first day and back on its last."""
    home = prefecture_name(member["home_prefecture"], current_locale.get()) + member["home_municipality"]
    return {"departure": home, "route": "", "transports": [], "fare": "",
            "outbound_on": to_tokyo(program["starts_at"]).date().isoformat(),
            "return_on": to_tokyo(program["ends_at"]).date().isoformat()}


async def _new_page(request: Request, program: dict, member: dict, values: dict | None = None, errors: dict | None = None,
                    problem: str = "", status_code: int = 200, found: claims.Standing | None = None) -> object:
    found = found or await claims.standing(program["id"], member["id"], clock.today_in_japan())
    refusal = ClaimRefused(found.refusal, deadline=found.rules.deadline if found.rules else None) \
        if found.refusal else None
    return page(request, "subsidy/claim_new.html", {
        "program": program, "rules": found.rules, "refusal": refusal.message if refusal else "",
        "values": values or _blank(member, program), "errors": errors or {}, "problem": problem,
        "transports": [(code, str(label)) for code, label in TRANSPORTS.items() if found.rules and found.rules.covers(code)],
        **labels()}, status_code=status_code, cache="no-store")


@get("/programs/{program_id:int}/claim", name="new_travel_claim", guards=MEMBERS, cache_control=None)
async def new_travel_claim(request: Request, program_id: FromPath[int]) -> object:
    program, member = await _program(program_id), await _member(request)
    found = await claims.standing(program_id, member["id"], clock.today_in_japan())
    if found.claim is not None:
        return see_other(request, request.app.route_reverse("get_my_travel_claim", claim_id=found.claim["id"]))
    return await _new_page(request, program, member, found=found)


@post("/programs/{program_id:int}/claim", name="file_travel_claim", guards=MEMBERS)
async def file_travel_claim(request: Request, program_id: FromPath[int]) -> object:
    program, member = await _program(program_id), await _member(request)
    form = await form_dict(request)
    files = await uploaded_files(request, "receipts", uploads.MAX_BYTES, MAX_RECEIPTS)
    try:
        claim_id = await claims.submit(program_id, member["id"], form, files, request.app.state.settings.var_dir,
                                       clock.now())
    except FormInvalid as invalid:
        values = _typed(form)
        return await _new_page(request, program, member, values, invalid.errors, status_code=422)
    except ClaimRefused as refused:
        if refused.reason == "already_claimed":
            request.session["flash"] = refused.message
            found = await claims.standing(program_id, member["id"], clock.today_in_japan())
            return see_other(request, request.app.route_reverse("get_my_travel_claim", claim_id=found.claim["id"]))
        return await _new_page(request, program, member, problem=refused.message, status_code=409)
    request.session["flash"] = _("Your claim is sent. The secretariat checks it and tells you in News.")
    return see_other(request, request.app.route_reverse("get_my_travel_claim", claim_id=claim_id))


def _typed(form: dict) -> dict:
    """The claim as typed, to show again next to its errors (a field the request left out reads as "")."""
    values = single_values(form)
    values["transports"] = _transports(form)
    return values


def _transports(form: dict) -> list[str]:
    chosen = form.get("transports", [])
    return [t for t in (chosen if isinstance(chosen, list) else [chosen]) if isinstance(t, str)]


@get("/account/claims", name="list_my_travel_claims", guards=MEMBERS, cache_control=None)
async def list_my_travel_claims(request: Request) -> object:
    member = await _member(request)
    return page(request, "subsidy/mine.html", {
        "claims": await claims.of_member(member["id"]),
        "claimable": await claims.claimable(member["id"], clock.today_in_japan()), **labels()})


async def _claim_page(request: Request, claim: dict, values: dict | None = None, errors: dict | None = None,
                      problem: str = "", status_code: int = 200) -> object:
    covered = claim["program_transports"] or claim["transports"]
    return page(request, "subsidy/claim.html", {
        "claim": claim, "errors": errors or {}, "problem": problem,
        "values": values or {name: claim[name] for name in ("departure", "route", "transports")} | {
            "fare": f"{claim['fare']:,}", "outbound_on": claim["outbound_on"].isoformat(),
            "return_on": claim["return_on"].isoformat()},
        "transports": [(code, str(label)) for code, label in TRANSPORTS.items() if code in covered], **labels()},
        status_code=status_code, cache="no-store")


async def _own(request: Request, claim_id: int) -> dict:
    member = await _member(request)
    claim = await claims.claim_of_member(claim_id, member["id"])
    if claim is None:
        raise NotFoundException()  # someone else's claim is as good as missing
    return claim


@get("/account/claims/{claim_id:int}", name="get_my_travel_claim", guards=MEMBERS, cache_control=None)
async def get_my_travel_claim(request: Request, claim_id: FromPath[int]) -> object:
    return await _claim_page(request, await _own(request, claim_id))


@post("/account/claims/{claim_id:int}", name="resubmit_travel_claim", guards=MEMBERS)
async def resubmit_travel_claim(request: Request, claim_id: FromPath[int]) -> object:
    claim = await _own(request, claim_id)
    form = await form_dict(request)
    files = await uploaded_files(request, "receipts", uploads.MAX_BYTES, MAX_RECEIPTS)
    try:
        await claims.resubmit(claim_id, claim["member"], form, files, request.app.state.settings.var_dir, clock.now())
    except FormInvalid as invalid:
        values = _typed(form)
        return await _claim_page(request, claim, values, invalid.errors, status_code=422)
    except ClaimRefused as refused:
        return await _claim_page(request, await _own(request, claim_id), problem=refused.message, status_code=409)
    request.session["flash"] = _("Your corrected claim is sent. The secretariat checks it again.")
    return see_other(request, request.app.route_reverse("get_my_travel_claim", claim_id=claim_id))


handlers = [new_travel_claim, file_travel_claim, list_my_travel_claims, get_my_travel_claim, resubmit_travel_claim]
