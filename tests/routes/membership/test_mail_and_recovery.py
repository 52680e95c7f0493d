"""Mail through a real SMTP server: confirmation and recovery links that work once, in Japanese, intact."""

import re

import pytest

from app.main import create_app
from app.settings import Smtp
from db.tables import Account
from tests import factories
from tests.conftest import Client, log_in
from tests.mailbox import SmtpServer

LINK = re.compile(r"http://localhost:8000(/\S+)")


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def mail_client(settings, smtp):
    smtp_settings = Smtp(host="127.0.0.1", port=smtp.port, starttls=False, mail_from="desk@tomakomai.example.jp")
    app = create_app(settings.with_(smtp=smtp_settings))
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as client:
        yield client


async def test_recovery_mail_arrives_in_japanese_and_its_link_works_once(mail_client, smtp):
    member = await factories.member("つなぐ花子", email="hanako@example.jp", verified=True)
    response = await mail_client.submit("/recover", {"email": "hanako@example.jp"})
    assert response.status_code == 200
    assert 'data-testid="recover-sent"' in response.text
    assert len(smtp.mailbox.messages) == 1
    message = smtp.mailbox.messages[0]
    assert message["To"] == "hanako@example.jp"
    assert message["From"] == "desk@tomakomai.example.jp"
    assert message.get_content_charset() == "utf-8"
    assert "アカウントの復旧" in smtp.mailbox.subject()
    body = smtp.mailbox.body()
    assert "15分以内" in body
    path = LINK.search(body).group(1)

    first = await mail_client.get(path)
    assert first.status_code == 200
    assert 'data-testid="passkey-create"' in first.text
    assert "つなぐ花子" in first.text
    assert 'data-testid="passkey-claim"' not in first.text  # a return, not a first claim
    second = await mail_client.get(path)
    assert second.status_code == 410
    assert 'data-testid="recover-invalid"' in second.text
    assert member.account_id


async def test_recovery_for_an_unknown_address_looks_the_same_and_sends_nothing(mail_client, smtp):
    await factories.member(email="unconfirmed@example.jp")
    for address in ("nobody@example.jp", "unconfirmed@example.jp"):
        response = await mail_client.submit("/recover", {"email": address})
        assert response.status_code == 200
        assert 'data-testid="recover-sent"' in response.text
    assert smtp.mailbox.messages == []


async def test_recovery_with_a_malformed_address_says_so(mail_client):
    response = await mail_client.submit("/recover", {"email": "hanako"})
    assert response.status_code == 422
    assert "メールアドレス" in response.text


async def test_confirmation_mail_can_be_resent_and_confirms_the_address(mail_client, smtp):
    member = await factories.member(email="taro@example.jp")
    await log_in(mail_client, member.account_id)
    response = await mail_client.submit("/account/email/confirm", follow_redirects=True)
    assert "確認用のリンクを送りました" in response.text
    assert "メールアドレスの確認" in smtp.mailbox.subject()
    path = LINK.search(smtp.mailbox.body()).group(1)
    confirmed = await mail_client.get(path)
    assert 'data-confirmed="yes"' in confirmed.text
    again = await mail_client.get(path)
    assert again.status_code == 410
    account = await Account.select().where(Account.id == member.account_id).first()
    assert account["email_verified_at"] is not None


async def test_an_unreachable_mail_server_is_reported_not_a_crash(settings):
    dead = Smtp(host="127.0.0.1", port=1, starttls=False)
    app = create_app(settings.with_(smtp=dead))
    member = await factories.member(email="taro@example.jp")
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as client:
        await log_in(client, member.account_id)
        response = await client.submit("/account/email/confirm", follow_redirects=True)
        assert response.status_code == 200
        assert "メールを送信できませんでした" in response.text


async def test_without_smtp_mail_is_written_under_var_mail(client, settings):
    member = await factories.member(email="taro@example.jp")
    await log_in(client, member.account_id)
    await client.submit("/account/email/confirm")
    files = list((settings.var_dir / "mail").glob("*.eml"))
    assert len(files) == 1
    assert "taro@example.jp" in files[0].read_text(encoding="utf-8", errors="replace")
