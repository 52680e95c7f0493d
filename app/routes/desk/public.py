"""The consultation desk for askers: the public form (prefilled for a member, with the desk's phone and hours),
the confirmation with the reference number, and a member's own inquiries as threads they can reply in."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.push_sender import wake_sender
from app.rate_limit import auth_rate_limit
from app.rendering import page, see_other
from app.routes.forms import form_dict, single_values
from app.services.desk import asking, contact, inbox, threads, validation
from app.services.desk.common import (
    CATEGORIES,
    CONTACT_METHODS,
    MESSAGE_CHANNELS,
    MESSAGE_MAX,
    InquiryInvalid,
    InquiryRefused,
    category_label,
    channel_label,
    status_label,
)
from app.services.desk.validation import CONSENT_VERSION
from app.services.membership import membership
from app.services.shared import clock

# A field people never see and bots fill in: a filled one is answered like a success and stores nothing.
HONEYPOT = "website"
SENT = "inquiry_sent"
SENT_SHOWN_S = 15 * 60  # the confirmation can be reloaded for a while, not for the next person
# The status as the asker reads it: "waiting for the asker" is, to them, the desk waiting for their answer.
ASKER_STATUSES = {
    "new": _l("Received by the desk"),
    "in_progress": _l("In progress"),
    "waiting": _l("Waiting for your reply"),
    "closed": _l("Closed"),
}
MEMBER_REFUSALS = {
    "closed": _l("This inquiry is closed. If you have a new question, send a new inquiry."),
    "changed_meanwhile": _l("The desk changed this inquiry in the meantime. Check it and try again."),
}


# What both the askers' and the staff's pages need ---------------------------------------------------


async def desk_of(request: Request) -> contact.Desk:
    site = request.app.state.settings.branding.site_name
    return await contact.load_desk(_("%(site)s consultation desk", site=site))


def links_of(request: Request) -> contact.Links:
    app = request.app
    return contact.Links(
        request.app.state.settings.base_url,
        thread=lambda inquiry_id: app.route_reverse("get_my_inquiry", inquiry_id=inquiry_id),
        staff=lambda inquiry_id: app.route_reverse("get_staff_inquiry", inquiry_id=inquiry_id),
    )


async def post_of(request: Request) -> contact.Post:
    return contact.Post(request.app.state.settings.smtp, await desk_of(request), links_of(request))


def labels() -> dict:
    """The names every desk template shows for codes."""
    return {
        "category_label": category_label, "status_label": status_label,
        "asker_status_label": lambda code: str(ASKER_STATUSES.get(code, code)),
        "message_channel_label": lambda code: str(MESSAGE_CHANNELS.get(code, code)),
        "contact_method_label": lambda code: str(CONTACT_METHODS.get(code, code)),
        "channel_label": channel_label,
    }


def field_choices(member: bool) -> dict:
    methods = ("email", "phone", "app") if member else ("email", "phone")
    return {
        "categories": [(code, str(label)) for code, label in CATEGORIES.items()],
        "contact_methods": [(code, str(CONTACT_METHODS[code])) for code in methods],
        "consent_version": CONSENT_VERSION,
        "message_max": MESSAGE_MAX,
    }


# The public form ----------------------------------------------------------------------------------------


async def _member_of(request: Request) -> dict | None:
    account = current_account(request)
    return await membership.member_for_account(account.id) if account and account.is_member else None


def _prefill(request: Request, member: dict | None, category: str) -> dict:
    values = {"category": category if category in CATEGORIES else "", "contact_method": "email"}
    if member:
        account = current_account(request)
        full_name = f"{member['family_name']} {member['given_name']}".strip()
        values.update(name=full_name or account.display_name, email=account.email or "", contact_method="app")
    return values


async def _form_page(request: Request, values: dict, errors: dict, member: dict | None, status_code: int = 200):
    context = {"values": values, "errors": errors, "member": member, "desk": await desk_of(request),
               **field_choices(member is not None)}
    return page(request, "desk/form.html", context, fragment="desk/_form.html", status_code=status_code,
                cache="no-store")



@get("/contact", name="get_inquiry_form", cache_control=None)
async def get_inquiry_form(request: Request, category: FromQuery[str] = "") -> object:
    """The form; `?category=` preselects a topic (the entry pass pages link here with theirs)."""
    member = await _member_of(request)
    return await _form_page(request, _prefill(request, member, category), {}, member)


@post("/contact", name="submit_inquiry", guards=[auth_rate_limit])
async def submit_inquiry(request: Request) -> object:
    form = await form_dict(request)
    if str(form.pop(HONEYPOT, "")).strip():
        # A bot: it sees what a person would see (a reference number), and nothing is stored or sent.
        request.session[SENT] = {"reference": asking.new_reference(clock.now()), "email": "", "thread": None,
                                 "at": clock.now().timestamp()}
        return see_other(request, request.app.route_reverse("get_inquiry_sent"))
    member = await _member_of(request)
    try:
        values = await validation.validate_inquiry(form, member=member is not None)
    except InquiryInvalid as invalid:
        return await _form_page(request, single_values(form), invalid.errors, member, 422)
    created = await asking.create_inquiry(values, await post_of(request),
                                          account_id=current_account(request).id if member else None)
    wake_sender(request)
    request.session[SENT] = {"reference": created["reference"], "email": values.email,
                             "thread": created["id"] if member else None, "at": clock.now().timestamp()}
    return see_other(request, request.app.route_reverse("get_inquiry_sent"))


@get("/contact/sent", name="get_inquiry_sent", cache_control=None)
async def get_inquiry_sent(request: Request) -> object:
    """The confirmation: the reference number to quote, where the receipt went, the desk's phone."""
    sent = request.session.get(SENT)
    if sent and clock.now().timestamp() - sent.get("at", 0) > SENT_SHOWN_S:
        # On a shared computer the next person must not find the last asker's address here.
        request.session.pop(SENT)
        sent = None
    if not sent:
        return see_other(request, request.app.route_reverse("get_inquiry_form"))
    return page(request, "desk/sent.html", {"sent": sent, "desk": await desk_of(request)}, cache="no-store")


# A member's own inquiries -------------------------------------------------------------------------------


@get("/account/inquiries", name="list_my_inquiries", guards=[guards.member], cache_control=None)
async def list_my_inquiries(request: Request) -> object:
    rows = await inbox.inquiries_of_member(current_account(request).id)
    return page(request, "desk/mine.html", {"inquiries": rows, **labels()})


async def _own(request: Request, inquiry_id: int) -> dict:
    inquiry = await threads.inquiry_of_member(inquiry_id, current_account(request).id)
    if inquiry is None:
        raise NotFoundException()  # someone else's inquiry is as good as missing
    return inquiry


async def _thread_page(request: Request, inquiry: dict, body: str = "", errors: dict | None = None, problem: str = "",
                       status_code: int = 200):
    context = {
        "inquiry": inquiry, "messages": await threads.thread(inquiry["id"], staff=False), "desk": await desk_of(request),
        "body": body, "errors": errors or {}, "problem": problem, "message_max": MESSAGE_MAX, **labels(),
    }
    return page(request, "desk/thread.html", context, fragment="desk/_reply_form.html",
                status_code=status_code)


@get("/account/inquiries/{inquiry_id:int}", name="get_my_inquiry", guards=[guards.member], cache_control=None)
async def get_my_inquiry(request: Request, inquiry_id: FromPath[int]) -> object:
    return await _thread_page(request, await _own(request, inquiry_id))


@post("/account/inquiries/{inquiry_id:int}/reply", name="reply_my_inquiry", guards=[guards.member])
async def reply_my_inquiry(request: Request, inquiry_id: FromPath[int]) -> object:
    inquiry = await _own(request, inquiry_id)
    body = str((await form_dict(request)).get("body", ""))
    try:
        await threads.add_asker_message(inquiry_id, body, "app", links_of(request),
                                        account_id=current_account(request).id)
    except InquiryInvalid as invalid:
        return await _thread_page(request, inquiry, body, invalid.errors, status_code=422)
    except InquiryRefused as refused:
        problem = str(MEMBER_REFUSALS.get(refused.reason, MEMBER_REFUSALS["changed_meanwhile"]))
        return await _thread_page(request, await _own(request, inquiry_id), body, problem=problem, status_code=409)
    request.session["flash"] = _("Your message was sent to the desk.")
    return see_other(request, request.app.route_reverse("get_my_inquiry", inquiry_id=inquiry_id))


handlers = [get_inquiry_form, submit_inquiry, get_inquiry_sent, list_my_inquiries, get_my_inquiry, reply_my_inquiry]
