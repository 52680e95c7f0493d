"""The member's check-in at a designated activity over HTTP: the JSON endpoint the phone sends its kept
check-ins to (every answer the phone acts on), the scanner page with what the phone decides by, and the
member's activities with the progress toward premium on the card and the account page."""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, time, timedelta, timezone
from html import unescape

import pytest

from app.i18n import TOKYO, to_tokyo
from app.keyfile import new_signing_key
from app.routes.queued import scanned_at_from
from app.services.activities import check_ins
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenSigner
from db.tables import Application, CheckIn
from tests import factories
from tests.conftest import log_in

JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
URL = "/activities/check-ins"


# Noon in Japan today, far from either midnight: a code is taken a few minutes before its day begins (a phone's
# clock may run ahead), so near midnight "tomorrow's code" would be good and the refusals would change.
NOON = datetime.combine(to_tokyo(datetime.now(timezone.utc)).date(), time(12), TOKYO)


@pytest.fixture(autouse=True)
def noon_in_japan(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOON)


def today():
    return NOON.date()


def nonce() -> str:
    return secrets.token_urlsafe(12)


async def send(client, body: object, raw: bytes | None = None):
    token = await client.ensure_csrf()
    content = raw if raw is not None else json.dumps(body).encode()
    return await client.post(URL, content=content, headers={**JSON_HEADERS, "x-csrftoken": token})


@pytest.fixture
async def area() -> int:
    return await factories.area()


@pytest.fixture
async def activity(area) -> int:
    """Open from a week ago to a week from now, so today's code is good."""
    return await factories.activity(area, starts_on=today() - timedelta(days=7), ends_on=today() + timedelta(days=7))


@pytest.fixture
async def member(client):
    registered = await factories.member()
    await log_in(client, registered.account_id)
    return registered


def code(app, activity_id: int, days_from_today: int = 0) -> str:
    return check_ins.code_for(app.state.signer, activity_id, today() + timedelta(days=days_from_today))


def now_ms() -> int:
    return int(NOON.timestamp() * 1000)


# --- the endpoint ----------------------------------------------------------------------------------------


async def test_a_scanned_code_is_recorded_and_sending_it_again_answers_already(app, client, activity, member):
    body = {"code": code(app, activity), "nonce": nonce(), "scanned_at": now_ms(), "member_no": member.member_no}
    first = await send(client, body)
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "recorded", "activity_id": activity, "title": "樽前山の登山道整備",
                            "day": today().isoformat()}
    assert first.headers["cache-control"] == "no-store"
    again = await send(client, body)  # the phone did not hear the answer
    assert (again.status_code, again.json()["status"]) == (200, "already")
    another_scan = await send(client, {**body, "nonce": nonce()})  # a second scan the same day
    assert another_scan.json()["status"] == "already"
    rows = await CheckIn.select(CheckIn.member, CheckIn.method, CheckIn.client_nonce)
    assert rows == [{"member": member.member_id, "method": "code", "client_nonce": body["nonce"]}]


@pytest.mark.parametrize("scanned_at", [
    "2026-11-14T10:30:00+09:00", "2026-11-14T01:30:00Z", "2026-11-14T10:30:00", "1794619800000", 1794619800000.0,
])
def test_the_time_of_the_scan_is_read_as_iso_8601_or_epoch_milliseconds(scanned_at):
    """Synced later: the day is the code's, the time the phone's (a zoneless time is Japan's)."""
    assert scanned_at_from(scanned_at) == datetime(2026, 11, 14, 1, 30, tzinfo=timezone.utc)


async def test_a_check_in_kept_offline_is_taken_when_synced_within_three_days(app, client, area, member):
    two_days_ago = today() - timedelta(days=2)
    activity = await factories.activity(area, starts_on=two_days_ago, ends_on=two_days_ago)
    scanned = NOON - timedelta(days=2)
    body = {"code": check_ins.code_for(app.state.signer, activity, two_days_ago), "nonce": nonce(),
            "scanned_at": scanned.isoformat()}
    response = await send(client, body)
    assert (response.status_code, response.json()["status"], response.json()["day"]) == (200, "recorded", two_days_ago.isoformat())


async def refusal(client, body) -> tuple[int, str, str]:
    response = await send(client, body)
    data = response.json()
    assert data["status"] == "refused" and data["detail"], response.text
    assert response.headers["cache-control"] == "no-store"
    return response.status_code, data["reason"], data["detail"]


async def test_every_refusal_of_the_rules_is_a_422_with_the_reason_and_the_words_to_show(app, client, area, activity, member):
    signer = app.state.signer
    past = today() - timedelta(days=6)
    ended = await factories.activity(area, starts_on=past, ends_on=today() - timedelta(days=1))
    cancelled = await factories.activity(area, status="cancelled", starts_on=today(), ends_on=today())
    small = await factories.activity(area, capacity=1, starts_on=today(), ends_on=today())
    await check_ins.with_code(signer, code(app, small), (await factories.member("先に来た人")).member_id, nonce(), None)
    stranger = TokenSigner(new_signing_key())
    cases = {
        "damaged": {"code": "NOT-A-CODE"},
        "forged": {"code": check_ins.code_for(stranger, activity, today())},
        "wrong_kind": {"code": signer.sign("card", member.member_id, NOON + timedelta(days=1))},
        "expired": {"code": code(app, activity, -1)},
        "not_yet": {"code": code(app, activity, 1)},
        "too_late": {"code": check_ins.code_for(signer, activity, past),
                     "scanned_at": (NOON - timedelta(days=6)).isoformat()},
        "not_found": {"code": code(app, 999_999)},
        "cancelled": {"code": code(app, cancelled)},
        "outside_period": {"code": code(app, ended)},
        "full": {"code": code(app, small)},
        "bad_nonce": {"code": code(app, activity), "nonce": "short"},
    }
    for reason, changes in cases.items():
        body = {"code": "", "nonce": nonce(), "scanned_at": now_ms(), **changes}
        status, given, detail = await refusal(client, body)
        assert (status, given) == (422, reason)
        assert detail == check_ins.CheckInRefused(reason).message
    assert await CheckIn.count() == 1  # only the one who came first to the small activity


@pytest.mark.parametrize("raw, status, reason", [
    (b"{not json", 400, "bad_json"),
    (b"\xff\xfe", 400, "bad_json"),
    (b"[1, 2]", 400, "bad_json"),
    (b"null", 400, "bad_json"),
    (b"[" * 100_000, 400, "bad_json"),
    (b"{}", 422, "missing"),
    (b'{"code": "ABC", "nonce": "abcdefgh"}', 422, "missing"),
    (b'{"code": 12, "nonce": "abcdefgh", "scanned_at": 1}', 422, "missing"),
    (b'{"code": "ABC", "nonce": null, "scanned_at": 1}', 422, "missing"),
    (b'{"code": "ABC", "nonce": "abcdefgh", "scanned_at": "yesterday"}', 422, "bad_time"),
    (b'{"code": "ABC", "nonce": "abcdefgh", "scanned_at": true}', 422, "bad_time"),
    (b'{"code": "ABC", "nonce": "abcdefgh", "scanned_at": 1e309}', 422, "bad_time"),
    (b'{"code": "ABC", "nonce": "abcdefgh", "scanned_at": -5}', 422, "bad_time"),
    (b'{"code": "ABC", "nonce": "abcdefgh", "scanned_at": "2026-02-30T10:00:00"}', 422, "bad_time"),
])
async def test_what_is_not_a_check_in_is_refused_as_json_never_a_500(client, member, raw, status, reason):
    response = await send(client, None, raw=raw)
    assert response.status_code == status
    assert response.json()["reason"] == reason and response.json()["detail"]


async def test_a_check_in_kept_for_another_member_of_this_phone_is_kept_for_them(app, client, activity, member):
    body = {"code": code(app, activity), "nonce": nonce(), "scanned_at": now_ms(), "member_no": "TMK-999999"}
    status, reason, _detail = await refusal(client, body)
    assert (status, reason) == (409, "other_member")
    assert await CheckIn.count() == 0


async def test_only_a_logged_in_member_may_send_a_check_in(app, client, activity):
    body = {"code": code(app, activity), "nonce": nonce(), "scanned_at": now_ms()}
    anonymous = await send(client, body)
    assert anonymous.status_code == 401 and anonymous.json()["detail"]
    shop = await factories.staff_account("店舗 田中", role="shop", shop=await factories.shop())
    editor = await factories.staff_account("編集 鈴木", role="editor", area=await factories.area("樽前", "tarumae"))
    for account_id in (shop, editor, await factories.staff_account()):
        client.cookies.clear()
        client.csrf_token = ""
        await log_in(client, account_id)
        response = await send(client, {**body, "nonce": nonce()})
        assert response.status_code == 403 and response.json()["detail"]
    assert await CheckIn.count() == 0


async def test_a_check_in_without_the_csrf_header_is_refused(app, client, activity, member):
    await client.ensure_csrf()
    body = {"code": code(app, activity), "nonce": nonce(), "scanned_at": now_ms()}
    response = await client.post(URL, content=json.dumps(body), headers=JSON_HEADERS)
    assert response.status_code == 403
    assert await CheckIn.count() == 0


# --- the pages ---------------------------------------------------------------------------------------------


def attribute(html: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', html)
    assert match, name
    return unescape(match.group(1))


async def test_the_check_in_page_gives_the_phone_the_public_key_and_the_rules(app, client, member):
    response = await client.get("/activities/check-in")
    assert response.status_code == 200
    assert "no-store" not in response.headers["cache-control"]  # the service worker keeps it for the venue
    html = response.text
    assert 'data-testid="scanner"' in html and 'data-testid="check-in-code"' in html
    rules = json.loads(attribute(html, "data-rules"))
    keys = {int(k): v for k, v in rules["keys"].items()}
    signer = app.state.signer
    assert list(keys) == [signer.key_id] and len(keys[signer.key_id]) == 43  # 32 bytes, base64url
    assert (rules["version"], rules["kind"], rules["valid_ms"], rules["skew_ms"]) == (1, 3, 86_400_000, 600_000)
    assert set(rules["messages"]) == {"damaged", "forged", "wrong_kind", "expired", "not_yet"}
    assert attribute(html, "data-member-no") == member.member_no
    assert attribute(html, "data-send-url") == URL


async def test_the_activities_page_card_and_account_show_the_progress(app, client, area, activity, member):
    await check_ins.with_code(app.state.signer, code(app, activity), member.member_id, nonce(), None)
    page = await client.get("/account/activities")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'data-testid="progress-fiscal-year">1 / 3<', html)
    assert re.search(r'data-testid="progress-twelve-months">1 / 3<', html)
    assert 'data-may-apply="no"' in html
    assert html.count('data-testid="activity-row"') >= 1
    assert f'data-source="activity" data-id="{activity}"' in html and 'data-how="code"' in html
    for path in ("/card", "/account"):
        other = await client.get(path)
        assert re.search(r'data-testid="progress-fiscal-year">1 / 3<', other.text), path
        assert 'href="/account/activities"' in other.text


async def test_earlier_fiscal_years_are_listed_with_their_activities(app, client, area, member):
    long_ago = datetime.now(timezone.utc) - timedelta(days=800)
    program = await factories.program(area, starts_at=long_ago, ends_at=long_ago)
    application = await factories.attendance(program, member.member_id)
    await Application.update({Application.attended_at: long_ago}).where(Application.id == application)
    html = (await client.get("/account/activities")).text
    assert 'data-testid="no-activities"' in html
    assert html.count('data-testid="earlier-year"') == 1
    assert f'data-source="program" data-id="{program}"' in html and 'data-how="attended"' in html
