"""Campaign links: what the form accepts and refuses, short names made or kept, the first campaign recorded,
and matching sites recognised by their Referer."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.services.campaigns import campaigns
from app.services.shared.refusals import FormInvalid
from db.tables import AuditLog, Campaign, Member
from tests import factories

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)


def form(**changes) -> dict:
    return {"name": "駅ポスター（JR苫小牧駅）", "source": "JR苫小牧駅", "kind": "poster", "slug": "", "target": "/programs",
            "poster_text": "週末は苫小牧で、海と森の仕事を手伝いませんか。", **changes}


async def test_a_campaign_is_made_with_a_short_name_people_can_type_and_is_audited():
    staff = await factories.staff_account()
    campaign_id = await campaigns.create(campaigns.validate(form()), staff, NOW)
    row = await campaigns.get(campaign_id)
    assert len(row["slug"]) == 6 and not set(row["slug"]) & set("0o1li")
    assert (row["source"], row["kind"], row["target"], row["active"]) == ("JR苫小牧駅", "poster", "/programs", True)
    entry = await AuditLog.select().where(AuditLog.action == "campaign.create").first().output(load_json=True)
    assert (entry["actor"], entry["target_id"], entry["detail"]["slug"]) == (staff, str(campaign_id), row["slug"])


async def test_a_typed_short_name_is_read_as_typed_from_a_poster_and_a_taken_one_is_refused():
    staff = await factories.staff_account()
    await campaigns.create(campaigns.validate(form(slug="Ｓｔａｔｉｏｎ-2026")), staff, NOW)
    assert (await campaigns.by_slug("STATION-2026")) is not None
    with pytest.raises(FormInvalid) as refused:
        await campaigns.create(campaigns.validate(form(slug="station-2026")), staff, NOW)
    assert set(refused.value.errors) == {"slug"} and refused.value.values["name"] == "駅ポスター（JR苫小牧駅）"
    assert await Campaign.count() == 1


@pytest.mark.parametrize("changes, field", [
    ({"name": "  "}, "name"), ({"source": ""}, "source"), ({"source": "あ" * 101}, "source"), ({"kind": "matching_site"}, "kind"),
    ({"kind": "billboard"}, "kind"), ({"slug": "a"}, "slug"), ({"slug": "駅"}, "slug"), ({"slug": "-x"}, "slug"),
    ({"target": "https://evil.example/"}, "target"), ({"target": "//evil.example"}, "target"), ({"target": "programs"}, "target"),
    ({"target": "/\\evil.example"}, "target"), ({"target": "/pro grams"}, "target"), ({"poster_text": "あ" * 301}, "poster_text"),
])
def test_the_form_refuses_what_cannot_be_kept_with_the_values_as_typed(changes, field):
    with pytest.raises(FormInvalid) as refused:
        campaigns.validate(form(**changes))
    assert field in refused.value.errors
    assert refused.value.values[next(iter(changes))] == next(iter(changes.values()))


async def test_a_stopped_campaign_leads_nowhere_and_a_change_keeps_its_short_name_when_none_is_typed():
    staff = await factories.staff_account()
    campaign_id = await campaigns.create(campaigns.validate(form(slug="fair-tokyo")), staff, NOW)
    assert await campaigns.update(campaign_id, campaigns.validate(form(slug="", name="移住フェア")), False, staff, NOW)
    row = await campaigns.get(campaign_id)
    assert (row["slug"], row["name"], row["active"]) == ("fair-tokyo", "移住フェア", False)
    assert await campaigns.by_slug("fair-tokyo") is None
    assert not await campaigns.update(999_999, campaigns.validate(form()), True, staff, NOW)


@pytest.mark.parametrize("referer, site", [
    ("https://smout.jp/plans/12345", "smout.jp"), ("https://www.smout.jp/", "smout.jp"),
    ("https://notsmout.jp/", None), ("https://smout.jp.evil.example/", None), ("http://[", None), ("", None),
])
def test_a_matching_site_is_known_by_its_host_only(referer, site):
    assert campaigns.matching_site_of(referer) == site


async def test_a_matching_sites_campaign_is_made_once_and_kept_from_the_staffs_kinds():
    first = await campaigns.matching_site_campaign("smout.jp", NOW)
    assert await campaigns.matching_site_campaign("smout.jp", NOW) == first
    row = await campaigns.get(first)
    assert (row["source"], row["kind"], row["slug"]) == ("SMOUT", "matching_site", "smout-jp")
    staff = await factories.staff_account()
    await campaigns.update(first, campaigns.validate(form(source="SMOUT", kind="other")), True, staff, NOW)
    assert (await campaigns.get(first))["kind"] == "matching_site"


async def test_the_first_campaign_recorded_is_the_members_own_then_the_sessions_if_it_exists():
    staff = await factories.staff_account()
    poster = await campaigns.create(campaigns.validate(form()), staff, NOW)
    sns = await campaigns.create(campaigns.validate(form(name="X投稿", source="X", kind="sns")), staff, NOW)
    member = await factories.member()
    assert await campaigns.campaign_to_record(member.member_id, sns) == sns
    assert await campaigns.campaign_to_record(member.member_id, 999_999) is None
    assert await campaigns.campaign_to_record(None, None) is None
    await Member.update({Member.campaign: poster}).where(Member.id == member.member_id)
    assert await campaigns.campaign_to_record(member.member_id, sns) == poster
