"""The audit log as staff read it: the filter as typed, the entries it chooses (days in Japan time), pages,
the CSV (itself audited), and the record of who looked at whom."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.services.audit import log
from app.services.audit.log import AuditFilter
from app.services.shared.refusals import FormInvalid
from db.tables import AuditLog
from tests import factories

# 2026-04-01 00:00 in Tokyo is 2026-03-31 15:00 UTC: the day boundary the date filter must respect.
TOKYO_APRIL_1 = datetime(2026, 3, 31, 15, 0, tzinfo=timezone.utc)


async def entry(actor: int | None, action: str, target_type: str, target_id: str, at: datetime, **detail) -> int:
    rows = await AuditLog.insert(AuditLog(actor=actor, action=action, target_type=target_type, target_id=target_id,
                                          detail=detail, created_at=at)).returning(AuditLog.id)
    return rows[0]["id"]


def errors_of(params: dict) -> dict[str, str]:
    with pytest.raises(FormInvalid) as caught:
        log.read_filter(params)
    return caught.value.errors


def test_the_filter_reads_what_the_address_says():
    chosen = log.read_filter({"actor": "12", "action": "member.view", "target_type": "member", "target_id": " 7 ",
                              "date_from": "2026-04-01", "date_to": "2026-04-30", "page": "3"})
    assert chosen == AuditFilter(12, "member.view", "member", "7", date(2026, 4, 1), date(2026, 4, 30), 3)
    assert chosen.query(page=1) == {"actor": "12", "action": "member.view", "target_type": "member", "target_id": "7",
                                    "date_from": "2026-04-01", "date_to": "2026-04-30"}
    assert log.read_filter({}) == AuditFilter()
    assert log.read_filter({"page": "x"}).page == log.read_filter({"page": "0"}).page == 1


def test_bad_filter_input_is_told_next_to_its_field_with_what_was_typed():
    assert set(errors_of({"actor": "abc", "action": "DROP TABLE", "target_type": "<b>", "target_id": "x" * 65})) == {
        "actor", "action", "target_type", "target_id"}
    assert "actor" in errors_of({"actor": "99999999999"})
    for bad in ("2026-13-01", "2026/04/01", "9999-12-31", "昨日"):
        assert "date_from" in errors_of({"date_from": bad})
    assert set(errors_of({"date_from": "2026-05-01", "date_to": "2026-04-30"})) == {"date_to"}
    with pytest.raises(FormInvalid) as caught:
        log.read_filter({"date_from": "2026-13-01", "action": "member.view"})
    assert caught.value.values["date_from"] == "2026-13-01" and caught.value.values["action"] == "member.view"


async def test_the_filters_choose_by_person_action_target_and_japan_days():
    sato, suzuki = await factories.staff_account("事務局 佐藤"), await factories.staff_account("事務局 鈴木")
    last_of_march = await entry(sato, "member.view", "member", "7", TOKYO_APRIL_1 - timedelta(seconds=1))
    first_of_april = await entry(sato, "member.view", "member", "8", TOKYO_APRIL_1)
    end_of_april = await entry(suzuki, "export.csv", "inquiry", "", TOKYO_APRIL_1 + timedelta(days=30) - timedelta(seconds=1))
    may = await entry(None, "handover.restore", "handover", "all", TOKYO_APRIL_1 + timedelta(days=30))

    async def ids(**chosen) -> list[int]:
        return [row["id"] for row in (await log.search(AuditFilter(**chosen))).rows]

    assert await ids() == [may, end_of_april, first_of_april, last_of_march]  # newest first
    assert await ids(actor=sato) == [first_of_april, last_of_march]
    assert await ids(action="export.csv") == [end_of_april]
    assert await ids(target_type="member", target_id="7") == [last_of_march]
    assert await ids(date_from=date(2026, 4, 1), date_to=date(2026, 4, 30)) == [end_of_april, first_of_april]
    assert await ids(date_to=date(2026, 3, 31)) == [last_of_march]
    assert await ids(actor=sato, action="export.csv") == []


async def test_entries_come_a_page_at_a_time_and_a_page_past_the_end_shows_the_last():
    made = [await entry(None, "kpi.targets", "fiscal_year", "2026", TOKYO_APRIL_1 + timedelta(minutes=n)) for n in range(5)]
    first = await log.search(AuditFilter(), page_size=2)
    assert (first.total, first.pages, [r["id"] for r in first.rows]) == (5, 3, [made[4], made[3]])
    last = await log.search(AuditFilter(page=99), page_size=2)
    assert (last.page, [r["id"] for r in last.rows]) == (3, [made[0]])


async def test_an_entry_shows_who_in_words_and_its_detail_as_text():
    sato = await factories.staff_account("事務局 佐藤")
    await entry(sato, "wallet_pass.status", "wallet_pass", "3", TOKYO_APRIL_1, reason="他人の利用", to="suspended")
    [row] = (await log.search(AuditFilter())).rows
    assert (row["actor_name"], row["actor_role"]) == ("事務局 佐藤", "staff")
    assert row["action_label"] == "会員のエントリーパスを変更"
    assert row["detail_text"] == '{"reason": "他人の利用", "to": "suspended"}'
    choices = await log.choices()
    assert choices["actors"] == [{"id": sato, "name": "事務局 佐藤", "role": "staff"}]
    assert choices["actions"] == [("wallet_pass.status", "会員のエントリーパスを変更")]
    assert choices["target_types"] == ["wallet_pass"]


async def test_the_csv_is_for_excel_and_its_download_is_itself_audited():
    sato = await factories.staff_account("事務局 佐藤")
    await entry(sato, "member.view", "member", "7", TOKYO_APRIL_1)
    await entry(sato, "=cmd", "member", "8", TOKYO_APRIL_1 + timedelta(hours=1))
    filename, text = await log.export_csv(sato, AuditFilter(target_type="member", page=2), TOKYO_APRIL_1 + timedelta(days=1))
    assert filename == "audit-log-20260402.csv"
    lines = text.split("\r\n")
    assert lines[0] == "\ufeff日時,操作した人,役割,操作,操作コード,対象,対象ID,詳細"
    assert lines[1].startswith("2026-04-01 00:00:00,事務局 佐藤,事務局,会員のページを開いた,member.view,member,7,")
    assert "'=cmd" in lines[2]  # never a formula in Excel
    recorded = await AuditLog.select().where(AuditLog.action == "export.csv").first().output(load_json=True)
    assert (recorded["actor"], recorded["target_type"]) == (sato, "audit_log")
    assert recorded["detail"] == {"rows": 2, "filters": {"target_type": "member"}}


async def test_opening_a_members_page_records_who_looked_at_whom():
    sato = await factories.staff_account("事務局 佐藤")
    member = await factories.member("見られる人")
    await log.record_view(sato, "member", member.member_id, TOKYO_APRIL_1)
    row = await AuditLog.select().where(AuditLog.action == "member.view").first()
    assert (row["actor"], row["target_type"], row["target_id"]) == (sato, "member", str(member.member_id))
