"""Replies by mail come into the desk, read from a real IMAP server (dovecot, tests/imap_server.py): threaded by
the reference in the subject or by In-Reply-To, quoted text trimmed for display, attachments checked, unknown
mail as a new inquiry, Japanese encodings, each mail once across a dead round and two rounds at once, bad mail
recorded while the round goes on, and the mailbox left as it was."""

from __future__ import annotations

import asyncio
import base64
import itertools
from datetime import timedelta
from email.header import Header
from email.message import EmailMessage
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid

import pytest

from app.services.desk import mail_replies, mailbox, threads
from app.services.desk.common import MESSAGE_MAX
from app.services.shared import clock, uploads
from db.tables import DeskMail, Inquiry, InquiryMessage, Notice, OutboxMail
from tests import factories
from tests.imap_server import ImapServer, available
from tests.services.desk.helpers import png, status_of

pytestmark = pytest.mark.skipif(not available(), reason="dovecot is not installed (make test installs dovecot-imapd)")

ASKER = ("二地域 花子", "hanako@example.jp")
_folders = itertools.count(1)


@pytest.fixture(scope="module")
def imap_server():
    with ImapServer() as server:
        yield server


@pytest.fixture
def desk(imap_server, settings):
    """The desk's settings reading a folder of its own on the shared server (a test's mail stays its own)."""
    folder = f"Desk{next(_folders)}"
    client = imap_server.client()
    client.create_folder(folder)
    client.logout()
    return settings.with_(imap=imap_server.settings(folder=folder))


def jis_mail(subject: str, body: str, *, sender=ASKER, in_reply_to: str = "") -> bytes:
    """A mail as Japanese mail programs have long sent it: ISO-2022-JP text and encoded-word headers."""
    mail = MIMEText(body, "plain", "iso-2022-jp")
    mail["Subject"] = Header(subject, "iso-2022-jp")
    mail["From"] = formataddr(sender, charset="iso-2022-jp")
    mail["To"] = "desk@tomakomai.example"
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain="example.jp")
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    return mail.as_bytes()


def cp932_mail(subject: str, body: str, *, in_reply_to: str = "", declared: str = "Shift_JIS") -> bytes:
    """As Outlook sends it: Shift_JIS declared, Windows' cp932 inside (① and ㈱ included), base64."""
    head = [f"From: {formataddr(ASKER, charset='utf-8')}", "To: desk@tomakomai.example",
            f"Subject: {Header(subject, 'utf-8').encode()}", f"Message-ID: {make_msgid(domain='example.jp')}",
            f"Date: {formatdate()}", "MIME-Version: 1.0", f"Content-Type: text/plain; charset={declared}",
            "Content-Transfer-Encoding: base64"]
    if in_reply_to:
        head.append(f"In-Reply-To: {in_reply_to}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + base64.encodebytes(body.encode("cp932"))


async def receipt_of(inquiry_id: int) -> dict:
    return await InquiryMessage.select(InquiryMessage.mail.message_id.as_alias("message_id"),
                                       InquiryMessage.mail.subject.as_alias("subject")).where(
        InquiryMessage.inquiry == inquiry_id).first()


async def asker_messages(inquiry_id: int) -> list[dict]:
    return await InquiryMessage.select().where(
        (InquiryMessage.inquiry == inquiry_id) & (InquiryMessage.kind == "asker")).order_by(InquiryMessage.id)


async def test_a_reply_with_the_reference_in_its_subject_is_threaded_and_shown_without_the_quote(imap_server, desk):
    created = await factories.inquiry()
    await Inquiry.update({Inquiry.status: "waiting"}).where(Inquiry.id == created["id"])
    receipt = await receipt_of(created["id"])
    body = ("ありがとうございます。8月から3か月ほどを考えています。\n\n"
            "2026年12月6日(日) 10:00 ふるさと住民 相談窓口 <desk@tomakomai.example>:\n> お問い合わせを受け付けました。\n")
    imap_server.deliver(jis_mail("Re: " + receipt["subject"], body), desk.imap.folder)

    stats = await mail_replies.read_replies(desk)

    assert (stats.threaded, stats.opened) == (1, 0)
    first, reply = await asker_messages(created["id"])
    assert reply["body"] == "ありがとうございます。8月から3か月ほどを考えています。" and reply["channel"] == "email"
    kept = await DeskMail.select().where(DeskMail.message == reply["id"]).first()
    assert "> お問い合わせを受け付けました。" in kept["full_text"] and kept["from_address"] == ASKER[1]
    assert (await threads.get_inquiry(created["id"]))["status"] == "in_progress"  # as when the asker replies in the app
    shown = await threads.thread(created["id"], staff=True)
    assert shown[-1]["received"]["subject"].endswith(f"（{created['reference']}）")
    [(_uid, flags)] = imap_server.mails(desk.imap.folder)  # still there, not even marked \Seen
    assert b"\\Seen" not in flags and b"\\Deleted" not in flags


async def test_a_reply_naming_the_receipt_only_in_in_reply_to_is_threaded(imap_server, desk):
    created = await factories.inquiry()
    receipt = await receipt_of(created["id"])
    imap_server.deliver(cp932_mail("日程について", "①駐車場はありますか。㈱の社宅も検討中です。", in_reply_to=receipt["message_id"]), desk.imap.folder)

    await mail_replies.read_replies(desk)

    assert [m["body"] for m in await asker_messages(created["id"])][1:] == ["①駐車場はありますか。㈱の社宅も検討中です。"]
    assert await Inquiry.count() == 1


async def test_attachments_are_kept_when_an_image_or_a_pdf_and_an_exe_is_refused_with_a_note(imap_server, desk):
    created = await factories.inquiry()
    mail = EmailMessage()
    mail["From"], mail["To"] = formataddr(ASKER), "desk@tomakomai.example"
    mail["Subject"] = f"写真を送ります {created['reference']}"
    mail["Message-ID"] = make_msgid(domain="example.jp")
    mail.set_content("物件の写真です。")
    mail.add_attachment(png(), maintype="image", subtype="png", filename="部屋.png")
    mail.add_attachment(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", maintype="application", subtype="pdf",
                        filename="間取り.pdf")
    mail.add_attachment(b"MZ\x90\x00" + b"\x00" * 200, maintype="application", subtype="octet-stream", filename="setup.exe")
    imap_server.deliver(mail.as_bytes(), desk.imap.folder)

    await mail_replies.read_replies(desk)

    kept = await DeskMail.select().where(DeskMail.inquiry == created["id"]).output(load_json=True).first()
    names = {a["filename"]: a for a in kept["attachments"]}
    assert names["部屋.png"]["content_type"] == "image/png" and names["間取り.pdf"]["content_type"] == "application/pdf"
    assert names["setup.exe"]["refused"] == "not_image" and "url" not in names["setup.exe"]
    for name in ("部屋.png", "間取り.pdf"):
        found = await uploads.find(uploads.name_of(names[name]["url"]), desk.var_dir)
        assert found.path.is_file() and found.private and found.uploaded_by is None  # for staff only, never cached
    note = await InquiryMessage.select().where(InquiryMessage.kind == "note").first()
    assert "setup.exe" in note["body"]


async def test_a_mail_that_answers_nothing_becomes_a_new_inquiry_of_category_mail(imap_server, desk):
    mail = EmailMessage()
    mail["From"] = formataddr(("移住 次郎", "jiro@example.jp"), charset="utf-8")
    mail["To"], mail["Subject"] = "desk@tomakomai.example", "空き家バンクについて"
    mail.set_content("<p>空き家バンクの&nbsp;見学は<b>できますか</b>。</p><script>alert(1)</script>", subtype="html")
    imap_server.deliver(mail.as_bytes(), desk.imap.folder)

    stats = await mail_replies.read_replies(desk)

    assert stats.opened == 1
    inquiry = await Inquiry.select().first()
    assert (inquiry["category"], inquiry["channel"], inquiry["name"], inquiry["email"], inquiry["status"]) == (
        "mail", "mail", "移住 次郎", "jiro@example.jp", "new")
    [message] = await asker_messages(inquiry["id"])
    assert message["body"] == "空き家バンクの\xa0見学はできますか。" and message["channel"] == "email"
    assert not await OutboxMail.exists().where(OutboxMail.purpose == "inquiry_receipt")  # no automatic answer to spam


class Died(BaseException):
    """The process ending where it stands: nothing after it runs, no handler of ours catches it."""


async def test_a_round_that_dies_after_its_claim_loses_nothing_and_doubles_nothing(imap_server, desk, monkeypatch):
    created = await factories.inquiry()
    imap_server.deliver(jis_mail(f"Re: {created['reference']}", "追加の質問です。"), desk.imap.folder)
    record = threads.record_asker_message

    async def dies(*args, **kwargs):
        await record(*args, **kwargs)
        raise Died()

    monkeypatch.setattr(threads, "record_asker_message", dies)
    with pytest.raises(Died):
        await mail_replies.read_replies(desk)
    monkeypatch.setattr(threads, "record_asker_message", record)
    now = clock.now()
    assert len(await asker_messages(created["id"])) == 1  # the insert went with the transaction
    assert (await mail_replies.read_replies(desk, now=now)).threaded == 0  # still claimed by the dead round

    stats = await mail_replies.read_replies(desk, now=now + mail_replies.LEASE + timedelta(seconds=1))
    again = await mail_replies.read_replies(desk, now=now + 2 * mail_replies.LEASE)

    assert (stats.threaded, again.threaded) == (1, 0)
    assert [m["body"] for m in await asker_messages(created["id"])][1:] == ["追加の質問です。"]
    assert len(imap_server.mails(desk.imap.folder)) == 1


async def test_two_rounds_at_once_read_each_mail_once(imap_server, desk):
    created = await factories.inquiry()
    for number in range(6):
        imap_server.deliver(jis_mail(f"Re: {created['reference']}", f"{number}通目です。"), desk.imap.folder)

    first, second = await asyncio.gather(mail_replies.read_replies(desk), mail_replies.read_replies(desk))

    assert first.threaded + second.threaded == 6
    assert sorted(m["body"] for m in await asker_messages(created["id"]))[:6] == [f"{n}通目です。" for n in range(6)]
    assert len(imap_server.mails(desk.imap.folder)) == 6


async def test_the_same_mail_in_the_mailbox_twice_is_read_once(imap_server, desk):
    raw = jis_mail("はじめまして", "移住の相談をしたいです。")
    imap_server.deliver(raw, desk.imap.folder)
    imap_server.deliver(raw, desk.imap.folder)

    await mail_replies.read_replies(desk)
    stats = await mail_replies.read_replies(desk)

    assert await Inquiry.count() == 1 and stats.opened == 0
    assert sorted(row["status"] for row in await DeskMail.select(DeskMail.status)) == ["copy", "done"]


async def test_bad_mail_is_recorded_for_staff_and_the_round_goes_on(imap_server, desk, monkeypatch):
    monkeypatch.setattr(mailbox, "MAX_MAIL_BYTES", 50_000)
    imap_server.deliver(b"Subject: no sender\r\n\r\nwho am I?\r\n", desk.imap.folder)
    imap_server.deliver(cp932_mail("文字コード", "本当はシフトJISです。", declared="utf-8"), desk.imap.folder)
    imap_server.deliver(jis_mail("大きな添付", "x" * 80_000), desk.imap.folder)
    imap_server.deliver(b"\x00\xff garbage without any header at all \r\n\r\n\xfe", desk.imap.folder)

    stats = await mail_replies.read_replies(desk)

    assert (stats.opened, stats.failed) == (4, 0)
    kept = {tuple(row["problems"]): row for row in await DeskMail.select().output(load_json=True)}
    assert ("no_from",) in kept and ("encoding",) in kept and ("too_big",) in kept
    lie = await InquiryMessage.select().where(InquiryMessage.id == kept[("encoding",)]["message"]).first()
    assert lie["body"] == "本当はシフトJISです。"
    assert await InquiryMessage.count().where(InquiryMessage.kind == "note") == 4
    assert len(imap_server.mails(desk.imap.folder)) == 4


async def test_without_a_host_nothing_is_read(settings):
    assert await mail_replies.read_replies(settings) == mail_replies.MailStats()


async def test_a_plaintext_login_is_refused_to_anything_but_loopback(imap_server, desk):
    with pytest.raises(mailbox.MailboxError):
        await mail_replies.read_replies(desk.with_(imap=desk.imap.__class__(host="192.0.2.1", tls="none", port=143)))


async def test_an_absence_notice_answering_the_desk_is_a_note_and_leaves_the_inquiry_as_it_was(imap_server, desk):
    created = await factories.inquiry()
    staff = await factories.staff_account("事務局 佐藤")
    await threads.assign(created["id"], staff, staff)
    await threads.set_status(created["id"], staff, "closed")
    receipt = await receipt_of(created["id"])
    notice = MIMEText("12月10日まで不在にしております。", "plain", "utf-8")
    notice["From"], notice["Subject"] = formataddr(ASKER), "自動応答: " + receipt["subject"]
    notice["In-Reply-To"], notice["Auto-Submitted"] = receipt["message_id"], "auto-replied"
    imap_server.deliver(notice.as_bytes(), desk.imap.folder)

    assert (await mail_replies.read_replies(desk)).threaded == 1

    assert await status_of(created["id"]) == "closed" and len(await asker_messages(created["id"])) == 1
    notes = await InquiryMessage.select().where(InquiryMessage.kind == "note").order_by(InquiryMessage.id)
    assert notes[0]["body"] == "12月10日まで不在にしております。"
    assert (await DeskMail.select(DeskMail.problems).first().output(load_json=True))["problems"] == ["automatic"]
    assert not await Notice.exists().where(Notice.account == staff)


def forwarded_mail() -> EmailMessage:
    inner = EmailMessage()
    inner["From"], inner["Subject"] = "friend@example.jp", "転送元"
    inner.set_content("転送されたメールです。")
    return inner


async def test_odd_mails_each_reach_the_desk_with_a_note_and_none_stops_the_round(imap_server, desk):
    """No subject and no text; NUL characters (which PostgreSQL refuses in text) in every header and the text;
    an HTML-only mail longer than a message; attachments too large, of a refused type, or a forwarded mail."""
    imap_server.deliver(b"From: a@example.jp\r\nMessage-ID: <empty@example.jp>\r\n\r\n", desk.imap.folder)
    nul = base64.b64encode("件名\x00です".encode()).decode()
    imap_server.deliver(
        f"From: =?utf-8?b?{nul}?= <b@example.jp>\r\nSubject: =?utf-8?b?{nul}?=\r\nMessage-ID: <nul\x00@example.jp>\r\n"
        "In-Reply-To: <x\x00y@example.jp>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\x00world\r\n".encode(),
        desk.imap.folder)
    html = EmailMessage()
    html["From"], html["Message-ID"] = "c@example.jp", make_msgid(domain="example.jp")
    html.set_content("<p>空き家の相談です。</p>" * 600, subtype="html")
    html.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * (6 * 1024 * 1024), maintype="image", subtype="png",
                        filename="大きな写真.png")
    html.add_attachment("メモ".encode(), maintype="text", subtype="plain", filename="メモ.txt")
    html.add_attachment(forwarded_mail())
    imap_server.deliver(html.as_bytes(), desk.imap.folder)

    stats = await mail_replies.read_replies(desk)

    assert (stats.opened, stats.failed) == (3, 0)
    rows = await Inquiry.select(Inquiry.id, Inquiry.name).order_by(Inquiry.id)
    assert [row["name"] for row in rows] == ["a@example.jp", "件名です", "c@example.jp"]
    bodies = [(await asker_messages(row["id"]))[0]["body"] for row in rows]
    assert bodies[0] == "—" and "\x00" not in bodies[1] and "Hello" in bodies[1]
    assert len(bodies[2]) == MESSAGE_MAX and bodies[2].endswith("…")
    kept = await DeskMail.select().where(DeskMail.inquiry == rows[2]["id"]).first().output(load_json=True)
    assert [(a["filename"], a["refused"]) for a in kept["attachments"]] == [
        ("大きな写真.png", "too_big"), ("メモ.txt", "not_image"), ("", "forwarded")]
    assert len(kept["full_text"]) > MESSAGE_MAX  # the whole mail stays with it
    assert not any("\x00" in (row["subject"] + row["message_key"]) for row in await DeskMail.select())
    notes = await InquiryMessage.count().where((InquiryMessage.kind == "note") & InquiryMessage.body.like("%メモ.txt%"))
    assert notes == 1
