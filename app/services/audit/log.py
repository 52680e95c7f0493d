"""The audit log as staff read it: who did what to what and when, filtered by person, action, target and
dates (Japan time), a page at a time or as CSV (itself audited); and the record of who looked at whose
personal data (a member's page, a download of one's own data)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from app.i18n import TOKYO, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared import exports
from app.services.shared.refusals import FormInvalid
from db.engine import is_row_id
from db.tables import AuditLog

PAGE_SIZE = 50
CODE = re.compile(r"^[a-z0-9_.]{1,64}$")
TARGET_ID_MAX = 64
YEARS = (2000, 2999)  # dates outside are typing mistakes (and the year 9999 has no next day)
# The words for the actions staff meet most; any other shows its code.
ACTION_LABELS = {
    "member.view": _l("Opened a member's page"),
    "member.tier": _l("Changed a member's tier"),
    "account.delete": _l("Deleted their account"),
    "account.desk_recovery": _l("Recovery at the desk"),
    "export.csv": _l("Downloaded a CSV file"),
    "export.json": _l("Downloaded their own data"),
    "export.zip": _l("Downloaded a ZIP file"),
    "export.pdf": _l("Downloaded a PDF file"),
    "retention.purge": _l("Deleted records past their retention period"),
    "invitation.create": _l("Invited someone"),
    "invitation.accept": _l("Accepted an invitation"),
    "inquiry.status": _l("Changed an inquiry's status"),
    "inquiry.assign": _l("Assigned an inquiry"),
    "inquiry.category": _l("Changed an inquiry's category"),
    "wallet_pass.status": _l("Changed a member's entry pass"),
    "application.status": _l("Decided on an application"),
    "redemption.undo": _l("Undid an offer use"),
    "conflict.review": _l("Reviewed a counter conflict"),
    "incident.report": _l("Recorded an incident"),
    "incident.update": _l("Changed an incident"),
    "incident.closed": _l("Closed an incident"),
    "incident.open": _l("Opened an incident again"),
    "travel_subsidy.set": _l("Set a program's travel subsidy"),
    "travel_subsidy.remove": _l("Stopped a program's travel subsidy"),
    "travel_claim.submit": _l("Claimed the travel subsidy"),
    "travel_claim.resubmit": _l("Sent a corrected travel subsidy claim"),
    "travel_claim.approve": _l("Approved a travel subsidy claim"),
    "travel_claim.return": _l("Returned a travel subsidy claim for a correction"),
    "travel_claim.decline": _l("Declined a travel subsidy claim"),
    "travel_claim.paid": _l("Marked a travel subsidy claim paid"),
    "line.link": _l("Linked their LINE account"),
    "line.unlink": _l("Unlinked their LINE account"),
    "portal.export": _l("Built the portal as HTML files"),
}


ROLE_LABELS = {"staff": _l("Secretariat"), "editor": _l("Editor of an area"), "shop": _l("Shop staff"),
               "member": _l("Member")}


def action_label(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


def role_label(code: str | None) -> str:
    return str(ROLE_LABELS.get(code or "", code or ""))


@dataclass(frozen=True)
class AuditFilter:
    """What to show; empty values show everything. Dates are days in Japan, both included."""

    actor: int | None = None
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    def query(self, **changes) -> dict[str, str]:
        """The filter as query parameters (for links to other pages and the CSV), empty ones left out."""
        values = {**asdict(self), **changes}
        return {key: str(value) for key, value in values.items() if value not in (None, "") and (key, value) != ("page", 1)}


def _text(params: Mapping[str, str], name: str) -> str:
    value = params.get(name) or ""
    return (value[0] if isinstance(value, list) and value else str(value)).strip()


def _date(text: str, name: str, errors: dict[str, str]) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or not YEARS[0] <= day.year <= YEARS[1]:
        errors[name] = _("Enter a date such as 2026-04-01.")
        return None
    return day


def read_filter(params: Mapping[str, str]) -> AuditFilter:
    """The filter as typed in the address. Every problem is reported at once, next to its field (FormInvalid
    with the values as typed); a page number that is not one shows the first page."""
    values = {name: _text(params, name) for name in ("actor", "action", "target_type", "target_id", "date_from", "date_to")}
    errors: dict[str, str] = {}
    actor = None
    if values["actor"]:
        if values["actor"].isascii() and values["actor"].isdigit() and is_row_id(int(values["actor"])):
            actor = int(values["actor"])
        else:
            errors["actor"] = _("Choose a person from the list.")
    for name in ("action", "target_type"):
        if values[name] and not CODE.match(values[name]):
            errors[name] = _("Choose from the list.")
    if len(values["target_id"]) > TARGET_ID_MAX:
        errors["target_id"] = _("Use %(max)d characters or fewer.", max=TARGET_ID_MAX)
    date_from = _date(values["date_from"], "date_from", errors)
    date_to = _date(values["date_to"], "date_to", errors)
    if date_from and date_to and date_to < date_from:
        errors["date_to"] = _("The end date must not be before the start date.")
    if errors:
        raise FormInvalid(errors, values)
    page = _text(params, "page")
    return AuditFilter(actor, values["action"], values["target_type"], values["target_id"], date_from, date_to,
                       int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 10**6 else 1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=TOKYO)


def _where(selected: AuditFilter):
    condition = AuditLog.id.is_not_null()
    if selected.actor is not None:
        condition &= AuditLog.actor == selected.actor
    for column, value in ((AuditLog.action, selected.action), (AuditLog.target_type, selected.target_type),
                          (AuditLog.target_id, selected.target_id)):
        if value:
            condition &= column == value
    if selected.date_from:
        condition &= AuditLog.created_at >= _day_start(selected.date_from)
    if selected.date_to:
        condition &= AuditLog.created_at < _day_start(selected.date_to + timedelta(days=1))
    return condition


def _columns():
    return (AuditLog.id, AuditLog.created_at, AuditLog.actor, AuditLog.actor.display_name.as_alias("actor_name"),
            AuditLog.actor.role.as_alias("actor_role"), AuditLog.action, AuditLog.target_type, AuditLog.target_id,
            AuditLog.detail)


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    total: int
    page: int
    pages: int


async def search(selected: AuditFilter, page_size: int = PAGE_SIZE) -> Page:
    """One page of entries, newest first (a page past the last shows the last)."""
    total = await AuditLog.count().where(_where(selected))
    pages = max(1, -(-total // page_size))
    page = min(selected.page, pages)
    rows = await AuditLog.select(*_columns()).where(_where(selected)).order_by(AuditLog.created_at, ascending=False) \
        .order_by(AuditLog.id, ascending=False).limit(page_size).offset((page - 1) * page_size).output(load_json=True)
    return Page([_shown(row) for row in rows], total, page, pages)


def _shown(row: dict) -> dict:
    detail = row["detail"]
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail not in ({}, None, "") else ""
    return {**row, "action_label": action_label(row["action"]), "detail_text": text}


async def choices() -> dict[str, list]:
    """What the filter offers: the people who appear in the log, its actions and its target types."""
    actors = await AuditLog.select(AuditLog.actor, AuditLog.actor.display_name.as_alias("name"),
                                   AuditLog.actor.role.as_alias("role")).where(AuditLog.actor.is_not_null()).distinct()
    actions = [row["action"] for row in await AuditLog.select(AuditLog.action).distinct().order_by(AuditLog.action)]
    types = [row["target_type"] for row in await AuditLog.select(AuditLog.target_type).where(
        AuditLog.target_type != "").distinct().order_by(AuditLog.target_type)]
    return {
        "actors": sorted(({"id": a["actor"], "name": a["name"], "role": a["role"]} for a in actors),
                         key=lambda a: (a["role"] != "staff", a["name"] or "", a["id"])),
        "actions": [(code, action_label(code)) for code in actions],
        "target_types": types,
    }


async def export_csv(actor_id: int, selected: AuditFilter, now: datetime) -> tuple[str, str]:
    """Every entry the filter chooses as CSV for Excel (filename, text); the download is itself audited."""
    rows = await AuditLog.select(*_columns()).where(_where(selected)).order_by(AuditLog.created_at) \
        .order_by(AuditLog.id).output(load_json=True)
    with exports.csv_language():
        headers = [_("Time"), _("Who"), _("Role"), _("Action"), _("Action code"), _("Object"), _("Object id"),
                   _("Detail")]
        text = exports.csv_text(headers, [[
            to_tokyo(row["created_at"]).strftime("%Y-%m-%d %H:%M:%S"), row["actor_name"] or "", role_label(row["actor_role"]),
            action_label(row["action"]), row["action"], row["target_type"], row["target_id"],
            _shown(row)["detail_text"],
        ] for row in rows])
    await exports.record_export(actor_id, "audit_log", "", {"rows": len(rows), "filters": selected.query(page=1)}, now)
    return f"audit-log-{to_tokyo(now):%Y%m%d}.csv", text


async def record_view(actor_id: int, target_type: str, target_id: int, now: datetime) -> None:
    """Someone opened a page of another person's personal data: who looked at whom, and when."""
    await AuditLog.insert(AuditLog(actor=actor_id, action=f"{target_type}.view", target_type=target_type,
                                   target_id=str(target_id), created_at=now))
