"""Attendance from an online meeting's participant report (Zoom's CSV): matched by e-mail, then display name,
then real name; the unmatched listed; a day outside the period not counted; a re-import records nothing new."""

from __future__ import annotations

import codecs
from datetime import date

from app.services.activities import activities, meeting_report
from app.services.imports.reader import FileRefused
from db.tables import AuditLog, CheckIn
from tests import factories

JA = ("名前（元の名前）,ユーザー メール,参加時刻,退出時刻,期間（分）,ゲスト\r\n"
      "はなちゃん (山田 花子),hanako@example.jp,2026/11/14 19:58:03,2026/11/14 21:00:00,62,いいえ\r\n"
      "次郎,,2026/11/14 20:01:00,2026/11/14 20:30:00,29,はい\r\n"
      "髙橋 三郎,,2026/11/14 20:02:00,2026/11/14 20:40:00,38,はい\r\n"
      "はなちゃん (山田 花子),hanako@example.jp,2026/11/14 20:35:00,2026/11/14 21:00:00,25,いいえ\r\n"
      "知らない人,stranger@example.jp,2026/11/14 20:00:00,2026/11/14 20:10:00,10,はい\r\n"
      "遅刻者,late@example.jp,2026/12/01 00:10:00,2026/12/01 00:20:00,10,はい\r\n")
EN_WITH_MEETING = ("Meeting ID,Topic,Start Time\r\n123 456 7890,交流会,11/14/2026 07:55:00 PM\r\n\r\n"
                   "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes)\r\n"
                   "Hanako,hanako@example.jp,11/14/2026 07:58:03 PM,11/14/2026 09:00:00 PM,62\r\n")


async def setup(scene):
    activity_id = await factories.activity(scene.area, title="オンライン交流会", kind="online")
    hanako = await factories.member("花子", email="hanako@example.jp", family_name="山田", given_name="花子")
    jiro = await factories.member("次郎")
    saburo = await factories.member("さぶ", family_name="髙橋", given_name="三郎")
    await factories.member("late", email="late@example.jp")
    activity = await activities.activity_for(activity_id, scene.staff)
    return activity, hanako, jiro, saburo


async def test_participants_are_matched_by_email_then_display_name_then_real_name_and_the_rest_listed(scene):
    activity, hanako, jiro, saburo = await setup(scene)
    report = await meeting_report.preview(activity, codecs.BOM_UTF8 + JA.encode())
    got = [(p.row, p.outcome, p.matched_by, p.member["id"] if p.member else None) for p in report.participants]
    assert got == [(2, "check_in", "email", hanako.member_id), (3, "check_in", "display_name", jiro.member_id),
                   (4, "check_in", "name", saburo.member_id), (5, "repeated", "email", hanako.member_id),
                   (6, "unmatched", "", None), (7, "outside", "email", got[5][3])]
    assert report.participants[0].day == date(2026, 11, 14)
    assert await CheckIn.count() == 0  # the preview writes nothing


async def test_recording_checks_in_once_per_member_and_day_and_a_reimport_records_nothing_new(scene):
    activity, *_ = await setup(scene)
    data = codecs.BOM_UTF8 + JA.encode()
    counts = await meeting_report.record(activity, scene.editor, data, "participants.csv", "ab" * 32)
    assert (counts["recorded"], counts["unmatched"], counts["outside"]) == (3, 1, 1)
    rows = await CheckIn.select(CheckIn.method, CheckIn.day, CheckIn.recorded_by)
    assert {(r["method"], r["day"], r["recorded_by"]) for r in rows} == {("import", date(2026, 11, 14),
                                                                          scene.editor.account_id)}
    assert len(rows) == 3
    again = await meeting_report.record(activity, scene.editor, data, "participants.csv", "ab" * 32)
    assert (again["recorded"], again["already"]) == (0, 3)
    assert await CheckIn.count() == 3
    entries = await AuditLog.select(AuditLog.action, AuditLog.target_id).where(AuditLog.action == "check_in.import")
    assert entries == [{"action": "check_in.import", "target_id": str(activity["id"])}] * 2


async def test_the_english_report_with_the_meeting_details_above_is_read(scene):
    activity, hanako, *_ = await setup(scene)
    report = await meeting_report.preview(activity, EN_WITH_MEETING.encode())
    assert [(p.outcome, p.member["id"], p.day) for p in report.participants] == [
        ("check_in", hanako.member_id, date(2026, 11, 14))]


async def test_a_file_that_is_not_a_participant_report_is_refused(scene):
    activity, *_ = await setup(scene)
    try:
        await meeting_report.preview(activity, "氏名,メールアドレス\n山田,a@example.jp\n".encode())
    except FileRefused as refused:
        assert refused.reason == "no_header"
    else:
        raise AssertionError("refused")


def test_the_sample_report_in_docs_reads_as_zoom_writes_it():
    """docs/samples/zoom-participants.csv: Zoom's Japanese participant report, UTF-8 with a BOM."""
    from pathlib import Path

    data = (Path(__file__).resolve().parents[3] / "docs" / "samples" / "zoom-participants.csv").read_bytes()
    table, found = meeting_report.read(data)
    assert len(table.rows) == 3 and {"name", "email"} <= set(found)
