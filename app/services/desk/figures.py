"""The consultation desk's year in figures, for the yearly report (seed 004 §4(1)): how many inquiries came by
which channel, about what, where they stand, and how long askers waited for the desk's first answer."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from app.services.desk.common import CATEGORIES, CHANNELS, OPEN_STATUSES, STATUSES
from db.tables import Inquiry, InquiryMessage


@dataclass(frozen=True)
class DeskFigures:
    total: int
    by_channel: tuple[tuple[str, int], ...]  # (code, inquiries), in CHANNELS' order, every channel listed
    by_category: tuple[tuple[str, int], ...]
    by_status: tuple[tuple[str, int], ...]  # where the year's inquiries stand now
    answered: int  # of them, answered by the desk at least once
    median_hours_to_first_answer: float | None  # from the inquiry to the desk's first reply, in hours
    still_open: int  # of them, not closed yet


async def desk_figures(start: datetime, end: datetime) -> DeskFigures:
    """The inquiries that reached the desk in [start, end)."""
    inquiries = await Inquiry.select(Inquiry.id, Inquiry.channel, Inquiry.category, Inquiry.status,
                                     Inquiry.created_at).where((Inquiry.created_at >= start) & (Inquiry.created_at < end))
    first_reply: dict[int, datetime] = {}
    if inquiries:
        replies = await InquiryMessage.select(InquiryMessage.inquiry, InquiryMessage.created_at).where(
            (InquiryMessage.kind == "reply") & InquiryMessage.inquiry.is_in([row["id"] for row in inquiries])
        ).order_by(InquiryMessage.created_at)
        for reply in replies:
            first_reply.setdefault(reply["inquiry"], reply["created_at"])
    waits = [(first_reply[row["id"]] - row["created_at"]).total_seconds() / 3600
             for row in inquiries if row["id"] in first_reply]

    def counted(key: str, labels: dict) -> tuple[tuple[str, int], ...]:
        counts = Counter(row[key] for row in inquiries)
        known = [(code, counts[code]) for code in labels]
        return tuple(known + sorted((code, n) for code, n in counts.items() if code not in labels))

    return DeskFigures(
        total=len(inquiries),
        by_channel=counted("channel", CHANNELS),
        by_category=counted("category", CATEGORIES),
        by_status=counted("status", STATUSES),
        answered=len(waits),
        median_hours_to_first_answer=round(statistics.median(waits), 1) if waits else None,
        still_open=sum(1 for row in inquiries if row["status"] in OPEN_STATUSES),
    )
