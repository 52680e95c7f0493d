"""The secretariat's registrant import: upload a CSV → choose its columns → preview (the dry run) → run →
the result. The file is held on the server between the steps (services/imports/held.py), for the person who
uploaded it; the rules are in services/imports/registrants.py."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rendering import page, see_other
from app.routes.forms import form_dict, single_values, uploaded_file
from app.services.imports import columns, held, reader, registrants
from app.services.imports.columns import MappingRefused
from app.services.imports.reader import FileRefused
from app.services.imports.registrants import ClaimMail
from app.services.imports.sources import CsvRegistrants
from app.services.shared import clock
from app.services.shared.reference import prefecture_name
from app.settings import Settings

STAFF = [guards.staff]
KIND = "registrants"
TOKEN_MAX = 64
OUTCOMES = {"new": _l("New member"), "match": _l("Already a member"), "duplicate": _l("Repeated row"),
            "error": _l("Not imported")}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _no_store(request: Request, template: str, context: dict, status_code: int = 200) -> object:
    """Every step shows people's names and addresses: kept out of every cache."""
    return page(request, template, context, status_code=status_code, cache="no-store")


def _upload_page(request: Request, error: str = "", status_code: int = 200) -> object:
    context = {"error": error, "max_mb": reader.MAX_BYTES // (1024 * 1024), "max_rows": reader.MAX_ROWS}
    return _no_store(request, "imports/upload.html", context, status_code)


def _held(request: Request, token: str) -> tuple[held.Held, reader.Table] | None:
    found = held.load(_settings(request).var_dir, token[:TOKEN_MAX], current_account(request).id, KIND)
    if found is None:
        return None
    try:
        return found, reader.read_table(found.data)
    except FileRefused:  # read once already at the upload: only a changed limit gets here
        return None


def _gone(request: Request) -> object:
    return _upload_page(request, _("The uploaded file is no longer here (files are kept for a day). Upload it again."),
                        410)


@get("/staff/imports/registrants", name="new_registrant_import", guards=STAFF, cache_control=None)
async def new_registrant_import(request: Request) -> object:
    return _upload_page(request)


@post("/staff/imports/registrants", name="upload_registrants", guards=STAFF)
async def upload_registrants(request: Request) -> object:
    data, filename = await uploaded_file(request, "file", reader.MAX_BYTES)
    try:
        reader.read_table(data)
    except FileRefused as refused:
        return _upload_page(request, refused.message, 422)
    token = held.hold(_settings(request).var_dir, data, filename, current_account(request).id, KIND)
    return see_other(request, request.app.route_reverse("get_registrant_columns", token=token))


def _columns_page(request: Request, found: held.Held, table: reader.Table, chosen: dict[str, str], error: str = "",
                  status_code: int = 200) -> object:
    context = {"held": found, "table": table, "chosen": chosen, "error": error, "fields": registrants.field_labels(),
               "sample": table.sample(3)}
    return _no_store(request, "imports/columns.html", context, status_code)


@get("/staff/imports/registrants/{token:str}", name="get_registrant_columns", guards=STAFF, cache_control=None)
async def get_registrant_columns(request: Request, token: FromPath[str]) -> object:
    """The columns, with the guess from the headers chosen."""
    opened = _held(request, token)
    if opened is None:
        return _gone(request)
    found, table = opened
    return _columns_page(request, found, table, columns.as_form(columns.guess(table.headers)))


@get("/staff/imports/registrants/{token:str}/preview", name="preview_registrants", guards=STAFF, cache_control=None)
async def preview_registrants(request: Request, token: FromPath[str]) -> object:
    """The dry run: what the import would do with each row, nothing written (a GET, the columns in the query)."""
    opened = _held(request, token)
    if opened is None:
        return _gone(request)
    found, table = opened
    chosen = {name: str(request.query_params.get(name, ""))[:4] for name in columns.FIELDS}
    try:
        mapping = columns.from_form(chosen, table.headers)
    except MappingRefused as refused:
        return _columns_page(request, found, table, chosen, refused.message, 422)
    source = CsvRegistrants(table, mapping, found.filename, found.sha256)
    result = await registrants.preview(source)
    context = {"held": found, "table": table, "chosen": columns.as_form(mapping), "preview": result,
               "counts": result.counts, "outcomes": result.shown(), **_labels(), "mapped": source.mapped_headers()}
    return _no_store(request, "imports/preview.html", context)


@post("/staff/imports/registrants/{token:str}/run", name="run_registrant_import", guards=STAFF)
async def run_registrant_import(request: Request, token: FromPath[str]) -> object:
    form = single_values(await form_dict(request))
    opened = _held(request, token)
    if opened is None:
        return _gone(request)
    found, table = opened
    try:
        mapping = columns.from_form(form, table.headers)
    except MappingRefused as refused:
        return _columns_page(request, found, table, columns.as_form({}), refused.message, 422)
    settings = _settings(request)
    # Taken before the run: a second click (or tab) finds nothing to run instead of running the file twice.
    if held.take(settings.var_dir, found.token, current_account(request).id, KIND) is None:
        return _gone(request)
    source = CsvRegistrants(table, mapping, found.filename, found.sha256)
    claim = ClaimMail(settings.smtp, settings.branding.site_name,
                      lambda t: settings.base_url + request.app.route_reverse("use_recovery_link", token=t),
                      settings.default_locale)
    result = await registrants.run(source, current_account(request).id, settings.branding.member_no_prefix, claim,
                                   clock.now(), details={"encoding": table.encoding, "columns": source.mapped_headers()})
    return see_other(request, request.app.route_reverse("get_registrant_import", import_id=result.audit_id))


@get("/staff/imports/{import_id:int}", name="get_registrant_import", guards=STAFF, cache_control=None)
async def get_registrant_import(request: Request, import_id: FromPath[int]) -> object:
    entry = await registrants.import_entry(import_id)
    if entry is None:
        raise NotFoundException()
    return _no_store(request, "imports/result.html", {"entry": entry, "detail": entry["detail"]})


def _labels() -> dict:
    return {"outcome_labels": {kind: str(label) for kind, label in OUTCOMES.items()},
            "problems": registrants.problem_messages(), "prefecture_name": prefecture_name,
            "prefecture_code": registrants.prefecture_code}


handlers = [new_registrant_import, upload_registrants, get_registrant_columns, preview_registrants,
            run_registrant_import, get_registrant_import]
