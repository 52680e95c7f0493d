"""The travel subsidy in real browsers: a member who attended a covered program claims from its page on a phone, with
a photo of the receipt (a fare above the maximum, so the maximum is claimed), and the secretariat approves it on a
desktop; the member finds the decision on the claim's page. People and the program are made in the database."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image
from playwright.sync_api import expect

from app.services.membership import login_sessions
from app.services.shared import clock
from tests import factories
from tests.browser.conftest import DESKTOP, run_async

TOKYO = ZoneInfo("Asia/Tokyo")
TITLE = "勇払の酪農体験と牧場の担い手づくり"


@dataclass
class Scene:
    program_id: int
    member_session: str
    staff_session: str


async def attended_a_covered_program() -> Scene:
    area = await factories.area("勇払")
    now = clock.now()
    program = await factories.program(area, title=TITLE, starts_at=now - timedelta(days=2, hours=6),
                                      ends_at=now - timedelta(days=2), status="completed")
    await factories.travel_subsidy(program, organiser="勇払地区まちづくり協議会")
    member = await factories.member("ふるさと花子", home_prefecture="13", home_municipality="世田谷区")
    await factories.attendance(program, member.member_id)
    return Scene(program, await login_sessions.start(member.account_id, "pytest member"),
                 await login_sessions.start(await factories.staff_account(), "pytest staff"))


def receipt_file(tmp_path) -> str:
    path = tmp_path / "receipt.jpg"
    out = io.BytesIO()
    Image.new("RGB", (320, 480), "white").save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return str(path)


def test_a_member_claims_with_a_receipt_and_the_secretariat_approves_it(open_browser, tmp_path):
    scene = run_async(attended_a_covered_program())
    day = (datetime.now(TOKYO) - timedelta(days=2)).date().isoformat()

    member = open_browser(scene.member_session)
    member.goto(f"/programs/{scene.program_id}")
    expect(member.get_by_test_id("subsidy-organiser")).to_contain_text("勇払地区まちづくり協議会")
    member.get_by_test_id("program-claim").click()
    form = member.get_by_test_id("claim-form")
    expect(form.get_by_test_id("field-departure")).to_have_value("東京都世田谷区")
    form.get_by_test_id("field-route").fill("羽田空港→新千歳空港（航空機）、新千歳空港→苫小牧駅（JR）")
    form.get_by_test_id("field-outbound_on").fill(day)
    form.get_by_test_id("field-return_on").fill(day)
    form.get_by_test_id("transports-air").check()
    form.get_by_test_id("transports-rail").check()
    form.get_by_test_id("field-fare").fill("３２，４００円")
    form.get_by_test_id("field-receipts").set_input_files(receipt_file(tmp_path))
    form.get_by_test_id("claim-submit").click()
    expect(member.get_by_test_id("claim-status")).to_have_text("事務局で確認中")
    expect(member.get_by_test_id("claim-amount")).to_contain_text("20,000円")
    expect(member.get_by_test_id("claim-receipt")).to_have_count(1)

    office = open_browser(scene.staff_session, device=DESKTOP)
    office.goto("/staff/claims")
    expect(office.get_by_test_id("claim-tab-submitted")).to_contain_text("1")
    office.get_by_test_id("claim-link").click()
    expect(office.locator(".receipts img")).to_be_visible()
    office.get_by_test_id("claim-approve").click()
    expect(office.get_by_test_id("claim-status")).to_have_text("承認済み（支払待ち）")

    member.reload()
    expect(member.get_by_test_id("claim-status")).to_have_text("承認されました（お支払いの準備中）")
    expect(member.get_by_test_id("claim-approved")).to_have_text("20,000円")
