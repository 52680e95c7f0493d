"""Deleting an account leaves no personal value anywhere: a member whose every value carries a mark fills
every table through the real services; after the deletion no text column of any table registered with
Piccolo holds a mark, and neither does any file of the handover ZIP. Every table is scanned, and a table that
points at a person must be filled by the scene (or named as staff-only), so one added later cannot leak
silently."""

from __future__ import annotations

import base64
import json
import os
import tempfile
import zipfile
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from piccolo.columns import JSON, JSONB, ForeignKey, Text, Varchar

from app.i18n import TOKYO, to_tokyo
from app.keyfile import new_signing_key
from app.services.activities import check_ins
from app.services.audit import log as audit_log
from app.services.desk import mail_replies, threads
from app.services.desk.mailbox import Fetched
from app.services.handover import export
from app.services.imports import columns, reader, registrants, sources
from app.services.membership import erasure, login_sessions, membership, one_time_links
from app.services.membership.membership import Profile
from app.services.notify import digest, line_links, outbox, push_notifications, push_subscriptions
from app.services.premium import applications as premium_applications
from app.services.premium import lapse
from app.services.premium.applications import PremiumRequest
from app.services.programs import applications
from app.services.shared import clock, exports
from app.services.shared.actor import Actor
from app.services.shared.signed_tokens import TokenSigner
from app.services.subsidy import claims as travel_claims
from app.services.subsidy import review as claim_review
from app.services.surveys import invitations, responses
from app.services.wallet import conflicts, member_passes, redemption, wallet
from app.settings import Smtp
from db.piccolo_app import APP_CONFIG
from db.tables import (
    Account,
    Application,
    AuditLog,
    Delivery,
    Digest,
    Inquiry,
    InquiryMessage,
    LineDelivery,
    LineLink,
    LineLinkNonce,
    Member,
    Notice,
    OutboxMail,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    TravelClaim,
    Upload,
    WalletPass,
)
from tests import factories
from tests.services.desk.helpers import mailed_photo

TAG = "qz" + os.urandom(3).hex()  # marks this run's values: found nowhere else
KANA = ["ヅヂヅヂ", "ヱヰヱヰ"]  # readings must be kana: these spellings occur in no word
# Tables whose links to an account only ever name staff (authors, reviewers, inviters): the scene need not fill
# them. Any other table that points at a person, directly or through another such table, must hold a row of
# the scene, so that a table added later is filled (and scanned) here or named below on purpose.
STAFF_ONLY = {"activity", "invitation", "program", "article", "revision", "upload", "notification", "survey", "reply_template",
              "kpi_target", "report_section", "journey_rule", "diary_entry", "incident", "budget", "spending",
              "campaign", "travel_subsidy"}


def mark(what: str) -> str:
    return f"{TAG}{what}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def device_keys() -> tuple[str, str]:
    """A push subscription's keys: a P-256 public key and a 16-byte auth secret, each unique."""
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(point), b64url(os.urandom(16))


def text_columns(table) -> list:
    return [c for c in table._meta.columns if isinstance(c, (Varchar, Text, JSON, JSONB))]


def found_in(text: str, marks: list[str]) -> set[str]:
    """The marks in a text, as typed, in lower case, escaped in JSON or encoded in an address."""
    lowered = text.lower()
    return {m for m in marks if any(form.lower() in lowered for form in (m, json.dumps(m)[1:-1], urlencode({"": m})[1:]))}


async def marks_in_tables(marks: list[str]) -> dict[str, set[str]]:
    """"table.column" → the marks it holds, for every text and JSON column of every table."""
    found: dict[str, set[str]] = {}
    for table in APP_CONFIG.table_classes:
        columns = text_columns(table)
        if not columns:
            continue
        for row in await table.select(*columns):
            for name, value in row.items():
                if value is None:
                    continue
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                hits = found_in(text, marks)
                if hits:
                    found.setdefault(f"{table._meta.tablename}.{name}", set()).update(hits)
    return found


def tables_about_a_person() -> list:
    """Tables with a foreign key to an account or a member, or to another such table (staff-only ones apart)."""
    about = {Account, Member}
    changed = True
    while changed:
        changed = False
        for table in APP_CONFIG.table_classes:
            if table in about or table._meta.tablename in STAFF_ONLY:
                continue
            targets = {c._foreign_key_meta.resolved_references for c in table._meta.columns if isinstance(c, ForeignKey)}
            if targets & about:
                about.add(table)
                changed = True
    return sorted(about, key=lambda t: t._meta.tablename)


def marks_in_archive(path, marks: list[str]) -> dict[str, set[str]]:
    found = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            hits = found_in(archive.read(name).decode("utf-8", errors="replace"), marks)
            if hits:
                found[name] = hits
    return found


class Scene:
    """The marked member, the staff member who dealt with them, and every mark given."""

    def __init__(self) -> None:
        self.marks: list[str] = []

    def m(self, what: str) -> str:
        value = mark(what)
        self.marks.append(value)
        return value


async def register(scene: Scene, area_id: int) -> membership.Registered:
    email = scene.m("-mail@example.jp")
    profile = Profile(
        display_name=scene.m("display"), family_name=scene.m("family"), given_name=scene.m("given"),
        family_name_kana=KANA[0], given_name_kana=KANA[1], email=email, home_prefecture="13",
        home_municipality=scene.m("town"), ties=["other"], ties_other=scene.m("ties"), area_ids=[area_id],
    )
    scene.marks += KANA
    registered = await membership.register_member(
        profile, scene.m("handle"), factories.fake_passkey(credential_id=scene.m("credential")), scene.m("passkey"), "TMK")
    await Account.update({Account.email_verified_at: clock.now()}).where(Account.id == registered.account_id)
    return registered


async def fill_every_table(scene: Scene) -> tuple[membership.Registered, int]:
    """The member's data in every domain, each value marked, made by the services as the pages make it."""
    now = clock.now()
    area_id = await factories.area()
    staff = await factories.staff_account()
    # A question to the desk from the same address before registering, answered by the desk.
    email = mark("-mail@example.jp")
    before = await factories.inquiry(None, name=mark("family") + " " + mark("given"), email=email.upper(),
                                     message=scene.m("visitor-question"))
    member = await register(scene, area_id)
    account = member.account_id
    await threads.reply(before["id"], staff, scene.m("visitor-answer"), "email", "waiting", factories.desk_post())
    # Devices: a logged-in phone (the passkey was named at registration), a confirmation link to an old address.
    await login_sessions.start(account, scene.m("user-agent"))
    await one_time_links.issue("confirm_email", account, email=scene.m("-old@example.jp"))
    # Push: a device with its keys, topics, a notification delivered to it and the push service's refusal.
    p256dh, auth = device_keys()
    scene.marks += [p256dh, auth]
    await push_subscriptions.subscribe(account, f"https://fcm.googleapis.com/fcm/send/{scene.m('endpoint')}", p256dh, auth,
                                       scene.m("device"))
    await push_subscriptions.save_preferences(account, push_subscriptions.Preferences(programs="all"))
    # LINE: their LINE account linked by its nonce, a second link attempt pending, and LINE's refusal of a message.
    assert await line_links.complete_link(scene.m("line-user"), await line_links.start_link(account, now), now) == "linked"
    await line_links.start_link(account, now)
    await push_notifications.create_notification(push_notifications.Target(account_ids=[account]), "朝市", "7時から", "/", None)
    await push_notifications.fan_out_due()
    await Delivery.update({Delivery.last_error: "410 " + scene.m("push-error")}).where(Delivery.id.is_not_null())
    await LineDelivery.update({LineDelivery.last_error: "HTTP 400 " + scene.m("line-error")}).where(LineDelivery.id.is_not_null())
    # Programs: an application with motivation and answers.
    program = await factories.program(area_id, questions=["どこから来ますか"])
    await applications.apply(program, member.member_id, scene.m("motivation"), [scene.m("answer")], now)
    # The weekly mail, asked for a while ago: this week's digest names them and tells of the program.
    await digest.set_wanted(account, True, now - timedelta(days=8))
    out = digest.Outgoing(Smtp(), "http://localhost:8000", "つなぐ", new_signing_key())
    assert (await digest.run_due(out, clock.now())).sent == 1
    # Activities: a check-in recorded by hand, with staff's reason naming the member.
    for n in range(3):
        activity = await factories.activity(area_id, title=f"活動{n}")
        await check_ins.by_hand(activity, member.member_no, "2026-11-03", scene.m(f"by-hand-{n}"), Actor(staff, "staff"))
    await fill_premium(scene, member, staff)
    await fill_travel_claim(scene, member, staff, area_id)
    # A registrant import recognised them by their address and recorded the id the municipality's system has.
    table = reader.read_table(f"会員ID,メールアドレス\n{scene.m('external-id')},{email}\n".encode())
    imported = sources.CsvRegistrants(table, columns.guess(table.headers), "registrants.csv", "0" * 64)
    assert (await registrants.run(imported, staff, "TMK", registrants.ClaimMail(Smtp(), "つなぐ", str))).counts["linked"] == 1
    # Wallet: an activated pass used at a shop, then suspended by staff with a reason (kept in the audit log too).
    shop_id, [offer] = await factories.shop_with_offers("海鮮食堂 ほっき屋", {"limit_kind": "unlimited"})
    shop_staff = await factories.staff_account("店舗 田中", role="shop", shop=shop_id)
    pass_id = await factories.entry_pass(offer, outside_residents_only=False)
    wallet_pass = await wallet.activate(member.member_id, pass_id, wallet.Region("01", "苫小牧市"), now)
    signer = TokenSigner(new_signing_key())
    code = signer.sign("wallet", wallet_pass, now + timedelta(days=1))
    await redemption.redeem(signer, code, offer, shop_id, shop_staff, "scan-1", now)
    await member_passes.set_wallet_pass_status(staff, wallet_pass, "suspend", scene.m("suspended"), now)
    # A use a counter allowed offline, arriving after the suspension: kept as a conflict.
    assert (await conflicts.arrive(signer, code, offer, shop_id, shop_staff, "offline-1", now, now)).status == "conflict"
    await fill_surveys(scene, account)
    await fill_desk(scene, account, staff, email)
    # Staff looked the member up, searched the desk's export for them; the member downloaded their data.
    await audit_log.record_view(staff, "member", member.member_id, now)
    for term in (email, mark("family")):
        await exports.record_export(staff, "inquiry", "", {"table": "inquiries", "filters": urlencode({"q": term})}, now)
    await exports.record_export(account, "account", str(account), {"kind": "my_data"}, now, file_type="json")
    return member, staff


async def fill_premium(scene: Scene, member: membership.Registered, staff: int) -> None:
    """A premium application declined with a reason, one approved, and the reminder before the year ends."""
    request = PremiumRequest(home_municipality=scene.m("home"), others=[{"name": scene.m("other"), "state": "holding"}])
    declined = await premium_applications.apply(member.member_id, request, "苫小牧市")
    await premium_applications.decide(declined, Actor(staff, "staff"), "decline", scene.m("declined"))
    approved = await premium_applications.decide(await premium_applications.apply(member.member_id, request, "苫小牧市"),
                                                 Actor(staff, "staff"), "approve")
    reminded = datetime.combine(approved["valid_until"] - timedelta(days=20), datetime.min.time(), TOKYO)
    assert (await lapse.run_due(now=reminded)).reminded == 1


async def fill_travel_claim(scene: Scene, member: membership.Registered, staff: int, area_id: int) -> None:
    """A travel-subsidy claim for a program they attended, with a receipt: returned with a reason, corrected, and
    approved at less with a note."""
    now = clock.now()
    program = await factories.program(area_id, title="交通費補助の対象", starts_at=now - timedelta(days=2, hours=6),
                                      ends_at=now - timedelta(days=2), status="completed")
    await factories.travel_subsidy(program)
    await factories.attendance(program, member.member_id)
    day = to_tokyo(now - timedelta(days=2)).date().isoformat()
    form = {"departure": scene.m("departure"), "route": scene.m("route"), "transports": ["air"], "outbound_on": day,
            "return_on": day, "fare": "18,000"}
    claim = await travel_claims.submit(program, member.member_id, form, [receipt()], RECEIPTS, now)
    await claim_review.send_back(claim, staff, scene.m("claim-returned"), now=now)
    await travel_claims.resubmit(claim, member.member_id, {**form, "route": scene.m("route-again")}, [], RECEIPTS, now)
    await claim_review.approve(claim, staff, "15,000", scene.m("claim-note"), now=now)


RECEIPTS = Path(tempfile.mkdtemp())


def receipt() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (30, 20), "white").save(out, "PNG")
    return out.getvalue()


async def fill_surveys(scene: Scene, account: int) -> None:
    """A named survey sent by the invitation round (inbox, push and a mail to the member's name) and an
    anonymous one, each answered with free text."""
    for anonymous in (False, True):
        now = clock.now()
        survey = await factories.open_survey([{"kind": "long", "text": "ご感想"}], [] if not anonymous else [account],
                                             anonymous=anonymous, invited_at=None if not anonymous else now)
        now = clock.now()
        if not anonymous:
            await invitations.dispatch_due(Smtp(), now, base_url="http://localhost:8000", site_name="つながる")
        question = await SurveyQuestion.select(SurveyQuestion.id).where(SurveyQuestion.survey == survey).first()
        await responses.submit(survey, account, {str(question["id"]): [scene.m(f"survey-{anonymous}")]}, now)


def asker_mail(scene: Scene, reference: str) -> bytes:
    """The asker answering by mail, their words quoted back and an attachment the desk refuses (its name kept)."""
    mail = EmailMessage()
    mail["From"] = formataddr((scene.m("mail-name"), scene.m("-mail@example.jp")))
    mail["Subject"] = f"{scene.m('mail-subject')} {reference}"
    mail["Message-ID"] = "<erasure-test@example.jp>"
    mail.set_content(f"{scene.m('mail-body')}\n\n> {scene.m('mail-quote')}\n")
    mail.add_attachment(b"MZ" + b"\0" * 64, maintype="application", subtype="octet-stream",
                        filename=scene.m("attachment") + ".exe")
    return mail.as_bytes()


async def fill_desk(scene: Scene, account: int, staff: int, email: str) -> None:
    """A member's inquiry with another address and a phone number: the receipt, the desk's answers by mail and
    in the app, the member writing again (the assignee is told with their words), an internal note."""
    post = factories.desk_post()
    phone = "0144-" + str(int(TAG[2:], 16) % 90 + 10) + "-" + str(int(TAG[2:], 16) % 9000 + 1000)
    scene.marks.append(phone)
    reading = "".join("アイウエオカキクケコサシスセソタ"[int(digit, 16)] for digit in TAG[2:12])  # a name's reading is kana
    scene.marks.append(reading)
    asked = await factories.inquiry(account, name=scene.m("asker"), furigana=reading, email=scene.m("-desk@example.jp"),
                                    phone=phone, contact_method="email", message=scene.m("question"))
    await threads.reply(asked["id"], staff, scene.m("answer-by-mail"), "email", "waiting", post)
    await threads.reply(asked["id"], staff, scene.m("answer-in-app"), "app", "waiting", post)
    await threads.add_asker_message(asked["id"], scene.m("wrote-again"), "app", post.links, account_id=account)
    await threads.add_note(asked["id"], staff, scene.m("note"))
    await mail_replies.take("desk@imap.example:993/INBOX", 1, Fetched(1, asker_mail(scene, asked["reference"]), True),
                            post, Path(tempfile.mkdtemp()), "ja", clock.now())
    assert email  # the address the member registered with asked earlier


async def test_deleting_an_account_leaves_no_marked_value_in_any_table_or_in_the_handover_zip(tmp_path):
    scene = Scene()
    member, _staff = await fill_every_table(scene)
    empty = [t._meta.tablename for t in tables_about_a_person() if await t.count() == 0]
    assert empty == [], "fill these tables in the scene (or name them in STAFF_ONLY if only staff are in them)"
    marks = sorted(set(scene.marks))
    placed = set().union(*(await marks_in_tables(marks)).values())
    assert placed == set(marks), f"marks the scene never wrote: {set(marks) - placed}"

    await erasure.delete_account(member.account_id)

    assert await marks_in_tables(marks) == {}
    archive = tmp_path / "handover.zip"
    await export.export_archive(archive, tmp_path, actor_id=None, via="test")
    assert marks_in_archive(archive, marks) == {}


async def test_what_the_statistics_need_stays_without_saying_who():
    scene = Scene()
    member, _staff = await fill_every_table(scene)
    await erasure.delete_account(member.account_id)

    account = await Account.select().where(Account.id == member.account_id).first()
    assert (account["status"], account["display_name"], account["email"]) == ("deleted", "退会済み", None)
    kept = await Member.select(Member.home_prefecture, Member.ties, Member.member_no).where(
        Member.id == member.member_id).first().output(load_json=True)
    assert kept["home_prefecture"] == "13" and kept["ties"] == ["other"] and kept["member_no"].startswith("TMK-")
    assert await Application.count().where(Application.member == member.member_id) == 2  # participants per area
    claim = await TravelClaim.select().first().output(load_json=True)  # the year's totals and the accounts
    assert (claim["status"], claim["fare"], claim["approved_amount"]) == ("approved", 18_000, 15_000)
    assert (claim["departure"], claim["route"], claim["note"], claim["receipts"]) == ("", "", "", [])
    assert await Upload.count() == 0
    assert await WalletPass.count().where(WalletPass.member == member.member_id) == 1  # uses per shop
    assert await SurveyResponse.count() == 2 and await SurveyResponse.count().where(SurveyResponse.account.is_not_null()) == 0
    assert await SurveyAnswer.count() == 2  # the answers count, without their words
    assert await Inquiry.count().where(Inquiry.status != "closed") == 0  # nobody can be answered any more
    assert await InquiryMessage.count().where(InquiryMessage.body != "") == 0
    assert await Notice.count().where(Notice.account == member.account_id) == 0
    assert await LineLink.count() == 0 and await LineLinkNonce.count() == 0  # nothing is sent to their LINE again
    assert await Digest.count() == 0 and await Member.count().where(Member.digest_since.is_not_null()) == 0
    assert [row["status"] for row in await LineDelivery.select(LineDelivery.status)] == ["skipped"]
    assert await OutboxMail.count().where(OutboxMail.purpose.is_in(["inquiry_receipt", "inquiry_reply", "survey_invite"])) == 0
    deleted = await AuditLog.select().where(AuditLog.action == "account.delete").first()
    assert (deleted["actor"], deleted["target_id"]) == (member.account_id, str(member.account_id))


async def test_another_persons_inquiry_from_the_same_address_is_left_alone():
    other = await factories.member("別の人", email="someone@example.jp")
    mine = await factories.member("消える人", email="shared@example.jp")
    theirs = await factories.inquiry(other.account_id, name="別の人", email="shared@example.jp")
    await erasure.delete_account(mine.account_id)
    row = await Inquiry.select(Inquiry.name, Inquiry.email).where(Inquiry.id == theirs["id"]).first()
    assert row == {"name": "別の人", "email": "shared@example.jp"}


async def test_a_short_nickname_redacts_nothing_in_other_entries():
    mine = await factories.member("ab", email="ab-gone@example.jp")
    await exports.record_export(None, "kpi", "table", {"table": "tables", "note": "ab-gone@example.jp"}, clock.now())
    await erasure.delete_account(mine.account_id)
    entry = await AuditLog.select(AuditLog.detail).where(AuditLog.action == "export.csv").first().output(load_json=True)
    assert entry["detail"] == {"table": "tables", "note": "***"}


async def test_deleting_twice_or_an_unknown_account_does_nothing_more():
    mine = await factories.member("消える人")
    await erasure.delete_account(mine.account_id)
    await erasure.delete_account(mine.account_id)
    await erasure.delete_account(999999)
    assert await AuditLog.count().where(AuditLog.action == "account.delete") == 1


async def test_the_mail_files_naming_the_member_are_deleted_with_the_account(tmp_path):
    """Without a mail server the outbox writes each mail as a file (`make run`): a mail to the member, and
    the desk's copy quoting their address in its text, go with the account; mails about others stay."""
    registered = await factories.member("消される人", email=f"{TAG}@example.jp")
    await outbox.enqueue(Smtp(), f"{TAG.upper()}@example.jp", "受付のお知らせ", "お問い合わせを受け付けました", "inquiry_receipt")
    await outbox.enqueue(Smtp(), "desk@tomakomai.example", "新しいお問い合わせ", f"返信先: {TAG}@example.jp\n移住について",
                         "inquiry_notice")
    await outbox.enqueue(Smtp(), "other@example.jp", "受付のお知らせ", "ほかの人へ", "inquiry_receipt")
    mail_dir = tmp_path / "mail"
    assert (await outbox.deliver_due(Smtp(), mail_dir)).sent == 3
    await erasure.delete_account(registered.account_id, var_dir=tmp_path)
    left = [path.read_bytes() for path in mail_dir.glob("*.eml")]
    assert len(left) == 1 and b"other@example.jp" in left[0]


async def test_the_files_the_member_sent_the_desk_by_mail_go_with_the_account(tmp_path):
    registered = await factories.member("消される人", email=f"{TAG}@example.jp")
    first, second = await factories.inquiry(registered.account_id), await factories.inquiry(registered.account_id)
    photo = await mailed_photo(first["reference"], tmp_path)
    gone_already = await mailed_photo(second["reference"], tmp_path)
    gone_already.unlink()  # a file missing already does not stop the rest

    await erasure.delete_account(registered.account_id, var_dir=tmp_path)

    assert not photo.exists() and await Upload.count() == 0


async def test_an_erasure_that_fails_leaves_the_files_with_their_rows(tmp_path, monkeypatch):
    registered = await factories.member("消される人", email=f"{TAG}@example.jp")
    photo = await mailed_photo((await factories.inquiry(registered.account_id))["reference"], tmp_path)

    async def broken(_person) -> None:
        raise RuntimeError("the audit log cannot be written")

    monkeypatch.setattr(erasure, "_redact_audit", broken)
    with pytest.raises(RuntimeError):
        await erasure.delete_account(registered.account_id, var_dir=tmp_path)

    assert photo.is_file() and await Upload.exists().where(Upload.name == photo.name)
    assert (await Account.select(Account.status).where(Account.id == registered.account_id).first())["status"] == "active"
async def test_an_undecided_travel_claim_is_withdrawn_and_its_receipts_leave_the_disk(tmp_path):
    """A claim nobody decided on has nobody left to pay: it is withdrawn. Its receipt's file goes with the account
    (after the commit), and the handover ZIP, which takes every file under uploads/, no longer holds it."""
    member = await factories.member("消える人")
    area = await factories.area()
    now = clock.now()
    program = await factories.program(area, starts_at=now - timedelta(days=2, hours=6), ends_at=now - timedelta(days=2))
    await factories.travel_subsidy(program)
    await factories.attendance(program, member.member_id)
    day = to_tokyo(now - timedelta(days=2)).date().isoformat()
    await travel_claims.submit(program, member.member_id, {"departure": "札幌市", "route": "JR", "transports": ["rail"],
                                                           "outbound_on": day, "return_on": day, "fare": "9,000"},
                               [receipt()], tmp_path, now)
    assert len(list((tmp_path / "uploads").iterdir())) == 1
    await erasure.delete_account(member.account_id, var_dir=tmp_path)
    assert (await TravelClaim.select(TravelClaim.status).first())["status"] == "withdrawn"
    assert list((tmp_path / "uploads").iterdir()) == []
