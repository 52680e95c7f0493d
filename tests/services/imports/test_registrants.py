"""Registrant import: the mapping guessed from Japanese headers, the preview's outcome for each row, a run
that creates members without a passkey and mails each new one claim link once, a re-run that creates nothing,
and the audit entry."""

from __future__ import annotations

import codecs
from datetime import datetime, timezone

import pytest

from app.services.imports import columns, reader, registrants
from app.services.imports.columns import MappingRefused
from app.services.imports.registrants import ClaimMail
from app.services.imports.sources import CsvRegistrants
from app.services.membership import one_time_links
from app.settings import Smtp
from db.tables import Account, AuditLog, Member, OneTimeToken, OutboxMail, Passkey
from tests import factories

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
CLAIM = ClaimMail(Smtp(), "つなぐ", lambda token: f"https://tsunagu.example/recover/{token}")
HEADER = "会員ID,メールアドレス,氏名,フリガナ,都道府県,市区町村"


def source(*lines: str, header: str = HEADER, mapping: dict | None = None) -> CsvRegistrants:
    table = reader.read_table(codecs.BOM_UTF8 + "\r\n".join([header, *lines]).encode())
    return CsvRegistrants(table, mapping or columns.guess(table.headers), "registrants.csv", "ab" * 32)


def kinds(preview) -> list[tuple[int, str]]:
    return [(outcome.row, outcome.kind) for outcome in preview.outcomes]


def test_the_mapping_is_guessed_from_common_japanese_headers():
    headers = ("会員ID", "姓", "名", "セイ", "メイ", "メールアドレス（PC）", "住所（都道府県）", "市区町村", "備考")
    assert columns.guess(headers) == {"external_id": 0, "family_name": 1, "given_name": 2, "family_name_kana": 3,
                                      "given_name_kana": 4, "email": 5, "home_prefecture": 6, "home_municipality": 7}
    assert columns.guess(("氏名", "フリガナ", "Eメール")) == {"full_name": 0, "full_kana": 1, "email": 2}
    assert columns.guess(("姓（フリガナ）", "姓")) == {"family_name_kana": 0, "family_name": 1}


def test_a_mapping_without_an_email_or_a_name_column_is_refused():
    with pytest.raises(MappingRefused) as caught:
        columns.from_form({"external_id": "0"}, ("会員ID", "備考"))
    assert caught.value.reason == "no_key"
    with pytest.raises(MappingRefused) as caught:
        columns.from_form({"email": "7"}, ("会員ID", "備考"))
    assert caught.value.reason == "bad_column"
    assert columns.from_form({"email": "1", "full_name": ""}, ("会員ID", "メール")) == {"email": 1}


async def test_the_preview_says_for_each_row_new_match_duplicate_or_error():
    by_mail = await factories.member("花子", email="hanako@example.jp", family_name="山田", given_name="花子")
    await factories.member("次郎", family_name="髙橋", given_name="次郎", family_name_kana="たかはし",
                           given_name_kana="じろう")
    preview = await registrants.preview(source(
        "N-1,HANAKO@example.jp,山田 花子,ヤマダ ハナコ,東京都,世田谷区",   # 2: the member, by e-mail
        "N-2,,髙橋　次郎,タカハシ ジロウ,13,",                            # 3: the member, by name and kana
        "N-3,taro@example.jp,佐藤 太郎,サトウ タロウ,神奈川,横浜市",        # 4: new
        "N-3,taro@example.jp,佐藤 太郎,サトウ タロウ,神奈川,横浜市",        # 5: the same as row 4
        "N-5,not-an-address,鈴木 一郎,スズキ イチロウ,大阪府,",             # 6: error
        ",,鈴木 二郎,,大阪府,",                                           # 7: nothing to know him again by
        "N-7,ume@example.jp,,,,",                                        # 8: no name for a new member
        "N-8,kiku@example.jp,菊池 菊,キクチ キク,火星,",                   # 9: no such prefecture
    ))
    assert kinds(preview) == [(2, "match"), (3, "match"), (4, "new"), (5, "duplicate"), (6, "error"), (7, "error"),
                              (8, "error"), (9, "error")]
    first = preview.outcomes[0]
    assert (first.member["id"], first.matched_by, first.link_id) == (by_mail.member_id, "email", True)
    assert preview.outcomes[1].matched_by == "name"
    assert preview.outcomes[3].same_as == 4
    assert [o.problems for o in preview.outcomes[4:]] == [["bad_email"], ["no_key"], ["no_name"], ["bad_prefecture"]]
    assert preview.counts == {"new": 1, "match": 2, "duplicate": 1, "error": 4, "rows": 8, "mails": 1}
    assert await Member.count() == 2  # the dry run wrote nothing
    assert await AuditLog.count() == 0


async def test_two_members_with_the_same_name_and_reading_are_not_guessed_between():
    for _n in range(2):
        await factories.member("同姓", family_name="田中", given_name="一", family_name_kana="タナカ",
                               given_name_kana="ハジメ")
    preview = await registrants.preview(source(",,田中 一,たなか はじめ,,"))
    assert [o.problems for o in preview.outcomes] == [["ambiguous"]]


async def test_a_run_creates_members_without_a_passkey_mails_each_a_claim_link_once_and_is_audited():
    staff = await factories.staff_account()
    file = source("N-1,hanako@example.jp,山田 花子,ヤマダ ハナコ,東京都,世田谷区",
                  "N-2,,佐藤 太郎,サトウ タロウ,北海道,札幌市")
    result = await registrants.run(file, staff, "TMK", CLAIM, NOW)
    assert {k: result.counts[k] for k in ("created", "mails", "error")} == {"created": 2, "mails": 1, "error": 0}
    rows = await Member.select(Member.external_id, Member.family_name, Member.given_name_kana, Member.home_prefecture,
                               Member.member_no, Member.account.email, Member.account.last_login_at,
                               Member.account.id).order_by(Member.id)
    assert [(r["external_id"], r["family_name"], r["given_name_kana"], r["home_prefecture"]) for r in rows] == [
        ("N-1", "山田", "ハナコ", "13"), ("N-2", "佐藤", "タロウ", "01")]
    assert all(r["member_no"].startswith("TMK-") and r["account.last_login_at"] is None for r in rows)
    assert await Passkey.count() == 0  # nobody can log in as them until they claim the account
    mails = await OutboxMail.select(OutboxMail.to_address, OutboxMail.body, OutboxMail.purpose)
    assert [(m["to_address"], m["purpose"]) for m in mails] == [("hanako@example.jp", "import_claim")]
    token = mails[0]["body"].split("https://tsunagu.example/recover/")[1].split()[0]
    assert (await OneTimeToken.select(OneTimeToken.purpose).first())["purpose"] == "recovery"
    claimed = await one_time_links.use_recovery(token)  # the link opens the recovery flow: add a passkey
    assert claimed["id"] == rows[0]["account.id"]
    assert (await Account.select(Account.email_verified_at).where(Account.id == claimed["id"]).first())[
        "email_verified_at"] is not None  # the link reached the address: it is confirmed
    entry = await AuditLog.select().where(AuditLog.id == result.audit_id).first().output(load_json=True)
    assert (entry["actor"], entry["action"], entry["detail"]["source"], entry["detail"]["created"]) == (
        staff, "import.registrants", "registrants.csv", 2)


async def test_running_the_same_file_again_creates_nothing_and_mails_nobody_again():
    staff = await factories.staff_account()
    lines = ("N-1,hanako@example.jp,山田 花子,ヤマダ ハナコ,東京都,", ",taro@example.jp,佐藤 太郎,,,",
             ",,鈴木 一郎,スズキ イチロウ,,")
    await registrants.run(source(*lines), staff, "TMK", CLAIM, NOW)
    again = await registrants.run(source(*lines), staff, "TMK", CLAIM, NOW)
    assert (again.counts["created"], again.counts["matched"], again.counts["mails"]) == (0, 3, 0)
    assert [o.matched_by for o in again.outcomes] == ["external_id", "email", "name"]
    assert (await Member.count(), await OutboxMail.count()) == (3, 2)


async def test_a_member_found_by_email_gets_the_source_id_so_the_next_file_finds_them_by_it():
    staff = await factories.staff_account()
    member = await factories.member("花子", email="hanako@example.jp")
    result = await registrants.run(source("N-9,hanako@example.jp,山田 花子,,,"), staff, "TMK", CLAIM, NOW)
    assert (result.counts["matched"], result.counts["linked"]) == (1, 1)
    assert (await Member.select(Member.external_id).where(Member.id == member.member_id).first())["external_id"] == "N-9"
    # The address changed in the source since: the id still finds them, and their own profile is left alone.
    preview = await registrants.preview(source("N-9,new@example.jp,山田 花子,,,"))
    assert [(o.kind, o.matched_by) for o in preview.outcomes] == [("match", "external_id")]


async def test_an_unclaimed_account_can_ask_for_its_link_again_at_the_recovery_page():
    staff = await factories.staff_account()
    await registrants.run(source("N-1,hanako@example.jp,山田 花子,,,"), staff, "TMK", CLAIM, NOW)
    assert await one_time_links.recovery_account_for_email("hanako@example.jp") is not None
    await factories.member("未確認", email="unconfirmed@example.jp")  # has a passkey, address not confirmed
    assert await one_time_links.recovery_account_for_email("unconfirmed@example.jp") is None


def test_an_unreadable_row_of_the_file_is_an_error_of_that_row():
    lines = [HEADER.encode("cp932"), "N-1,a@example.jp,山田 花子,,,".encode("cp932"), b"N-2,b@example.jp,\x81\xff,,,"]
    table = reader.read_table(b"\r\n".join(lines))
    people = list(CsvRegistrants(table, columns.guess(table.headers), "x.csv", "00").registrants())
    assert [(p.row, p.unreadable, p.family_name) for p in people] == [(2, "", "山田"), (3, "unreadable", "")]


async def test_the_sample_file_in_docs_reads_as_the_readme_says():
    """docs/samples/registrants-shift_jis.csv (an Excel export of a CRM, Shift_JIS): six rows, one of them with
    an e-mail address that is not valid; the others new members."""
    from pathlib import Path

    data = (Path(__file__).resolve().parents[3] / "docs" / "samples" / "registrants-shift_jis.csv").read_bytes()
    table = reader.read_table(data)
    preview = await registrants.preview(CsvRegistrants(table, columns.guess(table.headers), "sample.csv", "cd" * 32))
    assert [kind for _row, kind in kinds(preview)].count("new") == 5
    assert [row for row, kind in kinds(preview) if kind not in ("new",)] == [5]


async def test_someone_who_deleted_their_account_is_not_imported_again_and_their_held_file_goes(tmp_path):
    """APPI: a later import of the municipality's list leaves out whoever deleted their account here (known by
    a one-way hash of their address and source id), and an import file waiting for its next step that names
    them is deleted with the account."""
    from app.services.imports import held
    from app.services.membership import erasure

    first = source("SF-9,leaving@example.jp,退会 する,タイカイ スル,東京都,世田谷区")
    await registrants.run(first, None, "TMK", CLAIM, NOW)
    member = await Member.select(Member.account).where(Member.external_id == "SF-9").first()
    waiting = held.hold(tmp_path, "氏名,メール\r\n退会 する,LEAVING@example.jp\r\n".encode(), "next.csv", 1, "registrants")
    other = held.hold(tmp_path, "氏名,メール\r\n別 の人,other@example.jp\r\n".encode(), "other.csv", 1, "registrants")
    await erasure.delete_account(member["account"], var_dir=tmp_path)
    assert held.load(tmp_path, waiting, 1, "registrants") is None
    assert held.load(tmp_path, other, 1, "registrants") is not None
    for again in (first, source(",LEAVING@example.jp,退会 する,タイカイ スル,東京都,世田谷区"),
                  source("SF-9,,退会 する,タイカイ スル,東京都,世田谷区")):
        preview = await registrants.preview(again)
        assert [(o.kind, o.problems) for o in preview.outcomes] == [("error", ["erased"])]
    result = await registrants.run(first, None, "TMK", CLAIM, NOW)
    assert result.counts["created"] == 0 and await Member.count().where(Member.external_id == "SF-9") == 0
