"""Registration before the passkey: the profile form, its errors, and where it leads."""

from db.tables import Account, Area, Member

VALID = {
    "display_name": "つなぐ太郎",
    "family_name": "山田",
    "given_name": "太郎",
    "family_name_kana": "ヤマダ",
    "given_name_kana": "たろう",
    "email": "taro@example.jp",
    "home_prefecture": "13",
    "home_municipality": "世田谷区",
    "ties": ["furusato_tax", "workation"],
    "interests": ["nature"],
    "consent": "2026-11-01", "terms": "2026-11-01",
}


async def test_registration_form_renders_in_japanese(client):
    response = await client.get("/register")
    assert response.status_code == 200
    assert "ふるさと住民" in response.text
    assert 'name="consent"' in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_registration_with_missing_fields_shows_every_error_and_saves_nothing(client):
    response = await client.submit("/register", {"display_name": "", "home_prefecture": "xx"})
    assert response.status_code == 422
    for field in ("display_name", "home_prefecture", "ties", "consent"):
        assert f'data-testid="error-{field}"' in response.text
    assert await Account.count() == 0


async def test_registration_rejects_bad_email_kana_and_unknown_choices(client):
    data = {**VALID, "email": "taro@", "family_name_kana": "Yamada", "ties": ["furusato_tax", "spaceship"], "areas": ["999"]}
    response = await client.submit("/register", data)
    assert response.status_code == 422
    for field in ("email", "family_name_kana", "ties", "areas"):
        assert f'data-testid="error-{field}"' in response.text


async def test_registration_rejects_overlong_display_name(client):
    response = await client.submit("/register", {**VALID, "display_name": "あ" * 31})
    assert response.status_code == 422
    assert 'data-testid="error-display_name"' in response.text


async def test_registration_without_consent_is_refused(client):
    data = {k: v for k, v in VALID.items() if k != "consent"}
    response = await client.submit("/register", data)
    assert response.status_code == 422
    assert 'data-testid="error-consent"' in response.text


async def test_registration_without_agreeing_to_the_terms_is_refused(client):
    response = await client.submit("/register", {**VALID, "terms": ""})
    assert response.status_code == 422
    assert 'data-testid="error-terms"' in response.text
    assert 'data-testid="error-consent"' not in response.text
    assert await Account.count() == 0


async def test_registration_keeps_what_was_typed_after_an_error(client):
    response = await client.submit("/register", {**VALID, "email": "bad"})
    assert 'value="つなぐ太郎"' in response.text
    assert 'value="世田谷区"' in response.text


async def test_valid_profile_leads_to_the_passkey_step_without_creating_an_account(client):
    area = Area(slug="yufutsu", name="勇払")
    await area.save()
    response = await client.submit("/register", {**VALID, "areas": [str(area.id)]}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/passkeys/new"
    page = await client.get("/passkeys/new")
    assert page.status_code == 200
    assert 'data-testid="passkey-create"' in page.text
    assert "つなぐ太郎" in page.text
    assert await Account.count() == 0
    assert await Member.count() == 0


async def test_htmx_registration_error_returns_only_the_form(client):
    response = await client.hx_post("/register", {"display_name": ""})
    assert response.status_code == 422
    assert response.text.lstrip().startswith("<form")
    assert "<html" not in response.text


async def test_passkey_step_without_a_registration_goes_home(client):
    response = await client.get("/passkeys/new", follow_redirects=False)
    assert response.status_code == 303


async def test_login_page_offers_passkey_button_and_autofill(client):
    response = await client.get("/login")
    assert 'autocomplete="username webauthn"' in response.text
    assert 'data-testid="login-button"' in response.text


async def test_member_pages_send_visitors_to_log_in_and_back(client):
    response = await client.get("/card", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcard"


async def test_json_clients_get_401_not_a_redirect(client):
    response = await client.get("/card", headers={"Accept": "application/json"})
    assert response.status_code == 401
