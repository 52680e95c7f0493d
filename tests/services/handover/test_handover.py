"""Handover round trip: a varied data set (every table, awkward values on purpose) is exported, restored into
a fresh, empty, migrated database — a second SQLite file, and PostgreSQL when one is reachable — and every
table is compared row by row, and the KPI dashboard shows the same figures. Also what a restore refuses,
and that a refused restore leaves nothing behind.

The source is the test database (SQLite, or PostgreSQL with TSUNAGU_TEST_DB=postgres); the targets are in
conftest.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from piccolo.columns import JSON
from PIL import Image

from app.keyfile import new_signing_key
from app.services.dashboard import kpi
from app.services.handover import archive_format, export, restore, schema
from app.services.handover.restore import HandoverRefused
from app.services.membership import login_sessions
from app.services.shared import clock, uploads
from app.services.shared.signed_tokens import TokenError, TokenSigner
from db.tables import (
    Area,
    Article,
    AuditLog,
    AuthChallenge,
    Budget,
    Campaign,
    CampaignVisit,
    CheckIn,
    Conflict,
    Delivery,
    DeskMail,
    DiaryEntry,
    Digest,
    ErasedIdentity,
    Incident,
    Inquiry,
    InquiryMessage,
    Invitation,
    JourneyEvent,
    JourneyRule,
    KpiTarget,
    LineDelivery,
    LineLink,
    LineLinkNonce,
    Member,
    Notice,
    Notification,
    OneTimeToken,
    OutboxMail,
    PageView,
    PageViewSeen,
    Passkey,
    PortalBlock,
    PremiumApplication,
    PushPreference,
    PushSubscription,
    RateCount,
    Redemption,
    ReplyTemplate,
    ReportSection,
    Revision,
    Spending,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    TravelClaim,
    TravelSubsidy,
)
from tests import factories
from tests.services.handover.conftest import bound_to, command, refused

NOW = datetime(2026, 11, 20, 3, 4, 5, 123456, tzinfo=timezone.utc)  # fiscal year 2026
FISCAL_YEAR = 2026
# Texts that a careless format would change: NULL look-alikes, separators, quotes, line ends, formulas.
AWKWARD = ["\\N", "\\", "\\\\N", "", "カンマ,と\"引用符\"", "一行目\r\n二行目\n三行目", "=HYPERLINK(\"x\")", "🐟 ほっき貝", " 前後の空白 "]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


async def row(table, **values) -> int:
    item = table(**values)
    await item.save()
    return item.id


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), "seagreen").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


# The data set -----------------------------------------------------------------------------------------


async def data_set(var_dir: Path) -> dict:
    """One of everything, several of some, with the values most likely to break a CSV round trip."""
    yufutsu = await factories.area()
    tarumae = await factories.area("樽前・錦岡", "tarumae")
    shop_id, offer_ids = await factories.shop_with_offers(
        "海鮮食堂 ほっき屋", {"limit_kind": "once"},
        {"limit_kind": "per_day", "limit_count": 2, "valid_from": date(2026, 4, 1), "valid_to": date(2027, 3, 31),
         "premium_only": True},
        area_id=yufutsu,
    )
    pass_id = await factories.entry_pass(*offer_ids, requires_stay=True, premium_only=True)
    staff = await factories.staff_account()
    editor = await factories.staff_account("編集 鈴木", role="editor", area=yufutsu)
    counter = await factories.staff_account("店舗 田中", role="shop", shop=shop_id)

    members = []
    for n, text in enumerate(AWKWARD):
        registered = await factories.member(
            f"会員{n}", email=f"m{n}@example.jp" if n % 2 else "", verified=n % 3 == 0,
            home_prefecture=["13", "27", "01"][n % 3], ties=["workation", "furusato_tax"][: n % 3],
            area_ids=[yufutsu] if n % 2 else [yufutsu, tarumae], family_name=text[:50],
        )
        members.append(registered)
    await Member.update({Member.premium_until: date(2027, 3, 31), Member.tier: "premium",
                         Member.home_municipality: "大阪市,北区"}).where(Member.id == members[1].member_id)
    await row(Passkey, account=staff, credential_id="staff-key", public_key=bytes(range(256)), sign_count=2**40,
              transports=["usb", "nfc"], backed_up=False, last_used_at=NOW)
    await login_sessions.start(members[0].account_id, "Mozilla/5.0 \"quoted\", with commas")
    await row(AuthChallenge, challenge="c" * 43, purpose="login", expires_at=NOW + timedelta(minutes=5))
    await row(RateCount, key="auth:2001:db8:1:2::/64", window_ends=2**40, hits=3)
    await row(OneTimeToken, token_hash="a" * 64, purpose="recovery", account=members[0].account_id, created_by=staff,
              expires_at=NOW + timedelta(minutes=15), used_at=NOW)
    await row(Invitation, token_hash="b" * 64, role="editor", area=tarumae, created_by=staff,
              expires_at=NOW + timedelta(days=7), note="\\N")

    campaign = await row(Campaign, slug="station", name="駅ポスター", source=AWKWARD[4], kind="poster", target="/passes",
                         poster_text=AWKWARD[5], created_by=staff, created_at=NOW, updated_at=NOW)
    await row(CampaignVisit, campaign=campaign, month="2026-11", visits=42)
    await row(PageView, month="2026-11", kind="portal", views=1234)
    await row(PageViewSeen, day="2026-11-03", digest=2**62 + 7, kind="portal")
    await Member.update({Member.campaign: campaign}).where(Member.id == members[0].member_id)
    wallet_ids = []
    for n, registered in enumerate(members[:4]):
        wallet_id, _code = await factories.wallet_pass(registered.member_id, pass_id, NOW - timedelta(days=n + 1),
                                                      stay_from=date(2026, 11, 1), stay_to=date(2026, 11, 30))
        wallet_ids.append(wallet_id)
        await row(Redemption, wallet_pass=wallet_id, offer=offer_ids[0], shop=shop_id, limit_key="once", slot=1,
                  scanned_by=counter, client_nonce=f"nonce-{n}", home_prefecture="13",
                  redeemed_at=NOW - timedelta(days=n, hours=3), undone_at=NOW if n == 3 else None)
    await row(Budget, area=yufutsu, fiscal_year=2026, amount=450_000, updated_by=counter, updated_at=NOW)
    receipt = await uploads.store(await uploads.prepare_attachment(photo()), var_dir, counter, private=True)
    await row(Spending, area=yufutsu, fiscal_year=2026, spent_on=date(2026, 11, 18), payee=AWKWARD[4], purpose=AWKWARD[6],
              amount=12_000, receipt_url=receipt, over_reason=AWKWARD[5], entered_by=counter, created_at=NOW)
    await row(DiaryEntry, day=date(2026, 11, 19), author=counter, work=AWKWARD[0], minutes=90,
              refs=[{"kind": "program", "id": 1}])
    await row(Incident, occurred_at=NOW - timedelta(days=1), title="交流会でのけが", what_happened=AWKWARD[1],
              told="県 政策推進課", told_at=NOW, created_by=counter)
    await row(Conflict, wallet_pass=wallet_ids[0], offer=offer_ids[0], shop=shop_id, scanned_by=counter,
              client_nonce="offline-1", reason="already_used", home_prefecture="13", scanned_at=NOW - timedelta(hours=2),
              received_at=NOW - timedelta(hours=1))

    program_id = await factories.program(yufutsu, editor, title="湿原の木道づくり", themes=["nature", "作業"],
                                         questions=["参加の動機は？", "アレルギー"], body=AWKWARD[5], seats_taken=2,
                                         starts_at=utc(2026, 10, 1, 0, 0), ends_at=utc(2026, 10, 1, 6, 0))
    await factories.program(tarumae, None, title="オンライン交流会", kind="event", status="draft", published_at=None)
    for registered in members[:2]:
        await factories.attendance(program_id, registered.member_id)
    await row(TravelSubsidy, program=program_id, scheme="関係人口来県支援交通費補助金", organiser=AWKWARD[4], max_amount=20_000,
              transports=["rail", "air"], deadline=date(2026, 10, 31), conditions=AWKWARD[5], updated_by=staff, updated_at=NOW)
    await row(TravelClaim, program=program_id, member=members[0].member_id, fiscal_year=2026, status="paid",
              departure=AWKWARD[7], route=AWKWARD[5], transports=["air", "rail"], outbound_on=date(2026, 9, 30),
              return_on=date(2026, 10, 2), fare=32_400, max_amount=20_000, amount=20_000, approved_amount=18_000,
              receipts=["/uploads/" + "b" * 32 + ".pdf"], note=AWKWARD[6], submitted_at=NOW, decided_by=staff, decided_at=NOW,
              paid_on=date(2026, 11, 20), paid_by=staff)
    await row(TravelClaim, program=program_id, member=members[1].member_id, fiscal_year=2026, departure="札幌市",
              route="JR", transports=["rail"], outbound_on=date(2026, 10, 1), return_on=date(2026, 10, 1), fare=9_000,
              max_amount=20_000, amount=9_000)
    await factories.attendance(program_id, members[2].member_id, status="waitlisted")
    activity_id = await factories.activity(yufutsu, title="浜のごみ拾い", description=AWKWARD[5], capacity=30,
                                           map_url="https://maps.example.jp/?q=42.6,141.6")
    await row(CheckIn, activity=activity_id, member=members[0].member_id, day=date(2026, 11, 3), method="code",
              client_nonce="n-activity-1", scanned_at=utc(2026, 11, 3, 1, 0))
    await row(CheckIn, activity=activity_id, member=members[1].member_id, day=date(2026, 11, 4), method="hand",
              scanned_at=utc(2026, 11, 4, 1, 0), recorded_by=staff, reason=AWKWARD[4])
    await row(PremiumApplication, member=members[0].member_id, status="approved", home_municipality="東京都 世田谷区",
              other_municipalities=[{"name": "山口市", "state": "holding"}], evidence=[{"title": AWKWARD[4], "day": "2026-11-03"}],
              decided_by=staff, decided_at=NOW, certificate_no="P2026-000001", valid_from=date(2026, 11, 20),
              valid_until=date(2027, 11, 19))
    await row(JourneyEvent, rule="premium_ends_in_30", member=members[0].member_id, cause="2027-11-19", fired_at=NOW)
    await row(ErasedIdentity, key_hash="9f" * 32, erased_at=NOW)
    await row(JourneyRule, fiscal_year=FISCAL_YEAR, rule="warm_lead", enabled=True, assignee=staff, updated_by=staff,
              updated_at=NOW)

    cover = await uploads.save_image(photo(), var_dir, editor)
    article_id = await row(Article, title="移住者インタビュー", lead=AWKWARD[4], body=AWKWARD[6], cover_image=cover,
                           program=program_id, area=yufutsu, status="published", author=editor, published_at=NOW)
    await row(Revision, article=article_id, author=editor, version=3,
              proposed={"title": AWKWARD[4], "body": AWKWARD[5], "program": program_id})
    await row(PortalBlock, kind="hero", key="hero", title="海と森のまち", fields={"image": cover, "image_alt": "海"})
    await row(PortalBlock, kind="featured", key="featured", title="featured",
              fields={"programs": [program_id], "articles": [article_id]})
    await row(PortalBlock, kind="link", key="hidden", title="非公開", url="https://example.jp/", active=False)

    await row(Notice, account=members[0].account_id, title="採択のお知らせ", body=AWKWARD[5], read_at=NOW)
    subscription = await row(PushSubscription, account=members[0].account_id, endpoint="https://push.example/1",
                             p256dh="p" * 87, auth="a" * 22)
    await row(PushPreference, account=members[0].account_id, programs="all", events=False)
    notification = await row(Notification, topic="news", title="お知らせ", target={"areas": [yufutsu], "tier": None},
                             created_by=staff, status="fanned_out", recipients=1)
    await row(Delivery, notification=notification, subscription=subscription, status="sent", attempts=1, sent_at=NOW)
    await row(Delivery, notification=notification, subscription=None, status="expired", last_error="HTTP 410")
    line_link = await row(LineLink, account=members[0].account_id, line_user_id="U" + "0123456789abcdef" * 2,
                          status="blocked", linked_at=NOW, changed_at=NOW)
    await row(LineLinkNonce, nonce_hash="f" * 64, account=members[1].account_id, created_at=NOW, expires_at=NOW)
    await row(LineDelivery, notification=notification, line_link=line_link, status="sent", attempts=2, sent_at=NOW,
              last_error="HTTP 429")
    await row(LineDelivery, notification=notification, line_link=None, status="skipped", last_error="unlinked")
    await Member.update({Member.digest_since: NOW - timedelta(days=30)}).where(Member.id == members[0].member_id)
    digest_mail = await row(OutboxMail, to_address="m0@example.jp", subject="【つなぐ】今週の新着1件", body=AWKWARD[5],
                            message_id="<digest@example.jp>", purpose="digest", status="sent", sent_at=NOW,
                            headers={"List-Unsubscribe": "<https://tsunagu.example.jp/mail/unsubscribe/ABC>",
                                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    await row(Digest, member=members[0].member_id, week=date(2026, 11, 13), covered_until=NOW - timedelta(days=7),
              programs=1, articles=0, mail=digest_mail, created_at=NOW - timedelta(days=7))
    await row(Digest, member=members[0].member_id, week=date(2026, 11, 20), covered_until=NOW, created_at=NOW)

    survey_id = await factories.open_survey(
        [{"kind": "single", "key": "intent_to_move", "text": "移住を考えていますか", "options": ["はい", "いいえ"]},
         {"kind": "long", "text": "ご感想", "required": False}],
        [m.account_id for m in members[:3]], program=program_id, follow_up_days=7, made_by_rule="follow_up_survey",
    )
    questions = await SurveyQuestion.select(SurveyQuestion.id).where(SurveyQuestion.survey == survey_id).order_by(
        SurveyQuestion.position)
    response = await row(SurveyResponse, survey=survey_id, account=members[0].account_id, home_prefecture="13",
                         submitted_at=NOW)
    await row(SurveyAnswer, response=response, question=questions[0]["id"], choice=0)
    await row(SurveyAnswer, response=response, question=questions[1]["id"], text=AWKWARD[5], hidden=True)

    await factories.inquiry(name="二地域 花子", message=AWKWARD[4])
    inquiry_id = await row(Inquiry, reference="Q-2611-TEST", name="電話 太郎", phone="0144-32-6111",
                           contact_method="phone", category="migration", channel="phone", status="closed",
                           assignee=staff)
    message = await row(InquiryMessage, inquiry=inquiry_id, kind="asker", body=AWKWARD[3], channel="email")
    await row(DeskMail, mailbox="desk@imap.example:993/INBOX", uidvalidity=2**32 - 1, uid=42,
              message_key="<手紙@example.jp>", status="done", inquiry=inquiry_id, message=message,
              from_address="denwa@example.jp", from_name="電話 太郎", subject=AWKWARD[1], full_text=AWKWARD[4],
              attachments=[{"filename": "間取り.exe", "refused": "not_image"}], problems=["attachment_refused"],
              sent_at=NOW)
    await row(InquiryMessage, inquiry=inquiry_id, kind="note", author=staff, body=AWKWARD[0], channel="phone")
    await row(ReplyTemplate, title="住まいの案内", body="空き家バンクは…", updated_by=staff)
    await row(KpiTarget, fiscal_year=FISCAL_YEAR, metric="registrations", area_id=0, value=500, updated_by=staff)
    await row(KpiTarget, fiscal_year=FISCAL_YEAR, metric="participants", area_id=yufutsu, value=40)
    await row(ReportSection, fiscal_year=FISCAL_YEAR, key="effects", body=AWKWARD[5])
    await row(AuditLog, actor=staff, action="member.tier", target_type="member", target_id=str(members[1].member_id),
              detail={"from": "basic", "to": "premium", "note": "三回以上の活動 ✓", "nested": {"list": [1, None, True]}})
    return {"areas": [yufutsu, tarumae], "cover": cover, "receipt": receipt, "members": members}


# Comparing databases ----------------------------------------------------------------------------------


async def snapshot() -> dict[str, list[dict]]:
    """Every row of every table, in id order, JSON parsed (its text may be spaced differently per engine)."""
    out = {}
    for table in schema.tables():
        json_columns = [c._meta.name for c in table._meta.columns if isinstance(c, JSON)]
        rows = await table.select().order_by(table._meta.primary_key)
        for item in rows:
            for name in json_columns:
                item[name] = json.loads(item[name]) if isinstance(item[name], str) else item[name]
        out[table._meta.tablename] = rows
    return out


async def figures() -> list:
    """The dashboard for the region and for each area."""
    areas = await Area.select(Area.id).order_by(Area.id)
    return [await kpi.dashboard(FISCAL_YEAR, None)] + [await kpi.dashboard(FISCAL_YEAR, a["id"]) for a in areas]


# The round trip -----------------------------------------------------------------------------------------


async def test_every_table_comes_back_row_for_row_and_the_dashboard_shows_the_same_figures(target, tmp_path):
    source_var, target_var = tmp_path / "source", tmp_path / "target"
    made = await data_set(source_var)
    published = source_var / archive_format.PUBLISHED  # the portal as HTML files, as last built (a stand-in here)
    published.parent.mkdir(parents=True)
    published.write_bytes(b"PK\x05\x06" + bytes(18))
    archive = tmp_path / "handover.zip"
    summary = await export.export_archive(archive, source_var, actor_id=None, via="test")
    before = await snapshot()
    assert all(before.values()), f"tables without rows in the data set: {[t for t, r in before.items() if not r]}"
    assert summary.rows == {name: len(rows) for name, rows in before.items()}
    dashboard_before = await figures()

    with bound_to(target):
        restored = await restore.restore_archive(archive, target_var)
        after = await snapshot()
        dashboard_after = await figures()
        new_area = await Area.insert(Area(slug="new", name="新しい地域")).returning(Area.id)

    assert restored.rows == summary.rows and restored.uploads == 2
    restore_entry = after["audit_log"].pop()
    assert restore_entry["action"] == "handover.restore"
    assert restore_entry["id"] == before["audit_log"][-1]["id"] + 1  # ids continue after the restored ones
    for name in before:
        assert after[name] == before[name], f"{name} differs after the round trip"
    assert dashboard_after == dashboard_before
    assert any(metric.actual for metric in dashboard_before[0].metrics), "the dashboard has figures to compare"
    assert new_area[0]["id"] == max(made["areas"]) + 1
    for url in (made["cover"], made["receipt"]):
        name = uploads.name_of(url)
        assert (uploads.directory(target_var) / name).read_bytes() == (uploads.directory(source_var) / name).read_bytes()
    private = {row["name"]: row["private"] for row in after["upload"]}
    assert private == {uploads.name_of(made["cover"]): False, uploads.name_of(made["receipt"]): True}
    assert (target_var / archive_format.PUBLISHED).read_bytes() == published.read_bytes()


async def test_the_export_is_one_audited_moment_with_a_manifest_of_checksums(tmp_path):
    staff = await factories.staff_account()
    await data_set(tmp_path)
    archive = tmp_path / "handover.zip"
    await export.export_archive(archive, tmp_path, actor_id=staff, via="web")
    entry = await AuditLog.select().where(AuditLog.action == "export.zip").first().output(load_json=True)
    assert (entry["actor"], entry["target_type"], entry["detail"]["via"], entry["detail"]["uploads"]) == (
        staff, "handover", "web", 2)
    with zipfile.ZipFile(archive) as opened:
        manifest = json.loads(opened.read("manifest.json"))
        for name, checksum in manifest["files"].items():
            assert hashlib.sha256(opened.read(name)).hexdigest() == checksum
        audit_csv = opened.read("tables/audit_log.csv").decode("utf-8")
        member_csv = opened.read("tables/member.csv").decode("utf-8")
        challenge_csv = opened.read("tables/auth_challenge.csv").decode("utf-8")
    assert [t["name"] for t in manifest["tables"]] == [t._meta.tablename for t in schema.tables()]
    assert manifest["migrations"] == await schema.applied_migrations()
    assert datetime.fromisoformat(manifest["created_at"]) == NOW
    assert audit_csv.startswith("\ufeffid,actor,action,") and "export.zip" in audit_csv  # the export logs itself
    assert "\\N" in member_csv and "\\\\N" in member_csv  # NULL, and the text \N written with one more backslash
    assert "2026-11-20T12:09:05.123456+09:00" in challenge_csv  # five minutes after NOW, in Japan time


async def test_the_commands_export_and_restore_as_the_readme_says(database_url, empty_sqlite, tmp_path):
    await data_set(tmp_path / "source")
    archive = tmp_path / "handover.zip"
    exported = command("export", str(archive), database_url=database_url, var_dir=tmp_path / "source")
    assert exported.returncode == 0, exported.stderr
    assert "2 uploads" in exported.stdout
    restored = command("restore", str(archive), database_url=empty_sqlite, var_dir=tmp_path / "target")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("restored ")
    again = command("restore", str(archive), database_url=empty_sqlite, var_dir=tmp_path / "target")
    assert again.returncode == 1 and "データベースが空ではありません" in again.stderr
    entry = await AuditLog.select().where(AuditLog.action == "export.zip").first().output(load_json=True)
    assert (entry["actor"], entry["detail"]["via"]) == (None, "command line")


def test_values_are_written_so_that_they_read_back_exactly():
    member = {c._meta.name: c for c in Member._meta.columns}
    passkey = {c._meta.name: c for c in Passkey._meta.columns}
    for text in AWKWARD:
        assert archive_format.decode(member["family_name"], archive_format.encode(member["family_name"], text)) == text
    assert archive_format.encode(member["premium_until"], None) == "\\N"
    assert archive_format.encode(member["consent_at"], NOW) == "2026-11-20T12:04:05.123456+09:00"
    assert archive_format.decode(member["consent_at"], "2026-11-20T12:04:05.123456+09:00") == NOW
    assert archive_format.encode(passkey["backed_up"], True) == "true"
    key = bytes(range(256))
    assert archive_format.decode(passkey["public_key"], archive_format.encode(passkey["public_key"], key)) == key
    with pytest.raises(ValueError):
        archive_format.decode(member["consent_at"], "2026-11-20T12:04:05")  # a time without its offset is refused
    with pytest.raises(ValueError):
        archive_format.decode(passkey["backed_up"], "1")


async def test_without_the_old_signing_key_old_codes_are_refused_and_new_ones_work(tmp_path):
    """What a lost SIGNING_KEY costs (README): cards and wallets shown from before the move are refused
    as forged until the member opens them online once; nothing stored depends on the key."""
    old, new = TokenSigner(new_signing_key()), TokenSigner(new_signing_key())
    code = old.sign("card", 42, NOW + timedelta(days=7))
    with pytest.raises(TokenError) as caught:
        new.verify(code, "card", NOW)
    assert caught.value.reason == "forged"
    assert new.verify(new.sign("card", 42, NOW + timedelta(days=7)), "card", NOW).subject_id == 42


# Refusals: nothing is written when anything is wrong ------------------------------------------------------


@pytest.fixture
async def exported(tmp_path) -> Path:
    await data_set(tmp_path / "source")
    archive = tmp_path / "handover.zip"
    await export.export_archive(archive, tmp_path / "source", actor_id=None, via="test")
    return archive


def rewrite(archive: Path, changes: dict[str, bytes], manifest_changes: dict | None = None,
            keep_checksums: bool = False) -> Path:
    """A copy of `archive` with entries replaced or added; the checksums follow unless told to stay."""
    out = archive.with_name("changed.zip")
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(out, "w") as target:
        manifest = json.loads(source.read("manifest.json"))
        for name in [n for n in source.namelist() if n != "manifest.json"] + [n for n in changes if n not in source.namelist()]:
            data = changes.get(name, source.read(name) if name in source.namelist() else b"")
            target.writestr(name, data)
            if not keep_checksums:
                manifest["files"][name] = hashlib.sha256(data).hexdigest()
        manifest.update(manifest_changes or {})
        target.writestr("manifest.json", json.dumps(manifest))
    return out


def csv_of(archive: Path, table: str) -> str:
    with zipfile.ZipFile(archive) as opened:
        return opened.read(f"tables/{table}.csv").decode("utf-8-sig")


async def test_a_database_that_is_not_empty_or_not_migrated_is_refused(exported, database_url, tmp_path):
    caught = await refused(exported, database_url, tmp_path / "var")
    assert caught.reason == "not_empty" and "area" in caught.message and "空ではありません" in caught.message
    with bound_to(f"sqlite:///{tmp_path / 'bare.sqlite3'}"), pytest.raises(HandoverRefused) as caught:
        await restore.restore_archive(exported, tmp_path / "var")
    assert caught.value.reason == "not_migrated" and "piccolo migrations forwards all" in caught.value.message


async def test_a_changed_file_an_unlisted_file_or_a_path_out_of_uploads_is_refused(exported, empty_sqlite, tmp_path):
    var = tmp_path / "var"
    tampered = rewrite(exported, {"tables/area.csv": b"\xef\xbb\xbfid,slug\r\n"}, keep_checksums=True)
    caught = await refused(tampered, empty_sqlite, var)
    assert caught.reason == "damaged" and "tables/area.csv" in caught.message
    tampered.unlink()
    with zipfile.ZipFile(exported, "a") as opened:
        opened.writestr("uploads/extra.jpg", b"not listed")
    assert (await refused(exported, empty_sqlite, var)).reason == "unexpected_entry"
    escaping = rewrite(exported, {"uploads/../../escaped.txt": b"outside"})
    assert (await refused(escaping, empty_sqlite, var)).reason == "unexpected_entry"
    assert not (tmp_path / "escaped.txt").exists()


async def test_an_archive_of_other_migrations_or_a_newer_format_is_refused(exported, empty_sqlite, tmp_path):
    migrations = (await schema.applied_migrations())[:-1] + ["2099-01-01T00:00:00:000000"]
    caught = await refused(rewrite(exported, {}, {"migrations": migrations}), empty_sqlite, tmp_path / "var")
    assert caught.reason == "migrations_differ" and "2099-01-01T00:00:00:000000" in caught.message
    caught = await refused(rewrite(exported, {}, {"format_version": 99}), empty_sqlite, tmp_path / "var")
    assert caught.reason == "newer_format"
    not_zip = tmp_path / "notes.zip"
    not_zip.write_text("hello", encoding="utf-8")
    assert (await refused(not_zip, empty_sqlite, tmp_path / "var")).reason == "not_zip"
    assert (await refused(rewrite(exported, {}, {"format": "other"}), empty_sqlite, tmp_path / "var")).reason == (
        "not_handover")


async def test_a_bad_value_in_the_last_table_leaves_every_table_empty_and_no_upload(exported, empty_sqlite, tmp_path):
    last = schema.tables()[-1]._meta.tablename
    lines = csv_of(exported, last).split("\r\n")
    broken = lines[0] + "\r\n" + "not-a-number" + lines[1][lines[1].index(","):] + "\r\n"
    caught = await refused(rewrite(exported, {f"tables/{last}.csv": broken.encode()}), empty_sqlite, tmp_path / "var")
    assert caught.reason == "bad_value" and f"{last}.csv" in caught.message and "not-a-number" in caught.message


async def test_rows_the_database_refuses_roll_everything_back(exported, empty_sqlite, tmp_path):
    area = csv_of(exported, "area")
    duplicated = area + area.split("\r\n")[1] + "\r\n"  # the same id and slug twice
    caught = await refused(rewrite(exported, {"tables/area.csv": duplicated.encode()}), empty_sqlite, tmp_path / "var")
    assert caught.reason == "insert_failed" and "area" in caught.message
