"""A session id planted in a victim's browser never becomes the victim's account.

The attack of the outside review: the victim's browser holds `tsunagu_session=<the attacker's value>` (a
cookie set from a sibling subdomain, say) and opens its own recovery link, invitation or registration; the
attacker then posts to /passkeys/new/options and /passkeys/new with the same cookie and their own passkey.
The server must have moved the victim's ceremony to a new id that only the victim's browser holds.
"""

from __future__ import annotations

import pytest

from app.services.membership import one_time_links
from db.tables import Passkey
from tests import factories
from tests.authenticator import SoftwareAuthenticator
from tests.conftest import BASE_URL, Client
from tests.passkey_client import PROFILE, create_passkey, post_json

SESSION_COOKIE = "tsunagu_session"
DOMAIN = "localhost.local"  # where httpx keeps the cookies localhost sets


def session_of(client: Client) -> str | None:
    return client.cookies.get(SESSION_COOKIE, domain=DOMAIN)


@pytest.fixture
async def attacker(app):
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        yield client


async def issued_session_id(attacker: Client) -> str:
    """A real id the server issued to the attacker (their own registration started), not a made-up one."""
    started = await attacker.submit("/register", {**PROFILE, "display_name": "攻撃者"}, follow_redirects=False)
    assert started.status_code == 303
    session_id = session_of(attacker)
    assert session_id
    return session_id


async def plant(victim: Client, session_id: str) -> None:
    """The planted cookie, after the victim's browser has a CSRF token (so the next request is the ceremony's)."""
    await victim.ensure_csrf()
    victim.cookies.set(SESSION_COOKIE, session_id, domain=DOMAIN)


async def attacker_finishes_the_ceremony(attacker: Client, session_id: str) -> int:
    """The attacker's passkey offered in the planted session: the status of the last step."""
    attacker.cookies.set(SESSION_COOKIE, session_id, domain=DOMAIN)
    options = await post_json(attacker, "/passkeys/new/options")
    if options.status_code >= 400:
        return options.status_code
    verified = await post_json(attacker, "/passkeys/new", SoftwareAuthenticator().create(options.json()))
    return verified.status_code


@pytest.mark.parametrize("planted", ["issued", "made_up"])
async def test_a_planted_session_cannot_finish_the_victims_recovery(client, attacker, planted):
    victim = await factories.member("被害者 花子", email="hanako@example.jp")
    passkeys_before = await Passkey.count().where(Passkey.account == victim.account_id)
    session_id = await issued_session_id(attacker) if planted == "issued" else "a" * 64
    await plant(client, session_id)
    token = await one_time_links.issue("recovery", victim.account_id, email="hanako@example.jp")
    opened = await client.get(f"/recover/{token}")
    assert opened.status_code == 200
    assert session_of(client) not in (None, session_id)  # the victim's ceremony has a new id

    assert await attacker_finishes_the_ceremony(attacker, session_id) >= 400
    assert await Passkey.count().where(Passkey.account == victim.account_id) == passkeys_before
    assert (await attacker.get("/card", follow_redirects=False)).status_code != 200

    # the victim, in their own browser, still finishes their recovery
    assert (await create_passkey(client, SoftwareAuthenticator())).status_code in (200, 201)
    assert await Passkey.count().where(Passkey.account == victim.account_id) == passkeys_before + 1


async def test_a_planted_session_cannot_finish_the_victims_invitation(client, attacker):
    token = await one_time_links.create_invitation("editor", None, area_id=await factories.area())
    session_id = await issued_session_id(attacker)
    await plant(client, session_id)
    accepted = await client.submit(f"/invite/{token}", {"display_name": "編集 鈴木"}, follow_redirects=False)
    assert accepted.status_code == 303
    assert session_of(client) != session_id

    assert await attacker_finishes_the_ceremony(attacker, session_id) >= 400
    assert await Passkey.count() == 0
    assert (await create_passkey(client, SoftwareAuthenticator())).status_code in (200, 201)
    assert await Passkey.count() == 1


async def test_a_planted_session_cannot_finish_the_victims_registration(client, attacker):
    session_id = await issued_session_id(attacker)
    await plant(client, session_id)
    started = await client.submit("/register", {**PROFILE, "display_name": "被害者 次郎"}, follow_redirects=False)
    assert started.status_code == 303
    assert session_of(client) != session_id

    assert await attacker_finishes_the_ceremony(attacker, session_id) >= 400
    assert (await create_passkey(client, SoftwareAuthenticator())).status_code in (200, 201)
    assert await Passkey.count() == 1  # the victim's alone: the attacker's own registration never finished


async def test_a_session_id_the_server_never_issued_is_not_adopted(client, app):
    made_up = "b" * 64
    await plant(client, made_up)
    started = await client.submit("/register", PROFILE, follow_redirects=False)
    assert started.status_code == 303
    assert session_of(client) not in (None, made_up)
    assert not await app.stores.get("sessions").exists(made_up)


async def test_a_login_gives_the_session_a_new_id(client):
    from tests.passkey_client import log_out, login_answer

    authenticator = SoftwareAuthenticator()
    await client.submit("/register", PROFILE, follow_redirects=False)
    assert (await create_passkey(client, authenticator)).status_code in (200, 201)
    await log_out(client)
    answer = await login_answer(client, authenticator)  # the login options live in the session
    before = session_of(client)
    assert before
    verified = await post_json(client, "/passkeys/login", answer)
    assert verified.status_code in (200, 201)
    assert session_of(client) not in (None, before)


async def test_on_https_every_cookie_is_a_host_cookie(settings):
    from app.main import create_app

    secure = settings.with_(base_url="https://tsunagu.example.jp")
    async with Client(app=create_app(secure), base_url="https://tsunagu.example.jp") as browser:
        started = await browser.submit("/register", PROFILE, follow_redirects=False)
        assert started.status_code == 303
        set_cookies = started.headers.get_list("set-cookie")
        names = {header.split("=", 1)[0] for header in set_cookies}
        assert names == {"__Host-tsunagu_session"}
        assert all("Secure" in header and "Path=/" in header and "Domain" not in header for header in set_cookies)
        assert any(c.name == "__Host-tsunagu_csrf" for c in browser.cookies.jar)
        assert (await create_passkey(browser, SoftwareAuthenticator())).status_code in (200, 201)
        assert any(c.name == "__Host-tsunagu_auth" for c in browser.cookies.jar)
        assert (await browser.get("/card")).status_code == 200
