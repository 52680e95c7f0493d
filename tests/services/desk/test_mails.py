"""The desk's mails through a real SMTP server: receipt and reply threaded with Japanese intact, retried while
the server is down and never lost."""

from __future__ import annotations

from datetime import timedelta

from app.services.desk import threads
from app.services.notify import outbox
from app.services.shared import clock
from db.tables import Inquiry, OutboxMail
from tests import factories
from tests.mailbox import SmtpServer, free_port
from tests.services.desk.helpers import DESK_EMAIL, messages, refused, smtp_on, staff_member


async def test_the_receipt_and_a_reply_arrive_with_threading_headers_and_japanese_intact(tmp_path):
    sato = await staff_member()
    with SmtpServer() as server:
        post = factories.desk_post(smtp_on(server.port))
        created = await factories.inquiry(post=post, message="子どもの転校の手続きについて教えてください。")
        assert await outbox.deliver_due(post.smtp, tmp_path) == outbox.OutboxStats(sent=1)
        await threads.reply(created["id"], sato, "教育委員会の窓口をご案内します。\n平日 8:45〜17:15 です。", "email",
                            "waiting", post)
        assert await outbox.deliver_due(post.smtp, tmp_path) == outbox.OutboxStats(sent=1)

        receipt, answer = server.mailbox.messages
        assert server.mailbox.subject(0) == f"【ふるさと住民 相談窓口】お問い合わせを受け付けました（{created['reference']}）"
        assert receipt["To"] == "hanako@example.jp" and receipt["Reply-To"] == DESK_EMAIL
        assert receipt.get_content_charset() == "utf-8"
        body = server.mailbox.body(0)
        assert "二地域 花子 様" in body and "子どもの転校の手続きについて教えてください。" in body
        assert f"受付番号：{created['reference']}" in body and "0144-32-6111（平日 8:45〜17:15）" in body

        assert server.mailbox.subject(1) == f"【ふるさと住民 相談窓口】お問い合わせへの回答（{created['reference']}）"
        assert answer["In-Reply-To"] == receipt["Message-ID"] and answer["References"] == receipt["Message-ID"]
        assert answer["Reply-To"] == DESK_EMAIL
        assert "教育委員会の窓口をご案内します。\r\n平日 8:45〜17:15 です。" in server.mailbox.body(1)  # SMTP lines end in CRLF


async def test_a_mail_server_that_is_down_loses_neither_the_inquiry_nor_the_reply(tmp_path):
    sato = await staff_member()
    post = factories.desk_post(smtp_on(free_port()))  # nothing listens there
    created = await factories.inquiry(post=post)
    message_id = await threads.reply(created["id"], sato, "回答です。", "email", "waiting", post)
    now = clock.now()
    assert await outbox.deliver_due(post.smtp, tmp_path, now) == outbox.OutboxStats(retried=2)
    assert await Inquiry.count() == 1 and len(await messages(created["id"])) == 2

    reply = next(m for m in await threads.thread(created["id"], staff=True) if m["id"] == message_id)
    assert reply["mail_status"]["status"] == "queued" and reply["mail_status"]["attempts"] == 1
    assert await refused(threads.resend_mail(created["id"], message_id)) == "not_failed"  # still being retried

    await OutboxMail.update({OutboxMail.attempts: outbox.MAX_ATTEMPTS - 1}).where(OutboxMail.id == reply["mail"])
    later = now + timedelta(minutes=5)
    assert await outbox.deliver_due(post.smtp, tmp_path, later) == outbox.OutboxStats(retried=1, failed=1)
    reply = next(m for m in await threads.thread(created["id"], staff=True) if m["id"] == message_id)
    assert reply["mail_status"]["status"] == "failed" and reply["mail_status"]["last_error"]

    with SmtpServer() as server:
        post = factories.desk_post(smtp_on(server.port))
        await threads.resend_mail(created["id"], message_id, now=later)
        assert await outbox.deliver_due(post.smtp, tmp_path, later) == outbox.OutboxStats(sent=1)
        assert server.mailbox.subject() == f"【ふるさと住民 相談窓口】お問い合わせへの回答（{created['reference']}）"
    assert await refused(threads.resend_mail(created["id"], 999999)) == "not_found"
