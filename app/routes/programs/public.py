"""Programs and online exchange meetings for everyone: the list and a program's page (its calendar file and
month calendar: calendars.py), and for members applying, cancelling and their own applications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from babel.dates import format_skeleton
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import TOKYO, current_audience, current_locale, datetime_range, format_datetime, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.page_cache import MEMBER_PAGE, counted_page
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.routes.programs.calendars import google_calendar_url, month_calendar, program_ics
from app.services.campaigns import campaigns
from app.services.membership import membership
from app.services.programs import applications, areas, reads
from app.services.programs.applications import ANSWER_MAX, MOTIVATION_MAX, SEAT_STATUSES, ApplicationRefused
from app.services.programs.programs import PUBLIC_STATUSES, THEMES
from app.services.shared import clock, markdown
from app.services.shared.actor import Actor
from app.services.subsidy import claims as subsidy_claims
from app.services.subsidy import rules as subsidy_rules
from app.sessions import noted_campaign

# "Open for application only" arrives as ?open=1.
OpenOnly = Annotated[str, QueryParameter(name="open")]
APPLICATION_STATUS = {
    "accepted": _l("Accepted"),
    "waitlisted": _l("On the waiting list"),
    "rejected": _l("Not accepted"),
    "cancelled": _l("Cancelled"),
    "attended": _l("Attended"),
}
# The organisers' word for a refusal; the member reads "Not accepted" (今回は参加いただけません).
STAFF_APPLICATION_STATUS = {**APPLICATION_STATUS, "rejected": _l("Rejected")}
PROGRAM_STATUS = {
    "draft": _l("Draft"),
    "submitted": _l("In review"),
    "published": _l("Published"),
    "closed": _l("Applications closed"),
    "completed": _l("Completed"),
    "rejected": _l("Sent back"),
}
APPLY_REFUSALS = {
    "already_applied": _l("You have already applied to this program. Your application is shown below."),
    "not_cancellable": _l("This application can no longer be canceled."),
    "changed_meanwhile": _l("Your application changed in the meantime. Check its status below."),
    "not_applied": _l("You have not applied to this program."),
}


def application_status_label(status: str) -> str:
    """An application's status as its reader says it: the member on their pages, the organisers on theirs."""
    labels = STAFF_APPLICATION_STATUS if current_audience.get() == "staff" else APPLICATION_STATUS
    return str(labels.get(status, status))


def program_status_label(status: str) -> str:
    return str(PROGRAM_STATUS.get(status, status))


def theme_label(theme: str) -> str:
    return str(THEMES.get(theme, theme))


def when(start: datetime, end: datetime) -> str:
    """The dates of a program in Tokyo time: one day with its hours, or from one day and hour to another."""
    return datetime_range(start, end)


def phase(program: dict, now: datetime, premium: bool = False) -> str:
    """Where the application period stands for this person: "open", "before" it, or "after" it (or no longer
    published)."""
    if applications.is_open(program, now, premium):
        return "open"
    return "before" if program["status"] == "published" and now < applications.opens_at(program, premium) else "after"


def labels() -> dict:
    """The helpers every program template uses."""
    return {
        "when": when, "theme_label": theme_label, "seats_left": reads.seats_left,
        "application_status_label": application_status_label, "program_status_label": program_status_label,
    }


# Reads for the pages (the rules that change data live in app/services/programs/) ---------------------


async def public_program(program_id: int) -> dict:
    program = await reads.program_page(program_id)
    if program is None:
        raise NotFoundException()
    return program


async def member_id_of(request: Request) -> int | None:
    account = current_account(request)
    if account is None or not account.is_member:
        return None
    member = await membership.member_for_account(account.id)
    return member["id"] if member else None


def absolute(request: Request, path: str) -> str:
    return request.app.state.settings.base_url.rstrip("/") + path


# Public pages ---------------------------------------------------------------------------------------


def _month_ok(month: str) -> bool:
    if len(month) != 7 or month[4] != "-" or not (month[:4].isdecimal() and month[5:].isdecimal()):
        return False
    return 2000 <= int(month[:4]) <= 2100 and 1 <= int(month[5:]) <= 12


def month_choices(now: datetime, chosen: str = "") -> list[tuple[str, str]]:
    """("2026-08", "2026年8月") from three months back to a year ahead, in Tokyo; a chosen month outside stays."""
    today = to_tokyo(now)
    choices = []
    for step in range(-3, 13):
        index = today.year * 12 + today.month - 1 + step
        first = datetime(index // 12, index % 12 + 1, 1, tzinfo=TOKYO)
        choices.append((f"{first:%Y-%m}", format_skeleton("yMMM", first, locale=current_locale.get())))
    if chosen and chosen not in {code for code, _label in choices}:
        first = datetime(int(chosen[:4]), int(chosen[5:]), 1, tzinfo=TOKYO)
        choices.append((chosen, format_skeleton("yMMM", first, locale=current_locale.get())))
    return choices


@get("/programs", name="list_programs", cache_control=None, opt=counted_page("program"))
async def list_programs(
    request: Request, area: FromQuery[str] = "", theme: FromQuery[str] = "", month: FromQuery[str] = "", open_only: OpenOnly = "",
    past: FromQuery[str] = "", view: FromQuery[str] = "",
) -> object:
    errors: dict[str, str] = {}
    area_id = int(area) if area.isdecimal() and len(area) <= 9 else None
    if area and area_id is None:
        errors["area"] = _("Choose from the list.")
    if theme and theme not in THEMES:
        errors["theme"] = _("Choose from the list.")
    month = month.strip()
    if month and not _month_ok(month):
        errors["month"] = _("Enter a month such as 2026-08.")
    elif month:
        month = f"{int(month[:4]):04d}-{int(month[5:]):02d}"  # full-width digits typed on a phone become ASCII
    now = clock.now()
    calendar_view = view == "calendar"
    chosen_month = month if "month" not in errors else ""
    if calendar_view and not chosen_month:
        chosen_month = f"{to_tokyo(now):%Y-%m}"  # the calendar always shows one month: this one unless chosen
    rows = await reads.public_programs(
        area_id=area_id, theme=theme if "theme" not in errors else "", month=chosen_month,
        open_only=bool(open_only), past=bool(past), now=now,
    )
    filters = {"area": area, "theme": theme, "month": month if errors.get("month") else chosen_month, "open": bool(open_only), "past": bool(past),
               "view": "calendar" if calendar_view else ""}
    context = {
        "programs": rows,
        "subsidised": await subsidy_rules.covered([row["id"] for row in rows]),
        "areas": await areas.choices(),
        "themes": [(code, str(label)) for code, label in THEMES.items()],
        "months": month_choices(now, chosen_month),
        "filters": filters,
        "calendar": month_calendar(chosen_month, rows, now) if calendar_view and chosen_month else None,
        "list_url": lambda **changes: list_url(request, filters, **changes),
        "errors": errors,
        "open_now": lambda program: applications.is_open(program, now),
        "ended": lambda program: program["ends_at"] <= now,
        **labels(),
    }
    return page(request, "programs/list.html", context, fragment="programs/_program_list.html",
                status_code=422 if errors else 200)


def list_url(request: Request, filters: dict, **changes) -> str:
    """The list's address with these filters changed (the view and past/upcoming switches keep the rest)."""
    query = {"area": filters["area"], "theme": filters["theme"], "month": filters["month"],
             "open": "1" if filters["open"] else "", "past": "1" if filters["past"] else "", "view": filters["view"]}
    query.update({key: value for key, value in changes.items()})
    if query["view"] != "calendar" and "month" not in changes and filters["view"] == "calendar":
        query["month"] = ""  # leaving the calendar: back to what is to come, not the month it showed
    return request.app.route_reverse("list_programs") + "?" + urlencode({k: v for k, v in query.items() if v})


async def detail_context(request: Request, program: dict, errors: dict | None = None, values: dict | None = None) -> dict:
    now = clock.now()
    member_id = await member_id_of(request)
    application = await reads.application_of(program["id"], member_id)
    premium = await applications.is_premium(member_id, now)
    account = current_account(request)
    path = request.app.route_reverse("get_program", program_id=program["id"])
    image = program["image_url"]
    # The travel subsidy's terms, and for a member where their claim stands (app/services/subsidy/).
    claim_standing = await subsidy_claims.standing(program["id"], member_id, to_tokyo(now).date()) \
        if member_id is not None else None
    return {
        "program": program,
        "body_html": markdown.render(program["body"]) if program["body"] else None,
        "share_url": absolute(request, path),
        "og_description": program["summary"] or markdown.plain_text(program["body"]) or "",
        "og_image": absolute(request, image) if image.startswith("/") else image,
        "is_member": member_id is not None,
        "application": application,
        # The meeting link of an online event is for registrants who hold a seat, never for the public.
        "meeting_url": program["meeting_url"] if application and application["status"] in SEAT_STATUSES else "",
        "phase": phase(program, now, premium),
        "ended": program["ends_at"] <= now,
        "google_calendar_url": google_calendar_url(program, absolute(request, path)),
        "premium": premium,
        "opens_at": applications.opens_at(program, premium),
        "can_manage": account is not None and Actor.of(account).may_manage(program["area"]),
        "errors": errors or {},
        "values": values or {},
        "motivation_max": MOTIVATION_MAX,
        "answer_max": ANSWER_MAX,
        "now": now,
        "subsidy": claim_standing.rules if claim_standing else await subsidy_rules.rules_of(program["id"]),
        "claim_standing": claim_standing,
        "claim_status_label": subsidy_claims.member_status_label,
        **labels(),
    }


@get("/staff/preview/program/{program_id:int}", name="get_program_preview", guards=[guards.staff], cache_control=None)
async def get_program_preview(request: Request, program_id: FromPath[int]) -> object:
    """The program page exactly as the public will see it, whatever its status now."""
    program = await reads.program_page(program_id, any_status=True)
    if program is None:
        raise NotFoundException()
    return page(request, "programs/detail.html", await detail_context(request, program), cache="no-store")


@get("/staff/preview/program-revision/{revision_id:int}", name="get_program_revision_preview", guards=[guards.staff],
     cache_control=None)
async def get_program_revision_preview(request: Request, revision_id: FromPath[int]) -> object:
    """A change waiting for review, shown as the public page will look once it is approved."""
    program = await reads.proposed_program(revision_id)
    if program is None:
        raise NotFoundException()
    return page(request, "programs/detail.html", await detail_context(request, program), cache="no-store")


@get("/programs/{program_id:int}", name="get_program", cache_control=None, opt=counted_page("program"))
async def get_program(request: Request, program_id: FromPath[int]) -> object:
    program = await public_program(program_id)
    return page(request, "programs/detail.html", await detail_context(request, program))


@get("/programs/{program_id:int}/calendar.ics", name="get_program_ics", cache_control=None)
async def get_program_ics(request: Request, program_id: FromPath[int]) -> Response:
    program = await public_program(program_id)
    url = absolute(request, request.app.route_reverse("get_program", program_id=program_id))
    host = urlsplit(request.app.state.settings.base_url).hostname or "localhost"
    body = program_ics(program, url, host, clock.now())
    return Response(
        body.encode("utf-8"),
        media_type="text/calendar",  # Litestar adds the charset
        headers={"Content-Disposition": f"attachment; filename=program-{program_id}.ics", "Cache-Control": "no-cache"},
    )


# Members: apply, cancel, and their applications -----------------------------------------------------


def _not_open_message(program: dict, now: datetime, premium: bool) -> str:
    if phase(program, now, premium) == "before":
        return _("Applications open on %(date)s.", date=format_datetime(applications.opens_at(program, premium), "short"))
    return _("Applications for this program have closed.")


@post("/programs/{program_id:int}/apply", name="apply_to_program", guards=[guards.member])
async def apply_to_program(request: Request, program_id: FromPath[int]) -> object:
    program = await public_program(program_id)
    member_id = await member_id_of(request)
    form = await form_dict(request)
    motivation = str(form.get("motivation", ""))
    answers = [str(form.get(f"answer_{index}", "")) for index in range(len(program["questions"]))]
    values = {"motivation": motivation, **{f"answer_{i}": a for i, a in enumerate(answers)}}
    now = clock.now()
    try:
        campaign = await campaigns.campaign_to_record(member_id, noted_campaign(request.session))
        status = await applications.apply(program_id, member_id, motivation, answers, now, campaign)
    except ApplicationRefused as refused:
        if refused.reason == "not_found":
            raise NotFoundException() from None
        if refused.reason == "too_long":
            limit = MOTIVATION_MAX if refused.field == "motivation" else ANSWER_MAX
            errors = {refused.field: _("Use %(max)d characters or fewer.", max=limit)}
        elif refused.reason == "not_open":
            errors = {"apply": _not_open_message(program, now, await applications.is_premium(member_id, now))}
        else:
            errors = {"apply": str(APPLY_REFUSALS.get(refused.reason, refused.reason))}
        context = await detail_context(request, program, errors, values)
        return page(request, "programs/detail.html", context, fragment="programs/_application.html",
                    status_code=422, cache="no-store")
    if status == "accepted":
        request.session["flash"] = _("You are accepted. The details are on this page; we look forward to meeting you.")
    else:
        request.session["flash"] = _("The program is full, so you are on the waiting list. We will tell you if a place opens up.")
    return see_other(request, request.app.route_reverse("get_program", program_id=program_id))


@post("/programs/{program_id:int}/cancel", name="cancel_application", guards=[guards.member])
async def cancel_application(request: Request, program_id: FromPath[int]) -> object:
    program = await public_program(program_id)
    application = await reads.application_of(program_id, await member_id_of(request))
    try:
        if application is None:
            raise ApplicationRefused("not_applied")
        await applications.cancel(application["id"], application["member"], clock.now())
    except ApplicationRefused as refused:
        context = await detail_context(request, program, {"apply": str(APPLY_REFUSALS.get(refused.reason, refused.reason))})
        return page(request, "programs/detail.html", context, fragment="programs/_application.html",
                    status_code=409, cache="no-store")
    request.session["flash"] = _("Your application was canceled.")
    return see_other(request, request.app.route_reverse("get_program", program_id=program_id))


@get("/programs/mine", name="list_my_applications", guards=[guards.member], cache_control=None, opt=MEMBER_PAGE)
async def list_my_applications(request: Request) -> object:
    member_id = await member_id_of(request)
    rows = await reads.member_applications(member_id)
    context = {"applications": rows, "public_statuses": PUBLIC_STATUSES, **labels()}
    return page(request, "programs/mine.html", context)


handlers = [
    get_program_preview, get_program_revision_preview, list_programs, list_my_applications, get_program, get_program_ics, apply_to_program, cancel_application]
