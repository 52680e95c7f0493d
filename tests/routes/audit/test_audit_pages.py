"""The secretariat's audit log and retention pages: for staff only, filters that explain bad input, pages,
the CSV for Excel (itself audited), the purge behind a confirmation; and what is recorded when staff open a
member's page or a member downloads their data."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from app.services.desk import asking, threads, validation
from app.services.shared import clock
from db.tables import AuditLog, Inquiry
from tests import factories
from tests.conftest import Client, log_in


async def staff_at(client: Client, name: str = "事務局 佐藤") -> int:
    staff_id = await factories.staff_account(name)
    await log_in(client, staff_id)
    return staff_id


async def entry(actor: int | None, action: str, target_type: str = "member", target_id: str = "1", **detail) -> None:
    await AuditLog.insert(AuditLog(actor=actor, action=action, target_type=target_type, target_id=target_id,
                                   detail=detail, created_at=clock.now()))


async def test_only_the_secretariat_sees_the_audit_log_and_the_retention_pages(client):
    area_id = await factories.area()
    for account in ((await factories.member()).account_id, await factories.staff_account("編集 鈴木", role="editor", area=area_id)):
        client.cookies.clear()
        await log_in(client, account)
        for path in ("/staff/audit-log", "/staff/audit-log/csv", "/staff/retention"):
            assert (await client.get(path)).status_code == 403, path
        assert (await client.submit("/staff/retention/purge", {"confirm": "purge"})).status_code == 403


async def test_the_log_lists_who_did_what_and_its_filters_narrow_it(client):
    sato = await staff_at(client)
    suzuki = await factories.staff_account("事務局 鈴木")
    await entry(sato, "member.view", target_id="7")
    await entry(suzuki, "wallet_pass.status", "wallet_pass", "3", reason="他人の利用")
    page = await client.get("/staff/audit-log")
    assert page.status_code == 200 and page.text.count('data-testid="audit-row"') == 2
    assert "会員のページを開いた" in page.text and "事務局 鈴木" in page.text and "他人の利用" in page.text
    narrowed = await client.get("/staff/audit-log", params={"actor": str(suzuki)})
    assert narrowed.text.count('data-testid="audit-row"') == 1 and "他人の利用" in narrowed.text
    fragment = await client.get("/staff/audit-log", params={"action": "member.view"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert fragment.text.count('data-testid="audit-row"') == 1


async def test_bad_filter_input_is_explained_on_the_page_not_a_500(client):
    await staff_at(client)
    for params, field in (({"date_from": "2026-13-01"}, "date_from"), ({"actor": "abc"}, "actor"),
                          ({"date_from": "2026-05-01", "date_to": "2026-04-01"}, "date_to"),
                          ({"action": "<script>"}, "action"), ({"date_to": "99999-01-01"}, "date_to")):
        response = await client.get("/staff/audit-log", params=params)
        assert response.status_code == 422, params
        assert f'data-testid="error-{field}"' in response.text or f'id="{field}-error"' in response.text, params
        assert 'data-testid="audit-filter-error"' in response.text
        csv_response = await client.get("/staff/audit-log/csv", params=params)
        assert csv_response.status_code == 422 and "text/html" in csv_response.headers["content-type"]
    fragment = await client.get("/staff/audit-log", params={"date_from": "昨日"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and "2026-04-01 のような形式で日付を入力してください。" in fragment.text
    assert (await client.get("/staff/audit-log", params={"page": "many"})).status_code == 200


async def test_the_log_comes_a_page_at_a_time_with_links_that_keep_the_filter(client):
    sato = await staff_at(client)
    for n in range(55):
        await entry(sato, "member.view", target_id=str(n))
    first = await client.get("/staff/audit-log", params={"action": "member.view"})
    assert first.text.count('data-testid="audit-row"') == 50 and 'data-testid="audit-older"' in first.text
    assert "action=member.view&amp;page=2" in first.text
    second = await client.get("/staff/audit-log", params={"action": "member.view", "page": "2"})
    assert second.text.count('data-testid="audit-row"') == 5 and 'data-testid="audit-newer"' in second.text


async def test_the_csv_opens_in_excel_and_downloading_it_is_recorded(client):
    sato = await staff_at(client)
    await entry(sato, "member.view", target_id="7")
    response = await client.get("/staff/audit-log/csv", params={"target_type": "member"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode()) and "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["日時", "操作した人", "役割", "操作"] and rows[1][1:5] == ["事務局 佐藤", "事務局", "会員のページを開いた", "member.view"]
    recorded = await AuditLog.select().where(AuditLog.action == "export.csv").first().output(load_json=True)
    assert (recorded["actor"], recorded["target_type"], recorded["detail"]) == (
        sato, "audit_log", {"rows": 1, "filters": {"target_type": "member"}})


async def test_opening_a_members_page_records_who_looked_at_whom(client):
    sato = await staff_at(client)
    member = await factories.member("見られる人")
    page = await client.get(f"/staff/members/{member.member_id}")
    assert page.status_code == 200 and 'data-testid="member-audit-link"' in page.text
    assert (await client.get("/staff/members/999999")).status_code == 404
    views = await AuditLog.select().where(AuditLog.action == "member.view")
    assert [(v["actor"], v["target_type"], v["target_id"]) for v in views] == [(sato, "member", str(member.member_id))]
    listed = await client.get("/staff/audit-log", params={"target_type": "member", "target_id": str(member.member_id)})
    assert listed.text.count('data-testid="audit-row"') == 1


async def test_a_members_download_of_their_data_is_recorded(client):
    member = await factories.member("自分のデータ")
    await log_in(client, member.account_id)
    assert (await client.get("/account/data")).status_code == 200
    entry_row = await AuditLog.select().where(AuditLog.action == "export.json").first()
    assert (entry_row["actor"], entry_row["target_type"], entry_row["target_id"]) == (
        member.account_id, "account", str(member.account_id))


async def old_closed_inquiry(staff: int) -> int:
    long_ago = clock.now() - timedelta(days=4 * 365)
    values = await validation.validate_inquiry(factories.inquiry_form(), now=long_ago)
    asked = await asking.create_inquiry(values, factories.desk_post(), now=long_ago)
    await threads.set_status(asked["id"], staff, "closed", now=long_ago + timedelta(days=1))
    return asked["id"]


async def test_the_retention_page_lists_what_is_past_the_period_and_purges_it_after_confirmation(client):
    staff = await staff_at(client)
    old = await old_closed_inquiry(staff)
    page = await client.get("/staff/retention")
    assert page.status_code == 200 and page.text.count('data-testid="due-inquiry"') == 1 and "1095" in page.text
    unconfirmed = await client.submit("/staff/retention/purge", {})
    assert unconfirmed.status_code == 422 and "チェックを入れて" in unconfirmed.text
    assert (await Inquiry.select(Inquiry.name).where(Inquiry.id == old).first())["name"] == "二地域 花子"
    no_csrf = await client.post("/staff/retention/purge", data={"confirm": "purge"})
    assert no_csrf.status_code == 403
    done = await client.submit("/staff/retention/purge", {"confirm": "purge"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/staff/retention"
    after = await client.get("/staff/retention")
    assert "削除しました：相談1件、メール1件。" in after.text and 'data-testid="nothing-due"' in after.text
    assert (await Inquiry.select(Inquiry.name).where(Inquiry.id == old).first())["name"] == "削除済み"
    assert await AuditLog.count().where((AuditLog.action == "retention.purge") & (AuditLog.actor == staff)) == 1


async def test_the_period_comes_from_the_settings(app, client, settings):
    app.state.settings = settings.with_(retention_days=20 * 365)
    staff = await staff_at(client)
    await old_closed_inquiry(staff)
    page = await client.get("/staff/retention")
    assert 'data-testid="nothing-due"' in page.text and "7300" in page.text
