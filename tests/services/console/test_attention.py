"""What waits for the secretariat: each queue counted on its own, so premium applications are not hidden in the
review queue's count."""

from __future__ import annotations

from app.services.console import attention
from tests import factories


async def test_nothing_waiting_counts_zero_in_every_queue(scene):
    assert await attention.counts() == {"review": 0, "premium": 0, "inquiries": 0, "conflicts": 0, "incidents": 0,
                                        "claims": 0}


async def test_premium_applications_are_counted_apart_from_the_review_queue(scene):
    await factories.program(scene.area, title="審査待ちの回", status="submitted")
    for name in ("申請 一郎", "申請 二郎"):
        await factories.premium_application((await factories.member(name)).member_id)
    await factories.inquiry()
    assert await attention.counts() == {"review": 1, "premium": 2, "inquiries": 1, "conflicts": 0, "incidents": 0,
                                        "claims": 0}


async def test_travel_subsidy_claims_waiting_for_a_check_are_counted_whatever_their_year(scene):
    program = await factories.program(scene.area)
    for name, status in (("申請 一郎", "submitted"), ("申請 二郎", "submitted"), ("申請 三郎", "approved")):
        await factories.travel_claim(program, (await factories.member(name)).member_id, status=status)
    await factories.travel_claim(await factories.program(scene.area, title="昨年度の回"),
                                 (await factories.member("申請 四郎")).member_id, fiscal_year=2020)
    assert (await attention.counts())["claims"] == 3


async def test_the_one_statement_counts_as_each_queue_counted_on_its_own(scene):
    program = await factories.program(scene.area, title="審査待ちの回", status="submitted")
    for name in ("申請 一郎", "申請 二郎"):
        member_id = (await factories.member(name)).member_id
        await factories.premium_application(member_id)
        await factories.travel_claim(program, member_id, status="submitted")
    for _ in range(3):
        await factories.inquiry()
    alone = {}
    for key, counter in attention.COUNTERS.items():
        made = counter()
        alone[key] = sum([await part for part in made]) if isinstance(made, list) else await made
    assert await attention.counts() == alone and sum(value > 0 for value in alone.values()) >= 4, alone
