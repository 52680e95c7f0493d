"""Every redirect leads to a path on this site: after login (the page's data-next and the JSON answer of
the passkey login), after a language change (303) and at the end of every form (see_other)."""

import pytest

from app.rendering import safe_next

HOSTILE = [
    "//evil.example", "///evil.example", "////evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
    "https://evil.example", "http://evil.example/", "HTTPS://evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "evil.example", "evil.example/path", "/%09/evil.example/phish",
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example",
    "/%2F/evil.example", "/%2f%2fevil.example", "/%5Cevil.example", "/%5c%5cevil.example", "/%252F%252Fevil.example",
    "/%25252F%25252Fevil.example", " /programs", "/programs ", "/\u3000/evil.example", "/\u200b/evil.example",
    "/\u202e/evil.example", "/\x00/evil.example", "/%00/evil.example", "/\ud800", "/" + "a" * 3000, "",
    "?next=//evil.example", "#//evil.example", "mailto:someone@evil.example", "/@evil.example\\@ok",
]
SAFE = ["/", "/programs", "/programs/3?open=1", "/card#qr", "/programs/%E5%8B%87%E6%89%95", "/staff/members?q=TMK-000123"]


@pytest.mark.parametrize("target", HOSTILE)
def test_a_hostile_target_leads_home(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", SAFE)
def test_a_path_on_this_site_is_kept(target):
    assert safe_next(target) == target


def test_there_are_at_least_thirty_hostile_targets():
    assert len(HOSTILE) >= 30


@pytest.mark.parametrize("target", ["/%09/evil.example/phish", "//evil.example", "/\\evil.example", "https://evil.example"])
async def test_the_login_page_never_carries_a_hostile_next(client, target):
    page = await client.get("/login", params={"next": target})
    assert page.status_code == 200
    assert 'data-next="/"' in page.text and "evil.example" not in page.text


@pytest.mark.parametrize("target", ["/%09/evil.example", "//evil.example", "/%2F%2Fevil.example", "https://evil.example"])
async def test_a_language_change_never_leads_off_the_site(client, target):
    response = await client.submit("/locale", {"lang": "en", "next": target}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_a_language_change_returns_to_the_page_it_came_from(client):
    response = await client.submit("/locale", {"lang": "en", "next": "/programs?open=1"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/programs?open=1"
