"""Membership rules without HTTP: the profile, member numbers, tiers, export and deletion."""

from datetime import date, timedelta

import pytest

from app.services.membership import data_export, erasure, login_sessions, membership, one_time_links
from app.services.membership.membership import ProfileInvalid
from app.services.shared import clock
from db.engine import is_unique_violation
from db.tables import Account, AreaFollow, Inquiry, InquiryMessage, LoginSession, Member, OneTimeToken, Passkey
from tests import factories

GOOD = {"display_name": "つなぐ太郎", "home_prefecture": "13", "ties": ["workation"], "consent": "2026-11-01", "terms": "2026-11-01"}


async def test_valid_profile_is_normalised():
    profile = await membership.validate_profile(
        {**GOOD, "email": "ＴＡＲＯ@Example.JP ", "display_name": "  つなぐ太郎 "}, require_consent=True
    )
    assert profile.email == "taro@example.jp"
    assert profile.display_name == "つなぐ太郎"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 31}, "display_name"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@" + "b" * 260 + ".jp"}, "email"),
        ({"home_prefecture": "48"}, "home_prefecture"),
        ({"ties": []}, "ties"),
        ({"ties": ["workation", "alien"]}, "ties"),
        ({"interests": ["golf-on-mars"]}, "interests"),
        ({"areas": ["not-a-number"]}, "areas"),
        ({"areas": ["424242"]}, "areas"),
        ({"areas": ["2147483648"]}, "areas"),
        ({"family_name_kana": "Yamada"}, "family_name_kana"),
        ({"family_name": "山" * 51}, "family_name"),
        ({"consent": "2020-01-01"}, "consent"),
        ({"terms": "2020-01-01"}, "terms"),
        ({"terms": ""}, "terms"),
    ],
)
async def test_each_bad_field_is_reported_next_to_itself(change, field):
    with pytest.raises(ProfileInvalid) as invalid:
        await membership.validate_profile({**GOOD, **change}, require_consent=True)
    assert field in invalid.value.errors
    assert invalid.value.errors[field]


async def test_profile_edit_does_not_ask_for_consent_again():
    data = {k: v for k, v in GOOD.items() if k != "consent"}
    assert (await membership.validate_profile(data, require_consent=False)).display_name == "つなぐ太郎"


async def test_member_numbers_carry_the_prefix_and_count_up():
    first = await factories.member("一人目")
    second = await factories.member("二人目")
    assert first.member_no == f"TMK-{first.member_id:06d}"
    assert second.member_no == f"TMK-{second.member_id:06d}"
    assert second.member_id > first.member_id


async def test_registration_records_both_consent_versions_ties_and_followed_areas():
    area_id = await factories.area()
    registered = await factories.member(ties=["furusato_tax", "migration"], area_ids=[area_id])
    row = await Member.select().where(Member.id == registered.member_id).first().output(load_json=True)
    assert row["consent_version"] == membership.PRIVACY_POLICY_VERSION
    assert row["terms_version"] == membership.TERMS_VERSION
    assert row["ties"] == ["furusato_tax", "migration"]
    assert row["tier"] == "basic"
    assert [a["id"] for a in await membership.followed_areas(registered.member_id)] == [area_id]


async def test_a_failed_registration_leaves_no_half_written_member():
    taken = factories.fake_passkey()
    await factories.member(email="", **{})
    await Passkey.update({Passkey.credential_id: taken.credential_id}).where(Passkey.id > 0)
    accounts_before = await Account.count()
    with pytest.raises(Exception) as refused:  # noqa: B017 - the engines raise different types
        await membership.register_member(
            membership.Profile(display_name="重複", home_prefecture="13", ties=["other"]),
            "handle-x", taken, "端末", "TMK",
        )
    assert is_unique_violation(refused.value)
    assert await Account.count() == accounts_before
    assert await Member.count() == 1


async def test_changing_email_clears_its_confirmation():
    registered = await factories.member(email="old@example.jp", verified=True)
    profile = membership.Profile(display_name="新しい名前", email="new@example.jp", home_prefecture="27", ties=["family"])
    assert await membership.update_profile(registered.account_id, profile) is True
    account = await Account.select().where(Account.id == registered.account_id).first()
    assert account["email"] == "new@example.jp"
    assert account["email_verified_at"] is None
    assert account["display_name"] == "新しい名前"


async def test_premium_tier_lapses_after_its_renewal_date():
    staff = await factories.staff_account()
    registered = await factories.member()
    today = clock.now().date()
    await membership.set_tier(staff, registered.member_id, "premium", today + timedelta(days=365))
    row = await Member.select().where(Member.id == registered.member_id).first()
    assert membership.effective_tier(row, today) == "premium"
    assert membership.effective_tier(row, today + timedelta(days=366)) == "basic"


async def test_setting_basic_clears_the_renewal_date():
    staff = await factories.staff_account()
    registered = await factories.member()
    await membership.set_tier(staff, registered.member_id, "premium", date(2030, 3, 31))
    await membership.set_tier(staff, registered.member_id, "basic", None)
    row = await Member.select().where(Member.id == registered.member_id).first()
    assert (row["tier"], row["premium_until"]) == ("basic", None)


async def test_staff_find_members_by_number_name_or_email_newest_first():
    taro = await factories.member("つなぐ太郎", email="taro@example.jp")
    hanako = await factories.member("つなぐ花子", email="hanako@example.jp")
    jiro = await factories.member("勇払次郎")
    assert await membership.member_count() == 3

    def ids(rows):
        return [row["id"] for row in rows]

    assert ids(await membership.search_members("", 50)) == [jiro.member_id, hanako.member_id, taro.member_id]
    assert ids(await membership.search_members("", 2)) == [jiro.member_id, hanako.member_id]
    assert ids(await membership.search_members("つなぐ", 50)) == [hanako.member_id, taro.member_id]
    assert ids(await membership.search_members("taro@", 50)) == [taro.member_id]
    assert ids(await membership.search_members(jiro.member_no, 50)) == [jiro.member_id]
    assert await membership.search_members("nobody", 50) == []
    row = (await membership.search_members("taro@", 50))[0]
    assert (row["account.display_name"], row["account.status"]) == ("つなぐ太郎", "active")


async def test_member_details_show_the_secretariat_the_account_behind_a_member():
    registered = await factories.member("つなぐ花子", email="hanako@example.jp", verified=True)
    member = await membership.member_details(registered.member_id)
    assert (member["member_no"], member["account.id"], member["account.display_name"], member["account.email"],
            member["account.status"]) == (registered.member_no, registered.account_id, "つなぐ花子", "hanako@example.jp", "active")
    assert member["account.email_verified_at"] is not None
    assert await membership.member_details(registered.member_id + 1) is None


async def test_export_contains_profile_areas_and_passkeys_but_no_secrets():
    area_id = await factories.area()
    registered = await factories.member(email="hanako@example.jp", area_ids=[area_id])
    data = await data_export.export_data(registered.account_id)
    assert data["member"]["member_no"] == registered.member_no
    assert data["followed_areas"] == ["勇払"]
    assert len(data["passkeys"]) == 1
    assert "public_key" not in data["passkeys"][0]
    assert "webauthn_user_id" not in data["account"]


async def test_export_covers_applications_passes_surveys_devices_and_inquiries_without_desk_notes():
    import os

    from cryptography.hazmat.primitives.asymmetric import ec

    from app.services.desk import threads
    from app.services.notify import push_subscriptions
    from app.services.surveys import responses
    from tests.push_service import Device

    area_id = await factories.area()
    registered = await factories.member(email="hanako@example.jp", area_ids=[area_id])
    program_id = await factories.program(area_id, title="ウトナイ湖の野鳥観察会")
    await factories.attendance(program_id, registered.member_id)
    pass_id = await factories.entry_pass()
    await factories.wallet_pass(registered.member_id, pass_id, clock.now())
    survey_id = await factories.open_survey([{"kind": "short", "text": "ひとこと", "required": False}],
                                            [registered.account_id], title="参加後アンケート")
    await responses.submit(survey_id, registered.account_id, {}, clock.now())
    device = Device("d", "https://fcm.googleapis.com/fcm/send/abc", ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
    await push_subscriptions.subscribe(registered.account_id, **device.subscription(), device_label="iPhone")
    asked = await factories.inquiry(registered.account_id, contact_method="app")
    staff = await factories.staff_account()
    await threads.add_note(asked["id"], staff, "内部メモ：電話済み")

    data = await data_export.export_data(registered.account_id)
    assert [a["program"] for a in data["applications"]] == ["ウトナイ湖の野鳥観察会"]
    assert [p["pass"] for p in data["wallet_passes"]] == ["苫小牧エントリーパス"]
    assert [s["survey"] for s in data["surveys_answered"]] == ["参加後アンケート"]
    assert [d["device_label"] for d in data["push_devices"]] == ["iPhone"]
    [inquiry] = data["inquiries"]
    assert inquiry["reference"] == asked["reference"]
    assert [m["kind"] for m in inquiry["messages"]] == ["asker"]  # the desk's note stays with the desk


async def test_deleting_an_account_forgets_who_asked_the_desk():
    registered = await factories.member(email="gone@example.jp")
    asked = await factories.inquiry(registered.account_id, phone="0144-00-0000")
    await erasure.delete_account(registered.account_id)
    row = await Inquiry.select().where(Inquiry.id == asked["id"]).first()
    assert (row["name"], row["email"], row["phone"]) == ("退会済み", "", "")
    assert await InquiryMessage.count().where(InquiryMessage.inquiry == asked["id"]) == 1


async def test_deleting_an_account_removes_personal_data_and_keeps_an_anonymous_tombstone():
    area_id = await factories.area()
    registered = await factories.member(
        "消える人", email="gone@example.jp", verified=True, family_name="山田", area_ids=[area_id]
    )
    await login_sessions.start(registered.account_id, "ua")
    await one_time_links.issue("recovery", registered.account_id, email="gone@example.jp")
    await erasure.delete_account(registered.account_id)
    account = await Account.select().where(Account.id == registered.account_id).first()
    assert account["status"] == "deleted"
    assert account["email"] is None
    assert account["display_name"] == "退会済み"
    member = await Member.select().where(Member.id == registered.member_id).first()
    assert member["family_name"] == ""
    assert member["home_prefecture"] == "13"  # kept for anonymous statistics
    assert await Passkey.count().where(Passkey.account == registered.account_id) == 0
    assert await LoginSession.count().where(LoginSession.account == registered.account_id) == 0
    assert await OneTimeToken.count().where(OneTimeToken.account == registered.account_id) == 0
    assert await AreaFollow.count() == 0


async def test_two_registrations_with_one_credential_at_once_make_one_member_and_nothing_half_written():
    import asyncio

    from app.services.membership.passkeys import new_user_handle
    from db.engine import is_unique_violation

    same = factories.fake_passkey()
    profile = membership.Profile(display_name="同時", home_prefecture="13", ties=["other"])
    results = await asyncio.gather(
        *[membership.register_member(profile, new_user_handle(), same, "端末", "TMK") for _ in range(2)],
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1 and is_unique_violation(failures[0])
    assert await Account.count() == 1
    assert await Member.count() == 1
