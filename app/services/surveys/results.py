"""A survey's results for the secretariat: the response rate, counts and shares per question (the charts),
the free-text answers (hidden from exports one by one), filters by program, area and home prefecture, and
the two CSV tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.services.shared.reference import PREFECTURE_CODES, prefecture_name
from app.services.surveys.surveys import CHOICE_KINDS, SCALE, TEXT_KINDS, SurveyRefused, audit, chunks, questions_of
from db.engine import atomic
from db.tables import (
    Application,
    AreaFollow,
    Member,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
)

# Filters on an anonymous survey must not narrow the respondents to one or two people, whose answers would
# then be theirs for anyone who knows who attended: below this, nothing is shown.
ANONYMOUS_MIN_GROUP = 3


@dataclass(frozen=True)
class Filters:
    """Narrow the respondents: those who attended a program, those tied to an area (following it or having
    attended a program there), those whose home prefecture was this one when they answered."""

    program_id: int | None = None
    area_id: int | None = None
    prefecture: str = ""

    @property
    def any(self) -> bool:
        return bool(self.program_id or self.area_id or self.prefecture)


def read_filters(query: dict) -> Filters:
    def number(name: str) -> int | None:
        text = str(query.get(name) or "")
        return int(text) if text.isdecimal() and len(text) <= 9 else None

    prefecture = str(query.get("prefecture") or "")
    return Filters(number("program"), number("area"), prefecture if prefecture in PREFECTURE_CODES else "")


async def _accounts_matching(filters: Filters) -> set[int] | None:
    """Accounts the program and area filters allow; None when neither is set."""
    accounts: set[int] | None = None
    attendee = Application.member.account.as_alias("account")
    if filters.program_id:
        accounts = {row["account"] for row in await Application.select(attendee).where(
            (Application.program == filters.program_id) & (Application.status == "attended"))}
    if filters.area_id:
        tied = {row["account"] for row in await AreaFollow.select(AreaFollow.member.account.as_alias("account")).where(
            AreaFollow.area == filters.area_id)}
        tied |= {row["account"] for row in await Application.select(attendee).where(
            (Application.program.area == filters.area_id) & (Application.status == "attended"))}
        accounts = tied if accounts is None else accounts & tied
    return accounts


def scale_label(number: int, options: list[str]) -> str:
    """"1 (Not satisfied)", "2", … "5 (Satisfied)"."""
    if number == 1 and options:
        return _("%(number)d (%(label)s)", number=1, label=options[0])
    if number == 5 and len(options) > 1:
        return _("%(number)d (%(label)s)", number=5, label=options[1])
    return str(number)


def summarise(question: dict, answers: list[dict], respondents: dict[int, dict]) -> dict:
    """Counts and shares of one question. The base of a share is the respondents who answered this question,
    so shares of a multiple-choice question may add up to more than 100 %."""
    base = len({answer["response"] for answer in answers})
    summary: dict = {"question": question, "base": base, "rows": [], "mean": None, "texts": []}
    kind = question["kind"]
    if kind in CHOICE_KINDS or kind == "scale":
        labels = question["options"] if kind in CHOICE_KINDS else [scale_label(n, question["options"]) for n in SCALE]
        counts = [0] * len(labels)
        for answer in answers:
            index = answer["choice"] if kind in CHOICE_KINDS else (answer["number"] or 0) - 1
            if index is not None and 0 <= index < len(counts):
                counts[index] += 1
        summary["rows"] = [{"label": label, "value": count, "share": count / base if base else 0.0}
                           for label, count in zip(labels, counts, strict=True)]
        if kind == "scale" and base:
            summary["mean"] = sum(n * count for n, count in zip(SCALE, counts, strict=True)) / base
    else:
        summary["texts"] = [
            {"id": answer["id"], "text": answer["text"], "hidden": answer["hidden"],
             "submitted_at": respondents[answer["response"]]["submitted_at"],
             "respondent": respondents[answer["response"]].get("name", "")}
            for answer in sorted(answers, key=lambda a: (respondents[a["response"]]["submitted_at"], a["id"]))
        ]
    return summary


async def response_counts(survey_id: int) -> tuple[int, int]:
    """(members invited, responses received) of a survey."""
    invited = await SurveyInvitation.count().where(SurveyInvitation.survey == survey_id)
    responded = await SurveyResponse.count().where(SurveyResponse.survey == survey_id)
    return invited, responded


async def prefectures_answered(survey_id: int) -> set[str]:
    """The home prefectures respondents gave when they answered: the prefecture filter offers only these."""
    rows = await SurveyResponse.select(SurveyResponse.home_prefecture).where(SurveyResponse.survey == survey_id)
    return {row["home_prefecture"] for row in rows}


async def results(survey_id: int, filters: Filters = Filters()) -> dict:
    survey = await Survey.select().where(Survey.id == survey_id).first().output(load_json=True)
    if survey is None:
        raise SurveyRefused("not_found")
    questions = await questions_of(survey_id)
    invited = await SurveyInvitation.count().where(SurveyInvitation.survey == survey_id)
    responded = await SurveyResponse.count().where(SurveyResponse.survey == survey_id)
    query = SurveyResponse.select(SurveyResponse.id, SurveyResponse.account, SurveyResponse.home_prefecture,
                                  SurveyResponse.submitted_at).where(SurveyResponse.survey == survey_id)
    if filters.prefecture:
        query = query.where(SurveyResponse.home_prefecture == filters.prefecture)
    respondents = await query.order_by(SurveyResponse.submitted_at).order_by(SurveyResponse.id)
    allowed = await _accounts_matching(filters)
    if allowed is not None:
        respondents = [r for r in respondents if r["account"] in allowed]
    suppressed = survey["anonymous"] and filters.any and 0 < len(respondents) < ANONYMOUS_MIN_GROUP
    if suppressed:
        respondents = []
    if not survey["anonymous"]:
        await _add_names(respondents)
    by_id = {r["id"]: r for r in respondents}
    answers: list[dict] = []
    for chunk in chunks(list(by_id)):
        answers += await SurveyAnswer.select().where(SurveyAnswer.response.is_in(chunk)).order_by(SurveyAnswer.id)
    per_question: dict[int, list[dict]] = {q["id"]: [] for q in questions}
    for answer in answers:
        per_question.setdefault(answer["question"], []).append(answer)
    return {
        "survey": survey, "questions": questions, "invited": invited, "responded": responded,
        "rate": responded / invited if invited else None, "respondents": respondents, "answers": answers,
        "suppressed": suppressed,
        "summaries": [summarise(q, per_question[q["id"]], by_id) for q in questions],
    }


async def _add_names(respondents: list[dict]) -> None:
    """Member number and name of each respondent (named surveys only)."""
    accounts = [r["account"] for r in respondents if r["account"]]
    names: dict[int, dict] = {}
    for chunk in chunks(accounts):
        for row in await Member.select(Member.account, Member.member_no,
                                       Member.account.display_name.as_alias("display_name")).where(
                Member.account.is_in(chunk)):
            names[row["account"]] = row
    for respondent in respondents:
        row = names.get(respondent["account"])
        respondent["member_no"] = row["member_no"] if row else ""
        respondent["name"] = f"{row['display_name']} ({row['member_no']})" if row else _("Deleted account")
        respondent["display_name"] = row["display_name"] if row else ""


def _cell(question: dict, rows: list[dict]) -> str | int:
    if question["kind"] in CHOICE_KINDS:
        return " / ".join(question["options"][r["choice"]] for r in rows if 0 <= r["choice"] < len(question["options"]))
    if question["kind"] == "scale":
        return rows[0]["number"] if rows else ""
    return rows[0]["text"] if rows and not rows[0]["hidden"] else ""


async def response_lines(response_id: int) -> list[str]:
    """One response as "question: answer" lines, in the survey's order (what the desk reads of a warm lead);
    free text staff hid stays out, as in the table."""
    answers = await SurveyAnswer.select(
        SurveyAnswer.choice, SurveyAnswer.number, SurveyAnswer.text, SurveyAnswer.hidden,
        SurveyAnswer.question.id.as_alias("question_id"),
    ).where(SurveyAnswer.response == response_id)
    ids = sorted({a["question_id"] for a in answers})
    questions = await SurveyQuestion.select().where(SurveyQuestion.id.is_in(ids or [0])).order_by(
        SurveyQuestion.position).output(load_json=True)
    return [f"{q['text']}: {_cell(q, [a for a in answers if a['question_id'] == q['id']])}" for q in questions]


def responses_table(result: dict) -> tuple[list[str], list[list]]:
    """One row per respondent and one column per question. Free text staff hid stays out; an anonymous
    survey has no column that says who answered."""
    questions, anonymous = result["questions"], result["survey"]["anonymous"]
    headers = [_("Response"), _("Submitted at"), _("Home prefecture")]
    if not anonymous:
        headers += [_("Member number"), _("Display name")]
    headers += [f"Q{n}. {q['text']}" for n, q in enumerate(questions, start=1)]
    answers: dict[tuple[int, int], list[dict]] = {}
    for answer in result["answers"]:
        answers.setdefault((answer["response"], answer["question"]), []).append(answer)
    lines = []
    for number, respondent in enumerate(result["respondents"], start=1):
        line = [number, to_tokyo(respondent["submitted_at"]).strftime("%Y-%m-%d %H:%M"),
                prefecture_name(respondent["home_prefecture"]) if respondent["home_prefecture"] else ""]
        if not anonymous:
            line += [respondent["member_no"], respondent["display_name"]]
        line += [_cell(q, answers.get((respondent["id"], q["id"]), [])) for q in questions]
        lines.append(line)
    return headers, lines


def summary_table(result: dict) -> tuple[list[str], list[list]]:
    """Per question: respondents, then each option with its count and share (the figures of the charts)."""
    headers = [_("Question"), _("Answer"), _("Count"), _("Share (percent)")]
    lines: list[list] = []
    for number, summary in enumerate(result["summaries"], start=1):
        label = f"Q{number}. {summary['question']['text']}"
        lines.append([label, _("Respondents"), summary["base"], ""])
        for row in summary["rows"]:
            lines.append([label, row["label"], row["value"], round(row["share"] * 100, 1)])
        if summary["mean"] is not None:
            lines.append([label, _("Mean"), round(summary["mean"], 2), ""])
        if summary["question"]["kind"] in TEXT_KINDS:
            shown = sum(1 for t in summary["texts"] if not t["hidden"])
            lines.append([label, _("Free-text answers (not hidden)"), shown, ""])
    return headers, lines


async def set_hidden(survey_id: int, answer_id: int, hidden: bool, actor_id: int, now: datetime) -> None:
    """Hide a free-text answer from exports (or show it again); the answer stays in the list for staff."""
    answer = await SurveyAnswer.select(
        SurveyAnswer.question.survey.as_alias("survey"), SurveyAnswer.question.kind.as_alias("kind"),
    ).where(SurveyAnswer.id == answer_id).first()
    if answer is None or answer["survey"] != survey_id or answer["kind"] not in TEXT_KINDS:
        raise SurveyRefused("not_found")
    async with atomic(Survey._meta.db):
        await SurveyAnswer.update({SurveyAnswer.hidden: hidden}).where(SurveyAnswer.id == answer_id)
        await audit(actor_id, "survey.answer_hidden" if hidden else "survey.answer_shown", survey_id,
                     {"answer": answer_id}, now)


async def text_answer(survey: dict, answer_id: int) -> dict:
    """One free-text answer as the results list shows it (who wrote it only for a named survey)."""
    row = await SurveyAnswer.select(
        SurveyAnswer.id, SurveyAnswer.text, SurveyAnswer.hidden, SurveyAnswer.response.account.as_alias("account"),
        SurveyAnswer.response.submitted_at.as_alias("submitted_at"),
    ).where(SurveyAnswer.id == answer_id).first()
    respondent = {"account": row["account"]}
    if not survey["anonymous"]:
        await _add_names([respondent])
    return {"id": row["id"], "text": row["text"], "hidden": row["hidden"], "submitted_at": row["submitted_at"],
            "respondent": respondent.get("name", "")}
