"""Retention: what is past the period (strictly older than it, to the second), and the purge that forgets
the people in it, keeps the counts, runs in one transaction and is audited."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.services.audit import retention
from app.services.desk import asking, threads, validation
from app.services.notify import outbox
from app.settings import Smtp
from db.tables import AuditLog, Inquiry, InquiryMessage, Notice, OutboxMail, Upload
from tests import factories
from tests.services.desk.helpers import mailed_photo

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)  # 2026-12-01 00:00 in Tokyo
DAYS = 365
CUTOFF = NOW - timedelta(days=DAYS)
SECOND = timedelta(seconds=1)


async def closed_inquiry(created: datetime, closed: datetime, staff: int, account_id: int | None = None, **form) -> int:
    values = await validation.validate_inquiry(factories.inquiry_form(**form), member=account_id is not None, now=created)
    asked = await asking.create_inquiry(values, factories.desk_post(), account_id=account_id, now=created)
    await threads.set_status(asked["id"], staff, "closed", now=closed)
    return asked["id"]


async def sent_mail(at: datetime, tmp_path) -> int:
    mail = await outbox.enqueue(Smtp(), "someone@example.jp", "件名", "本文", "inquiry_reply", now=at)
    await outbox.deliver_due(Smtp(), tmp_path / "mail", now=at)
    return mail["id"]


async def test_a_closed_inquiry_is_due_only_when_its_last_activity_is_older_than_the_period():
    staff = await factories.staff_account()
    at_the_cutoff = await closed_inquiry(CUTOFF - timedelta(days=30), CUTOFF, staff, email="a@example.jp")
    just_older = await closed_inquiry(CUTOFF - timedelta(days=30), CUTOFF - SECOND, staff, email="b@example.jp")
    closed_lately = await closed_inquiry(CUTOFF - timedelta(days=400), CUTOFF + SECOND, staff, email="c@example.jp")
    values = await validation.validate_inquiry(factories.inquiry_form(email="d@example.jp"), now=CUTOFF)
    still_open = await asking.create_inquiry(values, factories.desk_post(), now=CUTOFF - timedelta(days=400))
    due = await retention.due(DAYS, NOW)
    assert due.cutoff == CUTOFF
    assert [i["id"] for i in due.inquiries] == [just_older] and due.inquiry_count == 1
    assert {at_the_cutoff, closed_lately, still_open["id"]}.isdisjoint({i["id"] for i in due.inquiries})


async def test_a_mail_is_due_once_sent_or_failed_before_the_period_and_a_queued_one_never(tmp_path):
    older = await sent_mail(CUTOFF - SECOND, tmp_path)
    await sent_mail(CUTOFF, tmp_path)
    failed = await outbox.enqueue(Smtp(), "x@example.jp", "件名", "本文", "inquiry_reply", now=CUTOFF - timedelta(days=2))
    # What the outbox records after a day of refusals from the mail server.
    await OutboxMail.update({OutboxMail.status: "failed"}).where(OutboxMail.id == failed["id"])
    await outbox.enqueue(Smtp(), "y@example.jp", "件名", "本文", "inquiry_reply", now=CUTOFF - timedelta(days=400))
    assert (await retention.due(DAYS, NOW)).mail_count == 2
    staff = await factories.staff_account()
    assert await retention.purge(staff, DAYS, NOW) == retention.Purged(inquiries=0, mails=2)
    purged = await OutboxMail.select().where(OutboxMail.body == "").order_by(OutboxMail.id)
    assert [m["id"] for m in purged] == [older, failed["id"]]
    assert {m["to_address"] for m in purged} == {""} and {m["subject"] for m in purged} == {"件名"}
    assert await OutboxMail.count().where(OutboxMail.body != "") == 2  # the one at the cutoff, the queued one


async def test_the_purge_forgets_who_asked_and_what_was_said_keeps_the_counts_and_is_audited():
    staff = await factories.staff_account()
    member = await factories.member("相談した人")
    old = CUTOFF - timedelta(days=10)
    values = await validation.validate_inquiry(factories.inquiry_form(name="相談 花子", phone="0144-11-2222"),
                                               member=True, now=old)
    asked = await asking.create_inquiry(values, factories.desk_post(), account_id=member.account_id, now=old)
    await threads.reply(asked["id"], staff, "お答えします。", "email", "waiting", factories.desk_post(), now=old)
    await threads.add_asker_message(asked["id"], "追加で質問です。", "app", factories.desk_post().links,
                                    account_id=member.account_id, now=old + timedelta(hours=1))
    await threads.set_status(asked["id"], staff, "closed", now=old + timedelta(hours=2))
    recent = await closed_inquiry(NOW - timedelta(days=3), NOW - timedelta(days=2), staff, email="recent@example.jp")

    assert await retention.purge(staff, DAYS, NOW) == retention.Purged(inquiries=1, mails=2)

    row = await Inquiry.select().where(Inquiry.id == asked["id"]).first()
    assert (row["name"], row["email"], row["phone"], row["account"]) == ("削除済み", "", "", None)
    assert (row["category"], row["status"]) == ("dual_residence", "closed")
    assert [m["body"] for m in await InquiryMessage.select().where(InquiryMessage.inquiry == asked["id"])] == ["", "", ""]
    assert await Notice.count().where(Notice.body.like("%質問です%")) == 0
    assert await Notice.count().where(Notice.body == "お答えします。") == 0
    assert await OutboxMail.count().where(OutboxMail.to_address == "hanako@example.jp") == 0
    assert await OutboxMail.count().where(OutboxMail.status == "queued") == 1  # the recent receipt only
    assert (await Inquiry.select(Inquiry.name).where(Inquiry.id == recent).first())["name"] == "二地域 花子"
    entry = await AuditLog.select().where(AuditLog.action == "retention.purge").first().output(load_json=True)
    assert entry["actor"] == staff
    assert entry["detail"] == {"days": DAYS, "before": CUTOFF.isoformat(), "inquiries": 1, "mails": 2}
    assert (await retention.due(DAYS, NOW)).inquiry_count == 0
    assert await retention.purge(staff, DAYS, NOW) == retention.Purged(0, 0)


async def inquiry_with_a_mailed_photo(staff: int, var_dir) -> tuple[int, object]:
    """A closed inquiry past the period whose asker had sent a photo by mail, and the photo's file."""
    asked = await closed_inquiry(CUTOFF - timedelta(days=30), CUTOFF - timedelta(days=20), staff)
    reference = (await Inquiry.select(Inquiry.reference).where(Inquiry.id == asked).first())["reference"]
    photo = await mailed_photo(reference, var_dir, when=CUTOFF - timedelta(days=10))  # it reopens the inquiry
    await threads.set_status(asked, staff, "closed", now=CUTOFF - timedelta(days=9))
    return asked, photo


async def test_the_purge_deletes_the_files_attached_to_the_askers_mails(tmp_path):
    staff = await factories.staff_account()
    _asked, photo = await inquiry_with_a_mailed_photo(staff, tmp_path)
    _other, gone_already = await inquiry_with_a_mailed_photo(staff, tmp_path)
    gone_already.unlink()  # deleted by hand, or by a purge that died after its commit

    assert await retention.purge(staff, DAYS, NOW, var_dir=tmp_path) == retention.Purged(inquiries=2, mails=2)

    assert not photo.exists() and await Upload.count() == 0


async def test_a_purge_that_fails_midway_changes_nothing(monkeypatch, tmp_path):
    staff = await factories.staff_account()
    asked, photo = await inquiry_with_a_mailed_photo(staff, tmp_path)

    class BrokenLog:
        def __init__(self, **_values) -> None:
            pass

        @staticmethod
        def insert(*_rows):
            raise RuntimeError("the audit log cannot be written")

    monkeypatch.setattr(retention, "AuditLog", BrokenLog)
    with pytest.raises(RuntimeError):
        await retention.purge(staff, DAYS, NOW, var_dir=tmp_path)
    row = await Inquiry.select(Inquiry.name, Inquiry.email).where(Inquiry.id == asked).first()
    assert row == {"name": "二地域 花子", "email": "hanako@example.jp"}
    assert await InquiryMessage.count().where(InquiryMessage.body == "") == 0
    assert photo.is_file() and await Upload.exists().where(Upload.name == photo.name)


async def test_the_purge_deletes_the_mail_files_written_before_the_period(tmp_path):
    """Without a mail server the outbox writes each mail as a file: those past the period go with the rows."""
    await sent_mail(CUTOFF - SECOND, tmp_path)
    await sent_mail(CUTOFF, tmp_path)
    await sent_mail(NOW, tmp_path)
    files = sorted(p.name for p in (tmp_path / "mail").glob("*.eml"))
    assert len(files) == 3
    staff = await factories.staff_account()
    await retention.purge(staff, DAYS, NOW, var_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "mail").glob("*.eml")) == files[1:]
