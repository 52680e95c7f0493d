"""The staff console: navigation by domain beside every staff page with what waits, the home's groups, the search."""

from __future__ import annotations

from tests import factories
from tests.conftest import log_in


async def test_staff_pages_carry_the_navigation_by_domain_with_what_waits(client, scene):
    await factories.inquiry()  # new, nobody has opened it
    await factories.program(scene.area, title="審査待ちの回", status="submitted")
    await log_in(client, scene.staff.account_id)
    page = (await client.get("/staff/shops")).text
    nav = page.split('data-testid="console-nav"')[1].split("</aside>")[0]
    for group in ("会員", "コンテンツと審査", "相談窓口", "設定と引き継ぎ"):
        assert group in nav, group
    assert 'aria-current="page" data-testid="console-nav-staff-shops"' in nav
    assert 'data-testid="console-nav-staff-inquiries-count">1<' in nav
    assert 'data-testid="console-nav-staff-moderation-count">1<' in nav
    assert 'class="has-console"' in page
    home = (await client.get("/staff")).text
    assert 'data-testid="attention-inquiries"' in home and 'data-testid="pending-count">1<' in home
    fragment = await client.get("/staff/shops", headers={"HX-Request": "true", "HX-Target": "x"})
    assert 'data-testid="console-nav"' not in fragment.text or "<html" in fragment.text


async def test_premium_applications_have_their_own_count_and_their_own_current_item(client, scene):
    await factories.premium_application((await factories.member("申請 花子")).member_id)
    await log_in(client, scene.staff.account_id)
    queue = (await client.get("/staff/moderation")).text.split('data-testid="console-nav"')[1].split("</aside>")[0]
    assert 'data-testid="console-nav-staff-premium-count">1<' in queue
    assert "console-nav-staff-moderation-count" not in queue  # nothing else waits for review
    assert 'aria-current="page" data-testid="console-nav-staff-moderation"' in queue
    premium = (await client.get("/staff/moderation?kind=premium")).text
    nav = premium.split('data-testid="console-nav"')[1].split("</aside>")[0]
    assert 'href="/staff/moderation?kind=premium" aria-current="page" data-testid="console-nav-staff-premium"' in nav
    assert 'aria-current="page" data-testid="console-nav-staff-moderation"' not in nav
    assert "申請 花子" in premium
    home = (await client.get("/staff")).text
    assert 'data-testid="attention-premium"' in home and "attention-review" not in home


async def test_an_editor_gets_their_own_menu_and_members_and_visitors_none(client, scene):
    await log_in(client, scene.editor.account_id)
    nav = (await client.get("/editor/programs")).text.split('data-testid="console-nav"')[1].split("</aside>")[0]
    assert "console-nav-editor-programs" in nav and "console-nav-staff-members" not in nav
    assert "console-search" not in nav  # the search is the secretariat's
    member = await factories.member("つなぐ花子")
    await log_in(client, member.account_id)
    assert 'data-testid="console-nav"' not in (await client.get("/account")).text
    client.cookies.clear()
    assert 'data-testid="console-nav"' not in (await client.get("/")).text


async def test_the_search_finds_a_member_an_inquiry_and_a_program(client, scene):
    member = await factories.member("苫小牧 はるか")
    inquiry = await factories.inquiry(name="苫小牧 はるか")
    await factories.program(scene.area, title="苫小牧の港で朝市体験")
    await log_in(client, scene.staff.account_id)
    found = (await client.get("/staff/search", params={"q": "苫小牧"})).text
    assert f'href="/staff/members/{member.member_id}"' in found
    assert inquiry["reference"] in found and "苫小牧の港で朝市体験" in found
    assert "3件見つかりました" in found
    by_reference = (await client.get("/staff/search", params={"q": inquiry["reference"].lower()})).text
    assert by_reference.count('data-testid="search-inquiry"') == 1


async def test_the_search_takes_anything_typed(client, scene):
    await log_in(client, scene.staff.account_id)
    for q in ("", "   ", "%", "_", "\\", "x" * 500, "'; DROP TABLE member; --", "ｔｏｍａ"):
        response = await client.get("/staff/search", params={"q": q})
        assert response.status_code == 200, q
    assert 'data-testid="search-empty"' in (await client.get("/staff/search", params={"q": "%"})).text
    member = await factories.member("一郎")
    await log_in(client, member.account_id)
    assert (await client.get("/staff/search", params={"q": "一郎"})).status_code == 403
