"""A staff form posted with fields missing is shown again with its messages, never a 500."""

from db.tables import Survey
from tests import factories
from tests.conftest import log_in


async def test_survey_details_posted_with_only_an_intro_is_shown_again(client):
    await log_in(client, await factories.staff_account())
    created = await client.submit("/staff/surveys", {"title": "テスト"})
    survey = await Survey.select(Survey.id).first()
    assert created.status_code < 500 and survey is not None
    response = await client.submit(f"/staff/surveys/{survey['id']}/details", {"intro": "x"})
    assert response.status_code < 500


async def test_a_saved_answer_posted_with_only_a_body_is_shown_again(client):
    await log_in(client, await factories.staff_account())
    response = await client.submit("/staff/inquiries/templates/1", {"body": "x"})
    assert response.status_code < 500
    created = await client.submit("/staff/inquiries/templates", {"title": "お礼", "body": "ありがとうございます。"})
    assert created.status_code < 500
    response = await client.submit("/staff/inquiries/templates/1", {"body": "x"})
    assert response.status_code < 500
