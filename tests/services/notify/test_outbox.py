"""Outbox mail: saved first, sent by the round through a real SMTP server, retried while it is down."""

from __future__ import annotations

from datetime import timedelta

from app.services.notify import outbox
from app.services.shared import clock
from app.settings import Smtp
from db.tables import OutboxMail
from tests.mailbox import SmtpServer, free_port


def smtp_on(port: int) -> Smtp:
    return Smtp(host="127.0.0.1", port=port, starttls=False, mail_from="desk@tomakomai.example")


async def test_a_queued_mail_reaches_the_server_with_its_headers_and_japanese_intact(tmp_path):
    with SmtpServer() as server:
        smtp = smtp_on(server.port)
        first = await outbox.enqueue(smtp, "asker@example.com", "お問い合わせを受け付けました", "本文です。", "inquiry_receipt")
        reply = await outbox.enqueue(smtp, "asker@example.com", "Re: お問い合わせ", "回答です。", "inquiry_reply",
                                     reply_to="desk@tomakomai.example", in_reply_to=first["message_id"])
        stats = await outbox.deliver_due(smtp, tmp_path)
        assert stats == outbox.OutboxStats(sent=2)
        assert server.mailbox.subject(0) == "お問い合わせを受け付けました"
        assert server.mailbox.body(1).strip() == "回答です。"
        assert server.mailbox.messages[1]["In-Reply-To"] == first["message_id"]
        assert server.mailbox.messages[1]["Reply-To"] == "desk@tomakomai.example"
        assert server.mailbox.messages[0]["Message-ID"] == first["message_id"]
    assert await OutboxMail.count().where(OutboxMail.status == "sent") == 2
    assert reply["id"] != first["id"]


async def test_a_mail_server_that_is_down_delays_the_mail_and_never_loses_it(tmp_path):
    smtp = smtp_on(free_port())  # nothing listens there
    saved = await outbox.enqueue(smtp, "asker@example.com", "件名", "本文", "inquiry_receipt")
    now = clock.now()
    assert await outbox.deliver_due(smtp, tmp_path, now) == outbox.OutboxStats(retried=1)
    row = await OutboxMail.select().where(OutboxMail.id == saved["id"]).first()
    assert row["status"] == "queued" and row["attempts"] == 1 and row["last_error"]
    assert await outbox.deliver_due(smtp, tmp_path, now) == outbox.OutboxStats()  # not due again yet
    with SmtpServer() as server:
        smtp = smtp_on(server.port)
        assert await outbox.deliver_due(smtp, tmp_path, now + timedelta(minutes=1)) == outbox.OutboxStats(sent=1)
        assert server.mailbox.subject() == "件名"


async def test_after_the_last_attempt_the_mail_is_failed_and_can_be_sent_again(tmp_path):
    smtp = smtp_on(free_port())
    saved = await outbox.enqueue(smtp, "asker@example.com", "件名", "本文", "inquiry_reply")
    await OutboxMail.update({OutboxMail.attempts: outbox.MAX_ATTEMPTS - 1}).where(OutboxMail.id == saved["id"])
    assert await outbox.deliver_due(smtp, tmp_path) == outbox.OutboxStats(failed=1)
    assert (await outbox.status_of([saved["id"]]))[saved["id"]]["status"] == "failed"
    assert await outbox.resend(saved["id"])
    assert not await outbox.resend(saved["id"])  # only a failed mail goes back
    assert (await outbox.status_of([saved["id"]]))[saved["id"]]["status"] == "queued"


async def test_two_senders_never_send_the_same_mail(tmp_path):
    with SmtpServer() as server:
        smtp = smtp_on(server.port)
        for n in range(6):
            await outbox.enqueue(smtp, f"a{n}@example.com", "件名", "本文", "survey_invite")
        import asyncio
        first, second = await asyncio.gather(outbox.deliver_due(smtp, tmp_path), outbox.deliver_due(smtp, tmp_path))
        assert first.sent + second.sent == 6
        assert len(server.mailbox.messages) == 6


async def test_without_a_mail_host_the_mail_is_written_to_a_file(tmp_path):
    smtp = Smtp()
    await outbox.enqueue(smtp, "asker@example.com", "件名", "本文", "inquiry_receipt")
    assert await outbox.deliver_due(smtp, tmp_path) == outbox.OutboxStats(sent=1)
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_every_mail_is_signed_with_the_service_the_department_and_how_to_reach_it():
    from app.services.notify.mail import build_message
    from app.settings import Publisher, Settings

    settings = Settings(secret_key="s", vapid_private_key="", vapid_public_key="", signing_key="",
                        publisher=Publisher(department="企画部 地域振興課", phone="0144-00-0000", hours="平日 9:00〜17:00"))
    body = build_message(settings.smtp, "asker@example.com", "件名", "本文です。\n").get_content()
    assert body.startswith("本文です。\n\n――")
    assert "とまこまい つながる\n苫小牧市 企画部 地域振興課\nTEL 0144-00-0000（平日 9:00〜17:00）\n" in body
    bare = Publisher(department="", phone="", email="", hours="")
    unsigned = Settings(secret_key="s", vapid_private_key="", vapid_public_key="", signing_key="", publisher=bare)
    assert unsigned.smtp.signature.endswith("とまこまい つながる\n苫小牧市")
