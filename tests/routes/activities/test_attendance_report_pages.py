"""Attendance from an online meeting's report on the activity page: upload, the preview with the unmatched
listed, confirm, and a second confirm of the same upload recording nothing; bad files answered with the page."""

from __future__ import annotations

import codecs
import re

from db.tables import AuditLog, CheckIn
from tests import factories
from tests.conftest import log_in

REPORT = ("名前（元の名前）,ユーザー メール,参加時刻,退出時刻,期間（分）\r\n"
          "花子,hanako@example.jp,2026/11/14 19:58:03,2026/11/14 21:00:00,62\r\n"
          "知らない人,stranger@example.jp,2026/11/14 20:00:00,2026/11/14 20:10:00,10\r\n")


async def upload(client, activity_id: int, data: bytes):
    token = await client.ensure_csrf()
    return await client.post(f"/editor/activities/{activity_id}/attendance-report",
                             files={"report": ("participants.csv", data, "text/csv")}, data={"_csrf_token": token},
                             follow_redirects=False)


async def test_the_organiser_uploads_the_report_sees_matches_and_unmatched_and_records_them(client):
    area = await factories.area()
    editor = await factories.staff_account("勇払 編集 鈴木", role="editor", area=area)
    activity_id = await factories.activity(area, title="オンライン交流会", kind="online")
    await factories.member("花子", email="hanako@example.jp")
    await log_in(client, editor)
    page = await client.get(f"/editor/activities/{activity_id}")
    assert 'data-testid="report-form"' in page.text
    uploaded = await upload(client, activity_id, codecs.BOM_UTF8 + REPORT.encode())
    assert uploaded.status_code == 303
    preview_url = uploaded.headers["location"]
    preview = await client.get(preview_url)
    assert preview.status_code == 200
    assert re.findall(r'data-row="(\d+)" data-outcome="(\w+)"', preview.text) == [("2", "check_in"), ("3", "unmatched")]
    assert await CheckIn.count() == 0
    done = await client.submit(preview_url, follow_redirects=False)
    assert done.status_code == 303
    assert [row["method"] for row in await CheckIn.select(CheckIn.method)] == ["import"]
    assert 'data-method="import"' in (await client.get(f"/editor/activities/{activity_id}")).text
    again = await client.submit(preview_url, follow_redirects=False)  # the upload was used up
    assert again.status_code == 410
    assert await CheckIn.count() == 1
    assert await AuditLog.count().where(AuditLog.action == "check_in.import") == 1


async def test_a_file_that_is_no_report_is_explained_on_the_activity_page(client):
    area = await factories.area()
    activity_id = await factories.activity(area, kind="online")
    await log_in(client, await factories.staff_account())
    for data in (b"", "氏名,メール\n山田,a@example.jp\n".encode(), b"\x00\x01binary"):
        response = await upload(client, activity_id, data)
        assert response.status_code == 422
        assert 'data-testid="error-report"' in response.text
    assert (await client.get(f"/editor/activities/{activity_id}/attendance-report/unknown")).status_code == 410


async def test_an_editor_of_another_area_cannot_upload_a_report(client):
    area, other = await factories.area(), await factories.area("樽前", "tarumae")
    activity_id = await factories.activity(area, kind="online")
    await log_in(client, await factories.staff_account("樽前 編集", role="editor", area=other))
    response = await upload(client, activity_id, REPORT.encode())
    assert response.status_code == 403
