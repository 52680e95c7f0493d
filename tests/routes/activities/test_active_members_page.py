"""The secretariat's page of the members with enough local activities this fiscal year for the premium tier."""

from __future__ import annotations

from app.services.programs import activities, applications, programs
from app.services.shared import clock
from tests import factories
from tests.conftest import log_in


async def test_staff_see_members_with_three_activities_this_fiscal_year(client):
    area = await factories.area()
    busy, quiet = await factories.member("よく来る人"), await factories.member("1回の人")
    staff = await factories.staff_account()
    now = clock.now()
    for index in range(3):
        program_id = await factories.program(area, title=f"活動{index}")
        await applications.apply(program_id, busy.member_id, "", [], now)
        if index == 0:
            await applications.apply(program_id, quiet.member_id, "", [], now)
        await activities.attend_by_member(program_id, busy.member_id, programs.Actor(staff, "staff"), now)
    await log_in(client, staff)
    response = await client.get("/staff/activities")
    assert response.status_code == 200
    assert response.text.count('data-testid="active-member"') == 1
    assert "よく来る人" in response.text and "1回の人" not in response.text
    assert (await client.get("/staff/activities", params={"year": "abc"})).status_code == 422
    editor = await factories.staff_account("勇払 編集 鈴木", role="editor", area=area)
    await log_in(client, editor)
    assert (await client.get("/staff/activities")).status_code == 403
