"""The route × role table: every page answers each role as its guard says, and nothing private is unguarded."""

import re

import pytest

from app import guards
from app.rate_limit import auth_rate_limit, scan_rate_limit
from tests import factories
from tests.conftest import log_in

# Pages anyone may open. Everything else must carry a guard; a new route fails here until it is placed.
PUBLIC = {
    "get_home", "get_manifest", "get_icon", "get_theme_css", "get_service_worker", "get_offline", "get_healthz",
    "set_locale", "get_login", "logout", "get_logged_out", "create_login_options", "verify_login",
    "get_new_passkey", "create_passkey_options", "verify_new_passkey", "get_register", "submit_registration",
    "get_welcome", "get_privacy", "get_terms", "get_accessibility", "get_account_deleted", "get_recover", "request_recovery", "use_recovery_link", "get_invitation",
    "accept_invitation", "confirm_email", "static", "list_passes", "list_shops",
    "list_articles", "get_article", "get_article_feed", "get_article_rss", "get_upload",
    "list_programs", "get_program", "get_program_ics",
    "get_inquiry_form", "submit_inquiry", "get_inquiry_sent",
    "receive_line_webhook",  # LINE's platform calls it; the channel secret's signature stands in for a login
    "follow_campaign",  # a campaign's short address, printed on posters
    # A mail's unsubscribe link (RFC 8058): the signed token in the address stands in for a login
    "get_mail_unsubscribe", "submit_mail_unsubscribe",
}

ALLOWED = {
    guards.logged_in: {"member", "shop", "editor", "staff"},
    guards.member: {"member"},
    guards.shop_staff: {"shop"},
    guards.editor_or_staff: {"editor", "staff"},
    guards.staff: {"staff"},
    guards.card_checker: {"shop", "editor", "staff"},
}
ROLES = ("anonymous", "member", "shop", "editor", "staff")
# Mounted on the app for every route, whoever asks (tests/routes/system/test_row_ids.py), and the rate limits
# (tests/test_rate_limit.py): they count requests, they are not role guards.
NOT_ROLES = {guards.row_ids_in_range, auth_rate_limit, scan_rate_limit}


def route_table(app):
    """(name, method, path with ids filled in, allowed roles) for every handler of the app."""
    rows = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            name = handler.name
            if name is None or name.startswith("static"):
                continue
            handler_guards = [g for layer in handler.ownership_layers for g in (layer.guards or []) if g not in NOT_ROLES]
            assert name in PUBLIC or handler_guards, f"{name} has no guard and is not listed as public"
            allowed = set(ROLES)
            for guard in handler_guards:
                allowed &= ALLOWED[guard]
            path = re.sub(r"\{(\w+):int\}", "999999", route.path)
            path = re.sub(r"\{(\w+):str\}", "unknown", path)
            for method in sorted(handler.http_methods):
                rows.append((name, method, path, allowed))
    return rows


@pytest.fixture
async def accounts():
    area_id = await factories.area()
    shop_id = await factories.shop()
    return {
        "member": (await factories.member()).account_id,
        "shop": await factories.staff_account("店舗 田中", role="shop", shop=shop_id),
        "editor": await factories.staff_account("編集 鈴木", role="editor", area=area_id),
        "staff": await factories.staff_account(),
    }


async def test_every_private_route_answers_each_role_as_its_guard_says(app, client, accounts):
    table = [row for row in route_table(app) if row[3] != set(ROLES)]
    assert table, "there are guarded routes"
    for role in ROLES:
        client.cookies.clear()
        client.csrf_token = ""
        if role != "anonymous":
            await log_in(client, accounts[role])
        token = await client.ensure_csrf()
        for name, method, path, allowed in table:
            headers = {"x-csrftoken": token, "Accept": "text/html"}
            response = await client.request(method, path, headers=headers, follow_redirects=False)
            where = f"{role} {method} {path} ({name})"
            if role == "anonymous":
                assert response.status_code == 303 and response.headers["location"].startswith("/login"), where
            elif role in allowed:
                assert response.status_code not in (401, 403), where
                assert response.status_code < 500, where
            else:
                assert response.status_code == 403, where
                assert "このページは表示できません" in response.text, where


async def test_public_routes_never_fail_for_anyone(app, client, accounts):
    for name, method, path, _allowed in route_table(app):
        if name not in PUBLIC or method != "GET":
            continue
        response = await client.get(path, follow_redirects=False)
        assert response.status_code < 500, f"GET {path} ({name})"


def test_checking_in_and_the_activities_page_are_for_members_only(app):
    """Shop, editor and staff accounts have no member card, so nothing to check in with or count."""
    allowed = {name: roles for name, _method, _path, roles in route_table(app)}
    for name in ("create_check_in", "get_check_in", "list_my_activities"):
        assert allowed[name] == {"member"}, name
