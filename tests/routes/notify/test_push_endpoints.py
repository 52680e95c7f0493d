"""The attack of the trust review: a member subscribes an internal address as their push endpoint, then
presses "send myself a test", hoping the server POSTs there. The app here is configured as a deployment
with an extra push service would be (PUSH_EXTRA_HOSTS lists the fake service on loopback); the internal
listener is another port on loopback, not listed. The background round runs as the sender runs it
(app/jobs.py with the aiohttp client of app/push_sender.py)."""

from __future__ import annotations

import json

import pytest

from app import jobs, push_sender
from app.keyfile import b64url
from app.services.shared import clock
from db.tables import Delivery, Notice, PushSubscription
from tests import factories
from tests.conftest import log_in
from tests.internal_listener import InternalListener
from tests.push_service import FakePushService

JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


@pytest.fixture
def push_service():
    with FakePushService() as running:
        yield running
    assert running.errors == [], [r.error for r in running.errors]


@pytest.fixture
def settings(settings, push_service):
    """The test app's settings, listing the fake push service as PUSH_EXTRA_HOSTS would."""
    return settings.with_(push_extra_hosts=(push_service.origin,))


async def subscribe(client, endpoint: str, device) -> object:
    body = {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
    token = await client.ensure_csrf()
    return await client.post("/push/subscriptions", content=json.dumps(body), headers={**JSON_HEADERS, "x-csrftoken": token})


async def send_myself_a_test_and_run_the_round(client, app) -> dict:
    response = await client.submit("/account/notifications/test", follow_redirects=False)
    assert response.status_code == 303
    settings = app.state.settings
    async with push_sender.http_client() as http:
        return await jobs.run_round(settings, http, push_sender.vapid_signer(settings))


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:{port}/internal-admin",
    "https://127.0.0.1:{port}/internal-admin",
    "http://localhost:{port}/internal-admin",
    "https://localhost:{port}/internal-admin",
    "http://[::1]:{port}/internal-admin",
    "https://fcm.googleapis.com@127.0.0.1:{port}/internal-admin",
])
async def test_a_member_cannot_make_the_server_call_an_internal_address(client, app, push_service, target):
    account_id = (await factories.member("つなぐ花子")).account_id
    await log_in(client, account_id)
    async with InternalListener() as internal:
        response = await subscribe(client, target.format(port=internal.port), push_service.device())
        assert response.status_code == 400
        assert response.json()["code"] == "bad_endpoint"
        assert "プッシュサービスのアドレス" in response.json()["detail"]

        figures = await send_myself_a_test_and_run_the_round(client, app)
    assert internal.connections == 0
    assert await PushSubscription.count() == 0 and await Delivery.count() == 0
    assert figures["sent"] == 0 and await Notice.count() == 1  # the test went to the member's news only


async def test_an_internal_address_stored_earlier_is_not_called_either(client, app, push_service):
    """The same attack with a row that got in before the rule (or under another setting): the round
    refuses it before any request, fails the delivery and drops the device; the listed service still works."""
    account_id = (await factories.member("つなぐ花子")).account_id
    await log_in(client, account_id)
    device = push_service.device(server_key=app.state.settings.vapid_public_key)
    assert (await subscribe(client, device.endpoint, device)).status_code == 201  # listed: accepted
    async with InternalListener() as internal:
        await PushSubscription.insert(PushSubscription(
            account=account_id, endpoint=internal.url("/internal-admin"), p256dh=device.p256dh,
            auth=b64url(b"0123456789abcdef"), device_label="old", created_at=clock.now()))
        figures = await send_myself_a_test_and_run_the_round(client, app)
    assert internal.connections == 0
    assert (figures["sent"], figures["failed"]) == (1, 1)
    assert [m["title"] for m in device.messages.values()] == ["テスト通知"]
    assert [row["endpoint"] for row in await PushSubscription.select(PushSubscription.endpoint)] == [device.endpoint]
