"""A program's applicants as the editors' list reads them: one status or all, in the order they came, newest first
or by member number, a page at a time, with the count of each status."""

from __future__ import annotations

from datetime import timedelta

from app.services.programs import applications, reads
from app.services.shared import clock
from tests import factories


async def applied(scene) -> tuple[int, list[str]]:
    """A program with three applicants who registered as 一, 二, 三 and applied as 三, 一, 二; the second to apply
    is waitlisted (one seat)."""
    program = await factories.program(scene.area, capacity=1)
    registered = [await factories.member(name) for name in ("一", "二", "三")]
    start = clock.now()
    for minutes, person in enumerate((registered[2], registered[0], registered[1])):
        await applications.apply(program, person.member_id, "", [], start + timedelta(minutes=minutes))
    return program, ["三", "一", "二"]


def names(rows: list[dict]) -> list[str]:
    return [row["display_name"] for row in rows]


async def test_applicants_come_in_the_order_chosen(scene):
    program, in_order = await applied(scene)
    assert names(await reads.applicants(program)) == in_order
    assert names(await reads.applicants(program, order="newest")) == in_order[::-1]
    assert names(await reads.applicants(program, order="number")) == ["一", "二", "三"]
    assert names(await reads.applicants(program, order="made-up")) == in_order


async def test_applicants_narrow_to_one_status_and_go_a_page_at_a_time(scene):
    program, _in_order = await applied(scene)
    assert names(await reads.applicants(program, status="waitlisted")) == ["一", "二"]
    assert names(await reads.applicants(program, status="rejected")) == []
    assert names(await reads.applicants(program, limit=2)) == ["三", "一"]
    assert names(await reads.applicants(program, limit=2, offset=2)) == ["二"]
    assert names(await reads.applicants(program, limit=2, offset=40)) == []
    assert await reads.applicant_counts(program) == {"accepted": 1, "waitlisted": 2}
    assert await reads.applicant_counts(await factories.program(scene.area)) == {}
