"""The daily record: entries by week and month with their links as they are now, time typed as people type it,
only the author changes or removes an entry, and the CSV (itself audited)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from app.services.secretariat import diary
from app.services.shared.refusals import FormInvalid
from db.tables import AuditLog, Program
from tests import factories

TODAY = date(2026, 12, 9)  # a Wednesday
NOW = datetime(2026, 12, 9, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
async def scene() -> dict:
    area = await factories.area()
    staff = await factories.staff_account("事務局 佐藤")
    colleague = await factories.staff_account("事務局 鈴木")
    program = await factories.program(area, staff, title="樽前山の登山道整備")
    inquiry = await factories.inquiry()
    return {"staff": staff, "colleague": colleague, "program": program, "inquiry": inquiry}


def form(**changes) -> dict:
    return {"day": TODAY.isoformat(), "work": "問い合わせ対応と交流会の準備", "minutes": "90", "inquiries": "", **changes}


@pytest.mark.parametrize("typed, minutes", [
    ("90", 90), ("１２０", 120), ("1:30", 90), ("1.5h", 90), ("2時間", 120), ("45分", 45), ("", 0),
])
async def test_time_is_read_as_people_type_it(scene, typed, minutes):
    assert (await diary.validate(form(minutes=typed), TODAY)).minutes == minutes


@pytest.mark.parametrize("changes, field", [
    ({"work": "  "}, "work"), ({"work": "あ" * 2001}, "work"), ({"minutes": "ten"}, "minutes"),
    ({"minutes": "2000"}, "minutes"), ({"day": "2026-13-01"}, "day"), ({"day": "2024-01-01"}, "day"),
    ({"day": "2026-12-20"}, "day"), ({"inquiries": "なんとなく"}, "inquiries"), ({"inquiries": "Q-0000-ZZZZ"}, "inquiries"),
])
async def test_what_cannot_be_kept_is_refused_with_the_values_kept(scene, changes, field):
    with pytest.raises(FormInvalid) as invalid:
        await diary.validate(form(**changes), TODAY)
    assert field in invalid.value.errors
    assert invalid.value.values["work"] == form(**changes)["work"]


async def test_an_entry_links_programs_and_inquiries_and_shows_them_as_they_are_now(scene):
    values = await diary.validate(form(programs=str(scene["program"]), articles=["999999"],
                                       inquiries=f"確認: {scene['inquiry']['reference'].lower()}"), TODAY)
    assert values.refs == [{"kind": "program", "id": scene["program"]}, {"kind": "inquiry", "id": scene["inquiry"]["id"]}]
    await diary.write(scene["staff"], values, NOW)
    await Program.update({Program.title: "樽前山 登山道整備（秋）"}).where(Program.id == scene["program"])
    [entry] = await diary.entries_in(diary.period_of("week", TODAY))
    assert [link["label"] for link in entry["links"]] == ["樽前山 登山道整備（秋）", scene["inquiry"]["reference"]]
    assert entry["author_name"] == "事務局 佐藤"
    assert diary.form_of(await diary.entry(entry["id"]))["inquiries"] == scene["inquiry"]["reference"]


async def test_the_week_runs_monday_to_sunday_and_the_month_whole(scene):
    week, month = diary.period_of("week", TODAY), diary.period_of("month", TODAY)
    assert (week.start, week.end) == (date(2026, 12, 7), date(2026, 12, 13))
    assert (month.start, month.end, month.following) == (date(2026, 12, 1), date(2026, 12, 31), date(2027, 1, 1))
    await diary.write(scene["staff"], await diary.validate(form(), TODAY), NOW)
    await diary.write(scene["colleague"], await diary.validate(form(day="2026-12-01", minutes="30"), TODAY), NOW)
    in_week = await diary.entries_in(week)
    assert len(in_week) == 1 and len(await diary.entries_in(month)) == 2
    days = diary.by_day(week, in_week)
    assert len(days) == 7 and days[2]["minutes"] == 90
    assert diary.minutes_per_person(await diary.entries_in(month)) == [("事務局 佐藤", 90), ("事務局 鈴木", 30)]


async def test_only_the_author_changes_or_removes_an_entry(scene):
    entry_id = await diary.write(scene["staff"], await diary.validate(form(), TODAY), NOW)
    changed = await diary.validate(form(work="訂正：交流会の準備のみ"), TODAY)
    assert await diary.change(entry_id, scene["colleague"], changed, NOW) is False
    assert await diary.remove(entry_id, scene["colleague"]) is False
    assert await diary.change(entry_id, scene["staff"], changed, NOW) is True
    assert (await diary.entry(entry_id))["work"] == "訂正：交流会の準備のみ"
    assert await diary.remove(entry_id, scene["staff"]) is True
    assert await diary.entry(entry_id) is None and await diary.remove(-1, scene["staff"]) is False


async def test_the_csv_has_japanese_headers_and_is_audited(scene):
    await diary.write(scene["staff"], await diary.validate(form(programs=str(scene["program"])), TODAY), NOW)
    name, text = await diary.export_csv(scene["staff"], diary.period_of("month", TODAY), NOW)
    assert name == "diary-2026-12-01-2026-12-31.csv"
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0] == "日付,担当者,実施内容,時間（分）,関連"
    assert lines[1].startswith("2026-12-09,事務局 佐藤,問い合わせ対応と交流会の準備,90,樽前山の登山道整備")
    assert await AuditLog.count().where((AuditLog.action == "export.csv") & (AuditLog.target_type == "diary")) == 1


async def test_the_demo_fills_a_working_week_of_the_record_and_two_incidents_once():
    from app.demo import load_demo_data
    from app.services.secretariat import incidents

    first = await load_demo_data()
    assert (first["diary_entries"], first["incidents"], first["spendings"]) == (8, 2, 5)
    entries = await diary.entries_in(diary.Period("all", date(2000, 1, 1), date(2100, 1, 1)))
    assert all(e["day"].weekday() < 5 for e in entries)
    assert sum(len(e["links"]) for e in entries) >= 6  # the demo's programs, articles and inquiries, found by name
    assert await incidents.open_count() == 1
    again = await load_demo_data()
    assert (again["diary_entries"], again["incidents"], again["spendings"]) == (0, 0, 0)
