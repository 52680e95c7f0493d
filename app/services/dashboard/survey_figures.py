"""The survey figures of the KPI dashboard: the response rate of each survey opened in the year, and the
intent to move.

A survey counts in the year it opened (drafts never do). Intent to move is read from the questions keyed
"intent_to_move": choosing any option but the last (the "not considering it" answer) states an intent.
Options are counted by their label, so the same wording in several surveys adds up. Only named
respondents of non-anonymous surveys are passed on to the funnel.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from app.i18n import to_tokyo
from app.services.dashboard.figures import IntentOption, SurveyRow, percent
from db.tables import Survey, SurveyAnswer, SurveyInvitation, SurveyQuestion, SurveyResponse

INTENT_KEY = "intent_to_move"


def _survey_in_area(survey: dict, area_id: int) -> bool:
    target = survey["target"] if isinstance(survey["target"], dict) else {}
    return survey["program_area"] == area_id or str(target.get("area", "")) == str(area_id)


@dataclass(frozen=True)
class SurveyFigures:
    rows: tuple[SurveyRow, ...]
    invitations: int
    responses: int
    intent: tuple[IntentOption, ...]
    answered: int
    stated: int
    intending_accounts: frozenset[int]  # named (non-anonymous) respondents with an intent to move


async def survey_figures(start: datetime, end: datetime, area_id: int | None) -> SurveyFigures:
    """Each survey opened in the year (of the area, if one is chosen) with its response rate, and the intent to move."""
    surveys = await Survey.select(
        Survey.id, Survey.title, Survey.opens_at, Survey.anonymous, Survey.target,
        Survey.program.area.as_alias("program_area"),
    ).where(
        (Survey.opens_at >= start) & (Survey.opens_at < end) & (Survey.status != "draft")
    ).order_by(Survey.opens_at).order_by(Survey.id).output(load_json=True)
    if area_id:
        surveys = [s for s in surveys if _survey_in_area(s, area_id)]
    if not surveys:
        return SurveyFigures((), 0, 0, (), 0, 0, frozenset())
    ids = [s["id"] for s in surveys]
    invited = Counter(r["survey"] for r in await SurveyInvitation.select(SurveyInvitation.survey).where(
        SurveyInvitation.survey.is_in(ids)))
    responses = await SurveyResponse.select(SurveyResponse.id, SurveyResponse.survey, SurveyResponse.account).where(
        SurveyResponse.survey.is_in(ids))
    answered = Counter(r["survey"] for r in responses)
    rows = tuple(
        SurveyRow(s["title"], to_tokyo(s["opens_at"]).date(), invited[s["id"]], answered[s["id"]],
                  percent(answered[s["id"]], invited[s["id"]]))
        for s in surveys
    )

    questions = await SurveyQuestion.select(SurveyQuestion.id, SurveyQuestion.survey, SurveyQuestion.options).where(
        (SurveyQuestion.key == INTENT_KEY) & SurveyQuestion.survey.is_in(ids)
    ).output(load_json=True)
    order = {survey_id: index for index, survey_id in enumerate(ids)}
    questions.sort(key=lambda q: (order[q["survey"]], q["id"]))
    chosen: dict[int, list[tuple[int, int]]] = {}  # response → (question, choice) pairs
    if questions:
        for a in await SurveyAnswer.select(SurveyAnswer.response, SurveyAnswer.question, SurveyAnswer.choice).where(
            SurveyAnswer.question.is_in([q["id"] for q in questions]) & SurveyAnswer.choice.is_not_null()
        ):
            chosen.setdefault(a["response"], []).append((a["question"], a["choice"]))

    # Options are counted by their label, in the order they first appear; the last is "not considering it".
    labels: dict[str, IntentOption] = {}
    for q in questions:
        for index, label in enumerate(q["options"] or []):
            if label not in labels:
                labels[label] = IntentOption(label, 0, index < len(q["options"]) - 1)
    options = {q["id"]: q["options"] or [] for q in questions}
    counts: Counter[str] = Counter()
    stated = 0
    intending: set[int] = set()
    anonymous = {s["id"] for s in surveys if s["anonymous"]}
    by_id = {r["id"]: r for r in responses}
    for response_id, picks in chosen.items():
        valid = [(q, c) for q, c in picks if 0 <= c < len(options[q])]
        for question_id, choice in valid:
            counts[options[question_id][choice]] += 1
        if any(choice < len(options[q]) - 1 for q, choice in valid):
            stated += 1
            response = by_id.get(response_id)
            if response and response["account"] and response["survey"] not in anonymous:
                intending.add(response["account"])
    intent = tuple(IntentOption(o.label, counts[o.label], o.intent) for o in labels.values())
    return SurveyFigures(rows, sum(invited.values()), len(responses), intent, len(chosen), stated,
                          frozenset(intending))
