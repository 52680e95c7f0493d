"""Priority for premium members: a program may open its applications to premium members earlier. Before that
date only a member whose premium holds today (in Japan) may apply; the seat rules stay as they are."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.services.programs import applications, programs
from app.services.programs.applications import ApplicationRefused
from app.services.programs.programs import ProgramInvalid
from app.services.shared import clock
from db.tables import Member
from tests import factories


async def premium(name: str, until: date) -> int:
    registered = await factories.member(name)
    await Member.update({Member.tier: "premium", Member.premium_until: until}).where(Member.id == registered.member_id)
    return registered.member_id


async def test_premium_members_apply_early_and_others_when_everyone_may(scene):
    now = clock.now()
    program = await factories.program(scene.area, apply_from=now + timedelta(days=3),
                                      premium_apply_from=now - timedelta(hours=1))
    holder = await premium("プレミアム 会員", date(2099, 3, 31))
    ended = await premium("期限切れ 会員", date(2020, 3, 31))
    basic = (await factories.member("ベーシック 会員")).member_id
    assert await applications.apply(program, holder, "", [], now) == "accepted"
    for member_id in (ended, basic):
        with pytest.raises(ApplicationRefused) as refused:
            await applications.apply(program, member_id, "", [], now)
        assert refused.value.reason == "not_open"
    assert await applications.apply(program, basic, "", [], now + timedelta(days=3, minutes=1)) == "accepted"


async def test_the_early_date_must_come_before_everyones(scene):
    form = {"title": "牧場体験", "kind": "program", "place": "勇払", "capacity": "10",
            "starts_at": "2027-06-01T09:00", "ends_at": "2027-06-01T15:00",
            "apply_from": "2027-05-01T09:00", "apply_until": "2027-05-20T17:00"}
    for early, error in (("2027-05-01T09:00", True), ("2027-05-02T09:00", True), ("2027-13-01T09:00", True),
                         ("2027-04-25T09:00", False), ("", False)):
        if error:
            with pytest.raises(ProgramInvalid) as invalid:
                await programs.validate_program({**form, "premium_apply_from": early}, scene.editor)
            assert "premium_apply_from" in invalid.value.errors
        else:
            values = await programs.validate_program({**form, "premium_apply_from": early}, scene.editor)
            assert (values.premium_apply_from is None) == (early == "")
