"""Designated activities through the organiser's pages: the list scoped to the editor's area, the form with a
message per field, calling off and reopening, the card scanned at the venue, a check-in by hand, the CSV, and the
daily check-in code for the door and for posters; every bad input answered with a page, never a 500."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest

from app.services.activities import check_ins
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenSigner
from db.tables import Activity, AuditLog, CheckIn
from tests import factories
from tests.conftest import log_in

QR = '<svg role="img"'  # the check-in code (the icons are SVG too)


def today() -> date:
    return clock.today_in_japan()


async def running_activity(area: int, **fields) -> int:
    """An activity taking place from yesterday to tomorrow (in Japan), so today's card scan counts."""
    return await factories.activity(area, starts_on=today() - timedelta(days=1), ends_on=today() + timedelta(days=1),
                                    **fields)


def form(**changes) -> dict:
    values = {"title": "海岸清掃ボランティア", "kind": "volunteer", "description": "ごみ袋は用意します。",
              "starts_on": "2026-11-01", "ends_on": "2026-11-03", "place": "勇払海岸", "map_url": "",
              "organiser": "勇払まちづくり会", "counts_for_premium": "1", "capacity": "20"}
    values.update(changes)
    return values


# The list ------------------------------------------------------------------------------------------


async def test_an_editor_lists_only_their_areas_activities_and_staff_list_every_area(client, scene):
    await factories.activity(scene.area, title="勇払の活動")
    await factories.activity(scene.other_area, title="樽前の活動")
    await log_in(client, scene.editor.account_id)
    mine = await client.get("/editor/activities")
    assert mine.status_code == 200 and mine.headers["cache-control"] == "no-store"
    assert mine.text.count('data-testid="activity-row"') == 1 and "勇払の活動" in mine.text and "樽前の活動" not in mine.text
    await log_in(client, scene.staff.account_id)
    every = await client.get("/editor/activities")
    assert every.text.count('data-testid="activity-row"') == 2 and 'data-testid="active-members-link"' in every.text


async def test_the_list_counts_the_members_checked_in_and_shows_a_called_off_activity(client, scene):
    activity = await running_activity(scene.area)
    await factories.activity(scene.area, title="中止した活動", status="cancelled")
    for name in ("花子", "太郎"):
        member = await factories.member(name)
        await check_ins.by_hand(activity, member.member_no, today().isoformat(), "受付で記名",
                                check_ins.Actor(scene.staff.account_id, "staff"))
    await log_in(client, scene.editor.account_id)
    page = await client.get("/editor/activities")
    assert re.search(rf'data-activity-id="{activity}".*?data-testid="activity-members">2<', page.text, re.S)
    assert 'data-status="cancelled"' in page.text


async def test_the_staff_console_and_the_programs_list_link_to_the_activities(client, scene):
    await log_in(client, scene.staff.account_id)
    assert 'data-testid="staff-activity-list"' in (await client.get("/staff")).text
    await log_in(client, scene.editor.account_id)
    assert 'data-testid="activities-link"' in (await client.get("/editor/programs")).text


# The form ------------------------------------------------------------------------------------------


async def test_an_editor_creates_an_activity_in_their_own_area(client, scene):
    await log_in(client, scene.editor.account_id)
    new = await client.get("/editor/activities/new")
    assert new.status_code == 200 and 'name="area"' not in new.text  # an editor's area is their own
    created = await client.submit("/editor/activities", form(area=str(scene.other_area)), follow_redirects=False)
    assert created.status_code == 303
    row = await Activity.select().first()
    assert (row["title"], row["area"], row["capacity"], row["starts_on"]) == ("海岸清掃ボランティア", scene.area, 20,
                                                                               date(2026, 11, 1))
    assert created.headers["location"] == f"/editor/activities/{row['id']}"
    assert await AuditLog.exists().where(AuditLog.action == "activity.create")


async def test_staff_choose_the_area_and_an_unknown_area_is_a_message(client, scene):
    await log_in(client, scene.staff.account_id)
    assert 'name="area"' in (await client.get("/editor/activities/new")).text
    wrong = await client.submit("/editor/activities", form(area="999999"))
    assert wrong.status_code == 422 and 'data-testid="error-area"' in wrong.text
    done = await client.submit("/editor/activities", form(area=str(scene.other_area)), follow_redirects=False)
    assert done.status_code == 303 and (await Activity.select(Activity.area).first())["area"] == scene.other_area


async def test_invalid_input_comes_back_with_a_message_per_field_and_nothing_lost(client, scene):
    await log_in(client, scene.editor.account_id)
    bad = form(title="", kind="party", starts_on="2026-02-30", ends_on="yesterday", place="", capacity="-3",
               map_url="http://insecure.example", description="説明は残る")
    response = await client.submit("/editor/activities", bad)
    assert response.status_code == 422
    for field in ("title", "kind", "starts_on", "ends_on", "place", "capacity", "map_url"):
        assert f'data-testid="error-{field}"' in response.text, field
    assert "説明は残る" in response.text and 'value="2026-02-30"' in response.text and 'value="-3"' in response.text
    assert await Activity.count() == 0
    # As HTMX posts it: the form alone
    fragment = await client.hx_post("/editor/activities", bad)
    assert fragment.status_code == 422 and "<html" not in fragment.text and 'data-testid="activity-form"' in fragment.text


async def test_missing_and_repeated_fields_are_a_form_with_messages_not_an_error(client, scene):
    await log_in(client, scene.editor.account_id)
    empty = await client.submit("/editor/activities", {})
    assert empty.status_code == 422 and 'data-testid="error-title"' in empty.text
    token = await client.ensure_csrf()
    repeated = await client.post("/editor/activities", content=(
        f"_csrf_token={token}&title=A&title=B&kind=volunteer&kind=online&starts_on=2026-11-01&starts_on=x"
        "&place=%E5%8B%87%E6%89%95&place=y").encode(), headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False)
    assert repeated.status_code == 303  # the first of each repeated field is taken
    assert (await Activity.select(Activity.title).first())["title"] == "A"


async def test_editing_keeps_the_values_and_saves_the_change(client, scene):
    activity = await factories.activity(scene.area, capacity=None, counts_for_premium=False)
    await log_in(client, scene.editor.account_id)
    edit = await client.get(f"/editor/activities/{activity}/edit")
    assert edit.status_code == 200 and 'value="2026-11-01"' in edit.text and "樽前山 七合目ヒュッテ" in edit.text
    assert 'checked data-testid="field-counts_for_premium"' not in edit.text  # as stored: not counted
    invalid = await client.submit(f"/editor/activities/{activity}", form(ends_on="2026-10-01"))
    assert invalid.status_code == 422 and 'data-testid="error-ends_on"' in invalid.text
    saved = await client.submit(f"/editor/activities/{activity}", form(title="登山道整備（秋）"), follow_redirects=False)
    assert saved.status_code == 303
    row = await Activity.select().where(Activity.id == activity).first()
    assert (row["title"], row["counts_for_premium"], row["capacity"]) == ("登山道整備（秋）", True, 20)


async def test_calling_off_and_reopening_an_activity(client, scene):
    activity = await factories.activity(scene.area)
    await log_in(client, scene.editor.account_id)
    assert (await client.submit(f"/editor/activities/{activity}/cancel", follow_redirects=False)).status_code == 303
    page = await client.get(f"/editor/activities/{activity}")
    assert 'data-status="cancelled"' in page.text and 'data-testid="reopen-activity"' in page.text
    assert 'data-testid="card-form"' not in page.text
    assert (await client.submit(f"/editor/activities/{activity}/reopen", follow_redirects=False)).status_code == 303
    assert (await Activity.select(Activity.status).first())["status"] == "open"


# Another area's activity, ids that name nothing, and who may open the pages at all --------------------


async def test_another_areas_activity_is_refused_to_an_editor_on_every_page(client, scene):
    theirs = await factories.activity(scene.other_area)
    await log_in(client, scene.editor.account_id)
    for path in ("", "/edit", "/code", "/codes", "/check-ins/csv"):
        assert (await client.get(f"/editor/activities/{theirs}{path}")).status_code == 403, path
    for path in ("", "/cancel", "/reopen", "/check-ins/card", "/check-ins/hand"):
        response = await client.submit(f"/editor/activities/{theirs}{path}", form())
        assert response.status_code == 403, path
    assert (await Activity.select(Activity.title, Activity.status).first()) == {"title": "樽前山の登山道整備",
                                                                                 "status": "open"}


@pytest.mark.parametrize("activity_id", ["999999", "0", "2147483648", "99999999999999999999"])
async def test_an_id_that_names_no_activity_is_the_not_found_page(client, scene, activity_id):
    await log_in(client, scene.staff.account_id)
    assert (await client.get(f"/editor/activities/{activity_id}")).status_code == 404
    assert (await client.get(f"/editor/activities/{activity_id}/code")).status_code == 404
    assert (await client.submit(f"/editor/activities/{activity_id}/check-ins/hand", {})).status_code == 404


async def test_members_and_shops_are_refused_and_visitors_sent_to_log_in(client, scene):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    await log_in(client, member.account_id)
    assert (await client.get(f"/editor/activities/{activity}")).status_code == 403
    assert (await client.get("/editor/activities")).status_code == 403
    await log_in(client, await factories.staff_account("店舗", role="shop", shop=await factories.shop()))
    assert (await client.get(f"/editor/activities/{activity}/code")).status_code == 403
    client.cookies.clear()
    anonymous = await client.get("/editor/activities", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


# Check-ins: the card at the venue, by hand, the CSV ----------------------------------------------------


async def test_the_organiser_scans_a_card_and_the_member_is_checked_in_for_today(client, scene, settings):
    activity = await running_activity(scene.area)
    member = await factories.member("来場した花子")
    card = TokenSigner(settings.signing_key).sign("card", member.member_id, clock.now() + timedelta(days=1))
    await log_in(client, scene.editor.account_id)
    preview = await client.get(f"/editor/activities/{activity}", params={"code": card})
    assert preview.status_code == 200 and 'data-testid="card-found"' in preview.text and "来場した花子" in preview.text
    assert 'data-scan-url="/editor/activities/' in preview.text  # the member-card scanner, as at program attendance
    done = await client.submit(f"/editor/activities/{activity}/check-ins/card", {"code": card}, follow_redirects=True)
    assert done.status_code == 200 and 'data-testid="flash"' in done.text and member.member_no in done.text
    assert 'data-method="card"' in done.text
    again = await client.submit(f"/editor/activities/{activity}/check-ins/card", {"code": card}, follow_redirects=False)
    assert again.status_code == 303
    assert [(r["day"], r["method"]) for r in await CheckIn.select(CheckIn.day, CheckIn.method)] == [(today(), "card")]


async def test_a_bad_card_is_a_message_next_to_the_code(client, scene, settings):
    activity = await running_activity(scene.area)
    member = await factories.member()
    await log_in(client, scene.editor.account_id)
    signer = TokenSigner(settings.signing_key)
    for code in ("", "ABCDEFGH" * 8, signer.sign("card", member.member_id, clock.now() - timedelta(minutes=1)),
                 check_ins.code_for(signer, activity, today()), "x" * 5000):
        response = await client.submit(f"/editor/activities/{activity}/check-ins/card", {"code": code})
        assert response.status_code == 422 and 'data-testid="error-code"' in response.text, code[:20]
    preview = await client.get(f"/editor/activities/{activity}", params={"code": "nonsense"})
    assert preview.status_code == 422 and 'data-testid="error-code"' in preview.text
    assert await CheckIn.count() == 0


async def test_a_card_scanned_outside_the_period_or_for_a_called_off_activity_is_refused(client, scene, settings):
    over = await factories.activity(scene.area, starts_on=date(2020, 4, 1), ends_on=date(2020, 4, 2))
    called_off = await running_activity(scene.area, status="cancelled")
    member = await factories.member()
    card = TokenSigner(settings.signing_key).sign("card", member.member_id, clock.now() + timedelta(days=1))
    await log_in(client, scene.editor.account_id)
    for activity in (over, called_off):
        response = await client.submit(f"/editor/activities/{activity}/check-ins/card", {"code": card})
        assert response.status_code == 422 and 'data-testid="error-code"' in response.text
    assert await CheckIn.count() == 0


async def test_a_check_in_by_hand_needs_a_member_a_day_of_the_activity_and_a_reason(client, scene):
    activity = await factories.activity(scene.area)
    member = await factories.member()
    await log_in(client, scene.editor.account_id)
    cases = [({"member_no": member.member_no, "day": "2026-11-02", "reason": ""}, "reason"),
             ({"member_no": member.member_no, "day": "2026-11-31", "reason": "記名"}, "day"),
             ({"member_no": member.member_no, "day": "2026-12-05", "reason": "記名"}, "day"),
             ({"member_no": "TMK-999999", "day": "2026-11-02", "reason": "記名"}, "member_no"),
             ({"member_no": "a\x00b", "day": "2026-11-02", "reason": "記名"}, "member_no"),
             ({}, "reason")]
    for data, field in cases:
        response = await client.submit(f"/editor/activities/{activity}/check-ins/hand", data)
        assert response.status_code == 422 and f'data-testid="error-{field}"' in response.text, data
        assert 'data-testid="hand-section" open' in response.text
    kept = await client.submit(f"/editor/activities/{activity}/check-ins/hand",
                               {"member_no": member.member_no, "day": "2026-11-02", "reason": "スマホを忘れた"},
                               follow_redirects=False)
    assert kept.status_code == 303
    rows = await CheckIn.select(CheckIn.day, CheckIn.method, CheckIn.reason)
    assert rows == [{"day": date(2026, 11, 2), "method": "hand", "reason": "スマホを忘れた"}]
    assert await AuditLog.exists().where(AuditLog.action == "check_in.by_hand")


async def test_a_refused_check_in_by_hand_keeps_what_was_typed(client, scene):
    activity = await factories.activity(scene.area)
    await log_in(client, scene.staff.account_id)
    response = await client.submit(f"/editor/activities/{activity}/check-ins/hand",
                                   {"member_no": "TMK-404040", "day": "2026-11-05", "reason": "受付で記名した"})
    assert response.status_code == 422
    assert 'value="TMK-404040"' in response.text and 'value="2026-11-05"' in response.text and "受付で記名した" in response.text


async def test_the_check_ins_csv_is_for_excel_and_recorded_as_an_export(client, scene):
    activity = await factories.activity(scene.area)
    member = await factories.member("=HYPERLINK(1)")
    await check_ins.by_hand(activity, member.member_no, "2026-11-03", "記名", check_ins.Actor(scene.staff.account_id, "staff"))
    await log_in(client, scene.editor.account_id)
    response = await client.get(f"/editor/activities/{activity}/check-ins/csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store" and response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][:3] == ["2026-11-03", member.member_no, "'=HYPERLINK(1)"]
    assert rows[0][1] == "会員番号"  # Japanese headers whatever the organiser's language
    audit = await AuditLog.select().where(AuditLog.action == "export.csv").first().output(load_json=True)
    assert (audit["actor"], audit["target_type"], audit["target_id"]) == (scene.editor.account_id, "activity", str(activity))
    assert audit["detail"] == {"table": "check_ins", "rows": 1}


# The daily check-in code -------------------------------------------------------------------------------


async def test_todays_code_is_a_big_qr_that_checks_a_member_in_on_this_day(client, scene, app):
    activity = await running_activity(scene.area)
    await log_in(client, scene.editor.account_id)
    response = await client.get(f"/editor/activities/{activity}/code")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert f'data-day="{today().isoformat()}"' in response.text and QR in response.text
    assert 'data-testid="code-valid"' in response.text and response.text.count('data-testid="code-day-link"') == 3
    # The QR is the day's signed code: what a member's phone would send
    member = await factories.member()
    code = check_ins.code_for(app.state.signer, activity, today())
    recorded = await check_ins.with_code(app.state.signer, code, member.member_id, "n" * 12, None)
    assert recorded.first and recorded.day == today()


async def test_a_chosen_day_shows_its_code_and_a_day_outside_the_period_links_to_its_days(client, scene):
    activity = await factories.activity(scene.area)  # 2026-11-01 to 2026-11-30
    await log_in(client, scene.staff.account_id)
    chosen = await client.get(f"/editor/activities/{activity}/code", params={"day": "2026-11-14"})
    assert chosen.status_code == 200 and 'data-day="2026-11-14"' in chosen.text
    for day in ("2026-12-01", "2026-02-30", "tomorrow", "2026-11-14" * 100, "\x00"):
        outside = await client.get(f"/editor/activities/{activity}/code", params={"day": day})
        assert outside.status_code == 422 and 'data-testid="no-code"' in outside.text and QR not in outside.text
        assert outside.text.count('data-testid="code-day-link"') == 30
    # No ?day= and today outside the period: the message, not an error
    today_outside = await client.get(f"/editor/activities/{await factories.activity(scene.area, starts_on=date(2020, 4, 1), ends_on=date(2020, 4, 1))}/code")
    assert today_outside.status_code == 200 and 'data-testid="no-code"' in today_outside.text


async def test_a_called_off_activity_shows_no_code(client, scene):
    activity = await running_activity(scene.area, status="cancelled")
    await log_in(client, scene.editor.account_id)
    for path in ("code", "codes"):
        response = await client.get(f"/editor/activities/{activity}/{path}")
        assert 'data-testid="no-code"' in response.text and QR not in response.text


async def test_the_posters_print_one_code_per_day_at_most_31_a_page(client, scene):
    activity = await factories.activity(scene.area, starts_on=date(2026, 11, 1), ends_on=date(2027, 1, 5))  # 66 days
    await log_in(client, scene.editor.account_id)
    first = await client.get(f"/editor/activities/{activity}/codes")
    assert first.status_code == 200 and first.text.count('data-testid="check-in-code"') == 31
    assert 'data-day="2026-11-01"' in first.text and 'data-day="2026-12-01"' in first.text
    last = await client.get(f"/editor/activities/{activity}/codes", params={"page": "3"})
    assert last.text.count('data-testid="check-in-code"') == 4 and 'data-day="2027-01-05"' in last.text
    for page in ("0", "4", "x", "-1", "99999999999"):
        bad = await client.get(f"/editor/activities/{activity}/codes", params={"page": page})
        assert bad.status_code == 422 and 'data-testid="no-code"' in bad.text, page


async def test_a_file_sent_where_text_is_expected_is_a_form_error_not_a_500(client, scene):
    """A hand-made multipart request (found by the route fuzzer, seed 253698): a file in a text field."""
    await log_in(client, scene.editor.account_id)
    token = await client.ensure_csrf()
    response = await client.post("/editor/activities", data={"_csrf_token": token, "kind": "volunteer"},
                                 files={"title": ("title.txt", b"1", "text/plain")})
    assert response.status_code == 422
