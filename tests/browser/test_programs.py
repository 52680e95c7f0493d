"""Programs in real browsers, one browser profile per person: an area's editor drafts a program and sends it
for review, the secretariat approves it in the review queue, a visitor finds it on the public list, two members
apply to its one seat (the second joins the waiting list), and the editor records attendance at the venue by
the member card's code, which then counts as a local activity on the card. Also: attendance from the applicants
list, a waitlisted member's card refused at the venue, and the public list on a phone without sideways scrolling.

People and the rows a test does not exercise are made in the database (tests/factories.py) and logged in by
cookie; passkey logins are test_membership.py's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from app.services.membership import login_sessions
from app.services.programs import applications
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenSigner
from tests import factories
from tests.browser.conftest import DESKTOP, NO_SIDEWAYS_SCROLL, click_and_settle, run_async

TOKYO = ZoneInfo("Asia/Tokyo")
AREA = "勇払"
EDITOR = "勇払まちづくり 山田"
MEMBER_A = "ふるさと一郎"
MEMBER_B = "ふるさと二郎"
TITLE = "勇払原野で湿原の木道づくり"
SUMMARY = "ウトナイ湖近くの湿原で、木道の補修を地域の方と一緒に行います。"

DRAFT_SAVED = "下書きを保存しました。準備ができたら審査に出してください。"
SENT_FOR_REVIEW = "事務局に審査を依頼しました。"
PUBLISHED = "公開しました。"
ACCEPTED_FLASH = "参加が決まりました。詳しくはこのページをご覧ください。お会いできるのを楽しみにしています。"
WAITLISTED_FLASH = "定員に達しているため、キャンセル待ちで受け付けました。空きが出たらお知らせします。"
ACCEPTED = "参加決定"
WAITLISTED = "キャンセル待ち"
ATTENDED = "参加済み"
ONE_SEAT_LEFT = "残り1名（定員1名）"
FULL = "満席（キャンセル待ちで申し込めます）"
NOT_ACCEPTED_AT_VENUE = f"参加を記録できるのは参加決定の方だけです。この方の申し込みは「{WAITLISTED}」です。"


# --- people ----------------------------------------------------------------------------------------------



async def editor_of_new_area() -> tuple[int, int]:
    """An area and its editor: (area id, account id)."""
    area_id = await factories.area(AREA)
    return area_id, await factories.staff_account(EDITOR, role="editor", area=area_id)


async def editor_session(account_id: int, device: str) -> str:
    return await login_sessions.start(account_id, f"pytest editor {device}")


async def staff_session() -> str:
    return await login_sessions.start(await factories.staff_account(), "pytest staff")


async def member_session(name: str):
    registered = await factories.member(name, home_prefecture="13")
    return registered, await login_sessions.start(registered.account_id, "pytest member")


def local_input(moment: datetime) -> str:
    """What a datetime-local input holds: Japan time, to the minute."""
    return moment.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")


# --- what people do --------------------------------------------------------------------------------------


def draft_a_program(editor: Page) -> None:
    """The editor fills in the new-program form: one seat, in two weeks, applications open from an hour ago."""
    now = datetime.now(TOKYO).replace(second=0, microsecond=0)
    day = (now + timedelta(days=14)).replace(hour=10, minute=0)
    editor.goto("/editor/programs")
    editor.get_by_test_id("new-program").click()
    form = editor.get_by_test_id("program-form")
    form.get_by_test_id("field-kind").select_option("program")
    form.get_by_test_id("field-title").fill(TITLE)
    form.get_by_test_id("field-summary").fill(SUMMARY)
    form.get_by_test_id("field-body").fill("- 長靴は貸し出します\n- 昼食つき")
    form.get_by_test_id("themes-nature").check()
    form.get_by_test_id("field-place").fill("ウトナイ湖野生鳥獣保護センター前")
    form.get_by_test_id("field-starts_at").fill(local_input(day))
    form.get_by_test_id("field-ends_at").fill(local_input(day + timedelta(hours=6)))
    form.get_by_test_id("field-apply_from").fill(local_input(now - timedelta(hours=1)))
    form.get_by_test_id("field-apply_until").fill(local_input(day - timedelta(days=3)))
    form.get_by_test_id("field-capacity").fill("1")
    form.get_by_test_id("program-save").click()


def apply(member: Page, motivation: str) -> None:
    """A member finds the program on the list, opens it and applies."""
    member.goto("/programs")
    member.get_by_test_id("program-card").filter(has_text=TITLE).get_by_test_id("program-link").click()
    expect(member.get_by_role("heading", level=1)).to_have_text(TITLE)
    member.get_by_test_id("field-motivation").fill(motivation)
    member.get_by_test_id("apply-submit").click()


def applicant(editor: Page, name: str):
    return editor.get_by_test_id("applicant").filter(has_text=name)


# --- the journey -----------------------------------------------------------------------------------------


def test_draft_review_publish_apply_waitlist_and_attendance_by_member_card(open_browser):
    _area_id, editor_id = run_async(editor_of_new_area())
    a, a_session = run_async(member_session(MEMBER_A))
    _b, b_session = run_async(member_session(MEMBER_B))

    # At the office the editor drafts the program and sends it for review.
    editor = open_browser(run_async(editor_session(editor_id, "office")), device=DESKTOP)
    draft_a_program(editor)
    expect(editor).to_have_url(re.compile(r"/editor/programs/\d+$"))
    expect(editor.get_by_test_id("flash")).to_have_text(DRAFT_SAVED)
    expect(editor.get_by_test_id("program-status")).to_have_text("下書き")
    editor.get_by_test_id("submit-program").click()
    expect(editor.get_by_test_id("flash")).to_have_text(SENT_FOR_REVIEW)
    expect(editor.get_by_test_id("program-status")).to_have_text("審査中")
    expect(editor.get_by_test_id("submit-program")).to_have_count(0)

    # Not public while in review.
    visitor = open_browser()
    visitor.goto("/programs")
    expect(visitor.get_by_test_id("program-card").filter(has_text=TITLE)).to_have_count(0)

    # The secretariat approves it in the review queue.
    staff = open_browser(run_async(staff_session()), device=DESKTOP)
    staff.goto("/staff/moderation")
    item = staff.get_by_test_id("moderation-item").filter(has_text=TITLE)
    expect(item).to_have_count(1)
    expect(item).to_contain_text(AREA)
    expect(item).to_contain_text(EDITOR)
    item.get_by_test_id("moderation-approve").click()
    expect(staff.get_by_test_id("flash")).to_have_text(PUBLISHED)
    expect(staff.get_by_test_id("moderation-item").filter(has_text=TITLE)).to_have_count(0)

    # A visitor finds it on the public list, with its one seat free.
    visitor.reload()
    card = visitor.get_by_test_id("program-card").filter(has_text=TITLE)
    expect(card).to_have_count(1)
    expect(card).to_contain_text(SUMMARY)
    expect(card.get_by_test_id("badge-open")).to_be_visible()
    expect(card.get_by_test_id("program-seats")).to_have_text(ONE_SEAT_LEFT)
    card.get_by_test_id("program-link").click()
    expect(visitor.get_by_test_id("program-detail")).to_contain_text(TITLE)
    expect(visitor.get_by_test_id("register-to-apply")).to_be_visible()  # not logged in: no apply form

    # Member A takes the seat.
    member_a = open_browser(a_session)
    apply(member_a, "週末に東京から通って、湿原の保全に関わりたいです。")
    expect(member_a.get_by_test_id("flash")).to_have_text(ACCEPTED_FLASH)
    expect(member_a.get_by_test_id("application-status")).to_have_text(ACCEPTED)
    expect(member_a.get_by_test_id("program-seats")).to_have_text(FULL)

    # Member B finds it full and joins the waiting list.
    member_b = open_browser(b_session)
    apply(member_b, "空きが出たらぜひ参加したいです。")
    expect(member_b.get_by_test_id("flash")).to_have_text(WAITLISTED_FLASH)
    expect(member_b.get_by_test_id("application-status")).to_have_text(WAITLISTED)
    member_b.goto("/programs/mine")
    expect(member_b.get_by_test_id("my-application").filter(has_text=TITLE).get_by_test_id("my-application-status")).to_have_text(
        WAITLISTED
    )

    # A opens the member card before going to the venue: no local activity yet.
    member_a.goto("/card")
    expect(member_a.get_by_test_id("card-activities")).to_have_text("0回（今年度）")
    card_code = member_a.get_by_test_id("card-token").input_value()

    # The editor sees both applicants, then records A at the venue with A's member card code.
    editor.goto("/editor/programs")
    editor.get_by_test_id("editor-program-row").filter(has_text=TITLE).get_by_role("link", name=TITLE).click()
    expect(editor.get_by_test_id("program-status")).to_have_text("公開中")
    editor.get_by_test_id("program-workflow").get_by_test_id("applicants-link").click()
    expect(editor.get_by_test_id("applicant")).to_have_count(2)
    expect(applicant(editor, MEMBER_A).get_by_test_id("applicant-status")).to_have_text(ACCEPTED)
    expect(applicant(editor, MEMBER_B).get_by_test_id("applicant-status")).to_have_text(WAITLISTED)

    attendance_url = editor.get_by_test_id("attendance-link").get_attribute("href")

    # At the venue, on the editor's phone, A's member card code is pasted in (what a scanner would read).
    venue = open_browser(run_async(editor_session(editor_id, "phone")))
    venue.goto(attendance_url)
    expect(venue.get_by_test_id("attendance-count")).to_have_text("参加 0人／予定 1人")
    venue.get_by_test_id("attendance-code").fill(card_code)
    venue.get_by_test_id("attendance-submit").click()
    expect(venue.get_by_test_id("flash")).to_have_text(
        f"{MEMBER_A}さん（{a.member_no}）の参加を記録しました。次の会員証を読み取ってください。"
    )
    expect(venue.get_by_test_id("attendance-count")).to_have_text("参加 1人／予定 1人")
    assert venue.evaluate(NO_SIDEWAYS_SCROLL)

    editor.reload()  # back at the office: the applicants list
    expect(applicant(editor, MEMBER_A).get_by_test_id("applicant-status")).to_have_text(ATTENDED)
    expect(applicant(editor, MEMBER_A).get_by_test_id("decision-form")).to_have_count(0)
    expect(applicant(editor, MEMBER_B).get_by_test_id("applicant-status")).to_have_text(WAITLISTED)

    # The attendance counts as a local activity on A's card; B has none.
    member_a.reload()
    expect(member_a.get_by_test_id("card-activities")).to_have_text("1回（今年度）")
    member_b.goto("/card")
    expect(member_b.get_by_test_id("card-activities")).to_have_text("0回（今年度）")


# --- attendance from the applicants list, and a card that holds no seat --------------------------------------


@dataclass(frozen=True)
class FullProgram:
    program_id: int
    editor_session: str
    a_session: str
    b_member_id: int


async def full_program_with_two_applicants() -> FullProgram:
    """A published one-seat program of the editor's area: A accepted, B waitlisted (applied in the database)."""
    area_id, editor_id = await editor_of_new_area()
    program_id = await factories.program(area_id, title=TITLE, capacity=1)
    a, a_session = await member_session(MEMBER_A)
    b = await factories.member(MEMBER_B)
    assert await applications.apply(program_id, a.member_id, "", [], clock.now()) == "accepted"
    assert await applications.apply(program_id, b.member_id, "", [], clock.now()) == "waitlisted"
    return FullProgram(program_id, await editor_session(editor_id, "phone"), a_session, b.member_id)


def test_the_editor_marks_attendance_in_the_applicants_list_and_a_waitlisted_card_is_refused(open_browser, live_server):
    full = run_async(full_program_with_two_applicants())
    editor = open_browser(full.editor_session)

    editor.goto(f"/editor/programs/{full.program_id}/applicants")
    expect(applicant(editor, MEMBER_B).get_by_test_id("decide-accept")).to_be_visible()
    expect(applicant(editor, MEMBER_B).get_by_test_id("decide-attend")).to_have_count(0)  # no seat, no attendance
    applicant(editor, MEMBER_A).get_by_test_id("decide-attend").click()
    expect(editor.get_by_test_id("flash")).to_have_text("保存しました：参加を記録する")
    expect(applicant(editor, MEMBER_A).get_by_test_id("applicant-status")).to_have_text(ATTENDED)

    # At the venue B shows the member card (a code signed as /card signs it): B holds no seat.
    code = TokenSigner(live_server.settings.signing_key).sign("card", full.b_member_id, clock.now() + timedelta(minutes=10))
    editor.get_by_test_id("attendance-link").click()
    expect(editor.get_by_test_id("attendance-count")).to_have_text("参加 1人／予定 1人")
    editor.get_by_test_id("attendance-code").fill(code)
    editor.get_by_test_id("attendance-submit").click()
    expect(editor.get_by_test_id("error-code")).to_have_text(NOT_ACCEPTED_AT_VENUE)
    expect(editor.get_by_test_id("attendance-count")).to_have_text("参加 1人／予定 1人")

    member_a = open_browser(full.a_session)
    member_a.goto("/card")
    expect(member_a.get_by_test_id("card-activities")).to_have_text("1回（今年度）")
    member_a.goto(f"/programs/{full.program_id}")
    expect(member_a.get_by_test_id("application-status")).to_have_text(ATTENDED)


# --- the public list on a phone --------------------------------------------------------------------------


async def three_published_programs() -> None:
    area_id = await factories.area(AREA)
    await factories.program(area_id, title=TITLE, summary=SUMMARY, themes=["nature", "tourism"], capacity=1)
    await factories.program(
        area_id, title="オンライン交流会「苫小牧で暮らす、働く」― 移住した先輩に聞くリアルな毎日", kind="event",
        meeting_url="https://meet.example.jp/tomakomai", summary="画面越しに、苫小牧の暮らしと仕事について話しましょう。",
    )
    await factories.program(area_id, title="空き家を地域の拠点に再生するワークショップ", themes=["vacant_houses"])


def test_the_public_program_list_fits_a_phone_without_sideways_scrolling(page):
    run_async(three_published_programs())

    page.goto("/programs")
    expect(page.get_by_test_id("program-card")).to_have_count(3)
    expect(page.get_by_test_id("badge-event")).to_have_count(1)
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    page.get_by_test_id("program-card").first.get_by_test_id("program-link").click()
    expect(page.get_by_test_id("program-detail")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_a_visitor_finds_a_program_on_the_month_calendar_and_shares_it(page, live_server):
    area_id = run_async(factories.area(AREA))
    next_month = (clock.now().astimezone(TOKYO).replace(day=1) + timedelta(days=32)).replace(day=12, hour=10, minute=0)
    run_async(factories.program(area_id, title=TITLE, summary=SUMMARY, place="ウトナイ湖", starts_at=next_month,
                                ends_at=next_month + timedelta(hours=4)))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    page.goto("/programs")
    click_and_settle(page, page.get_by_test_id("view-calendar"))
    expect(page.get_by_test_id("program-calendar")).to_be_visible()
    expect(page.get_by_test_id("calendar-program")).to_have_count(0)  # it is next month
    page.get_by_test_id("calendar-next").click()
    expect(page.get_by_test_id("calendar-title")).to_have_text(f"{next_month.year}年{next_month.month}月")
    day = page.get_by_test_id("calendar-day-with-programs")
    expect(day).to_contain_text("12")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    day.get_by_test_id("calendar-program").click()
    expect(page.get_by_test_id("program-detail")).to_contain_text(TITLE)
    expect(page.get_by_test_id("map-link")).to_have_attribute("href", re.compile(r"^https://www\.google\.com/maps/search/"))
    expect(page.get_by_test_id("google-calendar-link")).to_have_attribute("href", re.compile(r"^https://calendar\.google\.com/"))

    # This browser has no share sheet: LINE, X and Facebook links and "copy link" instead.
    expect(page.get_by_test_id("share-native")).to_be_hidden()
    expect(page.get_by_test_id("share-line")).to_be_visible()
    page.get_by_test_id("share-copy").click()
    expect(page.get_by_test_id("share-status")).to_have_text("リンクをコピーしました。")
    assert page.evaluate("navigator.clipboard.readText()") == page.url


def until(page: Page, expression: str, tries: int = 100) -> None:
    """Wait for `expression` to be true (page.wait_for_function evaluates a string, which the CSP forbids)."""
    for _ in range(tries):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never true: {expression} (window.scrollY = {page.evaluate('window.scrollY')})")


def test_a_page_opens_at_its_top_and_back_returns_to_where_the_visitor_was(page):
    area_id = run_async(factories.area(AREA))
    start = clock.now() + timedelta(days=10)
    for n in range(8):
        run_async(factories.program(area_id, title=f"{TITLE} 第{n + 1}回", summary=SUMMARY,
                                    starts_at=start + timedelta(days=n), ends_at=start + timedelta(days=n, hours=3)))
    page.goto("/programs")
    last = page.get_by_test_id("program-link").last
    last.scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 500
    last.click()
    expect(page.get_by_test_id("program-detail")).to_contain_text("第8回")
    until(page, "window.scrollY === 0")
    expect(page.get_by_role("heading", level=1)).to_be_in_viewport()
    page.go_back()
    expect(page.get_by_test_id("program-browser")).to_be_visible()
    until(page, f"Math.abs(window.scrollY - {scrolled}) < 50")


# --- a change to a program the public already sees -------------------------------------------------------

OLD_PLACE = "ウトナイ湖野生鳥獣保護センター前"
NEW_PLACE = "勇払公民館（雨天のため集合場所を変更）"
CHANGE_SAVED = "変更を保存し、事務局の審査に回しました。承認されるまで、公開ページには現在の内容が表示されます。"
CHANGE_APPROVED = "変更を承認しました。公開ページに反映されています。"


async def published_program_with_an_applicant() -> tuple[int, str, str]:
    """(program id, editor session, accepted member's session)."""
    area_id, editor_id = await editor_of_new_area()
    program_id = await factories.program(area_id, author_id=editor_id, title=TITLE, place=OLD_PLACE, capacity=5)
    member, session = await member_session(MEMBER_A)
    assert await applications.apply(program_id, member.member_id, "", [], clock.now()) == "accepted"
    return program_id, await editor_session(editor_id, "office"), session


def test_an_editors_change_to_a_live_program_waits_for_review_while_applicants_keep_the_published_page(open_browser):
    program_id, editor_session_token, member_session_token = run_async(published_program_with_an_applicant())

    # The editor moves the meeting place; the change goes to review instead of hiding the program.
    editor = open_browser(editor_session_token, device=DESKTOP)
    editor.goto(f"/editor/programs/{program_id}")
    expect(editor.get_by_test_id("revision-hint")).to_be_visible()
    editor.get_by_test_id("program-form").get_by_test_id("field-place").fill(NEW_PLACE)
    editor.get_by_test_id("program-save").click()
    expect(editor.get_by_test_id("flash")).to_have_text(CHANGE_SAVED)
    expect(editor.get_by_test_id("revision-banner")).to_be_visible()
    expect(editor.get_by_test_id("program-form").get_by_test_id("field-place")).to_have_value(NEW_PLACE)
    expect(editor.get_by_test_id("program-status")).to_have_text("公開中")

    # The accepted member still opens the program, with the published place.
    member = open_browser(member_session_token)
    member.goto(f"/programs/{program_id}")
    expect(member.get_by_test_id("program-detail")).to_contain_text(OLD_PLACE)
    expect(member.get_by_test_id("application-status")).to_have_text(ACCEPTED)

    # The secretariat sees what changes and approves it.
    staff = open_browser(run_async(staff_session()), device=DESKTOP)
    staff.goto("/staff/moderation")
    item = staff.get_by_test_id("moderation-item").filter(has_text=TITLE)
    expect(item.get_by_test_id("moderation-revision")).to_be_visible()
    expect(item.get_by_test_id("moderation-change")).to_have_count(1)
    expect(item.get_by_test_id("moderation-change")).to_contain_text(NEW_PLACE)
    item.get_by_test_id("moderation-approve").click()
    expect(staff.get_by_test_id("flash")).to_have_text(CHANGE_APPROVED)
    expect(staff.get_by_test_id("moderation-item").filter(has_text=TITLE)).to_have_count(0)

    # The member's page shows the new place; the editor is told and the banner is gone.
    member.reload()
    expect(member.get_by_test_id("program-detail")).to_contain_text(NEW_PLACE)
    editor.reload()
    expect(editor.get_by_test_id("revision-banner")).to_have_count(0)
    editor.goto("/inbox")
    expect(editor.locator("body")).to_contain_text(f"変更が公開されました：{TITLE}")
