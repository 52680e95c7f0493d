"""The yearly report: staff write its sections; it prints on A4, downloads as a PDF and as a ZIP of its
tables, charts and photos. Every download is written to the audit log."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.rendering import page, print_stylesheet, see_other
from app.routes.forms import form_dict
from app.services.dashboard import display, filters, kpi, report
from app.services.shared import clock, exports, pdf
from app.services.shared.refusals import FormInvalid
from app.settings import Settings

STAFF = [guards.staff]
Year = Annotated[str, QueryParameter(name="year")]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _year_or_redirect(request: Request, text: str) -> int | Response:
    """The fiscal year asked for (this one when none is); a year we cannot show goes back to this one."""
    if not text:
        return filters.current_fiscal_year()
    year = filters.parse_year(text)
    if year is None:
        request.session["flash"] = _("Choose a fiscal year from the list.")
        return see_other(request, request.app.route_reverse("get_report"))
    return year


async def report_context(fiscal_year: int, values: dict[str, str], errors: dict[str, str], problem: str = "") -> dict:
    return {
        "fiscal_year": fiscal_year,
        "year_label": filters.fiscal_year_label(fiscal_year),
        "years": [(year, filters.fiscal_year_label(year)) for year in await filters.fiscal_years(filters.current_fiscal_year())],
        "sections": [(key, report.section_title(key), report.section_hint(key)) for key in report.SECTION_KEYS],
        "values": values,
        "errors": errors,
        "section_max": report.SECTION_MAX,
        "pdf_ready": pdf.chromium_path() is not None,
        "problem": problem,
    }


@get("/staff/report", name="get_report", guards=STAFF, cache_control=None)
async def get_report(request: Request, year: Year = "") -> object:
    fiscal_year = _year_or_redirect(request, year)
    if isinstance(fiscal_year, Response):
        return fiscal_year
    context = await report_context(fiscal_year, await report.sections(fiscal_year), {})
    return page(request, "dashboard/report/index.html", context, cache="no-store")


@post("/staff/report", name="save_report", guards=STAFF)
async def save_report(request: Request) -> object:
    form = await form_dict(request)
    fiscal_year = filters.parse_year(str(form.get("year", "")))
    if fiscal_year is None:
        request.session["flash"] = _("Choose a fiscal year from the list.")
        return see_other(request, request.app.route_reverse("get_report"))
    try:
        texts = report.parse_sections(form)
        await report.save_sections(fiscal_year, texts, current_account(request).id, clock.now())
    except FormInvalid as invalid:
        return page(request, "dashboard/report/index.html", await report_context(fiscal_year, invalid.values, invalid.errors),
                    fragment="dashboard/report/_sections_form.html", status_code=422, cache="no-store")
    except report.SectionsConflict:
        message = _("Someone else saved this report at the same moment. Check the texts and save again.")
        typed = {key: str(form.get(key, "")) for key in report.SECTION_KEYS}
        return page(request, "dashboard/report/index.html", await report_context(fiscal_year, typed, {"form": message}),
                    fragment="dashboard/report/_sections_form.html", status_code=422, cache="no-store")
    request.session["flash"] = _("The report texts were saved.")
    return see_other(request, request.app.route_reverse("get_report") + f"?year={fiscal_year}")


async def print_context(request: Request, fiscal_year: int, for_pdf: bool) -> dict:
    """The printable report: in the browser its files come from this site; for Chromium's PDF they are
    file:// URLs, because the page is printed from a file with no server behind it."""
    figures = await kpi.dashboard(fiscal_year, None)
    texts = await report.sections(fiscal_year)
    photos = await report.photos(fiscal_year, _settings(request).var_dir)
    stylesheet = print_stylesheet(request, for_pdf)
    return {
        **display.view(figures),
        "sections": [(key, report.section_title(key), report.paragraphs(texts[key])) for key in report.SECTION_KEYS],
        "photos": [(p, p.path.as_uri() if for_pdf else p.url) for p in photos],
        "stylesheet": stylesheet,
        "for_pdf": for_pdf,
        "made_on": clock.now(),
        "query": f"?year={fiscal_year}",
    }


@get("/staff/report/print", name="print_report", guards=STAFF, cache_control=None)
async def print_report(request: Request, year: Year = "") -> object:
    fiscal_year = _year_or_redirect(request, year)
    if isinstance(fiscal_year, Response):
        return fiscal_year
    return page(request, "dashboard/report/print.html", await print_context(request, fiscal_year, False), cache="no-store")


def _download(data: bytes, media_type: str, filename: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store",
    })


@get("/staff/report/pdf", name="download_report_pdf", guards=STAFF, cache_control=None)
async def download_report_pdf(request: Request, year: Year = "") -> object:
    fiscal_year = _year_or_redirect(request, year)
    if isinstance(fiscal_year, Response):
        return fiscal_year
    template = request.app.template_engine.get_template("dashboard/report/print.html")
    html = template.render(request=request, **await print_context(request, fiscal_year, True))
    try:
        data = await pdf.render_pdf(html)
    except pdf.PdfUnavailable as unavailable:
        context = await report_context(fiscal_year, await report.sections(fiscal_year), {}, unavailable.message)
        return page(request, "dashboard/report/index.html", context, status_code=503, cache="no-store")
    await report.record_download(current_account(request).id, "pdf", fiscal_year, clock.now())
    return _download(data, "application/pdf", report.pdf_filename(fiscal_year))


@get("/staff/report/zip", name="download_report_zip", guards=STAFF, cache_control=None)
async def download_report_zip(request: Request, year: Year = "") -> object:
    fiscal_year = _year_or_redirect(request, year)
    if isinstance(fiscal_year, Response):
        return fiscal_year
    figures = await kpi.dashboard(fiscal_year, None)
    with exports.csv_language():  # the files go into the municipality's documents: Japanese, like the CSV
        template = request.app.template_engine.get_template("dashboard/report/chart.svg")  # the locale's texts
        context = display.view(figures)
        charts = {key: template.render(request=request, chart_key=key, **context) for key in display.CHART_KEYS}
    data = report.build_zip(figures, await report.sections(fiscal_year), charts,
                            await report.photos(fiscal_year, _settings(request).var_dir))
    await report.record_download(current_account(request).id, "zip", fiscal_year, clock.now())
    return _download(data, "application/zip", report.zip_filename(fiscal_year))


handlers = [get_report, save_report, print_report, download_report_pdf, download_report_zip]
