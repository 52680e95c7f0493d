"""Check-ins at a designated activity, for its organiser: the member card scanned at the venue, a check-in
recorded by hand with a reason, the check-ins' CSV, and the activity's daily check-in code — one on a tablet at
the door, or one per day printed for posters."""

from __future__ import annotations

from datetime import date

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.qr import signed_code_qr_svg
from app.rendering import csv_download, see_other
from app.routes.activities.editor import CODE_MAX, EDITORS, activity_for, activity_page, actor_of, labels, no_store
from app.routes.forms import form_dict, single_values, uploaded_file
from app.services.activities import check_ins, meeting_report
from app.services.activities.activities import days_of
from app.services.activities.check_ins import CheckInRefused
from app.services.activities.progress import HOW_LABELS
from app.services.imports import held, reader
from app.services.imports.reader import FileRefused
from app.services.shared import clock, exports

POSTER_DAYS = 31  # a month of posters per page: a page of a year's codes would take long and print badly


def _back(request: Request, activity_id: int) -> Response:
    return see_other(request, request.app.route_reverse("get_activity", activity_id=activity_id) + "#check-ins")


def _recorded_message(recorded: check_ins.Recorded, who: str) -> str:
    day = recorded.day.isoformat()
    if recorded.first:
        return _("%(who)s is checked in for %(day)s.", who=who, day=day)
    return _("%(who)s was already checked in for %(day)s.", who=who, day=day)


@post("/editor/activities/{activity_id:int}/check-ins/card", name="check_in_by_card", guards=EDITORS)
async def check_in_by_card(request: Request, activity_id: FromPath[int]) -> object:
    activity = await activity_for(request, activity_id)
    code = str(single_values(await form_dict(request))["code"]).strip()[:CODE_MAX]
    if not code:
        return await activity_page(request, activity, errors={"code": _("Enter or scan the code of the member card.")},
                                   status_code=422)
    try:
        recorded, member = await check_ins.by_card(request.app.state.signer, activity_id, code, actor_of(request),
                                                   clock.now())
    except CheckInRefused as refused:
        return await activity_page(request, activity, code=code, errors={"code": refused.message}, status_code=422)
    request.session["flash"] = _recorded_message(recorded, f"{member['display_name']} ({member['member_no']})")
    return _back(request, activity_id)


@post("/editor/activities/{activity_id:int}/check-ins/hand", name="check_in_by_hand", guards=EDITORS)
async def check_in_by_hand(request: Request, activity_id: FromPath[int]) -> object:
    activity = await activity_for(request, activity_id)
    form = single_values(await form_dict(request))
    hand = {name: str(form[name]) for name in ("member_no", "day", "reason")}
    try:
        recorded = await check_ins.by_hand(activity_id, hand["member_no"], hand["day"], hand["reason"],
                                           actor_of(request), clock.now())
    except CheckInRefused as refused:
        field = refused.field if refused.field in hand else "hand"
        return await activity_page(request, activity, hand=hand, errors={field: refused.message}, status_code=422)
    request.session["flash"] = _recorded_message(recorded, hand["member_no"].strip().upper())
    return _back(request, activity_id)


# Attendance from an online meeting's participant report (Zoom's CSV): upload → preview → record ------


def _report_kind(activity_id: int) -> str:
    return f"attendance-{activity_id}"  # a held report belongs to one activity


@post("/editor/activities/{activity_id:int}/attendance-report", name="upload_attendance_report", guards=EDITORS)
async def upload_attendance_report(request: Request, activity_id: FromPath[int]) -> object:
    activity = await activity_for(request, activity_id)
    data, filename = await uploaded_file(request, "report", reader.MAX_BYTES)
    try:
        meeting_report.read(data)
    except FileRefused as refused:
        return await activity_page(request, activity, errors={"report": refused.message}, status_code=422)
    token = held.hold(request.app.state.settings.var_dir, data, filename, current_account(request).id,
                      _report_kind(activity_id))
    return see_other(request, request.app.route_reverse("preview_attendance_report", activity_id=activity_id,
                                                        token=token))


def _held_report(request: Request, activity_id: int, token: str, take: bool = False) -> held.Held | None:
    get = held.take if take else held.load
    return get(request.app.state.settings.var_dir, token[:64], current_account(request).id, _report_kind(activity_id))


async def _report_gone(request: Request, activity: dict) -> object:
    message = _("The uploaded report is no longer here (files are kept for a day). Upload it again.")
    return await activity_page(request, activity, errors={"report": message}, status_code=410)


@get("/editor/activities/{activity_id:int}/attendance-report/{token:str}", name="preview_attendance_report",
     guards=EDITORS, cache_control=None)
async def preview_attendance_report(request: Request, activity_id: FromPath[int], token: FromPath[str]) -> object:
    activity = await activity_for(request, activity_id)
    report_file = _held_report(request, activity_id, token)
    if report_file is None:
        return await _report_gone(request, activity)
    try:
        report = await meeting_report.preview(activity, report_file.data)
    except FileRefused as refused:
        return await activity_page(request, activity, errors={"report": refused.message}, status_code=422)
    context = {"activity": activity, "held": report_file, "report": report, "counts": report.counts,
               "outcomes": meeting_report.outcome_labels(), "problems": {"no_time": _("The join time could not be read."),
                                                                         **{p: reader.row_problem_message(p)
                                                                            for p in ("unreadable", "ragged")}},
               **labels()}
    return no_store(request, "activities/editor/attendance_report.html", context)


@post("/editor/activities/{activity_id:int}/attendance-report/{token:str}", name="record_attendance_report",
      guards=EDITORS)
async def record_attendance_report(request: Request, activity_id: FromPath[int], token: FromPath[str]) -> object:
    activity = await activity_for(request, activity_id)
    report_file = _held_report(request, activity_id, token, take=True)  # taken: a second click records nothing
    if report_file is None:
        return await _report_gone(request, activity)
    try:
        counts = await meeting_report.record(activity, actor_of(request), report_file.data, report_file.filename,
                                             report_file.sha256, clock.now())
    except FileRefused as refused:
        return await activity_page(request, activity, errors={"report": refused.message}, status_code=422)
    request.session["flash"] = _("%(recorded)d check-ins recorded from the report; %(already)d were already recorded, "
                                 "%(unmatched)d participants matched no member.", **counts)
    return _back(request, activity_id)


# The check-ins' CSV ---------------------------------------------------------------------------------


@get("/editor/activities/{activity_id:int}/check-ins/csv", name="export_check_ins", guards=EDITORS, cache_control=None)
async def export_check_ins(request: Request, activity_id: FromPath[int]) -> Response:
    await activity_for(request, activity_id)
    rows = await check_ins.check_ins_of(activity_id, actor_of(request))
    with exports.csv_language():
        text = exports.csv_text(
            [_("Day"), _("Member number"), _("Display name"), _("How it was recorded"), _("Recorded at"), _("Reason")],
            [[row["day"].isoformat(), row["member_no"], row["display_name"], str(HOW_LABELS.get(row["method"], row["method"])),
              to_tokyo(row["scanned_at"]).strftime("%Y-%m-%d %H:%M"), row["reason"]] for row in rows])
    await exports.record_export(current_account(request).id, "activity", str(activity_id),
                                {"table": "check_ins", "rows": len(rows)}, clock.now())
    return csv_download(f"activity-{activity_id}-check-ins.csv", text)


# The daily check-in code ----------------------------------------------------------------------------


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _code(request: Request, activity: dict, day: date) -> dict:
    code = check_ins.code_for(request.app.state.signer, activity["id"], day)
    return {"day": day, "qr": signed_code_qr_svg(code, _("Check-in code for %(day)s", day=day.isoformat()))}


@get("/editor/activities/{activity_id:int}/code", name="get_check_in_code", guards=EDITORS, cache_control=None)
async def get_check_in_code(request: Request, activity_id: FromPath[int], day: FromQuery[str] = "") -> object:
    """The day's code (today in Japan unless ?day= says), for a tablet at the door."""
    activity = await activity_for(request, activity_id)
    days = days_of(activity)
    chosen = _day(day.strip()) if day else clock.today_in_japan()
    shown = chosen if chosen in days and activity["status"] == "open" else None
    context = {"activity": activity, "days": days, "chosen": chosen, "asked": day[:20],
               "code": _code(request, activity, shown) if shown else None, **labels()}
    return no_store(request, "activities/editor/code.html", context, 200 if shown or not day else 422)


@get("/editor/activities/{activity_id:int}/codes", name="get_check_in_posters", guards=EDITORS, cache_control=None)
async def get_check_in_posters(request: Request, activity_id: FromPath[int], page: FromQuery[str] = "1") -> object:
    """One code per day of the period, to print as posters: POSTER_DAYS days a page."""
    activity = await activity_for(request, activity_id)
    days = days_of(activity)
    pages = (len(days) + POSTER_DAYS - 1) // POSTER_DAYS
    number = int(page) if page.isdecimal() and len(page) <= 4 and 1 <= int(page) <= pages else None
    shown = days[(number - 1) * POSTER_DAYS: number * POSTER_DAYS] if number and activity["status"] == "open" else []
    context = {"activity": activity, "codes": [_code(request, activity, d) for d in shown], "page": number,
               "pages": pages, **labels()}
    return no_store(request, "activities/editor/posters.html", context, 200 if number else 422)


handlers = [check_in_by_card, check_in_by_hand, upload_attendance_report, preview_attendance_report,
            record_attendance_report, export_check_ins, get_check_in_code, get_check_in_posters]
