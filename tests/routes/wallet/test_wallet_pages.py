"""The entry pass through the pages: activate, show the wallet, scan at the shop, use, refuse a second use."""

import re
from datetime import date

from app.demo.wallet import load_wallet_demo
from db.tables import Account, Offer, Pass, Redemption, Shop, WalletPass
from tests import factories
from tests.conftest import Client, log_in

TOKEN = re.compile(r'value="([A-Z2-7]{40,})" data-testid="wallet-token"')


async def demo_pass() -> dict:
    await load_wallet_demo()
    return await Pass.select().first()


async def activated_member(client: Client) -> tuple[int, str]:
    entry_pass = await demo_pass()
    member = await factories.member("旅する花子", home_prefecture="13")
    await log_in(client, member.account_id)
    response = await client.submit(f"/passes/{entry_pass['id']}/activate", follow_redirects=True)
    assert "ウォレット" in response.text
    token = TOKEN.search(response.text).group(1)
    return member.account_id, token


async def shop_staff_for(shop_name: str) -> int:
    shop = await Shop.select(Shop.id).where(Shop.name == shop_name).first()
    return await factories.staff_account("店員 田中", role="shop", shop=shop["id"])


async def test_passes_and_shops_are_public(client):
    await demo_pass()
    passes = await client.get("/passes")
    assert "苫小牧エントリーパス 2026" in passes.text
    shops = await client.get("/shops", params={"category": "restaurant"})
    assert shops.text.count('data-testid="shop-row"') == 1
    assert "海鮮食堂 ほっき屋" in shops.text


async def test_a_member_from_tokyo_activates_the_pass_and_sees_qr_and_code(client):
    _account, token = await activated_member(client)
    wallet = await client.get("/wallet")
    assert 'data-testid="wallet-qr"' in wallet.text
    assert 'data-testid="wallet-short-code"' in wallet.text
    assert "30日" in wallet.text
    assert len(token) > 40
    assert await WalletPass.count() == 1
    # The demo pass's premium-only booth: a basic member is shown why, not uses left
    assert wallet.text.count('data-reason="premium_only"') == 1


async def test_a_resident_of_the_city_cannot_activate_the_visitor_pass(client):
    entry_pass = await demo_pass()
    member = await factories.member("地元の人", home_prefecture="01", home_municipality="苫小牧市")
    await log_in(client, member.account_id)
    response = await client.submit(f"/passes/{entry_pass['id']}/activate")
    assert response.status_code == 422
    assert "市外にお住まいの方が対象です" in response.text
    assert await WalletPass.count() == 0


async def test_activating_twice_says_it_is_already_in_the_wallet(client):
    entry_pass = await demo_pass()
    member = await factories.member(home_prefecture="13")
    await log_in(client, member.account_id)
    await client.submit(f"/passes/{entry_pass['id']}/activate")
    again = await client.submit(f"/passes/{entry_pass['id']}/activate")
    assert again.status_code == 422
    assert await WalletPass.count() == 1


async def test_the_shop_scans_uses_an_offer_once_and_the_second_time_is_refused(app, client):
    _account, token = await activated_member(client)
    staff_id = await shop_staff_for("海鮮食堂 ほっき屋")
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        preview = await shop.get("/shop/scan", params={"code": token})
        assert "旅する花子" in preview.text
        assert preview.text.count('data-testid="scan-offer"') == 2  # only this shop's offers
        offer = await Offer.select().where(Offer.title == "ほっきカレー 大盛り無料").first()
        nonce = re.search(r'name="nonce" value="([^"]+)-\d+"', preview.text).group(1)
        form = {"code": token, "offer": str(offer["id"]), "nonce": f"{nonce}-{offer['id']}"}
        ok = await shop.submit("/shop/redeem", form)
        assert ok.status_code == 200 and 'data-testid="redeem-ok"' in ok.text
        retry = await shop.submit("/shop/redeem", form)
        assert 'data-testid="redeem-ok"' in retry.text  # the same nonce: the same answer, not a second use
        second = await shop.submit("/shop/redeem", {**form, "nonce": "another-scan"})
        assert second.status_code == 409
        assert "本日はすでに利用済みです" in second.text
        assert await Redemption.count() == 1
        home = await shop.get("/shop")
        assert home.text.count('data-testid="today-row"') == 1
    history = await client.get("/wallet", headers={"HX-Request": "true"})
    assert "ほっきカレー" in history.text


async def test_an_offer_of_another_shop_is_refused(app, client):
    _account, token = await activated_member(client)
    staff_id = await shop_staff_for("とまこまいレンタカー 駅前店")
    other = await Offer.select().where(Offer.title == "ほっきカレー 大盛り無料").first()
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        refused = await shop.submit("/shop/redeem", {"code": token, "offer": str(other["id"]), "nonce": "n1"})
        assert refused.status_code == 409
        assert "このお店の特典ではありません" in refused.text


async def test_the_short_code_works_when_the_camera_does_not(app, client):
    await activated_member(client)
    code = (await WalletPass.select(WalletPass.short_code).first())["short_code"]
    staff_id = await shop_staff_for("ウトナイ湖サイクル")
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        typed = f"{code[:4].lower()}-{code[4:]}"
        preview = await shop.get("/shop/scan", params={"code": typed})
        assert "旅する花子" in preview.text


async def test_bad_codes_are_explained_never_a_500(app, client):
    staff_id = await shop_staff_for("ウトナイ湖サイクル") if await Shop.count() else None
    if staff_id is None:
        await load_wallet_demo()
        staff_id = await shop_staff_for("ウトナイ湖サイクル")
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        for code in ("", "hello", "A" * 120, "ZZZZ-ZZZZ", "🙂" * 10):
            response = await shop.get("/shop/scan", params={"code": code})
            assert response.status_code == 200, code
        for form in ({}, {"code": "x", "offer": "abc", "nonce": "n"}, {"code": "x", "offer": "1", "nonce": ""}):
            response = await shop.submit("/shop/redeem", form)
            assert response.status_code == 409, form
            assert 'data-testid="redeem-refused"' in response.text


async def test_a_suspended_pass_is_refused_at_the_next_scan(app, client):
    _account, token = await activated_member(client)
    staff_id = await shop_staff_for("海鮮食堂 ほっき屋")
    await WalletPass.update({WalletPass.status: "suspended"}).where(WalletPass.id > 0)
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        preview = await shop.get("/shop/scan", params={"code": token})
        assert 'data-testid="scan-problem"' in preview.text
        assert "一時停止" in preview.text
    assert await Account.count() == 2


async def test_scanning_is_rate_limited_per_shop_account_not_a_500(settings):
    from app.main import create_app

    await load_wallet_demo()
    staff_id = await shop_staff_for("ウトナイ湖サイクル")
    app = create_app(settings.with_(scan_rate_limit_per_minute=3))
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        statuses = [(await shop.get("/shop/scan", params={"code": "ABCD-EFGH"})).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        page = await shop.get("/shop/scan", params={"code": "ABCD-EFGH"})
        assert "操作が多すぎます" in page.text
        # The shop's home page is not a scan and stays open.
        assert (await shop.get("/shop")).status_code == 200


# --- Premium members only ------------------------------------------------------------------------------

BOOTH = "個室ブース 2時間無料"  # the demo's premium-only offer at the coworking space


async def premium_pass() -> int:
    _shop, (offer,) = await factories.shop_with_offers("ウトナイ湖サイクル", {"title": "電動自転車 終日無料"})
    return await factories.entry_pass(offer, name="プレミアム会員パス", premium_only=True)


async def test_a_basic_member_sees_why_a_premium_only_pass_cannot_be_activated_and_the_way_to_premium(client):
    pass_id = await premium_pass()
    member = await factories.member(home_prefecture="13")
    await log_in(client, member.account_id)
    page = await client.get("/passes")
    assert f'data-testid="pass-{pass_id}"' in page.text and 'data-testid="premium-only-badge"' in page.text
    assert f'data-testid="premium-required-{pass_id}"' in page.text
    assert 'href="/account/premium" data-testid="premium-link"' in page.text
    assert f'data-testid="activate-{pass_id}"' not in page.text
    refused = await client.submit(f"/passes/{pass_id}/activate")
    assert refused.status_code == 422 and f'data-testid="premium-required-{pass_id}"' in refused.text
    assert await WalletPass.count() == 0


async def test_a_premium_member_activates_a_premium_only_pass(client):
    pass_id = await premium_pass()
    member = await factories.member(home_prefecture="13")
    await factories.premium(member.member_id, date(2099, 3, 31))
    await log_in(client, member.account_id)
    page = await client.get("/passes")
    assert f'data-testid="activate-{pass_id}"' in page.text and "premium-required" not in page.text
    done = await client.submit(f"/passes/{pass_id}/activate", follow_redirects=False)
    assert done.status_code == 303
    assert await WalletPass.count() == 1


async def test_the_counter_refuses_a_premium_only_offer_to_a_basic_member_with_the_reason(app, client):
    _account, token = await activated_member(client)
    wallet = await client.get("/wallet")
    assert BOOTH in wallet.text and 'data-testid="premium-only-badge"' in wallet.text
    staff_id = await shop_staff_for("コワーキングスペース ミナトベース")
    booth = await Offer.select().where(Offer.title == BOOTH).first()
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        preview = await shop.get("/shop/scan", params={"code": token})
        assert f'data-testid="use-offer-{booth["id"]}"' in preview.text
        assert 'data-testid="offer-reason" data-reason="premium_only"' in preview.text
        refused = await shop.submit("/shop/redeem", {"code": token, "offer": str(booth["id"]), "nonce": "scan-1"})
        assert refused.status_code == 409
        assert 'data-testid="redeem-refused" data-reason="premium_only"' in refused.text
        assert await Redemption.count() == 0
        member = await WalletPass.select(WalletPass.member).first()
        await factories.premium(member["member"], date(2099, 3, 31))
        ok = await shop.submit("/shop/redeem", {"code": token, "offer": str(booth["id"]), "nonce": "scan-2"})
        assert ok.status_code == 200 and 'data-testid="redeem-ok"' in ok.text
        assert await Redemption.count() == 1
