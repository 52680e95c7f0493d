"""What a counter sends after deciding offline, through its endpoint, and the secretariat's list of conflicts:
answers the device can act on, bad input refused in words and never a 500, and a conflict reviewed once."""

from __future__ import annotations

import json
from datetime import datetime, time, timezone

import pytest

from app.i18n import TOKYO, to_tokyo
from app.services.shared import clock
from db.tables import AuditLog, Conflict, Redemption
from tests import factories
from tests.conftest import Client, log_in
from tests.routes.wallet.test_counter_pages import SHOP, curry_id, shop_client
from tests.routes.wallet.test_wallet_pages import activated_member, shop_staff_for

URL = "/shop/counter/uses"
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


# Noon in Japan today: uses sent a minute or two apart fall on one day, as "once a day" needs, whenever this runs.
NOON = datetime.combine(to_tokyo(datetime.now(timezone.utc)).date(), time(12), TOKYO)


@pytest.fixture(autouse=True)
def noon_in_japan(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOON)


def now_ms() -> int:
    return int(NOON.timestamp() * 1000)


async def send(client: Client, body: object, raw: bytes | None = None):
    token = await client.ensure_csrf()
    content = raw if raw is not None else json.dumps(body).encode()
    return await client.post(URL, content=content, headers={**JSON_HEADERS, "x-csrftoken": token})


async def test_a_use_made_offline_is_recorded_then_answered_as_already_when_sent_again(app, client):
    _account, token = await activated_member(client)
    staff_id = await shop_staff_for(SHOP)
    use = {"code": token, "offer": await curry_id(), "nonce": "offline-1", "scanned_at": now_ms() - 60_000,
           "account": staff_id}
    async with shop_client(app, staff_id) as shop:
        first = await send(shop, use)
        again = await send(shop, use)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert first.json()["status"] == "recorded" and first.json()["display_name"] == "旅する花子"
    assert again.json()["status"] == "already"
    assert await Redemption.count().where(Redemption.offline.eq(True)) == 1


async def test_two_tablets_offline_with_one_offer_slot_give_one_use_and_one_conflict_for_staff(app, client):
    _account, token = await activated_member(client)
    offer = await curry_id()
    first_staff = await shop_staff_for(SHOP)
    async with shop_client(app, first_staff) as first:
        one = await send(first, {"code": token, "offer": offer, "nonce": "a", "scanned_at": now_ms() - 120_000})
    second_staff = await shop_staff_for(SHOP)
    async with shop_client(app, second_staff) as second:
        two = await send(second, {"code": token, "offer": offer, "nonce": "b", "scanned_at": now_ms() - 60_000})
    assert one.json()["status"] == "recorded"
    assert two.status_code == 200
    assert two.json() | {"detail": ""} == {"status": "conflict", "reason": "already_used_today", "headline": "利用済み",
                                           "detail": ""}
    staff = await factories.staff_account()
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as office:
        await log_in(office, staff)
        listed = await office.get("/staff/wallet/conflicts")
        conflict_id = (await Conflict.select(Conflict.id).first())["id"]
        reviewed = await office.submit(f"/staff/wallet/conflicts/{conflict_id}/review", follow_redirects=True)
        twice = await office.submit(f"/staff/wallet/conflicts/{conflict_id}/review", follow_redirects=True)
        reviewed_tab = await office.get("/staff/wallet/conflicts", params={"state": "reviewed"})
    assert listed.status_code == 200 and listed.text.count('data-testid="conflict-row"') == 1
    assert "旅する花子" in listed.text and "利用済み" in listed.text
    assert "確認済みにしました" in reviewed.text and 'data-testid="conflict-row"' not in reviewed.text
    assert twice.status_code == 200
    assert reviewed_tab.text.count('data-testid="conflict-row"') == 1
    assert await AuditLog.count().where(AuditLog.action == "conflict.review") == 1


@pytest.mark.parametrize("raw, status", [
    (b"{not json", 400), (b"[]", 400), (b'"text"', 400), (b"\xff\xfe", 400),
    (json.dumps({"code": "X" * 40}).encode(), 422),
    (json.dumps({"code": "X" * 40, "offer": "1", "nonce": "n", "scanned_at": 1}).encode(), 422),
    (json.dumps({"code": "X" * 40, "offer": True, "nonce": "n", "scanned_at": 1_800_000_000_000}).encode(), 422),
    (json.dumps({"code": "X" * 40, "offer": 1, "nonce": "n", "scanned_at": "yesterday"}).encode(), 422),
    (json.dumps({"code": "X" * 40, "offer": 1, "nonce": "", "scanned_at": 1_800_000_000_000}).encode(), 422),
])
async def test_what_a_counter_cannot_have_sent_is_refused_in_words_and_nothing_is_kept(app, client, raw, status):
    async with shop_client(app, await shop_staff_for_any()) as shop:
        response = await send(shop, None, raw=raw)
    assert response.status_code == status
    assert response.json()["status"] == "refused" and response.json()["detail"]
    assert await Redemption.count() == 0 and await Conflict.count() == 0


async def shop_staff_for_any() -> int:
    shop = await factories.shop_with_offers("港の食堂", {"title": "ランチ100円引き"})
    return await factories.staff_account("店員 佐々木", role="shop", shop=shop[0])


async def test_a_use_scanned_under_another_shop_account_waits_for_it(app, client):
    _account, token = await activated_member(client)
    async with shop_client(app, await shop_staff_for(SHOP)) as shop:
        response = await send(shop, {"code": token, "offer": await curry_id(), "nonce": "n", "scanned_at": now_ms(),
                                     "account": 999_999})
    assert response.status_code == 409
    assert await Redemption.count() == 0


async def test_members_and_visitors_cannot_send_counter_uses_or_see_conflicts(app, client):
    _account, token = await activated_member(client)  # logged in as a member
    as_member = await send(client, {"code": token, "offer": await curry_id(), "nonce": "n", "scanned_at": now_ms()})
    page = await client.get("/staff/wallet/conflicts", follow_redirects=False)
    assert as_member.status_code in (401, 403) and page.status_code in (302, 303, 401, 403)
    assert await Redemption.count() == 0


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "page=99999999", "state=nope", "state=%00"])
async def test_the_conflict_list_takes_any_address_without_a_500(app, query):
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as office:
        await log_in(office, await factories.staff_account())
        response = await office.get(f"/staff/wallet/conflicts?{query}")
        missing = await office.submit("/staff/wallet/conflicts/123456/review", follow_redirects=True)
    assert response.status_code == 200
    assert missing.status_code == 200 and "すでに確認済み" in missing.text
