"""A regional program or online exchange meeting itself: its form (read and checked), creating and editing it,
and its review workflow — who moves it from which status to which, and an editor's change to a public program
waiting for review as a revision (app/services/review/revisions.py).

Applications live in applications.py, attendance and activities per fiscal year in activities.py, and what
the program pages read in reads.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from app.i18n import format_datetime
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.review import revisions, workflow
from app.services.review.revisions import RevisionRefused
from app.services.review.workflow import WorkflowRefused
from app.services.shared import clock
from app.services.shared.actor import Actor
from app.services.shared.reference import INTERESTS
from app.services.shared.refusals import FormInvalid
from db.engine import atomic
from db.tables import Area, Program

# A program's themes are the interests members tick when they register, so the two can be matched.
THEMES = INTERESTS
KINDS = ("program", "event")
STATUSES = ("draft", "submitted", "published", "closed", "completed", "rejected")
PUBLIC_STATUSES = ("published", "closed", "completed")
# An editor's change to a program the public sees waits for review as a revision (app/services/revisions.py).
REVISED_STATUSES = ("published", "closed")
# Who may move a program from which status to which.
TRANSITIONS = {
    "editor": {("draft", "submitted"), ("rejected", "submitted"), ("published", "closed"), ("closed", "completed")},
    "staff": {
        ("draft", "submitted"), ("rejected", "submitted"), ("submitted", "published"), ("submitted", "rejected"),
        ("published", "rejected"), ("closed", "rejected"), ("published", "closed"), ("closed", "completed"),
    },
}
TITLE_MAX, SUMMARY_MAX, BODY_MAX, PLACE_MAX, SUPPORT_MAX = 120, 300, 20000, 200, 2000
QUESTIONS_MAX, QUESTION_MAX = 5, 200
CAPACITY_MAX = 500
URL = re.compile(r"^https?://[^\s<>\"']+$")


def program_path(program_id: int) -> str:
    """The program's public page (routes/programs.py `get_program`), for links in notices and pushes."""
    return f"/programs/{program_id}"


class ProgramInvalid(FormInvalid):
    """What an editor typed into the program form cannot be saved."""


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
    matching_url: str = ""  # its page on a matching site the region uses (SMOUT)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    apply_from: datetime | None = None
    apply_until: datetime | None = None
    premium_apply_from: datetime | None = None  # optional: premium members may apply from here
    capacity: int = 10
    support: str = ""
    questions: list[str] = field(default_factory=list)
    image_url: str = ""


def _text(form: dict, name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _form_values(form: dict) -> ProgramValues:
    """The form's text fields as typed (trimmed); areas, capacity and times are read by their own helpers."""
    themes = form.get("themes")
    return ProgramValues(
        kind=_text(form, "kind") or "program",
        title=_text(form, "title"),
        summary=_text(form, "summary"),
        body=_text(form, "body"),
        themes=[t for t in (themes or []) if isinstance(t, str)] if isinstance(themes, list)
        else ([themes] if themes else []),
        place=_text(form, "place"),
        meeting_url=_text(form, "meeting_url"),
        matching_url=_text(form, "matching_url"),
        support=_text(form, "support"),
        image_url=_text(form, "image_url"),
        questions=[line.strip() for line in _text(form, "questions").splitlines() if line.strip()],
    )


async def _area_id(form: dict, actor: Actor, errors: dict[str, str]) -> int | None:
    """An editor's programs belong to their own area; staff choose an existing one."""
    if actor.role == "editor":
        if actor.area_id is None:  # an editor account without an area must not create orphan programs
            errors["area"] = _("Your account has no area yet. Ask the secretariat to assign one.")
        return actor.area_id
    area_text = _text(form, "area")
    if area_text.isdecimal() and len(area_text) <= 9 and await Area.exists().where(Area.id == int(area_text)):
        return int(area_text)
    errors["area"] = _("Choose the area.")
    return None


def _check_texts(values: ProgramValues, errors: dict[str, str]) -> None:
    """The kind and themes come from their lists; a title is given; no text is longer than its limit."""
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


def _check_links(values: ProgramValues, errors: dict[str, str]) -> None:
    """Links are web addresses (an image may also be one of our uploads); an online meeting needs its link."""
    for name in ("meeting_url", "matching_url", "image_url"):
        value = getattr(values, name)
        if value and not (URL.match(value) or (name == "image_url" and value.startswith("/uploads/"))):
            errors[name] = _("Enter a link that starts with https://.")
    if values.kind == "event" and not values.meeting_url:
        errors["meeting_url"] = _("An online meeting needs its meeting link.")


def _read_capacity(form: dict, values: ProgramValues, errors: dict[str, str]) -> None:
    capacity_text = _text(form, "capacity") or "10"
    if capacity_text.isdecimal() and 1 <= int(capacity_text) <= CAPACITY_MAX:
        values.capacity = int(capacity_text)
    else:
        errors["capacity"] = _("Enter a whole number from %(low)d to %(high)d.", low=1, high=CAPACITY_MAX)


def _read_times(form: dict, values: ProgramValues, errors: dict[str, str]) -> None:
    """The four times, in Tokyo time: the program ends after it starts; applications close after they open
    and before the program ends."""
    for name in ("starts_at", "ends_at", "apply_from", "apply_until"):
        parsed = clock.local_datetime(_text(form, name))
        if parsed is None:
            errors[name] = _("Enter a date and time.")
        setattr(values, name, parsed)
    if "starts_at" not in errors and "ends_at" not in errors and values.ends_at < values.starts_at:
        errors["ends_at"] = _("The end must be after the start.")
    if "apply_from" not in errors and "apply_until" not in errors and values.apply_until <= values.apply_from:
        errors["apply_until"] = _("Applications must close after they open.")
    if "apply_until" not in errors and "ends_at" not in errors and values.apply_until > values.ends_at:
        errors["apply_until"] = _("Applications must close before the program ends.")
    early = _text(form, "premium_apply_from")
    if early:
        values.premium_apply_from = clock.local_datetime(early)
        if values.premium_apply_from is None:
            errors["premium_apply_from"] = _("Enter a date and time.")
        elif "apply_from" not in errors and values.premium_apply_from >= values.apply_from:
            errors["premium_apply_from"] = _("Premium members' applications must open before everyone's.")


async def validate_program(form: dict, actor: Actor) -> ProgramValues:
    """Read the program form. Raises ProgramInvalid with a message per field; the database is only read."""
    errors: dict[str, str] = {}
    values = _form_values(form)
    values.area_id = await _area_id(form, actor, errors)
    _check_texts(values, errors)
    _check_links(values, errors)
    if len(values.questions) > QUESTIONS_MAX or any(len(q) > QUESTION_MAX for q in values.questions):
        errors["questions"] = _("Up to %(count)d questions of %(max)d characters each.", count=QUESTIONS_MAX, max=QUESTION_MAX)
    _read_capacity(form, values, errors)
    _read_times(form, values, errors)
    if errors:
        raise ProgramInvalid(errors)
    return values


def _columns(values: ProgramValues) -> dict:
    return {
        Program.area: values.area_id, Program.kind: values.kind, Program.title: values.title,
        Program.summary: values.summary, Program.body: values.body, Program.themes: values.themes,
        Program.place: values.place, Program.meeting_url: values.meeting_url, Program.matching_url: values.matching_url,
        Program.starts_at: values.starts_at,
        Program.ends_at: values.ends_at, Program.apply_from: values.apply_from, Program.apply_until: values.apply_until,
        Program.premium_apply_from: values.premium_apply_from,
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


# Changes to a public program wait for review as revisions (app/services/revisions.py) --------------------

KIND_LABELS = {"program": _l("Program (on site)"), "event": _l("Online exchange meeting")}
TIME_FIELDS = ("starts_at", "ends_at", "apply_from", "apply_until", "premium_apply_from")


async def _describe(name: str, value) -> str:
    if name == "kind":
        return str(KIND_LABELS.get(value, value))
    if name == "themes":
        return " / ".join(str(THEMES.get(theme, theme)) for theme in value)
    if name in TIME_FIELDS:
        return format_datetime(value, "short") if value else "—"
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
        "themes": _l("Themes"), "place": _l("Place"), "meeting_url": _l("Meeting link"),
        "matching_url": _l("Page on a matching site"), "starts_at": _l("Starts"),
        "ends_at": _l("Ends"), "apply_from": _l("Applications open"), "apply_until": _l("Applications close"),
        "premium_apply_from": _l("Premium members apply from"), "capacity": _l("Capacity"), "support": _l("Support"), "questions": _l("Questions for applicants"),
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
