"""Regional programs and online exchange meetings: the review workflow, applications with a waitlist,
attendance, and local activities counted per fiscal year (the evidence for the premium tier)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from app.i18n import TOKYO, format_datetime, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.notify import notices
from app.services.review import revisions, workflow
from app.services.review.revisions import RevisionRefused
from app.services.review.workflow import WorkflowRefused
from app.services.shared import clock
from app.services.shared.actor import Actor
from app.services.shared.reference import INTERESTS
from app.services.shared.refusals import FormInvalid, Refusal
from db.engine import atomic, is_unique_violation
from db.tables import Application, Area, AuditLog, Member, Program

# A program's themes are the interests members tick when they register, so the two can be matched.
THEMES = INTERESTS
KINDS = ("program", "event")
STATUSES = ("draft", "submitted", "published", "closed", "completed", "rejected")
PUBLIC_STATUSES = ("published", "closed", "completed")
# An editor's change to a program the public sees waits for review as a revision (app/services/revisions.py).
REVISED_STATUSES = ("published", "closed")
SEAT_STATUSES = ("accepted", "attended")
# Who may move a program from which status to which.
TRANSITIONS = {
    "editor": {("draft", "submitted"), ("rejected", "submitted"), ("published", "closed"), ("closed", "completed")},
    "staff": {
        ("draft", "submitted"), ("rejected", "submitted"), ("submitted", "published"), ("submitted", "rejected"),
        ("published", "rejected"), ("closed", "rejected"), ("published", "closed"), ("closed", "completed"),
    },
}
PREMIUM_ACTIVITIES = 3
TITLE_MAX, SUMMARY_MAX, BODY_MAX, PLACE_MAX, SUPPORT_MAX = 120, 300, 20000, 200, 2000
MOTIVATION_MAX, ANSWER_MAX, QUESTIONS_MAX, QUESTION_MAX = 2000, 1000, 5, 200
CAPACITY_MAX = 500
URL = re.compile(r"^https?://[^\s<>\"']+$")


def program_path(program_id: int) -> str:
    """The program's public page (routes/programs.py `get_program`), for links in notices and pushes."""
    return f"/programs/{program_id}"


class ProgramInvalid(FormInvalid):
    """What an editor typed into the program form cannot be saved."""


class ApplicationRefused(Refusal):
    """An application (or its cancellation) is not possible now; `field` when one answer is the cause."""


@dataclass
class ProgramValues:
    area_id: int | None = None
    kind: str = "program"
    title: str = ""
    summary: str = ""
    body: str = ""
    themes: list[str] = field(default_factory=list)
    place: str = ""
    meeting_url: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    apply_from: datetime | None = None
    apply_until: datetime | None = None
    capacity: int = 10
    support: str = ""
    questions: list[str] = field(default_factory=list)
    image_url: str = ""


def _text(form: dict, name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _local_datetime(value: str) -> datetime | None:
    """An <input type="datetime-local"> value, read as Tokyo time."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=TOKYO) if parsed.tzinfo is None else parsed


async def validate_program(form: dict, actor: Actor) -> ProgramValues:
    errors: dict[str, str] = {}
    values = ProgramValues(
        kind=_text(form, "kind") or "program",
        title=_text(form, "title"),
        summary=_text(form, "summary"),
        body=_text(form, "body"),
        themes=[t for t in (form.get("themes") or []) if isinstance(t, str)] if isinstance(form.get("themes"), list)
        else ([form["themes"]] if form.get("themes") else []),
        place=_text(form, "place"),
        meeting_url=_text(form, "meeting_url"),
        support=_text(form, "support"),
        image_url=_text(form, "image_url"),
        questions=[line.strip() for line in _text(form, "questions").splitlines() if line.strip()],
    )
    area_text = _text(form, "area")
    if actor.role == "editor":
        values.area_id = actor.area_id
        if actor.area_id is None:  # an editor account without an area must not create orphan programs
            errors["area"] = _("Your account has no area yet. Ask the secretariat to assign one.")
    elif area_text.isdecimal() and len(area_text) <= 9 and await Area.exists().where(Area.id == int(area_text)):
        values.area_id = int(area_text)
    else:
        errors["area"] = _("Choose the area.")
    if values.kind not in KINDS:
        errors["kind"] = _("Choose from the list.")
    if not values.title:
        errors["title"] = _("Enter a title.")
    for name, limit in (("title", TITLE_MAX), ("summary", SUMMARY_MAX), ("body", BODY_MAX), ("place", PLACE_MAX),
                        ("support", SUPPORT_MAX)):
        if len(getattr(values, name)) > limit:
            errors[name] = _("Use %(max)d characters or fewer.", max=limit)
    if any(theme not in THEMES for theme in values.themes):
        errors["themes"] = _("Choose from the list.")
    for name in ("meeting_url", "image_url"):
        value = getattr(values, name)
        if value and not (URL.match(value) or (name == "image_url" and value.startswith("/uploads/"))):
            errors[name] = _("Enter a link that starts with https://.")
    if values.kind == "event" and not values.meeting_url:
        errors["meeting_url"] = _("An online meeting needs its meeting link.")
    if len(values.questions) > QUESTIONS_MAX or any(len(q) > QUESTION_MAX for q in values.questions):
        errors["questions"] = _("Up to %(count)d questions of %(max)d characters each.", count=QUESTIONS_MAX, max=QUESTION_MAX)
    capacity_text = _text(form, "capacity") or "10"
    if capacity_text.isdecimal() and 1 <= int(capacity_text) <= CAPACITY_MAX:
        values.capacity = int(capacity_text)
    else:
        errors["capacity"] = _("Enter a whole number from %(low)d to %(high)d.", low=1, high=CAPACITY_MAX)
    for name in ("starts_at", "ends_at", "apply_from", "apply_until"):
        parsed = _local_datetime(_text(form, name))
        if parsed is None:
            errors[name] = _("Enter a date and time.")
        setattr(values, name, parsed)
    if "starts_at" not in errors and "ends_at" not in errors and values.ends_at < values.starts_at:
        errors["ends_at"] = _("The end must be after the start.")
    if "apply_from" not in errors and "apply_until" not in errors and values.apply_until <= values.apply_from:
        errors["apply_until"] = _("Applications must close after they open.")
    if "apply_until" not in errors and "ends_at" not in errors and values.apply_until > values.ends_at:
        errors["apply_until"] = _("Applications must close before the program ends.")
    if errors:
        raise ProgramInvalid(errors)
    return values


def _columns(values: ProgramValues) -> dict:
    return {
        Program.area: values.area_id, Program.kind: values.kind, Program.title: values.title,
        Program.summary: values.summary, Program.body: values.body, Program.themes: values.themes,
        Program.place: values.place, Program.meeting_url: values.meeting_url, Program.starts_at: values.starts_at,
        Program.ends_at: values.ends_at, Program.apply_from: values.apply_from, Program.apply_until: values.apply_until,
        Program.capacity: values.capacity, Program.support: values.support, Program.questions: values.questions,
        Program.image_url: values.image_url,
    }


async def create_program(actor: Actor, values: ProgramValues) -> int:
    now = clock.now()
    row = {column._meta.name: value for column, value in _columns(values).items()}
    rows = await Program.insert(Program(**row, author=actor.account_id, created_at=now, updated_at=now)).returning(Program.id)
    return rows[0]["id"]


async def editable(program_id: int, actor: Actor) -> dict:
    """The program if this actor may edit it: editors only their area's, and not while staff review it."""
    program = await Program.select().where(Program.id == program_id).first().output(load_json=True)
    if program is None:
        raise WorkflowRefused("not_found")
    if actor.outside_area(program["area"]):
        raise WorkflowRefused("not_your_area")
    if actor.role == "editor" and program["status"] not in ("draft", "rejected", *REVISED_STATUSES):
        raise WorkflowRefused("in_review")
    return program


def proposes_revision(program: dict, actor: Actor) -> bool:
    """Whether this actor's change to the program waits for review while the public keeps the published one."""
    return actor.role == "editor" and program["status"] in REVISED_STATUSES


async def update_program(program_id: int, actor: Actor, values: ProgramValues) -> str:
    """Save changes; returns the program's status, or revisions.PROPOSED when an editor changed a program the
    public sees: then the change waits for review as a revision and the public page keeps the published
    values (staff changes apply at once)."""
    program = await editable(program_id, actor)
    if values.capacity < program["seats_taken"]:
        raise ProgramInvalid({"capacity": _("%(count)d people are already accepted.", count=program["seats_taken"])})
    if proposes_revision(program, actor):
        proposed = {column._meta.name: value for column, value in _columns(values).items()}
        await revisions.propose(REVISIONS, program, proposed, actor.account_id)
        return revisions.PROPOSED
    changes = _columns(values) | {Program.updated_at: clock.now()}
    async with atomic(Program._meta.db):
        # The capacity guard repeats in the statement, so a seat taken meanwhile is never squeezed out.
        updated = await Program.update(changes).where(
            (Program.id == program_id) & (Program.seats_taken <= values.capacity) & (Program.status == program["status"])
        ).returning(Program.id)
        if not updated:
            raise WorkflowRefused("changed_meanwhile")
    return program["status"]


async def pending_revision(program_id: int) -> dict | None:
    return await workflow.pending_revision(WORKFLOW, program_id)


async def withdraw_revision(program_id: int, actor: Actor) -> None:
    await workflow.withdraw_revision(WORKFLOW, program_id, actor)


async def transition(program_id: int, actor: Actor, to_status: str, reason: str = "") -> None:
    """Move a program along the review workflow (review/workflow.py). Raises WorkflowRefused."""
    await workflow.transition(WORKFLOW, program_id, actor, to_status, reason)


def is_open(program: dict, now: datetime) -> bool:
    return program["status"] == "published" and program["apply_from"] <= now <= program["apply_until"]


async def apply(program_id: int, member_id: int, motivation: str, answers: list[str], now: datetime) -> str:
    """Apply once. A seat if one is free (taken by a conditional UPDATE), otherwise the waitlist."""
    program = await Program.select().where(Program.id == program_id).first().output(load_json=True)
    if program is None or program["status"] not in PUBLIC_STATUSES:
        raise ApplicationRefused("not_found")
    if not is_open(program, now):
        raise ApplicationRefused("not_open")
    motivation = motivation.strip()
    if len(motivation) > MOTIVATION_MAX:
        raise ApplicationRefused("too_long", "motivation")
    answers = [a.strip() for a in answers][: len(program["questions"])]
    answers += [""] * (len(program["questions"]) - len(answers))
    for index, answer in enumerate(answers):
        if len(answer) > ANSWER_MAX:
            raise ApplicationRefused("too_long", f"answer_{index}")
    try:
        async with atomic(Program._meta.db):
            seat = await Program.update({Program.seats_taken: Program.seats_taken + 1}).where(
                (Program.id == program_id) & (Program.seats_taken < Program.capacity)
            ).returning(Program.id)
            status = "accepted" if seat else "waitlisted"
            await Application.insert(
                Application(program=program_id, member=member_id, status=status, motivation=motivation,
                            answers=answers, created_at=now, updated_at=now)
            )
    except Exception as exc:
        if is_unique_violation(exc):
            raise ApplicationRefused("already_applied") from None
        raise
    return status


async def _promote_first_waitlisted(program_id: int, now: datetime) -> int | None:
    """Inside a transaction: give a freed seat to the longest-waiting member, and tell them."""
    while True:
        first = await Application.select(Application.id, Application.member.account.as_alias("account")).where(
            (Application.program == program_id) & (Application.status == "waitlisted")
        ).order_by(Application.created_at).order_by(Application.id).first()
        if first is None:
            return None
        seat = await Program.update({Program.seats_taken: Program.seats_taken + 1}).where(
            (Program.id == program_id) & (Program.seats_taken < Program.capacity)
        ).returning(Program.title)
        if not seat:
            return None
        promoted = await Application.update({Application.status: "accepted", Application.updated_at: now}).where(
            (Application.id == first["id"]) & (Application.status == "waitlisted")
        ).returning(Application.id)
        if promoted:
            break
        # (PostgreSQL, read committed) that member left the waitlist after our read: seat back, try the next one.
        await Program.update({Program.seats_taken: Program.seats_taken - 1}).where(Program.id == program_id)
    await notices.notify(first["account"], _("A place opened up: %(title)s", title=seat[0]["title"]),
                         _("You were on the waiting list and are now accepted."), url=program_path(program_id), now=now)
    return first["id"]


async def _leave_seat(application: dict, new_status: str, now: datetime) -> None:
    """Inside a transaction: move an application off its seat (or off the waitlist) and refill the seat."""
    moved = await Application.update({Application.status: new_status, Application.updated_at: now}).where(
        (Application.id == application["id"]) & (Application.status == application["status"])
    ).returning(Application.id)
    if not moved:
        raise ApplicationRefused("changed_meanwhile")
    if application["status"] == "accepted":
        await Program.update({Program.seats_taken: Program.seats_taken - 1}).where(
            (Program.id == application["program"]) & (Program.seats_taken > 0)
        )
        if new_status != "waitlisted":
            await _promote_first_waitlisted(application["program"], now)


async def cancel(application_id: int, member_id: int, now: datetime) -> None:
    application = await Application.select().where(
        (Application.id == application_id) & (Application.member == member_id)
    ).first()
    if application is None:
        raise ApplicationRefused("not_found")
    if application["status"] not in ("accepted", "waitlisted"):
        raise ApplicationRefused("not_cancellable")
    async with atomic(Application._meta.db):
        await _leave_seat(application, "cancelled", now)


async def decide(application_id: int, actor: Actor, decision: str, now: datetime) -> None:
    """An editor or staff accepts, rejects, moves to the waitlist, or marks attendance."""
    application = await Application.select(*Application.all_columns(), Application.program.area.as_alias("area")).where(
        Application.id == application_id
    ).first()
    if application is None:
        raise ApplicationRefused("not_found")
    if actor.outside_area(application["area"]):
        raise ApplicationRefused("not_your_area")
    current = application["status"]
    async with atomic(Application._meta.db):
        if decision == "accept" and current == "waitlisted":
            seat = await Program.update({Program.seats_taken: Program.seats_taken + 1}).where(
                (Program.id == application["program"]) & (Program.seats_taken < Program.capacity)
            ).returning(Program.id)
            if not seat:
                raise ApplicationRefused("full")
            # Read before the transaction: if the member left the waitlist meanwhile, the seat goes back (rollback).
            moved = await Application.update({Application.status: "accepted", Application.updated_at: now}).where(
                (Application.id == application_id) & (Application.status == "waitlisted")
            ).returning(Application.id)
            if not moved:
                raise ApplicationRefused("changed_meanwhile")
        elif decision == "reject" and current in ("accepted", "waitlisted"):
            await _leave_seat(application, "rejected", now)
        elif decision == "waitlist" and current == "accepted":
            await _leave_seat(application, "waitlisted", now)
        elif decision == "attend" and current == "accepted":
            moved = await Application.update(
                {Application.status: "attended", Application.attended_at: now, Application.updated_at: now}
            ).where((Application.id == application_id) & (Application.status == "accepted")).returning(Application.id)
            if not moved:
                raise ApplicationRefused("changed_meanwhile")
        else:
            raise ApplicationRefused("not_allowed")
        await AuditLog.insert(
            AuditLog(actor=actor.account_id, action="application.status", target_type="application",
                     target_id=str(application_id), detail={"from": current, "decision": decision}, created_at=now)
        )


async def attend_by_member(program_id: int, member_id: int, actor: Actor, now: datetime) -> str:
    """Attendance by scanning the member card at the venue: the member's application is found and marked."""
    application = await Application.select(
        Application.id, Application.status, Application.program.area.as_alias("area")
    ).where((Application.program == program_id) & (Application.member == member_id)).first()
    if application is None:
        raise ApplicationRefused("not_applied")
    if actor.outside_area(application["area"]):
        raise ApplicationRefused("not_your_area")  # also for a second scan: another area's editor learns nothing
    if application["status"] == "attended":
        return "attended"
    await decide(application["id"], actor, "attend", now)
    return "attended"


def fiscal_year_of(moment: datetime) -> int:
    """April to March, in Tokyo: 2027-03-31 belongs to fiscal year 2026, 2027-04-01 to 2027."""
    local = to_tokyo(moment)
    return local.year if local.month >= 4 else local.year - 1


def fiscal_year_bounds(year: int) -> tuple[datetime, datetime]:
    return (datetime.combine(date(year, 4, 1), time(), TOKYO), datetime.combine(date(year + 1, 4, 1), time(), TOKYO))


async def activity_count(member_id: int, year: int) -> int:
    """Local activities (担い手活動) this fiscal year: programs the member attended."""
    start, end = fiscal_year_bounds(year)
    return await Application.count().where(
        (Application.member == member_id) & (Application.status == "attended")
        & (Application.attended_at >= start) & (Application.attended_at < end)
    )


async def active_members(year: int, minimum: int = PREMIUM_ACTIVITIES) -> list[dict]:
    """Members with at least `minimum` activities in the fiscal year: evidence for the premium tier."""
    start, end = fiscal_year_bounds(year)
    rows = await Application.select(Application.member).where(
        (Application.status == "attended") & (Application.attended_at >= start) & (Application.attended_at < end)
    )
    counts: dict[int, int] = {}
    for row in rows:
        counts[row["member"]] = counts.get(row["member"], 0) + 1
    wanted = [member_id for member_id, count in counts.items() if count >= minimum]
    if not wanted:
        return []
    members = await Member.select(Member.id, Member.member_no, Member.tier, Member.account.display_name).where(
        Member.id.is_in(wanted)
    )
    return sorted(({**m, "activities": counts[m["id"]]} for m in members), key=lambda m: (-m["activities"], m["member_no"]))


async def public_programs(area_id: int | None = None, theme: str = "", month: str = "", open_only: bool = False,
                          now: datetime | None = None, limit: int = 50) -> list[dict]:
    """Published programs for the public list, newest start first, with the filters of the list page."""
    now = now or clock.now()
    query = Program.select(*Program.all_columns(), Program.area.name.as_alias("area_name")).where(
        Program.status.is_in(list(PUBLIC_STATUSES))
    )
    if area_id:
        query = query.where(Program.area == area_id)
    if open_only:
        query = query.where((Program.status == "published") & (Program.apply_from <= now) & (Program.apply_until >= now))
    if re.fullmatch(r"\d{4}-\d{2}", month or ""):
        year, mon = int(month[:4]), int(month[5:])
        if 1 <= mon <= 12 and 1 <= year < 9999:  # datetime() refuses year 0 and year 10000
            start = datetime(year, mon, 1, tzinfo=TOKYO)
            end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=TOKYO)
            query = query.where((Program.starts_at >= start) & (Program.starts_at < end))
    query = query.order_by(Program.starts_at, ascending=False)
    if theme not in THEMES:
        return await query.limit(limit).output(load_json=True)
    # Themes live in a JSON list: filter before the limit, or matches beyond the first `limit` rows are lost.
    rows = await query.output(load_json=True)
    return [r for r in rows if theme in r["themes"]][:limit]


def seats_left(program: dict) -> int:
    return max(0, program["capacity"] - program["seats_taken"])


# Changes to a public program wait for review as revisions (app/services/revisions.py) --------------------

KIND_LABELS = {"program": _l("Program (on site)"), "event": _l("Online exchange meeting")}
TIME_FIELDS = ("starts_at", "ends_at", "apply_from", "apply_until")


async def _describe(name: str, value) -> str:
    if name == "kind":
        return str(KIND_LABELS.get(value, value))
    if name == "themes":
        return " / ".join(str(THEMES.get(theme, theme)) for theme in value)
    if name in TIME_FIELDS:
        return format_datetime(value, "short")
    return str(value)


def _capacity_check(program: dict, values: dict) -> None:
    """Approval may not leave fewer seats than people already accepted."""
    if "capacity" in values and values["capacity"] < program["seats_taken"]:
        raise RevisionRefused("capacity", capacity=values["capacity"], count=program["seats_taken"])


REVISIONS = revisions.Kind(
    name="program",
    table=Program,
    fields={
        "kind": _l("Kind"), "title": _l("Title"), "summary": _l("Summary"), "body": _l("Details"),
        "themes": _l("Themes"), "place": _l("Place"), "meeting_url": _l("Meeting link"), "starts_at": _l("Starts"),
        "ends_at": _l("Ends"), "apply_from": _l("Applications open"), "apply_until": _l("Applications close"),
        "capacity": _l("Capacity"), "support": _l("Support"), "questions": _l("Questions for applicants"),
        "image_url": _l("Image link"),
    },
    long=frozenset({"body", "support", "questions", "image_url"}),
    proposable=REVISED_STATUSES,
    public=PUBLIC_STATUSES,
    describe=_describe,
    path=program_path,
    check=_capacity_check,
    guard=lambda values: Program.seats_taken <= values["capacity"] if "capacity" in values else None,
)
WORKFLOW = workflow.Workflow(REVISIONS, TRANSITIONS)


# --- reads for the program pages ---------------------------------------------------------------------


async def program_page(program_id: int, any_status: bool = False) -> dict | None:
    """A program with its area's name, as its page shows it: public ones only, unless staff preview it."""
    query = Program.select(*Program.all_columns(), Program.area.name.as_alias("area_name")).where(Program.id == program_id)
    if not any_status:
        query = query.where(Program.status.is_in(list(PUBLIC_STATUSES)))
    return await query.first().output(load_json=True)


async def proposed_program(revision_id: int) -> dict | None:
    """The program as it will be once this change waiting for review is approved; None if it is no program's."""
    revision = await revisions.by_id(REVISIONS, revision_id)
    if revision is None:
        return None
    return revisions.merged(await revisions.item(REVISIONS, revision["item_id"]), revision)


async def application_of(program_id: int, member_id: int | None) -> dict | None:
    if member_id is None:
        return None
    return await Application.select().where(
        (Application.program == program_id) & (Application.member == member_id)
    ).first().output(load_json=True)


async def member_applications(member_id: int | None) -> list[dict]:
    """A member's applications with their program, the latest program first (none without a member)."""
    return await Application.select(
        Application.id, Application.status, Application.created_at,
        Application.program.id.as_alias("program_id"), Application.program.title.as_alias("title"),
        Application.program.kind.as_alias("kind"), Application.program.status.as_alias("program_status"),
        Application.program.starts_at.as_alias("starts_at"), Application.program.ends_at.as_alias("ends_at"),
        Application.program.area.name.as_alias("area_name"),
    ).where(Application.member == member_id).order_by(Application.program.starts_at, ascending=False)


async def managed_programs(actor: Actor) -> list[dict]:
    """The programs this actor manages, the latest start first: an editor their area's (none without an
    area), the secretariat every one."""
    query = Program.select(
        Program.id, Program.title, Program.kind, Program.status, Program.status_reason, Program.starts_at,
        Program.ends_at, Program.capacity, Program.seats_taken, Program.area.name.as_alias("area_name"),
    )
    if actor.role == "editor":
        query = query.where(Program.area == actor.area_id) if actor.area_id else query.where(Program.id < 0)
    return await query.order_by(Program.starts_at, ascending=False)


async def applicants(program_id: int) -> list[dict]:
    """A program's applications with the applicant's member number and names, in the order they came."""
    return await Application.select(
        Application.id, Application.status, Application.motivation, Application.answers, Application.created_at,
        Application.attended_at, Application.member.member_no.as_alias("member_no"),
        Application.member.family_name.as_alias("family_name"), Application.member.given_name.as_alias("given_name"),
        Application.member.account.display_name.as_alias("display_name"),
    ).where(Application.program == program_id).order_by(Application.created_at).order_by(Application.id).output(load_json=True)


async def program_of_application(application_id: int) -> int | None:
    """The id of the program an application is for; None when there is no such application."""
    row = await Application.select(Application.program).where(Application.id == application_id).first()
    return row["program"] if row else None
