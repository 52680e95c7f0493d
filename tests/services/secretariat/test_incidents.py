"""The incident log: what is recorded and refused, open until closed, every change audited, counted for the
console."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.services.console import attention
from app.services.secretariat import incidents
from app.services.shared.refusals import FormInvalid
from db.tables import AuditLog
from tests import factories

NOW = datetime(2026, 12, 9, 3, 0, tzinfo=timezone.utc)  # 12:00 in Japan


def form(**changes) -> dict:
    return {"title": "交流会でのけが", "occurred_at": "2026-12-09T10:30", "what_happened": "参加者が足をくじいた。",
            "affected": "参加者1名", "actions": "応急手当をして帰宅を確認した。", "told": "県 政策推進課",
            "told_at": "2026-12-09T11:00", **changes}


async def test_an_incident_is_recorded_in_japan_time_and_audited():
    staff = await factories.staff_account()
    incident_id = await incidents.report(staff, incidents.validate(form(), NOW), NOW)
    row = await incidents.incident(incident_id)
    assert row["occurred_at"] == datetime(2026, 12, 9, 1, 30, tzinfo=timezone.utc)
    assert (row["status"], row["author_name"]) == ("open", "事務局 佐藤")
    audit = await AuditLog.select(AuditLog.action, AuditLog.detail).where(AuditLog.target_type == "incident").output(
        load_json=True)
    assert audit[0]["action"] == "incident.report" and audit[0]["detail"]["told"] == "県 政策推進課"


@pytest.mark.parametrize("changes, field", [
    ({"title": ""}, "title"), ({"title": "長" * 121}, "title"), ({"what_happened": " "}, "what_happened"),
    ({"occurred_at": "yesterday"}, "occurred_at"), ({"occurred_at": "2026-12-10T09:00"}, "occurred_at"),
    ({"occurred_at": "9999-01-01T00:00"}, "occurred_at"), ({"told_at": "2026-12-09T09:00"}, "told_at"),
    ({"told": "", "told_at": "2026-12-09T11:00"}, "told"), ({"actions": "x" * 4001}, "actions"),
])
def test_what_cannot_be_kept_is_refused_with_the_values_kept(changes, field):
    with pytest.raises(FormInvalid) as invalid:
        incidents.validate(form(**changes), NOW)
    assert field in invalid.value.errors and invalid.value.values["title"] == form(**changes)["title"]


async def test_open_until_closed_counted_for_the_console_and_each_step_audited():
    staff = await factories.staff_account()
    first = await incidents.report(staff, incidents.validate(form(), NOW), NOW)
    second = await incidents.report(staff, incidents.validate(form(title="アプリに接続できない",
                                                                        occurred_at="2026-12-08T09:00"), NOW), NOW)
    assert [i["id"] for i in await incidents.incidents("open", 10)] == [second, first]  # waited longest first
    assert await incidents.open_count() == 2 and (await attention.counts())["incidents"] == 2
    assert await incidents.update(first, staff, incidents.validate(form(actions="病院へ同行した。"), NOW), NOW)
    assert await incidents.set_status(first, staff, "closed", NOW + timedelta(hours=1))
    assert not await incidents.set_status(first, staff, "closed", NOW + timedelta(hours=2))  # already closed
    assert not await incidents.set_status(first, staff, "gone", NOW) and not await incidents.set_status(-5, staff, "open", NOW)
    assert await incidents.open_count() == 1
    assert [i["id"] for i in await incidents.incidents("closed", 10)] == [first]
    assert [h["action"] for h in await incidents.history(first)] == ["incident.report", "incident.update", "incident.closed"]
    assert await incidents.set_status(first, staff, "open", NOW + timedelta(hours=3))
    row = await incidents.incident(first)
    assert (row["status"], row["closed_at"], row["actions"]) == ("open", None, "病院へ同行した。")
    assert not await incidents.update(999999, staff, incidents.validate(form(), NOW), NOW)
