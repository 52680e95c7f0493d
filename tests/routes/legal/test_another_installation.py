"""Another installation publishes its own municipality, department, contractor and contact, and cites only what
it set."""

import pytest

from app.settings import Publisher

ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def settings(settings):
    """Another installation: another municipality, department, contractor and contact."""
    return settings.with_(publisher=Publisher(
        municipality="高知県土佐町", department="企画推進課", ordinance="", operator="",
        phone="0887-82-0480", email="kikaku@town.tosa.example.jp", hours="平日 8:30〜17:15"))


async def test_another_installation_publishes_its_own_municipality_and_contact(client):
    privacy = (await client.get("/privacy")).text
    assert "高知県土佐町 企画推進課" in privacy
    assert "0887-82-0480" in privacy and "kikaku@town.tosa.example.jp" in privacy
    assert "苫小牧" not in privacy.split('data-testid="site-footer"')[0].split("<main")[1]
    assert "施行条例" not in privacy  # no ordinance set: none cited
    assert "高知県土佐町が運営しています" in privacy  # no contractor: run by the municipality itself
    terms = (await client.get("/terms", headers=ENGLISH)).text
    assert "provided by 高知県土佐町" in terms


async def test_the_footer_names_the_installations_publisher(client):
    footer = (await client.get("/")).text.split('data-testid="site-footer"')[1]
    assert "高知県土佐町 企画推進課" in footer and 'href="tel:0887820480"' in footer
    assert "委託" not in footer and "苫小牧" not in footer
