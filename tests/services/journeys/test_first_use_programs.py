"""Journey rule: a member's first offer use at a shop of an area suggests that area's upcoming programs — once,
only while the use is recent, only when there is something to suggest, and only when the rule is on."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from app.services.journeys import first_use_programs, rules
from app.services.journeys import round as journeys
from app.services.programs.activities import fiscal_year_of
from db.tables import Application, JourneyEvent, Notification, Redemption
from tests import factories

NOW = datetime(2026, 6, 10, 3, 0, tzinfo=timezone.utc)  # noon in Japan, fiscal year 2026
SOON = {"starts_at": NOW + timedelta(days=20), "ends_at": NOW + timedelta(days=20, hours=6),
        "apply_from": NOW - timedelta(days=1), "apply_until": NOW + timedelta(days=10)}


async def suggestions_to(account_id: int) -> list[dict]:
    rows = await Notification.select(Notification.title, Notification.body, Notification.url, Notification.target).where(
        Notification.topic == "personal").output(load_json=True)
    return [row for row in rows if row["target"]["accounts"] == [account_id]]


async def uses(shop_area: int | None, *at: datetime, name: str = "つなぐ花子"):
    """A member with a pass of one offer at a shop (of `shop_area`), used at each of `at`; returns the member
    (member_id, account_id) with what `use_again` needs."""
    shop_id, (offer_id,) = await factories.shop_with_offers(f"{name}の店", {"limit_kind": "unlimited"},
                                                            area_id=shop_area)
    member = await factories.member(name)
    wallet_id, _ = await factories.wallet_pass(member.member_id, await factories.entry_pass(offer_id),
                                               NOW - timedelta(days=60), days=90)
    who = SimpleNamespace(member_id=member.member_id, account_id=member.account_id, wallet=wallet_id, offer=offer_id,
                          shop=shop_id)
    for moment in at:
        await use_again(who, moment)
    return who


async def use_again(who, at: datetime) -> None:
    nonce = secrets.token_hex(8)  # an unlimited offer: each use is its own limit key
    await Redemption(wallet_pass=who.wallet, offer=who.offer, shop=who.shop, limit_key=nonce, client_nonce=nonce,
                     redeemed_at=at).save()


@pytest.fixture
async def area() -> int:
    area_id = await factories.area("樽前・錦岡", "tarumae")
    await factories.program(area_id, title="樽前山の森歩き", **{**SOON, "starts_at": NOW + timedelta(days=30)})
    await factories.program(area_id, title="錦大沼のカヌー", **SOON)
    return area_id


async def test_a_first_use_suggests_the_areas_programs_once(area):
    member = await uses(area, NOW - timedelta(days=2))
    results = await asyncio.gather(*(first_use_programs.run_due(NOW) for _ in range(3)))
    assert sum(results) == 1
    (told,) = await suggestions_to(member.account_id)
    assert told["url"] == f"/programs?area={area}"
    assert told["body"].index("錦大沼のカヌー") < told["body"].index("樽前山の森歩き")  # soonest first
    assert await first_use_programs.run_due(NOW + timedelta(days=1)) == 0
    event = await JourneyEvent.select().where(JourneyEvent.rule == first_use_programs.RULE).first()
    assert (event["member"], event["cause"]) == (member.member_id, "first")


async def test_a_second_use_tells_nothing_more(area):
    member = await uses(area, NOW - timedelta(days=3), NOW - timedelta(days=2))
    assert await first_use_programs.run_due(NOW) == 1
    await use_again(member, NOW + timedelta(days=1))
    assert await first_use_programs.run_due(NOW + timedelta(days=2)) == 0
    assert len(await suggestions_to(member.account_id)) == 1


async def test_only_the_first_use_ever_counts_and_not_one_undone(area):
    long_ago = await uses(area, NOW - timedelta(days=100), NOW - timedelta(days=1), name="常連 太郎")
    undone_first = await uses(area, NOW - timedelta(days=30), NOW - timedelta(days=1), name="取消 次郎")
    await Redemption.update({Redemption.undone_at: NOW - timedelta(days=30)}).where(
        Redemption.redeemed_at == NOW - timedelta(days=30))
    assert await first_use_programs.run_due(NOW) == 1
    assert await suggestions_to(long_ago.account_id) == []
    assert len(await suggestions_to(undone_first.account_id)) == 1


async def test_a_use_that_can_still_be_undone_waits(area):
    member = await uses(area, NOW - timedelta(minutes=1))
    assert await first_use_programs.run_due(NOW) == 0
    assert await first_use_programs.run_due(NOW + timedelta(minutes=10)) == 1
    assert len(await suggestions_to(member.account_id)) == 1


async def test_a_shop_without_an_area_suggests_nothing(area):
    await uses(None, NOW - timedelta(days=1))
    assert await first_use_programs.run_due(NOW) == 0
    assert await Notification.count() == 0 and await JourneyEvent.count() == 0


async def test_no_upcoming_program_tells_nothing_and_a_later_one_is_still_suggested():
    area_id = await factories.area()
    await factories.program(area_id, title="もう始まった", **{**SOON, "starts_at": NOW - timedelta(hours=1)})
    await factories.program(area_id, title="締切済み", **{**SOON, "apply_until": NOW - timedelta(hours=1)})
    await factories.program(area_id, title="下書き", status="draft", **SOON)
    member = await uses(area_id, NOW - timedelta(days=5))
    assert await first_use_programs.run_due(NOW) == 0
    assert await Notification.count() == 0 and await JourneyEvent.count() == 0  # not marked: may fire later
    await factories.program(area_id, title="受付開始前", **{**SOON, "apply_from": NOW + timedelta(days=3)})
    assert await first_use_programs.run_due(NOW + timedelta(days=1)) == 1
    (told,) = await suggestions_to(member.account_id)
    assert "受付開始前" in told["body"] and "もう始まった" not in told["body"] and "下書き" not in told["body"]


async def test_at_most_three_programs_are_suggested(area):
    for n in range(3):
        await factories.program(area, title=f"追加{n}", **{**SOON, "starts_at": NOW + timedelta(days=40 + n)})
    member = await uses(area, NOW - timedelta(days=1))
    assert await first_use_programs.run_due(NOW) == 1
    (told,) = await suggestions_to(member.account_id)
    assert told["body"].count("\n") == 3 and "追加0" in told["body"] and "追加1" not in told["body"]


def test_long_titles_are_shortened_so_every_program_keeps_its_date():
    from app.services.notify.personal import BODY_MAX

    intro = "ほっき屋でエントリーパスをご利用いただきありがとうございます。" * 4  # a long shop and area name
    programs = [{"title": f"長い名前{n}" + "あ" * 115, "starts_at": NOW + timedelta(days=5 + n)} for n in range(3)]
    lines = first_use_programs.suggestion(intro, programs).split("\n")
    assert len("\n".join(lines)) <= BODY_MAX and len(lines) == 4 and lines[0] == intro
    assert all(f"長い名前{n}" in line for n, line in enumerate(lines[1:]))
    assert all(line.endswith("）") and "…" in line for line in lines[1:])


async def test_a_use_older_than_the_window_tells_nothing(area):
    await uses(area, NOW - first_use_programs.RECENT - timedelta(hours=1))
    assert await first_use_programs.run_due(NOW) == 0
    assert await Notification.count() == 0


async def test_a_rule_switched_off_tells_nothing(area):
    staff = await factories.staff_account()
    await uses(area, NOW - timedelta(days=1))
    await rules.save(fiscal_year_of(NOW), first_use_programs.RULE, False, None, staff, NOW)
    assert await first_use_programs.run_due(NOW) == 0
    assert (await journeys.run_due(NOW))["first_use_programs"] == 0
    assert await Notification.count() == 0


async def test_the_round_runs_the_rule(area):
    await uses(area, NOW - timedelta(days=1))
    assert (await journeys.run_due(NOW))["first_use_programs"] == 1


async def test_next_rung_counts_who_applied_after_being_told(area):
    told_then_applied = await uses(area, NOW - timedelta(days=1), name="応募 花子")
    applied_before = await uses(area, NOW - timedelta(days=1), name="先に応募 太郎")
    program_id = (await first_use_programs.upcoming_programs(area, NOW))[0]["id"]
    await Application(program=program_id, member=applied_before.member_id, status="accepted",
                      created_at=NOW - timedelta(hours=2)).save()
    assert await first_use_programs.run_due(NOW) == 2
    assert await first_use_programs.next_rung(fiscal_year_of(NOW)) == 0
    await Application(program=program_id, member=told_then_applied.member_id, status="accepted",
                      created_at=NOW + timedelta(days=2)).save()
    assert await first_use_programs.next_rung(fiscal_year_of(NOW)) == 1
    assert await first_use_programs.next_rung(fiscal_year_of(NOW) + 1) == 0
