"""The shop counter through its pages: the bundle a device keeps, headlines that say what happened, the manual
box that never shows a scanned token, undo from the result screen, and one "today" list per shop."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from db.tables import AuditLog, Offer, Redemption, WalletPass
from tests import factories
from tests.conftest import Client, log_in
from tests.routes.wallet.test_wallet_pages import activated_member, shop_staff_for

SHOP = "海鮮食堂 ほっき屋"
CURRY = "ほっきカレー 大盛り無料"


@asynccontextmanager
async def shop_client(app, staff_id: int) -> AsyncIterator[Client]:
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        yield shop


async def curry_id() -> int:
    return (await Offer.select(Offer.id).where(Offer.title == CURRY).first())["id"]


async def test_a_shop_account_gets_its_counter_bundle_as_json_never_stored(app, client):
    await activated_member(client)
    await WalletPass.update({WalletPass.status: "revoked"}).where(WalletPass.id > 0)
    revoked = (await WalletPass.select(WalletPass.id).first())["id"]
    async with shop_client(app, await shop_staff_for(SHOP)) as shop:
        response = await shop.get("/shop/counter-bundle")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    bundle = response.json()
    assert bundle["shop"]["name"] == SHOP
    assert CURRY in [offer["title"] for offer in bundle["offers"]]
    assert bundle["revoked"] == [revoked]
    assert bundle["token"]["keys"] and bundle["generated_at"]
    assert bundle["messages"]["forged"]["headline"] == "無効です"
    assert bundle["messages"]["already_used_today"]["detail"] == "本日はすでに利用済みです。"


async def test_it_refuses_the_counter_bundle_to_members_and_visitors(app, client):
    await activated_member(client)  # logged in as a member
    as_member = await client.get("/shop/counter-bundle", follow_redirects=False)
    assert as_member.status_code in (302, 303, 401, 403)
    assert "keys" not in as_member.text
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as visitor:
        anonymous = await visitor.get("/shop/counter-bundle", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 401, 403)


async def test_the_manual_box_never_shows_a_scanned_token_but_keeps_a_typed_short_code(app, client):
    _account, token = await activated_member(client)
    short_code = (await WalletPass.select(WalletPass.short_code).first())["short_code"]
    async with shop_client(app, await shop_staff_for(SHOP)) as shop:
        scanned = await shop.get("/shop/scan", params={"code": token})
        typed = await shop.get("/shop/scan", params={"code": f"{short_code[:4]}-{short_code[4:]}"})
    box = re.compile(r'<input id="f-code"[^>]*value="([^"]*)"')
    assert box.search(scanned.text).group(1) == ""
    assert 'data-testid="scan-member"' in scanned.text
    assert box.search(typed.text).group(1) == f"{short_code[:4]}-{short_code[4:]}"


async def test_a_code_not_ours_is_headed_not_valid_and_a_used_offer_is_not(app, client):
    _account, token = await activated_member(client)
    offer = await curry_id()
    async with shop_client(app, await shop_staff_for(SHOP)) as shop:
        forged = await shop.get("/shop/scan", params={"code": token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")})
        first = await shop.submit("/shop/redeem", {"code": token, "offer": str(offer), "nonce": "n-1"})
        again = await shop.submit("/shop/redeem", {"code": token, "offer": str(offer), "nonce": "n-2"})
        await WalletPass.update({WalletPass.status: "suspended"}).where(WalletPass.id > 0)
        suspended = await shop.get("/shop/scan", params={"code": token})
    assert 'data-testid="scan-refused"' in forged.text and "無効です" in forged.text
    assert first.status_code == 200 and first.headers["hx-trigger"] == "redeemed"
    assert again.status_code == 409 and 'data-reason="already_used_today"' in again.text
    assert "無効です" not in again.text
    used = again.text.split('data-testid="verdict-used">')[1].split("</p>")[0]
    assert used.startswith("利用：") and used.endswith(f"・{SHOP}")  # when, and at which shop
    assert 'data-testid="scan-problem" data-reason="suspended"' in suspended.text
    assert "無効です" not in suspended.text


async def test_undo_from_the_result_screen_answers_in_place_and_is_audited(app, client):
    _account, token = await activated_member(client)
    staff_id = await shop_staff_for(SHOP)
    async with shop_client(app, staff_id) as shop:
        ok = await shop.hx_post("/shop/redeem", {"code": token, "offer": str(await curry_id()), "nonce": "n-1"})
        undo_url = re.search(r'hx-post="(/shop/redemptions/\d+/undo)"', ok.text).group(1)
        undone = await shop.hx_post(undo_url, {"from": "scanner"})
        twice = await shop.hx_post(undo_url, {"from": "scanner"})
    assert 'data-testid="verdict-undo"' in ok.text
    assert undone.status_code == 200 and 'data-verdict="undone"' in undone.text
    assert undone.headers["hx-trigger"] == "redeemed"
    assert twice.status_code == 409 and 'data-verdict="refused"' in twice.text
    assert await Redemption.count().where(Redemption.undone_at.is_not_null()) == 1
    assert await AuditLog.count().where(AuditLog.action == "redemption.undo") == 1


async def test_two_tablets_of_one_shop_see_the_same_today_list_and_another_shop_does_not(app, client):
    _account, token = await activated_member(client)
    shop_id = (await Offer.select(Offer.shop).where(Offer.title == CURRY).first())["shop"]
    async with AsyncExitStack() as stack:
        first, second, elsewhere = [
            await stack.enter_async_context(Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False))
            for _ in range(3)
        ]
        await log_in(first, await shop_staff_for(SHOP))
        await log_in(second, await factories.staff_account("店員 鈴木", role="shop", shop=shop_id))
        await log_in(elsewhere, await shop_staff_for("とまこまいレンタカー 駅前店"))
        await first.submit("/shop/redeem", {"code": token, "offer": str(await curry_id()), "nonce": "n-1"})
        on_second = await second.get("/shop", headers={"HX-Request": "true"})
        on_scanner = await second.get("/shop/scan")
        on_elsewhere = await elsewhere.get("/shop", headers={"HX-Request": "true"})
    assert on_second.text.count('data-testid="today-row"') == 1 and CURRY in on_second.text
    assert 'hx-trigger="every 30s, redeemed from:body"' in on_second.text
    assert on_scanner.text.count('data-testid="today-row"') == 1
    assert on_elsewhere.text.count('data-testid="today-row"') == 0
