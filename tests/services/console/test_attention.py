"""What waits for the secretariat: each queue counted on its own, so premium applications are not hidden in the
review queue's count."""

from __future__ import annotations

from app.services.console import attention
from tests import factories


async def test_nothing_waiting_counts_zero_in_every_queue(scene):
    assert await attention.counts() == {"review": 0, "premium": 0, "inquiries": 0, "conflicts": 0, "incidents": 0}


async def test_premium_applications_are_counted_apart_from_the_review_queue(scene):
    await factories.program(scene.area, title="審査待ちの回", status="submitted")
    for name in ("申請 一郎", "申請 二郎"):
        await factories.premium_application((await factories.member(name)).member_id)
    await factories.inquiry()
    assert await attention.counts() == {"review": 1, "premium": 2, "inquiries": 1, "conflicts": 0, "incidents": 0}
