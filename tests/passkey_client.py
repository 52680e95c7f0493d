"""What passkeys.js does, as a test client: options, the authenticator's answer, verification."""

from __future__ import annotations

from tests.authenticator import SoftwareAuthenticator
from tests.conftest import Client

PROFILE = {"display_name": "つなぐ太郎", "home_prefecture": "13", "ties": ["workation"], "consent": "2026-11-01", "terms": "2026-11-01"}


async def post_json(client: Client, url: str, body=None, *, content: bytes | None = None):
    """POST JSON with the CSRF header, as passkeys.js's postJSON does."""
    headers = {"x-csrftoken": await client.ensure_csrf(), "Accept": "application/json"}
    if content is not None:
        return await client.post(url, content=content, headers={**headers, "Content-Type": "application/json"})
    return await client.post(url, json={} if body is None else body, headers=headers)


async def create_passkey(client: Client, authenticator: SoftwareAuthenticator, **answer):
    """The passkey step (/passkeys/new): options, navigator.credentials.create(), verification."""
    options = await post_json(client, "/passkeys/new/options")
    assert options.status_code in (200, 201), options.text
    return await post_json(client, "/passkeys/new", authenticator.create(options.json(), **answer))


async def register(client: Client, authenticator: SoftwareAuthenticator | None = None, **profile):
    """Fill in the registration form, then make the passkey. Returns the verification response."""
    form = await client.submit("/register", {**PROFILE, **profile}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/passkeys/new"
    return await create_passkey(client, authenticator or SoftwareAuthenticator())


async def log_in(client: Client, authenticator: SoftwareAuthenticator, **answer):
    answer_body = await login_answer(client, authenticator, **answer)
    return await post_json(client, "/passkeys/login", answer_body)


async def login_answer(client: Client, authenticator: SoftwareAuthenticator, *, next: str | None = "", **answer) -> dict:
    options = await post_json(client, "/passkeys/login/options")
    assert options.status_code in (200, 201), options.text
    body = authenticator.get(options.json(), **answer)
    if next is not None:
        body["next"] = next  # passkeys.js always sends it, empty when the login page had none
    return body


async def log_out(client: Client) -> None:
    response = await client.submit("/logout", follow_redirects=False)
    assert response.status_code == 303


def auth_token(client: Client) -> str | None:
    return client.cookies.get("tsunagu_auth")


async def card_location(client: Client, **kwargs) -> str:
    response = await client.get("/card", follow_redirects=False, **kwargs)
    return "card" if response.status_code == 200 else response.headers.get("location", str(response.status_code))
