"""An invitee opens the link, gives a name, makes a passkey and lands logged in with the invited role."""

from app.services.membership import one_time_links
from db.tables import Account
from tests import factories
from tests.authenticator import SoftwareAuthenticator
from tests.passkey_client import create_passkey, log_in, log_out


async def accept(client, token: str, name: str, device: SoftwareAuthenticator):
    form = await client.submit(f"/invite/{token}", {"display_name": name}, follow_redirects=False)
    assert form.headers["location"] == "/passkeys/new"
    return await create_passkey(client, device)


async def test_each_role_enrols_with_its_scope_and_lands_on_its_start_page(client):
    staff = await factories.staff_account()
    area_id = await factories.area()
    shop_id = await factories.shop()
    cases = [
        ("staff", {}, "/staff", {}),
        ("editor", {"area_id": area_id}, "/editor/programs", {"area": area_id}),
        ("shop", {"shop_id": shop_id}, "/shop", {"shop": shop_id}),
    ]
    for role, scope, landing, stored in cases:
        client.cookies.clear()
        client.csrf_token = ""
        token = await one_time_links.create_invitation(role, staff, **scope)
        device = SoftwareAuthenticator()
        response = await accept(client, token, f"{role}の人", device)
        assert response.status_code in (200, 201), response.text
        assert response.json()["redirect"] == landing
        account = await Account.select().where(Account.display_name == f"{role}の人").first()
        assert account["role"] == role
        assert {key: account[key] for key in stored} == stored
        # The passkey made here logs the invitee in again later.
        await log_out(client)
        again = await log_in(client, device)
        assert again.json()["redirect"] == landing


async def test_an_invitation_used_while_the_passkey_step_was_open_is_refused(client):
    token = await one_time_links.create_invitation("staff", None)
    form = await client.submit(f"/invite/{token}", {"display_name": "遅れた人"}, follow_redirects=False)
    assert form.status_code == 303
    await one_time_links.accept_invitation(token, "先に使った人", "handle", factories.fake_passkey())
    response = await create_passkey(client, SoftwareAuthenticator())
    assert response.status_code == 410
    assert response.json()["code"] == "invitation_used"
    assert await Account.count().where(Account.display_name == "遅れた人") == 0


async def test_a_member_cannot_open_staff_pages_even_after_an_editor_invitation_elsewhere(client):
    member = await factories.member()
    from tests.conftest import log_in as session_for

    await session_for(client, member.account_id)
    page = await client.get("/staff")
    assert page.status_code == 403
    assert "このページは表示できません" in page.text
