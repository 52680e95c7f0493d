"""The weekly mail over HTTP: asked for at registration, switched on the notifications page, and stopped from the
mail with one click (RFC 8058) — a POST with no cookie and no CSRF token — while a GET only shows the button."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.demo import load_demo_data
from app.keyfile import new_signing_key
from app.services.notify import digest, outbox
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenSigner
from app.settings import Smtp
from db.tables import Account, Member
from tests import factories
from tests.conftest import BASE_URL, Client, log_in
from tests.mailbox import SmtpServer
from tests.passkey_client import register

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


async def subscribed(email: str = "hanako@example.jp") -> tuple[int, int]:
    """A member who gets the digest: (account id, member id)."""
    registered = await factories.member(email=email, verified=True, digest=True)
    return registered.account_id, registered.member_id


def link(app, member_id: int) -> str:
    """The unsubscribe address a digest to this member carries, as the round makes it."""
    return digest.unsubscribe_path(app.state.signer, member_id, clock.now())


async def wanted(member_id: int) -> bool:
    return await digest.is_wanted(member_id)


async def test_registering_with_the_box_ticked_asks_for_the_weekly_mail(client):
    response = await register(client, digest="1", email="taro@example.jp")
    assert response.status_code in (200, 201), response.text
    assert (await Member.select(Member.digest_since).first())["digest_since"] is not None


async def test_the_box_is_off_unless_ticked_and_needs_an_address(client):
    form = await client.get("/register")
    assert 'name="digest"' in form.text and 'data-testid="field-digest">' in form.text  # not checked
    refused = await client.submit("/register", {"display_name": "つなぐ太郎", "home_prefecture": "13", "ties": ["workation"],
                                                "consent": "2026-11-01", "terms": "2026-11-01", "digest": "1"})
    assert refused.status_code == 422 and 'data-testid="error-digest"' in refused.text
    assert 'name="digest" value="1" checked' in refused.text  # the choice is kept
    response = await register(client)
    assert response.status_code in (200, 201)
    assert (await Member.select(Member.digest_since).first())["digest_since"] is None


async def test_a_member_switches_it_on_and_off_on_the_notifications_page(client):
    registered = await factories.member(email="hanako@example.jp", verified=True)
    await log_in(client, registered.account_id)
    settings = await client.get("/account/notifications")
    assert 'data-testid="digest-settings"' in settings.text and "hanako@example.jp" in settings.text
    answer = await client.submit("/account/notifications/digest", {"digest": "1"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/account/notifications"
    assert await wanted(registered.member_id)
    assert 'data-testid="digest-wanted" checked' not in settings.text
    assert 'value="1" checked data-testid="digest-wanted"' in (await client.get("/account/notifications")).text
    await client.submit("/account/notifications/digest", {})
    assert not await wanted(registered.member_id)


async def test_without_an_address_the_page_says_where_to_add_one_and_nothing_is_switched_on(client):
    registered = await factories.member()
    await log_in(client, registered.account_id)
    assert 'data-testid="digest-no-email"' in (await client.get("/account/notifications")).text
    answer = await client.submit("/account/notifications/digest", {"digest": "1"})
    assert answer.status_code == 200 and 'data-testid="flash"' in answer.text
    assert not await wanted(registered.member_id)


async def test_the_unsubscribe_header_of_a_digest_received_by_a_mail_server_works_in_one_click(app, settings, tmp_path):
    area_id = await factories.area()
    registered = await factories.member(email="hanako@example.jp", verified=True, digest=True, area_ids=[area_id])
    await Member.update({Member.digest_since: clock.now() - timedelta(days=8)}).where(Member.id == registered.member_id)
    await factories.program(area_id, published_at=clock.now() - timedelta(hours=1))
    with SmtpServer() as server:
        smtp = Smtp(host="127.0.0.1", port=server.port, starttls=False, mail_from="furusato@city.tomakomai.example")
        out = digest.Outgoing(smtp, settings.base_url, settings.branding.site_name, settings.signing_key)
        assert (await digest.run_due(out)).sent == 1
        assert (await outbox.deliver_due(smtp, tmp_path)).sent == 1
        [received] = server.mailbox.messages
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    address = received["List-Unsubscribe"].strip("<>")
    assert address.startswith(settings.base_url + "/mail/unsubscribe/")
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as mail_program:
        answer = await mail_program.post(address.removeprefix(settings.base_url), data=ONE_CLICK)
    assert answer.status_code == 200 and not await wanted(registered.member_id)


async def test_a_mail_programs_one_click_post_unsubscribes_without_a_login_or_csrf_token(app):
    _account, member_id = await subscribed()
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as mail_program:
        answer = await mail_program.post(link(app, member_id), data=ONE_CLICK)
    assert answer.status_code == 200, answer.text
    assert 'data-state="stopped"' in answer.text
    assert not await wanted(member_id)
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as again:
        assert (await again.post(link(app, member_id), data=ONE_CLICK)).status_code == 200  # a second tap is fine


async def test_a_multipart_one_click_post_unsubscribes_too(app, client):
    _account, member_id = await subscribed()
    answer = await client.post(link(app, member_id), files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200 and not await wanted(member_id)


async def test_opening_the_link_shows_a_button_and_unsubscribes_nobody(app, client):
    _account, member_id = await subscribed()
    page = await client.get(link(app, member_id))
    assert page.status_code == 200 and 'data-state="on"' in page.text
    assert 'data-testid="digest-unsubscribe-form"' in page.text and 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert (await client.head(link(app, member_id))).status_code == 200
    assert await wanted(member_id)
    answer = await client.post(link(app, member_id), data=ONE_CLICK)  # the page's button
    assert 'data-state="stopped"' in answer.text and not await wanted(member_id)
    assert 'data-state="off"' in (await client.get(link(app, member_id))).text


@pytest.mark.parametrize("token", ["", "AAAA", "x" * 300, "%00", "名前"])
async def test_a_damaged_link_gets_a_clear_page_and_changes_nothing(app, client, token):
    _account, member_id = await subscribed()
    for response in (await client.get(f"/mail/unsubscribe/{token or 'A'}"),
                     await client.post(f"/mail/unsubscribe/{token or 'A'}", data=ONE_CLICK)):
        assert response.status_code in (400, 404), response.text
        assert response.status_code == 404 or 'data-state="invalid"' in response.text
    assert await wanted(member_id)


async def test_a_tampered_or_foreign_token_is_refused(app, client):
    _account, member_id = await subscribed()
    other_account, other_id = await subscribed("taro@example.jp")
    mine = link(app, member_id)
    at = len("/mail/unsubscribe/") + 5  # a character of the member's id
    tampered = mine[:at] + ("B" if mine[at] != "B" else "C") + mine[at + 1:]
    forged = digest.unsubscribe_path(TokenSigner(new_signing_key()), other_id, clock.now())
    card = "/mail/unsubscribe/" + app.state.signer.sign("card", other_id, clock.now() + timedelta(days=1))
    for address in (tampered, forged, card):
        answer = await client.post(address, data=ONE_CLICK)
        assert answer.status_code == 400 and 'data-state="invalid"' in answer.text
    assert await wanted(member_id) and await wanted(other_id)
    assert await Account.count().where(Account.id == other_account) == 1


async def test_a_post_without_the_one_click_body_shows_the_button_again(app, client):
    _account, member_id = await subscribed()
    for data in ({}, {"List-Unsubscribe": "Yes"}, {"List-Unsubscribe": ["One-Click", "One-Click"]}):
        answer = await client.post(link(app, member_id), data=data)
        assert answer.status_code == 400 and 'data-testid="digest-unsubscribe-form"' in answer.text
    assert await wanted(member_id)


def test_the_paths_in_the_mail_are_the_routes(app):
    assert app.route_reverse("get_push_settings") == digest.SETTINGS_PATH
    assert app.route_reverse("get_mail_unsubscribe", token="T") == digest.UNSUBSCRIBE_PATH.format(token="T")
    assert app.route_reverse("list_programs") == digest.PROGRAMS_PATH
    assert app.route_reverse("list_articles") == digest.ARTICLES_PATH


async def test_the_demo_has_members_who_asked_for_it_and_the_first_round_writes_their_digests(client, settings):
    await load_demo_data()
    wanting = await Member.select(Member.account).where(Member.digest_since.is_not_null())
    assert len(wanting) >= 10
    # Those who registered after this week's sending time start next week.
    due = await Member.count().where(Member.digest_since <= digest.sending_time(clock.now()))
    await log_in(client, wanting[0]["account"])
    card = await client.get("/account/notifications")
    assert 'value="1" checked data-testid="digest-wanted"' in card.text and "@example.jp" in card.text
    out = digest.Outgoing(Smtp(), settings.base_url, settings.branding.site_name, settings.signing_key)
    assert due and (await digest.run_due(out)).sent == due  # the demo's programs and articles were published now
    assert await outbox.deliver_due(Smtp(), settings.var_dir / "mail") == outbox.OutboxStats(sent=due)
    assert len(list((settings.var_dir / "mail").glob("*.eml"))) == due
