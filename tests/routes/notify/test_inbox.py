"""The in-app inbox: what the app tells a person stays there until read."""

from app.services.notify import notices
from tests import factories
from tests.conftest import log_in


async def test_notices_appear_newest_first_and_can_be_marked_read(client):
    member = await factories.member()
    await notices.notify(member.account_id, "最初のお知らせ")
    await notices.notify(member.account_id, "繰り上げ参加が決まりました", "キャンセル待ちから参加が確定しました。", "/programs")
    await log_in(client, member.account_id)
    page = await client.get("/inbox")
    assert page.text.index("繰り上げ参加が決まりました") < page.text.index("最初のお知らせ")
    assert page.text.count("notice-unread") == 2
    assert await notices.unread_count(member.account_id) == 2
    await client.submit("/inbox/read")
    assert await notices.unread_count(member.account_id) == 0
    assert "notice-unread" not in (await client.get("/inbox")).text


async def test_the_bottom_bar_counts_unread_notices_on_every_page(client):
    member = await factories.member()
    await log_in(client, member.account_id)
    assert 'data-testid="unread-count"' not in (await client.get("/card")).text
    for n in range(3):
        await notices.notify(member.account_id, f"お知らせ{n}")
    card = (await client.get("/card")).text
    badge = card.split('data-testid="unread-count"')[1].split("</span></a>")[0]
    assert badge.endswith("3") and "未読" in badge
    assert card.index('href="/inbox"') < card.index('data-testid="unread-count"')
    fragment = await client.get("/programs", headers={"HX-Request": "true"})
    assert 'data-testid="unread-count"' not in fragment.text  # a fragment has no bottom bar and costs no count
    await client.submit("/inbox/read")
    assert 'data-testid="unread-count"' not in (await client.get("/account")).text


async def test_an_empty_inbox_explains_what_will_arrive(client):
    member = await factories.member()
    await log_in(client, member.account_id)
    assert "お知らせはまだありません" in (await client.get("/inbox")).text


async def test_a_notice_for_nobody_is_dropped_quietly():
    await notices.notify(None, "宛先なし")
