"""The staff page of the portal as HTML files: what a build takes in, the button that builds it, when it was last
built and its size, the download; a build never leaves a page without scripts in the public page cache, and a
disk that refuses the file is told to staff rather than a 500."""

from __future__ import annotations

import io
import zipfile

from app.services.portal import static_export
from app.static_pages import page_fetcher
from db.tables import AuditLog
from tests import factories
from tests.conftest import log_in


async def staff_client(client) -> int:
    staff = await factories.staff_account()
    await log_in(client, staff)
    return staff


async def test_staff_build_the_html_and_download_it(client):
    staff = await staff_client(client)
    area = await factories.area()
    program = await factories.program(area, title="ほっき貝の浜で漁業体験")
    page = await client.get("/staff/portal/static")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'data-testid="static-export-none"' in page.text
    assert '<dd data-testid="static-export-programs">1</dd>' in page.text
    assert (await client.get("/staff/portal/static/portal-static.zip")).status_code == 404  # nothing built yet

    built = await client.submit("/staff/portal/static", follow_redirects=False)
    assert built.status_code == 303 and built.headers["location"] == "/staff/portal/static"
    page = await client.get("/staff/portal/static")
    assert 'data-testid="flash"' in page.text and 'data-testid="static-export-build"' in page.text
    assert "事務局 佐藤" in page.text and 'data-testid="static-export-download"' in page.text

    download = await client.get("/staff/portal/static/portal-static.zip")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert "portal-static-" in download.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert "index.html" in names and f"programs/{program}.html" in names and "en/index.html" in names
    entry = await AuditLog.select(AuditLog.actor, AuditLog.target_type).where(AuditLog.action == "portal.export").first()
    assert entry == {"actor": staff, "target_type": "portal"}


async def test_pages_rendered_for_the_html_files_never_reach_visitors_from_the_page_cache(client, app, settings):
    # Built straight through the service: the staff's POST would clear this process's cache when it ends anyway,
    # but visitors arriving while a build runs (or a build started another way) must not get its pages.
    await static_export.build(page_fetcher(app), app.route_reverse, settings.base_url, settings.default_locale,
                              settings.var_dir, None)
    for path in ("/", "/programs", "/articles"):
        visitor = await client.get(path)
        assert "<script" in visitor.text and 'name="csrf-token"' in visitor.text, path


async def test_a_disk_that_refuses_the_file_is_told_to_staff_with_nothing_recorded(client, settings):
    await staff_client(client)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    (settings.var_dir / "published").write_text("not a folder")  # where the archive's folder should be
    refused = await client.submit("/staff/portal/static", follow_redirects=False)
    assert refused.status_code == 303
    page = await client.get("/staff/portal/static")
    assert 'data-testid="flash"' in page.text and 'data-testid="static-export-none"' in page.text
    assert await AuditLog.count().where(AuditLog.action == "portal.export") == 0


async def test_members_and_editors_cannot_build_or_download(client):
    area = await factories.area()
    for account in ((await factories.member()).account_id, await factories.staff_account("編集", role="editor", area=area)):
        client.cookies.clear()
        client.csrf_token = ""
        await log_in(client, account)
        assert (await client.submit("/staff/portal/static")).status_code == 403
        assert (await client.get("/staff/portal/static/portal-static.zip")).status_code == 403
