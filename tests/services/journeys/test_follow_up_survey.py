"""Journey rule 1: after every completed program its attendees get the follow-up survey a week, three months and
a year later — made once by the rule, however many rounds run at once, sent by the survey round when due, never
twice for an offset staff set up by hand, and nothing while the rule is off."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from app.demo import load_demo_data
from app.i18n import TOKYO
from app.services.journeys import follow_up_survey, rules
from app.services.journeys import round as journeys
from app.services.membership import erasure
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock
from app.services.surveys import builder, invitations, plans, responses, surveys
from app.services.surveys.templates import FOLLOW_UP
from app.settings import Smtp
from db.tables import AuditLog, JourneyEvent, Program, Survey, SurveyInvitation
from tests import factories
from tests.services.surveys.test_surveys import minimal_answers

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TOKYO)
ENDED = NOW - timedelta(days=2)  # the program ended two days ago and staff have just completed it
SMTP = Smtp(mail_from="no-reply@tomakomai.example.jp")


@dataclass
class Scene:
    """A completed program two attendees came to (a third was accepted and did not come, a fourth attended
    and has since deleted their account), and programs that get no follow-up: one not completed yet, one
    completed without attendees, and an online meeting."""

    area: int
    program: int
    staff: int
    attendees: list[int]  # accounts
    attendee_members: list[int]
    no_show: int
    others: list[int]  # programs that get no follow-up


@pytest.fixture
async def scene() -> Scene:
    area = await factories.area("勇払", "yufutsu")
    staff = await factories.staff_account()
    program = await factories.program(area, title="勇払 初夏の牧場ボランティア", status="completed",
                                      starts_at=ENDED - timedelta(hours=6), ends_at=ENDED)
    first = await factories.member("参加 一郎", email="ichiro@example.jp", verified=True)
    second = await factories.member("参加 二郎")
    no_show = await factories.member("欠席 三郎")
    gone = await factories.member("退会 四郎")
    for person in (first, second, gone):
        await factories.attendance(program, person.member_id)
    await factories.attendance(program, no_show.member_id, status="accepted")
    await erasure.delete_account(gone.account_id)
    running = await factories.program(area, title="樽前山の登山道整備", status="closed",
                                      starts_at=ENDED - timedelta(hours=6), ends_at=ENDED)
    empty = await factories.program(area, title="空き家再生ワークショップ", status="completed",
                                    starts_at=ENDED - timedelta(hours=6), ends_at=ENDED)
    online = await factories.program(area, title="オンライン交流会", kind="event", status="completed",
                                     starts_at=ENDED - timedelta(hours=2), ends_at=ENDED)
    for program_id in (running, online):
        await factories.attendance(program_id, first.member_id)
    return Scene(area, program, staff, [first.account_id, second.account_id], [first.member_id, second.member_id],
                 no_show.account_id, [running, empty, online])


async def made_by_rule() -> list[dict]:
    return await Survey.select().where(Survey.made_by_rule == follow_up_survey.RULE).order_by(
        Survey.follow_up_days).output(load_json=True)


async def dispatch(now: datetime):
    return await invitations.dispatch_due(SMTP, now, base_url="https://tsunagu.example.jp", site_name="つながる")


async def invited(survey_id: int) -> list[int]:
    rows = await SurveyInvitation.select(SurveyInvitation.account).where(SurveyInvitation.survey == survey_id)
    return sorted(row["account"] for row in rows)


async def test_a_completed_program_with_attendees_gets_its_three_follow_ups_once(scene):
    assert await follow_up_survey.run_due(NOW) == 3
    made = await made_by_rule()
    assert [s["title"] for s in made] == [
        "「勇払 初夏の牧場ボランティア」参加後アンケート（1週間後）",
        "「勇払 初夏の牧場ボランティア」参加後アンケート（3か月後）",
        "「勇払 初夏の牧場ボランティア」参加後アンケート（1年後）",
    ]
    for survey, days in zip(made, (7, 90, 365), strict=True):
        assert survey["status"] == "published" and survey["program"] == scene.program
        assert survey["target"] == {"kind": "program", "program": scene.program}
        assert survey["follow_up_days"] == days and survey["intro"] == FOLLOW_UP.intro
        assert survey["opens_at"] == ENDED + timedelta(days=days)
        assert survey["closes_at"] == ENDED + timedelta(days=days + FOLLOW_UP.open_days)
        questions = await surveys.questions_of(survey["id"])
        assert [q["text"] for q in questions] == [q.text for q in FOLLOW_UP.questions]
    assert await AuditLog.count().where(AuditLog.action == "survey.published") == 3
    assert await follow_up_survey.run_due(NOW + timedelta(hours=1)) == 0
    assert len(await made_by_rule()) == 3


async def test_two_rounds_at_once_make_each_follow_up_once(scene):
    results = await asyncio.gather(*(follow_up_survey.run_due(NOW) for _ in range(3)))
    assert sum(results) == 3
    assert sorted(s["follow_up_days"] for s in await made_by_rule()) == [7, 90, 365]


async def test_programs_not_completed_without_attendees_or_online_get_none(scene):
    await follow_up_survey.run_due(NOW)
    assert {s["program"] for s in await made_by_rule()} == {scene.program}


async def test_the_invitations_go_out_when_due_to_the_attendees_only_and_count_as_the_rule_firing(scene):
    await follow_up_survey.run_due(NOW)
    week = (await made_by_rule())[0]
    opens = ENDED + timedelta(days=7)
    await dispatch(opens - timedelta(minutes=1))
    assert await SurveyInvitation.count() == 0
    assert (await dispatch(opens)).invited == 2
    assert await invited(week["id"]) == sorted(scene.attendees)
    assert await SurveyInvitation.count() == 2  # the later follow-ups wait for their time

    await journeys.run_due(opens + timedelta(minutes=5))  # the next round records who the rule reached
    events = await JourneyEvent.select().where(JourneyEvent.rule == follow_up_survey.RULE)
    assert sorted((e["member"], e["cause"]) for e in events) == sorted(
        (member, f"program:{scene.program}:7") for member in scene.attendee_members)
    assert all(e["fired_at"] == opens for e in events)
    await journeys.run_due(opens + timedelta(minutes=10))
    year = fiscal_year_of(opens)
    assert (await rules.fired(year))[follow_up_survey.RULE] == 2

    assert await follow_up_survey.next_rung(year) == 0
    questions = await surveys.questions_of(week["id"])
    await responses.submit(week["id"], scene.attendees[0], minimal_answers(questions), opens + timedelta(hours=3))
    assert await follow_up_survey.next_rung(year) == 1
    assert await follow_up_survey.next_rung(year + 1) == 0


async def test_an_offset_staff_set_up_by_hand_is_not_made_again(scene):
    by_hand = await builder.copy_template("follow_up", scene.staff, NOW)
    await plans.save_plan(by_hand, await plans.read_plan(
        {"target_kind": "program", "program": str(scene.program), "timing": "7", "open_days": "14"}, NOW), NOW)
    await plans.publish(by_hand, scene.staff, NOW)
    unfinished = await builder.copy_template("follow_up", scene.staff, NOW)  # a draft sends nothing: it does not count
    await plans.save_plan(unfinished, await plans.read_plan(
        {"target_kind": "program", "program": str(scene.program), "timing": "90", "open_days": "14"}, NOW), NOW)
    assert await follow_up_survey.run_due(NOW) == 2
    assert [s["follow_up_days"] for s in await made_by_rule()] == [90, 365]
    assert await Survey.count().where((Survey.program == scene.program) & (Survey.follow_up_days == 7)) == 1


async def test_an_offset_the_rule_already_sent_cannot_be_published_by_hand(scene):
    await follow_up_survey.run_due(NOW)
    by_hand = await builder.copy_template("follow_up", scene.staff, NOW)
    await plans.save_plan(by_hand, await plans.read_plan(
        {"target_kind": "program", "program": str(scene.program), "timing": "90", "open_days": "14"}, NOW), NOW)
    with pytest.raises(plans.SurveyInvalid) as refused:
        await plans.publish(by_hand, scene.staff, NOW)
    assert "90" in refused.value.errors["timing"]
    assert (await Survey.select(Survey.status).where(Survey.id == by_hand).first())["status"] == "draft"


async def test_the_rule_switched_off_for_the_year_makes_nothing(scene):
    await rules.save(fiscal_year_of(NOW), follow_up_survey.RULE, False, None, scene.staff, NOW)
    assert await follow_up_survey.run_due(NOW) == 0
    assert await Survey.count() == 0
    assert (await journeys.run_due(NOW))["follow_up_survey"] == 0


async def test_a_follow_up_that_would_already_be_closed_is_not_made(scene):
    later = ENDED + timedelta(days=7 + FOLLOW_UP.open_days)  # the week's survey would close now
    assert await follow_up_survey.run_due(later) == 2
    assert [s["follow_up_days"] for s in await made_by_rule()] == [90, 365]


async def test_a_long_program_name_is_shortened_to_fit_the_title(scene):
    await Program.update({Program.title: "牧" * 120}).where(Program.id == scene.program)
    await follow_up_survey.run_due(NOW)
    title = (await made_by_rule())[0]["title"]
    assert len(title) == builder.TITLE_MAX and title.endswith("…」参加後アンケート（1週間後）")


async def test_the_demo_years_past_programs_get_their_later_follow_ups_from_the_rule_and_no_second_week():
    await load_demo_data()
    assert await follow_up_survey.run_due(clock.now()) > 0
    made = await made_by_rule()
    by_offset = sorted((s["program"], s["follow_up_days"]) for s in made)
    assert len(by_offset) == len(set(by_offset)) and {days for _, days in by_offset} >= {7, 365}
    week = [s for s in made if s["follow_up_days"] == 7]
    assert week and all(s["status"] == "closed" for s in week)  # the demo's own, not made again
