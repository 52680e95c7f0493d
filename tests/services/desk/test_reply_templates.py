"""Saved answers: validated, saved, sorted for the inquiry's category and filled in for the asker."""

from __future__ import annotations

import pytest

from app.services.desk import reply_templates
from app.services.desk.common import InquiryInvalid
from tests.services.desk.helpers import refused, staff_member


async def test_templates_are_validated_saved_sorted_for_the_category_and_filled_in():
    sato = await staff_member()
    with pytest.raises(InquiryInvalid) as caught:
        reply_templates.validate_template({"title": "", "body": "", "category": "x"})
    assert set(caught.value.errors) == {"title", "body", "category"}
    general = await reply_templates.save_template(reply_templates.validate_template(
        {"title": "受付のお礼", "body": "{name} 様\nお問い合わせ（{reference}）ありがとうございます。"}), sato)
    housing = await reply_templates.save_template(reply_templates.validate_template(
        {"title": "空き家バンクのご案内", "body": "空き家バンクをご覧ください。", "category": "housing"}), sato)
    assert [t["id"] for t in await reply_templates.templates("housing")] == [housing, general]
    await reply_templates.save_template(reply_templates.validate_template({"title": "受付のお礼（改）", "body": "本文"}), sato, general)
    assert {t["title"] for t in await reply_templates.templates()} == {"受付のお礼（改）", "空き家バンクのご案内"}
    await reply_templates.delete_template(housing)
    assert await refused(reply_templates.delete_template(housing)) == "not_found"
    filled = reply_templates.fill_template("{name} 様（{reference}）", {"name": "花子", "reference": "Q-2611-ABCD"})
    assert filled == "花子 様（Q-2611-ABCD）"
