"""The staff inbox: its filters, inquiries that have waited long, and the CSV export's rows."""

from __future__ import annotations

from datetime import timedelta

from app.services.desk import inbox, threads
from app.services.desk.inbox import InboxFilter
from app.services.shared import clock
from tests import factories
from tests.services.desk.helpers import staff_member


async def test_the_inbox_filters_by_status_category_assignee_and_search():
    sato, suzuki = await staff_member("事務局 佐藤"), await staff_member("事務局 鈴木")
    housing = await factories.inquiry(name="住まい 太郎", email="taro@example.jp", category="housing",
                                      message="空き家バンクの物件は見学できますか。")
    work = await factories.inquiry(name="仕事 次郎", email="jiro@example.jp", category="work")
    closed = await factories.inquiry(name="完了 三郎", email="saburo@example.jp")
    await threads.assign(housing["id"], sato, sato)
    await threads.assign(work["id"], sato, suzuki)
    await threads.set_status(closed["id"], sato, "closed")

    async def names(**filters) -> list[str]:
        return [r["name"] for r in await inbox.inbox(InboxFilter(**filters), sato)]

    assert await names() == ["住まい 太郎", "仕事 次郎"]  # open ones, oldest first
    assert await names(sort="newest", status="all") == ["完了 三郎", "仕事 次郎", "住まい 太郎"]
    assert await names(status="closed") == ["完了 三郎"]
    assert await names(category="housing") == ["住まい 太郎"]
    assert await names(assignee="mine") == ["住まい 太郎"]
    assert await names(assignee=str(suzuki)) == ["仕事 次郎"]
    assert await names(assignee="unassigned", status="all") == ["完了 三郎"]
    assert await names(q="空き家バンク") == ["住まい 太郎"]
    assert await names(q=work["reference"].lower()) == ["仕事 次郎"]
    assert await names(q="JIRO@") == ["仕事 次郎"]
    assert await names(q="100%_") == []
    assert await names(status="nonsense", category="nonsense", assignee="x", sort="x") == ["住まい 太郎", "仕事 次郎"]
    counts = await inbox.status_counts()
    assert (counts["new"], counts["closed"], counts["open"]) == (2, 1, 2)


async def test_old_inquiries_waiting_on_the_desk_stand_out():
    sato = await staff_member()
    start = clock.now()
    created = await factories.inquiry()
    row = lambda now: inbox.inbox(InboxFilter(), sato, now=now)  # noqa: E731
    assert (await row(start + timedelta(days=3)))[0]["age_level"] == ""
    assert (await row(start + timedelta(days=3, hours=1)))[0]["age_level"] == "amber"
    assert (await row(start + timedelta(days=8)))[0]["age_level"] == "red"
    await threads.reply(created["id"], sato, "回答です", "email", "waiting", factories.desk_post())
    assert (await row(start + timedelta(days=8)))[0]["age_level"] == ""  # the asker's turn


async def test_the_export_has_contact_details_and_the_question_but_no_internal_notes():
    sato = await staff_member()
    created = await factories.inquiry(phone="0144-32-6111")
    await threads.add_note(created["id"], sato, "社外秘のメモ")
    [row] = await inbox.export_rows(InboxFilter(status="all"), sato)
    assert row["reference"] == created["reference"] and row["phone"] == "0144-32-6111"
    assert row["first_message"] == "夏の間だけ苫小牧で暮らすことはできますか。" and row["messages"] == 1
