"""The in-app inbox: what the app tells a person stays there until read."""

import re

from app.services.membership import login_sessions
from app.services.notify import notices
from db.tables import Notice
from tests import factories
from tests.conftest import log_in


async def test_notices_appear_newest_first_and_can_be_marked_read(client):
    member = await factories.member()
    await notices.notify(member.account_id, "最初のお知らせ")
    await notices.notify(member.account_id, "繰り上げ参加が決まりました", "キャンセル待ちから参加が確定しました。", "/programs")
    token = await log_in(client, member.account_id)
    page = await client.get("/inbox")
    assert page.text.index("繰り上げ参加が決まりました") < page.text.index("最初のお知らせ")
    assert page.text.count("notice-unread") == 2
    assert (await login_sessions.resolve(token)).unread == 2
    await client.submit("/inbox/read")
    assert (await login_sessions.resolve(token)).unread == 0
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


async def test_the_count_comes_with_the_logins_lookup_not_a_statement_of_its_own(client):
    """Every page rendered for a member shows the count: it rides on the lookup each logged-in page starts with."""
    member = await factories.member()
    await notices.notify(member.account_id, "お知らせ")
    await log_in(client, member.account_id)
    engine = Notice._meta.db
    sent: list[str] = []
    run = engine.run_querystring

    async def recording(querystring, *args, **kwargs):
        sent.append(str(querystring))
        return await run(querystring, *args, **kwargs)

    engine.run_querystring = recording
    try:
        card = await client.get("/card")
    finally:
        del engine.run_querystring
    assert re.search(r'data-testid="unread-count">.*?</span>1</span>', card.text)
    assert sent, "nothing recorded"
    # (On PostgreSQL the lookup itself goes straight to the connection, db/engine.py fetch, and is not recorded here.)
    counting_apart = [sql for sql in sent if re.search(r'\bFROM\s+"?notice\b', sql) and "login_session" not in sql]
    assert not counting_apart, counting_apart
