"""The secretariat's registrant import screens: upload, columns (the guess chosen), the preview, the run and its
result; bad files get a page that says what to do, never a server error."""

from __future__ import annotations

import codecs
import re

from db.tables import AuditLog, Member, OutboxMail
from tests import factories
from tests.authenticator import SoftwareAuthenticator
from tests.conftest import log_in
from tests.passkey_client import create_passkey

FILE = "会員ID,メールアドレス,姓,名,セイ,メイ,都道府県\r\nN-1,hanako@example.jp,山田,花子,ヤマダ,ハナコ,東京都\r\n" \
       "N-2,bad-address,佐藤,太郎,サトウ,タロウ,大阪府\r\n"


async def upload(client, data: bytes, filename: str = "registrants.csv"):
    token = await client.ensure_csrf()
    return await client.post("/staff/imports/registrants", files={"file": (filename, data, "text/csv")},
                             data={"_csrf_token": token}, follow_redirects=False)


async def staff(client) -> int:
    account = await factories.staff_account()
    await log_in(client, account)
    return account


async def test_a_shift_jis_file_goes_from_upload_through_columns_and_preview_to_the_result(client):
    await staff(client)
    existing = await factories.member("花子", email="hanako@example.jp")
    uploaded = await upload(client, FILE.encode("cp932"))
    assert uploaded.status_code == 303
    columns_url = uploaded.headers["location"]
    page = await client.get(columns_url)
    assert page.status_code == 200
    assert re.search(r'data-testid="column-email">\s*<option value="">[^<]*</option>\s*<option value="0" >[^<]*</option>'
                     r'\s*<option value="1" selected>', page.text)
    assert "山田" in page.text  # a sample row, read from Shift_JIS
    mapping = {"external_id": "0", "email": "1", "family_name": "2", "given_name": "3", "family_name_kana": "4",
               "given_name_kana": "5", "home_prefecture": "6"}
    preview = await client.get(f"{columns_url}/preview", params=mapping)
    assert preview.status_code == 200
    rows = re.findall(r'data-row="(\d+)" data-outcome="(\w+)"', preview.text)
    assert sorted(rows) == [("2", "match"), ("3", "error")]
    assert 'data-problem="bad_email"' in preview.text
    assert f'/staff/members/{existing.member_id}"' in preview.text
    assert await AuditLog.count() == 0  # the dry run wrote nothing
    run = await client.submit(f"{columns_url}/run", mapping, follow_redirects=False)
    assert run.status_code == 303
    result = await client.get(run.headers["location"])
    assert result.status_code == 200
    assert 'data-testid="count-matched" data-count="1"' in result.text
    assert 'data-testid="count-error" data-count="1"' in result.text
    assert (await Member.select(Member.external_id).where(Member.id == existing.member_id).first())["external_id"] == "N-1"
    # The file was taken by the run: running it again from the same page runs nothing.
    again = await client.submit(f"{columns_url}/run", mapping, follow_redirects=False)
    assert again.status_code == 410
    assert await AuditLog.count() == 1


async def test_a_new_person_becomes_a_member_and_is_mailed_a_claim_link(client):
    await staff(client)
    uploaded = await upload(client, codecs.BOM_UTF8 + "メールアドレス,氏名,フリガナ\nume@example.jp,梅田 梅子,ウメダ ウメコ\n".encode())
    columns_url = uploaded.headers["location"]
    run = await client.submit(f"{columns_url}/run", {"email": "0", "full_name": "1", "full_kana": "2"},
                              follow_redirects=False)
    assert run.status_code == 303
    assert await Member.count() == 1
    mail = await OutboxMail.select(OutboxMail.to_address, OutboxMail.body).first()
    assert mail["to_address"] == "ume@example.jp" and "http://localhost:8000/recover/" in mail["body"]


async def test_bad_files_get_a_page_that_says_what_to_do(client):
    await staff(client)
    for data in (b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(0x80, 0x100)) * 3, b"a,b\n",
                 b"a,b\n" + b"1,2\n" * 5001):
        response = await upload(client, data)
        assert response.status_code == 422, data[:20]
        assert 'data-testid="import-error"' in response.text
    no_file = await client.submit("/staff/imports/registrants", {"file": "not a file"})
    assert no_file.status_code == 422


async def test_a_mapping_without_an_email_or_name_column_shows_the_columns_again(client):
    await staff(client)
    uploaded = await upload(client, "会員ID,備考\nN-1,メモ\n".encode())
    columns_url = uploaded.headers["location"]
    response = await client.get(f"{columns_url}/preview", params={"external_id": "0"})
    assert response.status_code == 422
    assert 'data-testid="import-error"' in response.text
    assert (await client.get(f"{columns_url}/preview", params={"email": "99"})).status_code == 422


async def test_a_held_file_is_only_for_the_person_who_uploaded_it(client):
    await staff(client)
    uploaded = await upload(client, FILE.encode())
    columns_url = uploaded.headers["location"]
    await staff(client)  # another member of the secretariat
    assert (await client.get(columns_url)).status_code == 410
    assert (await client.get("/staff/imports/registrants/not-a-token")).status_code == 410


async def test_the_console_and_the_members_list_link_to_the_import(client):
    await staff(client)
    for path in ("/staff", "/staff/members"):
        assert "/staff/imports/registrants" in (await client.get(path)).text


async def test_claiming_an_imported_account_is_a_welcome_and_leads_to_the_card(client):
    """The claim link of an account that never had a passkey: the page and the landing say welcome, not
    "welcome back"; the person ends on their member card, logged in with the new passkey."""
    await staff(client)
    uploaded = await upload(client, codecs.BOM_UTF8 + "メールアドレス,氏名,フリガナ\nume@example.jp,梅田 梅子,ウメダ ウメコ\n".encode())
    await client.submit(f"{uploaded.headers['location']}/run", {"email": "0", "full_name": "1", "full_kana": "2"})
    body = (await OutboxMail.select(OutboxMail.body).first())["body"]
    path = re.search(r"http://localhost:8000(/recover/\S+)", body).group(1)
    client.cookies.clear()  # the person, on their own phone
    client.csrf_token = ""
    claim = await client.get(path)
    assert 'data-testid="passkey-claim"' in claim.text
    finished = await create_passkey(client, SoftwareAuthenticator())
    assert finished.status_code in (200, 201) and finished.json()["redirect"] == "/card"
    card = await client.get("/card")
    assert card.status_code == 200 and 'data-testid="member-card"' in card.text


async def test_the_claim_mail_is_in_the_sites_language_whatever_the_staff_read(client):
    await staff(client)
    await client.submit("/locale", {"lang": "en", "next": "/staff"})
    uploaded = await upload(client, codecs.BOM_UTF8 + "メールアドレス,氏名\nsakura@example.jp,桜井 さくら\n".encode())
    await client.submit(f"{uploaded.headers['location']}/run", {"email": "0", "full_name": "1"})
    mail = await OutboxMail.select(OutboxMail.subject, OutboxMail.body).first()
    assert "ふるさと住民" in mail["subject"] and "様" in mail["body"]
