"""Surveys in real browsers: the secretariat copies the post-program template, addresses it to the participants
of a program that ended a week ago and publishes it; the background round sends it; a participant finds it on
the home screen and in News, answers on a phone (each answer checked as it is given, a missing one shown at its
question), is thanked, and cannot answer twice — not even from a second tab that still has the form open;
then the secretariat reads the charts and downloads the CSV, which opens as UTF-8 with a BOM and Japanese intact.

People, the program and its attendance are made in the database (tests/factories.py) and logged in by cookie.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from playwright.sync_api import Page, expect

from app.services.membership import login_sessions
from app.services.notify import push_notifications
from app.services.shared import clock
from app.services.surveys import invitations
from app.services.surveys.templates import FOLLOW_UP
from app.settings import Smtp
from db.tables import SurveyResponse
from tests import factories
from tests.browser.conftest import DESKTOP, NO_SIDEWAYS_SCROLL, run_async

PROGRAM = "勇払の牧場で酪農体験"
MEMBER = "参加 はるか"
OTHER = "参加 ゆうと"
INVITATION = f"アンケートのお願い：{FOLLOW_UP.title}"
PUBLISHED = "公開しました。案内を送っています。"
SAVED = "保存しました。"
REACH = "これまでの参加者は2人です。"
CHOOSE_ONE = "回答をひとつ選んでください。"
CHOOSE_SOME = "回答を1つ以上選んでください。"
ALREADY = "このアンケートには回答済みです。ご協力ありがとうございました。"
THANKS = "ご回答ありがとうございました"


async def scene() -> dict:
    """A program that ended eight days ago with two recorded participants, and the secretariat."""
    area = await factories.area("勇払", "yufutsu")
    ended = clock.now() - timedelta(days=8)
    program = await factories.program(area, title=PROGRAM, status="completed", starts_at=ended - timedelta(hours=6),
                                      ends_at=ended)
    member = await factories.member(MEMBER, email="haruka@example.jp", verified=True, home_prefecture="13")
    other = await factories.member(OTHER, home_prefecture="27")
    for person in (member, other):
        await factories.attendance(program, person.member_id)
    return {
        "program": program,
        "staff": await login_sessions.start(await factories.staff_account(), "pytest staff"),
        "member": await login_sessions.start(member.account_id, "pytest member"),
    }


async def background_round(base_url: str) -> None:
    """What the background round does for surveys and the inbox (the live test server runs no sender)."""
    await invitations.dispatch_due(Smtp(), clock.now(), base_url=base_url, site_name="とまこまい つながる")
    await push_notifications.fan_out_due(clock.now())


def build_and_publish(staff: Page, program_id: int) -> None:
    staff.goto("/staff")
    staff.get_by_test_id("staff-surveys").click()
    staff.get_by_test_id("copy-template-follow_up").click()
    expect(staff.get_by_test_id("flash")).to_contain_text("テンプレートから下書きを作りました")
    expect(staff.get_by_test_id("builder-question")).to_have_count(len(FOLLOW_UP.questions))

    plan = staff.get_by_test_id("plan-form")
    plan.get_by_test_id("target-program").check()
    plan.get_by_test_id("field-program").select_option(str(program_id))
    expect(staff.get_by_test_id("reach")).to_have_text(REACH)  # counted as the choices change
    plan.get_by_test_id("timing-7").check()
    expect(plan.get_by_test_id("field-close_date")).to_be_hidden()  # a follow-up closes by its days open
    plan.get_by_test_id("plan-save").click()
    expect(staff.locator("#plan").get_by_role("status")).to_have_text(SAVED)

    # The phone preview shows the member's form, which sends nothing.
    staff.get_by_test_id("preview-link").click()
    preview = staff.get_by_test_id("phone-preview")
    expect(preview.get_by_test_id("question")).to_have_count(len(FOLLOW_UP.questions))
    expect(preview.get_by_test_id("survey-submit")).to_have_count(0)
    staff.go_back()

    staff.get_by_test_id("publish").click()
    expect(staff.get_by_test_id("flash")).to_have_text(PUBLISHED)
    expect(staff.get_by_test_id("survey-status")).to_have_text("送信予定")
    expect(staff.get_by_test_id("add-question-form")).to_have_count(0)


def question(member: Page, number: int):
    return member.get_by_test_id("question").nth(number - 1)


def answer_all_but_the_fourth(member: Page) -> None:
    question(member, 1).locator("label.survey-scale-point").nth(3).click()  # 4
    question(member, 2).get_by_text("ぜひ訪れたい").click()
    question(member, 3).get_by_text("オンライン交流会に参加したい").click()
    question(member, 3).get_by_text("ふるさと納税で応援したい").click()
    question(member, 6).get_by_role("textbox").fill("牛の世話が楽しかったです。\n次は冬に来たいです。")


def test_staff_build_the_follow_up_a_participant_answers_once_on_a_phone_and_staff_chart_and_export_it(
        open_browser, live_server):
    people = run_async(scene())

    staff = open_browser(people["staff"], device=DESKTOP)
    build_and_publish(staff, people["program"])
    run_async(background_round(live_server.url))
    staff.reload()
    expect(staff.get_by_test_id("survey-status")).to_have_text("回答受付中")

    # On the phone: the home screen's card, and the invitation in News.
    member = open_browser(people["member"])
    console_errors: list[str] = []
    member.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    member.goto("/")
    expect(member.get_by_test_id("survey-card")).to_contain_text(FOLLOW_UP.title)
    member.goto("/inbox")
    member.get_by_test_id("notice").filter(has_text=INVITATION).get_by_role("link").click()
    expect(member.get_by_test_id("survey-title")).to_have_text(FOLLOW_UP.title)
    survey_url = member.url
    assert member.evaluate(NO_SIDEWAYS_SCROLL)
    option = question(member, 2).locator("label.survey-option").first.bounding_box()
    assert option and option["height"] >= 44  # big enough for a thumb

    # A second tab keeps the form open, as if on another device.
    second_tab = member.context.new_page()
    second_tab.goto(survey_url)
    member.bring_to_front()  # back to the first tab, as a person would; a hidden tab gets no animation frames

    # Each answer is checked as it is given: unticking the only choice of a required question says so.
    question(member, 3).get_by_text("次のプログラムにも参加したい").click()
    question(member, 3).get_by_text("次のプログラムにも参加したい").click()
    expect(question(member, 3).locator(".field-error")).to_have_text(CHOOSE_SOME)
    answer_all_but_the_fourth(member)
    expect(question(member, 3).locator(".field-error")).to_have_count(0)

    # Sending without the fourth answer: the form comes back with the message there, and the answers kept.
    member.get_by_test_id("survey-submit").click()
    expect(member.get_by_test_id("form-errors")).to_be_visible()
    expect(question(member, 4).locator(".field-error")).to_have_text(CHOOSE_ONE)
    expect(question(member, 2).locator("input[value='0']")).to_be_checked()
    question(member, 4).get_by_text("二地域居住を具体的に考えている").click()
    member.get_by_test_id("survey-submit").click()
    expect(member.get_by_test_id("survey-thanks")).to_contain_text(THANKS)
    # A 422 page swapped in, then the thanks: htmx found every element it was told to disable and enable again.
    assert [error for error in console_errors if "Failed to load resource" not in error] == []

    # Never twice: not on this phone, not from the tab that still had the form open.
    member.goto(survey_url)
    expect(member.get_by_test_id("survey-refused")).to_contain_text(ALREADY)
    second_tab.bring_to_front()
    question(second_tab, 1).locator("label.survey-scale-point").nth(0).click()
    question(second_tab, 2).get_by_text("どちらともいえない").click()
    question(second_tab, 3).get_by_text("特に考えていない").click()
    question(second_tab, 4).get_by_text("いまのところ考えていない").click()
    second_tab.get_by_test_id("survey-submit").click()
    expect(second_tab.get_by_test_id("survey-refused")).to_contain_text(ALREADY)
    assert run_async(SurveyResponse.count().run()) == 1
    member.goto("/")
    expect(member.get_by_test_id("survey-card")).to_have_count(0)

    # The secretariat reads the results: the rate, a chart per question, the free text.
    staff.get_by_test_id("results-link").click()
    expect(staff.get_by_test_id("response-rate")).to_have_text("回答率 50%：招待した2人のうち1人が回答しました。")
    charts = staff.locator("svg.chart-svg[role=img]")
    # The scale and three choice questions; the optional one nobody answered says so; free text is a list.
    expect(charts).to_have_count(4)
    expect(charts.first).to_be_visible()
    expect(staff.get_by_test_id("mean")).to_have_text("平均：4.0（1＝不満、5＝満足）")
    expect(staff.get_by_test_id("text-answer")).to_contain_text("牛の世話が楽しかったです。")

    # … and downloads the answers for the meeting.
    with staff.expect_download() as download:
        staff.get_by_test_id("csv-responses").click()
    data = open(download.value.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][5] == f"Q1. {FOLLOW_UP.questions[0].text}"
    assert rows[1][3].startswith("TMK-") and rows[1][4:7] == [MEMBER, "4", "ぜひ訪れたい"]
    assert rows[1][7] == "オンライン交流会に参加したい / ふるさと納税で応援したい"
    assert rows[1][2] == "東京都" and "牛の世話が楽しかったです。\n次は冬に来たいです。" in rows[1]


def test_the_follow_up_template_sent_to_everyone_offers_only_timings_that_fit_and_publishes(open_browser):
    """Copied from the post-program template (timing: a week after the program), then addressed to every member:
    the timings after a program disappear, "as soon as it is published" is chosen with a close date offered,
    and the survey saves and publishes at once."""
    people = run_async(scene())
    staff = open_browser(people["staff"], device=DESKTOP)
    staff.goto("/staff/surveys")
    staff.get_by_test_id("copy-template-follow_up").click()
    plan = staff.get_by_test_id("plan-form")
    plan.get_by_test_id("target-program").check()
    plan.get_by_test_id("timing-7").check()
    plan.get_by_test_id("target-everyone").check()
    expect(plan.get_by_test_id("timing-7")).to_be_hidden()
    expect(plan.get_by_test_id("timing-publish")).to_be_checked()
    expect(plan.get_by_test_id("field-close_date")).to_be_visible()
    expect(plan.get_by_test_id("field-close_date")).not_to_have_value("")
    plan.get_by_test_id("plan-save").click()
    expect(staff.locator("#plan").get_by_role("status")).to_have_text(SAVED)
    staff.get_by_test_id("publish").click()
    expect(staff.get_by_test_id("flash")).to_have_text(PUBLISHED)
