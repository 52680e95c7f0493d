"""What askers type into the desk's form: accepted as typed on a Japanese keyboard, refused with a message
next to its field, and not too often from one address."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.desk import validation
from app.services.shared import clock
from tests import factories
from tests.services.desk.helpers import invalid


async def test_a_complete_form_is_accepted_with_full_width_input_made_ascii():
    values = await validation.validate_inquiry(factories.inquiry_form(
        email="ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ", phone="０１４４－３２－６１１１", contact_method="phone"))
    assert values.email == "hanako@example.jp"
    assert values.phone == "0144-32-6111"
    assert values.channel == "web" and values.consent_version == validation.CONSENT_VERSION


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"message": "   "}, "message", "お問い合わせの内容を入力してください。"),
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
    ({"category": "tax"}, "category", "お問い合わせの種類を選んでください。"),
    ({"consent": ""}, "consent", "個人情報の取扱いをお読みのうえ、同意してください。"),
])
async def test_bad_input_is_refused_with_a_japanese_message_next_to_its_field(changes, field, message):
    errors = await invalid(factories.inquiry_form(**changes))
    assert errors[field] == message


async def test_only_a_member_may_ask_to_be_answered_in_the_app_and_then_needs_no_address():
    values = await validation.validate_inquiry(factories.inquiry_form(email="", contact_method="app"), member=True)
    assert values.contact_method == "app" and values.email == ""


async def test_a_recorded_phone_inquiry_needs_its_channel():
    errors = await invalid(factories.inquiry_form(channel="fax"), recorded=True)
    assert errors == {"channel": "相談が届いた方法を選んでください。"}
    values = await validation.validate_inquiry(factories.inquiry_form(channel="phone"), recorded=True)
    assert values.channel == "phone"


async def test_one_address_sending_many_inquiries_in_an_hour_is_asked_to_wait():
    for _n in range(validation.PER_EMAIL_PER_HOUR):
        await factories.inquiry()
    errors = await invalid(factories.inquiry_form())
    assert "1時間" in errors["email"]
    later = clock.now() + timedelta(hours=1, minutes=1)
    assert await validation.validate_inquiry(factories.inquiry_form(), now=later)
