"""The open wallet follows the counter: it polls with the version it shows, gets nothing back until a use or an
undo, then its offers and history alone (never the QR code); strangers and junk get answers, never a 500."""

from __future__ import annotations

import re
import secrets

from app.services.shared import clock
from app.services.wallet import redemption, wallet
from app.services.wallet.wallet import Region
from tests import factories
from tests.conftest import log_in

HX = {"HX-Request": "true"}
POLLER = re.compile(r'hx-get="(/wallet/uses\?v=[^"]*)"')
USAGE = re.compile(r'data-testid="wallet-offer-usage" data-state="([a-z_]+)">(.*?)</span>\s*</li>', re.S)


async def a_member_with_three_offers(app) -> dict:
    """A member from Tokyo with a pass of a once-only, a twice-a-day and an unlimited offer, and the shop's
    staff; `use(offer)` records a use at the counter now."""
    shop, (once, daily, unlimited) = await factories.shop_with_offers(
        "海鮮食堂 ほっき屋",
        {"title": "ほっきカレー 大盛り無料", "limit_kind": "once"},
        {"title": "ソフトドリンク1杯", "limit_kind": "per_day", "limit_count": 2},
        {"title": "小鉢1品サービス", "limit_kind": "unlimited"},
    )
    pass_id = await factories.entry_pass(once, daily, unlimited)
    member = await factories.member("旅する花子", home_prefecture="13")
    wallet_pass_id = await wallet.activate(member.member_id, pass_id, Region("01", "苫小牧市"), clock.now())
    staff = await factories.staff_account("店員 田中", role="shop", shop=shop)
    signer = app.state.signer

    async def use(offer: int) -> int:
        token = signer.sign("wallet", wallet_pass_id, clock.now().replace(year=2099))
        result = await redemption.redeem(signer, token, offer, shop, staff, secrets.token_urlsafe(8), clock.now())
        return result.redemption_id

    async def undo(redemption_id: int) -> None:
        assert await redemption.undo(redemption_id, shop, staff, clock.now())

    return {"member": member, "staff": staff, "once": once, "daily": daily, "unlimited": unlimited,
            "use": use, "undo": undo}


def poller(text: str) -> str:
    (url,) = POLLER.findall(text)
    return url


def usage(text: str) -> list[tuple[str, str]]:
    """(state, words) of each offer, in the pass's order: once, daily, unlimited."""
    return [(state, re.sub(r"\s+", " ", words).strip()) for state, words in USAGE.findall(text)]


async def test_the_poll_gets_nothing_until_a_use_then_only_the_offers_and_history(app, client):
    held = await a_member_with_three_offers(app)
    await log_in(client, held["member"].account_id)
    page = await client.get("/wallet")
    shown = poller(page.text)

    quiet = await client.get(shown, headers=HX)
    assert quiet.status_code == 204 and quiet.content == b""
    assert quiet.headers["cache-control"] == "no-store"

    await held["use"](held["daily"])
    changed = await client.get(shown, headers=HX)
    assert changed.status_code == 200 and changed.headers["cache-control"] == "no-store"
    assert poller(changed.text) != shown
    # Swapped in place by id: the cards around them, with their QR codes, are not drawn again.
    assert changed.text.count('hx-swap-oob="true"') == 2
    assert 'id="wallet-history" data-testid="wallet-history" hx-swap-oob="true"' in changed.text
    assert "wallet-qr" not in changed.text and "<svg" not in changed.text
    assert changed.text.count('data-testid="history-row"') == 1 and "ソフトドリンク1杯" in changed.text
    assert [state for state, _words in usage(changed.text)] == ["left", "left", "unlimited"]

    assert (await client.get(poller(changed.text), headers=HX)).status_code == 204


async def test_an_undo_at_the_counter_changes_the_wallet_too(app, client):
    held = await a_member_with_three_offers(app)
    await log_in(client, held["member"].account_id)
    used = await held["use"](held["once"])
    shown = poller((await client.get("/wallet")).text)
    assert usage((await client.get("/wallet")).text)[0][0] == "used"
    await held["undo"](used)
    changed = await client.get(shown, headers=HX)
    assert changed.status_code == 200
    assert usage(changed.text)[0][0] == "left"
    assert 'class="spread history-row history-undone"' in changed.text


async def test_the_labels_say_what_is_left_for_each_kind_of_offer(app, client):
    held = await a_member_with_three_offers(app)
    await log_in(client, held["member"].account_id)
    client.cookies.set("lang", "en")
    fresh = usage((await client.get("/wallet")).text)
    assert fresh == [("left", "1 use left"), ("left", "2 uses left today"), ("unlimited", "No limit on uses")]
    for offer in ("once", "daily", "daily", "unlimited"):
        await held["use"](held[offer])
    spent = usage((await client.get("/wallet")).text)
    assert spent == [("used", "used"), ("used", "Used up for today"), ("unlimited", "No limit on uses · used 1 time today")]


async def test_a_wallet_page_without_passes_does_not_poll(client):
    member = await factories.member(home_prefecture="13")
    await log_in(client, member.account_id)
    page = await client.get("/wallet")
    assert page.status_code == 200 and 'data-testid="wallet-find-passes"' in page.text
    assert "data-wallet-live" not in page.text


async def test_the_poll_sends_strangers_to_log_in_and_refuses_shop_accounts(app, client):
    held = await a_member_with_three_offers(app)
    anonymous = await client.get("/wallet/uses?v=x", headers=HX)
    assert anonymous.status_code == 401 and anonymous.headers["hx-redirect"].startswith("/login")
    plain = await client.get("/wallet/uses", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"].startswith("/login")
    await log_in(client, held["staff"])
    assert (await client.get("/wallet/uses?v=x", headers=HX)).status_code == 403


async def test_the_poll_answers_junk_and_plain_visits_never_a_500(app, client):
    held = await a_member_with_three_offers(app)
    await log_in(client, held["member"].account_id)
    version = poller((await client.get("/wallet")).text).split("v=")[1]
    for params in ([], [("v", "")], [("v", "x" * 5000)], [("v", "🙂\x00'\"<>")], [("v", "1"), ("v", version)],
                   [("v[]", "1")], [("v", version), ("extra", "1")]):
        response = await client.get("/wallet/uses", params=params, headers=HX)
        assert response.status_code in (200, 204), params
    assert (await client.get("/wallet/uses", params={"v": version}, headers=HX)).status_code == 204
    # Without HTMX (a bookmark, the login page's way back) or boosted: the wallet page itself.
    for headers in ({}, {**HX, "HX-Boosted": "true"}, {**HX, "HX-History-Restore-Request": "true"}):
        plain = await client.get("/wallet/uses", params={"v": version}, headers=headers, follow_redirects=False)
        assert plain.status_code == 303 and plain.headers["location"] == "/wallet", headers


async def test_the_labels_read_as_japanese_members_expect(app, client):
    held = await a_member_with_three_offers(app)
    await log_in(client, held["member"].account_id)
    assert usage((await client.get("/wallet")).text) == [("left", "あと1回"), ("left", "本日あと2回"),
                                                         ("unlimited", "利用できる回数に制限なし")]
    for offer in ("once", "daily", "daily", "unlimited"):
        await held["use"](held[offer])
    assert usage((await client.get("/wallet")).text) == [("used", "利用済み"), ("used", "本日は利用済み"),
                                                         ("unlimited", "利用できる回数に制限なし · 本日1回利用")]
