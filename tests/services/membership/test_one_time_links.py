"""Single-use links: e-mail confirmation, recovery, invitations. Each works once, in time, for its purpose."""

import asyncio
from datetime import timedelta

import pytest

from app.services.membership import one_time_links
from app.services.shared import clock
from db.tables import Account, AuditLog, Invitation
from tests import factories
from tests.factories import fake_passkey


@pytest.fixture
def later(monkeypatch):
    """Move the clock forward."""

    def move(delta: timedelta):
        moved = clock.now() + delta
        monkeypatch.setattr(clock, "now", lambda: moved)

    return move


async def test_confirmation_link_confirms_the_address_once():
    registered = await factories.member(email="taro@example.jp")
    token = await one_time_links.issue("confirm_email", registered.account_id, email="taro@example.jp")
    assert await one_time_links.confirm_email(token) is True
    assert await one_time_links.confirm_email(token) is False
    account = await Account.select().where(Account.id == registered.account_id).first()
    assert account["email_verified_at"] is not None


async def test_confirmation_link_for_an_old_address_confirms_nothing():
    registered = await factories.member(email="old@example.jp")
    token = await one_time_links.issue("confirm_email", registered.account_id, email="old@example.jp")
    await Account.update({Account.email: "new@example.jp"}).where(Account.id == registered.account_id)
    assert await one_time_links.confirm_email(token) is False


async def test_recovery_link_expires_after_fifteen_minutes(later):
    registered = await factories.member(email="taro@example.jp", verified=True)
    token = await one_time_links.issue("recovery", registered.account_id)
    later(timedelta(minutes=16))
    assert await one_time_links.use(token, "recovery") is None


async def test_a_link_is_only_good_for_its_own_purpose():
    registered = await factories.member(email="taro@example.jp")
    token = await one_time_links.issue("confirm_email", registered.account_id, email="taro@example.jp")
    assert await one_time_links.use(token, "recovery") is None


async def test_a_link_opened_twice_at_once_works_once():
    registered = await factories.member(email="taro@example.jp", verified=True)
    token = await one_time_links.issue("recovery", registered.account_id)
    results = await asyncio.gather(*[one_time_links.use(token, "recovery") for _ in range(8)])
    assert sum(r is not None for r in results) == 1


@pytest.mark.parametrize("token", ["", "x" * 200, "nonexistent"])
async def test_unknown_or_absurd_tokens_are_simply_not_found(token):
    assert await one_time_links.use(token, "recovery") is None
    assert await one_time_links.peek_invitation(token) is None


async def test_recovery_is_offered_only_for_a_confirmed_address_of_an_active_account():
    await factories.member("未確認", email="unconfirmed@example.jp")
    confirmed = await factories.member("確認済み", email="ok@example.jp", verified=True)
    assert await one_time_links.recovery_account_for_email("unconfirmed@example.jp") is None
    assert await one_time_links.recovery_account_for_email(" OK@example.jp ") == confirmed.account_id
    assert await one_time_links.recovery_account_for_email("nobody@example.jp") is None


async def test_a_recovery_link_gives_its_account_once():
    registered = await factories.member("花子", email="hanako@example.jp", verified=True)
    token = await one_time_links.issue("recovery", registered.account_id)
    account = await one_time_links.use_recovery(token)
    assert (account["id"], account["display_name"], account["email"]) == (registered.account_id, "花子", "hanako@example.jp")
    assert account["webauthn_user_id"]
    assert await one_time_links.use_recovery(token) is None


async def test_a_recovery_link_of_a_deleted_account_is_used_up_and_gives_nothing():
    registered = await factories.member(email="hanako@example.jp", verified=True)
    token = await one_time_links.issue("recovery", registered.account_id)
    await Account.update({Account.status: "deleted"}).where(Account.id == registered.account_id)
    assert await one_time_links.use_recovery(token) is None
    assert await one_time_links.use(token, "recovery") is None


async def test_an_invitation_form_names_what_is_missing():
    area_id = await factories.area()
    shop_id = await factories.shop()
    assert await one_time_links.invitation_problem("staff", None, None) == ""
    assert await one_time_links.invitation_problem("editor", area_id, None) == ""
    assert await one_time_links.invitation_problem("shop", None, shop_id) == ""
    assert await one_time_links.invitation_problem("member", None, None) == "role"
    assert await one_time_links.invitation_problem("editor", None, None) == "area"
    assert await one_time_links.invitation_problem("editor", area_id + 1, None) == "area"
    assert await one_time_links.invitation_problem("shop", None, None) == "shop"
    assert await one_time_links.invitation_problem("shop", None, shop_id + 1) == "shop"


async def test_an_invitation_creates_an_account_with_its_role_and_scope_once():
    staff = await factories.staff_account()
    area_id = await factories.area()
    token = await one_time_links.create_invitation("editor", staff, area_id=area_id, note="勇払の担当")
    assert (await one_time_links.peek_invitation(token))["area.name"] == "勇払"
    enrolled = await one_time_links.accept_invitation(token, "編集 鈴木", "handle-1", fake_passkey())
    assert enrolled.role == "editor"
    account = await Account.select().where(Account.id == enrolled.account_id).first()
    assert (account["role"], account["area"]) == ("editor", area_id)
    assert await one_time_links.accept_invitation(token, "二度目", "handle-2", fake_passkey()) is None
    assert await Account.count().where(Account.display_name == "二度目") == 0
    assert {row["action"] for row in await AuditLog.select(AuditLog.action)} == {"invitation.create", "invitation.accept"}


async def test_an_expired_invitation_creates_nothing(later):
    token = await one_time_links.create_invitation("staff", None)
    later(timedelta(days=8))
    assert await one_time_links.peek_invitation(token) is None
    assert await one_time_links.accept_invitation(token, "遅刻", "handle-3", fake_passkey()) is None
    assert await Account.count() == 0


@pytest.mark.parametrize(
    ("role", "scope"),
    [("editor", {}), ("shop", {}), ("staff", {"area_id": 1}), ("member", {}), ("root", {})],
)
async def test_an_invitation_needs_a_valid_role_and_the_right_scope(role, scope):
    with pytest.raises(ValueError):
        await one_time_links.create_invitation(role, None, **scope)
    assert await Invitation.count() == 0


async def test_desk_recovery_is_audited():
    staff = await factories.staff_account()
    registered = await factories.member()
    token = await one_time_links.issue_desk_recovery(registered.account_id, staff)
    assert (await one_time_links.use(token, "recovery"))["account"] == registered.account_id
    log = await AuditLog.select().where(AuditLog.action == "account.desk_recovery").first()
    assert log["actor"] == staff
