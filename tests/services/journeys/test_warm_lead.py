"""Journey rule 2: an intent to move stated in a survey opens a desk inquiry assigned to the person the
secretariat chose — once per response, never for "not considering it", anonymous answers or a rule left off."""

from __future__ import annotations

import asyncio

import pytest

from app.services.journeys import rules, warm_lead
from app.services.shared import clock
from app.services.surveys import responses
from app.services.surveys.templates import RESIDENCE_INTENT
from db.tables import Inquiry, InquiryMessage, Notice, OutboxMail, SurveyQuestion
from tests import factories

INTENT = {"kind": "single", "key": "intent_to_move", "text": RESIDENCE_INTENT.text,
          "options": list(RESIDENCE_INTENT.options)}
COMMENT = {"kind": "long", "text": "ご感想", "required": False}


async def answered(choice: int, name: str = "移住 検討", email: str = "", **survey) -> int:
    registered = await factories.member(name, email=email)
    survey_id = await factories.open_survey([INTENT, COMMENT], [registered.account_id], **survey)
    questions = await SurveyQuestion.select().where(SurveyQuestion.survey == survey_id).order_by(SurveyQuestion.position)
    await responses.submit(survey_id, registered.account_id, {str(questions[0]["id"]): [str(choice)],
                                                               str(questions[1]["id"]): ["夏に家族で下見に行きたい"]},
                           clock.now())
    return registered.account_id


async def turned_on() -> int:
    staff = await factories.staff_account("相談員 山田")
    year = int(clock.now().strftime("%Y")) - (1 if clock.now().month < 4 else 0)
    await rules.save(year, "warm_lead", True, staff, staff)
    return staff


async def test_an_intent_to_move_opens_one_inquiry_assigned_and_the_assignee_is_told():
    staff = await turned_on()
    account = await answered(2, email="kento@example.jp")  # 移住を具体的に考えている
    results = await asyncio.gather(*(warm_lead.run_due() for _ in range(3)))
    assert sum(results) == 1
    inquiry = await Inquiry.select().where(Inquiry.account == account).first()
    assert (inquiry["assignee"], inquiry["status"], inquiry["channel"]) == (staff, "in_progress", "survey")
    message = await InquiryMessage.select().where(InquiryMessage.inquiry == inquiry["id"]).first()
    assert "移住を具体的に考えている" in message["body"] and "夏に家族で下見に行きたい" in message["body"]
    assert await OutboxMail.count() == 0  # the member asked nothing: no receipt
    notice = await Notice.select().where(Notice.account == staff).first()
    assert inquiry["reference"] in notice["title"] and notice["url"] == f"/staff/inquiries/{inquiry['id']}"
    assert await warm_lead.run_due() == 0


async def test_not_considering_it_anonymous_answers_and_a_rule_left_off_open_nothing():
    assert await warm_lead.run_due() == 0  # off by default: nobody takes the leads
    await answered(2, name="オフの年")
    assert await warm_lead.run_due() == 0
    await turned_on()
    await Inquiry.delete().where(Inquiry.id.is_not_null())
    await answered(4, name="考えていない")  # the last option
    await answered(1, name="匿名", anonymous=True)
    opened = await warm_lead.run_due()
    assert opened == 1  # only the one answered while the rule was off, now that it is on
    assert await Inquiry.count() == 1


async def test_the_rule_refuses_to_turn_on_without_someone_to_take_the_leads():
    staff = await factories.staff_account()
    member = await factories.member()
    for assignee, reason in ((None, "assignee_needed"), (member.account_id, "bad_assignee"), (2**31 - 1, "bad_assignee")):
        with pytest.raises(rules.RuleRefused) as refused:
            await rules.save(2026, "warm_lead", True, assignee, staff)
        assert refused.value.reason == reason
    with pytest.raises(rules.RuleRefused):
        await rules.save(2026, "no_such_rule", True, None, staff)
    await rules.save(2026, "warm_lead", True, staff, staff)
    await rules.save(2026, "warm_lead", False, None, staff)  # set again: one row, the latest
    assert (await rules.settings_for(2026))["warm_lead"] == rules.Setting("warm_lead", False, None)
    assert (await rules.settings_for(2025))["premium_invitation"].enabled  # on by default
