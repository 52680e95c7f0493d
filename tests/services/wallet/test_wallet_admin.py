"""The secretariat's entry pass setup (shops, offers, passes, members' passes): every bad field is named, pass
offers change all at once, status changes are audited."""

from datetime import date, datetime, timedelta, timezone

import pytest

from app.services.shared.refusals import FormInvalid
from app.services.wallet import member_passes as member_pass_admin
from app.services.wallet import offers as offer_admin
from app.services.wallet import passes as pass_admin
from app.services.wallet import redemption, wallet
from app.services.wallet import shops as shop_admin
from db.engine import is_unique_violation
from db.tables import AuditLog, Offer, Pass, PassOffer, Shop, WalletPass
from tests import factories

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=timezone.utc)

GOOD_SHOP = {
    "name": "ベイサイド・コワーキング", "category": "coworking", "description": "海が見えるコワーキング",
    "address": "苫小牧市港町1-1", "map_url": "https://maps.example.jp/?q=bayside", "opening_hours": "9:00–18:00",
    "phone": "0144-12-3456", "photo_url": "", "active": "1",
}
GOOD_OFFER = {"title": "ドロップイン10%引き", "limit_kind": "once", "valid_from": "", "valid_to": "", "position": "0", "active": "1"}


def errors_of(call, form):
    with pytest.raises(FormInvalid) as caught:
        call(form)
    return caught.value.errors


async def async_errors_of(call, form):
    with pytest.raises(FormInvalid) as caught:
        await call(form)
    return caught.value.errors


async def new_offer(shop_id: int, title: str = "ドロップイン10%引き", **changes) -> int:
    values = offer_admin.parse_offer({**GOOD_OFFER, "title": title, **changes})
    return await offer_admin.create_offer(shop_id, values)


def test_every_shop_category_has_a_label():
    assert tuple(wallet.SHOP_CATEGORY_LABELS) == wallet.SHOP_CATEGORIES
    assert wallet.category_label("restaurant") == "飲食店"
    assert wallet.category_label("tourism") == "観光施設"


def test_shop_form_accepts_a_complete_shop_and_folds_full_width_digits():
    values = shop_admin.parse_shop({**GOOD_SHOP, "phone": "０１４４－１２－３４５６", "name": "  ベイサイド  "})
    assert values.phone == "0144-12-3456"
    assert values.name == "ベイサイド"
    assert values.active is True
    assert shop_admin.parse_shop({**GOOD_SHOP, "active": ""}).active is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "店" * 101),
        ("category", ""),
        ("category", "spa"),
        ("description", "あ" * 2001),
        ("address", "あ" * 201),
        ("map_url", ""),
        ("map_url", "javascript:alert(1)"),
        ("map_url", "maps.example.jp/bayside"),
        ("map_url", "https://example.jp/" + "a" * 500),
        ("opening_hours", "あ" * 201),
        ("phone", "電話してください"),
        ("phone", "0" * 21),
        ("photo_url", "ftp://example.jp/photo.jpg"),
    ],
)
def test_shop_form_names_the_bad_field(field, value):
    errors = errors_of(shop_admin.parse_shop, {**GOOD_SHOP, field: value})
    assert list(errors) == [field]
    assert errors[field]


def test_shop_form_reports_every_problem_at_once():
    errors = errors_of(shop_admin.parse_shop, {"name": "", "category": "x", "map_url": "x", "phone": "x"})
    assert set(errors) == {"name", "category", "map_url", "phone"}
    assert errors["name"] == "店舗名を入力してください。"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "特" * 101}, "title"),
        ({"terms": "あ" * 2001}, "terms"),
        ({"limit_kind": "twice"}, "limit_kind"),
        ({"limit_kind": "per_day", "limit_count": "0"}, "limit_count"),
        ({"limit_kind": "per_day", "limit_count": "21"}, "limit_count"),
        ({"limit_kind": "per_day", "limit_count": "two"}, "limit_count"),
        ({"valid_from": "2026-13-01"}, "valid_from"),
        ({"valid_to": "31/03/2027"}, "valid_to"),
        ({"valid_from": "2026-05-01", "valid_to": "2026-04-30"}, "valid_to"),
        ({"image_url": "data:image/png;base64,AAAA"}, "image_url"),
        ({"position": "-1"}, "position"),
        ({"position": "first"}, "position"),
    ],
)
def test_offer_form_names_the_bad_field(changes, field):
    errors = errors_of(offer_admin.parse_offer, {**GOOD_OFFER, **changes})
    assert list(errors) == [field]


def test_offer_form_keeps_a_daily_count_only_for_daily_offers():
    daily = offer_admin.parse_offer({**GOOD_OFFER, "limit_kind": "per_day", "limit_count": "３"})
    assert (daily.limit_kind, daily.limit_count) == ("per_day", 3)
    once = offer_admin.parse_offer({**GOOD_OFFER, "limit_kind": "once", "limit_count": "99"})
    assert once.limit_count == 1
    dated = offer_admin.parse_offer({**GOOD_OFFER, "valid_from": "2026-04-01", "valid_to": "2026-04-01"})
    assert dated.valid_from == dated.valid_to == date(2026, 4, 1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "パ" * 101}, "name"),
        ({"validity_days": "0"}, "validity_days"),
        ({"validity_days": "367"}, "validity_days"),
        ({"validity_days": ""}, "validity_days"),
        ({"offers": ["abc"]}, "offers"),
        ({"offers": ["999999"]}, "offers"),
        ({"offers": ["2147483648"]}, "offers"),
        ({"offers": ["-1"]}, "offers"),
    ],
)
async def test_pass_form_names_the_bad_field(changes, field):
    form = {"name": "苫小牧エントリーパス", "validity_days": "30", "active": "1", **changes}
    errors = await async_errors_of(pass_admin.parse_pass, form)
    assert list(errors) == [field]


async def test_pass_form_reads_its_flags_and_offers():
    shop_id = await factories.shop()
    offer_id = await new_offer(shop_id)
    values = await pass_admin.parse_pass(
        {"name": "苫小牧エントリーパス", "validity_days": "366", "requires_stay": "1", "offers": [str(offer_id), str(offer_id)]}
    )
    assert values.offer_ids == [offer_id]
    assert (values.validity_days, values.requires_stay, values.outside_residents_only, values.active) == (366, True, False, False)


async def test_pass_offers_are_replaced_in_one_transaction():
    shop_id = await factories.shop()
    first, second, third = [await new_offer(shop_id, title) for title in ("一", "二", "三")]
    values = await pass_admin.parse_pass({"name": "夏のパス", "validity_days": "30", "offers": [str(first), str(second)]})
    pass_id = await pass_admin.create_pass(values)

    async def included() -> set[int]:
        return {row["offer"] for row in await PassOffer.select(PassOffer.offer).where(PassOffer.entry_pass == pass_id)}

    assert await included() == {first, second}
    # The second insert breaks the unique (pass, offer) index half-way: nothing of the change may remain.
    broken = pass_admin.PassValues(name="壊れた変更", validity_days=10, offer_ids=[third, third])
    with pytest.raises(Exception) as refused:  # noqa: B017 - each engine raises its own exception class
        await pass_admin.update_pass(pass_id, broken)
    assert is_unique_violation(refused.value)
    assert await included() == {first, second}
    assert (await Pass.select(Pass.name).where(Pass.id == pass_id).first())["name"] == "夏のパス"

    assert await pass_admin.update_pass(pass_id, pass_admin.PassValues(name="秋のパス", validity_days=10, offer_ids=[third]))
    assert await included() == {third}
    assert await pass_admin.update_pass(pass_id, pass_admin.PassValues(name="秋のパス", validity_days=10, offer_ids=[]))
    assert await included() == set()


async def test_an_inactive_shops_offers_are_no_longer_shown_to_members():
    shop_id = await factories.shop()
    offer_id = await new_offer(shop_id)
    values = await pass_admin.parse_pass({"name": "パス", "validity_days": "30", "offers": str(offer_id), "active": "1"})
    pass_id = await pass_admin.create_pass(values)
    assert [o["id"] for o in (await wallet.offers_by_pass([pass_id]))[pass_id]] == [offer_id]
    shop = shop_admin.shop_values(await shop_admin.get_shop(shop_id))
    shop.active = False
    assert await shop_admin.update_shop(shop_id, shop)
    assert await wallet.offers_by_pass([pass_id]) == {}
    listed = await shop_admin.list_shops()
    assert [(s["active"], s["offer_count"]) for s in listed] == [(False, 1)]


async def test_shop_choices_list_only_active_shops_by_name():
    second = await factories.shop("かもめ食堂")
    first = await factories.shop("あさひ商店")
    closed = await factories.shop("いろは堂")
    await Shop.update({Shop.active: False}).where(Shop.id == closed)
    assert await shop_admin.shop_choices() == [{"id": first, "name": "あさひ商店"}, {"id": second, "name": "かもめ食堂"}]


async def test_update_of_an_unknown_row_reports_false():
    assert not await shop_admin.update_shop(424242, shop_admin.parse_shop(GOOD_SHOP))
    assert not await offer_admin.update_offer(424242, offer_admin.parse_offer(GOOD_OFFER))
    assert not await pass_admin.update_pass(424242, pass_admin.PassValues(name="x", validity_days=1))
    assert await Shop.count() == await Offer.count() == 0


async def wallet_pass_for(member_id: int) -> int:
    entry_pass = Pass(name="苫小牧エントリーパス", validity_days=30)
    await entry_pass.save()
    return await wallet.activate(member_id, entry_pass.id, wallet.Region("01", "苫小牧市"), NOW)


async def test_status_changes_are_audited_and_seen_at_the_next_scan():
    staff_id = await factories.staff_account()
    member = await factories.member()
    wallet_pass_id = await wallet_pass_for(member.member_id)
    short_code = (await WalletPass.select(WalletPass.short_code).where(WalletPass.id == wallet_pass_id).first())["short_code"]

    async def scan_problem() -> str:
        scanned = await redemption.read_code(None, short_code, NOW)  # the short code needs no signer
        return redemption.pass_problem(scanned, NOW)

    assert await scan_problem() == ""
    assert await member_pass_admin.set_wallet_pass_status(staff_id, wallet_pass_id, "suspend", "紛失の届出", NOW) == "suspended"
    assert await scan_problem() == "suspended"
    assert await member_pass_admin.set_wallet_pass_status(staff_id, wallet_pass_id, "reactivate", "", NOW) == "active"
    assert await scan_problem() == ""
    assert await member_pass_admin.set_wallet_pass_status(staff_id, wallet_pass_id, "revoke", "不正利用", NOW) == "revoked"
    assert await scan_problem() == "revoked"

    rows = await AuditLog.select().where(AuditLog.action == "wallet_pass.status").order_by(AuditLog.id).output(load_json=True)
    assert [(r["detail"]["from"], r["detail"]["to"], r["detail"]["reason"]) for r in rows] == [
        ("active", "suspended", "紛失の届出"), ("suspended", "active", ""), ("active", "revoked", "不正利用"),
    ]
    assert {(r["actor"], r["target_type"], r["target_id"]) for r in rows} == {(staff_id, "wallet_pass", str(wallet_pass_id))}
    stored = await WalletPass.select(WalletPass.status, WalletPass.status_reason).where(WalletPass.id == wallet_pass_id).first()
    assert stored == {"status": "revoked", "status_reason": "不正利用"}


@pytest.mark.parametrize(
    ("action", "reason", "field"),
    [("suspend", "", "reason"), ("revoke", "  ", "reason"), ("destroy", "理由", "action"), ("reactivate", "", "action"),
     ("suspend", "理" * 201, "reason")],
)
async def test_a_refused_status_change_changes_nothing(action, reason, field):
    staff_id = await factories.staff_account()
    member = await factories.member()
    wallet_pass_id = await wallet_pass_for(member.member_id)
    with pytest.raises(FormInvalid) as caught:
        await member_pass_admin.set_wallet_pass_status(staff_id, wallet_pass_id, action, reason, NOW)
    assert field in caught.value.errors
    assert (await WalletPass.select(WalletPass.status).where(WalletPass.id == wallet_pass_id).first())["status"] == "active"
    assert await AuditLog.count().where(AuditLog.action == "wallet_pass.status") == 0


async def test_a_revoked_pass_cannot_be_brought_back():
    staff_id = await factories.staff_account()
    member = await factories.member()
    wallet_pass_id = await wallet_pass_for(member.member_id)
    await member_pass_admin.set_wallet_pass_status(staff_id, wallet_pass_id, "revoke", "不正利用", NOW)
    for action in ("reactivate", "suspend", "revoke"):
        with pytest.raises(FormInvalid):
            await member_pass_admin.set_wallet_pass_status(staff_id, wallet_pass_id, action, "やり直し", NOW + timedelta(minutes=1))
    listed = await member_pass_admin.member_wallet_passes(member.member_id)
    assert [(w["status"], w["actions"]) for w in listed] == [("revoked", [])]


async def test_a_member_is_found_by_id_or_by_member_number():
    member = await factories.member("つなぐ花子")
    by_id = await member_pass_admin.find_member(str(member.member_id))
    by_number = await member_pass_admin.find_member(member.member_no.lower())
    assert by_id["id"] == by_number["id"] == member.member_id
    assert by_id["display_name"] == "つなぐ花子"
    assert await member_pass_admin.find_member("TMK-999999") is None
    assert await member_pass_admin.find_member("") is None
