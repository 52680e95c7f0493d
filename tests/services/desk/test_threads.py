"""An inquiry's thread: replies, the asker's further messages and notes in order (notes hidden from the asker),
status changes and assignment (audited), and a colleague's change meanwhile."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from app.services.desk import inbox, threads
from app.services.desk.common import InquiryInvalid
from app.services.desk.inbox import InboxFilter
from app.services.shared import clock
from db.tables import Account, AuditLog, Inquiry, Notice, OutboxMail
from tests import factories
from tests.services.desk.helpers import DESK_EMAIL, LINKS, messages, refused, staff_member, status_of


async def test_a_reply_by_mail_is_queued_threaded_and_moves_the_inquiry_to_waiting():
    sato = await staff_member()
    created = await factories.inquiry()
    post = factories.desk_post()
    await threads.reply(created["id"], sato, "夏季限定の賃貸物件をご案内します。", "email", "waiting", post)

    inquiry = await threads.get_inquiry(created["id"])
    assert inquiry["status"] == "waiting" and inquiry["assignee"] == sato  # nobody had it: now the one who answered
    receipt, answer = await OutboxMail.select().where(OutboxMail.purpose != "inquiry_staff").order_by(OutboxMail.id)
    assert answer["in_reply_to"] == receipt["message_id"] and answer["reply_to"] == DESK_EMAIL
    assert answer["subject"] == f"【ふるさと住民 相談窓口】お問い合わせへの回答（{created['reference']}）"
    audit = await AuditLog.select().where(AuditLog.action == "inquiry.status").output(load_json=True)
    assert [(a["actor"], a["detail"]["from"], a["detail"]["to"]) for a in audit] == [(sato, "new", "waiting")]


async def test_the_thread_keeps_every_message_in_order_and_hides_notes_from_the_asker():
    sato = await staff_member()
    member = await factories.member()
    created = await factories.inquiry(member.account_id, contact_method="app")
    post = factories.desk_post()
    start = clock.now()
    await threads.add_note(created["id"], sato, "移住支援課に確認中", now=start + timedelta(minutes=1))
    await threads.reply(created["id"], sato, "お試し住宅があります。", "app", "waiting", post, now=start + timedelta(minutes=2))
    await threads.add_asker_message(created["id"], "冬も使えますか。", "app", post.links, account_id=member.account_id,
                                    now=start + timedelta(minutes=3))

    staff_view = await threads.thread(created["id"], staff=True)
    assert [m["kind"] for m in staff_view] == ["asker", "note", "reply", "asker"]
    asker_view = await threads.thread(created["id"], staff=False)
    assert [m["body"] for m in asker_view] == ["夏の間だけ苫小牧で暮らすことはできますか。", "お試し住宅があります。", "冬も使えますか。"]
    assert all(m["mail_status"] is None for m in asker_view)
    [notice] = await Notice.select().where(Notice.account == member.account_id)
    assert notice["title"] == f"相談窓口から回答が届きました（{created['reference']}）"
    assert notice["url"] == f"/account/inquiries/{created['id']}"


async def test_the_askers_answer_brings_a_waiting_inquiry_back_and_tells_the_assignee():
    sato = await staff_member()
    member = await factories.member()
    created = await factories.inquiry(member.account_id)
    post = factories.desk_post()
    await threads.reply(created["id"], sato, "ご希望の時期を教えてください。", "app", "waiting", post)
    await threads.add_asker_message(created["id"], "7月から9月です。", "app", post.links, account_id=member.account_id)
    assert await status_of(created["id"]) == "in_progress"
    [notice] = await Notice.select().where(Notice.account == sato)
    assert notice["title"] == f"相談者から返信がありました（{created['reference']}）"
    [row] = await inbox.inbox(InboxFilter(), sato)
    assert row["asker_wrote_again"]


async def test_a_member_cannot_write_into_someone_elses_inquiry():
    owner = await factories.member("持ち主")
    other = await factories.member("他人")
    created = await factories.inquiry(owner.account_id)
    assert await refused(threads.add_asker_message(created["id"], "こんにちは", "app", LINKS, account_id=other.account_id)) == "not_found"
    assert await threads.inquiry_of_member(created["id"], other.account_id) is None
    assert len(await messages(created["id"])) == 1


async def test_a_closed_inquiry_refuses_replies_from_both_sides_until_staff_reopen_it():
    sato = await staff_member()
    member = await factories.member()
    created = await factories.inquiry(member.account_id)
    post = factories.desk_post()
    await threads.set_status(created["id"], sato, "closed")
    assert await refused(threads.reply(created["id"], sato, "追記です", "email", "waiting", post)) == "closed"
    assert await refused(threads.add_asker_message(created["id"], "まだ質問が", "app", LINKS, account_id=member.account_id)) == "closed"
    await threads.add_note(created["id"], sato, "電話で完了を確認")  # notes are still possible
    await threads.set_status(created["id"], sato, "in_progress")
    await threads.reply(created["id"], sato, "追記です", "email", "closed", post)
    audit = await AuditLog.select().where(AuditLog.action == "inquiry.status").order_by(AuditLog.id).output(load_json=True)
    assert [(a["detail"]["from"], a["detail"]["to"]) for a in audit] == [
        ("new", "closed"), ("closed", "in_progress"), ("in_progress", "closed")]


async def test_a_reply_needs_text_a_channel_that_reaches_the_asker_and_a_next_status():
    sato = await staff_member()
    created = await factories.inquiry(email="", phone="0144-32-6111", contact_method="phone")
    post = factories.desk_post()
    with pytest.raises(InquiryInvalid) as caught:
        await threads.reply(created["id"], sato, " ", "email", "open", post)
    assert set(caught.value.errors) == {"body", "channel", "next_status"}
    assert threads.reply_channels(await threads.get_inquiry(created["id"])) == ["phone"]
    await threads.reply(created["id"], sato, "お電話で説明しました。", "phone", "closed", post)
    assert await OutboxMail.count().where(OutboxMail.purpose == "inquiry_reply") == 0


async def test_a_reply_after_a_colleague_closed_the_inquiry_meanwhile_writes_nothing(monkeypatch):
    sato = await staff_member()
    created = await factories.inquiry()
    real_atomic = threads.atomic
    pending = [lambda: Inquiry.update({Inquiry.status: "closed"}).where(Inquiry.id == created["id"])]

    @asynccontextmanager
    async def after_a_colleague(engine):
        if pending:
            await pending.pop()()
        async with real_atomic(engine) as transaction:
            yield transaction

    monkeypatch.setattr(threads, "atomic", after_a_colleague)
    reason = await refused(threads.reply(created["id"], sato, "回答します", "email", "waiting", factories.desk_post()))
    assert reason == "changed_meanwhile"
    assert len(await messages(created["id"])) == 1
    assert await OutboxMail.count().where(OutboxMail.purpose == "inquiry_reply") == 0


async def test_assignment_goes_to_secretariat_members_only_and_is_audited():
    sato, suzuki = await staff_member("事務局 佐藤"), await staff_member("事務局 鈴木")
    editor = await factories.staff_account("編集 高橋", role="editor")
    created = await factories.inquiry()
    await threads.assign(created["id"], sato, suzuki)
    assert await refused(threads.assign(created["id"], sato, editor)) == "not_staff"
    await Account.update({Account.status: "deleted"}).where(Account.id == sato)
    assert await refused(threads.assign(created["id"], suzuki, sato)) == "not_staff"
    await threads.assign(created["id"], suzuki, None)
    audit = await AuditLog.select().where(AuditLog.action == "inquiry.assign").order_by(AuditLog.id).output(load_json=True)
    assert [(a["detail"]["from"], a["detail"]["to"]) for a in audit] == [(None, suzuki), (suzuki, None)]


async def test_staff_cannot_set_an_inquiry_back_to_new():
    sato = await staff_member()
    created = await factories.inquiry()
    assert await refused(threads.set_status(created["id"], sato, "new")) == "not_allowed"
    assert await refused(threads.set_status(999999, sato, "closed")) == "not_found"


async def test_staff_sort_a_mail_under_a_desk_category_audited_and_never_back_to_unsorted():
    sato = await staff_member()
    created = await factories.inquiry()
    await Inquiry.update({Inquiry.category: "mail"}).where(Inquiry.id == created["id"])
    await threads.set_category(created["id"], sato, "housing")
    await threads.set_category(created["id"], sato, "housing")  # no change, no second entry
    for wrong in ("mail", "spam", ""):
        assert await refused(threads.set_category(created["id"], sato, wrong)) == "not_a_category"
    assert await refused(threads.set_category(999999, sato, "work")) == "not_found"
    assert (await Inquiry.select(Inquiry.category).where(Inquiry.id == created["id"]).first())["category"] == "housing"
    audit = await AuditLog.select().where(AuditLog.action == "inquiry.category").output(load_json=True)
    assert [(a["actor"], a["detail"]) for a in audit] == [(sato, {"from": "mail", "to": "housing"})]


async def test_a_category_changed_by_a_colleague_meanwhile_is_not_overwritten(monkeypatch):
    sato = await staff_member()
    created = await factories.inquiry()
    read = threads.get_inquiry

    async def read_then_a_colleague_sorts_it(inquiry_id: int):
        inquiry = await read(inquiry_id)
        await Inquiry.update({Inquiry.category: "work"}).where(Inquiry.id == inquiry_id)
        return inquiry

    monkeypatch.setattr(threads, "get_inquiry", read_then_a_colleague_sorts_it)
    assert await refused(threads.set_category(created["id"], sato, "housing")) == "changed_meanwhile"
    assert (await Inquiry.select(Inquiry.category).first())["category"] == "work"
    assert not await AuditLog.exists().where(AuditLog.action == "inquiry.category")
