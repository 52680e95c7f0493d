"""Surveys: building a draft (from a template too), targeting, publication and its refusals, the automatic
follow-up after a program on a controlled clock (invitations, one reminder, closing — each exactly once, even
when rounds overlap), answering with every kind of bad input refused and nothing half-saved, one response per
member under a race of twenty submissions (on both databases), and results checked against figures worked
out by hand.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from app.i18n import TOKYO
from app.services.membership import erasure
from app.services.notify import push_notifications
from app.services.shared import clock
from app.services.surveys import builder, invitations, plans, responses, results, surveys
from app.services.surveys.responses import AnswersInvalid
from app.services.surveys.results import Filters
from app.services.surveys.surveys import SurveyInvalid, SurveyRefused
from app.services.surveys.templates import TEMPLATES
from app.settings import Smtp
from db.tables import (
    Account,
    AuditLog,
    Member,
    Notice,
    Notification,
    OutboxMail,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
)
from tests import factories

SMTP = Smtp(mail_from="no-reply@tomakomai.example.jp")
BASE_URL = "https://tsunagu.example.jp"
SITE = "とまこまい つながる"
START = datetime(2026, 12, 1, 9, 0, tzinfo=TOKYO)


class Clock:
    """The time the services see; tests move it."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def time_now(monkeypatch) -> Clock:
    controlled = Clock(START)
    monkeypatch.setattr(clock, "now", controlled.now)
    return controlled


async def dispatch(now: datetime) -> invitations.RoundStats:
    return await invitations.dispatch_due(SMTP, now, base_url=BASE_URL, site_name=SITE)


@dataclass
class Scene:
    """Two areas, a program in each (the first ends a day from the start, the second a month before), the
    secretariat, and members:
    two who attended the first program (one with a confirmed e-mail), one accepted there who did not come,
    one who follows the first area, one who attended the second program, a premium member, and a deleted
    member who had attended the first program."""

    area: int
    other_area: int
    program: int
    other_program: int
    staff: int
    attended: int
    attended_no_mail: int
    no_show: int
    follower: int
    other_participant: int
    premium: int
    deleted: int


@pytest.fixture
async def scene(time_now) -> Scene:
    area = await factories.area("勇払", "yufutsu")
    other_area = await factories.area("樽前", "tarumae")
    ends = START + timedelta(days=1)
    program = await factories.program(area, status="completed", starts_at=ends - timedelta(hours=6), ends_at=ends)
    other_program = await factories.program(other_area, title="空き家再生ワークショップ", status="completed",
                                            starts_at=START - timedelta(days=31), ends_at=START - timedelta(days=30))
    staff = await factories.staff_account()
    attended = await factories.member("参加 一郎", email="ichiro@example.jp", verified=True, home_prefecture="13")
    attended_no_mail = await factories.member("参加 二郎", email="jiro@example.jp", home_prefecture="27")
    no_show = await factories.member("欠席 三郎")
    follower = await factories.member("フォロー 四郎", area_ids=[area], home_prefecture="27")
    other_participant = await factories.member("樽前 五郎", home_prefecture="01")
    premium = await factories.member("プレミアム 六子")
    await Member.update({Member.tier: "premium"}).where(Member.id == premium.member_id)
    deleted = await factories.member("退会 七郎")
    for person in (attended, attended_no_mail, deleted):
        await factories.attendance(program, person.member_id)
    await factories.attendance(program, no_show.member_id, status="accepted")
    await factories.attendance(other_program, other_participant.member_id)
    await erasure.delete_account(deleted.account_id)
    return Scene(area, other_area, program, other_program, staff, attended.account_id, attended_no_mail.account_id,
                 no_show.account_id, follower.account_id, other_participant.account_id, premium.account_id,
                 deleted.account_id)


def plan_form(**changes) -> dict:
    form = {"target_kind": "everyone", "timing": "publish", "close_date": "2026-12-20", "open_days": "14"}
    form.update(changes)
    return form


async def draft_with_plan(scene: Scene, template: str = "follow_up", **plan) -> int:
    survey_id = await builder.copy_template(template, scene.staff, clock.now())
    await plans.save_plan(survey_id, await plans.read_plan(plan_form(**plan), clock.now()), clock.now())
    return survey_id


async def survey_row(survey_id: int) -> dict:
    return await Survey.select().where(Survey.id == survey_id).first().output(load_json=True)


async def invited(survey_id: int) -> list[int]:
    rows = await SurveyInvitation.select(SurveyInvitation.account).where(SurveyInvitation.survey == survey_id)
    return sorted(row["account"] for row in rows)


async def refusal(awaitable) -> str:
    with pytest.raises(SurveyRefused) as refused:
        await awaitable
    return refused.value.reason


async def invalid(awaitable, error: type[Exception] = SurveyInvalid) -> dict[str, str]:
    with pytest.raises(error) as raised:
        await awaitable
    return raised.value.errors


# --- Targeting ---------------------------------------------------------------------------------------------


async def test_each_target_reaches_its_members_and_never_deleted_accounts_or_staff(scene):
    targets = {
        "program": {"kind": "program", "program": scene.program},
        "area_participants": {"kind": "area_participants", "area": scene.area},
        "other_area_participants": {"kind": "area_participants", "area": scene.other_area},
        "area_followers": {"kind": "area_followers", "area": scene.area},
        "premium": {"kind": "tier", "tier": "premium"},
        "everyone": {"kind": "everyone"},
        "nothing": {"kind": "program"},
        "unknown": {"kind": "somebody"},
    }
    reached = {name: await plans.target_accounts(target) for name, target in targets.items()}
    assert reached["program"] == sorted([scene.attended, scene.attended_no_mail])
    assert reached["area_participants"] == sorted([scene.attended, scene.attended_no_mail])
    assert reached["other_area_participants"] == [scene.other_participant]
    assert reached["area_followers"] == [scene.follower]
    assert reached["premium"] == [scene.premium]
    assert reached["everyone"] == sorted([scene.attended, scene.attended_no_mail, scene.no_show, scene.follower,
                                          scene.other_participant, scene.premium])
    assert reached["nothing"] == reached["unknown"] == []


async def test_a_survey_is_addressed_only_to_programs_the_public_has_seen_the_latest_start_first(scene):
    published = await factories.program(scene.area, title="公開中", starts_at=START + timedelta(days=10),
                                        ends_at=START + timedelta(days=10, hours=3))
    closed = await factories.program(scene.other_area, title="締切済み", status="closed",
                                     starts_at=START - timedelta(days=5), ends_at=START - timedelta(days=5) + timedelta(hours=3))
    for status in ("draft", "submitted", "rejected"):
        await factories.program(scene.area, title=f"非公開 {status}", status=status)

    rows = await plans.target_programs()
    assert [r["id"] for r in rows] == [published, scene.program, closed, scene.other_program]
    assert (rows[0]["title"], rows[0]["area_name"], rows[0]["ends_at"]) == ("公開中", "勇払", START + timedelta(days=10, hours=3))


# --- Building ----------------------------------------------------------------------------------------------


async def test_a_copy_of_the_follow_up_template_is_a_draft_with_its_questions_in_order(scene):
    survey_id = await builder.copy_template("follow_up", scene.staff, clock.now())
    survey = await survey_row(survey_id)
    template = TEMPLATES["follow_up"]
    assert survey["status"] == "draft" and survey["title"] == template.title
    assert survey["target"] == {"kind": "program"} and survey["follow_up_days"] == 7
    questions = await surveys.questions_of(survey_id)
    assert [q["text"] for q in questions] == [q.text for q in template.questions]
    assert [q["position"] for q in questions] == list(range(len(template.questions)))
    assert questions[0]["kind"] == "scale" and questions[0]["options"] == ["不満", "満足"]
    assert any("移住" in q["text"] for q in questions)
    # The dashboard finds the intent question of every copy by its key, whatever staff call it.
    assert [q["key"] for q in questions if q["key"]] == ["intent_to_move"]
    assert await refusal(builder.copy_template("no-such-template", scene.staff, clock.now())) == "not_found"


async def test_questions_are_added_edited_reordered_and_removed_while_a_draft(scene):
    survey_id = await builder.create_survey(scene.staff, "地域とのつながりアンケート", "", clock.now())
    first = await builder.add_question(survey_id, builder.read_question(
        {"kind": "single", "text": "また訪れたいですか", "options": "はい\n\n いいえ \r\nわからない", "required": "1"}), clock.now())
    second = await builder.add_question(survey_id, builder.read_question(
        {"kind": "scale", "text": "満足度", "low": "不満", "high": "満足"}), clock.now())
    third = await builder.add_question(survey_id, builder.read_question({"kind": "long", "text": "ご意見"}), clock.now())
    questions = await surveys.questions_of(survey_id)
    assert [q["id"] for q in questions] == [first, second, third]
    assert questions[0]["options"] == ["はい", "いいえ", "わからない"] and questions[0]["required"] is True
    assert questions[1]["options"] == ["不満", "満足"] and questions[1]["required"] is False
    assert questions[2]["options"] == []

    await builder.move_question(survey_id, third, "up", clock.now())
    await builder.move_question(survey_id, first, "up", clock.now())  # already first: stays
    assert [q["id"] for q in await surveys.questions_of(survey_id)] == [first, third, second]
    await builder.update_question(survey_id, second, builder.read_question(
        {"kind": "multiple", "text": "関わり方", "options": "交流会\n産品の購入"}), clock.now())
    await builder.delete_question(survey_id, first, clock.now())
    questions = await surveys.questions_of(survey_id)
    assert [(q["id"], q["position"]) for q in questions] == [(third, 0), (second, 1)]
    assert questions[1]["kind"] == "multiple" and questions[1]["options"] == ["交流会", "産品の購入"]


@pytest.mark.parametrize(("form", "field"), [
    ({"kind": "single", "text": "", "options": "a\nb"}, "text"),
    ({"kind": "single", "text": "あ" * 301, "options": "a\nb"}, "text"),
    ({"kind": "ranking", "text": "順位"}, "kind"),
    ({"kind": "single", "text": "質問", "options": "ひとつだけ"}, "options"),
    ({"kind": "multiple", "text": "質問", "options": "同じ\n同じ"}, "options"),
    ({"kind": "multiple", "text": "質問", "options": "短い\n" + "長" * 101}, "options"),
    ({"kind": "multiple", "text": "質問", "options": "\n".join(f"選択肢{n}" for n in range(21))}, "options"),
    ({"kind": "scale", "text": "満足度", "low": "不満", "high": ""}, "scale"),
    ({"kind": "scale", "text": "満足度", "low": "不満", "high": "満" * 41}, "scale"),
])
def test_a_bad_question_is_refused_at_its_field(form, field):
    with pytest.raises(SurveyInvalid) as raised:
        builder.read_question(form)
    assert field in raised.value.errors


async def test_a_published_survey_can_no_longer_change_its_questions(scene):
    survey_id = await draft_with_plan(scene, template="check_in")
    await plans.publish(survey_id, scene.staff, clock.now())
    before = await surveys.questions_of(survey_id)
    question = builder.read_question({"kind": "short", "text": "追加の質問"})
    now = clock.now()
    assert await refusal(builder.add_question(survey_id, question, now)) == "not_draft"
    assert await refusal(builder.update_question(survey_id, before[0]["id"], question, now)) == "not_draft"
    assert await refusal(builder.delete_question(survey_id, before[0]["id"], now)) == "not_draft"
    assert await refusal(builder.move_question(survey_id, before[1]["id"], "up", now)) == "not_draft"
    assert await refusal(builder.update_details(survey_id, "別の題", "", now)) == "not_draft"
    assert await refusal(builder.delete_draft(survey_id, scene.staff, now)) == "not_draft"
    assert await surveys.questions_of(survey_id) == before


async def test_a_question_of_another_survey_is_not_found(scene):
    mine = await builder.copy_template("check_in", scene.staff, clock.now())
    other = await builder.copy_template("follow_up", scene.staff, clock.now())
    foreign = (await surveys.questions_of(other))[0]["id"]
    question = builder.read_question({"kind": "short", "text": "質問"})
    assert await refusal(builder.update_question(mine, foreign, question, clock.now())) == "not_found"
    assert await refusal(builder.delete_question(mine, foreign, clock.now())) == "not_found"
    assert await refusal(builder.move_question(mine, foreign, "down", clock.now())) == "not_found"
    assert len(await surveys.questions_of(other)) == len(TEMPLATES["follow_up"].questions)


@pytest.mark.parametrize(("changes", "field"), [
    ({"target_kind": "neighbours"}, "target_kind"),
    ({"target_kind": "program", "program": "999999"}, "program"),
    ({"target_kind": "area_followers", "area": "x"}, "area"),
    ({"target_kind": "tier", "tier": "gold"}, "tier"),
    ({"timing": "7"}, "timing"),  # a follow-up of no program
    ({"timing": "30"}, "timing"),
    ({"close_date": "2026-13-01"}, "close_date"),
    ({"close_date": "2026-11-30"}, "close_date"),  # yesterday
    ({"close_date": ""}, "close_date"),  # asked at this step, not first at publication
])
async def test_bad_targeting_or_timing_is_refused_at_its_field(scene, changes, field):
    assert field in await invalid(plans.read_plan(plan_form(**changes), clock.now()))


async def test_a_follow_up_keeps_its_days_open_and_a_close_date_means_the_end_of_that_day(scene):
    follow_up = await plans.read_plan(plan_form(target_kind="program", program=str(scene.program), timing="90",
                                                  open_days="21", close_date=""), clock.now())
    assert (follow_up.target, follow_up.follow_up_days, follow_up.open_days, follow_up.closes_at) == (
        {"kind": "program", "program": scene.program}, 90, 21, None)
    assert "open_days" in await invalid(plans.read_plan(plan_form(
        target_kind="program", program=str(scene.program), timing="7", open_days="91"), clock.now()))
    immediate = await plans.read_plan(plan_form(close_date="2026-12-01", anonymous="1"), clock.now())
    assert immediate.closes_at == datetime(2026, 12, 1, 23, 59, tzinfo=TOKYO) and immediate.anonymous


async def test_publishing_refuses_a_survey_without_questions_a_target_or_a_close_date_and_stays_a_draft(scene):
    survey_id = await builder.create_survey(scene.staff, "空のアンケート", "", clock.now())
    await Survey.update({Survey.target: {}}).where(Survey.id == survey_id)
    errors = await invalid(plans.publish(survey_id, scene.staff, clock.now()))
    assert set(errors) == {"questions", "target_kind", "close_date"}
    row = await survey_row(survey_id)
    assert row["status"] == "draft" and row["opens_at"] is None and row["published_at"] is None
    assert await AuditLog.count().where(AuditLog.action == "survey.published") == 0


async def test_publishing_refuses_a_close_date_that_has_passed_meanwhile(scene, time_now):
    survey_id = await draft_with_plan(scene, template="check_in", close_date="2026-12-02")
    time_now.moment = datetime(2026, 12, 3, 0, 0, tzinfo=TOKYO)
    assert set(await invalid(plans.publish(survey_id, scene.staff, clock.now()))) == {"close_date"}


async def test_a_follow_up_of_a_program_long_over_is_refused_because_it_would_already_be_closed(scene):
    survey_id = await draft_with_plan(scene, target_kind="program", program=str(scene.other_program), timing="7")
    errors = await invalid(plans.publish(survey_id, scene.staff, clock.now()))
    assert set(errors) == {"timing"}
    # A year after it, though, is still to come.
    await plans.save_plan(survey_id, await plans.read_plan(plan_form(
        target_kind="program", program=str(scene.other_program), timing="365"), clock.now()), clock.now())
    opens = await plans.publish(survey_id, scene.staff, clock.now())
    assert opens == (START - timedelta(days=30)) + timedelta(days=365)


async def test_publishing_twice_or_closing_a_draft_is_refused(scene):
    survey_id = await draft_with_plan(scene, template="check_in")
    await plans.publish(survey_id, scene.staff, clock.now())
    assert await refusal(plans.publish(survey_id, scene.staff, clock.now())) == "not_draft"
    draft = await builder.create_survey(scene.staff, "下書き", "", clock.now())
    assert await refusal(plans.close_now(draft, scene.staff, clock.now())) == "not_published"


# --- Automatic follow-up on a controlled clock -----------------------------------------------------------------


async def test_a_follow_up_goes_to_the_attendees_a_week_after_the_program_without_anyone_remembering(scene, time_now):
    survey_id = await draft_with_plan(scene, target_kind="program", program=str(scene.program), timing="7")
    opens = await plans.publish(survey_id, scene.staff, clock.now())
    program_end = START + timedelta(days=1)
    assert opens == program_end + timedelta(days=7)
    row = await survey_row(survey_id)
    assert row["closes_at"] == opens + timedelta(days=14) and row["invited_at"] is None

    time_now.moment = opens - timedelta(minutes=1)
    assert (await dispatch(clock.now())).invited == 0
    assert await invited(survey_id) == []

    time_now.moment = opens
    assert (await dispatch(clock.now())).invited == 2
    assert await invited(survey_id) == sorted([scene.attended, scene.attended_no_mail])
    notifications = await Notification.select().output(load_json=True)
    assert len(notifications) == 1
    notification = notifications[0]
    assert notification["topic"] == "surveys" and notification["url"] == surveys.answer_path(survey_id)
    assert notification["title"] == f"アンケートのお願い：{row['title']}"
    assert sorted(notification["target"]["accounts"]) == sorted([scene.attended, scene.attended_no_mail])
    mails = await OutboxMail.select()
    assert [(m["to_address"], m["purpose"]) for m in mails] == [("ichiro@example.jp", "survey_invite")]
    assert BASE_URL + surveys.answer_path(survey_id) in mails[0]["body"] and "参加 一郎" in mails[0]["body"]

    # The push step of the same round puts it in each attendee's inbox.
    await push_notifications.fan_out_due(clock.now())
    for account in (scene.attended, scene.attended_no_mail):
        inbox = await Notice.select().where(Notice.account == account)
        assert [(n["title"], n["url"]) for n in inbox] == [(notification["title"], surveys.answer_path(survey_id))]

    # Later rounds add nothing: one invitation per person, one notification, one mail.
    time_now.moment = opens + timedelta(hours=1)
    assert (await dispatch(clock.now())).invited == 0
    assert len(await invited(survey_id)) == 2
    assert await Notification.count() == 1 and await OutboxMail.count() == 1


@pytest.mark.parametrize("days", [90, 365])
async def test_later_follow_ups_open_three_months_or_a_year_after_the_program(scene, time_now, days):
    survey_id = await draft_with_plan(scene, target_kind="program", program=str(scene.program), timing=str(days))
    opens = await plans.publish(survey_id, scene.staff, clock.now())
    assert opens == START + timedelta(days=1 + days)
    time_now.moment = opens - timedelta(days=1)
    await dispatch(clock.now())
    assert await invited(survey_id) == []
    time_now.moment = opens + timedelta(minutes=5)
    await dispatch(clock.now())
    assert await invited(survey_id) == sorted([scene.attended, scene.attended_no_mail])


async def test_a_survey_without_follow_up_goes_out_in_the_next_round_after_publication(scene):
    survey_id = await draft_with_plan(scene, template="check_in", target_kind="area_followers", area=str(scene.area))
    opens = await plans.publish(survey_id, scene.staff, clock.now())
    assert opens == clock.now()
    assert (await dispatch(clock.now())).invited == 1
    assert await invited(survey_id) == [scene.follower]


async def test_two_rounds_at_the_same_moment_invite_once(scene):
    survey_id = await draft_with_plan(scene, template="check_in")
    await plans.publish(survey_id, scene.staff, clock.now())
    results = await asyncio.gather(*[dispatch(clock.now()) for _ in range(4)])
    assert sum(r.invited for r in results) == 6
    assert len(await invited(survey_id)) == 6
    assert await Notification.count() == 1


async def test_one_reminder_two_days_before_the_close_reaches_only_those_who_have_not_answered(scene, time_now):
    survey_id = await draft_with_plan(scene, target_kind="program", program=str(scene.program), timing="7")
    opens = await plans.publish(survey_id, scene.staff, clock.now())
    closes = opens + timedelta(days=14)
    time_now.moment = opens
    await dispatch(clock.now())
    questions = await surveys.questions_of(survey_id)
    await responses.submit(survey_id, scene.attended_no_mail, minimal_answers(questions), clock.now())

    time_now.moment = closes - timedelta(days=2, minutes=1)
    assert (await dispatch(clock.now())).reminded == 0
    time_now.moment = closes - timedelta(days=2)
    assert (await dispatch(clock.now())).reminded == 1
    reminder = (await Notification.select().order_by(Notification.id).output(load_json=True))[-1]
    assert reminder["target"]["accounts"] == [scene.attended] and reminder["title"].startswith("回答のお願い")
    assert [m["purpose"] for m in await OutboxMail.select().order_by(OutboxMail.id)] == ["survey_invite", "survey_reminder"]
    reminded = await SurveyInvitation.select(SurveyInvitation.account).where(SurveyInvitation.reminded_at.is_not_null())
    assert [r["account"] for r in reminded] == [scene.attended]

    time_now.moment = closes - timedelta(days=1)
    assert (await dispatch(clock.now())).reminded == 0
    assert await Notification.count() == 2


async def test_a_survey_open_for_a_day_gets_no_reminder_right_after_its_invitation(scene):
    survey_id = await draft_with_plan(scene, template="check_in", close_date="2026-12-02")
    await plans.publish(survey_id, scene.staff, clock.now())
    stats = await dispatch(clock.now())
    assert (stats.invited, stats.reminded) == (6, 0)


async def test_a_survey_closes_at_its_close_date_and_answers_are_then_refused(scene, time_now):
    survey_id = await draft_with_plan(scene, template="check_in", close_date="2026-12-10")
    await plans.publish(survey_id, scene.staff, clock.now())
    await dispatch(clock.now())
    questions = await surveys.questions_of(survey_id)
    time_now.moment = datetime(2026, 12, 10, 23, 59, tzinfo=TOKYO)
    assert (await dispatch(clock.now())).closed == 1
    assert (await survey_row(survey_id))["status"] == "closed"
    assert await refusal(responses.submit(survey_id, scene.attended, minimal_answers(questions), clock.now())) == "closed"
    assert await SurveyResponse.count() == 0


async def test_staff_close_a_survey_early(scene):
    survey_id = await draft_with_plan(scene, template="check_in")
    await plans.publish(survey_id, scene.staff, clock.now())
    await dispatch(clock.now())
    await plans.close_now(survey_id, scene.staff, clock.now())
    questions = await surveys.questions_of(survey_id)
    assert await refusal(responses.submit(survey_id, scene.attended, minimal_answers(questions), clock.now())) == "closed"
    assert await refusal(plans.close_now(survey_id, scene.staff, clock.now())) == "not_published"


# --- Answering -----------------------------------------------------------------------------------------------


QUESTIONS = [
    {"kind": "scale", "text": "満足度", "options": ["不満", "満足"]},
    {"kind": "single", "text": "また訪れたいですか", "options": ["ぜひ", "機会があれば", "いいえ"]},
    {"kind": "multiple", "text": "関わり方", "options": ["交流会", "ふるさと納税", "産品の購入"], "required": False},
    {"kind": "short", "text": "ひとこと", "required": False},
    {"kind": "long", "text": "ご意見", "required": False},
]


def minimal_answers(questions: list[dict]) -> dict[str, list[str]]:
    """The first option or 3 for every required question; optional ones left out."""
    answers = {}
    for q in questions:
        if q["required"]:
            answers[str(q["id"])] = {"scale": ["3"], "short": ["はい"], "long": ["はい"]}.get(q["kind"], ["0"])
    return answers


@dataclass
class Answering:
    survey: int
    questions: list[dict]
    member: int
    stranger: int

    def form(self, **by_position) -> dict[str, list[str]]:
        """Answers by question position (q0 … q4), as lists of raw form values."""
        return {str(self.questions[int(key[1:])]["id"]): value for key, value in by_position.items()}


@pytest.fixture
async def answering(time_now) -> Answering:
    member = await factories.member("回答 花子", home_prefecture="13")
    stranger = await factories.member("対象外 太郎")
    survey_id = await factories.open_survey(QUESTIONS, [member.account_id])
    return Answering(survey_id, await surveys.questions_of(survey_id), member.account_id, stranger.account_id)


async def test_answers_of_every_kind_are_stored_in_one_response_with_the_home_prefecture(answering):
    a = answering
    response_id = await responses.submit(a.survey, a.member, a.form(
        q0=["4"], q1=["1"], q2=["2", "0", "2"], q3=["  よかった  "], q4=["来年も\r\n参加します"]), clock.now())
    response = await SurveyResponse.select().where(SurveyResponse.id == response_id).first()
    assert (response["account"], response["home_prefecture"]) == (a.member, "13")
    rows = await SurveyAnswer.select(SurveyAnswer.question, SurveyAnswer.choice, SurveyAnswer.number,
                                     SurveyAnswer.text).order_by(SurveyAnswer.id)
    q = [question["id"] for question in a.questions]
    assert [tuple(r.values()) for r in rows] == [
        (q[0], None, 4, ""), (q[1], 1, None, ""), (q[2], 0, None, ""), (q[2], 2, None, ""),
        (q[3], None, None, "よかった"), (q[4], None, None, "来年も\n参加します"),
    ]
    invitation = await SurveyInvitation.select().where(SurveyInvitation.account == a.member).first()
    assert invitation["responded_at"] == clock.now()
    assert await responses.open_for(a.member, clock.now()) == []
    assert [s["id"] for s in await responses.answered_by(a.member)] == [a.survey]


async def test_optional_questions_may_be_left_out_and_texts_reach_their_limits_exactly(answering):
    a = answering
    await responses.submit(a.survey, a.member, a.form(q0=["1"], q1=["0"], q2=[""], q3=["あ" * 200], q4=["い" * 4000]),
                         clock.now())
    texts = await SurveyAnswer.select(SurveyAnswer.text).where(SurveyAnswer.text != "")
    assert sorted(len(t["text"]) for t in texts) == [200, 4000]
    assert await SurveyAnswer.count().where(SurveyAnswer.question == a.questions[2]["id"]) == 0


@pytest.mark.parametrize(("answers", "position"), [
    ({"q1": ["0"]}, 0),  # a required scale missing
    ({"q0": ["3"]}, 1),  # a required choice missing
    ({"q0": ["3"], "q1": ["   "]}, 1),  # only spaces
    ({"q0": ["3"], "q1": ["3"]}, 1),  # an option the question does not have
    ({"q0": ["3"], "q1": ["-1"]}, 1),
    ({"q0": ["3"], "q1": ["はい"]}, 1),
    ({"q0": ["3"], "q1": ["0", "1"]}, 1),  # two answers to a single choice
    ({"q0": ["3"], "q1": ["0"], "q2": ["0", "9"]}, 2),  # one good and one foreign option
    ({"q0": ["0"], "q1": ["0"]}, 0),  # outside the scale
    ({"q0": ["6"], "q1": ["0"]}, 0),
    ({"q0": ["3.5"], "q1": ["0"]}, 0),
    ({"q0": ["3"], "q1": ["0"], "q3": ["あ" * 201]}, 3),  # over-long short text
    ({"q0": ["3"], "q1": ["0"], "q4": ["い" * 4001]}, 4),  # over-long long text
])
async def test_a_bad_answer_is_refused_at_its_question_and_nothing_is_saved(answering, answers, position):
    a = answering
    errors = await invalid(responses.submit(a.survey, a.member, a.form(**answers), clock.now()), AnswersInvalid)
    assert str(a.questions[position]["id"]) in errors
    assert await SurveyResponse.count() == 0 and await SurveyAnswer.count() == 0
    assert (await SurveyInvitation.select().first())["responded_at"] is None


async def test_an_answer_to_a_question_of_another_survey_is_refused(answering):
    a = answering
    other = await factories.open_survey([{"kind": "short", "text": "別の質問"}], [a.member])
    foreign = (await surveys.questions_of(other))[0]["id"]
    raw = {**a.form(q0=["3"], q1=["0"]), str(foreign): ["紛れ込んだ回答"], "abc": ["x"]}
    errors = await invalid(responses.submit(a.survey, a.member, raw, clock.now()), AnswersInvalid)
    assert set(errors) == {"form"}
    assert await SurveyResponse.count() == 0


async def test_every_problem_is_reported_at_once(answering):
    a = answering
    errors = await invalid(responses.submit(a.survey, a.member, a.form(q0=["9"], q3=["あ" * 201]), clock.now()),
                           AnswersInvalid)
    assert set(errors) == {str(a.questions[n]["id"]) for n in (0, 1, 3)}
    assert errors[str(a.questions[0]["id"])] == "1から5までの数字を選んでください。"
    assert errors[str(a.questions[1]["id"])] == "回答をひとつ選んでください。"
    assert errors[str(a.questions[3]["id"])] == "200文字以内で入力してください（いま201文字）。"


async def test_control_characters_never_reach_the_database(answering):
    a = answering
    await responses.submit(a.survey, a.member, a.form(q0=["3"], q1=["0"], q3=["nul\x00 と ベル\x07"]), clock.now())
    assert (await SurveyAnswer.select(SurveyAnswer.text).where(SurveyAnswer.text != "").first())["text"] == "nul と ベル"


async def test_surveys_not_addressed_to_the_member_closed_drafts_and_second_answers_are_refused(answering, time_now):
    a = answering
    answers = a.form(q0=["3"], q1=["0"])
    assert await refusal(responses.submit(a.survey, a.stranger, answers, clock.now())) == "not_invited"
    draft = await factories.open_survey(QUESTIONS, [a.member], status="draft")
    assert await refusal(responses.submit(draft, a.member, answers, clock.now())) == "not_found"
    assert await refusal(responses.submit(999999, a.member, answers, clock.now())) == "not_found"
    later = await factories.open_survey(QUESTIONS, [], opens_at=clock.now() + timedelta(days=3), invited_at=None)
    assert await refusal(responses.submit(later, a.member, answers, clock.now())) == "not_open"

    await responses.submit(a.survey, a.member, answers, clock.now())
    assert await refusal(responses.submit(a.survey, a.member, answers, clock.now())) == "already_answered"
    time_now.moment += timedelta(days=30)  # answered stays answered, even once closed
    assert await refusal(responses.for_member(a.survey, a.member, clock.now())) == "already_answered"
    assert await SurveyResponse.count() == 1


async def test_twenty_submissions_at_once_by_one_member_make_exactly_one_response(answering):
    a = answering
    results = await asyncio.gather(*[
        responses.submit(a.survey, a.member, a.form(q0=[str(1 + n % 5)], q1=["0"], q2=["1", "2"]), clock.now())
        for n in range(20)
    ], return_exceptions=True)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, SurveyRefused)]
    assert unexpected == []
    assert sum(isinstance(r, int) for r in results) == 1
    assert [r.reason for r in results if isinstance(r, SurveyRefused)] == ["already_answered"] * 19
    assert await SurveyResponse.count() == 1
    assert await SurveyAnswer.count() == 4  # the one response's scale, choice and two options: no stray rows


# --- Results -------------------------------------------------------------------------------------------------


@dataclass
class Answered:
    survey: int
    questions: list[dict]
    scene: Scene


@pytest.fixture
async def answered(scene) -> Answered:
    """Five invited; four answered (worked out by hand in the tests):

    | who                       | home | Q1 scale | Q2 single | Q3 multiple | Q4 long      |
    | attended (program, area)  | 13   | 5        | A         | X, Y        | とても楽しかった |
    | attended_no_mail (same)   | 27→  | 4        | A         | X           |              |
    | follower (area)           | 27   | 2        | B         | —           | 交通費が高い   |
    | other_participant (other) | 01   | 5        | C         | Z, X        |              |
    | premium                   | invited, no answer                                      |
    """
    questions = [
        {"kind": "scale", "text": "満足度", "options": ["不満", "満足"]},
        {"kind": "single", "text": "また訪れたいですか", "options": ["A", "B", "C"]},
        {"kind": "multiple", "text": "関わり方", "options": ["X", "Y", "Z"], "required": False},
        {"kind": "long", "text": "ご意見", "required": False},
    ]
    people = [scene.attended, scene.attended_no_mail, scene.follower, scene.other_participant, scene.premium]
    survey_id = await factories.open_survey(questions, people)
    q = [str(question["id"]) for question in await surveys.questions_of(survey_id)]
    answers = {
        scene.attended: {q[0]: ["5"], q[1]: ["0"], q[2]: ["0", "1"], q[3]: ["とても楽しかった"]},
        scene.attended_no_mail: {q[0]: ["4"], q[1]: ["0"], q[2]: ["0"]},
        scene.follower: {q[0]: ["2"], q[1]: ["1"], q[3]: ["交通費が高い"]},
        scene.other_participant: {q[0]: ["5"], q[1]: ["2"], q[2]: ["2", "0"]},
    }
    for offset, (account, raw) in enumerate(answers.items()):
        await responses.submit(survey_id, account, raw, clock.now() + timedelta(minutes=offset))
    # The second attendee moved since answering: the results keep the prefecture they had then.
    await Member.update({Member.home_prefecture: "13"}).where(Member.account == scene.attended_no_mail)
    return Answered(survey_id, await surveys.questions_of(survey_id), scene)


def figures(summary: dict) -> list[tuple[str, int, float]]:
    return [(row["label"], row["value"], round(row["share"], 4)) for row in summary["rows"]]


async def test_the_results_match_the_figures_worked_out_by_hand(answered):
    result = await results.results(answered.survey)
    assert (result["invited"], result["responded"], result["rate"]) == (5, 4, 0.8)
    scale, single, multiple, text = result["summaries"]
    assert scale["base"] == 4 and scale["mean"] == 4.0
    assert figures(scale) == [("1（不満）", 0, 0.0), ("2", 1, 0.25), ("3", 0, 0.0), ("4", 1, 0.25), ("5（満足）", 2, 0.5)]
    assert single["base"] == 4 and figures(single) == [("A", 2, 0.5), ("B", 1, 0.25), ("C", 1, 0.25)]
    # Three people answered the optional question; X was chosen by all three.
    assert multiple["base"] == 3 and figures(multiple) == [("X", 3, 1.0), ("Y", 1, 0.3333), ("Z", 1, 0.3333)]
    assert [t["text"] for t in text["texts"]] == ["とても楽しかった", "交通費が高い"]
    assert text["base"] == 2 and "参加 一郎" in text["texts"][0]["respondent"]


async def test_results_filter_by_program_area_and_home_prefecture(answered):
    s = answered.scene

    async def respondents(**filters) -> tuple[list[int], dict]:
        result = await results.results(answered.survey, Filters(**filters))
        return sorted(r["account"] for r in result["respondents"]), result["summaries"][0]

    accounts, scale = await respondents(program_id=s.program)
    assert accounts == sorted([s.attended, s.attended_no_mail]) and scale["mean"] == 4.5
    accounts, scale = await respondents(area_id=s.area)  # followers and participants of the area
    assert accounts == sorted([s.attended, s.attended_no_mail, s.follower])
    assert round(scale["mean"], 3) == round(11 / 3, 3)
    assert (await respondents(area_id=s.other_area))[0] == [s.other_participant]
    assert (await respondents(prefecture="27"))[0] == sorted([s.attended_no_mail, s.follower])
    assert (await respondents(area_id=s.area, prefecture="27"))[0] == sorted([s.attended_no_mail, s.follower])
    assert (await respondents(program_id=s.other_program, prefecture="13"))[0] == []
    result = await results.results(answered.survey, Filters(prefecture="27"))
    assert result["rate"] == 0.8  # the response rate is the survey's, whatever the filter
    assert figures(result["summaries"][1]) == [("A", 1, 0.5), ("B", 1, 0.5), ("C", 0, 0.0)]


async def test_the_builder_counts_invitations_and_responses_and_offers_the_prefectures_answered_from(answered):
    assert (await surveys.get_survey(answered.survey))["title"] == "参加後アンケート"
    assert await results.response_counts(answered.survey) == (5, 4)
    # The second attendee's prefecture when they answered (27), not where they live now (13).
    assert await results.prefectures_answered(answered.survey) == {"13", "27", "01"}
    draft = await builder.create_survey(answered.scene.staff, "下書き", "", clock.now())
    assert await results.response_counts(draft) == (0, 0)
    assert await results.prefectures_answered(draft) == set()
    assert await surveys.get_survey(draft + 1) is None


def test_filters_from_a_query_ignore_what_they_do_not_know():
    assert results.read_filters({"program": "12", "area": "x", "prefecture": "13"}) == Filters(12, None, "13")
    assert results.read_filters({"program": "1" * 12, "prefecture": "48"}) == Filters()


async def test_the_responses_table_leaves_out_hidden_text_and_an_anonymous_survey_has_no_names(answered):
    result = await results.results(answered.survey)
    text = result["summaries"][3]["texts"][1]
    await results.set_hidden(answered.survey, text["id"], True, answered.scene.staff, clock.now())
    headers, lines = results.responses_table(await results.results(answered.survey))
    assert headers[:5] == ["回答番号", "回答日時", "居住都道府県", "会員番号", "表示名"]
    assert headers[5:] == ["Q1. 満足度", "Q2. また訪れたいですか", "Q3. 関わり方", "Q4. ご意見"]
    assert [line[5:] for line in lines] == [[5, "A", "X / Y", "とても楽しかった"], [4, "A", "X", ""],
                                            [2, "B", "", ""], [5, "C", "X / Z", ""]]
    assert lines[0][2] == "東京都" and lines[1][2] == "大阪府" and lines[0][4] == "参加 一郎"
    assert await AuditLog.count().where(AuditLog.action == "survey.answer_hidden") == 1

    await Survey.update({Survey.anonymous: True}).where(Survey.id == answered.survey)
    result = await results.results(answered.survey)
    headers, lines = results.responses_table(result)
    assert "会員番号" not in headers and "表示名" not in headers
    assert all("参加 一郎" not in str(cell) for line in lines for cell in line)
    assert all(t["respondent"] == "" for t in result["summaries"][3]["texts"])


async def test_the_summary_table_carries_the_figures_of_the_charts(answered):
    headers, lines = results.summary_table(await results.results(answered.survey))
    assert headers == ["質問", "回答", "件数", "割合（%）"]
    scale = [line[1:] for line in lines if line[0] == "Q1. 満足度"]
    assert scale == [["回答者数", 4, ""], ["1（不満）", 0, 0.0], ["2", 1, 25.0], ["3", 0, 0.0], ["4", 1, 25.0],
                     ["5（満足）", 2, 50.0], ["平均", 4.0, ""]]
    assert ["Q3. 関わり方", "Y", 1, 33.3] in lines
    assert ["Q4. ご意見", "自由記述の回答（非表示を除く）", 2, ""] in lines


async def test_only_free_text_answers_of_this_survey_can_be_hidden(answered):
    result = await results.results(answered.survey)
    choice = next(a for a in result["answers"] if a["choice"] is not None)
    text = result["summaries"][3]["texts"][0]
    other = await factories.open_survey([{"kind": "short", "text": "別"}], [])
    assert await refusal(results.set_hidden(answered.survey, choice["id"], True, answered.scene.staff, clock.now())) == "not_found"
    assert await refusal(results.set_hidden(other, text["id"], True, answered.scene.staff, clock.now())) == "not_found"
    await results.set_hidden(answered.survey, text["id"], True, answered.scene.staff, clock.now())
    survey = await survey_row(answered.survey)
    assert (await results.text_answer(survey, text["id"]))["hidden"] is True
    await results.set_hidden(answered.survey, text["id"], False, answered.scene.staff, clock.now())
    shown = await results.text_answer(survey, text["id"])
    assert shown["hidden"] is False and shown["text"] == "とても楽しかった" and "参加 一郎" in shown["respondent"]


async def test_the_staff_list_counts_invitations_and_responses(answered):
    await builder.create_survey(answered.scene.staff, "下書き", "", clock.now())
    rows = await surveys.staff_list()
    assert [(r["title"], r["invited"], r["responded"]) for r in rows] == [("下書き", 0, 0), ("参加後アンケート", 5, 4)]


async def test_a_long_title_is_shortened_to_fit_a_notification(scene):
    survey_id = await draft_with_plan(scene, template="check_in")
    await Survey.update({Survey.title: "と" * 120}).where(Survey.id == survey_id)
    await plans.publish(survey_id, scene.staff, clock.now())
    await dispatch(clock.now())
    title = (await Notification.select(Notification.title).first())["title"]
    assert len(title) == 120 and title.endswith("…")
    assert await SurveyQuestion.count().where(SurveyQuestion.survey == survey_id) > 0


async def test_the_demo_survey_is_answered_by_demo_members_only_and_loaded_once():
    from app.demo import load_demo_data
    from app.demo.kpi import KPI_DEMO_MARK

    await factories.member("本物の会員")  # a real member is never made to answer
    first = await load_demo_data()
    assert first["surveys"] == 1 and first["survey_responses"] > 0
    survey = await Survey.select().where(Survey.title.like("%ふりかえりアンケート")).first().output(load_json=True)
    assert survey["status"] == "published" and survey["target"]["kind"] == "program"
    result = await results.results(survey["id"])
    assert result["responded"] == first["survey_responses"] and 0 < result["rate"] < 1
    assert all(s["base"] for s in result["summaries"][:4])  # the required questions are answered by all
    demo_accounts = {row["id"] for row in await Account.select(Account.id).where(
        Account.webauthn_user_id.like(KPI_DEMO_MARK + "%"))}
    assert {r["account"] for r in result["respondents"]} <= demo_accounts
    again = await load_demo_data()
    assert again["surveys"] == again["survey_responses"] == 0


async def test_filters_never_narrow_an_anonymous_survey_to_fewer_than_three_people(answered):
    s = answered.scene
    await Survey.update({Survey.anonymous: True}).where(Survey.id == answered.survey)
    few = await results.results(answered.survey, Filters(program_id=s.program))  # two respondents
    assert few["suppressed"] and few["respondents"] == [] and all(q["base"] == 0 for q in few["summaries"])
    assert results.responses_table(few)[1] == []
    enough = await results.results(answered.survey, Filters(area_id=s.area))  # three
    assert not enough["suppressed"] and len(enough["respondents"]) == 3
    await Survey.update({Survey.anonymous: False}).where(Survey.id == answered.survey)
    assert len((await results.results(answered.survey, Filters(program_id=s.program)))["respondents"]) == 2


# --- The background round ------------------------------------------------------------------------------------


async def test_one_background_round_invites_puts_it_in_the_inbox_and_mails_it(scene, settings):
    from app import jobs

    survey_id = await draft_with_plan(scene, target_kind="program", program=str(scene.program), timing="publish")
    await plans.publish(survey_id, scene.staff, clock.now())
    figures = await jobs.run_round(settings, client=None, signer=None)  # no device subscribed: nothing to push
    assert figures["survey_invitations"] == 2
    assert await Notice.count().where(Notice.url == surveys.answer_path(survey_id)) == 2
    sent = await OutboxMail.select().where(OutboxMail.status == "sent")
    assert [m["to_address"] for m in sent] == ["ichiro@example.jp"]
    assert settings.base_url + surveys.answer_path(survey_id) in sent[0]["body"]


async def test_a_failing_survey_step_does_not_hold_back_the_rest_of_the_round(scene, settings, monkeypatch):
    from app import jobs
    from app.services.notify import outbox

    async def broken(*_args, **_kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(invitations, "dispatch_due", broken)
    await outbox.enqueue(settings.smtp, "desk@example.jp", "件名", "本文", "test")
    figures = await jobs.run_round(settings, client=None, signer=None)
    assert "survey_invitations" not in figures and figures["mail_sent"] == 1
