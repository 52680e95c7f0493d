"""The secretariat's account pages: invitations for each role, members, tiers, desk recovery, card checks."""

import re

from app.services.shared.signed_tokens import TokenSigner
from db.tables import AuditLog, Invitation, Member
from tests import factories
from tests.conftest import log_in


async def staff_client(client):
    await log_in(client, await factories.staff_account())
    return client


async def test_staff_invites_each_role_and_gets_a_link_with_a_qr(client):
    await staff_client(client)
    area_id = await factories.area()
    shop_id = await factories.shop()
    for form in ({"role": "staff"}, {"role": "editor", "area": str(area_id)}, {"role": "shop", "shop": str(shop_id)}):
        response = await client.submit("/staff/invitations", {**form, "note": "テスト"})
        assert response.status_code == 200, form
        link = re.search(r'data-testid="invitation-link"', response.text)
        assert link and '<svg role="img"' in response.text
        path = re.search(r'value="http://localhost:8000(/invite/[^"]+)"', response.text).group(1)
        landing = await client.get(path)
        assert landing.status_code == 200
        assert 'data-testid="invite-role"' in landing.text
    assert await Invitation.count() == 3


async def test_invitation_without_its_scope_is_refused(client):
    await staff_client(client)
    for form in ({"role": "editor"}, {"role": "shop", "shop": "999"}, {"role": "emperor"}):
        response = await client.submit("/staff/invitations", form)
        assert response.status_code == 422, form
        assert 'data-testid="invitation-error"' in response.text
    assert await Invitation.count() == 0


async def test_invitee_name_is_checked_before_the_passkey_step(client):
    from app.services.membership import one_time_links

    token = await one_time_links.create_invitation("staff", None)
    refused = await client.submit(f"/invite/{token}", {"display_name": ""})
    assert refused.status_code == 422
    accepted = await client.submit(f"/invite/{token}", {"display_name": "事務局 高橋"}, follow_redirects=False)
    assert accepted.headers["location"] == "/passkeys/new"


async def test_an_unknown_invitation_shows_a_clear_page(client):
    response = await client.get("/invite/not-a-real-token")
    assert response.status_code == 410
    assert "この招待リンクは使えません" in response.text


async def test_members_list_searches_by_name_and_number(client):
    await staff_client(client)
    hanako = await factories.member("つなぐ花子")
    await factories.member("港太郎")
    page = await client.get("/staff/members", params={"q": "花子"})
    assert page.text.count('data-testid="member-row"') == 1
    fragment = await client.get("/staff/members", params={"q": hanako.member_no}, headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="member-rows">') and "<html" not in fragment.text
    assert hanako.member_no in fragment.text


async def test_members_list_orders_by_a_column_and_goes_page_by_page(client, monkeypatch):
    monkeypatch.setattr("app.routes.membership.staff.MEMBERS_PAGE", 2)
    await staff_client(client)
    for name in ("う 三郎", "あ 一郎", "い 二郎"):
        await factories.member(name)

    def names(text: str) -> list[str]:
        return re.findall(r'<td>([あいう] [^<]+)</td>', text)

    newest = await client.get("/staff/members")
    assert names(newest.text) == ["い 二郎", "あ 一郎"] and 'data-testid="page-next"' in newest.text
    assert 'data-testid="page-previous"' not in newest.text
    by_name = await client.get("/staff/members", params={"order": "name"})
    assert names(by_name.text) == ["あ 一郎", "い 二郎"] and 'aria-sort="ascending"' in by_name.text
    second = await client.get("/staff/members", params={"order": "name", "page": "2"})
    assert names(second.text) == ["う 三郎"] and 'data-testid="page-next"' not in second.text
    assert 'href="/staff/members?order=name"' in second.text  # previous: the first page, its number left out
    for order, page in (("nonsense", "1"), ("name", "0"), ("name", "99999"), ("name", "-1"), ("name", "２")):
        response = await client.get("/staff/members", params={"order": order, "page": page})
        assert response.status_code == 200, (order, page)


async def test_tier_form_checks_the_renewal_date_and_logs_the_change(client):
    await staff_client(client)
    member = await factories.member()
    path = f"/staff/members/{member.member_id}/tier"
    for form in ({"tier": "premium", "premium_until": ""}, {"tier": "premium", "premium_until": "2001-01-01"},
                 {"tier": "gold"}, {"tier": "premium", "premium_until": "31/03/2027"}):
        response = await client.submit(path, form)
        assert response.status_code == 422, form
    ok = await client.submit(path, {"tier": "premium", "premium_until": "2099-03-31"}, follow_redirects=True)
    assert "区分を更新しました" in ok.text
    row = await Member.select().where(Member.id == member.member_id).first()
    assert row["tier"] == "premium"
    assert await AuditLog.count().where(AuditLog.action == "member.tier") == 1


async def test_desk_recovery_shows_a_one_time_qr(client):
    await staff_client(client)
    member = await factories.member()
    response = await client.submit(f"/staff/members/{member.member_id}/recovery")
    assert 'data-testid="desk-recovery-qr"' in response.text
    path = re.search(r'value="http://localhost:8000(/recover/[^"]+)"', response.text).group(1)
    client.cookies.clear()
    assert (await client.get(path)).status_code == 200
    assert (await client.get(path)).status_code == 410


async def test_unknown_member_is_a_404_page(client):
    await staff_client(client)
    assert (await client.get("/staff/members/424242")).status_code == 404


async def test_card_check_accepts_a_real_card_and_explains_a_refusal(client, settings):
    await staff_client(client)
    member = await factories.member("つなぐ花子")
    from datetime import datetime, timedelta, timezone

    signer = TokenSigner(settings.signing_key)
    token = signer.sign("card", member.member_id, datetime.now(timezone.utc) + timedelta(days=1))
    ok = await client.get("/cards/verify", params={"code": token})
    assert 'data-testid="verify-ok"' in ok.text and "つなぐ花子" in ok.text
    expired = signer.sign("card", member.member_id, datetime.now(timezone.utc) - timedelta(minutes=1))
    for code, words in ((expired, "期限切れ"), ("HELLO", "読み取れません"), (token[:-6] + "AAAAAA", "発行したものではありません")):
        response = await client.get("/cards/verify", params={"code": code})
        assert 'data-testid="verify-refused"' in response.text, code
        assert words in response.text, code


async def test_an_erased_member_reads_as_a_former_member_in_the_page_language(client):
    from app.services.membership import erasure

    await staff_client(client)
    gone = await factories.member("去る人")
    await erasure.delete_account(gone.account_id)
    japanese = await client.get("/staff/members", params={"q": gone.member_no})
    client.cookies.set("lang", "en")
    english = await client.get("/staff/members", params={"q": gone.member_no})
    assert "<td>退会済み</td>" in japanese.text
    assert "<td>Former member</td>" in english.text and "退会済み" not in english.text
