"""The consultation desk: validation of what askers type, an inquiry stored with its first message, receipt and
staff notification in one transaction, threads in order (notes hidden from the asker), status changes and
assignment (audited), the inbox's filters, reply templates, and mail through a real SMTP server, retried while
it is down and never lost."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import pytest

from app.services.desk import inquiries
from app.services.desk.inquiries import InboxFilter, InquiryInvalid, InquiryRefused
from app.services.notify import outbox
from app.services.shared import clock
from app.settings import Smtp
from db.tables import Account, AuditLog, Inquiry, InquiryMessage, Notice, Notification, OutboxMail, PortalBlock
from tests import factories
from tests.mailbox import SmtpServer, free_port

DESK_EMAIL = "desk@tomakomai.example"
LINKS = factories.desk_post().links


def smtp_on(port: int) -> Smtp:
    return Smtp(host="127.0.0.1", port=port, starttls=False, mail_from="no-reply@tomakomai.example")


async def staff_member(name: str = "事務局 佐藤", email: str = "") -> int:
    """A secretariat account; with `email`, a confirmed address that gets the desk's mail."""
    fields = {"email": email, "email_verified_at": clock.now()} if email else {}
    return await factories.staff_account(name, **fields)


async def invalid(form: dict, **kwargs) -> dict[str, str]:
    with pytest.raises(InquiryInvalid) as caught:
        await inquiries.validate_inquiry(form, **kwargs)
    return caught.value.errors


async def refused(action) -> str:
    with pytest.raises(InquiryRefused) as caught:
        await action
    return caught.value.reason


async def messages(inquiry_id: int) -> list[dict]:
    return await InquiryMessage.select().where(InquiryMessage.inquiry == inquiry_id).order_by(InquiryMessage.id)


async def status_of(inquiry_id: int) -> str:
    return (await Inquiry.select(Inquiry.status).where(Inquiry.id == inquiry_id).first())["status"]


# --- What askers type -------------------------------------------------------------------------------------


async def test_a_complete_form_is_accepted_with_full_width_input_made_ascii():
    values = await inquiries.validate_inquiry(factories.inquiry_form(
        email="ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ", phone="０１４４－３２－６１１１", contact_method="phone"))
    assert values.email == "hanako@example.jp"
    assert values.phone == "0144-32-6111"
    assert values.channel == "web" and values.consent_version == inquiries.CONSENT_VERSION


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"message": "   "}, "message", "ご相談の内容を入力してください。"),
    ({"message": "あ" * 4001}, "message", "4000文字以内で入力してください（いま4001文字）。"),
    ({"name": ""}, "name", "お名前を入力してください。"),
    ({"name": "名" * 101}, "name", "100文字以内で入力してください。"),
    ({"email": "hanako@example"}, "email", "taro@example.jp のような形式でメールアドレスを入力してください。"),
    ({"email": "", "phone": "0144-32"}, "phone", "0144-32-6111 のように、市外局番から電話番号を入力してください。"),
    ({"email": "", "phone": "0144-32-6111-2222-33"}, "phone", "0144-32-6111 のように、市外局番から電話番号を入力してください。"),
    ({"email": "", "phone": "03-abcd-efgh"}, "phone", "0144-32-6111 のように、市外局番から電話番号を入力してください。"),
    ({"email": "", "phone": ""}, "email", "メールアドレスを入力するか、別の連絡方法を選んでください。"),
    ({"email": "", "phone": "", "contact_method": ""}, "email", "回答を受け取れるよう、メールアドレスか電話番号を入力してください。"),
    ({"phone": "", "contact_method": "phone"}, "phone", "電話番号を入力するか、別の連絡方法を選んでください。"),
    ({"contact_method": "app"}, "contact_method", "回答の受け取り方を選んでください。"),
    ({"category": "tax"}, "category", "ご相談の種類を選んでください。"),
    ({"consent": ""}, "consent", "個人情報の取り扱いをお読みのうえ、同意してください。"),
])
async def test_bad_input_is_refused_with_a_japanese_message_next_to_its_field(changes, field, message):
    errors = await invalid(factories.inquiry_form(**changes))
    assert errors[field] == message


async def test_only_a_member_may_ask_to_be_answered_in_the_app_and_then_needs_no_address():
    values = await inquiries.validate_inquiry(factories.inquiry_form(email="", contact_method="app"), member=True)
    assert values.contact_method == "app" and values.email == ""


async def test_a_recorded_phone_inquiry_needs_its_channel():
    errors = await invalid(factories.inquiry_form(channel="fax"), recorded=True)
    assert errors == {"channel": "相談が届いた方法を選んでください。"}
    values = await inquiries.validate_inquiry(factories.inquiry_form(channel="phone"), recorded=True)
    assert values.channel == "phone"


async def test_one_address_sending_many_inquiries_in_an_hour_is_asked_to_wait():
    for _n in range(inquiries.PER_EMAIL_PER_HOUR):
        await factories.inquiry()
    errors = await invalid(factories.inquiry_form())
    assert "1時間" in errors["email"]
    later = clock.now() + timedelta(hours=1, minutes=1)
    assert await inquiries.validate_inquiry(factories.inquiry_form(), now=later)


# --- Asking -----------------------------------------------------------------------------------------------


async def test_an_inquiry_is_stored_with_its_message_receipt_and_the_staffs_notification():
    sato = await staff_member("事務局 佐藤", "sato@tomakomai.example")
    suzuki = await staff_member("事務局 鈴木")  # no confirmed address: push and inbox only
    await factories.staff_account("編集 高橋", role="editor", email="editor@tomakomai.example",
                                  email_verified_at=clock.now())
    created = await factories.inquiry()

    assert re.fullmatch(r"Q-\d{4}-[2-9A-HJ-NP-Z]{4}", created["reference"])
    inquiry = await Inquiry.select().where(Inquiry.id == created["id"]).first()
    assert inquiry["status"] == "new" and inquiry["channel"] == "web" and inquiry["assignee"] is None
    [first] = await messages(created["id"])
    assert first["kind"] == "asker" and first["channel"] == "web" and first["mail"] is not None
    mails = await OutboxMail.select().order_by(OutboxMail.id)
    assert [(m["to_address"], m["purpose"]) for m in mails] == [
        ("hanako@example.jp", "inquiry_receipt"), ("sato@tomakomai.example", "inquiry_staff"),
    ]
    assert mails[0]["reply_to"] == DESK_EMAIL and created["reference"] in mails[0]["subject"]
    assert "二地域 花子" not in mails[1]["body"] and "夏の間" not in mails[1]["body"]  # no personal data by mail
    [notification] = await Notification.select().output(load_json=True)
    assert notification["topic"] == "desk" and sorted(notification["target"]["accounts"]) == sorted([sato, suzuki])
    assert notification["url"] == f"/staff/inquiries/{created['id']}"


async def test_a_reference_drawn_twice_is_drawn_again(monkeypatch):
    first = await factories.inquiry()
    draws = iter([first["reference"], first["reference"], "Q-2611-ABCD"])
    monkeypatch.setattr(inquiries, "new_reference", lambda now: next(draws))
    second = await factories.inquiry(email="jiro@example.jp")
    assert second["reference"] == "Q-2611-ABCD"
    assert await Inquiry.count() == 2 and await InquiryMessage.count() == 2
    assert await OutboxMail.count().where(OutboxMail.to_address == "jiro@example.jp") == 1  # no half-written tries


async def test_references_avoid_characters_that_are_misread():
    now = datetime(2026, 11, 3, 1, 0, tzinfo=timezone.utc)
    for _n in range(200):
        reference = inquiries.new_reference(now)
        assert reference.startswith("Q-2611-") and not set(reference[7:]) & set("01OI")


async def test_a_members_inquiry_is_linked_to_their_account():
    member = await factories.member()
    created = await factories.inquiry(member.account_id, email="", contact_method="app")
    inquiry = await Inquiry.select().where(Inquiry.id == created["id"]).first()
    assert inquiry["account"] == member.account_id and inquiry["contact_method"] == "app"
    [first] = await messages(created["id"])
    assert first["channel"] == "app" and first["mail"] is None  # no address, no receipt
    assert [r["reference"] for r in await inquiries.inquiries_of_member(member.account_id)] == [created["reference"]]


async def test_staff_record_a_phone_inquiry_as_theirs_without_telling_the_others():
    sato = await staff_member("事務局 佐藤", "sato@tomakomai.example")
    await staff_member("事務局 鈴木", "suzuki@tomakomai.example")
    form = factories.inquiry_form(channel="phone", email="", phone="090-1234-5678", contact_method="phone")
    values = await inquiries.validate_inquiry(form, recorded=True)
    created = await inquiries.create_inquiry(values, factories.desk_post(), recorded_by=sato)
    inquiry = await Inquiry.select().where(Inquiry.id == created["id"]).first()
    assert (inquiry["channel"], inquiry["status"], inquiry["assignee"]) == ("phone", "in_progress", sato)
    [first] = await messages(created["id"])
    assert first["channel"] == "phone" and first["author"] == sato
    assert await OutboxMail.count() == 0 and await Notification.count() == 0


# --- Threads, status and assignment -----------------------------------------------------------------------


async def test_a_reply_by_mail_is_queued_threaded_and_moves_the_inquiry_to_waiting():
    sato = await staff_member()
    created = await factories.inquiry()
    post = factories.desk_post()
    await inquiries.reply(created["id"], sato, "夏季限定の賃貸物件をご案内します。", "email", "waiting", post)

    inquiry = await inquiries.get_inquiry(created["id"])
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
    await inquiries.add_note(created["id"], sato, "移住支援課に確認中", now=start + timedelta(minutes=1))
    await inquiries.reply(created["id"], sato, "お試し住宅があります。", "app", "waiting", post, now=start + timedelta(minutes=2))
    await inquiries.add_asker_message(created["id"], "冬も使えますか。", "app", post.links, account_id=member.account_id,
                                      now=start + timedelta(minutes=3))

    staff_view = await inquiries.thread(created["id"], staff=True)
    assert [m["kind"] for m in staff_view] == ["asker", "note", "reply", "asker"]
    asker_view = await inquiries.thread(created["id"], staff=False)
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
    await inquiries.reply(created["id"], sato, "ご希望の時期を教えてください。", "app", "waiting", post)
    await inquiries.add_asker_message(created["id"], "7月から9月です。", "app", post.links, account_id=member.account_id)
    assert await status_of(created["id"]) == "in_progress"
    [notice] = await Notice.select().where(Notice.account == sato)
    assert notice["title"] == f"相談者から返信がありました（{created['reference']}）"
    [row] = await inquiries.inbox(InboxFilter(), sato)
    assert row["asker_wrote_again"]


async def test_a_member_cannot_write_into_someone_elses_inquiry():
    owner = await factories.member("持ち主")
    other = await factories.member("他人")
    created = await factories.inquiry(owner.account_id)
    assert await refused(inquiries.add_asker_message(created["id"], "こんにちは", "app", LINKS, account_id=other.account_id)) == "not_found"
    assert await inquiries.inquiry_of_member(created["id"], other.account_id) is None
    assert len(await messages(created["id"])) == 1


async def test_a_closed_inquiry_refuses_replies_from_both_sides_until_staff_reopen_it():
    sato = await staff_member()
    member = await factories.member()
    created = await factories.inquiry(member.account_id)
    post = factories.desk_post()
    await inquiries.set_status(created["id"], sato, "closed")
    assert await refused(inquiries.reply(created["id"], sato, "追記です", "email", "waiting", post)) == "closed"
    assert await refused(inquiries.add_asker_message(created["id"], "まだ質問が", "app", LINKS, account_id=member.account_id)) == "closed"
    await inquiries.add_note(created["id"], sato, "電話で完了を確認")  # notes are still possible
    await inquiries.set_status(created["id"], sato, "in_progress")
    await inquiries.reply(created["id"], sato, "追記です", "email", "closed", post)
    audit = await AuditLog.select().where(AuditLog.action == "inquiry.status").order_by(AuditLog.id).output(load_json=True)
    assert [(a["detail"]["from"], a["detail"]["to"]) for a in audit] == [
        ("new", "closed"), ("closed", "in_progress"), ("in_progress", "closed")]


async def test_a_reply_needs_text_a_channel_that_reaches_the_asker_and_a_next_status():
    sato = await staff_member()
    created = await factories.inquiry(email="", phone="0144-32-6111", contact_method="phone")
    post = factories.desk_post()
    with pytest.raises(InquiryInvalid) as caught:
        await inquiries.reply(created["id"], sato, " ", "email", "open", post)
    assert set(caught.value.errors) == {"body", "channel", "next_status"}
    assert inquiries.reply_channels(await inquiries.get_inquiry(created["id"])) == ["phone"]
    await inquiries.reply(created["id"], sato, "お電話で説明しました。", "phone", "closed", post)
    assert await OutboxMail.count().where(OutboxMail.purpose == "inquiry_reply") == 0


async def test_a_reply_after_a_colleague_closed_the_inquiry_meanwhile_writes_nothing(monkeypatch):
    sato = await staff_member()
    created = await factories.inquiry()
    real_atomic = inquiries.atomic
    pending = [lambda: Inquiry.update({Inquiry.status: "closed"}).where(Inquiry.id == created["id"])]

    @asynccontextmanager
    async def after_a_colleague(engine):
        if pending:
            await pending.pop()()
        async with real_atomic(engine) as transaction:
            yield transaction

    monkeypatch.setattr(inquiries, "atomic", after_a_colleague)
    reason = await refused(inquiries.reply(created["id"], sato, "回答します", "email", "waiting", factories.desk_post()))
    assert reason == "changed_meanwhile"
    assert len(await messages(created["id"])) == 1
    assert await OutboxMail.count().where(OutboxMail.purpose == "inquiry_reply") == 0


async def test_assignment_goes_to_secretariat_members_only_and_is_audited():
    sato, suzuki = await staff_member("事務局 佐藤"), await staff_member("事務局 鈴木")
    editor = await factories.staff_account("編集 高橋", role="editor")
    created = await factories.inquiry()
    await inquiries.assign(created["id"], sato, suzuki)
    assert await refused(inquiries.assign(created["id"], sato, editor)) == "not_staff"
    await Account.update({Account.status: "deleted"}).where(Account.id == sato)
    assert await refused(inquiries.assign(created["id"], suzuki, sato)) == "not_staff"
    await inquiries.assign(created["id"], suzuki, None)
    audit = await AuditLog.select().where(AuditLog.action == "inquiry.assign").order_by(AuditLog.id).output(load_json=True)
    assert [(a["detail"]["from"], a["detail"]["to"]) for a in audit] == [(None, suzuki), (suzuki, None)]


async def test_staff_cannot_set_an_inquiry_back_to_new():
    sato = await staff_member()
    created = await factories.inquiry()
    assert await refused(inquiries.set_status(created["id"], sato, "new")) == "not_allowed"
    assert await refused(inquiries.set_status(999999, sato, "closed")) == "not_found"


# --- The inbox --------------------------------------------------------------------------------------------


async def test_the_inbox_filters_by_status_category_assignee_and_search():
    sato, suzuki = await staff_member("事務局 佐藤"), await staff_member("事務局 鈴木")
    housing = await factories.inquiry(name="住まい 太郎", email="taro@example.jp", category="housing",
                                      message="空き家バンクの物件は見学できますか。")
    work = await factories.inquiry(name="仕事 次郎", email="jiro@example.jp", category="work")
    closed = await factories.inquiry(name="完了 三郎", email="saburo@example.jp")
    await inquiries.assign(housing["id"], sato, sato)
    await inquiries.assign(work["id"], sato, suzuki)
    await inquiries.set_status(closed["id"], sato, "closed")

    async def names(**filters) -> list[str]:
        return [r["name"] for r in await inquiries.inbox(InboxFilter(**filters), sato)]

    assert await names() == ["住まい 太郎", "仕事 次郎"]  # open ones, oldest first
    assert await names(sort="newest", status="all") == ["完了 三郎", "仕事 次郎", "住まい 太郎"]
    assert await names(status="closed") == ["完了 三郎"]
    assert await names(category="housing") == ["住まい 太郎"]
    assert await names(assignee="mine") == ["住まい 太郎"]
    assert await names(assignee=str(suzuki)) == ["仕事 次郎"]
    assert await names(assignee="unassigned", status="all") == ["完了 三郎"]
    assert await names(q="空き家バンク") == ["住まい 太郎"]
    assert await names(q=work["reference"].lower()) == ["仕事 次郎"]
    assert await names(q="JIRO@") == ["仕事 次郎"]
    assert await names(q="100%_") == []
    assert await names(status="nonsense", category="nonsense", assignee="x", sort="x") == ["住まい 太郎", "仕事 次郎"]
    counts = await inquiries.status_counts()
    assert (counts["new"], counts["closed"], counts["open"]) == (2, 1, 2)


async def test_old_inquiries_waiting_on_the_desk_stand_out():
    sato = await staff_member()
    start = clock.now()
    created = await factories.inquiry()
    row = lambda now: inquiries.inbox(InboxFilter(), sato, now=now)  # noqa: E731
    assert (await row(start + timedelta(days=3)))[0]["age_level"] == ""
    assert (await row(start + timedelta(days=3, hours=1)))[0]["age_level"] == "amber"
    assert (await row(start + timedelta(days=8)))[0]["age_level"] == "red"
    await inquiries.reply(created["id"], sato, "回答です", "email", "waiting", factories.desk_post())
    assert (await row(start + timedelta(days=8)))[0]["age_level"] == ""  # the asker's turn


async def test_the_export_has_contact_details_and_the_question_but_no_internal_notes():
    sato = await staff_member()
    created = await factories.inquiry(phone="0144-32-6111")
    await inquiries.add_note(created["id"], sato, "社外秘のメモ")
    [row] = await inquiries.export_rows(InboxFilter(status="all"), sato)
    assert row["reference"] == created["reference"] and row["phone"] == "0144-32-6111"
    assert row["first_message"] == "夏の間だけ苫小牧で暮らすことはできますか。" and row["messages"] == 1


# --- Reply templates --------------------------------------------------------------------------------------


async def test_templates_are_validated_saved_sorted_for_the_category_and_filled_in():
    sato = await staff_member()
    with pytest.raises(InquiryInvalid) as caught:
        inquiries.validate_template({"title": "", "body": "", "category": "x"})
    assert set(caught.value.errors) == {"title", "body", "category"}
    general = await inquiries.save_template(inquiries.validate_template(
        {"title": "受付のお礼", "body": "{name} 様\nお問い合わせ（{reference}）ありがとうございます。"}), sato)
    housing = await inquiries.save_template(inquiries.validate_template(
        {"title": "空き家バンクのご案内", "body": "空き家バンクをご覧ください。", "category": "housing"}), sato)
    assert [t["id"] for t in await inquiries.templates("housing")] == [housing, general]
    await inquiries.save_template(inquiries.validate_template({"title": "受付のお礼（改）", "body": "本文"}), sato, general)
    assert {t["title"] for t in await inquiries.templates()} == {"受付のお礼（改）", "空き家バンクのご案内"}
    await inquiries.delete_template(housing)
    assert await refused(inquiries.delete_template(housing)) == "not_found"
    filled = inquiries.fill_template("{name} 様（{reference}）", {"name": "花子", "reference": "Q-2611-ABCD"})
    assert filled == "花子 様（Q-2611-ABCD）"


# --- The desk's details -----------------------------------------------------------------------------------


async def test_the_desk_is_read_from_its_portal_block_or_falls_back_to_a_name():
    assert await inquiries.load_desk("相談窓口") == inquiries.Desk("相談窓口")
    await PortalBlock.insert(PortalBlock(kind="desk", key="desk", title="ふるさと住民 相談窓口",
                                         fields={"phone": "0144-32-6111", "email": DESK_EMAIL, "hours": "平日 8:45〜17:15"}))
    assert await inquiries.load_desk("相談窓口") == inquiries.Desk("ふるさと住民 相談窓口", "0144-32-6111", DESK_EMAIL,
                                                                   "平日 8:45〜17:15")


# --- Mail through a real SMTP server ----------------------------------------------------------------------


async def test_the_receipt_and_a_reply_arrive_with_threading_headers_and_japanese_intact(tmp_path):
    sato = await staff_member()
    with SmtpServer() as server:
        post = factories.desk_post(smtp_on(server.port))
        created = await factories.inquiry(post=post, message="子どもの転校の手続きについて教えてください。")
        assert await outbox.deliver_due(post.smtp, tmp_path) == outbox.OutboxStats(sent=1)
        await inquiries.reply(created["id"], sato, "教育委員会の窓口をご案内します。\n平日 8:45〜17:15 です。", "email",
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
    message_id = await inquiries.reply(created["id"], sato, "回答です。", "email", "waiting", post)
    now = clock.now()
    assert await outbox.deliver_due(post.smtp, tmp_path, now) == outbox.OutboxStats(retried=2)
    assert await Inquiry.count() == 1 and len(await messages(created["id"])) == 2

    reply = next(m for m in await inquiries.thread(created["id"], staff=True) if m["id"] == message_id)
    assert reply["mail_status"]["status"] == "queued" and reply["mail_status"]["attempts"] == 1
    assert await refused(inquiries.resend_mail(created["id"], message_id)) == "not_failed"  # still being retried

    await OutboxMail.update({OutboxMail.attempts: outbox.MAX_ATTEMPTS - 1}).where(OutboxMail.id == reply["mail"])
    later = now + timedelta(minutes=5)
    assert await outbox.deliver_due(post.smtp, tmp_path, later) == outbox.OutboxStats(retried=1, failed=1)
    reply = next(m for m in await inquiries.thread(created["id"], staff=True) if m["id"] == message_id)
    assert reply["mail_status"]["status"] == "failed" and reply["mail_status"]["last_error"]

    with SmtpServer() as server:
        post = factories.desk_post(smtp_on(server.port))
        await inquiries.resend_mail(created["id"], message_id, now=later)
        assert await outbox.deliver_due(post.smtp, tmp_path, later) == outbox.OutboxStats(sent=1)
        assert server.mailbox.subject() == f"【ふるさと住民 相談窓口】お問い合わせへの回答（{created['reference']}）"
    assert await refused(inquiries.resend_mail(created["id"], 999999)) == "not_found"
