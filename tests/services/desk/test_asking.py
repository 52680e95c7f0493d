"""An inquiry stored with its first message, receipt and the staff's notification in one transaction, under a
reference number that is easy to read aloud."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from app.services.desk import asking, inbox, validation
from app.services.shared import clock
from db.tables import Inquiry, InquiryMessage, Notification, OutboxMail
from tests import factories
from tests.services.desk.helpers import DESK_EMAIL, messages, staff_member


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
    monkeypatch.setattr(asking, "new_reference", lambda now: next(draws))
    second = await factories.inquiry(email="jiro@example.jp")
    assert second["reference"] == "Q-2611-ABCD"
    assert await Inquiry.count() == 2 and await InquiryMessage.count() == 2
    assert await OutboxMail.count().where(OutboxMail.to_address == "jiro@example.jp") == 1  # no half-written tries


async def test_references_avoid_characters_that_are_misread():
    now = datetime(2026, 11, 3, 1, 0, tzinfo=timezone.utc)
    for _n in range(200):
        reference = asking.new_reference(now)
        assert reference.startswith("Q-2611-") and not set(reference[7:]) & set("01OI")


async def test_a_members_inquiry_is_linked_to_their_account():
    member = await factories.member()
    created = await factories.inquiry(member.account_id, email="", contact_method="app")
    inquiry = await Inquiry.select().where(Inquiry.id == created["id"]).first()
    assert inquiry["account"] == member.account_id and inquiry["contact_method"] == "app"
    [first] = await messages(created["id"])
    assert first["channel"] == "app" and first["mail"] is None  # no address, no receipt
    assert [r["reference"] for r in await inbox.inquiries_of_member(member.account_id)] == [created["reference"]]


async def test_staff_record_a_phone_inquiry_as_theirs_without_telling_the_others():
    sato = await staff_member("事務局 佐藤", "sato@tomakomai.example")
    await staff_member("事務局 鈴木", "suzuki@tomakomai.example")
    form = factories.inquiry_form(channel="phone", email="", phone="090-1234-5678", contact_method="phone")
    values = await validation.validate_inquiry(form, recorded=True)
    created = await asking.create_inquiry(values, factories.desk_post(), recorded_by=sato)
    inquiry = await Inquiry.select().where(Inquiry.id == created["id"]).first()
    assert (inquiry["channel"], inquiry["status"], inquiry["assignee"]) == ("phone", "in_progress", sato)
    [first] = await messages(created["id"])
    assert first["channel"] == "phone" and first["author"] == sato
    assert await OutboxMail.count() == 0 and await Notification.count() == 0
