"""The secretariat's records through their pages: the daily record written, changed by its author only, read by
week and month and downloaded; the incident log recorded, closed and shown on the console's home; bad input
answered on the page, never a 500; nobody but staff gets in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.i18n import to_tokyo
from app.services.shared import clock
from db.tables import DiaryEntry, Incident
from tests import factories
from tests.conftest import Client, log_in


def today() -> str:
    return to_tokyo(clock.now()).date().isoformat()


def yesterday() -> str:
    """A time on it is in the past whenever the test runs (today at 00:10 is not, in the first minutes of a day)."""
    return (to_tokyo(clock.now()).date() - timedelta(days=1)).isoformat()


@pytest.fixture
async def staff(client) -> int:
    account = await factories.staff_account("事務局 佐藤")
    await log_in(client, account)
    return account


async def test_a_staff_member_writes_the_daily_record_and_reads_it_by_week_and_month(client, staff):
    inquiry = await factories.inquiry()
    written = await client.submit("/staff/diary", {"day": today(), "work": "移住相談の電話対応", "minutes": "1:30",
                                                  "inquiries": inquiry["reference"]}, follow_redirects=True)
    assert written.status_code == 200 and "日報に追加しました" in written.text
    assert written.text.count('data-testid="diary-entry"') == 1 and inquiry["reference"] in written.text
    assert "1時間30分" in written.text
    month = await client.get("/staff/diary", params={"view": "month", "day": today()})
    assert month.text.count('data-testid="diary-entry"') == 1
    csv = await client.get("/staff/diary/csv", params={"view": "month", "day": today()})
    assert csv.status_code == 200 and "移住相談の電話対応" in csv.content.decode("utf-8-sig")


async def test_a_bad_entry_comes_back_with_messages_and_nothing_is_written(client, staff):
    response = await client.submit("/staff/diary", {"day": "someday", "work": "", "minutes": "たくさん"})
    assert response.status_code == 422
    assert 'data-testid="error-day"' in response.text and 'data-testid="error-work"' in response.text
    assert 'value="たくさん"' in response.text
    assert await DiaryEntry.count() == 0


async def test_only_the_author_can_open_change_or_remove_an_entry(app, client, staff):
    await client.submit("/staff/diary", {"day": today(), "work": "記事の校正", "minutes": "30"})
    entry_id = (await DiaryEntry.select(DiaryEntry.id).first())["id"]
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as colleague:
        await log_in(colleague, await factories.staff_account("事務局 鈴木"))
        assert (await colleague.get(f"/staff/diary/{entry_id}")).status_code == 404
        assert (await colleague.submit(f"/staff/diary/{entry_id}/delete")).status_code == 404
    assert (await client.get(f"/staff/diary/{entry_id}")).status_code == 200
    changed = await client.submit(f"/staff/diary/{entry_id}", {"day": today(), "work": "記事2本の校正", "minutes": "45"},
                                  follow_redirects=True)
    assert "記事2本の校正" in changed.text
    removed = await client.submit(f"/staff/diary/{entry_id}/delete", follow_redirects=True)
    assert "日報を削除しました" in removed.text and await DiaryEntry.count() == 0


async def test_an_incident_is_recorded_closed_and_shown_on_the_console_home_until_then(client, staff):
    recorded = await client.submit("/staff/incidents", {
        "title": "交流会でのけが", "occurred_at": f"{yesterday()}T21:10", "what_happened": "参加者が転倒した。",
        "affected": "", "actions": "", "told": "", "told_at": ""}, follow_redirects=True)
    assert recorded.status_code == 200 and "トラブル・事故を記録しました" in recorded.text
    incident_id = (await Incident.select(Incident.id).first())["id"]
    home = await client.get("/staff")
    assert 'data-testid="attention-incidents"' in home.text and "交流会でのけが" in home.text
    assert re.search(r'data-testid="staff-incidents-count">1<', home.text)
    closed = await client.submit(f"/staff/incidents/{incident_id}/status", {"status": "closed"}, follow_redirects=True)
    assert "完了にしました" in closed.text and 'data-status="closed"' in closed.text
    assert "トラブル・事故報告を完了にした" in closed.text  # the history
    assert 'data-testid="attention-incidents"' not in (await client.get("/staff")).text


async def test_a_bad_incident_comes_back_with_messages_and_nothing_is_recorded(client, staff):
    response = await client.submit("/staff/incidents", {"title": "", "occurred_at": "2999-01-01T00:00",
                                                       "what_happened": ""})
    assert response.status_code == 422
    for field in ("title", "occurred_at", "what_happened"):
        assert f'data-testid="error-{field}"' in response.text
    assert await Incident.count() == 0


@pytest.mark.parametrize("url", [
    "/staff/diary?view=year&day=2026-02-30", "/staff/diary?day=99999-01-01", "/staff/diary/csv?day=%00",
    "/staff/incidents?status=%00&page=-3", "/staff/incidents?page=abc", "/staff/incidents/999999",
    "/staff/diary/999999",
])
async def test_odd_addresses_never_give_a_500(client, staff, url):
    assert (await client.get(url)).status_code in (200, 404)


async def test_members_and_shops_cannot_reach_the_records(app):
    for role in ("member", "shop", "editor"):
        async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as other:
            await log_in(other, await factories.staff_account("他の人", role=role))
            for url in ("/staff/diary", "/staff/incidents", "/staff/incidents/new"):
                assert (await other.get(url, follow_redirects=False)).status_code in (302, 303, 401, 403)
