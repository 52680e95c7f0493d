"""The consultation desk through its pages: the public form (bad input explained, honeypot, rate limit), the
confirmation, a member's threads, and the secretariat's inbox: filters, a reply with a saved answer, notes,
status and assignee, a failed mail sent again, inquiries recorded from a call, saved answers, the CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from app.demo.desk import load_mail_demo
from app.main import create_app
from app.services.desk import contact, reply_templates, threads
from app.services.notify import outbox, push_notifications
from app.services.shared import clock
from app.settings import Smtp
from db.tables import AuditLog, Inquiry, InquiryMessage, Notice, OutboxMail, PortalBlock, ReplyTemplate
from tests import factories
from tests.conftest import BASE_URL, Client, log_in
from tests.mailbox import SmtpServer

DESK = {"phone": "0144-32-6111", "email": "desk@tomakomai.example", "hours": "平日 8:45〜17:15"}


async def desk_block() -> None:
    await PortalBlock.insert(PortalBlock(kind="desk", key="desk", title="ふるさと住民 相談窓口", fields=DESK))


async def staff_at(client: Client, name: str = "事務局 佐藤") -> int:
    staff_id = await factories.staff_account(name)
    await log_in(client, staff_id)
    return staff_id


async def member_at(client: Client, name: str = "つなぐ花子", **profile) -> int:
    registered = await factories.member(name, email="hanako@example.jp", **profile)
    await log_in(client, registered.account_id)
    return registered.account_id


def field_error(html: str, field: str) -> str:
    match = re.search(rf'data-testid="error-{field}">([^<]*)<', html)
    return match.group(1) if match else ""


# --- The public form --------------------------------------------------------------------------------------


async def test_a_visitor_sees_the_form_with_the_desks_phone_and_hours(client):
    await desk_block()
    response = await client.get("/contact")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert 'data-testid="desk-phone">0144-32-6111<' in response.text and 'href="tel:0144326111"' in response.text
    assert "平日 8:45〜17:15" in response.text and "desk@tomakomai.example" in response.text
    for label in ("二地域居住", "移住", "仕事", "住まい", "子育て・教育", "エントリーパス", "その他"):
        assert f">{label}</label>" in response.text
    assert 'name="website"' in response.text and 'tabindex="-1"' in response.text  # the honeypot
    assert 'data-testid="contact_method-app"' not in response.text  # only members are answered in the app
    preselected = await client.get("/contact", params={"category": "entry_pass"})
    assert 'value="entry_pass" checked' in preselected.text


async def test_a_visitor_sends_an_inquiry_and_gets_a_reference_number(client):
    await desk_block()
    sent = await client.submit("/contact", factories.inquiry_form(), follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/contact/sent"
    inquiry = await Inquiry.select().first()
    assert inquiry["name"] == "二地域 花子" and inquiry["account"] is None and inquiry["status"] == "new"
    page = await client.get("/contact/sent")
    assert f'data-testid="inquiry-reference">{inquiry["reference"]}<' in page.text
    assert "hanako@example.jp" in page.text and 'data-testid="desk-phone"' in page.text
    receipt = await OutboxMail.select().where(OutboxMail.purpose == "inquiry_receipt").first()
    assert receipt["to_address"] == "hanako@example.jp" and inquiry["reference"] in receipt["subject"]


async def test_the_confirmation_is_not_kept_for_the_next_person_at_a_shared_computer(client, monkeypatch):
    await desk_block()
    await client.submit("/contact", factories.inquiry_form())
    later = clock.now() + timedelta(minutes=16)
    monkeypatch.setattr(clock, "now", lambda: later)
    response = await client.get("/contact/sent", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/contact"


async def test_bad_input_comes_back_with_japanese_messages_next_to_the_fields_and_nothing_is_stored(client):
    form = factories.inquiry_form(name="", email="hanako@", message="", consent="")
    response = await client.submit("/contact", form)
    assert response.status_code == 422
    assert field_error(response.text, "name") == "お名前を入力してください。"
    assert field_error(response.text, "email").startswith("taro@example.jp のような形式")
    assert field_error(response.text, "message") == "お問い合わせの内容を入力してください。"
    assert field_error(response.text, "consent") == "個人情報の取扱いをお読みのうえ、同意してください。"
    assert 'value="hanako@"' in response.text  # what was typed stays
    too_long = await client.hx_post("/contact", factories.inquiry_form(message="あ" * 4001, _csrf_token=""))
    assert too_long.status_code == 422 and "<html" not in too_long.text  # HTMX gets the form alone
    assert field_error(too_long.text, "message") == "4000文字以内で入力してください（いま4001文字）。"
    no_contact = await client.submit("/contact", factories.inquiry_form(email="", phone="", contact_method="phone"))
    assert field_error(no_contact.text, "phone") == "電話番号を入力するか、別の連絡方法を選んでください。"
    assert await Inquiry.count() == 0 and await OutboxMail.count() == 0


async def test_the_form_takes_the_names_reading_in_kana_and_the_desk_sees_it(client):
    form = await client.get("/contact")
    assert 'name="furigana"' in form.text and "フリガナ" in form.text
    latin = await client.submit("/contact", factories.inquiry_form(furigana="Hanako"))
    assert latin.status_code == 422 and field_error(latin.text, "furigana") == "ひらがなかカタカナで入力してください。"
    sent = await client.submit("/contact", factories.inquiry_form(furigana="にちいき はなこ"), follow_redirects=False)
    assert sent.status_code == 303
    inquiry = await Inquiry.select(Inquiry.id, Inquiry.furigana).first()
    assert inquiry["furigana"] == "にちいき はなこ"
    await staff_at(client)
    detail = (await client.get(f"/staff/inquiries/{inquiry['id']}")).text
    assert 'data-testid="asker-furigana">（にちいき はなこ）<' in detail


async def test_a_filled_honeypot_looks_like_success_and_stores_nothing(client):
    await factories.staff_account("事務局 佐藤", email="sato@tomakomai.example", email_verified_at=clock.now())
    response = await client.submit("/contact", factories.inquiry_form(website="http://spam.example"), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/contact/sent"
    page = await client.get("/contact/sent")
    assert re.search(r'data-testid="inquiry-reference">Q-\d{4}-[A-Z2-9]{4}<', page.text)
    assert await Inquiry.count() == 0 and await OutboxMail.count() == 0


async def test_the_confirmation_without_an_inquiry_sends_back_to_the_form(client):
    response = await client.get("/contact/sent", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/contact"


async def test_the_form_is_rate_limited_per_address(settings):
    app = create_app(settings.with_(auth_rate_limit_per_minute=3))
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        for n in range(3):
            response = await client.submit("/contact", factories.inquiry_form(email=f"a{n}@example.jp"), follow_redirects=False)
            assert response.status_code == 303
        limited = await client.submit("/contact", factories.inquiry_form(email="a4@example.jp"), follow_redirects=False)
        assert limited.status_code == 429 and "少し時間をおいてから" in limited.text
    assert await Inquiry.count() == 3


async def test_the_receipt_reaches_a_real_mail_server_with_its_japanese_subject(settings, tmp_path):
    with SmtpServer() as server:
        smtp = Smtp(host="127.0.0.1", port=server.port, starttls=False, mail_from="no-reply@tomakomai.example")
        app = create_app(settings.with_(smtp=smtp))
        async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as client:
            await client.submit("/contact", factories.inquiry_form(message="冬の暮らしについて知りたいです。"))
        assert await outbox.deliver_due(smtp, tmp_path) == outbox.OutboxStats(sent=1)
        reference = (await Inquiry.select(Inquiry.reference).first())["reference"]
        assert server.mailbox.subject() == f"【とまこまい つながる 相談窓口】お問い合わせを受け付けました（{reference}）"
        assert "冬の暮らしについて知りたいです。" in server.mailbox.body()


# --- Members ----------------------------------------------------------------------------------------------


async def test_a_members_form_is_prefilled_and_the_inquiry_becomes_their_thread(client):
    account_id = await member_at(client, "つなぐ花子", family_name="山田", given_name="花子")
    form_page = await client.get("/contact")
    assert 'value="山田 花子"' in form_page.text and 'value="hanako@example.jp"' in form_page.text
    assert 'value="app" checked' in form_page.text
    await client.submit("/contact", factories.inquiry_form(name="山田 花子", contact_method="app"))
    inquiry = await Inquiry.select().first()
    assert inquiry["account"] == account_id
    sent = await client.get("/contact/sent")
    assert f'href="/account/inquiries/{inquiry["id"]}"' in sent.text
    mine = await client.get("/account/inquiries")
    assert inquiry["reference"] in mine.text
    thread = await client.get(f"/account/inquiries/{inquiry['id']}")
    assert thread.status_code == 200 and "夏の間だけ苫小牧で暮らすことはできますか。" in thread.text
    account = await client.get("/account")
    assert 'data-testid="menu-inquiries"' in account.text


async def test_a_member_replies_in_the_thread_and_sees_the_desks_answer_but_never_its_notes(client):
    account_id = await member_at(client)
    created = await factories.inquiry(account_id, contact_method="app")
    staff_id = await factories.staff_account()
    await threads.add_note(created["id"], staff_id, "内部メモ：移住支援金の対象か確認")
    await threads.reply(created["id"], staff_id, "お試し住宅をご案内します。", "app", "waiting", factories.desk_post())
    thread = await client.get(f"/account/inquiries/{created['id']}")
    assert "お試し住宅をご案内します。" in thread.text and "内部メモ" not in thread.text
    reply = await client.submit(f"/account/inquiries/{created['id']}/reply", {"body": "7月に見学したいです。"},
                                follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == f"/account/inquiries/{created['id']}"
    assert (await Inquiry.select(Inquiry.status).first())["status"] == "in_progress"
    empty = await client.hx_post(f"/account/inquiries/{created['id']}/reply", {"body": " "})
    assert empty.status_code == 422 and field_error(empty.text, "body") == "メッセージを入力してください。"


async def test_a_closed_inquiry_takes_no_reply_and_says_so(client):
    account_id = await member_at(client)
    created = await factories.inquiry(account_id)
    staff_id = await factories.staff_account()
    page = await client.get(f"/account/inquiries/{created['id']}")  # the form is open on the member's phone
    await threads.set_status(created["id"], staff_id, "closed")
    assert 'data-testid="reply-form"' in page.text
    late = await client.submit(f"/account/inquiries/{created['id']}/reply", {"body": "追加の質問です"})
    assert late.status_code == 409
    assert "このお問い合わせは完了しています" in late.text and 'data-testid="thread-closed"' in late.text
    assert await InquiryMessage.count() == 1


async def test_another_members_inquiry_is_not_found(client):
    owner = await factories.member("持ち主")
    created = await factories.inquiry(owner.account_id)
    await member_at(client, "他の会員")
    assert (await client.get(f"/account/inquiries/{created['id']}")).status_code == 404
    assert (await client.submit(f"/account/inquiries/{created['id']}/reply", {"body": "のぞき見"})).status_code == 404
    assert "Q-" not in (await client.get("/account/inquiries")).text
    assert await InquiryMessage.count() == 1


# --- The secretariat's inbox ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "shop"])
async def test_editors_and_shops_never_see_inquiries(client, role):
    await factories.inquiry()
    account_id = await factories.staff_account("他の役割", role=role)
    await log_in(client, account_id)
    for path in ("/staff/inquiries", "/staff/inquiries/csv", "/staff/inquiries/templates"):
        assert (await client.get(path)).status_code == 403


async def test_the_inbox_lists_open_inquiries_and_filters_by_htmx(client):
    me = await staff_at(client)
    housing = await factories.inquiry(name="住まい 太郎", email="taro@example.jp", category="housing")
    await factories.inquiry(name="仕事 次郎", email="jiro@example.jp", category="work")
    await threads.assign(housing["id"], me, me)
    page = await client.get("/staff/inquiries")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert page.text.count('data-testid="inquiry-row"') == 2
    assert 'aria-current="true" data-testid="tab-open"' in page.text
    assert re.search(r'href="/staff/inquiries\?status=new"[^>]*data-testid="tab-new"', page.text)
    mine = await client.get("/staff/inquiries", params={"assignee": "mine"}, headers={"HX-Request": "true"})
    assert "<html" not in mine.text and mine.text.count('data-testid="inquiry-row"') == 1 and "住まい 太郎" in mine.text
    assert "assignee=mine" in mine.text  # the tabs and the CSV link follow the filters
    searched = await client.get("/staff/inquiries", params={"q": "jiro"})
    assert searched.text.count('data-testid="inquiry-row"') == 1 and "仕事 次郎" in searched.text
    nonsense = await client.get("/staff/inquiries", params={"status": "x", "assignee": "'; drop", "sort": "?"})
    assert nonsense.status_code == 200 and nonsense.text.count('data-testid="inquiry-row"') == 2


async def test_staff_answer_with_a_saved_answer_inserted_by_htmx(client):
    me = await staff_at(client)
    created = await factories.inquiry()
    template = await reply_templates.save_template(reply_templates.validate_template(
        {"title": "お礼", "body": "{name} 様、お問い合わせ（{reference}）ありがとうございます。", "category": "dual_residence"}), me)
    page = await client.get(f"/staff/inquiries/{created['id']}")
    assert 'data-testid="reply-template"' in page.text and 'value="email" checked' in page.text
    composed = await client.hx_post(f"/staff/inquiries/{created['id']}/compose",
                                    {"template": str(template), "body": "", "channel": "email", "next_status": "waiting"})
    assert composed.status_code == 200 and "<html" not in composed.text
    assert f"二地域 花子 様、お問い合わせ（{created['reference']}）ありがとうございます。" in composed.text
    assert await InquiryMessage.count() == 1  # inserting stores nothing
    sent = await client.submit(f"/staff/inquiries/{created['id']}/reply",
                               {"body": "二地域居住の支援制度をご案内します。", "channel": "email", "next_status": "waiting"},
                               follow_redirects=False)
    assert sent.status_code == 303
    detail = await client.get(f"/staff/inquiries/{created['id']}")
    assert "回答を保存しました" in detail.text and 'data-testid="mail-status" data-status="queued"' in detail.text
    assert 'data-testid="inquiry-status">相談者の返信待ち<' in detail.text
    assert 'data-testid="assignee-name">事務局 佐藤<' in detail.text


async def test_a_reply_with_errors_comes_back_in_place_and_a_closed_inquiry_is_explained(client):
    me = await staff_at(client)
    created = await factories.inquiry()
    bad = await client.hx_post(f"/staff/inquiries/{created['id']}/reply", {"body": "", "channel": "app", "next_status": "new"})
    assert bad.status_code == 422 and "<html" not in bad.text
    assert field_error(bad.text, "body") and field_error(bad.text, "channel") and field_error(bad.text, "next_status")
    await threads.set_status(created["id"], me, "closed")
    closed = await client.submit(f"/staff/inquiries/{created['id']}/reply",
                                 {"body": "回答です", "channel": "email", "next_status": "waiting"})
    assert closed.status_code == 409 and "再開してください" in closed.text and 'data-testid="reopen"' in closed.text
    reopened = await client.submit(f"/staff/inquiries/{created['id']}/status", {"status": "in_progress"}, follow_redirects=False)
    assert reopened.status_code == 303
    assert (await Inquiry.select(Inquiry.status).first())["status"] == "in_progress"


async def test_notes_recorded_messages_status_and_assignee_from_the_inquiry_page(client):
    me = await staff_at(client)
    colleague = await factories.staff_account("事務局 鈴木")
    editor = await factories.staff_account("編集 高橋", role="editor")
    created = await factories.inquiry()
    path = f"/staff/inquiries/{created['id']}"
    assert (await client.submit(f"{path}/notes", {"note": "移住支援課に確認中"}, follow_redirects=False)).status_code == 303
    empty_note = await client.submit(f"{path}/notes", {"note": ""})
    assert empty_note.status_code == 422 and field_error(empty_note.text, "note")
    recorded = await client.submit(f"{path}/asker", {"asker_channel": "phone", "asker_body": "電話で補足：家族4人です"},
                                   follow_redirects=False)
    assert recorded.status_code == 303
    no_channel = await client.submit(f"{path}/asker", {"asker_channel": "fax", "asker_body": "何か"})
    assert no_channel.status_code == 422 and field_error(no_channel.text, "asker_channel")
    assert (await client.submit(f"{path}/assignee", {"assignee": "me"}, follow_redirects=False)).status_code == 303
    assert (await client.submit(f"{path}/assignee", {"assignee": str(colleague)}, follow_redirects=False)).status_code == 303
    refused = await client.submit(f"{path}/assignee", {"assignee": str(editor)})
    assert refused.status_code == 409 and "事務局のメンバーを選んでください" in refused.text
    assert (await client.submit(f"{path}/status", {"status": "closed"}, follow_redirects=False)).status_code == 303
    bad_status = await client.submit(f"{path}/status", {"status": "new"})
    assert bad_status.status_code == 409
    kinds = [(m["kind"], m["channel"]) for m in await InquiryMessage.select().order_by(InquiryMessage.id)]
    assert kinds == [("asker", "web"), ("note", "web"), ("asker", "phone")]
    inquiry = await Inquiry.select().first()
    assert inquiry["assignee"] == colleague and inquiry["status"] == "closed"
    actions = [a["action"] for a in await AuditLog.select(AuditLog.action).order_by(AuditLog.id)]
    assert actions == ["inquiry.assign", "inquiry.assign", "inquiry.status"]
    page = await client.get(path)
    assert "移住支援課に確認中" in page.text and "担当：事務局 佐藤" in page.text and me


async def test_a_failed_mail_can_be_sent_again_from_the_thread(client, settings):
    await staff_at(client)
    created = await factories.inquiry()
    await OutboxMail.update({OutboxMail.status: "failed", OutboxMail.attempts: outbox.MAX_ATTEMPTS,
                             OutboxMail.last_error: "Connection refused"}).where(OutboxMail.id > 0)
    page = await client.get(f"/staff/inquiries/{created['id']}")
    assert 'data-status="failed"' in page.text and "Connection refused" in page.text
    [message] = await InquiryMessage.select()
    again = await client.submit(f"/staff/inquiries/{created['id']}/messages/{message['id']}/resend", follow_redirects=False)
    assert again.status_code == 303
    assert (await OutboxMail.select(OutboxMail.status).where(OutboxMail.id == message["mail"]).first())["status"] == "queued"
    twice = await client.submit(f"/staff/inquiries/{created['id']}/messages/{message['id']}/resend")
    assert twice.status_code == 409
    other = await client.submit(f"/staff/inquiries/{created['id']}/messages/999999/resend")
    assert other.status_code == 404


async def test_staff_record_an_inquiry_that_came_by_phone(client):
    me = await staff_at(client)
    form = await client.get("/staff/inquiries/new")
    assert form.status_code == 200 and 'data-testid="channel-phone"' in form.text
    bad = await client.hx_post("/staff/inquiries", factories.inquiry_form(channel="", email="", phone=""))
    assert bad.status_code == 422 and "<html" not in bad.text and field_error(bad.text, "channel")
    done = await client.submit("/staff/inquiries", factories.inquiry_form(
        channel="phone", email="", phone="090-1234-5678", contact_method="phone"), follow_redirects=False)
    assert done.status_code == 303
    inquiry = await Inquiry.select().first()
    assert done.headers["location"] == f"/staff/inquiries/{inquiry['id']}"
    assert (inquiry["channel"], inquiry["assignee"], inquiry["status"]) == ("phone", me, "in_progress")


async def test_saved_answers_are_listed_created_edited_and_deleted(client):
    await staff_at(client)
    assert (await client.get("/staff/inquiries/templates")).status_code == 200
    bad = await client.submit("/staff/inquiries/templates", {"title": "", "body": "", "category": ""})
    assert bad.status_code == 422 and field_error(bad.text, "title") == "タイトルを入力してください。"
    created = await client.submit("/staff/inquiries/templates", {"title": "空き家バンク", "body": "空き家バンクのご案内です。",
                                                              "category": "housing"}, follow_redirects=False)
    assert created.status_code == 303
    [template] = await ReplyTemplate.select()
    listed = await client.get("/staff/inquiries/templates")
    assert "空き家バンク" in listed.text and "住まい" in listed.text
    edit = await client.get(f"/staff/inquiries/templates/{template['id']}")
    assert "空き家バンクのご案内です。" in edit.text
    await client.submit(f"/staff/inquiries/templates/{template['id']}", {"title": "空き家バンク（改）", "body": "改訂版", "category": ""})
    assert (await ReplyTemplate.select(ReplyTemplate.title).first())["title"] == "空き家バンク（改）"
    await client.submit(f"/staff/inquiries/templates/{template['id']}/delete")
    assert await ReplyTemplate.count() == 0
    assert (await client.get(f"/staff/inquiries/templates/{template['id']}")).status_code == 404


async def test_the_csv_has_a_bom_japanese_headers_safe_cells_and_is_audited(client):
    me = await staff_at(client)
    await factories.inquiry(name="=HYPERLINK(\"http://evil\")", phone="0144-32-6111")
    response = await client.get("/staff/inquiries/csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["受付番号", "受付日時", "受付方法", "カテゴリ", "状態"]
    assert rows[1][3] == "二地域居住" and rows[1][6].startswith("'=") and rows[1][8] == "0144-32-6111"
    assert rows[1][-1] == "夏の間だけ苫小牧で暮らすことはできますか。"
    audit = await AuditLog.select().where(AuditLog.action == "export.csv").first().output(load_json=True)
    assert audit["actor"] == me and audit["target_type"] == "inquiry" and audit["detail"]["rows"] == 1


async def test_a_new_inquiry_reaches_the_staffs_inbox_after_the_round(client):
    staff_id = await factories.staff_account()
    await client.submit("/contact", factories.inquiry_form())
    assert await push_notifications.fan_out_due() == 1
    [notice] = await Notice.select().where(Notice.account == staff_id)
    assert notice["title"].startswith("新しい相談（Q-") and notice["url"].startswith("/staff/inquiries/")


async def test_the_inbox_goes_page_by_page_keeping_its_filters(client, monkeypatch):
    monkeypatch.setattr("app.routes.desk.staff.INBOX_PAGE", 2)
    for name in ("一 郎", "二 郎", "三 郎"):
        await factories.inquiry(name=name, email=f"{len(name)}{name[0]}@example.jp".replace(" ", ""))
    await staff_at(client)
    first = await client.get("/staff/inquiries", params={"sort": "newest"})
    assert first.text.count('data-testid="inquiry-row"') == 2
    next_link = first.text.split('data-testid="page-next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "sort=newest" in next_link and "page=2" in next_link
    second = await client.get(next_link, headers={"HX-Request": "true"})
    assert second.text.count('data-testid="inquiry-row"') == 1 and "一 郎" in second.text
    assert 'data-testid="page-next"' not in second.text and 'data-testid="page-previous"' in second.text
    for page in ("0", "x", "99999", "-2"):
        assert (await client.get("/staff/inquiries", params={"page": page})).status_code == 200


def test_the_paths_the_round_links_to_are_the_routes_paths(app):
    links = contact.round_links(BASE_URL)
    assert links.staff(7) == app.route_reverse("get_staff_inquiry", inquiry_id=7)
    assert links.thread(7) == app.route_reverse("get_my_inquiry", inquiry_id=7)


async def test_staff_see_that_a_message_came_by_mail_and_read_the_whole_mail(client):
    staff = await factories.staff_account("事務局 佐藤")
    await load_mail_demo()
    inquiry = await Inquiry.select().where(Inquiry.category == "mail").first()
    await log_in(client, staff)

    page = (await client.get(f"/staff/inquiries/{inquiry['id']}")).text

    assert 'data-testid="received-mail"' in page and "aoi.yamada@example.jp" in page
    assert "&gt; ワーケーション特集を公開しました。" in page  # the whole mail, quote and all, escaped
    assert "コワーキングスペースを教えていただけますか。" in page
    assert (await load_mail_demo()) == {"inquiries_by_mail": 0}  # taken once, however often the demo loads


async def test_staff_sort_a_mail_that_answered_nothing_under_a_category_and_bad_choices_are_explained(client):
    await staff_at(client)
    await load_mail_demo()
    inquiry = await Inquiry.select().where(Inquiry.category == "mail").first()
    path = f"/staff/inquiries/{inquiry['id']}"
    assert 'data-testid="category-unsorted"' in (await client.get(path)).text

    for wrong in ({"category": "mail"}, {"category": "<script>"}, {}):
        refused = await client.submit(f"{path}/category", wrong)
        assert refused.status_code == 409 and 'data-testid="inquiry-problem"' in refused.text
    sorted_ = await client.submit(f"{path}/category", {"category": "work"})

    assert 'data-testid="flash"' in sorted_.text and 'data-testid="category-unsorted"' not in sorted_.text
    assert re.search(r'<option value="work" selected>仕事</option>', sorted_.text)
    assert (await Inquiry.select(Inquiry.category).where(Inquiry.id == inquiry["id"]).first())["category"] == "work"
    assert [a["action"] for a in await AuditLog.select(AuditLog.action)] == ["inquiry.category"]
    await log_in(client, await factories.staff_account("編集 高橋", role="editor"))
    assert (await client.submit(f"{path}/category", {"category": "housing"})).status_code == 403
    assert (await client.submit("/staff/inquiries/999999/category", {"category": "work"})).status_code == 403
