"""Demo survey: the post-program questionnaire, open, with answers from the demo members who attended."""

from __future__ import annotations

import random
from datetime import timedelta

from app.demo.kpi import KPI_DEMO_MARK
from app.i18n import to_tokyo
from app.services.notify import push_notifications
from app.services.shared import clock
from app.services.surveys import builder, invitations, plans, responses, surveys
from db.engine import atomic
from db.tables import Application, Survey, SurveyInvitation

# Surveys: the post-program template, sent five days ago to the participants of the latest completed program
# that demo members attended, with their answers so the results page has charts and comments to show. Only
# demo members (KPI_DEMO_MARK) ever answer: a real installation's members are never made to say anything.
SURVEY_DEMO_SUFFIX = " ふりかえりアンケート"
SURVEY_DEMO_COMMENTS = (
    "牧場の方が丁寧に教えてくださり、作業の大変さと楽しさの両方がわかりました。",
    "地元の方との夕食の時間がいちばん印象に残っています。次は家族で来たいです。",
    "集合場所までの交通が少しわかりにくかったので、地図があると助かります。",
    "作業時間がもう少し長くてもよかったです。2日間のプログラムがあれば参加したいです。",
    "参加者同士で連絡を取り合えるようになり、帰ってからもつながりが続いています。",
)
# Which option people pick, by the template's question position: come back (most would), dual residence or moving.
SURVEY_DEMO_SINGLE = {1: (0, 0, 0, 1, 1, 1, 2, 3), 3: (0, 1, 1, 2, 3, 3, 3, 4, 4, 4)}
SURVEY_DEMO_MESSAGES = ("ありがとうございました！また伺います。", "温かく迎えてくださり、感謝しています。", "次の収穫も手伝いに行きます。")


async def load_survey_demo() -> dict[str, int]:
    """One open survey with answers (once, keyed by its title), if demo members attended a completed program."""
    created = {"surveys": 0, "survey_responses": 0}
    attended = await Application.select(
        Application.program.id.as_alias("program"), Application.program.title.as_alias("title"),
        Application.program.ends_at.as_alias("ends_at"), Application.member.account.as_alias("account"),
    ).where((Application.status == "attended") & (Application.program.status == "completed")
            & Application.member.account.webauthn_user_id.like(KPI_DEMO_MARK + "%"))
    if not attended:
        return created
    latest = max(attended, key=lambda row: row["ends_at"])
    title = latest["title"][: 120 - len(SURVEY_DEMO_SUFFIX)] + SURVEY_DEMO_SUFFIX
    if await Survey.exists().where(Survey.title == title):
        return created
    now = clock.now()
    sent = now - timedelta(days=5)
    people = sorted({row["account"] for row in attended if row["program"] == latest["program"]})
    rng = random.Random(7)
    async with atomic(Survey._meta.db):
        survey_id = await builder.copy_template("follow_up", None, sent)
        await Survey.update({
            Survey.title: title, Survey.status: "published", Survey.program: latest["program"],
            Survey.target: {"kind": "program", "program": latest["program"]}, Survey.follow_up_days: None,
            Survey.published_at: sent, Survey.opens_at: sent, Survey.invited_at: sent,
            Survey.closes_at: plans.end_of_day(to_tokyo(now).date() + timedelta(days=9)),
        }).where(Survey.id == survey_id)
        await SurveyInvitation.insert(*[SurveyInvitation(survey=survey_id, account=a, created_at=sent) for a in people])
        created["surveys"] = 1
        questions = await surveys.questions_of(survey_id)
        for account in people:
            if rng.random() < 0.3:  # about seven in ten answer
                continue
            answers = {str(q["id"]): _demo_answer(rng, q) for q in questions}
            answered_at = sent + timedelta(days=rng.randint(0, 4), hours=rng.randint(1, 20))
            await responses.submit(survey_id, account, {k: v for k, v in answers.items() if v}, min(answered_at, now))
            created["survey_responses"] += 1
    # The invitation in each inbox, as the background round would have put it there five days ago.
    survey = await Survey.select().where(Survey.id == survey_id).first().output(load_json=True)
    title, body = await invitations.announcement(survey, reminder=False)
    await push_notifications.create_notification(push_notifications.Target(topic="surveys", account_ids=people), title, body,
                                   surveys.answer_path(survey_id), None, send_at=sent)
    await push_notifications.fan_out_due(sent)
    return created


def _demo_answer(rng, question: dict) -> list[str]:
    """A believable answer: mostly satisfied, many wanting to come back, a few thinking of moving."""
    kind, count = question["kind"], len(question["options"])
    if kind == "scale":
        return [str(rng.choice((5, 5, 5, 4, 4, 4, 4, 3, 3, 2)))]
    if kind == "single":
        return [str(min(rng.choice(SURVEY_DEMO_SINGLE.get(question["position"], range(count))), count - 1))]
    if kind == "multiple":
        if not question["required"] and rng.random() < 0.3:
            return []
        return [str(i) for i in rng.sample(range(count - 1), rng.choice((1, 2, 2, 3)))]
    if kind == "long":
        return [rng.choice(SURVEY_DEMO_COMMENTS)] if rng.random() < 0.6 else []
    return [rng.choice(SURVEY_DEMO_MESSAGES)] if rng.random() < 0.4 else []
