"""The secretariat's journey rules page: each rule per fiscal year, its figures, saving, and every bad input."""

from __future__ import annotations

from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock
from db.tables import AuditLog, JourneyRule
from tests import factories
from tests.conftest import log_in


async def test_staff_see_every_rule_and_turn_the_warm_lead_on_with_someone_to_take_it(client):
    staff = await factories.staff_account("相談員 山田")
    await log_in(client, staff)
    year = fiscal_year_of(clock.now())
    page = await client.get("/staff/journeys")
    assert page.status_code == 200 and page.text.count('data-testid="journey-rule"') == 4
    refused = await client.submit("/staff/journeys/warm_lead", {"year": str(year), "enabled": "on"})
    assert refused.status_code == 422 and 'data-testid="error-assignee"' in refused.text
    saved = await client.submit("/staff/journeys/warm_lead", {"year": str(year), "enabled": "on", "assignee": str(staff)},
                                follow_redirects=False)
    assert saved.status_code == 303
    row = await JourneyRule.select().where(JourneyRule.rule == "warm_lead").first()
    assert (row["fiscal_year"], row["enabled"], row["assignee"]) == (year, True, staff)
    assert await AuditLog.count().where(AuditLog.action == "journey.rule") == 1
    off = await client.submit("/staff/journeys/premium_invitation", {"year": str(year)})
    assert off.status_code == 200  # followed to the page
    assert (await JourneyRule.select().where(JourneyRule.rule == "premium_invitation").first())["enabled"] is False


async def test_bad_years_rules_and_assignees_answer_a_page_not_an_error(client):
    await log_in(client, await factories.staff_account())
    member = await factories.member()
    assert (await client.get("/staff/journeys?year=20x6")).status_code == 422
    for rule, form in (("no_such_rule", {"year": "2026"}), ("warm_lead", {"year": "abcd", "enabled": "on"}),
                       ("warm_lead", {"year": "2026", "enabled": "on", "assignee": str(member.account_id)}),
                       ("warm_lead", {"year": "2026", "enabled": "on", "assignee": "9" * 40})):
        response = await client.submit(f"/staff/journeys/{rule}", form)
        assert response.status_code == 422, (rule, form)
    assert await JourneyRule.count() == 0


async def test_only_staff_open_the_journey_rules(client):
    area = await factories.area()
    await log_in(client, await factories.staff_account("編集", role="editor", area=area))
    assert (await client.get("/staff/journeys")).status_code == 403
    assert (await client.submit("/staff/journeys/warm_lead", {"year": "2026"})).status_code == 403
