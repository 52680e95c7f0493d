"""The LINE routes: the webhook as LINE's platform calls it (signed), the page where a member confirms the link
LINE sent them, unlinking from the account page, and LINE beside push on the staff's pages. The LINE side is the
fake platform of tests/line_platform.py on loopback."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from app.services.notify import line_delivery, line_links, push_notifications
from app.services.shared import clock
from app.settings import Line
from db.tables import AuditLog, LineLink, LineLinkNonce
from tests import factories
from tests.conftest import BASE_URL, log_in, make_settings
from tests.line_platform import FakeLinePlatform


@pytest.fixture
def settings(secrets, tmp_path, database_url, platform):
    return make_settings(secrets, tmp_path / "var", database_url).with_(
        line=platform.settings(add_friend_url="https://line.me/R/ti/p/@tsunagu"))


async def webhook(client, platform: FakeLinePlatform, *events: dict, secret: str | None = None, headers: dict | None = None):
    body, signed = platform.signed(*events, secret=secret)
    return await client.post("/line/webhook", content=body, headers={**signed, **(headers or {})})


async def confirm_on_our_page(client, platform: FakeLinePlatform, link_token: str) -> str:
    """The member opens the link LINE sent and confirms; returns the nonce our answer sends to LINE."""
    page = await client.get(f"/line/link?linkToken={link_token}")
    assert page.status_code == 200 and 'data-testid="line-link-confirm"' in page.text
    assert f"form-action 'self' {platform.origin}" in page.headers["content-security-policy"]
    answer = await client.submit("/line/link", {"link_token": link_token}, follow_redirects=False)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == platform.account_link_url
    query = parse_qs(location.query)
    assert query["linkToken"] == [link_token]
    return query["nonce"][0]


async def test_the_whole_link_as_line_documents_it(client, platform):
    member = await factories.member()
    user = platform.user()
    followed = await webhook(client, platform, platform.follow(user))
    assert followed.status_code == 200
    # The reply goes after the answer: a link token for this user and the link to our page.
    platform.wait_for(lambda: user.replies)
    link = re.search(r"https?://[^\s]+linkToken=[A-Za-z0-9._~-]+", user.replies[0]).group(0)
    token = parse_qs(urlsplit(link).query)["linkToken"][0]
    assert link.startswith(f"{BASE_URL}/line/link?") and platform.link_tokens[token] == user.id
    # Not logged in yet: the login page, and back to this very link afterwards.
    away = await client.get(f"/line/link?linkToken={token}", follow_redirects=False)
    assert away.status_code == 303 and parse_qs(urlsplit(away.headers["location"]).query)["next"] == [
        f"/line/link?linkToken={token}"]
    await log_in(client, member.account_id)
    nonce = await confirm_on_our_page(client, platform, token)
    assert await LineLinkNonce.count() == 1 and (await LineLinkNonce.select().first())["nonce_hash"] != nonce
    linked = await webhook(client, platform, platform.account_link(user, nonce))
    assert linked.status_code == 200
    platform.wait_for(lambda: len(user.replies) == 2)
    assert "linked" in user.replies[1] or "連携" in user.replies[1]
    assert [(row["account"], row["line_user_id"], row["status"]) for row in await LineLink.select()] == [
        (member.account_id, user.id, "linked")]
    account = await client.get("/account")
    assert 'data-testid="line-linked"' in account.text and 'data-testid="line-unlink"' in account.text


@pytest.mark.parametrize("how", ["forged", "missing", "other secret", "not json"])
async def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(client, platform, how):
    member = await factories.member()
    user = platform.user()
    nonce = await new_nonce(member.account_id)
    body, headers = platform.signed(platform.account_link(user, nonce), platform.follow(user))
    if how == "forged":
        headers["X-Line-Signature"] = headers["X-Line-Signature"][:-4] + "AAA="
    elif how == "missing":
        del headers["X-Line-Signature"]
    elif how == "other secret":
        headers = platform.signed(platform.account_link(user, nonce), secret="an attacker's guess")[1]
    else:
        body = body + b"}"
    answer = await client.post("/line/webhook", content=body, headers=headers)
    assert answer.status_code == 400
    assert await LineLink.count() == 0 and (await LineLinkNonce.select().first())["used_at"] is None
    assert platform.calls == [] and user.replies == []


async def new_nonce(account_id: int) -> str:
    return await line_links.start_link(account_id, clock.now())


async def test_a_guessed_nonce_binds_nothing_and_the_user_is_told(client, platform):
    member = await factories.member()
    await new_nonce(member.account_id)
    user = platform.user()
    answer = await webhook(client, platform, platform.account_link(user, "guessed-nonce-0000000000000000000000000"))
    assert answer.status_code == 200
    platform.wait_for(lambda: user.replies)
    assert await LineLink.count() == 0


async def test_unknown_events_and_an_empty_batch_are_answered_200(client, platform):
    user = platform.user()
    beacon = {**platform.unfollow(user), "type": "beacon", "beacon": {"hwid": "d41d8cd98f", "type": "enter"}}
    strange = {**platform.unfollow(user), "type": "somethingNew"}
    for events in ((), (beacon,), (strange,)):
        assert (await webhook(client, platform, *events)).status_code == 200
    assert platform.calls == []


async def test_a_large_body_is_refused_before_it_is_read(client, platform):
    body = b'{"events": [], "pad": "' + b"x" * (300 * 1024) + b'"}'
    answer = await client.post("/line/webhook", content=body, headers={"X-Line-Signature": "x", "Content-Type": "application/json"})
    assert answer.status_code == 413


async def test_the_link_page_refuses_a_bad_token_and_says_when_already_linked(client, platform):
    member = await factories.member()
    await log_in(client, member.account_id)
    for bad in ("", "a b", "<script>", "x" * 300):
        page = await client.get("/line/link", params={"linkToken": bad})
        assert page.status_code == 400 and 'data-testid="line-link-invalid"' in page.text
    refused = await client.submit("/line/link", {"link_token": "../../evil"}, follow_redirects=False)
    assert refused.status_code == 400 and await LineLinkNonce.count() == 0
    nonce = await confirm_on_our_page(client, platform, "tokenA")
    user = platform.user()
    assert await line_links.complete_link(user.id, nonce, clock.now()) == "linked"
    again = await client.get("/line/link?linkToken=tokenB")
    assert 'data-testid="line-link-already"' in again.text and 'line-link-confirm' not in again.text
    answer = await client.submit("/line/link", {"link_token": "tokenB"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/account"
    assert await LineLinkNonce.count() == 1


async def test_unlinking_from_the_account_page_is_audited_and_stops_line(client, platform):
    member = await factories.member()
    await log_in(client, member.account_id)
    user = platform.user()
    assert await line_links.complete_link(user.id, await new_nonce(member.account_id), clock.now()) == "linked"
    answer = await client.submit("/account/line/unlink", follow_redirects=False)
    assert answer.status_code == 303 and await LineLink.count() == 0
    assert [row["action"] for row in await AuditLog.select(AuditLog.action).order_by(AuditLog.id)] == ["line.link", "line.unlink"]
    page = await client.get("/account")
    assert 'data-testid="line-add-friend"' in page.text and 'class="qr"' in page.text
    await push_notifications.create_notification(push_notifications.Target(), "お知らせ", "", "", None)
    await push_notifications.fan_out_due()
    assert (await line_delivery.run_once(client.app.state.settings.line, BASE_URL)).sent == 0 and user.messages == []


async def test_staff_see_line_beside_push(client, platform):
    staff = await factories.staff_account()
    member = await factories.member()
    await line_links.complete_link(platform.user().id, await new_nonce(member.account_id), clock.now())
    await log_in(client, staff)
    reach = await client.get("/staff/push/reach", headers={"HX-Request": "true"})
    assert 'data-testid="line-reach"' in reach.text and "1" in reach.text
    await push_notifications.create_notification(push_notifications.Target(), "お知らせ", "", "", staff)
    await push_notifications.fan_out_due()
    await line_delivery.run_once(client.app.state.settings.line, BASE_URL)
    listing = await client.get("/staff/push")
    assert 'data-testid="count-line-sent">1<' in listing.text


async def test_without_line_settings_nothing_shows_and_every_route_is_404(client, platform, settings):
    member = await factories.member()
    client.app.state.settings = settings.with_(line=Line())
    body, headers = platform.signed(platform.follow(platform.user()))
    assert (await client.post("/line/webhook", content=body, headers=headers)).status_code == 404
    await log_in(client, member.account_id)
    assert (await client.get("/line/link?linkToken=abc")).status_code == 404
    assert (await client.submit("/line/link", {"link_token": "abc"})).status_code == 404
    assert (await client.submit("/account/line/unlink")).status_code == 404
    assert 'data-testid="line-card"' not in (await client.get("/account")).text
    assert platform.calls == []
