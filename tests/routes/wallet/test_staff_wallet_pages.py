"""The secretariat's entry pass pages: shops, offers, passes, members' passes and the usage analysis."""

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest

from app.services.wallet import wallet
from db.tables import AuditLog, Offer, Pass, PassOffer, Redemption, Shop, WalletPass
from tests import factories
from tests.conftest import log_in

SHOP_FORM = {
    "name": "港の食堂", "category": "restaurant", "description": "海鮮丼の店", "address": "苫小牧市港町2-2",
    "map_url": "https://maps.example.jp/?q=minato", "opening_hours": "11:00–15:00", "phone": "0144-00-0000",
    "photo_url": "", "active": "1",
}
OFFER_FORM = {"title": "ランチ100円引き", "limit_kind": "per_day", "limit_count": "2", "valid_from": "2026-04-01",
              "valid_to": "2027-03-31", "position": "1", "active": "1", "terms": "お一人様一回"}


async def staff_client(client) -> int:
    staff_id = await factories.staff_account()
    await log_in(client, staff_id)
    return staff_id


async def offer_at(shop_id: int, title: str = "ランチ100円引き") -> int:
    offer = Offer(shop=shop_id, title=title)
    await offer.save()
    return offer.id


async def entry_pass(*offer_ids: int) -> int:
    item = Pass(name="苫小牧エントリーパス", validity_days=30)
    await item.save()
    for offer_id in offer_ids:
        await PassOffer(entry_pass=item.id, offer=offer_id).save()
    return item.id


async def wallet_pass_of(member_id: int, pass_id: int) -> int:
    return await wallet.activate(member_id, pass_id, wallet.Region("01", "苫小牧市"), datetime.now(timezone.utc))


@pytest.fixture
async def setup():
    shop_id = await factories.shop()
    offer_id = await offer_at(shop_id)
    pass_id = await entry_pass(offer_id)
    member = await factories.member("つなぐ花子")
    wallet_pass_id = await wallet_pass_of(member.member_id, pass_id)
    return {"shop": shop_id, "offer": offer_id, "pass": pass_id, "member": member, "wallet_pass": wallet_pass_id}


def pages(ids) -> list[str]:
    return [
        "/staff", "/staff/shops", "/staff/shops/new", f"/staff/shops/{ids['shop']}", f"/staff/shops/{ids['shop']}/offers/new",
        f"/staff/offers/{ids['offer']}", "/staff/passes", "/staff/passes/new", f"/staff/passes/{ids['pass']}",
        "/staff/wallet-passes", f"/staff/wallet-passes?member={ids['member'].member_id}", "/staff/wallet/analysis",
        "/staff/wallet/redemptions",
    ]


async def test_each_wallet_page_renders_for_staff(client, setup):
    await staff_client(client)
    for path in pages(setup):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path
    menu = (await client.get("/staff")).text
    for testid in ("staff-shops", "staff-passes", "staff-wallet-passes", "staff-wallet-analysis", "staff-redemptions"):
        assert f'data-testid="{testid}"' in menu


async def test_a_member_gets_403_on_every_wallet_page(client, setup):
    await log_in(client, setup["member"].account_id)
    for path in pages(setup):
        response = await client.get(path)
        assert response.status_code == 403, path
    response = await client.submit("/staff/shops", SHOP_FORM)
    assert response.status_code == 403
    assert await Shop.count() == 1


async def test_staff_creates_a_shop_and_edits_it(client):
    await staff_client(client)
    created = await client.submit("/staff/shops", SHOP_FORM, follow_redirects=False)
    assert created.status_code == 303
    shop = await Shop.select().where(Shop.name == "港の食堂").first()
    assert created.headers["location"] == f"/staff/shops/{shop['id']}"
    assert (shop["category"], shop["phone"], shop["active"]) == ("restaurant", "0144-00-0000", True)
    page = await client.get(created.headers["location"])
    assert "店舗を追加しました" in page.text
    edited = await client.submit(f"/staff/shops/{shop['id']}", {**SHOP_FORM, "name": "港の食堂 本店", "active": ""},
                                 follow_redirects=True)
    assert "店舗を保存しました" in edited.text
    row = await Shop.select(Shop.name, Shop.active).where(Shop.id == shop["id"]).first()
    assert row == {"name": "港の食堂 本店", "active": False}
    listing = await client.get("/staff/shops")
    assert "港の食堂 本店" in listing.text and "飲食店" in listing.text and "無効" in listing.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "店舗名を入力してください"),
        ("map_url", "javascript:alert(1)", "https://"),
        ("phone", "電話番号", "0144-12-3456"),
        ("category", "spa", "カテゴリ"),
    ],
)
async def test_a_bad_shop_field_is_refused_next_to_it_and_nothing_is_saved(client, field, value, message):
    await staff_client(client)
    response = await client.submit("/staff/shops", {**SHOP_FORM, field: value})
    assert response.status_code == 422
    error = re.search(rf'data-testid="error-{field}">([^<]*)<', response.text)
    assert error and message in error.group(1)
    assert 'data-testid="shop-form"' in response.text and "<html" in response.text
    assert await Shop.count() == 0


async def test_staff_puts_a_shop_in_an_area_and_takes_it_out_again(client):
    await staff_client(client)
    area_id = await factories.area("樽前・錦岡", "tarumae")
    shop_id = await factories.shop()
    form = (await client.get(f"/staff/shops/{shop_id}")).text
    assert 'data-testid="field-area"' in form and f'<option value="{area_id}" >' in form
    saved = await client.submit(f"/staff/shops/{shop_id}", {**SHOP_FORM, "area": str(area_id)}, follow_redirects=False)
    assert saved.status_code == 303
    assert (await Shop.select(Shop.area).where(Shop.id == shop_id).first())["area"] == area_id
    assert f'<option value="{area_id}" selected>' in (await client.get(f"/staff/shops/{shop_id}")).text
    cleared = await client.submit(f"/staff/shops/{shop_id}", {**SHOP_FORM, "area": ""}, follow_redirects=False)
    assert cleared.status_code == 303
    assert (await Shop.select(Shop.area).where(Shop.id == shop_id).first())["area"] is None


@pytest.mark.parametrize("value", ["424242", "tarumae", "-1", "1e3", "9" * 5000])
async def test_an_area_that_is_not_in_the_list_is_refused_next_to_it(client, value):
    await staff_client(client)
    await factories.area()
    response = await client.submit("/staff/shops", {**SHOP_FORM, "area": value})
    assert response.status_code == 422
    assert 'data-testid="error-area"' in response.text
    assert await Shop.count() == 0


async def test_an_htmx_form_with_errors_gets_only_the_form_back(client):
    await staff_client(client)
    await client.get("/staff/shops/new")
    response = await client.hx_post("/staff/shops", {**SHOP_FORM, "map_url": ""})
    assert response.status_code == 422
    assert response.text.lstrip().startswith("<form")
    assert 'data-testid="error-map_url"' in response.text
    ok = await client.hx_post("/staff/shops", SHOP_FORM)
    assert ok.status_code == 200 and ok.headers["hx-redirect"].startswith("/staff/shops/")


async def test_staff_adds_an_offer_and_edits_it(client):
    await staff_client(client)
    shop_id = await factories.shop()
    created = await client.submit(f"/staff/shops/{shop_id}/offers", OFFER_FORM, follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == f"/staff/shops/{shop_id}"
    offer = await Offer.select().where(Offer.shop == shop_id).first()
    assert (offer["limit_kind"], offer["limit_count"], str(offer["valid_to"])) == ("per_day", 2, "2027-03-31")
    shop_page = await client.get(f"/staff/shops/{shop_id}")
    assert "ランチ100円引き" in shop_page.text and "1日2回まで" in shop_page.text
    edited = await client.submit(f"/staff/offers/{offer['id']}", {**OFFER_FORM, "limit_kind": "unlimited", "title": "ランチ大盛り"},
                                 follow_redirects=False)
    assert edited.status_code == 303
    row = await Offer.select(Offer.title, Offer.limit_kind, Offer.limit_count).where(Offer.id == offer["id"]).first()
    assert row == {"title": "ランチ大盛り", "limit_kind": "unlimited", "limit_count": 1}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"limit_count": "30"}, "limit_count", "1〜20"),
        ({"valid_to": "2026-03-01"}, "valid_to", "最終日"),
        ({"title": ""}, "title", "特典の名前"),
    ],
)
async def test_a_bad_offer_field_is_refused_next_to_it(client, changes, field, message):
    await staff_client(client)
    shop_id = await factories.shop()
    response = await client.submit(f"/staff/shops/{shop_id}/offers", {**OFFER_FORM, **changes})
    assert response.status_code == 422
    error = re.search(rf'data-testid="error-{field}">([^<]*)<', response.text)
    assert error and message in error.group(1), response.text
    assert await Offer.count() == 0


async def test_staff_creates_a_pass_with_offers_grouped_by_shop_and_changes_them(client):
    await staff_client(client)
    bay = await factories.shop("ベイサイド・コワーキング")
    diner = await factories.shop("港の食堂")
    first, second = await offer_at(bay, "一日券10%引き"), await offer_at(diner, "ランチ100円引き")
    form_page = await client.get("/staff/passes/new")
    assert f'data-testid="offer-group-{bay}"' in form_page.text and f'data-testid="offers-{second}"' in form_page.text
    created = await client.submit("/staff/passes", {
        "name": "夏のパス", "validity_days": "14", "outside_residents_only": "1", "active": "1",
        "offers": [str(first), str(second)],
    }, follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/staff/passes"
    entry = await Pass.select().where(Pass.name == "夏のパス").first()
    assert (entry["validity_days"], entry["outside_residents_only"], entry["requires_stay"]) == (14, True, False)
    links = await PassOffer.select(PassOffer.offer).where(PassOffer.entry_pass == entry["id"])
    assert sorted(link["offer"] for link in links) == sorted([first, second])
    await client.submit(f"/staff/passes/{entry['id']}", {"name": "夏のパス", "validity_days": "14", "offers": str(second)})
    links = await PassOffer.select(PassOffer.offer).where(PassOffer.entry_pass == entry["id"])
    assert [link["offer"] for link in links] == [second]


async def test_a_pass_with_an_unknown_offer_or_bad_validity_is_refused(client):
    await staff_client(client)
    shop_id = await factories.shop()
    offer_id = await offer_at(shop_id)
    pass_id = await entry_pass(offer_id)
    response = await client.submit(f"/staff/passes/{pass_id}", {"name": "変更", "validity_days": "400", "offers": "999999"})
    assert response.status_code == 422
    assert 'data-testid="error-validity_days"' in response.text and 'data-testid="error-offers"' in response.text
    assert "1〜366" in response.text
    assert (await Pass.select(Pass.name).where(Pass.id == pass_id).first())["name"] == "苫小牧エントリーパス"
    assert await PassOffer.count().where(PassOffer.entry_pass == pass_id) == 1


async def test_staff_suspends_and_reactivates_a_members_pass_with_a_reason(client, setup):
    await staff_client(client)
    wallet_pass_id, member = setup["wallet_pass"], setup["member"]
    listing = await client.get("/staff/wallet-passes", params={"member": member.member_no})
    assert "つなぐ花子" in listing.text and f'data-testid="suspend-{wallet_pass_id}"' in listing.text
    path = f"/staff/wallet-passes/{wallet_pass_id}/status"
    refused = await client.submit(path, {"action": "suspend", "reason": ""})
    assert refused.status_code == 422
    assert 'data-testid="error-reason"' in refused.text and "理由" in refused.text
    suspended = await client.submit(path, {"action": "suspend", "reason": "端末紛失の連絡"}, follow_redirects=False)
    assert suspended.status_code == 303
    assert suspended.headers["location"] == f"/staff/wallet-passes?member={member.member_id}"
    after = await client.get(suspended.headers["location"])
    assert "次の読み取りから" in after.text and "一時停止" in after.text
    assert (await WalletPass.select(WalletPass.status).where(WalletPass.id == wallet_pass_id).first())["status"] == "suspended"
    await client.submit(path, {"action": "reactivate", "reason": "端末が見つかった"})
    audit = await AuditLog.select(AuditLog.detail).where(AuditLog.action == "wallet_pass.status").order_by(AuditLog.id).output(
        load_json=True
    )
    assert [(a["detail"]["to"], a["detail"]["reason"]) for a in audit] == [("suspended", "端末紛失の連絡"), ("active", "端末が見つかった")]


async def test_unknown_ids_are_404_pages(client, setup):
    await staff_client(client)
    for path in ("/staff/shops/424242", "/staff/shops/424242/offers/new", "/staff/offers/424242", "/staff/passes/424242",
                 "/staff/wallet/analysis/members/csv"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "ページが見つかりません" in response.text, path
    for path, form in (("/staff/shops/424242", SHOP_FORM), ("/staff/offers/424242", OFFER_FORM),
                       ("/staff/passes/424242", {"name": "x", "validity_days": "1"}),
                       ("/staff/wallet-passes/424242/status", {"action": "suspend", "reason": "x"})):
        assert (await client.submit(path, form)).status_code == 404, path
    unknown = await client.get("/staff/wallet-passes", params={"member": "TMK-999999"})
    assert unknown.status_code == 404 and 'data-testid="error-member"' in unknown.text


async def redemptions_for_analysis(setup) -> None:
    now = datetime.now(timezone.utc)
    for n, undone in ((1, None), (2, now)):
        await Redemption(wallet_pass=setup["wallet_pass"], offer=setup["offer"], shop=setup["shop"], limit_key=f"n:{n}",
                         client_nonce=f"nonce-{n}", home_prefecture="13", redeemed_at=now - timedelta(minutes=n),
                         undone_at=undone).save()


async def test_the_analysis_page_shows_each_table_for_the_period(client, setup):
    await staff_client(client)
    await redemptions_for_analysis(setup)
    response = await client.get("/staff/wallet/analysis")
    assert response.status_code == 200
    for key in ("shops", "offers", "weekday_hour", "prefectures", "passes"):
        assert f'data-testid="table-{key}"' in response.text
        assert f'data-testid="csv-{key}"' in response.text
    assert "東京都" in response.text and "曜日" in response.text
    total = re.search(r'data-testid="analysis-total">([^<]*)<', response.text).group(1)
    assert "1件" in total
    fragment = await client.get("/staff/wallet/analysis", params={"from": "2020-04-01", "to": "2020-04-30"},
                                headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="analysis"')
    assert "0件" in fragment.text


async def test_a_bad_period_is_422_with_the_message_next_to_the_field(client):
    await staff_client(client)
    response = await client.get("/staff/wallet/analysis", params={"from": "2026-05-02", "to": "2026-05-01"})
    assert response.status_code == 422
    assert 'data-testid="error-to"' in response.text and "最終日" in response.text
    csv_response = await client.get("/staff/wallet/analysis/shops/csv", params={"from": "yesterday"})
    assert csv_response.status_code == 422 and 'data-testid="error-from"' in csv_response.text
    assert await AuditLog.count().where(AuditLog.action == "export.csv") == 0


async def test_a_csv_download_is_excel_ready_and_audited(client, setup):
    staff_id = await staff_client(client)
    await redemptions_for_analysis(setup)
    response = await client.get("/staff/wallet/analysis/prefectures/csv", params={"from": "2020-01-01", "to": "2099-12-31"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == "attachment; filename=entry-pass-prefectures-2020-01-01-2099-12-31.csv"
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [["居住都道府県", "利用件数"], ["東京都", "1"]]
    audit = await AuditLog.select().where(AuditLog.action == "export.csv").output(load_json=True)
    assert [(a["actor"], a["detail"]["table"], a["detail"]["from"], a["detail"]["to"]) for a in audit] == [
        (staff_id, "prefectures", "2020-01-01", "2099-12-31")
    ]


# --- Premium members only ------------------------------------------------------------------------------


async def test_staff_mark_an_offer_for_premium_members_only_and_take_it_back(client):
    await staff_client(client)
    shop_id = await factories.shop()
    form_page = await client.get(f"/staff/shops/{shop_id}/offers/new")
    assert 'data-testid="field-premium_only"' in form_page.text
    await client.submit(f"/staff/shops/{shop_id}/offers", {**OFFER_FORM, "premium_only": "1"})
    offer = await Offer.select(Offer.id, Offer.premium_only).where(Offer.shop == shop_id).first()
    assert offer["premium_only"] is True
    shop_page = await client.get(f"/staff/shops/{shop_id}")
    assert shop_page.text.count('data-testid="premium-only-badge"') == 1
    edit_page = await client.get(f"/staff/offers/{offer['id']}")
    assert re.search(r'name="premium_only" value="1" checked', edit_page.text)
    await client.submit(f"/staff/offers/{offer['id']}", OFFER_FORM)  # an unticked box is not sent at all
    assert (await Offer.select(Offer.premium_only).where(Offer.id == offer["id"]).first())["premium_only"] is False


async def test_staff_mark_a_pass_for_premium_members_only_and_the_list_shows_it(client):
    await staff_client(client)
    offer_id = await offer_at(await factories.shop())
    await client.submit("/staff/passes", {"name": "プレミアム会員パス", "validity_days": "30", "active": "1",
                                          "premium_only": "1", "offers": str(offer_id)})
    entry = await Pass.select(Pass.id, Pass.premium_only).where(Pass.name == "プレミアム会員パス").first()
    assert entry["premium_only"] is True
    listing = await client.get("/staff/passes")
    assert listing.text.count('data-testid="premium-only-badge"') == 1
    await client.submit(f"/staff/passes/{entry['id']}", {"name": "プレミアム会員パス", "validity_days": "30", "offers": str(offer_id)})
    assert (await Pass.select(Pass.premium_only).where(Pass.id == entry["id"]).first())["premium_only"] is False


async def test_a_form_refused_for_another_field_keeps_the_premium_box_as_ticked_and_saves_nothing(client):
    await staff_client(client)
    shop_id = await factories.shop()
    offer = await client.submit(f"/staff/shops/{shop_id}/offers", {**OFFER_FORM, "title": "", "premium_only": "1"})
    assert offer.status_code == 422 and re.search(r'name="premium_only" value="1" checked', offer.text)
    entry = await client.submit("/staff/passes", {"name": "パス", "validity_days": "0", "premium_only": ["1", "x"]})
    assert entry.status_code == 422 and re.search(r'name="premium_only" value="1" checked', entry.text)
    assert await Offer.count() == 0 and await Pass.count() == 0


@pytest.mark.parametrize("value", ["0", "false", "off", ""])
async def test_a_premium_box_sent_as_off_is_off(client, value):
    await staff_client(client)
    shop_id = await factories.shop()
    await client.submit(f"/staff/shops/{shop_id}/offers", {**OFFER_FORM, "premium_only": value})
    assert (await Offer.select(Offer.premium_only).first())["premium_only"] is False


async def test_a_shop_notice_set_by_staff_is_shown_to_members_above_the_shop(app, client):
    await log_in(client, await factories.staff_account())
    shop_id, _offers = await factories.shop_with_offers("海鮮食堂 ほっき屋")
    shop = await Shop.select().where(Shop.id == shop_id).first()
    form = {key: str(shop[key] or "") for key in ("name", "category", "description", "address", "map_url",
                                                  "opening_hours", "phone", "photo_url")}
    form.update(category=form["category"] or "restaurant", map_url=form["map_url"] or "https://www.openstreetmap.org/",
                active="on", notice="12月31日〜1月3日は休業します。")
    saved = await client.submit(f"/staff/shops/{shop_id}", form, follow_redirects=False)
    assert saved.status_code == 303
    shown = await client.get("/shops")
    assert 'data-testid="shop-notice">12月31日〜1月3日は休業します。<' in shown.text
    too_long = await client.submit(f"/staff/shops/{shop_id}", {**form, "notice": "休" * 201})
    assert too_long.status_code == 422 and 'data-testid="error-notice"' in too_long.text
