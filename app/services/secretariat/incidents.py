"""The incident log (トラブル・事故報告, seed 000 §11(6)): what went wrong and when, who was affected, what was done,
who was told and when, open until closed. The secretariat sees the open ones on the console's home.

Every write is audited with what changed, because an incident report is what the municipality reads after the
fact: who wrote which account, and when.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from piccolo.query import Count as CountQuery

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid
from app.services.shared.text import clean_text
from db.engine import atomic, is_row_id
from db.tables import AuditLog, Incident

TITLE_MAX = 120
TEXT_MAX = 4000
TOLD_MAX = 200
STATUSES = {"open": _l("Open"), "closed": _l("Closed")}
TEXT_FIELDS = ("title", "what_happened", "affected", "actions", "told")


@dataclass(frozen=True)
class IncidentValues:
    occurred_at: datetime
    title: str
    what_happened: str
    affected: str
    actions: str
    told: str
    told_at: datetime | None


def _moment(text: str) -> datetime | None:
    """When something happened, as typed; a year far off is a typing mistake."""
    moment = clock.local_datetime(text)
    return moment if moment is not None and 2000 <= moment.year <= 2100 else None


def validate(form: dict, now: datetime) -> IncidentValues:
    values = {name: str(form.get(name, "")) for name in (*TEXT_FIELDS, "occurred_at", "told_at")}
    errors: dict[str, str] = {}
    texts = {name: clean_text(values[name]) for name in TEXT_FIELDS}
    if not texts["title"]:
        errors["title"] = _("Give the incident a short title.")
    elif len(texts["title"]) > TITLE_MAX:
        errors["title"] = _("Write at most %(count)d characters.", count=TITLE_MAX)
    if not texts["what_happened"]:
        errors["what_happened"] = _("Write what happened.")
    for name in ("what_happened", "affected", "actions"):
        if len(texts[name]) > TEXT_MAX:
            errors[name] = _("Write at most %(count)d characters.", count=TEXT_MAX)
    if len(texts["told"]) > TOLD_MAX:
        errors["told"] = _("Write at most %(count)d characters.", count=TOLD_MAX)
    occurred = _moment(values["occurred_at"])
    if occurred is None or occurred > now:
        errors["occurred_at"] = _("Enter when it happened (not in the future).")
    told_at = _moment(values["told_at"]) if values["told_at"].strip() else None
    if values["told_at"].strip() and (told_at is None or told_at > now):
        errors["told_at"] = _("Enter when they were told (not in the future), or leave it empty.")
    elif told_at is not None and occurred is not None and told_at < occurred:
        errors["told_at"] = _("They cannot have been told before it happened.")
    if told_at is not None and not texts["told"]:
        errors["told"] = _("Write who was told.")
    if errors:
        raise FormInvalid(errors, values)
    return IncidentValues(occurred_at=occurred, told_at=told_at, **texts)


def _audit(actor_id: int, incident_id: int, action: str, detail: dict, now: datetime) -> AuditLog:
    return AuditLog(actor=actor_id, action=action, target_type="incident", target_id=str(incident_id),
                    detail=detail, created_at=now)


def _detail(values: IncidentValues) -> dict:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in asdict(values).items()}


async def report(actor_id: int, values: IncidentValues, now: datetime) -> int:
    async with atomic(Incident._meta.db):
        rows = await Incident.insert(Incident(**asdict(values), created_by=actor_id, created_at=now, updated_at=now)
                                     ).returning(Incident.id)
        incident_id = rows[0]["id"]
        await AuditLog.insert(_audit(actor_id, incident_id, "incident.report", _detail(values), now))
    return incident_id


async def update(incident_id: int, actor_id: int, values: IncidentValues, now: datetime) -> bool:
    """The record rewritten (what was done and who was told grow as the case goes on); the change audited."""
    if not is_row_id(incident_id):
        return False
    async with atomic(Incident._meta.db):
        rows = await Incident.update({**{getattr(Incident, k): v for k, v in asdict(values).items()},
                                      Incident.updated_at: now}).where(Incident.id == incident_id).returning(Incident.id)
        if rows:
            await AuditLog.insert(_audit(actor_id, incident_id, "incident.update", _detail(values), now))
    return bool(rows)


async def set_status(incident_id: int, actor_id: int, status: str, now: datetime) -> bool:
    """Close an open incident or open a closed one again; False when it is already so or does not exist."""
    if status not in STATUSES or not is_row_id(incident_id):
        return False
    async with atomic(Incident._meta.db):
        rows = await Incident.update({
            Incident.status: status, Incident.closed_at: now if status == "closed" else None, Incident.updated_at: now,
        }).where((Incident.id == incident_id) & (Incident.status != status)).returning(Incident.id)
        if rows:
            await AuditLog.insert(_audit(actor_id, incident_id, f"incident.{status}", {}, now))
    return bool(rows)


async def incident(incident_id: int) -> dict | None:
    if not is_row_id(incident_id):
        return None
    return await Incident.select(*Incident.all_columns(), Incident.created_by.display_name.as_alias("author_name")
                                 ).where(Incident.id == incident_id).first()


async def incidents(status: str, limit: int, offset: int = 0) -> list[dict]:
    """Open ones oldest first (what has waited longest), closed ones most recently closed first."""
    query = Incident.select(*Incident.all_columns(), Incident.created_by.display_name.as_alias("author_name"))
    if status == "closed":
        query = query.where(Incident.status == "closed").order_by(Incident.closed_at, ascending=False)
    else:
        query = query.where(Incident.status == "open").order_by(Incident.occurred_at)
    return await query.order_by(Incident.id).limit(limit).offset(offset)


def open_count() -> CountQuery:
    """Incidents not yet closed (a query: awaited, the number; attention.counts sends it with the console's
    other counts as one statement)."""
    return Incident.count().where(Incident.status == "open")


async def history(incident_id: int) -> list[dict]:
    """Who wrote, changed, closed or opened the incident again, and when, oldest first."""
    return await AuditLog.select(
        AuditLog.action, AuditLog.created_at, AuditLog.actor.display_name.as_alias("actor_name"),
    ).where((AuditLog.target_type == "incident") & (AuditLog.target_id == str(incident_id))).order_by(AuditLog.id)
