"""The handover page: staff see what an export holds and download it as a ZIP; the download is audited and
the file written for it does not stay on the server."""

import io
import json
import zipfile

from db.tables import AuditLog
from tests import factories
from tests.conftest import log_in


async def test_staff_see_what_the_export_holds(client):
    await log_in(client, await factories.staff_account())
    await factories.area()
    response = await client.get("/staff/handover")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert 'data-testid="handover-export"' in response.text and 'hx-boost="false"' in response.text
    assert "まだダウンロードはありません。" in response.text


async def test_the_download_is_a_zip_of_every_table_written_to_the_audit_log_and_not_kept(client, settings):
    staff = await factories.staff_account()
    await log_in(client, staff)
    await client.get("/staff/handover")
    response = await client.submit("/staff/handover/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    assert 'attachment; filename="tsunagu-handover-' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert "tables/account.csv" in archive.namelist()
    assert {t["name"]: t["rows"] for t in manifest["tables"]}["account"] == 1
    entry = await AuditLog.select().where(AuditLog.action == "export.zip").first().output(load_json=True)
    assert (entry["actor"], entry["target_type"], entry["detail"]["via"]) == (staff, "handover", "web")
    assert list((settings.var_dir / "handover").glob("*.zip")) == []
    page = await client.get("/staff/handover")
    assert "事務局 佐藤" in page.text and "まだダウンロードはありません。" not in page.text


async def test_the_export_needs_a_post_with_the_csrf_token(client):
    await log_in(client, await factories.staff_account())
    assert (await client.get("/staff/handover/export")).status_code == 405
    assert (await client.post("/staff/handover/export")).status_code == 403
    assert await AuditLog.count() == 0
