"""The desk's year in figures for the report: by channel, subject and status, answered, the median wait for the
first answer, and what is still open; only the year's inquiries count."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.services.dashboard import tables
from app.services.desk import threads
from app.services.desk.figures import desk_figures
from db.tables import Inquiry, InquiryMessage
from tests import factories

START = datetime(2026, 3, 31, 15, 0, tzinfo=timezone.utc)  # 1 April 2026, 00:00 in Japan
END = datetime(2027, 3, 31, 15, 0, tzinfo=timezone.utc)


async def inquiry(created: datetime, *, channel="web", category="migration", status="new", reply_after=None) -> int:
    row = await factories.inquiry(category=category)
    await Inquiry.update({Inquiry.created_at: created, Inquiry.channel: channel, Inquiry.status: status}).where(
        Inquiry.id == row["id"])
    if reply_after is not None:
        await InquiryMessage(inquiry=row["id"], kind="reply", body="お答えします。", created_at=created + reply_after).save()
        await InquiryMessage(inquiry=row["id"], kind="reply", body="追って。", created_at=created + reply_after * 3).save()
    return row["id"]


async def test_the_years_inquiries_are_counted_by_channel_subject_and_status_with_the_median_wait():
    may = datetime(2026, 5, 1, 1, 0, tzinfo=timezone.utc)
    await inquiry(may, channel="web", reply_after=timedelta(hours=2), status="closed")
    await inquiry(may, channel="phone", category="housing", reply_after=timedelta(hours=6), status="waiting")
    await inquiry(may, channel="mail", reply_after=timedelta(hours=30), status="closed")
    await inquiry(may, channel="web", category="work")  # not answered yet
    await inquiry(START - timedelta(minutes=1), reply_after=timedelta(hours=1))  # the year before
    figures = await desk_figures(START, END)
    assert (figures.total, figures.answered, figures.median_hours_to_first_answer, figures.still_open) == (4, 3, 6.0, 2)
    assert dict(figures.by_channel) == {"web": 2, "phone": 1, "mail": 1, "survey": 0}
    assert dict(figures.by_category)["migration"] == 2 and dict(figures.by_category)["housing"] == 1
    assert dict(figures.by_status) == {"new": 1, "in_progress": 0, "waiting": 1, "closed": 2}


async def test_a_year_without_inquiries_has_no_median_and_the_tables_still_read():
    figures = await desk_figures(START, END)
    assert (figures.total, figures.median_hours_to_first_answer) == (0, None)
    assert "desk" in tables.TABLE_KEYS and "desk_channels" in tables.TABLE_KEYS


async def test_a_mail_sorted_by_staff_counts_under_its_new_category():
    may = datetime(2026, 5, 1, 1, 0, tzinfo=timezone.utc)
    sorted_later = await inquiry(may, channel="mail", category="other")
    await inquiry(may, channel="mail", category="other")
    await Inquiry.update({Inquiry.category: "mail"}).where(Inquiry.channel == "mail")
    staff = await factories.staff_account()
    await threads.set_category(sorted_later, staff, "childcare")
    by_category = dict((await desk_figures(START, END)).by_category)
    assert (by_category["childcare"], by_category["mail"]) == (1, 1)
