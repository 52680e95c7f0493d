"""Passkeys over HTTP, as the browser's passkeys.js drives them: register, see the card, log out, log in,
add and remove passkeys, and every refusal answered with JSON and a Japanese message, never a 500."""

from __future__ import annotations

import re

import pytest

from app.main import create_app
from app.routes.membership.passkeys import MESSAGES, passkey_message
from app.services.shared import clock
from db.tables import Account, LoginSession, Member, Passkey
from tests.authenticator import SoftwareAuthenticator
from tests.conftest import BASE_URL, Client
from tests.passkey_client import (
    PROFILE,
    auth_token,
    card_location,
    create_passkey,
    log_in,
    log_out,
    login_answer,
    post_json,
    register,
)

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
EXPIRED = "有効期限が切れました。もう一度お試しください。"


def assert_refused(response, code: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert JAPANESE.search(body["detail"]), body["detail"]


@pytest.fixture
def phone() -> SoftwareAuthenticator:
    return SoftwareAuthenticator()


@pytest.fixture
async def member(client, phone) -> SoftwareAuthenticator:
    """A registered member, logged in on `client`, whose passkey lives on `phone`."""
    response = await register(client, phone)
    assert response.status_code in (200, 201), response.text
    return phone


# --- registration -------------------------------------------------------------------------


async def test_a_visitor_registers_with_a_passkey_and_sees_their_member_card(client, phone):
    response = await register(client, phone)
    assert response.json() == {"redirect": "/welcome"}
    assert auth_token(client)
    member_no = (await Member.select(Member.member_no).first())["member_no"]
    assert re.fullmatch(r"TMK-\d{6}", member_no)
    welcome = await client.get("/welcome")
    assert member_no in welcome.text
    card = await client.get("/card")
    assert card.status_code == 200
    assert f'data-testid="card-member-no">{member_no}<' in card.text
    assert "つなぐ太郎" in card.text
    assert await Passkey.count() == 1


async def test_registration_options_carry_the_new_members_name_and_ask_for_a_discoverable_passkey(client):
    await client.submit("/register", PROFILE)
    options = (await post_json(client, "/passkeys/new/options")).json()
    assert options["user"]["displayName"] == "つなぐ太郎"
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"


async def test_a_passkey_step_without_a_registration_is_refused(client, phone):
    response = await post_json(client, "/passkeys/new/options")
    assert_refused(response, "no_ceremony")
    assert await Account.count() == 0


async def test_a_registration_without_user_verification_is_refused_and_can_be_retried(client, phone):
    await client.submit("/register", PROFILE)
    refused = await create_passkey(client, phone, user_verified=False)
    assert_refused(refused, "user_not_verified")
    assert await Account.count() == 0
    retried = await create_passkey(client, phone)
    assert retried.json() == {"redirect": "/welcome"}


async def test_a_registration_answered_from_another_origin_is_refused(client, phone):
    await client.submit("/register", PROFILE)
    assert_refused(await create_passkey(client, phone, origin="https://evil.example"), "wrong_origin")
    assert await Account.count() == 0


async def test_a_replayed_registration_answer_creates_nothing_more(client, phone):
    await client.submit("/register", PROFILE)
    options = (await post_json(client, "/passkeys/new/options")).json()
    answer = phone.create(options)
    assert (await post_json(client, "/passkeys/new", answer)).status_code in (200, 201)
    await log_out(client)
    await client.submit("/register", PROFILE)
    assert_refused(await post_json(client, "/passkeys/new", answer), "no_ceremony")  # no options asked for
    await post_json(client, "/passkeys/new/options")
    assert_refused(await post_json(client, "/passkeys/new", answer), "challenge_invalid")  # not this challenge
    assert await Account.count() == 1


@pytest.mark.parametrize("body", [b"", b"not json", b'{"response": 5}', b"[" * 20_000, b"x" * 100_000])
async def test_a_garbage_registration_answer_is_refused_without_a_500(client, body):
    await client.submit("/register", PROFILE)
    await post_json(client, "/passkeys/new/options")
    assert_refused(await post_json(client, "/passkeys/new", content=body), "malformed")


# --- logging out and in -------------------------------------------------------------------


async def test_logging_out_sends_the_card_back_to_the_login_page(client, member):
    assert await card_location(client) == "card"
    await log_out(client)
    assert auth_token(client) is None
    assert await card_location(client) == "/login?next=%2Fcard"


async def test_a_member_logs_in_with_the_passkey_made_at_registration(client, member):
    await log_out(client)
    response = await log_in(client, member)
    assert response.status_code in (200, 201)
    assert response.json() == {"redirect": "/card"}
    assert await card_location(client) == "card"
    row = await Passkey.select(Passkey.sign_count, Passkey.last_used_at).first()
    assert row["sign_count"] == 1 and row["last_used_at"] is not None


async def test_a_login_goes_back_to_the_page_that_asked_for_it_but_never_off_site(client, member):
    await log_out(client)
    assert (await log_in(client, member, next="/account/passkeys")).json() == {"redirect": "/account/passkeys"}
    await log_out(client)
    assert (await log_in(client, member, next="//evil.example/")).json() == {"redirect": "/"}
    for hostile in ("/%09/evil.example/phish", "/\n/evil.example", "/\\evil.example", "/%5C%5Cevil.example"):
        await log_out(client)
        assert (await log_in(client, member, next=hostile)).json() == {"redirect": "/"}


async def test_a_login_with_a_next_that_is_not_text_still_logs_in(client, member):
    await log_out(client)
    body = await login_answer(client, member, next=None)
    body["next"] = 5
    response = await post_json(client, "/passkeys/login", body)
    assert response.status_code in (200, 201), response.text
    assert response.json() == {"redirect": "/"}


async def test_each_login_issues_a_new_session_token(client, member):
    tokens = [auth_token(client)]
    for _ in range(2):
        await log_in(client, member)  # logging in again, without logging out first
        tokens.append(auth_token(client))
    assert all(tokens) and len(set(tokens)) == 3
    assert await LoginSession.count() == 3


async def test_logout_ends_the_session_on_the_server_even_if_the_old_cookie_is_sent_again(app, client, member):
    old_cookie = {"Cookie": f"tsunagu_auth={auth_token(client)}"}
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as elsewhere:
        assert await card_location(elsewhere, headers=old_cookie) == "card"  # the token alone is the session
        await log_out(client)
        assert await LoginSession.count() == 0
        assert await card_location(elsewhere, headers=old_cookie) == "/login?next=%2Fcard"
        response = await elsewhere.get("/card", headers={**old_cookie, "Accept": "application/json"})
        assert response.status_code == 401


async def test_a_replayed_login_answer_is_refused_with_a_japanese_message(client, member):
    await log_out(client)
    answer = await login_answer(client, member)
    assert (await post_json(client, "/passkeys/login", answer)).status_code in (200, 201)
    await log_out(client)
    replay = await post_json(client, "/passkeys/login", answer)
    assert_refused(replay, "challenge_invalid")
    assert replay.json()["detail"] == EXPIRED
    assert auth_token(client) is None
    await post_json(client, "/passkeys/login/options")  # a fresh challenge in the session does not help
    assert_refused(await post_json(client, "/passkeys/login", answer), "challenge_invalid")


async def test_a_login_answer_taken_to_another_browser_is_refused(app, client, member):
    await log_out(client)
    answer = await login_answer(client, member)
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as thief:
        await post_json(thief, "/passkeys/login/options")
        assert_refused(await post_json(thief, "/passkeys/login", answer), "challenge_invalid")
        assert auth_token(thief) is None
    # The thief's attempt did not spend the owner's challenge.
    assert (await post_json(client, "/passkeys/login", answer)).json() == {"redirect": "/card"}


async def test_a_login_without_user_verification_is_refused_with_its_own_message(client, member):
    await log_out(client)
    response = await log_in(client, member, user_verified=False)
    assert_refused(response, "user_not_verified")
    assert response.json()["detail"] == passkey_message("user_not_verified")
    assert auth_token(client) is None


async def test_a_login_with_a_passkey_the_site_does_not_know_is_refused(client):
    stranger = SoftwareAuthenticator()
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"})
    assert_refused(await log_in(client, stranger), "unknown_credential")


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"response": 5}', b"null", b"[" * 20_000, b"x" * 100_000], ids=repr
)
async def test_a_garbage_login_body_is_refused_without_a_500(client, body):
    await post_json(client, "/passkeys/login/options")
    assert_refused(await post_json(client, "/passkeys/login", content=body), "malformed")


async def test_a_login_answer_without_options_is_refused(client, member):
    await log_out(client)
    answer = member.get({"challenge": "AAAA", "rpId": "localhost"})
    assert_refused(await post_json(client, "/passkeys/login", answer), "challenge_invalid")


async def test_passkey_endpoints_refuse_posts_without_the_csrf_token(client):
    await client.get("/")
    response = await client.post("/passkeys/login/options", json={})
    assert response.status_code == 403


def test_every_refusal_has_its_own_japanese_message():
    fallback = passkey_message("verification_failed")
    for code in MESSAGES:
        message = passkey_message(code)
        assert JAPANESE.search(message), (code, message)
        assert code == "verification_failed" or message != fallback
    assert passkey_message("something_new") == fallback


# --- managing passkeys --------------------------------------------------------------------


async def passkey_ids(client: Client) -> list[int]:
    page = await client.get("/account/passkeys")
    return [int(i) for i in re.findall(r'action="/account/passkeys/(\d+)/delete"', page.text)]


async def flash_on_passkey_page(client: Client) -> str:
    page = await client.get("/account/passkeys")
    match = re.search(r'data-testid="flash">([^<]*)<', page.text)
    return match.group(1) if match else ""


async def test_a_member_adds_a_second_passkey_and_removes_the_first(client, member):
    start = await client.submit("/account/passkeys/add", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"] == "/passkeys/new"
    laptop = SoftwareAuthenticator()
    added = await create_passkey(client, laptop)
    assert added.json() == {"redirect": "/account/passkeys"}
    assert "追加" in await flash_on_passkey_page(client)
    first, second = await passkey_ids(client)

    removed = await client.submit(f"/account/passkeys/{first}/delete", follow_redirects=False)
    assert removed.status_code == 303 and removed.headers["location"] == "/account/passkeys"
    assert await passkey_ids(client) == [second]

    await log_out(client)
    assert_refused(await log_in(client, member), "unknown_credential")
    assert (await log_in(client, laptop)).json() == {"redirect": "/card"}


async def test_adding_a_passkey_excludes_the_ones_already_registered(client, member):
    await client.submit("/account/passkeys/add")
    options = (await post_json(client, "/passkeys/new/options")).json()
    assert [d["id"] for d in options["excludeCredentials"]] == [member.credentials[0].id]
    again = member.create(options, credential_id=member.credentials[0].id, respect_exclude=False)
    assert_refused(await post_json(client, "/passkeys/new", again), "already_registered")
    assert await Passkey.count() == 1


async def test_adding_a_passkey_needs_a_login(client):
    response = await client.submit("/account/passkeys/add", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert_refused(await post_json(client, "/passkeys/new/options"), "no_ceremony")


async def test_an_add_passkey_step_left_open_is_void_after_logout(client, member):
    await client.submit("/account/passkeys/add")
    await post_json(client, "/passkeys/new/options")
    await log_out(client)
    assert_refused(await post_json(client, "/passkeys/new/options"), "no_ceremony")


async def test_the_only_passkey_cannot_be_removed_without_a_confirmed_email(client, member):
    [only] = await passkey_ids(client)
    response = await client.submit(f"/account/passkeys/{only}/delete", follow_redirects=False)
    assert response.status_code == 303
    assert await flash_on_passkey_page(client) == passkey_message("last_passkey")
    assert await passkey_ids(client) == [only]


async def test_another_members_passkey_cannot_be_removed(app, client, member):
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as other:
        await register(other, display_name="花子")
        [hanakos] = await passkey_ids(other)
    await Account.update({Account.email_verified_at: clock.now()}).where(Account.id > 0)  # last-key rule aside
    await client.submit(f"/account/passkeys/{hanakos}/delete", follow_redirects=False)
    assert await flash_on_passkey_page(client) == passkey_message("not_found")
    assert await Passkey.count() == 2


# --- rate limit ---------------------------------------------------------------------------


@pytest.fixture
async def strict_client(settings):
    """A client of an app that allows three login or registration steps a minute."""
    app = create_app(settings.with_(auth_rate_limit_per_minute=3))
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        yield client


async def test_the_fourth_login_attempt_in_a_minute_is_rate_limited_not_a_500(strict_client):
    client = strict_client
    for _ in range(3):
        assert (await post_json(client, "/passkeys/login/options")).status_code in (200, 201)
    limited = await post_json(client, "/passkeys/login/options")
    assert limited.status_code == 429
    assert JAPANESE.search(limited.json()["detail"])
    as_page = await client.post("/passkeys/login/options", headers={"x-csrftoken": await client.ensure_csrf()})
    assert as_page.status_code == 429
    assert "text/html" in as_page.headers["content-type"]
    assert 'data-testid="error-page"' in as_page.text
    # Pages that are not logins are not counted.
    assert (await client.get("/")).status_code == 200


async def test_registration_steps_count_toward_the_same_limit(strict_client):
    client = strict_client
    assert (await client.submit("/register", PROFILE, follow_redirects=False)).status_code == 303
    assert (await post_json(client, "/passkeys/new/options")).status_code in (200, 201)
    assert (await post_json(client, "/passkeys/new", content=b"{}")).status_code == 400
    limited = await client.submit("/register", PROFILE, follow_redirects=False)
    assert limited.status_code == 429
    assert "text/html" in limited.headers["content-type"]
    assert await Account.count() == 0
