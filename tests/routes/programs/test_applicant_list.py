"""The editors' list of a program's applicants: tabs by status with their counts, a choice of order, pages of
50; a decision brings the editor back to the same tab, order and page; any page number is a page."""

from __future__ import annotations

import re
from datetime import timedelta

from app.services.programs import applications
from app.services.shared import clock
from db.tables import Application
from tests import factories
from tests.conftest import log_in


async def applicants_of(area: int, count: int) -> int:
    """A program with one seat and `count` applicants 会員0, 会員1, … (in that order); all but the first wait."""
    program = await factories.program(area, capacity=1)
    start = clock.now()
    for n in range(count):
        member = await factories.member(f"会員{n}")
        await applications.apply(program, member.member_id, "", [], start + timedelta(minutes=n))
    return program


def names(text: str) -> list[str]:
    return re.findall(r"<strong>(会員\d+)</strong>", text)


async def test_the_applicants_go_page_by_page_keeping_their_tab_and_order(client, monkeypatch):
    monkeypatch.setattr("app.routes.programs.applicants.APPLICANTS_PAGE", 2)
    area = await factories.area()
    program = await applicants_of(area, 5)
    await log_in(client, await factories.staff_account("勇払 編集 鈴木", role="editor", area=area))
    path = f"/editor/programs/{program}/applicants"

    first = await client.get(path)
    assert names(first.text) == ["会員0", "会員1"] and 'data-testid="page-next"' in first.text
    assert re.search(r'data-testid="applicant-tab-all">[^<]+<span class="chip-count">5<', first.text)
    assert re.search(r'data-testid="applicant-tab-waitlisted">[^<]+<span class="chip-count">4<', first.text)
    assert 'data-testid="applicant-tab-rejected"' not in first.text  # no tab for a status nobody is in

    waiting = await client.get(path, params={"status": "waitlisted", "order": "newest"})
    assert names(waiting.text) == ["会員4", "会員3"]
    assert f'href="{path}?status=waitlisted&amp;order=newest&amp;page=2"' in waiting.text
    second = await client.get(path, params={"status": "waitlisted", "order": "newest", "page": "2"})
    assert names(second.text) == ["会員2", "会員1"]
    assert f'href="{path}?status=waitlisted&amp;order=newest"' in second.text  # previous: page 1, its number left out
    assert 'data-testid="page-next"' not in second.text
    past_the_end = await client.get(path, params={"page": "40"})
    assert past_the_end.status_code == 200 and names(past_the_end.text) == []
    assert 'data-testid="page-previous"' in past_the_end.text


async def test_a_decision_brings_the_editor_back_to_the_same_tab_order_and_page(client, monkeypatch):
    monkeypatch.setattr("app.routes.programs.applicants.APPLICANTS_PAGE", 2)
    area = await factories.area()
    program = await applicants_of(area, 4)
    await log_in(client, await factories.staff_account("勇払 編集 鈴木", role="editor", area=area))
    page = await client.get(f"/editor/programs/{program}/applicants", params={"status": "waitlisted", "page": "2"})
    assert '<input type="hidden" name="status" value="waitlisted">' in page.text
    last = (await Application.select(Application.id).order_by(Application.id, ascending=False).first())["id"]
    decided = await client.submit(f"/editor/applications/{last}/decision",
                                  {"decision": "reject", "status": "waitlisted", "order": "applied", "page": "2"},
                                  follow_redirects=False)
    assert decided.status_code == 303
    assert decided.headers["location"] == f"/editor/programs/{program}/applicants?status=waitlisted&page=2#application-{last}"
    refused = await client.submit(f"/editor/applications/{last - 1}/decision",
                                  {"decision": "accept", "status": "waitlisted", "order": "newest", "page": "1"})
    assert refused.status_code == 409 and 'data-testid="decision-problem"' in refused.text
    assert '<input type="hidden" name="order" value="newest">' in refused.text
    cut_short = await client.submit(f"/editor/applications/{last - 1}/decision", {"decision": "reject"}, follow_redirects=False)
    assert cut_short.headers["location"] == f"/editor/programs/{program}/applicants#application-{last - 1}"


async def test_any_status_order_or_page_typed_in_the_address_shows_a_page(client):
    area = await factories.area()
    program = await applicants_of(area, 1)
    await log_in(client, await factories.staff_account("勇払 編集 鈴木", role="editor", area=area))
    for params in ({"page": "0"}, {"page": "-1"}, {"page": "abc"}, {"page": "99999999999999999999"}, {"page": "２"},
                   {"page": ""}, {"status": "nonsense"}, {"order": "'; DROP TABLE application; --"},
                   {"status": "accepted", "order": "number", "page": "1.5"}):
        response = await client.get(f"/editor/programs/{program}/applicants", params=params)
        assert response.status_code == 200, params
        assert names(response.text) == ["会員0"], params
    for form in ({"page": "-3", "order": "x", "status": "y"}, {"page": "abc"}):
        decided = await client.submit(f"/editor/applications/{(await Application.select(Application.id).first())['id']}/decision",
                                      {"decision": "waitlist", **form}, follow_redirects=False)
        assert decided.status_code in (303, 409), form
