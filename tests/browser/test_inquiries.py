"""The consultation desk in real browsers, one profile per person: a visitor asks from a phone (a mistake is
explained in place first), the secretariat finds the inquiry in the inbox on a desktop, inserts a saved answer
and sends it by e-mail (the outbox then sends it); a member asks from the app, the desk answers in the app, and
the member reads the answer in their conversation and replies, which the inbox marks for the desk.

People, the desk's details and saved answers are made in the database; logins are by cookie.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from app.services.desk import reply_templates
from app.services.membership import login_sessions
from app.services.notify import outbox
from db.tables import OutboxMail, PortalBlock
from tests import factories
from tests.browser.conftest import DESKTOP, NO_SIDEWAYS_SCROLL, click_and_settle, run_async

QUESTION = "夏の3か月だけ苫小牧で暮らしたいと考えています。\nお試し住宅はありますか。"
REFERENCE = re.compile(r"^Q-\d{4}-[2-9A-HJ-NP-Z]{4}$")



async def the_desk() -> str:
    """The desk's details, a saved answer, and a secretariat member: returns their session."""
    await PortalBlock.insert(PortalBlock(kind="desk", key="desk", title="ふるさと住民 相談窓口",
                                         fields={"phone": "0144-32-6111", "email": "desk@tomakomai.example",
                                                 "hours": "平日 8:45〜17:15"}))
    staff_id = await factories.staff_account("事務局 佐藤")
    await reply_templates.save_template(reply_templates.validate_template({
        "title": "お試し住宅のご案内", "category": "dual_residence",
        "body": "{name} 様\n\nお問い合わせ（{reference}）ありがとうございます。お試し住宅は1週間から利用できます。",
    }), staff_id)
    return await login_sessions.start(staff_id, "pytest staff")


async def member_session() -> str:
    registered = await factories.member("ふるさと花子", email="hanako@example.jp", family_name="山田", given_name="花子")
    return await login_sessions.start(registered.account_id, "pytest member")


def open_inquiry(staff: Page, reference: str) -> None:
    """From the secretariat's home to the inquiry, through the inbox's search."""
    staff.goto("/staff")
    click_and_settle(staff, staff.get_by_test_id("staff-inquiries"))
    staff.get_by_test_id("inquiry-search").fill(reference)
    expect(staff).to_have_url(re.compile(rf"q={reference}"))  # the search is in the address, to share or reload
    expect(staff.get_by_test_id("inquiry-row")).to_have_count(1)
    staff.get_by_test_id("inquiry-link").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text(reference)


def test_a_visitor_asks_from_a_phone_and_the_desk_answers_by_mail_with_a_saved_answer(open_browser, live_server):
    staff_session = run_async(the_desk())

    # A visitor opens the desk's form on a phone: the phone number and hours are there to call instead.
    visitor = open_browser()
    visitor.goto("/contact")
    expect(visitor.get_by_test_id("desk-phone")).to_have_text("0144-32-6111")
    expect(visitor.get_by_test_id("desk-hours")).to_have_text("平日 8:45〜17:15")
    form = visitor.get_by_test_id("inquiry-form")
    form.get_by_test_id("field-name").fill("東京 一郎")
    form.get_by_test_id("field-email").fill("ichiro@example")
    form.get_by_test_id("contact_method-email").check()
    form.get_by_test_id("category-dual_residence").check()
    form.get_by_test_id("field-consent").check()
    form.get_by_test_id("inquiry-submit").click()

    # Two mistakes, explained next to their fields without losing what was typed.
    expect(visitor.get_by_test_id("error-email")).to_have_text("taro@example.jp のような形式でメールアドレスを入力してください。")
    expect(visitor.get_by_test_id("error-message")).to_have_text("お問い合わせの内容を入力してください。")
    expect(visitor.get_by_test_id("field-name")).to_have_value("東京 一郎")
    assert visitor.evaluate(NO_SIDEWAYS_SCROLL)
    visitor.get_by_test_id("field-email").fill("ichiro@example.jp")
    visitor.get_by_test_id("field-message").fill(QUESTION)
    visitor.get_by_test_id("field-consent").check()
    visitor.get_by_test_id("inquiry-submit").click()

    expect(visitor).to_have_url(re.compile(r"/contact/sent$"))
    reference = visitor.get_by_test_id("inquiry-reference").inner_text()
    assert REFERENCE.match(reference), reference
    expect(visitor.get_by_test_id("receipt-note")).to_contain_text("ichiro@example.jp")
    assert visitor.evaluate(NO_SIDEWAYS_SCROLL)

    # At the office the secretariat finds it in the inbox and opens it.
    staff = open_browser(staff_session, device=DESKTOP)
    open_inquiry(staff, reference)
    expect(staff.get_by_test_id("inquiry-status")).to_have_text("新規")
    expect(staff.get_by_test_id("message-asker").get_by_test_id("message-body")).to_have_text(QUESTION)

    # A saved answer goes into the reply, filled in for this asker; the desk adds a line and sends it.
    staff.get_by_test_id("reply-template").select_option(label="[二地域居住] お試し住宅のご案内")
    body = staff.get_by_test_id("field-body")
    expect(body).to_have_value(re.compile(rf"^東京 一郎 様\n\nお問い合わせ（{reference}）ありがとうございます。"))
    body.fill(body.input_value() + "\n空き状況をお調べします。")
    expect(staff.get_by_test_id("channel-email")).to_be_checked()
    staff.get_by_test_id("reply-send").click()
    expect(staff.get_by_test_id("flash")).to_have_text("回答を保存しました。まもなくメールで送信されます。")
    expect(staff.get_by_test_id("inquiry-status")).to_have_text("相談者の返信待ち")
    expect(staff.get_by_test_id("assignee-name")).to_have_text("事務局 佐藤")
    answer = staff.get_by_test_id("message-reply")
    expect(answer.get_by_test_id("message-body")).to_contain_text("空き状況をお調べします。")
    expect(answer.get_by_test_id("mail-status")).to_have_attribute("data-status", "queued")

    # The background round sends the receipt and the answer; the thread says so.
    settings = live_server.settings
    assert run_async(outbox.deliver_due(settings.smtp, settings.var_dir / "mail")).sent == 2
    staff.reload()
    expect(staff.get_by_test_id("message-reply").get_by_test_id("mail-status")).to_have_attribute("data-status", "sent")
    sent = run_async(OutboxMail.select(OutboxMail.subject).where(OutboxMail.purpose == "inquiry_reply").first().run())
    assert sent["subject"] == f"【ふるさと住民 相談窓口】お問い合わせへの回答（{reference}）"


def test_a_member_asks_in_the_app_reads_the_answer_in_their_conversation_and_replies(open_browser):
    staff_session = run_async(the_desk())

    # A member asks from the app: their details are filled in, and the answer can come in the app.
    member = open_browser(run_async(member_session()))
    member.goto("/contact")
    expect(member.get_by_test_id("member-prefilled")).to_be_visible()
    expect(member.get_by_test_id("field-name")).to_have_value("山田 花子")
    expect(member.get_by_test_id("contact_method-app")).to_be_checked()
    member.get_by_test_id("category-housing").check()
    member.get_by_test_id("field-message").fill("樽前地区で、海の近くの空き家を探しています。")
    member.get_by_test_id("field-consent").check()
    member.get_by_test_id("inquiry-submit").click()
    reference = member.get_by_test_id("inquiry-reference").inner_text()

    # The desk answers in the app.
    staff = open_browser(staff_session, device=DESKTOP)
    open_inquiry(staff, reference)
    expect(staff.get_by_test_id("channel-app")).to_be_checked()
    staff.get_by_test_id("field-body").fill("空き家バンクに樽前地区の物件が2件あります。見学をご希望ですか。")
    staff.get_by_test_id("reply-send").click()
    expect(staff.get_by_test_id("flash")).to_have_text("回答をアプリのやりとりに届け、相談者に通知しました。")

    # The member hears of it in News and reads the answer in the conversation.
    member.goto("/inbox")
    member.get_by_test_id("notice").filter(has_text=reference).get_by_role("link").click()
    expect(member.get_by_role("heading", level=1)).to_have_text(f"お問い合わせ {reference}")
    expect(member.get_by_test_id("inquiry-status")).to_have_text("ご返信をお待ちしています")
    expect(member.get_by_test_id("message-reply")).to_contain_text("樽前地区の物件が2件あります")
    expect(member.get_by_test_id("message-reply")).to_contain_text("ふるさと住民 相談窓口")

    # An empty reply is explained in place; then the member answers.
    member.get_by_test_id("reply-submit").click()
    expect(member.get_by_test_id("error-body")).to_have_text("メッセージを入力してください。")
    member.get_by_test_id("field-body").fill("はい、来月の週末に見学したいです。")
    member.get_by_test_id("reply-submit").click()
    expect(member.get_by_test_id("flash")).to_have_text("相談窓口にメッセージを送りました。")
    expect(member.get_by_test_id("message-asker").last).to_contain_text("来月の週末に見学したいです。")
    expect(member.get_by_test_id("inquiry-status")).to_have_text("対応中")
    assert member.evaluate(NO_SIDEWAYS_SCROLL)
    member.goto("/account")
    member.get_by_test_id("menu-inquiries").click()
    expect(member.get_by_test_id("my-inquiry").filter(has_text=reference)).to_have_count(1)

    # In the inbox the desk sees that the asker wrote again.
    staff.goto("/staff/inquiries")
    row = staff.get_by_test_id("inquiry-row").filter(has_text=reference)
    expect(row.get_by_test_id("asker-wrote-again")).to_be_visible()
    expect(row.get_by_test_id("row-status")).to_have_text("対応中")
