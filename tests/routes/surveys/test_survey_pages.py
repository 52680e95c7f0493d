"""Surveys through the pages: a member's card on the home screen, the answer form with its per-question check,
bad answers shown at their question, the thank-you and "already answered" pages and every refusal; the
secretariat's list, the builder (HTMX fragments and plain forms), the preview, publication with its
refusals, the results with filters and charts, hiding free text, and the CSV (BOM, Japanese, audited)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from app.i18n import TOKYO
from app.services.shared import clock
from app.services.surveys import builder, responses, surveys
from app.services.surveys.templates import TEMPLATES
from db.tables import AuditLog, Survey, SurveyAnswer, SurveyResponse
from tests import factories
from tests.conftest import Client, log_in

QUESTIONS = [
    {"kind": "scale", "text": "プログラムの満足度", "options": ["不満", "満足"]},
    {"kind": "single", "text": "また訪れたいですか", "options": ["ぜひ訪れたい", "わからない"]},
    {"kind": "multiple", "text": "関わり方", "options": ["交流会", "ふるさと納税", "産品の購入"], "required": False},
    {"kind": "long", "text": "ご意見をお聞かせください", "required": False},
]


async def member_at(client: Client, name: str = "回答 花子", **profile) -> int:
    registered = await factories.member(name, **profile)
    await log_in(client, registered.account_id)
    return registered.account_id


async def staff_at(client: Client) -> int:
    account_id = await factories.staff_account()
    await log_in(client, account_id)
    return account_id


async def question_ids(survey_id: int) -> list[str]:
    return [str(q["id"]) for q in await surveys.questions_of(survey_id)]


def test_the_invitation_link_of_the_service_is_the_answer_page(app):
    assert app.route_reverse("get_survey", survey_id=42) == surveys.answer_path(42)


# --- Members ---------------------------------------------------------------------------------------------


async def test_a_member_sees_a_waiting_survey_on_the_home_screen_and_in_the_list(client):
    account = await member_at(client)
    survey_id = await factories.open_survey(QUESTIONS, [account], title="勇払プログラム参加後アンケート")
    await factories.open_survey(QUESTIONS, [], title="他の人宛て")

    home = await client.get("/")
    assert 'data-testid="survey-card-slot"' in home.text
    card = await client.get("/surveys/card", headers={"HX-Request": "true"})
    assert card.status_code == 200 and "勇払プログラム参加後アンケート" in card.text
    assert f'href="/surveys/{survey_id}"' in card.text and "他の人宛て" not in card.text
    listing = await client.get("/surveys")
    assert listing.text.count('data-testid="open-survey"') == 1


async def test_the_home_screen_has_no_survey_card_for_visitors_or_members_with_nothing_waiting(client):
    assert 'survey-card-slot' not in (await client.get("/")).text
    await member_at(client)
    card = await client.get("/surveys/card", headers={"HX-Request": "true"})
    assert card.status_code == 200 and card.text.strip() == ""


async def test_a_member_answers_once_and_is_thanked(client):
    account = await member_at(client, home_prefecture="27")
    survey_id = await factories.open_survey(QUESTIONS, [account])
    q = await question_ids(survey_id)
    form = await client.get(f"/surveys/{survey_id}")
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    assert form.text.count('data-testid="question"') == 4 and "プログラムの満足度" in form.text
    assert f'hx-post="/surveys/{survey_id}/questions/{q[0]}/check"' in form.text

    sent = await client.submit(f"/surveys/{survey_id}", {f"q{q[0]}": "5", f"q{q[1]}": "0", f"q{q[2]}": ["0", "2"],
                                                        f"q{q[3]}": "また参加したいです"}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/surveys/{survey_id}/thanks"
    thanks = await client.get(f"/surveys/{survey_id}/thanks")
    assert "ご回答ありがとうございました" in thanks.text
    response = await SurveyResponse.select().first()
    assert (response["account"], response["home_prefecture"]) == (account, "27")
    assert await SurveyAnswer.count() == 5

    again = await client.get(f"/surveys/{survey_id}")
    assert again.status_code == 200 and 'data-reason="already_answered"' in again.text
    assert "このアンケートには回答済みです" in again.text
    twice = await client.submit(f"/surveys/{survey_id}", {f"q{q[0]}": "1", f"q{q[1]}": "1"})
    assert twice.status_code == 409 and "回答済み" in twice.text
    assert await SurveyResponse.count() == 1
    assert "回答済み" in (await client.get("/surveys")).text


async def test_bad_answers_come_back_at_their_question_with_what_was_given(client):
    account = await member_at(client)
    survey_id = await factories.open_survey(QUESTIONS, [account])
    q = await question_ids(survey_id)
    sent = await client.submit(f"/surveys/{survey_id}", {f"q{q[0]}": "9", f"q{q[2]}": ["1", "7"],
                                                        f"q{q[3]}": "あ" * 4001})
    assert sent.status_code == 422
    assert "1から5までの数字を選んでください。" in sent.text
    assert "回答をひとつ選んでください。" in sent.text
    assert "表示されている選択肢から選んでください。" in sent.text
    assert "4000文字以内で入力してください（いま4001文字）。" in sent.text
    assert 'data-testid="form-errors"' in sent.text
    assert re.search(rf'name="q{q[2]}" value="1"\s+checked', sent.text)  # what was chosen stays chosen
    assert await SurveyResponse.count() == 0

    foreign = await client.submit(f"/surveys/{survey_id}", {f"q{q[0]}": "3", f"q{q[1]}": "0", "q999999": "x"})
    assert foreign.status_code == 422 and "このアンケートにない質問への回答が含まれていました" in foreign.text


async def test_each_answer_is_checked_as_it_is_given(client):
    account = await member_at(client)
    survey_id = await factories.open_survey(QUESTIONS, [account])
    q = await question_ids(survey_id)
    check = f"/surveys/{survey_id}/questions/{q[1]}/check"
    missing = await client.hx_post(check, {f"q{q[0]}": "3"})
    assert missing.status_code == 200 and "回答をひとつ選んでください。" in missing.text
    assert f'id="question-{q[1]}-error"' in missing.text
    fine = await client.hx_post(check, {f"q{q[1]}": "1"})
    assert fine.status_code == 200 and "field-error" not in fine.text
    outside = await client.hx_post(f"/surveys/{survey_id}/questions/{q[0]}/check", {f"q{q[0]}": "6"})
    assert "1から5までの数字を選んでください。" in outside.text
    assert (await client.hx_post(f"/surveys/{survey_id}/questions/999999/check", {})).text.count("field-error") == 0
    assert await SurveyResponse.count() == 0


async def test_surveys_not_for_this_member_closed_or_unknown_are_refused_with_a_reason(client):
    await member_at(client)
    someone = await factories.member("別の会員")
    theirs = await factories.open_survey(QUESTIONS, [someone.account_id])
    refused = await client.get(f"/surveys/{theirs}")
    assert refused.status_code == 403 and "このアンケートは対象の方のみご回答いただけます。" in refused.text
    assert "プログラムの満足度" not in refused.text
    q = await question_ids(theirs)
    posted = await client.submit(f"/surveys/{theirs}", {f"q{q[0]}": "3", f"q{q[1]}": "0"})
    assert posted.status_code == 403 and await SurveyResponse.count() == 0
    assert (await client.get("/surveys/999999")).status_code == 404
    draft = await factories.open_survey(QUESTIONS, [], status="draft")
    assert (await client.get(f"/surveys/{draft}")).status_code == 404


async def test_a_closed_survey_says_so_and_keeps_nothing(client):
    account = await member_at(client)
    survey_id = await factories.open_survey(QUESTIONS, [account], closes_at=clock.now() - timedelta(minutes=1))
    page = await client.get(f"/surveys/{survey_id}")
    assert page.status_code == 410 and "このアンケートは締め切りました。" in page.text
    q = await question_ids(survey_id)
    posted = await client.submit(f"/surveys/{survey_id}", {f"q{q[0]}": "3", f"q{q[1]}": "0"})
    assert posted.status_code == 410 and await SurveyResponse.count() == 0


async def test_the_thanks_page_of_an_unanswered_survey_leads_to_the_form(client):
    account = await member_at(client)
    survey_id = await factories.open_survey(QUESTIONS, [account])
    thanks = await client.get(f"/surveys/{survey_id}/thanks", follow_redirects=False)
    assert thanks.status_code == 303 and thanks.headers["location"] == f"/surveys/{survey_id}"


# --- The secretariat: building ------------------------------------------------------------------------------


async def test_staff_copy_the_follow_up_template_into_a_draft_and_see_it_in_the_builder(client):
    await staff_at(client)
    listing = await client.get("/staff/surveys")
    assert listing.status_code == 200 and TEMPLATES["follow_up"].name in listing.text
    assert 'data-testid="staff-surveys"' in (await client.get("/staff")).text
    copied = await client.submit("/staff/surveys/from-template", {"template": "follow_up"}, follow_redirects=False)
    assert copied.status_code == 303
    survey = await Survey.select().first()
    assert copied.headers["location"] == f"/staff/surveys/{survey['id']}"
    builder = await client.get(copied.headers["location"])
    assert builder.text.count('data-testid="builder-question"') == len(TEMPLATES["follow_up"].questions)
    assert 'data-testid="plan-form"' in builder.text and 'data-testid="publish"' in builder.text
    assert (await client.submit("/staff/surveys/from-template", {"template": "nope"})).status_code == 404


async def test_a_blank_survey_needs_a_title(client):
    await staff_at(client)
    refused = await client.submit("/staff/surveys", {"title": "  "})
    assert refused.status_code == 422 and "タイトルを入力してください。" in refused.text
    created = await client.submit("/staff/surveys", {"title": "交流会アンケート"}, follow_redirects=False)
    assert created.status_code == 303 and await Survey.count() == 1


async def test_questions_are_added_edited_moved_and_removed_in_place_by_htmx(client):
    await staff_at(client)
    survey_id = await builder.create_survey(await factories.staff_account("事務局 田中"), "交流会アンケート", "", clock.now())
    base = f"/staff/surveys/{survey_id}/questions"
    added = await client.hx_post(base, {"kind": "single", "text": "満足しましたか", "options": "はい\nいいえ", "required": "1"})
    assert added.status_code == 200 and added.text.lstrip().startswith('<section class="section" id="questions"')
    assert "満足しましたか" in added.text and 'class="small saved"' in added.text
    bad = await client.hx_post(base, {"kind": "multiple", "text": "関わり方", "options": "ひとつだけ"})
    assert bad.status_code == 422 and "選択肢を1行に1つずつ、2つ以上入力してください。" in bad.text
    assert "ひとつだけ" in bad.text  # what was typed is kept
    await client.hx_post(base, {"kind": "scale", "text": "満足度", "low": "不満", "high": "満足"})
    first, second = [q["id"] for q in await surveys.questions_of(survey_id)]
    moved = await client.hx_post(f"{base}/{second}/move", {"direction": "up"})
    assert moved.status_code == 200 and moved.text.index("満足度") < moved.text.index("満足しましたか")
    edited = await client.hx_post(f"{base}/{first}", {"kind": "short", "text": "ひとことどうぞ"})
    assert edited.status_code == 200 and "ひとことどうぞ" in edited.text
    removed = await client.hx_post(f"{base}/{second}/delete", {})
    assert removed.status_code == 200 and "満足度" not in removed.text
    assert [q["text"] for q in await surveys.questions_of(survey_id)] == ["ひとことどうぞ"]
    # Without JavaScript, the same forms end in a redirect back to the builder.
    plain = await client.submit(base, {"kind": "long", "text": "ご意見"}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"/staff/surveys/{survey_id}#questions"


async def test_details_and_plan_are_saved_and_their_errors_shown_at_the_field(client):
    staff = await staff_at(client)
    area = await factories.area()
    survey_id = await builder.create_survey(staff, "地域アンケート", "", clock.now())
    details = await client.hx_post(f"/staff/surveys/{survey_id}/details", {"title": "", "intro": "はじめに"})
    assert details.status_code == 422 and "タイトルを入力してください。" in details.text
    saved = await client.hx_post(f"/staff/surveys/{survey_id}/details", {"title": "樽前アンケート", "intro": "3分で終わります"})
    assert saved.status_code == 200 and (await Survey.select().first())["intro"] == "3分で終わります"

    plan = await client.hx_post(f"/staff/surveys/{survey_id}/plan", {"target_kind": "area_followers", "timing": "7"})
    assert plan.status_code == 422 and "アンケートを送る相手を選んでください" not in plan.text
    assert "プログラム終了後に送るには" in plan.text and "地区を選んでください。" in plan.text
    ok = await client.hx_post(f"/staff/surveys/{survey_id}/plan", {
        "target_kind": "area_followers", "area": str(area), "timing": "publish", "close_date": "2099-01-31",
        "anonymous": "1"})
    assert ok.status_code == 200
    row = await Survey.select().first().output(load_json=True)
    assert row["target"] == {"kind": "area_followers", "area": area} and row["anonymous"] is True

    await factories.member("フォロー 花子", area_ids=[area])
    reach = await client.get(f"/staff/surveys/{survey_id}/reach", params={"target_kind": "area_followers", "area": str(area)},
                             headers={"HX-Request": "true"})
    assert "1人に届きます" in reach.text


async def test_publishing_shows_what_is_missing_then_publishes_and_fixes_the_questions(client):
    staff = await staff_at(client)
    survey_id = await builder.create_survey(staff, "空のアンケート", "", clock.now())
    refused = await client.submit(f"/staff/surveys/{survey_id}/publish")
    assert refused.status_code == 422 and 'data-testid="publish-errors"' in refused.text
    assert "質問を1つ以上追加してください。" in refused.text and "回答の締切日を選んでください。" in refused.text
    assert (await Survey.select().first())["status"] == "draft"

    await client.hx_post(f"/staff/surveys/{survey_id}/questions", {"kind": "short", "text": "ひとこと"})
    builder_page = await client.get(f"/staff/surveys/{survey_id}")
    offered = (clock.now().astimezone(TOKYO) + timedelta(days=14)).date().isoformat()
    assert f'name="close_date" value="{offered}"' in builder_page.text  # a draft with none is offered one
    no_date = await client.hx_post(f"/staff/surveys/{survey_id}/plan", {"target_kind": "everyone", "close_date": ""})
    assert no_date.status_code == 422 and "回答の締切日を選んでください。" in no_date.text
    await client.hx_post(f"/staff/surveys/{survey_id}/plan", {"target_kind": "everyone", "close_date": "2099-01-31"})
    published = await client.submit(f"/staff/surveys/{survey_id}/publish", follow_redirects=False)
    assert published.status_code == 303
    overview = await client.get(published.headers["location"])
    assert "公開しました。案内を送っています。" in overview.text and 'data-testid="survey-overview"' in overview.text
    assert 'data-testid="add-question-form"' not in overview.text

    late = await client.hx_post(f"/staff/surveys/{survey_id}/questions", {"kind": "short", "text": "後から追加"})
    assert late.status_code == 200 and late.headers["hx-redirect"] == f"/staff/surveys/{survey_id}"
    assert "公開済みのため" in (await client.get(f"/staff/surveys/{survey_id}")).text
    assert [q["text"] for q in await surveys.questions_of(survey_id)] == ["ひとこと"]


async def test_the_preview_shows_the_members_form_that_sends_nothing(client):
    staff = await staff_at(client)
    survey_id = await builder.copy_template("check_in", staff, clock.now())
    preview = await client.get(f"/staff/surveys/{survey_id}/preview")
    assert preview.status_code == 200 and 'data-testid="phone-preview"' in preview.text
    assert preview.text.count('data-testid="question"') == len(TEMPLATES["check_in"].questions)
    assert 'data-testid="survey-submit"' not in preview.text and "hx-post" not in preview.text.split("phone-preview")[1]


async def test_staff_close_a_survey_early(client):
    staff = await staff_at(client)
    survey_id = await factories.open_survey(QUESTIONS, [], created_by=staff)
    closed = await client.submit(f"/staff/surveys/{survey_id}/close", follow_redirects=False)
    assert closed.status_code == 303 and (await Survey.select().first())["status"] == "closed"
    assert await AuditLog.count().where(AuditLog.action == "survey.closed") == 1


# --- The secretariat: results ---------------------------------------------------------------------------------


async def answered_survey(anonymous: bool = False) -> tuple[int, list[str]]:
    people = [await factories.member(name, home_prefecture=pref) for name, pref in
              (("東京 一郎", "13"), ("大阪 二郎", "27"), ("東京 三子", "13"), ("未回答 四郎", "13"))]
    survey_id = await factories.open_survey(QUESTIONS, [p.account_id for p in people], anonymous=anonymous)
    q = await question_ids(survey_id)
    for person, answers in zip(people, [
        {q[0]: ["5"], q[1]: ["0"], q[2]: ["0", "1"], q[3]: ["海がきれいでした"]},
        {q[0]: ["3"], q[1]: ["1"], q[3]: ["=HYPERLINK(\"http://example.com\")"]},
        {q[0]: ["4"], q[1]: ["0"], q[2]: ["0"]},
    ], strict=False):
        await responses.submit(survey_id, person.account_id, answers, clock.now())
    return survey_id, q


async def test_results_show_the_rate_and_an_accessible_chart_per_question(client):
    await staff_at(client)
    survey_id, _q = await answered_survey()
    page = await client.get(f"/staff/surveys/{survey_id}/results")
    assert page.status_code == 200
    assert "回答率 75%：招待した4人のうち3人が回答しました。" in page.text
    svgs = re.findall(r"<svg class=\"chart-svg\".*?</svg>", page.text, re.S)
    assert len(svgs) == 3  # scale, single and multiple choice; the free text is a list
    assert all('role="img"' in svg and "<title" in svg and "<desc" in svg for svg in svgs)
    assert 'class="visually-hidden"' in page.text and "<caption>Q2. また訪れたいですか</caption>" in page.text
    assert "平均：4.0（1＝不満、5＝満足）" in page.text
    assert "2件（66.7%）" in page.text  # ぜひ訪れたい: 2 of 3
    assert page.text.count('data-testid="text-answer"') == 2 and "大阪 二郎" in page.text

    filtered = await client.get(f"/staff/surveys/{survey_id}/results", params={"prefecture": "27"}, headers={"HX-Request": "true"})
    assert filtered.text.lstrip().startswith('<div id="results"')
    assert "条件に合う回答者は1人です。" in filtered.text and "海がきれいでした" not in filtered.text


async def test_an_anonymous_survey_never_shows_who_answered(client):
    await staff_at(client)
    survey_id, _q = await answered_survey(anonymous=True)
    page = await client.get(f"/staff/surveys/{survey_id}/results")
    assert "大阪 二郎" not in page.text and "東京 一郎" not in page.text
    one = await client.get(f"/staff/surveys/{survey_id}/results", params={"prefecture": "27"})
    assert 'data-testid="suppressed"' in one.text
    assert 'data-testid="text-answer"' not in one.text
    csv_text = (await client.get(f"/staff/surveys/{survey_id}/csv", params={"table": "responses"})).content.decode("utf-8-sig")
    assert "大阪 二郎" not in csv_text and "会員番号" not in csv_text


async def test_hidden_free_text_stays_out_of_the_csv_which_opens_in_excel_with_japanese_intact(client):
    await staff_at(client)
    survey_id, _q = await answered_survey()
    answer = await SurveyAnswer.select().where(SurveyAnswer.text == "海がきれいでした").first()
    hidden = await client.hx_post(f"/staff/surveys/{survey_id}/answers/{answer['id']}/hidden", {"hidden": "1"})
    assert hidden.status_code == 200 and 'data-testid="hidden-badge"' in hidden.text and "東京 一郎" in hidden.text

    download = await client.get(f"/staff/surveys/{survey_id}/csv", params={"table": "responses"})
    assert download.status_code == 200 and download.content.startswith(b"\xef\xbb\xbf")
    assert download.headers["content-type"].startswith("text/csv")
    assert f"survey-{survey_id}-responses.csv" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["回答番号", "回答日時", "居住都道府県", "会員番号", "表示名"]
    assert rows[0][5:] == ["Q1. プログラムの満足度", "Q2. また訪れたいですか", "Q3. 関わり方", "Q4. ご意見をお聞かせください"]
    assert [row[5:] for row in rows[1:]] == [["5", "ぜひ訪れたい", "交流会 / ふるさと納税", ""],
                                            ["3", "わからない", "", "'=HYPERLINK(\"http://example.com\")"],
                                            ["4", "ぜひ訪れたい", "交流会", ""]]
    assert "海がきれいでした" not in download.content.decode("utf-8-sig")

    summary = await client.get(f"/staff/surveys/{survey_id}/csv", params={"table": "summary", "prefecture": "13"})
    summary_rows = list(csv.reader(io.StringIO(summary.content.decode("utf-8-sig"))))
    assert ["Q2. また訪れたいですか", "ぜひ訪れたい", "2", "100.0"] in summary_rows
    exports = await AuditLog.select().where(AuditLog.action == "export.csv").order_by(AuditLog.id).output(load_json=True)
    assert [(e["target_type"], e["detail"]["table"], e["detail"]["prefecture"]) for e in exports] == [
        ("survey", "responses", ""), ("survey", "summary", "13")]
    assert (await client.get(f"/staff/surveys/{survey_id}/csv", params={"table": "everything"})).status_code == 404

    shown = await client.submit(f"/staff/surveys/{survey_id}/answers/{answer['id']}/hidden", {"hidden": "0"},
                                follow_redirects=False)
    assert shown.status_code == 303 and shown.headers["location"].endswith(f"#answer-{answer['id']}")
    assert "海がきれいでした" in (await client.get(f"/staff/surveys/{survey_id}/csv")).content.decode("utf-8-sig")


async def test_a_choice_answer_or_another_surveys_answer_cannot_be_hidden(client):
    await staff_at(client)
    survey_id, _q = await answered_survey()
    other = await factories.open_survey(QUESTIONS, [])
    choice = await SurveyAnswer.select().where(SurveyAnswer.choice.is_not_null()).first()
    text = await SurveyAnswer.select().where(SurveyAnswer.text != "").first()
    assert (await client.hx_post(f"/staff/surveys/{survey_id}/answers/{choice['id']}/hidden", {"hidden": "1"})).status_code == 404
    assert (await client.hx_post(f"/staff/surveys/{other}/answers/{text['id']}/hidden", {"hidden": "1"})).status_code == 404
