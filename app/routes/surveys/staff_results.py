"""A survey's results for the secretariat: the response rate and a chart per question, filtered by program,
area and home prefecture; free-text answers hidden from exports one by one; and the two CSV tables."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app.auth import current_account
from app.i18n import current_locale
from app.i18n import gettext as _
from app.rendering import csv_download, page, see_other, wants_fragment
from app.routes.forms import form_dict, single_values
from app.routes.surveys.staff import (
    KIND_LABELS,
    STAFF,
    STATUS_LABELS,
    percent,
    status_of,
    survey_for,
    target_choices,
)
from app.services.shared import charts, clock, exports
from app.services.shared.reference import PREFECTURES
from app.services.surveys import results
from app.services.surveys.surveys import SurveyRefused

CSV_TABLES = ("responses", "summary")


def result_chart(summary: dict) -> charts.Chart:
    """A question's answers as bars as long as their share of its respondents, or columns for a 1–5 scale."""
    bars = [charts.Bar(row["label"], row["share"],
                       _("%(count)d (%(percent)s%%)", count=row["value"], percent=percent(row["share"])))
            for row in summary["rows"]]
    if summary["question"]["kind"] == "scale":
        return charts.column_chart(bars, colors=charts.DIVERGING_5)
    return charts.bar_chart(bars, width=640, font_size=16, maximum=1)


def result_table(summary: dict) -> list[tuple]:
    """The same figures for the table beside the chart: answer, respondents, share."""
    return [(row["label"], row["value"], f"{percent(row['share'])}%") for row in summary["rows"]]


async def results_context(survey_id: int, query: dict) -> dict:
    filters = results.read_filters(query)
    result = await results.results(survey_id, filters)
    choices = await target_choices()
    prefectures_seen = await results.prefectures_answered(survey_id)
    locale = current_locale.get()
    return {
        **result,
        "filters": filters,
        "filter_values": {"program": str(filters.program_id or ""), "area": str(filters.area_id or ""),
                          "prefecture": filters.prefecture},
        "filter_query": urlencode([(k, v) for k, v in (("program", filters.program_id), ("area", filters.area_id),
                                                       ("prefecture", filters.prefecture)) if v]),
        "rate_text": percent(result["rate"]) if result["rate"] is not None else "",
        "min_group": results.ANONYMOUS_MIN_GROUP,
        "status": status_of(result["survey"]),
        "status_labels": STATUS_LABELS,
        "kind_labels": KIND_LABELS,
        "result_chart": result_chart,
        "result_table": result_table,
        "percent": percent,
        "programs": choices["programs"],
        "areas": choices["areas"],
        "prefectures": [(code, ja if locale == "ja" else en) for code, ja, en in PREFECTURES if code in prefectures_seen],
    }


@get("/staff/surveys/{survey_id:int}/results", name="get_survey_results", guards=STAFF, cache_control=None)
async def get_survey_results(request: Request, survey_id: FromPath[int]) -> object:
    await survey_for(survey_id)
    query = {key: request.query_params.get(key) for key in ("program", "area", "prefecture")}
    context = await results_context(survey_id, query)
    return page(request, "surveys/staff/results.html", context, fragment="surveys/staff/_results.html", cache="no-store")


@post("/staff/surveys/{survey_id:int}/answers/{answer_id:int}/hidden", name="set_survey_answer_hidden", guards=STAFF)
async def set_survey_answer_hidden(request: Request, survey_id: FromPath[int], answer_id: FromPath[int]) -> object:
    survey = await survey_for(survey_id)
    hidden = str(single_values(await form_dict(request)).get("hidden", "")) == "1"
    try:
        await results.set_hidden(survey_id, answer_id, hidden, current_account(request).id, clock.now())
    except SurveyRefused:
        raise NotFoundException() from None
    if wants_fragment(request):
        context = {"survey": survey, "t": await results.text_answer(survey, answer_id)}
        return page(request, "surveys/staff/_text_answer.html", context, cache="no-store")
    request.session["flash"] = _("Hidden from exports.") if hidden else _("Included in exports again.")
    return see_other(request, request.app.route_reverse("get_survey_results", survey_id=survey_id) + f"#answer-{answer_id}")


@get("/staff/surveys/{survey_id:int}/csv", name="export_survey", guards=STAFF, cache_control=None)
async def export_survey(request: Request, survey_id: FromPath[int]) -> Response:
    await survey_for(survey_id)
    table = request.query_params.get("table") or "responses"
    if table not in CSV_TABLES:
        raise NotFoundException()
    filters = results.read_filters({key: request.query_params.get(key) for key in ("program", "area", "prefecture")})
    result = await results.results(survey_id, filters)
    with exports.csv_language():
        headers, lines = results.responses_table(result) if table == "responses" else results.summary_table(result)
        text = exports.csv_text(headers, lines)
    await exports.record_export(current_account(request).id, "survey", str(survey_id), {
        "table": table, "rows": len(lines), "program": filters.program_id, "area": filters.area_id,
        "prefecture": filters.prefecture,
    }, clock.now())
    return csv_download(f"survey-{survey_id}-{table}.csv", text)


handlers = [get_survey_results, set_survey_answer_hidden, export_survey]
