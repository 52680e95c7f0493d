"""The secretariat's oversight of personal data: the audit log (who did what to what, and when) with its
filters and CSV, and the records past their retention period with the button that purges them."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, Response, get, post

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.services.audit import log, retention
from app.services.desk.common import category_label
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid
from app.settings import Settings

STAFF = [guards.staff]


def _no_store(request: Request, template: str, context: dict, status_code: int = 200, fragment: str | None = None):
    return page(request, template, context, fragment=fragment, status_code=status_code, cache="no-store")


async def _log_context(values: dict, errors: dict, result: log.Page | None, chosen: log.AuditFilter | None) -> dict:
    return {
        "values": values, "errors": errors, "result": result, **await log.choices(), "role_label": log.role_label,
        "page_url": (lambda number: "?" + urlencode(chosen.query(page=number))) if chosen else None,
        "csv_query": urlencode(chosen.query(page=1)) if chosen else "",
    }


def _read(request: Request) -> tuple[log.AuditFilter | None, dict, dict]:
    """(filter, values to show, errors) from the address."""
    try:
        chosen = log.read_filter(request.query_params)
    except FormInvalid as invalid:
        return None, invalid.values, invalid.errors
    return chosen, {key: value for key, value in chosen.query().items() if key != "page"}, {}


@get("/staff/audit-log", name="list_audit_log", guards=STAFF, cache_control=None)
async def list_audit_log(request: Request) -> object:
    chosen, values, errors = _read(request)
    result = await log.search(chosen) if chosen else None
    return _no_store(request, "audit/log.html", await _log_context(values, errors, result, chosen),
                     status_code=422 if errors else 200, fragment="audit/_entries.html")


@get("/staff/audit-log/csv", name="export_audit_log", guards=STAFF, cache_control=None)
async def export_audit_log(request: Request) -> object:
    chosen, values, errors = _read(request)
    if chosen is None:
        return _no_store(request, "audit/log.html", await _log_context(values, errors, None, None),
                         status_code=422)
    filename, text = await log.export_csv(current_account(request).id, chosen, clock.now())
    return Response(text.encode("utf-8"), media_type="text/csv", headers={
        "Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"})


async def _retention_context(request: Request, error: str = "") -> dict:
    days = _days(request)
    return {"days": days, "due": await retention.due(days, clock.now()), "error": error, "category_label": category_label}


def _days(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.retention_days


@get("/staff/retention", name="get_retention", guards=STAFF, cache_control=None)
async def get_retention(request: Request) -> object:
    return _no_store(request, "audit/retention.html", await _retention_context(request))


@post("/staff/retention/purge", name="purge_retention", guards=STAFF)
async def purge_retention(request: Request) -> object:
    form = await form_dict(request)
    if form.get("confirm") != "purge":
        context = await _retention_context(request, _("Tick the box to confirm."))
        return _no_store(request, "audit/retention.html", context, status_code=422)
    purged = await retention.purge(current_account(request).id, _days(request), clock.now(),
                                   var_dir=request.app.state.settings.var_dir)
    request.session["flash"] = _("Purged: %(inquiries)d inquiries and %(mails)d mails.", inquiries=purged.inquiries,
                                 mails=purged.mails)
    return see_other(request, request.app.route_reverse("get_retention"))


handlers = [list_audit_log, export_audit_log, get_retention, purge_retention]
