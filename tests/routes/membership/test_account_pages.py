"""A member's own pages: card, profile, devices, data download, deletion."""

import json

from app.services.membership import login_sessions
from db.tables import Account, LoginSession, Member
from tests import factories
from tests.conftest import log_in


async def test_card_shows_name_number_and_a_qr_code(client):
    member = await factories.member("つなぐ花子")
    await log_in(client, member.account_id)
    response = await client.get("/card")
    assert response.status_code == 200
    assert member.member_no in response.text
    assert "つなぐ花子" in response.text
    assert '<svg role="img" aria-label="会員証のQRコード" class="qr"' in response.text
    assert "data-live-clock" in response.text
    # Kept by the service worker for offline use, so not no-store.
    assert response.headers["cache-control"] == "no-cache"


async def test_card_shows_premium_only_until_renewal(client):
    staff = await factories.staff_account()
    member = await factories.member()
    from datetime import date, timedelta

    from app.services.membership import membership

    await membership.set_tier(staff, member.member_id, "premium", date.today() + timedelta(days=30))
    await log_in(client, member.account_id)
    assert "プレミアムふるさと住民" in (await client.get("/card")).text


async def test_profile_edit_saves_and_reports_bad_fields(client):
    member = await factories.member("旧名")
    await log_in(client, member.account_id)
    page = await client.get("/account/profile")
    assert 'value="旧名"' in page.text
    bad = await client.submit("/account/profile", {"display_name": "", "home_prefecture": "13", "ties": ["family"]})
    assert bad.status_code == 422
    assert 'data-testid="error-display_name"' in bad.text
    good = await client.submit(
        "/account/profile",
        {"display_name": "新名", "home_prefecture": "01", "ties": ["family", "migration"], "home_municipality": "札幌市"},
        follow_redirects=True,
    )
    assert "保存しました" in good.text
    row = await Member.select().where(Member.id == member.member_id).first().output(load_json=True)
    assert (row["home_prefecture"], row["ties"]) == ("01", ["family", "migration"])


async def test_download_my_data_is_json_in_japanese(client):
    member = await factories.member("つなぐ花子")
    await log_in(client, member.account_id)
    response = await client.get("/account/data")
    assert response.headers["content-disposition"].startswith("attachment")
    data = json.loads(response.content.decode("utf-8"))
    assert data["account"]["display_name"] == "つなぐ花子"
    assert "つなぐ花子" in response.content.decode("utf-8")  # not \u escapes


async def test_member_sees_devices_and_ends_the_others(client):
    member = await factories.member()
    await login_sessions.start(member.account_id, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/604.1")
    await log_in(client, member.account_id)
    page = await client.get("/account/sessions")
    assert page.text.count('data-testid="session-row"') == 2
    assert "iPhone" in page.text
    await client.submit("/account/sessions/end-others")
    assert await LoginSession.count().where(LoginSession.account == member.account_id) == 1
    assert (await client.get("/account/sessions")).status_code == 200


async def test_a_member_cannot_end_someone_elses_session(client):
    other = await factories.member("他人")
    await login_sessions.start(other.account_id, "ua")
    theirs = await LoginSession.select(LoginSession.id).where(LoginSession.account == other.account_id).first()
    me = await factories.member("自分")
    await log_in(client, me.account_id)
    await client.submit(f"/account/sessions/{theirs['id']}/end")
    assert await LoginSession.count().where(LoginSession.account == other.account_id) == 1


async def test_deleting_needs_the_tick_and_then_logs_out(client):
    member = await factories.member()
    await log_in(client, member.account_id)
    refused = await client.submit("/account/delete", {})
    assert refused.status_code == 422
    assert (await Account.select().where(Account.id == member.account_id).first())["status"] == "active"
    done = await client.submit("/account/delete", {"confirm": "delete"}, follow_redirects=True)
    assert str(done.url).endswith("/account/deleted")
    assert 'data-forget-pages' in done.text
    assert (await Account.select().where(Account.id == member.account_id).first())["status"] == "deleted"
    assert (await client.get("/card", follow_redirects=False)).status_code == 303


async def test_logout_ends_the_session_on_the_server(client):
    member = await factories.member()
    token = await log_in(client, member.account_id)
    response = await client.submit("/logout", follow_redirects=True)
    assert 'data-forget-pages' in response.text
    assert await login_sessions.resolve(token) is None


async def test_renaming_a_passkey_checks_length_and_owner(client):
    from db.tables import Passkey

    member = await factories.member()
    other = await factories.member("他人")
    await log_in(client, member.account_id)
    mine = await Passkey.select(Passkey.id).where(Passkey.account == member.account_id).first()
    theirs = await Passkey.select(Passkey.id).where(Passkey.account == other.account_id).first()
    await client.submit(f"/account/passkeys/{mine['id']}/rename", {"name": "仕事用iPhone"})
    await client.submit(f"/account/passkeys/{theirs['id']}/rename", {"name": "乗っ取り"})
    too_long = await client.submit(f"/account/passkeys/{mine['id']}/rename", {"name": "x" * 61}, follow_redirects=True)
    assert "60文字以内" in too_long.text
    names = {row["account"]: row["name"] for row in await Passkey.select(Passkey.account, Passkey.name)}
    assert names[member.account_id] == "仕事用iPhone"
    assert names[other.account_id] != "乗っ取り"


async def test_the_withdrawal_page_says_what_was_deleted_and_what_stays(client):
    page = await client.get("/account/deleted")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert 'data-testid="account-deleted"' in page.text and "data-forget-pages" in page.text
    english = await client.get("/account/deleted", headers={"Accept-Language": "en"})
    assert "Your account was deleted" in english.text
    assert "What was deleted" in english.text and "What stays" in english.text


async def test_the_account_page_explains_the_data_download(client):
    member = await factories.member()
    await log_in(client, member.account_id)
    page = await client.get("/account", headers={"Accept-Language": "en"})
    explained = page.text.split('data-testid="my-data"')[1].split("</section>")[0]
    assert "JSON (UTF-8)" in explained
    assert 'href="/account/data"' in explained
