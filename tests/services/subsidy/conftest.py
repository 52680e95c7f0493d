"""The travel subsidy's services share one scene: a program of 勇払 the subsidy covers (up to 20,000 yen a person, by
rail, air or bus, claims until 2026-12-31) held on 5–6 December 2026, a member who attended it, and the
secretariat; the clock stands at noon on 9 December in Japan."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest
from PIL import Image

from app.services.membership.membership import Registered
from tests import factories

NOW = datetime(2026, 12, 9, 3, 0, tzinfo=timezone.utc)  # 12:00 in Japan
TODAY = date(2026, 12, 9)
STARTS = datetime(2026, 12, 5, 1, 0, tzinfo=timezone.utc)  # 10:00 on 5 December in Japan
ENDS = datetime(2026, 12, 6, 7, 0, tzinfo=timezone.utc)  # 16:00 on 6 December
DEADLINE = date(2026, 12, 31)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), "white").save(out, "JPEG")
    return out.getvalue()


def claim_form(**changes) -> dict:
    """The claim form as a member fills it in: flown to New Chitose and on by train, 18,400 yen typed full-width."""
    return {"departure": "東京都世田谷区", "route": "羽田空港→新千歳空港（航空機）、新千歳空港→苫小牧駅（JR）",
            "transports": ["air", "rail"], "outbound_on": "2026-12-04", "return_on": "2026-12-06", "fare": "１８，４００円",
            **changes}


@dataclass
class Covered:
    area: int
    program: int
    member: Registered
    staff: int


@pytest.fixture
async def covered() -> Covered:
    area = await factories.area()
    program = await factories.program(area, title="勇払の酪農体験", starts_at=STARTS, ends_at=ENDS,
                                      apply_from=datetime(2026, 11, 1, tzinfo=timezone.utc),
                                      apply_until=datetime(2026, 12, 1, tzinfo=timezone.utc), status="completed")
    await factories.travel_subsidy(program, deadline=DEADLINE)
    member = await factories.member("ふるさと花子", email="hanako@example.jp")
    await factories.attendance(program, member.member_id)
    return Covered(area, program, member, await factories.staff_account())
