"""Programs: the review workflow per role, validation, applications with a seat counter and a waitlist,
the last seat under concurrency (on both databases), and local activities counted per Tokyo fiscal year.

`Program.seats_taken` is moved only by conditional UPDATEs; after every scenario that moves seats it is
checked against the accepted and attended applications (`assert_seats_match`), so it can never drift.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import pytest

from app.i18n import TOKYO
from app.services.activities import progress
from app.services.membership.membership import Registered
from app.services.programs import activities, applications, programs, reads
from app.services.programs.applications import ApplicationRefused
from app.services.programs.programs import ProgramInvalid
from app.services.review import revisions, workflow
from app.services.review.workflow import WorkflowRefused
from app.services.shared import clock
from app.services.shared.actor import Actor
from db.tables import Application, AuditLog, Notice, Notification, Program
from tests import factories
from tests.conftest import Scene

UTC = timezone.utc


def tokyo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def program_form(**changes) -> dict:
    """A valid program form as the edit page posts it (datetime-local values, read as Tokyo time)."""
    form = {
        "kind": "program", "title": "ほっき貝の浜で漁業体験", "summary": "漁師さんと浜に出ます",
        "body": "## 当日の流れ\n朝6時に漁港集合。", "themes": ["agriculture", "tourism"], "place": "勇払漁港",
        "meeting_url": "", "starts_at": "2026-12-12T09:00", "ends_at": "2026-12-12T16:00",
        "apply_from": "2026-11-01T10:00", "apply_until": "2026-12-05T23:59", "capacity": "12",
        "support": "交通費の半額を補助します", "questions": "参加の動機\n\n漁業の経験", "image_url": "",
    }
    form.update(changes)
    return form


async def draft(scene: Scene, **form_changes) -> int:
    """A draft written by the area's editor through the service, as the edit page does it."""
    values = await programs.validate_program(program_form(**form_changes), scene.editor)
    return await programs.create_program(scene.editor, values)


async def program_row(program_id: int) -> dict:
    return await Program.select().where(Program.id == program_id).first().output(load_json=True)


async def status_of(program_id: int) -> str:
    return (await program_row(program_id))["status"]


async def audit_trail(program_id: int) -> list[tuple[int, str, str]]:
    rows = await AuditLog.select().where(
        (AuditLog.action == "program.status") & (AuditLog.target_id == str(program_id))
    ).order_by(AuditLog.id).output(load_json=True)
    return [(r["actor"], r["detail"]["from"], r["detail"]["to"]) for r in rows]


async def notices_of(account_id: int) -> list[dict]:
    return await Notice.select().where(Notice.account == account_id).order_by(Notice.id)


async def told(account_id: int) -> tuple[list[str], list[str]]:
    """What a member was told of their applications: (inbox notices of their own steps, titles pushed to them of
    what others decided or a seat that came free)."""
    pushed = await Notification.select(Notification.title, Notification.target).where(
        Notification.topic == "personal").order_by(Notification.id).output(load_json=True)
    return ([notice["title"] for notice in await notices_of(account_id)],
            [row["title"] for row in pushed if row["target"]["accounts"] == [account_id]])


async def refusal(awaitable: Awaitable, error: type[Exception] = WorkflowRefused) -> str:
    with pytest.raises(error) as refused:
        await awaitable
    return refused.value.reason


def meanwhile(monkeypatch, action: Callable[[], Awaitable], service=programs) -> None:
    """Run `action` once, just before the next transaction of `service` begins: as if another request
    changed the row between the service's read and its conditional write."""
    real_atomic = service.atomic
    pending = [action]

    @asynccontextmanager
    async def atomic_after_someone_else(engine):
        if pending:
            await pending.pop()()
        async with real_atomic(engine) as transaction:
            yield transaction

    monkeypatch.setattr(service, "atomic", atomic_after_someone_else)


# --- Applications: helpers --------------------------------------------------------------------------------


async def members(count: int, prefix: str = "参加者") -> list[Registered]:
    return [await factories.member(f"{prefix}{n}") for n in range(count)]


async def apply(program_id: int, member: Registered, now: datetime | None = None, motivation: str = "地域の力になりたい",
                answers: list[str] | None = None) -> str:
    return await applications.apply(program_id, member.member_id, motivation, answers or [], now or clock.now())


async def application_of(program_id: int, member: Registered) -> dict:
    return await Application.select().where(
        (Application.program == program_id) & (Application.member == member.member_id)
    ).first().output(load_json=True)


async def status_by_member(program_id: int) -> dict[int, str]:
    rows = await Application.select(Application.member, Application.status).where(Application.program == program_id)
    return {r["member"]: r["status"] for r in rows}


async def assert_seats_match(program_id: int) -> int:
    """The seat counter equals the accepted and attended applications, and never exceeds the capacity."""
    program = await program_row(program_id)
    seated = await Application.count().where(
        (Application.program == program_id) & Application.status.is_in(list(applications.SEAT_STATUSES))
    )
    assert program["seats_taken"] == seated <= program["capacity"], (program["seats_taken"], seated, program["capacity"])
    return seated


# --- Workflow --------------------------------------------------------------------------------------------


async def test_an_editor_drafts_in_their_own_area_and_submits_and_staff_publish_and_the_author_is_told(scene):
    values = await programs.validate_program(program_form(area=str(scene.other_area)), scene.editor)
    assert values.area_id == scene.area  # an editor's program is always in their own area, whatever was posted
    program_id = await programs.create_program(scene.editor, values)
    program = await program_row(program_id)
    assert (program["status"], program["author"], program["area"]) == ("draft", scene.editor.account_id, scene.area)
    assert program["themes"] == ["agriculture", "tourism"] and program["questions"] == ["参加の動機", "漁業の経験"]

    await programs.transition(program_id, scene.editor, "submitted")
    assert await status_of(program_id) == "submitted"
    assert await notices_of(scene.editor.account_id) == []  # their own step: nothing to be told

    await programs.transition(program_id, scene.staff, "published")
    program = await program_row(program_id)
    assert program["status"] == "published" and program["published_at"] is not None
    assert await audit_trail(program_id) == [
        (scene.editor.account_id, "draft", "submitted"),
        (scene.staff.account_id, "submitted", "published"),
    ]
    (notice,) = await notices_of(scene.editor.account_id)
    assert "ほっき貝の浜で漁業体験" in notice["title"]


async def test_an_editor_cannot_publish_or_reject_and_works_only_in_their_own_area(scene):
    program_id = await draft(scene)
    assert await refusal(programs.transition(program_id, scene.other_editor, "submitted")) == "not_your_area"
    assert await status_of(program_id) == "draft"

    await programs.transition(program_id, scene.editor, "submitted")
    assert await refusal(programs.transition(program_id, scene.editor, "published")) == "not_allowed"
    assert await refusal(programs.transition(program_id, scene.editor, "rejected", "自分で取り下げ")) == "not_allowed"
    assert await refusal(programs.transition(program_id, scene.other_editor, "published")) == "not_your_area"
    member = Actor((await factories.member()).account_id, "member")
    assert await refusal(programs.transition(program_id, member, "published")) == "not_allowed"
    assert await refusal(programs.transition(999_999, scene.staff, "published")) == "not_found"

    published = await factories.program(scene.area, scene.editor.account_id)
    assert await refusal(programs.transition(published, scene.editor, "rejected", "取り下げ")) == "not_allowed"
    assert await refusal(programs.transition(published, scene.other_editor, "closed")) == "not_your_area"
    assert await status_of(program_id) == "submitted" and await status_of(published) == "published"
    assert await audit_trail(program_id) == [(scene.editor.account_id, "draft", "submitted")]
    assert await audit_trail(published) == []


async def test_staff_cannot_skip_review_or_reopen_a_finished_program(scene):
    program_id = await draft(scene)
    assert await refusal(programs.transition(program_id, scene.staff, "published")) == "not_allowed"  # not submitted
    assert await refusal(programs.transition(program_id, scene.staff, "archived")) == "not_allowed"
    completed = await factories.program(scene.area, status="completed")
    assert await refusal(programs.transition(completed, scene.staff, "published")) == "not_allowed"
    rejected = await factories.program(scene.area, status="rejected")
    assert await refusal(programs.transition(rejected, scene.staff, "published")) == "not_allowed"
    assert [await status_of(p) for p in (program_id, completed, rejected)] == ["draft", "completed", "rejected"]
    assert await AuditLog.count() == 0


async def test_rejecting_needs_a_reason_the_author_reads_and_the_editor_fixes_and_resubmits(scene):
    program_id = await draft(scene)
    await programs.transition(program_id, scene.editor, "submitted")
    assert await refusal(programs.transition(program_id, scene.staff, "rejected")) == "reason_needed"
    assert await refusal(programs.transition(program_id, scene.staff, "rejected", "   ")) == "reason_needed"
    assert await status_of(program_id) == "submitted" and len(await audit_trail(program_id)) == 1

    await programs.transition(program_id, scene.staff, "rejected", " 集合場所を書いてください ")
    program = await program_row(program_id)
    assert (program["status"], program["status_reason"]) == ("rejected", "集合場所を書いてください")
    (notice,) = await notices_of(scene.editor.account_id)
    assert notice["body"] == "集合場所を書いてください" and "ほっき貝の浜で漁業体験" in notice["title"]
    log = await AuditLog.select().where(AuditLog.action == "program.status").order_by(
        AuditLog.id, ascending=False).first().output(load_json=True)
    assert (log["detail"]["from"], log["detail"]["to"]) == ("submitted", "rejected")
    assert log["detail"]["reason"].strip() == "集合場所を書いてください"

    values = await programs.validate_program(program_form(place="勇払漁港 第2岸壁"), scene.editor)
    await programs.update_program(program_id, scene.editor, values)
    assert await status_of(program_id) == "rejected"  # fixing does not resubmit by itself
    await programs.transition(program_id, scene.editor, "submitted")
    assert await status_of(program_id) == "submitted"
    assert [step[1:] for step in await audit_trail(program_id)] == [
        ("draft", "submitted"), ("submitted", "rejected"), ("rejected", "submitted"),
    ]


async def test_staff_unpublish_a_published_program_with_a_reason(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id, title="樽前山 清掃登山")
    assert [p["id"] for p in await reads.public_programs()] == [program_id]
    assert await refusal(programs.transition(program_id, scene.staff, "rejected")) == "reason_needed"
    await programs.transition(program_id, scene.staff, "rejected", "主催者と連絡が取れません")
    assert await status_of(program_id) == "rejected"
    assert await reads.public_programs() == []
    assert await audit_trail(program_id) == [(scene.staff.account_id, "published", "rejected")]
    (notice,) = await notices_of(scene.editor.account_id)
    assert "樽前山 清掃登山" in notice["title"] and notice["body"] == "主催者と連絡が取れません"


async def test_editors_close_applications_and_complete_their_program(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    await programs.transition(program_id, scene.editor, "closed")
    await programs.transition(program_id, scene.editor, "completed")
    assert await refusal(programs.transition(program_id, scene.editor, "published")) == "not_allowed"
    assert await audit_trail(program_id) == [
        (scene.editor.account_id, "published", "closed"), (scene.editor.account_id, "closed", "completed"),
    ]
    staff_closed = await factories.program(scene.area, scene.editor.account_id)
    await programs.transition(staff_closed, scene.staff, "closed")
    assert await notices_of(scene.editor.account_id) == []  # only publication and rejection are told


async def test_a_status_changed_meanwhile_is_refused_and_nothing_is_written(scene, monkeypatch):
    program_id = await draft(scene)
    await programs.transition(program_id, scene.editor, "submitted")

    async def colleague_rejects() -> None:
        await Program.update({Program.status: "rejected"}).where(Program.id == program_id)

    meanwhile(monkeypatch, colleague_rejects, service=workflow)
    assert await refusal(programs.transition(program_id, scene.staff, "published")) == "changed_meanwhile"
    program = await program_row(program_id)
    assert program["status"] == "rejected" and program["published_at"] is None
    assert len(await audit_trail(program_id)) == 1  # only the submission
    assert await notices_of(scene.editor.account_id) == []


# --- Editing ---------------------------------------------------------------------------------------------


async def test_an_editors_change_to_a_published_program_waits_for_review_while_the_public_keeps_it(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    values = await programs.validate_program(program_form(title="ほっき貝の浜で漁業体験(日程変更)"), scene.editor)
    assert await programs.update_program(program_id, scene.editor, values) == revisions.PROPOSED
    program = await program_row(program_id)
    assert (program["status"], program["title"]) == ("published", "ほっき貝の浜で漁業体験")
    assert [p["id"] for p in await reads.public_programs()] == [program_id]
    revision = await programs.pending_revision(program_id)
    assert revision["values"]["title"] == "ほっき貝の浜で漁業体験(日程変更)"
    assert revision["values"]["starts_at"] == tokyo(2026, 12, 12, 9)
    assert revision["author"] == scene.editor.account_id
    assert await audit_trail(program_id) == []  # nothing moved: the program stays published
    # The editor may keep working on the change: saving again replaces it.
    values = await programs.validate_program(program_form(title="三度目の正直"), scene.editor)
    assert await programs.update_program(program_id, scene.editor, values) == revisions.PROPOSED
    again = await programs.pending_revision(program_id)
    assert (again["id"], again["version"], again["values"]["title"]) == (revision["id"], 2, "三度目の正直")

    by_staff = await factories.program(scene.area, scene.editor.account_id)
    values = await programs.validate_program(program_form(area=str(scene.area), title="事務局が直した題"), scene.staff)
    assert await programs.update_program(by_staff, scene.staff, values) == "published"
    assert (await status_of(by_staff), await audit_trail(by_staff)) == ("published", [])
    assert (await program_row(by_staff))["title"] == "事務局が直した題"
    assert await programs.pending_revision(by_staff) is None


async def test_editors_edit_only_their_own_areas_programs(scene):
    program_id = await draft(scene)
    values = await programs.validate_program(program_form(title="乗っ取り"), scene.other_editor)
    assert await refusal(programs.update_program(program_id, scene.other_editor, values)) == "not_your_area"
    assert await refusal(programs.update_program(999_999, scene.editor, values)) == "not_found"
    assert (await program_row(program_id))["title"] == "ほっき貝の浜で漁業体験"


async def test_capacity_cannot_be_lowered_below_the_seats_taken(scene, monkeypatch):
    program_id = await factories.program(scene.area, scene.editor.account_id, capacity=5)
    people = await members(4)
    for person in people[:3]:
        assert await apply(program_id, person) == "accepted"

    staff_form = dict(area=str(scene.area))
    with pytest.raises(ProgramInvalid) as invalid:
        await programs.update_program(program_id, scene.staff, await programs.validate_program(
            program_form(capacity="2", **staff_form), scene.staff))
    assert set(invalid.value.errors) == {"capacity"}
    assert (await program_row(program_id))["capacity"] == 5

    await programs.update_program(program_id, scene.staff, await programs.validate_program(
        program_form(capacity="3", **staff_form), scene.staff))
    # The window of the form lies in the past of the real clock; apply inside it.
    inside = tokyo(2026, 11, 20, 12)
    assert await apply(program_id, people[3], now=inside) == "waitlisted"
    assert await assert_seats_match(program_id) == 3

    # The guard is in the UPDATE too: a seat taken between the read and the write is not squeezed out.
    await applications.decide((await application_of(program_id, people[0]))["id"], scene.staff, "waitlist", inside)
    assert await assert_seats_match(program_id) == 2

    async def someone_accepted() -> None:
        await applications.decide((await application_of(program_id, people[3]))["id"], scene.staff, "accept", inside)

    meanwhile(monkeypatch, someone_accepted)
    lower = await programs.validate_program(program_form(capacity="2", **staff_form), scene.staff)
    assert await refusal(programs.update_program(program_id, scene.staff, lower)) == "changed_meanwhile"
    assert (await program_row(program_id))["capacity"] == 3
    assert await assert_seats_match(program_id) == 3


# --- Validation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "題" * 121}, "title"),
        ({"summary": "あ" * 301}, "summary"),
        ({"body": "あ" * 20001}, "body"),
        ({"place": "あ" * 201}, "place"),
        ({"support": "あ" * 2001}, "support"),
        ({"starts_at": ""}, "starts_at"),
        ({"starts_at": "2026-13-01T10:00"}, "starts_at"),
        ({"ends_at": "来週"}, "ends_at"),
        ({"apply_from": ""}, "apply_from"),
        ({"apply_until": ""}, "apply_until"),
        ({"ends_at": "2026-12-12T08:59"}, "ends_at"),  # before the start
        ({"apply_until": "2026-10-31T10:00"}, "apply_until"),  # closes before it opens
        ({"apply_until": "2026-11-01T10:00"}, "apply_until"),  # closes as it opens
        ({"apply_until": "2026-12-12T16:01"}, "apply_until"),  # after the program ends
        ({"capacity": "0"}, "capacity"),
        ({"capacity": "501"}, "capacity"),
        ({"capacity": "abc"}, "capacity"),
        ({"capacity": "-3"}, "capacity"),
        ({"capacity": "2.5"}, "capacity"),
        ({"themes": ["agriculture", "casino"]}, "themes"),
        ({"themes": "casino"}, "themes"),
        ({"kind": "webinar"}, "kind"),
        ({"kind": "event", "meeting_url": ""}, "meeting_url"),
        ({"kind": "event", "meeting_url": "javascript:alert(1)"}, "meeting_url"),
        ({"meeting_url": "zoom.us/j/123"}, "meeting_url"),
        ({"meeting_url": "https://meet.example.jp/a b"}, "meeting_url"),
        ({"meeting_url": 'https://meet.example.jp/"><script>'}, "meeting_url"),
        ({"image_url": "data:image/png;base64,AAAA"}, "image_url"),
        ({"image_url": "ftp://example.jp/a.png"}, "image_url"),
        ({"questions": "\n".join(f"質問{n}" for n in range(6))}, "questions"),
        ({"questions": "問" * 201}, "questions"),
    ],
)
async def test_bad_program_input_is_refused_at_its_field(scene, changes, field):
    with pytest.raises(ProgramInvalid) as invalid:
        await programs.validate_program(program_form(**changes), scene.editor)
    assert set(invalid.value.errors) == {field}, invalid.value.errors
    assert await Program.count() == 0


async def test_staff_choose_an_existing_area(scene):
    for area in ("", "abc", "999999"):
        with pytest.raises(ProgramInvalid) as invalid:
            await programs.validate_program(program_form(area=area), scene.staff)
        assert set(invalid.value.errors) == {"area"}
    values = await programs.validate_program(program_form(area=str(scene.other_area)), scene.staff)
    assert values.area_id == scene.other_area


async def test_every_bad_field_is_reported_at_once(scene):
    with pytest.raises(ProgramInvalid) as invalid:
        await programs.validate_program(program_form(title="", capacity="0", ends_at="2026-12-01T09:00",
                                                     themes=["casino"]), scene.editor)
    assert set(invalid.value.errors) == {"title", "capacity", "ends_at", "themes"}


async def test_a_valid_form_is_read_in_tokyo_time_with_defaults(scene):
    values = await programs.validate_program(program_form(
        kind="event", meeting_url="https://meet.example.jp/tsunagu", capacity="", themes="education",
        image_url="/uploads/3f9a.webp", questions="  自己紹介 \n\n\n 聞きたいこと ", title="  オンライン交流会  ",
    ), scene.editor)
    assert values.starts_at == tokyo(2026, 12, 12, 9) and values.starts_at.astimezone(UTC).hour == 0
    assert values.apply_until == tokyo(2026, 12, 5, 23, 59)
    assert (values.kind, values.title, values.capacity, values.themes) == ("event", "オンライン交流会", 10, ["education"])
    assert values.questions == ["自己紹介", "聞きたいこと"] and values.image_url == "/uploads/3f9a.webp"
    boundary = await programs.validate_program(program_form(
        capacity="500", title="題" * 120, apply_until="2026-12-12T16:00", questions="\n".join("問" * 200 for _ in range(5)),
    ), scene.editor)
    assert boundary.capacity == 500 and len(boundary.questions) == 5


# --- Applications ----------------------------------------------------------------------------------------


async def test_the_first_capacity_applicants_are_accepted_and_the_next_waitlisted(scene):
    program_id = await factories.program(scene.area, capacity=3)
    people = await members(5)
    assert [await apply(program_id, person) for person in people] == ["accepted"] * 3 + ["waitlisted"] * 2
    assert await assert_seats_match(program_id) == 3
    assert reads.seats_left(await program_row(program_id)) == 0


async def test_applying_twice_is_refused_and_the_seat_counter_is_rolled_back(scene):
    program_id = await factories.program(scene.area, capacity=2)
    first, second, third = await members(3)
    assert await apply(program_id, first) == "accepted"
    # The seat is taken before the insert fails on the unique (program, member) index: all of it rolls back.
    assert await refusal(apply(program_id, first), ApplicationRefused) == "already_applied"
    assert (await program_row(program_id))["seats_taken"] == 1
    assert await assert_seats_match(program_id) == 1

    assert await apply(program_id, second) == "accepted"
    assert await apply(program_id, third) == "waitlisted"
    assert await refusal(apply(program_id, third), ApplicationRefused) == "already_applied"
    await applications.cancel((await application_of(program_id, first))["id"], first.member_id, clock.now())
    # A cancelled application still counts as the one application.
    assert await refusal(apply(program_id, first), ApplicationRefused) == "already_applied"
    assert await Application.count().where(Application.program == program_id) == 3
    assert await status_by_member(program_id) == {
        first.member_id: "cancelled", second.member_id: "accepted", third.member_id: "accepted",
    }
    assert await assert_seats_match(program_id) == 2


async def test_applications_outside_the_period_or_to_unreviewed_programs_are_refused(scene):
    opens, closes = tokyo(2026, 12, 1, 10), tokyo(2026, 12, 20, 23, 59)
    program_id = await factories.program(scene.area, apply_from=opens, apply_until=closes,
                                         starts_at=tokyo(2027, 1, 10, 9), ends_at=tokyo(2027, 1, 10, 17))
    early, late, on_time, last_minute = await members(4)
    assert await refusal(apply(program_id, early, now=opens - timedelta(seconds=1)), ApplicationRefused) == "not_open"
    assert await refusal(apply(program_id, late, now=closes + timedelta(seconds=1)), ApplicationRefused) == "not_open"
    assert await apply(program_id, on_time, now=opens) == "accepted"
    assert await apply(program_id, last_minute, now=closes) == "accepted"

    for status in ("draft", "submitted", "rejected"):
        hidden = await factories.program(scene.area, status=status)
        assert await refusal(apply(hidden, early), ApplicationRefused) == "not_found"
    closed = await factories.program(scene.area, status="closed")
    assert await refusal(apply(closed, early), ApplicationRefused) == "not_open"
    assert await refusal(apply(999_999, early), ApplicationRefused) == "not_found"
    assert await Application.count() == 2
    assert await assert_seats_match(program_id) == 2


async def test_over_long_motivation_or_answers_are_refused_and_answers_follow_the_questions(scene):
    program_id = await factories.program(scene.area, questions=["参加の動機", "漁業の経験"])
    people = await members(4)
    with pytest.raises(ApplicationRefused) as refused:
        await apply(program_id, people[0], motivation="あ" * 2001)
    assert (refused.value.reason, refused.value.field) == ("too_long", "motivation")
    with pytest.raises(ApplicationRefused) as refused:
        await apply(program_id, people[0], answers=["短い答え", "い" * 1001])
    assert (refused.value.reason, refused.value.field) == ("too_long", "answer_1")
    assert await Application.count() == 0 and await assert_seats_match(program_id) == 0

    assert await apply(program_id, people[0], motivation="あ" * 2000, answers=["う" * 1000, "なし"]) == "accepted"
    assert await apply(program_id, people[1], answers=[" 一つだけ "]) == "accepted"
    assert await apply(program_id, people[2], answers=["一", "二", "余分な三つめ" * 500]) == "accepted"
    assert (await application_of(program_id, people[1]))["answers"] == ["一つだけ", ""]
    assert (await application_of(program_id, people[2]))["answers"] == ["一", "二"]
    assert await assert_seats_match(program_id) == 3


async def test_cancelling_a_seat_promotes_the_longest_waiting_member_who_is_told(scene):
    program_id = await factories.program(scene.area, capacity=2, title="苫東の森 間伐ボランティア")
    first, second, waits_less, waits_longest = await members(4)
    start = clock.now()
    await apply(program_id, first, now=start)
    await apply(program_id, second, now=start)
    # The one who applied later gets the smaller id: the order must come from created_at, not from the id.
    assert await apply(program_id, waits_less, now=start + timedelta(minutes=2)) == "waitlisted"
    assert await apply(program_id, waits_longest, now=start + timedelta(minutes=1)) == "waitlisted"

    await applications.cancel((await application_of(program_id, first))["id"], first.member_id, start + timedelta(minutes=5))
    assert await status_by_member(program_id) == {
        first.member_id: "cancelled", second.member_id: "accepted",
        waits_less.member_id: "waitlisted", waits_longest.member_id: "accepted",
    }
    (promoted,) = (await told(waits_longest.account_id))[1]
    assert "苫東の森 間伐ボランティア" in promoted
    assert (await told(waits_less.account_id))[1] == []  # still waiting: nothing pushed
    own, pushed = await told(first.account_id)
    assert len(own) == 2 and pushed == []  # their application, then their cancellation
    assert await assert_seats_match(program_id) == 2

    await applications.cancel((await application_of(program_id, second))["id"], second.member_id, start + timedelta(minutes=6))
    assert (await application_of(program_id, waits_less))["status"] == "accepted"
    assert len((await told(waits_less.account_id))[1]) == 1
    assert await assert_seats_match(program_id) == 2

    # With nobody waiting, a cancelled seat simply stays free.
    await applications.cancel((await application_of(program_id, waits_less))["id"], waits_less.member_id, clock.now())
    assert await assert_seats_match(program_id) == 1


async def test_cancelling_from_the_waitlist_moves_no_seat_and_only_the_owner_can_cancel(scene):
    program_id = await factories.program(scene.area, capacity=1)
    seated, waiting, stranger = await members(3)
    await apply(program_id, seated)
    await apply(program_id, waiting)
    waiting_id = (await application_of(program_id, waiting))["id"]
    assert await refusal(applications.cancel(waiting_id, stranger.member_id, clock.now()), ApplicationRefused) == "not_found"
    await applications.cancel(waiting_id, waiting.member_id, clock.now())
    assert await status_by_member(program_id) == {seated.member_id: "accepted", waiting.member_id: "cancelled"}
    assert await refusal(applications.cancel(waiting_id, waiting.member_id, clock.now()), ApplicationRefused) == "not_cancellable"
    assert [len(told_of) for told_of in await told(waiting.account_id)] == [2, 0]  # waitlisted, then cancelled
    assert await assert_seats_match(program_id) == 1


async def test_a_waitlisted_member_is_accepted_only_into_a_free_seat_and_moving_to_the_waitlist_promotes_nobody(scene):
    program_id = await factories.program(scene.area, capacity=2)
    first, second, third = await members(3)
    for person in (first, second, third):
        await apply(program_id, person)
    first_id, third_id = (await application_of(program_id, first))["id"], (await application_of(program_id, third))["id"]

    assert await refusal(applications.decide(third_id, scene.editor, "accept", clock.now()), ApplicationRefused) == "full"
    assert (await application_of(program_id, third))["status"] == "waitlisted"
    assert await AuditLog.count().where(AuditLog.action == "application.status") == 0
    assert await assert_seats_match(program_id) == 2

    await applications.decide(first_id, scene.editor, "waitlist", clock.now())
    # The freed seat is the organiser's to give: nobody is promoted automatically.
    assert await status_by_member(program_id) == {
        first.member_id: "waitlisted", second.member_id: "accepted", third.member_id: "waitlisted",
    }
    assert (await told(third.account_id))[1] == []  # nobody promoted: nothing pushed
    assert len((await told(first.account_id))[1]) == 1  # moved to the waiting list by the organiser
    assert await assert_seats_match(program_id) == 1

    await applications.decide(third_id, scene.editor, "accept", clock.now())
    assert (await application_of(program_id, third))["status"] == "accepted"
    assert len((await told(third.account_id))[1]) == 1
    assert await refusal(applications.decide(first_id, scene.staff, "accept", clock.now()), ApplicationRefused) == "full"
    assert await AuditLog.count().where(AuditLog.action == "application.status") == 2
    assert await assert_seats_match(program_id) == 2


async def test_rejecting_an_accepted_applicant_promotes_the_first_waitlisted(scene):
    program_id = await factories.program(scene.area, capacity=1)
    seated, waiting, also_waiting = await members(3)
    for person in (seated, waiting, also_waiting):
        await apply(program_id, person)
    await applications.decide((await application_of(program_id, seated))["id"], scene.editor, "reject", clock.now())
    assert await status_by_member(program_id) == {
        seated.member_id: "rejected", waiting.member_id: "accepted", also_waiting.member_id: "waitlisted",
    }
    assert len((await told(waiting.account_id))[1]) == 1 and len((await told(seated.account_id))[1]) == 1
    assert await assert_seats_match(program_id) == 1

    # Rejecting someone on the waitlist frees nothing and promotes nobody.
    await applications.decide((await application_of(program_id, also_waiting))["id"], scene.staff, "reject", clock.now())
    assert (await application_of(program_id, also_waiting))["status"] == "rejected"
    rejected_id = (await application_of(program_id, seated))["id"]
    assert await refusal(applications.decide(rejected_id, scene.staff, "accept", clock.now()), ApplicationRefused) == "not_allowed"
    assert await assert_seats_match(program_id) == 1


async def test_attendance_keeps_the_seat_records_the_time_and_works_by_member_card(scene):
    program_id = await factories.program(scene.area, capacity=2)
    first, second, waiting, never_applied = await members(4)
    for person in (first, second, waiting):
        await apply(program_id, person)
    first_id = (await application_of(program_id, first))["id"]
    at_the_venue = clock.now().replace(microsecond=0)

    await applications.decide(first_id, scene.editor, "attend", at_the_venue)
    row = await application_of(program_id, first)
    assert row["status"] == "attended" and row["attended_at"] == at_the_venue
    assert await refusal(applications.decide(first_id, scene.editor, "attend", clock.now()), ApplicationRefused) == "not_allowed"
    assert await refusal(applications.cancel(first_id, first.member_id, clock.now()), ApplicationRefused) == "not_cancellable"
    waiting_id = (await application_of(program_id, waiting))["id"]
    assert await refusal(applications.decide(waiting_id, scene.editor, "attend", clock.now()), ApplicationRefused) == "not_allowed"
    assert await refusal(applications.decide(waiting_id, scene.editor, "promote", clock.now()), ApplicationRefused) == "not_allowed"
    assert await assert_seats_match(program_id) == 2

    # Scanning the member card: the member's application is found; a second scan changes nothing.
    assert await activities.attend_by_member(program_id, second.member_id, scene.editor, clock.now()) == "attended"
    assert await activities.attend_by_member(program_id, second.member_id, scene.editor, clock.now()) == "attended"
    assert (await application_of(program_id, second))["status"] == "attended"
    assert await refusal(activities.attend_by_member(program_id, never_applied.member_id, scene.editor, clock.now()),
                         ApplicationRefused) == "not_applied"
    assert await refusal(activities.attend_by_member(program_id, waiting.member_id, scene.editor, clock.now()),
                         ApplicationRefused) == "not_allowed"
    assert await AuditLog.count().where(AuditLog.action == "application.status") == 2
    assert await assert_seats_match(program_id) == 2


async def test_an_editor_of_another_area_cannot_decide_on_its_applications(scene):
    program_id = await factories.program(scene.area, capacity=1)
    seated, waiting = await members(2)
    await apply(program_id, seated)
    await apply(program_id, waiting)
    seated_id = (await application_of(program_id, seated))["id"]
    for decision in ("accept", "reject", "waitlist", "attend"):
        assert await refusal(applications.decide(seated_id, scene.other_editor, decision, clock.now()),
                             ApplicationRefused) == "not_your_area"
    assert await refusal(activities.attend_by_member(program_id, seated.member_id, scene.other_editor, clock.now()),
                         ApplicationRefused) == "not_your_area"
    assert await refusal(activities.attend_by_member(program_id, 999_999, scene.other_editor, clock.now()),
                         ApplicationRefused) == "not_applied"
    assert await refusal(applications.decide(999_999, scene.staff, "accept", clock.now()), ApplicationRefused) == "not_found"
    assert await status_by_member(program_id) == {seated.member_id: "accepted", waiting.member_id: "waitlisted"}
    assert await AuditLog.count() == 0
    # Once the area's own editor has marked the attendance, another area's scan is still refused.
    assert await activities.attend_by_member(program_id, seated.member_id, scene.editor, clock.now()) == "attended"
    assert await refusal(activities.attend_by_member(program_id, seated.member_id, scene.other_editor, clock.now()),
                         ApplicationRefused) == "not_your_area"
    assert await assert_seats_match(program_id) == 1


async def test_accepting_an_application_cancelled_meanwhile_is_refused_and_takes_no_seat(scene, monkeypatch):
    program_id = await factories.program(scene.area, capacity=1)
    seated, waiting = await members(2)
    await apply(program_id, seated)
    await apply(program_id, waiting)
    await applications.decide((await application_of(program_id, seated))["id"], scene.editor, "waitlist", clock.now())
    waiting_id = (await application_of(program_id, waiting))["id"]

    async def member_cancels() -> None:
        await applications.cancel(waiting_id, waiting.member_id, clock.now())

    meanwhile(monkeypatch, member_cancels, service=applications)
    assert await refusal(applications.decide(waiting_id, scene.editor, "accept", clock.now()),
                         ApplicationRefused) == "changed_meanwhile"
    assert (await application_of(program_id, waiting))["status"] == "cancelled"
    assert await AuditLog.count().where(AuditLog.action == "application.status") == 1  # only the "waitlist"
    assert await assert_seats_match(program_id) == 0


async def test_attendance_of_an_application_cancelled_meanwhile_is_refused(scene, monkeypatch):
    program_id = await factories.program(scene.area)
    (person,) = await members(1)
    await apply(program_id, person)
    application_id = (await application_of(program_id, person))["id"]

    async def member_cancels() -> None:
        await applications.cancel(application_id, person.member_id, clock.now())

    meanwhile(monkeypatch, member_cancels, service=applications)
    assert await refusal(activities.attend_by_member(program_id, person.member_id, scene.editor, clock.now()),
                         ApplicationRefused) == "changed_meanwhile"
    row = await application_of(program_id, person)
    assert row["status"] == "cancelled" and row["attended_at"] is None
    assert await AuditLog.count().where(AuditLog.action == "application.status") == 0
    assert await assert_seats_match(program_id) == 0


# --- Concurrency (run on SQLite and on PostgreSQL) ----------------------------------------------------------


async def apply_all_at_once(program_id: int, people: list[Registered]) -> list[str]:
    results = await asyncio.gather(*[apply(program_id, person) for person in people], return_exceptions=True)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, ApplicationRefused)]
    assert unexpected == [], unexpected
    return [r.reason if isinstance(r, ApplicationRefused) else r for r in results]


async def test_thirty_members_racing_for_the_last_seat_get_one_seat_and_twenty_nine_places_on_the_waitlist(scene):
    program_id = await factories.program(scene.area, capacity=10)
    for person in await members(9, "先着"):
        assert await apply(program_id, person) == "accepted"
    assert (await program_row(program_id))["seats_taken"] == 9

    results = await apply_all_at_once(program_id, await members(30, "同時"))
    assert sorted(results) == ["accepted"] + ["waitlisted"] * 29
    assert (await program_row(program_id))["seats_taken"] == 10
    assert await Application.count().where(Application.status == "accepted") == 10
    assert await Application.count().where(Application.status == "waitlisted") == 29
    assert await assert_seats_match(program_id) == 10


async def test_twenty_members_applying_at_once_to_an_empty_program_fill_exactly_its_capacity(scene):
    program_id = await factories.program(scene.area, capacity=10)
    results = await apply_all_at_once(program_id, await members(20, "同時"))
    assert results.count("accepted") == 10 and results.count("waitlisted") == 10
    assert await assert_seats_match(program_id) == 10


async def test_one_member_applying_five_times_at_once_gets_one_application_and_one_seat(scene):
    program_id = await factories.program(scene.area, capacity=10)
    person = await factories.member("連打する人")
    results = await apply_all_at_once(program_id, [person] * 5)
    assert sorted(results) == ["accepted"] + ["already_applied"] * 4
    assert await Application.count() == 1
    assert await assert_seats_match(program_id) == 1


async def test_cancellations_and_promotions_at_once_keep_the_counter_and_leave_no_seat_free_while_people_wait(scene):
    program_id = await factories.program(scene.area, capacity=5)
    seated, waiting = await members(5, "席"), await members(10, "待")
    start = clock.now()
    for n, person in enumerate(seated + waiting):
        await apply(program_id, person, now=start + timedelta(seconds=n))
    leaving = seated + waiting[:5]  # the seated leave while the first five on the waitlist give up too
    ids = [(await application_of(program_id, person))["id"] for person in leaving]
    results = await asyncio.gather(
        *[applications.cancel(i, person.member_id, clock.now()) for i, person in zip(ids, leaving, strict=True)],
        return_exceptions=True,
    )
    # A waitlisted member promoted between their read and their cancel is told "changed_meanwhile".
    assert all(r is None or (isinstance(r, ApplicationRefused) and r.reason == "changed_meanwhile") for r in results), results
    seated_now = await assert_seats_match(program_id)
    still_waiting = await Application.count().where((Application.program == program_id) & (Application.status == "waitlisted"))
    assert still_waiting == 0 or seated_now == 5
    assert seated_now + still_waiting == 10 - sum(r is None for r in results[5:])
    for application in await Application.select().where(Application.status == "accepted"):
        account = next(p.account_id for p in waiting if p.member_id == application["member"])
        assert len(await notices_of(account)) == 1


# --- Local activities per fiscal year (April to March, Tokyo) --------------------------------------------------


def test_the_fiscal_year_runs_april_to_march_in_tokyo_time():
    last_evening = tokyo(2027, 3, 31, 23, 30)  # 14:30 UTC on 31 March
    first_minutes = tokyo(2027, 4, 1, 0, 10)  # still 31 March in UTC: a UTC-dated rule would say fiscal 2026
    assert first_minutes.astimezone(UTC).date().isoformat() == "2027-03-31"
    assert activities.fiscal_year_of(last_evening) == 2026
    assert activities.fiscal_year_of(last_evening.astimezone(UTC)) == 2026
    assert activities.fiscal_year_of(first_minutes) == 2027
    assert activities.fiscal_year_of(first_minutes.astimezone(UTC)) == 2027
    assert activities.fiscal_year_of(datetime(2026, 3, 31, 15, 0, tzinfo=UTC)) == 2026  # 2026-04-01 00:00 in Tokyo
    assert activities.fiscal_year_of(datetime(2026, 3, 31, 14, 59, 59, tzinfo=UTC)) == 2025
    start, end = activities.fiscal_year_bounds(2026)
    assert (start, end) == (datetime(2026, 3, 31, 15, tzinfo=UTC), datetime(2027, 3, 31, 15, tzinfo=UTC))


async def test_attendance_counts_as_an_activity_of_its_tokyo_fiscal_year_and_three_make_an_active_member(scene):
    program_ids = [await factories.program(scene.area, title=f"活動{n}") for n in range(5)]
    hanako, jiro, saburo, shiro, goro = await members(5, "担い手")
    # Attendance times. The UTC instant of each boundary case lies on the other side of a UTC midnight
    # (or, read as a Tokyo wall clock taken for UTC, on the other side of the fiscal boundary).
    attended = {
        hanako: [tokyo(2026, 4, 1, 8, 0),  # 2026-03-31 23:00 UTC: fiscal 2026 only in Tokyo time
                 tokyo(2026, 10, 1, 10), tokyo(2027, 1, 15, 13), tokyo(2027, 3, 31, 23, 30)],  # → 2026: 4
        jiro: [tokyo(2026, 6, 1, 10), tokyo(2026, 10, 1, 10), tokyo(2027, 3, 31, 23, 30)],  # → 2026: 3
        saburo: [tokyo(2026, 6, 1, 10), tokyo(2026, 10, 1, 10),
                 tokyo(2027, 4, 1, 0, 10)],  # 2027-03-31 15:10 UTC → 2026: 2, 2027: 1
        shiro: [tokyo(2026, 6, 1, 10), tokyo(2026, 10, 1, 10), tokyo(2026, 12, 1, 10)],  # → 2026: 3 (+ see below)
        goro: [tokyo(2025, 4, 1, 0, 5),  # 2025-03-31 15:05 UTC: fiscal 2025
               tokyo(2025, 12, 1, 10), tokyo(2026, 3, 31, 23, 59)],  # → 2025: 3, 2026: 0
    }
    for person, times in attended.items():
        for program_id, when in zip(program_ids, times, strict=False):
            await apply(program_id, person)
            await applications.decide((await application_of(program_id, person))["id"], scene.editor, "attend", when)
    # Accepted but not (yet) attended, and cancelled: neither is an activity.
    await apply(program_ids[3], shiro)
    await apply(program_ids[4], shiro)
    await applications.cancel((await application_of(program_ids[4], shiro))["id"], shiro.member_id, clock.now())

    counts = {(person.member_id, year): await progress.activity_count(person.member_id, year)
              for person in attended for year in (2025, 2026, 2027)}
    assert counts == {
        (hanako.member_id, 2025): 0, (hanako.member_id, 2026): 4, (hanako.member_id, 2027): 0,
        (jiro.member_id, 2025): 0, (jiro.member_id, 2026): 3, (jiro.member_id, 2027): 0,
        (saburo.member_id, 2025): 0, (saburo.member_id, 2026): 2, (saburo.member_id, 2027): 1,
        (shiro.member_id, 2025): 0, (shiro.member_id, 2026): 3, (shiro.member_id, 2027): 0,
        (goro.member_id, 2025): 3, (goro.member_id, 2026): 0, (goro.member_id, 2027): 0,
    }

    active = await progress.active_members(2026)
    # Most activities first, then by member number (jiro and shiro both have three).
    expected = [(hanako, 4)] + sorted([(jiro, 3), (shiro, 3)], key=lambda pair: pair[0].member_no)
    assert [(m["id"], m["member_no"], m["activities"]) for m in active] == [
        (person.member_id, person.member_no, count) for person, count in expected
    ]
    assert [(m["id"], m["activities"]) for m in await progress.active_members(2025)] == [(goro.member_id, 3)]
    assert await progress.active_members(2027) == []
    assert [(m["id"], m["activities"]) for m in await progress.active_members(2027, minimum=1)] == [(saburo.member_id, 1)]
    for program_id in program_ids:
        await assert_seats_match(program_id)


# --- The public list -------------------------------------------------------------------------------------


async def test_the_public_list_shows_reviewed_programs_only_with_its_filters(scene):
    now = tokyo(2026, 7, 20, 12)
    open_window = dict(apply_from=tokyo(2026, 7, 1), apply_until=tokyo(2026, 7, 25))
    ended_window = dict(apply_from=tokyo(2026, 6, 1), apply_until=tokyo(2026, 7, 10))

    def on(start: datetime) -> dict:
        return dict(starts_at=start, ends_at=start + timedelta(hours=5))

    # 1 August 00:30 in Tokyo is still 31 July in UTC; 31 July 23:30 in Tokyo is 31 July in UTC too.
    august = await factories.program(scene.area, title="8月の浜", themes=["agriculture"],
                                     **on(tokyo(2026, 8, 1, 0, 30)), **open_window)
    july = await factories.program(scene.area, title="7月の祭り", themes=["tourism", "culture"],
                                   **on(tokyo(2026, 7, 31, 23, 30)), **ended_window)
    closed = await factories.program(scene.area, title="締切済み", status="closed", themes=["agriculture"],
                                     **on(tokyo(2026, 9, 5, 10)), **open_window)
    completed = await factories.program(scene.area, title="終了", status="completed", **on(tokyo(2026, 6, 1, 10)),
                                        **ended_window)
    elsewhere = await factories.program(scene.other_area, title="樽前の教室", themes=["education", "agriculture"],
                                        **on(tokyo(2026, 8, 15, 10)), **open_window)
    for status in ("draft", "submitted", "rejected"):
        await factories.program(scene.area, title=f"非公開 {status}", status=status, themes=["agriculture"],
                                **on(tokyo(2026, 8, 10, 10)), **open_window)

    async def listed(**filters) -> list[int]:
        return [p["id"] for p in await reads.public_programs(now=now, **filters)]

    assert await listed() == [july, august, elsewhere, closed]  # still to come, soonest first
    assert await listed(past=True) == [completed]  # ended ones only on request, latest first
    assert await listed(area_id=scene.area) == [july, august, closed]
    assert await listed(theme="agriculture") == [august, elsewhere, closed]
    assert await listed(theme="casino") == await listed()
    assert await listed(month="2026-08") == [august, elsewhere]
    assert await listed(month="2026-07") == [july]
    assert await listed(month="2026-06") == [completed]  # a month chosen shows what ended in it too
    assert await listed(month="2026-13") == await listed(month="august") == await listed()
    assert await listed(open_only=True) == [august, elsewhere]  # the closed one's window is open, but it is closed
    assert await listed(area_id=scene.area, theme="agriculture", month="2026-08", open_only=True) == [august]
    assert await listed(theme="education", limit=1) == [elsewhere]  # the limit counts matching programs
    rows = await reads.public_programs(area_id=scene.other_area, now=now)
    assert [(r["title"], r["area_name"]) for r in rows] == [("樽前の教室", "樽前")]


# --- Reads for the program pages -------------------------------------------------------------------------


async def test_editors_manage_their_own_areas_programs_and_the_secretariat_every_one(scene):
    now = clock.now()
    later = await factories.program(scene.area, title="後の回", status="draft", starts_at=now + timedelta(days=60))
    earlier = await factories.program(scene.area, title="先の回", starts_at=now + timedelta(days=10))
    elsewhere = await factories.program(scene.other_area, title="樽前の教室", starts_at=now + timedelta(days=30))

    async def managed(actor: Actor) -> list[int]:
        return [p["id"] for p in await reads.managed_programs(actor)]

    assert await managed(scene.editor) == [later, earlier]  # the latest start first, drafts included
    assert await managed(scene.other_editor) == [elsewhere]
    assert await managed(scene.staff) == [later, elsewhere, earlier]
    assert await managed(Actor(scene.editor.account_id, "editor", None)) == []  # no area yet: nothing
    rows = await reads.managed_programs(scene.other_editor)
    assert [(r["title"], r["area_name"], r["seats_taken"]) for r in rows] == [("樽前の教室", "樽前", 0)]


async def test_applicants_are_listed_in_the_order_they_applied_with_their_names(scene):
    program_id = await factories.program(scene.area, capacity=1)
    other_program = await factories.program(scene.area)
    first = await factories.member("先着 一郎", family_name="先着", given_name="一郎")
    second = await factories.member("二番 花子")
    now = clock.now()
    # Stored second, but with the earlier time of application: the list follows the time.
    await apply(program_id, second, now=now + timedelta(minutes=5))
    await apply(program_id, first, now=now)
    await apply(other_program, first, now=now)

    rows = await reads.applicants(program_id)
    assert [(r["member_no"], r["display_name"], r["status"]) for r in rows] == [
        (first.member_no, "先着 一郎", "waitlisted"), (second.member_no, "二番 花子", "accepted"),
    ]
    assert (rows[0]["family_name"], rows[0]["given_name"], rows[0]["motivation"]) == ("先着", "一郎", "地域の力になりたい")
    assert await reads.applicants(await factories.program(scene.other_area)) == []


async def test_an_application_leads_to_its_program(scene):
    program_id = await factories.program(scene.area)
    applicant = await factories.member()
    await apply(program_id, applicant)
    application_id = (await application_of(program_id, applicant))["id"]
    assert await reads.program_of_application(application_id) == program_id
    assert await reads.program_of_application(application_id + 1) is None


async def test_a_member_sees_their_own_applications_the_latest_program_first(scene):
    now = clock.now()
    soon = await factories.program(scene.area, title="すぐの回", starts_at=now + timedelta(days=3))
    later = await factories.program(scene.other_area, title="先の回", starts_at=now + timedelta(days=40))
    member, someone_else = await members(2)
    for program_id in (soon, later):
        await apply(program_id, member)
    await apply(soon, someone_else)

    rows = await reads.member_applications(member.member_id)
    assert [(r["program_id"], r["title"], r["area_name"], r["status"]) for r in rows] == [
        (later, "先の回", "樽前", "accepted"), (soon, "すぐの回", "勇払", "accepted"),
    ]
    assert await reads.member_applications(None) == []


async def test_the_promotion_notice_links_to_the_program(scene):
    program_id = await factories.program(scene.area, capacity=1)
    first, second = await members(2)
    assert [await apply(program_id, person) for person in (first, second)] == ["accepted", "waitlisted"]
    await applications.cancel((await application_of(program_id, first))["id"], first.member_id, clock.now())
    assert [n["url"] for n in await notices_of(second.account_id)] == [f"/programs/{program_id}"]
