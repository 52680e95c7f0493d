"""Programs through the pages: the public list and detail (OGP, .ics), applying with a waitlist, cancelling,
the editors' pages scoped to their area, attendance by the member card, the applicants' CSV. (The members with
three activities this year are the activities domain's page: tests/routes/activities.)"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from app.demo import load_demo_data
from app.demo.programs import load_program_demo
from app.i18n import TOKYO
from app.services.programs import applications
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenSigner
from db.tables import Application, AuditLog, Notice, Program
from tests import factories
from tests.conftest import Client, log_in

MEETING = "https://meet.example.jp/tomakomai-test"


async def member_at(client: Client, name: str = "つなぐ花子") -> tuple[int, int]:
    """A member, logged in on `client`: (account id, member id)."""
    registered = await factories.member(name)
    await log_in(client, registered.account_id)
    return registered.account_id, registered.member_id


async def members(count: int) -> list[int]:
    return [(await factories.member(f"会員{i}")).member_id for i in range(count)]


async def fill(program_id: int, member_ids: list[int]) -> None:
    for member_id in member_ids:
        await applications.apply(program_id, member_id, "", [], clock.now())


# Public pages --------------------------------------------------------------------------------------


async def test_the_public_list_filters_by_area_theme_month_and_open_for_application(client):
    yufutsu, tarumae = await factories.area("勇払", "yufutsu"), await factories.area("樽前", "tarumae")
    august = datetime(2031, 8, 10, 10, 0, tzinfo=TOKYO)
    await factories.program(yufutsu, title="酪農体験", themes=["agriculture"], starts_at=august, ends_at=august + timedelta(hours=6))
    await factories.program(tarumae, title="空き家ワークショップ", themes=["vacant_houses"])
    await factories.program(tarumae, title="受付終了の交流会", kind="event", meeting_url=MEETING, status="closed")
    await factories.program(tarumae, title="下書き", status="draft")

    everything = await client.get("/programs")
    assert everything.status_code == 200
    assert everything.text.count('data-testid="program-card"') == 3
    assert "下書き" not in everything.text
    assert "交流会" in everything.text and 'data-testid="badge-online"' in everything.text

    by_area = await client.get("/programs", params={"area": str(yufutsu)})
    assert by_area.text.count('data-testid="program-card"') == 1 and "酪農体験" in by_area.text
    by_theme = await client.get("/programs", params={"theme": "vacant_houses"})
    assert by_theme.text.count('data-testid="program-card"') == 1 and "空き家ワークショップ" in by_theme.text
    by_month = await client.get("/programs", params={"month": "2031-08"})
    assert by_month.text.count('data-testid="program-card"') == 1 and "酪農体験" in by_month.text
    assert 'value="2031-08" selected' in by_month.text
    typed_on_a_phone = await client.get("/programs", params={"month": "２０３１-０８"})
    assert typed_on_a_phone.text.count('data-testid="program-card"') == 1
    open_only = await client.get("/programs", params={"open": "1"})
    assert open_only.text.count('data-testid="program-card"') == 2 and "受付終了の交流会" not in open_only.text


async def test_the_list_shows_what_is_to_come_soonest_first_and_what_ended_on_request(client):
    area = await factories.area()
    now = clock.now()
    later = await factories.program(area, title="秋の収穫祭", starts_at=now + timedelta(days=60), ends_at=now + timedelta(days=60, hours=5))
    sooner = await factories.program(area, title="冬の星空観察", starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=3, hours=2))
    await factories.program(area, title="春の植樹", status="completed", starts_at=now - timedelta(days=30),
                            ends_at=now - timedelta(days=30) + timedelta(hours=3), capacity=1)
    upcoming = await client.get("/programs")
    assert upcoming.text.index("冬の星空観察") < upcoming.text.index("秋の収穫祭")
    assert "春の植樹" not in upcoming.text and 'data-testid="show-upcoming" aria-current="page"' not in upcoming.text
    assert f'href="/programs/{sooner}"' in upcoming.text and f'href="/programs/{later}"' in upcoming.text
    ended = await client.get("/programs", params={"past": "1"})
    card = ended.text[ended.text.index('data-testid="program-card"'):]
    assert "春の植樹" in card and 'data-testid="badge-ended"' in card and "冬の星空観察" not in ended.text
    assert "満席" not in card and ">終了</dd>" in card  # not "full, join the waiting list" for a program that is over
    assert 'name="past" value="1"' in ended.text  # the filters keep to the ended ones


async def test_the_calendar_shows_a_month_with_each_program_on_its_day(client):
    area = await factories.area()
    day = datetime(2031, 8, 10, 10, 0, tzinfo=TOKYO)
    program = await factories.program(area, title="酪農体験", starts_at=day, ends_at=day + timedelta(hours=6))
    this_month = await client.get("/programs", params={"view": "calendar"})
    assert this_month.status_code == 200 and 'data-testid="program-calendar"' in this_month.text
    month = await client.get("/programs", params={"view": "calendar", "month": "2031-08", "area": str(area)})
    text = month.text
    assert '<strong data-testid="calendar-title">2031年8月</strong>' in text
    cell = text[text.index('data-testid="calendar-day-with-programs"'):]
    assert '<span class="day-number">10</span>' in cell[:200] and f'href="/programs/{program}"' in cell
    assert text.count("<tr>") == 1 + 6  # the weekday row and the weeks of August 2031 from Sunday (27 July to 6 September)
    assert f"month=2031-07&amp;area={area}" not in text  # (the order the filters are written in is the list's own)
    assert "month=2031-07" in text and "month=2031-09" in text and f"area={area}" in text
    assert "view=calendar" in text.split('data-testid="calendar-next"')[0].rsplit("href=", 1)[1]
    bad = await client.get("/programs", params={"view": "calendar", "month": "2031-13"})
    assert bad.status_code == 422 and 'data-testid="program-calendar"' in bad.text and 'data-testid="error-month"' in bad.text


async def test_a_program_links_its_place_on_a_map_and_google_calendar_and_the_ics_names_its_charset_once(client):
    area = await factories.area()
    start = datetime(2031, 8, 10, 10, 0, tzinfo=TOKYO)
    program = await factories.program(area, title="酪農体験", place="苫小牧市美沢 114", starts_at=start, ends_at=start + timedelta(hours=6))
    text = (await client.get(f"/programs/{program}")).text
    assert 'href="https://www.google.com/maps/search/?api=1&amp;query=%E8%8B%AB%E5%B0%8F%E7%89%A7%E5%B8%82%E7%BE%8E%E6%B2%A2%20114"' in text
    google = text.split('data-testid="google-calendar-link"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    query = parse_qs(urlsplit(google).query)
    assert google.startswith("https://calendar.google.com/calendar/render?")
    assert query["action"] == ["TEMPLATE"] and query["text"] == ["酪農体験"] and query["location"] == ["苫小牧市美沢 114"]
    assert query["dates"] == ["20310810T010000Z/20310810T070000Z"]
    ics = await client.get(f"/programs/{program}/calendar.ics")
    assert ics.headers["content-type"] == "text/calendar; charset=utf-8"


async def test_a_filter_change_by_htmx_gets_only_the_list_and_a_bad_month_is_explained(client):
    area = await factories.area()
    await factories.program(area)
    fragment = await client.get("/programs", params={"open": "1"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="program-browser"' in fragment.text
    assert fragment.headers["vary"].startswith("HX-Request")
    bad = await client.get("/programs", params={"month": "2031-13"})
    assert bad.status_code == 422
    assert 'data-testid="error-month"' in bad.text and "2026-08" in bad.text
    assert bad.text.count('data-testid="program-card"') == 1
    for month in ("0000-01", "9999-12", "2031-8", "august"):
        assert (await client.get("/programs", params={"month": month})).status_code == 422, month
    assert (await client.get("/programs", params={"area": "abc", "theme": "fishing"})).status_code == 422


async def test_the_detail_page_has_ogp_tags_a_share_link_and_a_body_without_scripts(client):
    area = await factories.area()
    program_id = await factories.program(
        area, title="樽前の空き家再生ワークショップ", summary="海の見える平屋を直します", image_url="/uploads/house.webp",
        body="## 作業\n\n**壁塗り**と床張り\n\n<script>alert(1)</script> [x](javascript:alert(1))",
    )
    response = await client.get(f"/programs/{program_id}")
    assert response.status_code == 200
    text = response.text
    url = f"http://localhost:8000/programs/{program_id}"
    assert '<meta property="og:title" content="樽前の空き家再生ワークショップ">' in text
    assert '<meta property="og:description" content="海の見える平屋を直します">' in text
    assert f'<meta property="og:url" content="{url}">' in text
    assert '<meta property="og:type" content="article">' in text
    assert '<meta property="og:image" content="http://localhost:8000/uploads/house.webp">' in text
    assert f'data-share-url="{url}"' in text and f'data-copy-url="{url}"' in text
    assert "https://social-plugins.line.me/lineit/share?url=http%3A//localhost%3A8000/programs/" in text
    assert "<strong>壁塗り</strong>" in text
    assert "<script>alert" not in text and 'href="javascript:' not in text
    assert f'href="/programs/{program_id}/calendar.ics"' in text


async def test_programs_that_are_not_published_are_not_found(client):
    area = await factories.area()
    for status in ("draft", "submitted", "rejected"):
        program_id = await factories.program(area, status=status)
        assert (await client.get(f"/programs/{program_id}")).status_code == 404
        assert (await client.get(f"/programs/{program_id}/calendar.ics")).status_code == 404
    assert (await client.get("/programs/999999")).status_code == 404


async def test_the_ics_file_has_crlf_lines_utc_times_a_uid_and_escaped_text(client):
    area = await factories.area()
    starts = datetime(2031, 8, 10, 10, 0, tzinfo=TOKYO)
    program_id = await factories.program(
        area, title="酪農体験; 搾乳, 哺乳", summary="1日目\n2日目", place="勇払ファーム",
        starts_at=starts, ends_at=starts + timedelta(hours=6),
    )
    response = await client.get(f"/programs/{program_id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert "attachment" in response.headers["content-disposition"]
    body = response.content.decode("utf-8")
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert "\n" not in body.replace("\r\n", "")
    unfolded = body.replace("\r\n ", "")
    assert "DTSTART:20310810T010000Z\r\n" in unfolded
    assert "DTEND:20310810T070000Z\r\n" in unfolded
    assert f"UID:program-{program_id}@localhost\r\n" in unfolded
    assert re.search(r"DTSTAMP:\d{8}T\d{6}Z\r\n", unfolded)
    assert "SUMMARY:酪農体験\\; 搾乳\\, 哺乳\r\n" in unfolded
    assert "DESCRIPTION:1日目\\n2日目\\n\\nhttp://localhost:8000/programs/" in unfolded
    assert all(len(line.encode("utf-8")) <= 75 for line in body.split("\r\n"))


# Members: applying, the waitlist, cancelling -------------------------------------------------------------


async def test_a_member_applies_with_answers_and_is_accepted(client):
    area = await factories.area()
    program_id = await factories.program(area, questions=["農業の経験は？"])
    _account, member_id = await member_at(client)
    page = await client.get(f"/programs/{program_id}")
    assert 'data-testid="apply-form"' in page.text and "農業の経験は？" in page.text
    response = await client.submit(f"/programs/{program_id}/apply", {"motivation": "牧場で働いてみたい", "answer_0": "家庭菜園"}, follow_redirects=False)
    assert response.status_code == 303
    after = await client.get(response.headers["location"])
    assert "参加が決まりました" in after.text and 'data-testid="application-status">参加決定<' in after.text
    application = await Application.select().where(Application.member == member_id).first().output(load_json=True)
    assert application["status"] == "accepted"
    assert application["answers"] == ["家庭菜園"]
    assert 'data-testid="cancel-application"' in after.text


async def test_the_eleventh_member_is_waitlisted(client):
    area = await factories.area()
    program_id = await factories.program(area, capacity=10)
    await fill(program_id, await members(10))
    page = await client.get(f"/programs/{program_id}")
    assert "満席（キャンセル待ちで申し込めます）" in page.text
    _account, member_id = await member_at(client, "11人目の花子")
    response = await client.submit(f"/programs/{program_id}/apply", {"motivation": "キャンセル待ちでも"}, follow_redirects=True)
    assert response.status_code == 200
    application = await Application.select().where(Application.member == member_id).first()
    assert application["status"] == "waitlisted"
    assert 'data-testid="application-status">キャンセル待ち<' in response.text
    assert (await Program.select(Program.seats_taken).where(Program.id == program_id).first())["seats_taken"] == 10


async def test_cancelling_a_seat_promotes_the_first_waitlisted_who_is_told(client):
    area = await factories.area()
    program_id = await factories.program(area, capacity=1, title="ほっき貝の浜で漁業体験")
    account_id, member_id = await member_at(client, "先に申し込んだ人")
    await client.submit(f"/programs/{program_id}/apply", {"motivation": ""})
    waiting = await factories.member("待っている人")
    await applications.apply(program_id, waiting.member_id, "", [], clock.now())

    response = await client.submit(f"/programs/{program_id}/cancel", follow_redirects=False)
    assert response.status_code == 303
    statuses = {row["member"]: row["status"] for row in await Application.select(Application.member, Application.status)}
    assert statuses == {member_id: "cancelled", waiting.member_id: "accepted"}
    notice = await Notice.select().where(Notice.account == waiting.account_id).first()
    assert notice is not None and "ほっき貝の浜で漁業体験" in notice["title"]
    again = await client.submit(f"/programs/{program_id}/cancel")
    assert again.status_code == 409
    assert account_id


async def test_applying_twice_is_refused_with_a_message(client):
    area = await factories.area()
    program_id = await factories.program(area)
    await member_at(client)
    await client.submit(f"/programs/{program_id}/apply", {"motivation": "1回目"})
    again = await client.submit(f"/programs/{program_id}/apply", {"motivation": "2回目"})
    assert again.status_code == 422
    assert 'data-testid="apply-error"' in again.text and "すでに申し込んでいます" in again.text
    assert await Application.count() == 1


async def test_applying_outside_the_period_is_refused_and_nothing_is_saved(client):
    area = await factories.area()
    now = clock.now()
    later = await factories.program(area, apply_from=now + timedelta(days=2), apply_until=now + timedelta(days=10))
    over = await factories.program(area, apply_from=now - timedelta(days=10), apply_until=now - timedelta(days=1))
    await member_at(client)
    assert 'data-testid="apply-not-yet"' in (await client.get(f"/programs/{later}")).text
    assert 'data-testid="apply-closed"' in (await client.get(f"/programs/{over}")).text
    for program_id in (later, over):
        response = await client.submit(f"/programs/{program_id}/apply", {"motivation": "参加したい"})
        assert response.status_code == 422
        assert 'data-testid="apply-error"' in response.text
    assert await Application.count() == 0
    assert (await Program.select(Program.seats_taken).where(Program.id == later).first())["seats_taken"] == 0


async def test_an_over_long_motivation_is_explained_next_to_the_field(client):
    area = await factories.area()
    program_id = await factories.program(area)
    await member_at(client)
    response = await client.hx_post(f"/programs/{program_id}/apply", {"motivation": "あ" * 2001})
    assert response.status_code == 422
    assert "<html" not in response.text  # the HTMX fragment
    assert 'data-testid="error-motivation"' in response.text and "2000" in response.text
    assert await Application.count() == 0


async def test_the_meeting_link_is_shown_only_to_accepted_registrants(app, client):
    area = await factories.area()
    program_id = await factories.program(area, kind="event", meeting_url=MEETING, capacity=1)
    public = await client.get(f"/programs/{program_id}")
    assert MEETING not in public.text and "交流会" in public.text
    await member_at(client, "参加者")
    await client.submit(f"/programs/{program_id}/apply", {"motivation": ""})
    assert MEETING in (await client.get(f"/programs/{program_id}")).text
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as other:
        await member_at(other, "キャンセル待ちの人")
        await other.submit(f"/programs/{program_id}/apply", {"motivation": ""})
        waiting = await other.get(f"/programs/{program_id}")
        assert MEETING not in waiting.text
        assert 'data-testid="meeting-link-hidden"' in waiting.text
        assert MEETING not in (await other.get(f"/programs/{program_id}/calendar.ics")).text


async def test_my_applications_list_the_status_per_program(client):
    area = await factories.area()
    first = await factories.program(area, title="酪農体験")
    second = await factories.program(area, title="空き家ワークショップ", capacity=1)
    await fill(second, await members(1))
    await member_at(client)
    await client.submit(f"/programs/{first}/apply", {"motivation": ""})
    await client.submit(f"/programs/{second}/apply", {"motivation": ""})
    mine = await client.get("/programs/mine")
    assert mine.status_code == 200
    assert mine.text.count('data-testid="my-application"') == 2
    assert "酪農体験" in mine.text and "空き家ワークショップ" in mine.text
    assert "参加決定" in mine.text and "キャンセル待ち" in mine.text


# Editors and the secretariat ----------------------------------------------------------------------------


def program_form(**changes) -> dict:
    form = {
        "kind": "program", "title": "ほっき貝の浜で漁業体験", "summary": "漁師さんと浜に出ます", "body": "朝6時に漁港集合。",
        "themes": ["agriculture", "tourism"], "place": "勇払漁港", "meeting_url": "",
        "starts_at": "2031-12-12T09:00", "ends_at": "2031-12-12T16:00",
        "apply_from": "2031-11-01T10:00", "apply_until": "2031-12-05T23:59", "capacity": "12",
        "support": "", "questions": "漁業の経験は？\n送迎は必要ですか？", "image_url": "",
    }
    form.update(changes)
    return form


async def test_an_editor_sees_only_the_programs_of_their_area(client):
    yufutsu, tarumae = await factories.area("勇払", "yufutsu"), await factories.area("樽前", "tarumae")
    await factories.program(yufutsu, title="勇払の酪農体験")
    await factories.program(tarumae, title="樽前の空き家再生", status="draft")
    editor = await factories.staff_account("勇払 編集 鈴木", role="editor", area=yufutsu)
    await log_in(client, editor)
    mine = await client.get("/editor/programs")
    assert mine.status_code == 200
    assert mine.text.count('data-testid="editor-program-row"') == 1 and "勇払の酪農体験" in mine.text
    staff = await factories.staff_account()
    await log_in(client, staff)
    everything = await client.get("/editor/programs")
    assert everything.text.count('data-testid="editor-program-row"') == 2


async def test_an_editor_cannot_open_or_change_another_areas_program_but_staff_can(client):
    yufutsu, tarumae = await factories.area("勇払", "yufutsu"), await factories.area("樽前", "tarumae")
    theirs = await factories.program(tarumae, title="樽前の空き家再生", status="draft")
    editor = await factories.staff_account("勇払 編集 鈴木", role="editor", area=yufutsu)
    await log_in(client, editor)
    for response in (
        await client.get(f"/editor/programs/{theirs}"),
        await client.submit(f"/editor/programs/{theirs}", program_form(title="書き換え")),
        await client.get(f"/editor/programs/{theirs}/applicants"),
        await client.get(f"/editor/programs/{theirs}/applicants/csv"),
        await client.submit(f"/editor/programs/{theirs}/submit"),
    ):
        assert response.status_code == 403
        assert 'data-testid="error-page"' in response.text
    assert (await Program.select(Program.title, Program.status).where(Program.id == theirs).first()) == {
        "title": "樽前の空き家再生", "status": "draft"}

    await log_in(client, await factories.staff_account())
    page = await client.get(f"/editor/programs/{theirs}")
    assert page.status_code == 200 and 'data-testid="program-form"' in page.text
    saved = await client.submit(f"/editor/programs/{theirs}", program_form(title="樽前の空き家再生 第2回", area=str(tarumae)), follow_redirects=False)
    assert saved.status_code == 303
    assert (await Program.select(Program.title).where(Program.id == theirs).first())["title"] == "樽前の空き家再生 第2回"


async def test_an_editor_drafts_a_program_in_tokyo_time_and_sends_it_for_review(client):
    area = await factories.area()
    editor = await factories.staff_account("勇払 編集 鈴木", role="editor", area=area)
    await log_in(client, editor)
    assert (await client.get("/editor/programs/new")).status_code == 200
    created = await client.submit("/editor/programs", program_form(), follow_redirects=False)
    assert created.status_code == 303
    program = await Program.select().first().output(load_json=True)
    assert program["area"] == area and program["status"] == "draft" and program["author"] == editor
    assert program["starts_at"] == datetime(2031, 12, 12, 9, 0, tzinfo=TOKYO)
    assert program["questions"] == ["漁業の経験は？", "送迎は必要ですか？"]
    edit = await client.get(created.headers["location"])
    assert 'value="2031-12-12T09:00"' in edit.text
    submitted = await client.submit(f"/editor/programs/{program['id']}/submit", follow_redirects=False)
    assert submitted.status_code == 303
    assert (await Program.select(Program.status).where(Program.id == program["id"]).first())["status"] == "submitted"
    in_review = await client.get(f"/editor/programs/{program['id']}")
    assert 'data-testid="not-editable"' in in_review.text
    refused = await client.submit(f"/editor/programs/{program['id']}/close")
    assert refused.status_code == 409 and 'data-testid="workflow-problem"' in refused.text


async def test_bad_program_input_is_422_with_a_message_next_to_each_field_and_nothing_saved(client):
    area = await factories.area()
    await log_in(client, await factories.staff_account("勇払 編集 鈴木", role="editor", area=area))
    bad = program_form(
        title="", capacity="0", ends_at="2031-12-11T09:00", apply_until="2031-10-01T00:00", starts_at="2031-12-12T09:00",
        kind="event", meeting_url="javascript:alert(1)", summary="あ" * 301, themes="fishing", apply_from="昨日",
    )
    response = await client.submit("/editor/programs", bad)
    assert response.status_code == 422
    for field in ("title", "capacity", "ends_at", "meeting_url", "summary", "themes", "apply_from"):
        assert f'data-testid="error-{field}"' in response.text, field
    assert "タイトルを入力してください" in response.text
    assert 'value="2031-12-12T09:00"' in response.text  # what was typed is kept
    assert await Program.count() == 0
    fragment = await client.hx_post("/editor/programs", {**bad, "_csrf_token": client.csrf_token})
    assert fragment.status_code == 422 and "<html" not in fragment.text


async def test_an_editors_change_to_a_published_program_waits_for_review_and_the_public_page_stays(client):
    area = await factories.area()
    program_id = await factories.program(area, title="勇払の酪農体験")
    await log_in(client, await factories.staff_account("勇払 編集 鈴木", role="editor", area=area))
    saved = await client.submit(f"/editor/programs/{program_id}", program_form(title="勇払の酪農体験（改訂）"), follow_redirects=False)
    assert saved.status_code == 303
    program = await Program.select(Program.title, Program.status).where(Program.id == program_id).first()
    assert program == {"title": "勇払の酪農体験", "status": "published"}
    public = await client.get(f"/programs/{program_id}")
    assert public.status_code == 200 and "勇払の酪農体験" in public.text and "（改訂）" not in public.text
    form = await client.get(saved.headers["location"])
    assert "審査" in form.text and 'data-testid="revision-banner"' in form.text
    assert 'value="勇払の酪農体験（改訂）"' in form.text  # the editor keeps working on the proposed version


async def test_capacity_below_the_accepted_people_is_refused_next_to_the_field(client):
    area = await factories.area()
    program_id = await factories.program(area)
    await fill(program_id, await members(3))
    await log_in(client, await factories.staff_account())
    response = await client.hx_post(f"/editor/programs/{program_id}", {**program_form(capacity="2", area=str(area)),
                                                                       "_csrf_token": client.csrf_token})
    assert response.status_code == 422
    assert "<html" not in response.text and 'data-testid="error-capacity"' in response.text
    assert (await Program.select(Program.capacity).where(Program.id == program_id).first())["capacity"] == 10


async def test_a_decision_moves_applicants_and_a_full_program_refuses_to_accept(client):
    area = await factories.area()
    program_id = await factories.program(area, capacity=1)
    first, second = await members(2)
    await fill(program_id, [first, second])
    await log_in(client, await factories.staff_account("勇払 編集 鈴木", role="editor", area=area))
    page = await client.get(f"/editor/programs/{program_id}/applicants")
    assert page.text.count('data-testid="applicant"') == 2
    waiting = await Application.select(Application.id).where(Application.member == second).first()
    full = await client.submit(f"/editor/applications/{waiting['id']}/decision", {"decision": "accept"})
    assert full.status_code == 409 and 'data-testid="decision-problem"' in full.text
    accepted = await Application.select(Application.id).where(Application.member == first).first()
    moved = await client.submit(f"/editor/applications/{accepted['id']}/decision", {"decision": "waitlist"}, follow_redirects=False)
    assert moved.status_code == 303
    ok = await client.submit(f"/editor/applications/{waiting['id']}/decision", {"decision": "accept"}, follow_redirects=False)
    assert ok.status_code == 303
    statuses = {row["member"]: row["status"] for row in await Application.select(Application.member, Application.status)}
    assert statuses == {first: "waitlisted", second: "accepted"}
    assert (await client.submit("/editor/applications/999999/decision", {"decision": "accept"}, follow_redirects=False)).status_code == 404


async def test_attendance_by_the_member_card_token_marks_attended_and_the_card_counts_it(app, client, settings):
    area = await factories.area()
    program_id = await factories.program(area)
    account_id, member_id = await member_at(client, "来場した花子")
    await client.submit(f"/programs/{program_id}/apply", {"motivation": ""})
    card = await client.get("/card")
    assert 'data-testid="card-activities"' in card.text and "0回" in card.text
    token = re.search(r'value="([A-Z2-7]+)" data-testid="card-token"', card.text).group(1)

    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as venue:
        await log_in(venue, await factories.staff_account("勇払 編集 鈴木", role="editor", area=area))
        preview = await venue.get(f"/editor/programs/{program_id}/attendance", params={"code": token})
        assert preview.status_code == 200 and "来場した花子" in preview.text
        forged = await venue.submit(f"/editor/programs/{program_id}/attendance", {"code": "ABCDEFGH" * 8})
        assert forged.status_code == 422 and 'data-testid="error-code"' in forged.text
        empty = await venue.submit(f"/editor/programs/{program_id}/attendance", {"code": ""})
        assert empty.status_code == 422 and 'data-testid="error-code"' in empty.text
        marked = await venue.submit(f"/editor/programs/{program_id}/attendance", {"code": token}, follow_redirects=True)
        assert marked.status_code == 200 and "来場した花子" in marked.text
        again = await venue.submit(f"/editor/programs/{program_id}/attendance", {"code": token}, follow_redirects=False)
        assert again.status_code == 303  # scanning twice is harmless

        stranger = TokenSigner(settings.signing_key).sign("card", (await members(1))[0], clock.now() + timedelta(days=1))
        not_applied = await venue.submit(f"/editor/programs/{program_id}/attendance", {"code": stranger})
        assert not_applied.status_code == 422 and "申し込んでいません" in not_applied.text

    application = await Application.select().where(Application.member == member_id).first()
    assert application["status"] == "attended" and application["attended_at"] is not None
    card = await client.get("/card")
    assert re.search(r'data-testid="card-activities">[^<]*1回', card.text)
    assert account_id


async def test_the_applicants_csv_has_a_bom_japanese_headers_and_is_audited(client):
    area = await factories.area()
    program_id = await factories.program(area, questions=["農業の経験は？"])
    member = await factories.member("応募した花子")
    await applications.apply(program_id, member.member_id, "=HYPERLINK(\"http://evil\")", ["少し"], clock.now())
    editor = await factories.staff_account("勇払 編集 鈴木", role="editor", area=area)
    await log_in(client, editor)
    response = await client.get(f"/editor/programs/{program_id}/applicants/csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["会員番号", "表示名", "氏名", "状態"] and rows[0][-1] == "農業の経験は？"
    assert rows[1][1] == "応募した花子" and rows[1][3] == "参加決定" and rows[1][-1] == "少し"
    assert rows[1][-2].startswith("'=")  # never a formula in the spreadsheet
    audit = await AuditLog.select().where(AuditLog.action == "export.csv").first().output(load_json=True)
    assert audit["actor"] == editor and audit["target_id"] == str(program_id) and audit["detail"]["rows"] == 1


async def test_the_demo_programs_load_once_and_are_open_for_application(client):
    first = await load_demo_data()
    assert first["programs"] == 3
    assert (await load_program_demo())["programs"] == 0
    listing = await client.get("/programs", params={"open": "1"})
    assert listing.text.count('data-testid="program-card"') == 3
    assert "オンライン交流会「苫小牧と関わる人の活動報告会」" in listing.text
    # The open ones span three areas (the dashboard's demo adds completed programs of past months).
    areas = {row["area"] for row in await Program.select(Program.area).where(Program.status == "published")}
    assert len(areas) == 3
