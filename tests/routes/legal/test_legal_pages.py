"""The pages a municipality publishes: the privacy policy, the terms of use and the accessibility policy, each in
Japanese and English, written from the installation's settings; and the footer that links them from every page."""

import pytest

from tests import factories
from tests.conftest import log_in

PAGES = ("/privacy", "/terms", "/accessibility")
ENGLISH = {"Accept-Language": "en"}


@pytest.mark.parametrize("path", PAGES)
async def test_each_legal_page_renders_in_japanese_with_the_demo_publisher(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert '<html lang="ja">' in response.text
    assert "苫小牧市 総合政策部 政策推進課" in response.text
    assert "0144-32-6480" in response.text
    assert "2026年11月1日" in response.text.split('data-testid="legal-dates"')[1].split("</p>")[0]


@pytest.mark.parametrize("path", PAGES)
async def test_each_legal_page_renders_in_english(client, path):
    response = await client.get(path, headers=ENGLISH)
    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert "Established November 1, 2026" in response.text
    assert "苫小牧市 総合政策部 政策推進課" in response.text  # names are content, published as the municipality writes them


async def test_the_privacy_policy_names_the_law_the_ordinance_the_contractor_and_the_push_services(client):
    text = (await client.get("/privacy")).text
    for expected in ("個人情報の保護に関する法律", "苫小牧市個人情報の保護に関する法律施行条例", "株式会社とまこまい地域デザイン",
                     "利用目的", "開示", "訂正", "利用停止", "Cookie", "電気通信事業法", "Apple", "Google", "Mozilla",
                     "Microsoft", "LINE", "未成年"):
        assert expected in text, expected


async def test_the_privacy_policy_states_the_retention_period_the_installation_enforces(client, app):
    assert "once 3 years have passed" in (await client.get("/privacy", headers=ENGLISH)).text
    app.state.settings = app.state.settings.with_(retention_days=400)
    assert "once 400 days have passed" in (await client.get("/privacy", headers=ENGLISH)).text
    assert "最後のやり取りから400" in (await client.get("/privacy")).text


async def test_the_footer_is_on_public_and_member_pages_with_operator_contact_and_links(client):
    for path in ("/", "/programs", "/register", "/privacy"):
        text = (await client.get(path)).text
        assert 'data-testid="site-footer"' in text, path
        for link in ('href="/privacy"', 'href="/terms"', 'href="/accessibility"'):
            assert link in text, (path, link)
        assert "苫小牧市 総合政策部 政策推進課" in text
        assert 'href="tel:0144326480"' in text
    member = await factories.member()
    await log_in(client, member.account_id)
    card = (await client.get("/card")).text
    assert 'data-testid="site-footer"' in card and 'data-testid="bottom-nav"' in card


async def test_the_footer_speaks_english_on_english_pages(client):
    text = (await client.get("/", headers=ENGLISH)).text
    footer = text.split('data-testid="site-footer"')[1]
    assert "Privacy policy" in footer and "Terms of service" in footer and "Accessibility policy" in footer


async def test_the_registration_form_links_both_documents_with_their_revision_dates(client):
    text = (await client.get("/register")).text
    assert 'name="consent" value="2026-11-01"' in text
    assert 'name="terms" value="2026-11-01"' in text
    assert "2026年11月1日" in text
    assert 'data-testid="consent-terms-link"' in text


@pytest.mark.parametrize("query", ["?lang=xx", "?x=%00", "?" + "a" * 5000])
async def test_legal_pages_ignore_whatever_is_added_to_their_address(client, query):
    for path in PAGES:
        response = await client.get(path + query)
        assert response.status_code == 200, path
