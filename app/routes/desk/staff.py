"""The desk's inbox for the secretariat: inquiries by status, category and assignee with search; one inquiry's
thread with replies (by e-mail, in the app, or a record of a call), internal notes, status and assignee;
inquiries that came by phone or e-mail recorded by hand; the CSV export (audited). Saved reply templates are in reply_templates.py."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.push_sender import wake_sender
from app.rendering import csv_download, page, see_other
from app.routes.desk.public import desk_of, field_choices, labels, links_of, post_of
from app.routes.forms import form_dict, page_number, single_values
from app.services.desk import asking, inbox, reply_templates, threads, validation
from app.services.desk.common import (
    CATEGORIES,
    CATEGORY_LABELS,
    CHANNELS,
    CONTACT_METHODS,
    MESSAGE_MAX,
    SETTABLE_STATUSES,
    STATUSES,
    InquiryInvalid,
    InquiryRefused,
    category_label,
    status_label,
)
from app.services.desk.inbox import InboxFilter
from app.services.shared import clock, exports

STAFF = [guards.staff]
INBOX_PAGE = 50
REFUSALS = {
    "closed": _l("This inquiry is closed. Reopen it to add to the conversation."),
    "changed_meanwhile": _l("Someone changed this inquiry in the meantime. Check it and try again."),
    "not_allowed": _l("Choose from the list."),
    "not_a_category": _l("Choose one of the desk's categories."),
    "not_staff": _l("Choose a member of the secretariat."),
    "not_failed": _l("This mail is still being sent. It can be sent again only once it has failed."),
}
REPLY_DONE = {
    "email": _l("The answer is saved and goes out by e-mail in a moment."),
    "app": _l("The answer is in the asker's conversation in the app, and they were notified."),
    "phone": _l("The answer given on the phone is recorded."),
}
REPLY_CHANNELS = {
    "email": _l("By e-mail to %(email)s"),
    "app": _l("In the app (the member is notified)"),
    "phone": _l("As a record of what I told them on the phone"),
}
SORTS = {"oldest": _l("Oldest first"), "newest": _l("Newest first"), "activity": _l("Latest activity")}
# The inbox's tabs: "open" is everything the desk still has to finish.
STATUS_TABS = {"open": _l("Open inquiries"), **STATUSES, "all": _l("All")}


def _url(request: Request, name: str, **params) -> str:
    return request.app.route_reverse(name, **params)


def _no_store(request: Request, template: str, context: dict, status_code: int = 200, fragment: str | None = None):
    return page(request, template, context, fragment=fragment, status_code=status_code, cache="no-store")


def _me(request: Request) -> int:
    return current_account(request).id


def _problem(refused: InquiryRefused) -> str:
    return str(REFUSALS.get(refused.reason, REFUSALS["changed_meanwhile"]))


async def _inquiry(inquiry_id: int) -> dict:
    inquiry = await threads.get_inquiry(inquiry_id)
    if inquiry is None:
        raise NotFoundException()
    return inquiry


# The inbox ----------------------------------------------------------------------------------------------


def _filters(status: str, category: str, assignee: str, q: str, sort: str) -> InboxFilter:
    return InboxFilter(status=status, category=category, assignee=assignee, q=q, sort=sort).cleaned()


def _query_string(filters: InboxFilter, **changes) -> str:
    """The inbox's address with these filters (a tab keeps the search, the search keeps the tab)."""
    values = {"status": filters.status, "category": filters.category, "assignee": filters.assignee, "q": filters.q,
              "sort": filters.sort, **changes}
    defaults = {**vars(InboxFilter()), "page": 1}
    return urlencode({k: v for k, v in values.items() if v and v != defaults.get(k)})


@get("/staff/inquiries", name="list_staff_inquiries", guards=STAFF, cache_control=None)
async def list_staff_inquiries(request: Request, status: FromQuery[str] = "open", category: FromQuery[str] = "",
                               assignee: FromQuery[str] = "", q: FromQuery[str] = "", sort: FromQuery[str] = "oldest",
                               page_no: Annotated[str, QueryParameter(name="page")] = "1") -> object:
    filters = _filters(status, category, assignee, q, sort)
    number = page_number(page_no)
    # One row more than a page tells whether there is a next one.
    rows = await inbox.inbox(filters, _me(request), limit=INBOX_PAGE + 1, offset=(number - 1) * INBOX_PAGE)
    list_url = request.app.route_reverse("list_staff_inquiries")
    context = {
        "rows": rows[:INBOX_PAGE], "filters": filters, "page": number, "has_next": len(rows) > INBOX_PAGE,
        "page_url": lambda n: f"{list_url}?{_query_string(filters, page=n)}",
        "counts": await inbox.status_counts(), "staff": await asking.staff_accounts(),
        "status_tabs": [(code, str(label)) for code, label in STATUS_TABS.items()],
        "categories": [(code, str(label)) for code, label in CATEGORY_LABELS.items()],
        "sorts": [(code, str(label)) for code, label in SORTS.items()],
        "query_string": lambda **changes: _query_string(filters, **changes),
        **labels(),
    }
    return _no_store(request, "desk/staff/list.html", context, fragment="desk/staff/_rows.html")


def _csv(rows: list[dict]) -> str:
    headers = [_("Reference number"), _("Received at"), _("Received by"), _("Category"), _("Status"), _("Assignee"),
               _("Name"), _("E-mail"), _("Phone"), _("Preferred contact"), _("Member"), _("Number of messages"),
               _("Last activity"), _("Question")]
    return exports.csv_text(headers, [[
        row["reference"], to_tokyo(row["created_at"]).strftime("%Y-%m-%d %H:%M"), str(CHANNELS.get(row["channel"], "")),
        category_label(row["category"]), status_label(row["status"]), row["assignee_name"] or "",
        row["name"], row["email"], row["phone"], str(CONTACT_METHODS.get(row["contact_method"], "")),
        _("Yes") if row["account"] else "", row["messages"], to_tokyo(row["last_message_at"]).strftime("%Y-%m-%d %H:%M"),
        row["first_message"],
    ] for row in rows])


@get("/staff/inquiries/csv", name="export_inquiries", guards=STAFF, cache_control=None)
async def export_inquiries(request: Request, status: FromQuery[str] = "all", category: FromQuery[str] = "",
                           assignee: FromQuery[str] = "", q: FromQuery[str] = "", sort: FromQuery[str] = "oldest") -> Response:
    """The inquiries the inbox's filters choose, with contact details: personal data, so the export is audited."""
    filters = _filters(status, category, assignee, q, sort)
    rows = await inbox.export_rows(filters, _me(request))
    with exports.csv_language():
        text = _csv(rows)
    detail = {"table": "inquiries", "rows": len(rows), "filters": _query_string(filters)}
    await exports.record_export(_me(request), "inquiry", "", detail, clock.now())
    stamp = to_tokyo(clock.now()).strftime("%Y%m%d")
    return csv_download(f"inquiries-{stamp}.csv", text)


# Recording an inquiry that came by phone or e-mail ---------------------------------------------------------


async def _record_page(request: Request, values: dict, errors: dict, status_code: int = 200):
    context = {"values": values, "errors": errors, "channels": [("phone", str(CHANNELS["phone"])), ("mail", str(CHANNELS["mail"]))],
               **field_choices(member=False)}
    return _no_store(request, "desk/staff/new.html", context, status_code, fragment="desk/staff/_new_form.html")


@get("/staff/inquiries/new", name="new_staff_inquiry", guards=STAFF, cache_control=None)
async def new_staff_inquiry(request: Request) -> object:
    return await _record_page(request, {"channel": "phone", "contact_method": "phone"}, {})


@post("/staff/inquiries", name="create_staff_inquiry", guards=STAFF)
async def create_staff_inquiry(request: Request) -> object:
    form = await form_dict(request)
    try:
        values = await validation.validate_inquiry(form, recorded=True)
    except InquiryInvalid as invalid:
        return await _record_page(request, single_values(form), invalid.errors, 422)
    created = await asking.create_inquiry(values, await post_of(request), recorded_by=_me(request))
    wake_sender(request)
    request.session["flash"] = _("Recorded as %(reference)s.", reference=created["reference"])
    return see_other(request, _url(request, "get_staff_inquiry", inquiry_id=created["id"]))


# One inquiry --------------------------------------------------------------------------------------------


async def _detail(request: Request, inquiry: dict, *, reply: dict | None = None, errors: dict | None = None,
                  problem: str = "", status_code: int = 200, fragment: str | None = None):
    """The inquiry's page. `reply` holds the reply form's values (kept when it comes back with errors)."""
    reply = {"body": "", "channel": threads.default_reply_channel(inquiry), "next_status": "waiting", **(reply or {})}
    now = clock.now()
    context = {
        "inquiry": inquiry, "messages": await threads.thread(inquiry["id"], staff=True), "desk": await desk_of(request),
        "reply": reply, "errors": errors or {}, "problem": problem, "staff_view": True, "now": now,
        "reply_channels": [(code, str(REPLY_CHANNELS[code]) % {"email": inquiry["email"]})
                           for code in threads.reply_channels(inquiry)],
        "next_statuses": [(code, str(STATUSES[code])) for code in SETTABLE_STATUSES],
        "categories": CATEGORIES,
        "templates": await reply_templates.templates(inquiry["category"]), "staff": await asking.staff_accounts(),
        "me": _me(request), "message_max": MESSAGE_MAX, "age_level": inbox.age_level(inquiry, now),
        **labels(),
    }
    return _no_store(request, "desk/staff/detail.html", context, status_code, fragment=fragment)


@get("/staff/inquiries/{inquiry_id:int}", name="get_staff_inquiry", guards=STAFF, cache_control=None)
async def get_staff_inquiry(request: Request, inquiry_id: FromPath[int]) -> object:
    return await _detail(request, await _inquiry(inquiry_id))


def _reply_values(form: dict) -> dict:
    return {"body": str(form.get("body", "")), "channel": str(form.get("channel", "")),
            "next_status": str(form.get("next_status", ""))}


@post("/staff/inquiries/{inquiry_id:int}/compose", name="compose_inquiry_reply", guards=STAFF)
async def compose_inquiry_reply(request: Request, inquiry_id: FromPath[int]) -> object:
    """Insert a saved template into the reply being written (nothing is stored): HTMX swaps the reply form,
    without JavaScript the page comes back with the text in place."""
    inquiry = await _inquiry(inquiry_id)
    form = await form_dict(request)
    reply = _reply_values(form)
    template_id = str(form.get("template", ""))
    chosen = await reply_templates.get_template(int(template_id)) if template_id.isdecimal() and len(template_id) <= 9 else None
    if chosen:
        filled = reply_templates.fill_template(chosen["body"], inquiry)
        reply["body"] = f"{reply['body'].rstrip()}\n\n{filled}" if reply["body"].strip() else filled
    return await _detail(request, inquiry, reply=reply, fragment="desk/staff/_reply_form.html")


@post("/staff/inquiries/{inquiry_id:int}/reply", name="reply_inquiry", guards=STAFF)
async def reply_inquiry(request: Request, inquiry_id: FromPath[int]) -> object:
    inquiry = await _inquiry(inquiry_id)
    reply = _reply_values(await form_dict(request))
    try:
        await threads.reply(inquiry_id, _me(request), reply["body"], reply["channel"], reply["next_status"],
                            await post_of(request))
    except InquiryInvalid as invalid:
        return await _detail(request, inquiry, reply=reply, errors=invalid.errors, status_code=422,
                             fragment="desk/staff/_reply_form.html")
    except InquiryRefused as refused:
        # The reply form may be gone (a closed inquiry has none): the whole page comes back, text kept.
        return await _detail(request, await _inquiry(inquiry_id), reply=reply, problem=_problem(refused), status_code=409)
    wake_sender(request)
    request.session["flash"] = str(REPLY_DONE[reply["channel"]])
    return see_other(request, _url(request, "get_staff_inquiry", inquiry_id=inquiry_id))


@post("/staff/inquiries/{inquiry_id:int}/notes", name="add_inquiry_note", guards=STAFF)
async def add_inquiry_note(request: Request, inquiry_id: FromPath[int]) -> object:
    inquiry = await _inquiry(inquiry_id)
    note = str((await form_dict(request)).get("note", ""))
    try:
        await threads.add_note(inquiry_id, _me(request), note)
    except InquiryInvalid as invalid:
        return await _detail(request, inquiry, reply={"note": note}, errors=invalid.errors, status_code=422)
    request.session["flash"] = _("The note is saved. The asker never sees it.")
    return see_other(request, _url(request, "get_staff_inquiry", inquiry_id=inquiry_id) + "#latest")


@post("/staff/inquiries/{inquiry_id:int}/asker", name="record_asker_message", guards=STAFF)
async def record_asker_message(request: Request, inquiry_id: FromPath[int]) -> object:
    """The asker answered by phone or by replying to the desk's mail: staff put it into the thread."""
    inquiry = await _inquiry(inquiry_id)
    form = await form_dict(request)
    body, channel = str(form.get("asker_body", "")), str(form.get("asker_channel", ""))
    try:
        await threads.add_asker_message(inquiry_id, body, channel if channel in ("email", "phone") else "",
                                        links_of(request), recorded_by=_me(request))
    except InquiryInvalid as invalid:
        errors = {f"asker_{name}": message for name, message in invalid.errors.items()}
        return await _detail(request, inquiry, reply={"asker_body": body, "asker_channel": channel}, errors=errors,
                             status_code=422)
    except InquiryRefused as refused:
        return await _detail(request, await _inquiry(inquiry_id), problem=_problem(refused), status_code=409)
    request.session["flash"] = _("The asker's message is added to the conversation.")
    return see_other(request, _url(request, "get_staff_inquiry", inquiry_id=inquiry_id) + "#latest")


async def _chosen(request: Request, inquiry_id: int, name: str) -> str:
    """One choice from a form of the inquiry's aside (a 404 first when there is no such inquiry)."""
    await _inquiry(inquiry_id)
    return str((await form_dict(request)).get(name, ""))


async def _changed(request: Request, inquiry_id: int, change, done: str) -> object:
    """Run a change of the aside: back to the page with `done`, or the page again saying why not."""
    try:
        await change
    except InquiryRefused as refused:
        return await _detail(request, await _inquiry(inquiry_id), problem=_problem(refused), status_code=409)
    request.session["flash"] = done
    return see_other(request, _url(request, "get_staff_inquiry", inquiry_id=inquiry_id))


@post("/staff/inquiries/{inquiry_id:int}/status", name="set_inquiry_status", guards=STAFF)
async def set_inquiry_status(request: Request, inquiry_id: FromPath[int]) -> object:
    status = await _chosen(request, inquiry_id, "status")
    return await _changed(request, inquiry_id, threads.set_status(inquiry_id, _me(request), status),
                          _("Status: %(status)s.", status=status_label(status)))


@post("/staff/inquiries/{inquiry_id:int}/category", name="set_inquiry_category", guards=STAFF)
async def set_inquiry_category(request: Request, inquiry_id: FromPath[int]) -> object:
    """Sort the inquiry under one of the desk's categories: above all a mail that came in unsorted."""
    category = await _chosen(request, inquiry_id, "category")
    return await _changed(request, inquiry_id, threads.set_category(inquiry_id, _me(request), category),
                          _("Category: %(category)s.", category=category_label(category)))


@post("/staff/inquiries/{inquiry_id:int}/assignee", name="assign_inquiry", guards=STAFF)
async def assign_inquiry(request: Request, inquiry_id: FromPath[int]) -> object:
    await _inquiry(inquiry_id)
    chosen = str((await form_dict(request)).get("assignee", ""))
    assignee_id = _me(request) if chosen == "me" else int(chosen) if chosen.isdecimal() and len(chosen) <= 9 else None
    if chosen and assignee_id is None:
        return await _detail(request, await _inquiry(inquiry_id), problem=str(REFUSALS["not_staff"]), status_code=409)
    try:
        await threads.assign(inquiry_id, _me(request), assignee_id)
    except InquiryRefused as refused:
        return await _detail(request, await _inquiry(inquiry_id), problem=_problem(refused), status_code=409)
    inquiry = await _inquiry(inquiry_id)
    request.session["flash"] = (_("Assigned to %(name)s.", name=inquiry["assignee_name"]) if assignee_id
                                else _("Nobody is assigned now."))
    return see_other(request, _url(request, "get_staff_inquiry", inquiry_id=inquiry_id))


@post("/staff/inquiries/{inquiry_id:int}/messages/{message_id:int}/resend", name="resend_inquiry_mail", guards=STAFF)
async def resend_inquiry_mail(request: Request, inquiry_id: FromPath[int], message_id: FromPath[int]) -> object:
    await _inquiry(inquiry_id)
    try:
        await threads.resend_mail(inquiry_id, message_id)
    except InquiryRefused as refused:
        if refused.reason == "not_found":
            raise NotFoundException() from None
        return await _detail(request, await _inquiry(inquiry_id), problem=_problem(refused), status_code=409)
    wake_sender(request)
    request.session["flash"] = _("The mail goes out again in a moment.")
    return see_other(request, _url(request, "get_staff_inquiry", inquiry_id=inquiry_id) + f"#message-{message_id}")


handlers = [
    list_staff_inquiries, export_inquiries, new_staff_inquiry, create_staff_inquiry, get_staff_inquiry,
    compose_inquiry_reply, reply_inquiry, add_inquiry_note, record_asker_message, set_inquiry_status, set_inquiry_category,
    assign_inquiry, resend_inquiry_mail,
]
