"""Designated local activities (担い手活動) that are not programs: staff define them for any area, editors for
their own. Attending a program counts the same way (programs/activities.py records that attendance)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from piccolo.query.functions.aggregate import Count

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared import clock
from app.services.shared.actor import Actor
from app.services.shared.refusals import FormInvalid, Refusal
from app.services.shared.text import clean_text
from db.engine import is_row_id
from db.tables import Activity, Area, AuditLog, CheckIn

KINDS = {
    "volunteer": _l("Volunteer day"),
    "event": _l("Help at a local event"),
    "business": _l("Work with a local business or group"),
    "online": _l("Online contribution"),
}
TITLE_MAX, TEXT_MAX, PLACE_MAX, ORGANISER_MAX, URL_MAX = 120, 4000, 200, 120, 500
CAPACITY_MAX = 10_000
LONGEST_DAYS = 366  # a period of more than a year is a typing mistake, not an activity
URL = re.compile(r"^https://[^\s/$.?#][^\s]*$")


class ActivityInvalid(FormInvalid):
    """What was typed into the activity form cannot be saved."""


class ActivityRefused(Refusal):
    """not_found | not_your_area"""

    def messages(self):
        return {"not_found": _("This activity does not exist."),
                "not_your_area": _("This activity belongs to another area.")}


@dataclass
class ActivityValues:
    title: str = ""
    kind: str = "volunteer"
    description: str = ""
    area_id: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    place: str = ""
    map_url: str = ""
    organiser: str = ""
    counts_for_premium: bool = True
    capacity: int | None = None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


async def _area(form: dict, actor: Actor, errors: dict[str, str]) -> int | None:
    """An editor's activities are in their own area; staff choose one."""
    if actor.role == "editor":
        if actor.area_id is None:
            errors["area"] = _("Your account has no area yet. Ask the secretariat to assign one.")
        return actor.area_id
    text = form.get("area", "")
    if text.isdecimal() and len(text) <= 9 and await Area.exists().where(Area.id == int(text)):
        return int(text)
    errors["area"] = _("Choose the area.")
    return None


def _texts(form: dict, values: ActivityValues, errors: dict[str, str]) -> None:
    for name, limit in (("title", TITLE_MAX), ("description", TEXT_MAX), ("place", PLACE_MAX),
                        ("organiser", ORGANISER_MAX), ("map_url", URL_MAX)):
        setattr(values, name, clean_text(form.get(name, "")))
        if len(getattr(values, name)) > limit:
            errors[name] = _("Use %(max)d characters or fewer.", max=limit)
    if not values.title:
        errors["title"] = _("Enter a title.")
    values.kind = form.get("kind", "")
    if values.kind not in KINDS:
        errors["kind"] = _("Choose from the list.")
    if values.map_url and "map_url" not in errors and not URL.match(values.map_url):
        errors["map_url"] = _("Enter a link that starts with https://.")
    if values.kind != "online" and not values.place and "place" not in errors:
        errors["place"] = _("Enter where it takes place.")


def _period(form: dict, values: ActivityValues, errors: dict[str, str]) -> None:
    values.starts_on = _date(form.get("starts_on", "").strip())
    values.ends_on = _date(form.get("ends_on", "").strip()) if form.get("ends_on", "").strip() else values.starts_on
    if values.starts_on is None:
        errors["starts_on"] = _("Enter a date.")
    if values.ends_on is None:
        errors["ends_on"] = _("Enter a date.")
    elif values.starts_on is not None:
        if values.ends_on < values.starts_on:
            errors["ends_on"] = _("The last day cannot be before the first.")
        elif (values.ends_on - values.starts_on).days >= LONGEST_DAYS:
            errors["ends_on"] = _("An activity lasts a year at most.")


def _capacity(form: dict, values: ActivityValues, errors: dict[str, str]) -> None:
    text = form.get("capacity", "").strip()
    if not text:
        values.capacity = None
    elif text.isdecimal() and len(text) <= 6 and 1 <= int(text) <= CAPACITY_MAX:
        values.capacity = int(text)
    else:
        errors["capacity"] = _("Enter a whole number from %(low)d to %(high)d, or leave it empty.", low=1, high=CAPACITY_MAX)


async def validate_activity(form: dict, actor: Actor) -> ActivityValues:
    """Read the activity form (a dict of single strings). Raises ActivityInvalid with a message per field."""
    errors: dict[str, str] = {}
    values = ActivityValues()
    _texts(form, values, errors)
    values.area_id = await _area(form, actor, errors)
    _period(form, values, errors)
    _capacity(form, values, errors)
    values.counts_for_premium = form.get("counts_for_premium", "") in ("1", "on", "true")
    if errors:
        raise ActivityInvalid(errors, values)
    return values


def _columns(values: ActivityValues) -> dict:
    return {"title": values.title, "kind": values.kind, "description": values.description, "area": values.area_id,
            "starts_on": values.starts_on, "ends_on": values.ends_on, "place": values.place, "map_url": values.map_url,
            "organiser": values.organiser, "counts_for_premium": values.counts_for_premium, "capacity": values.capacity}


async def create_activity(actor: Actor, values: ActivityValues, now: datetime | None = None) -> int:
    now = now or clock.now()
    rows = await Activity.insert(Activity(**_columns(values), created_by=actor.account_id, created_at=now,
                                          updated_at=now)).returning(Activity.id)
    await AuditLog.insert(AuditLog(actor=actor.account_id, action="activity.create", target_type="activity",
                                   target_id=str(rows[0]["id"]), detail={"title": values.title}, created_at=now))
    return rows[0]["id"]


async def activity_for(activity_id: int, actor: Actor) -> dict:
    """The activity, if this actor manages its area. Raises ActivityRefused."""
    row = await Activity.select(*Activity.all_columns(), Activity.area.name.as_alias("area_name")).where(
        Activity.id == activity_id).first() if is_row_id(activity_id) else None
    if row is None:
        raise ActivityRefused("not_found")
    if not actor.may_manage(row["area"]):
        raise ActivityRefused("not_your_area")
    return row


async def update_activity(activity_id: int, actor: Actor, values: ActivityValues, now: datetime | None = None) -> None:
    await activity_for(activity_id, actor)
    now = now or clock.now()
    await Activity.update({**{getattr(Activity, k): v for k, v in _columns(values).items()},
                           Activity.updated_at: now}).where(Activity.id == activity_id)
    await AuditLog.insert(AuditLog(actor=actor.account_id, action="activity.update", target_type="activity",
                                   target_id=str(activity_id), detail={"title": values.title}, created_at=now))


async def set_cancelled(activity_id: int, actor: Actor, cancelled: bool, now: datetime | None = None) -> None:
    """Cancel an activity (no more check-ins; those recorded stay), or open it again."""
    await activity_for(activity_id, actor)
    now = now or clock.now()
    await Activity.update({Activity.status: "cancelled" if cancelled else "open", Activity.updated_at: now}).where(
        Activity.id == activity_id)
    await AuditLog.insert(AuditLog(actor=actor.account_id, action="activity.cancel" if cancelled else "activity.reopen",
                                   target_type="activity", target_id=str(activity_id), created_at=now))


def days_of(activity: dict) -> list[date]:
    """Every day of the activity's period, the first to the last (a day's check-in code is for one of these)."""
    return [activity["starts_on"] + timedelta(days=n) for n in range((activity["ends_on"] - activity["starts_on"]).days + 1)]


async def activities_for(actor: Actor) -> list[dict]:
    """Every activity this actor manages, the latest first, with how many members checked in."""
    query = Activity.select(*Activity.all_columns(), Activity.area.name.as_alias("area_name"))
    if actor.role != "staff":
        query = query.where(Activity.area == (actor.area_id or 0))
    rows = await query.order_by(Activity.starts_on, ascending=False).order_by(Activity.id, ascending=False)
    counts = await CheckIn.select(CheckIn.activity, Count(distinct=[CheckIn.member]).as_alias("members")).where(
        CheckIn.activity.is_in([row["id"] for row in rows] or [0])).group_by(CheckIn.activity)
    members = {row["activity"]: row["members"] for row in counts}
    return [{**row, "members": members.get(row["id"], 0)} for row in rows]
