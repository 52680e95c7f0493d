"""Changes to public programs and articles wait for review as revisions (app/services/revisions.py): the public
keeps the published values; the editor replaces or withdraws their change; the secretariat approves it (applied
in one transaction, audited, the author told) or sends it back. Stale and simultaneous decisions are refused,
on both databases."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from app.i18n import in_locale
from app.services.articles import articles
from app.services.console import attention
from app.services.programs import programs
from app.services.review import moderation, revisions
from app.services.review.revisions import RevisionRefused
from app.services.shared.actor import Actor
from db.tables import Article, AuditLog, Notice, Program, Revision
from tests import factories
from tests.conftest import Scene
from tests.services.programs.test_programs import (
    apply,
    meanwhile,
    members,
    program_form,
    program_row,
)


async def refusal(awaitable: Awaitable) -> str:
    with pytest.raises(RevisionRefused) as refused:
        await awaitable
    return refused.value.reason


async def propose(scene: Scene, program_id: int, **form_changes) -> dict:
    """The area's editor saves the program form; returns the revision now waiting."""
    values = await programs.validate_program(program_form(**form_changes), scene.editor)
    assert await programs.update_program(program_id, scene.editor, values) == revisions.PROPOSED
    return await programs.pending_revision(program_id)


async def approve(scene: Scene, revision: dict) -> dict:
    return await revisions.approve(programs.REVISIONS, revision["id"], revision["version"], scene.staff)


async def revision_audits(kind: str = "program") -> list[dict]:
    rows = await AuditLog.select().where(AuditLog.action == f"{kind}.revision").order_by(AuditLog.id).output(load_json=True)
    return [{"actor": r["actor"], "target": r["target_id"], **r["detail"]} for r in rows]


def before_next_transaction(monkeypatch, action: Callable[[], Awaitable]) -> None:
    """`action` runs just before the revisions service opens its next transaction."""
    meanwhile(monkeypatch, action, service=revisions)


# The editor's side ----------------------------------------------------------------------------------------


async def test_a_closed_program_can_be_changed_too_and_the_change_waits(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id, status="closed")
    revision = await propose(scene, program_id, place="勇払公民館")
    assert revision["values"]["place"] == "勇払公民館"
    assert (await program_row(program_id))["place"] == ""
    assert programs.REVISIONS.name == "program" and await revisions.pending_ids(programs.REVISIONS) == {program_id}


async def test_saving_the_published_values_again_leaves_no_change_waiting(scene):
    values = await programs.validate_program(program_form(), scene.editor)
    program_id = await programs.create_program(scene.editor, values)
    await programs.transition(program_id, scene.editor, "submitted")
    await programs.transition(program_id, scene.staff, "published")
    await propose(scene, program_id, title="改題")
    assert await programs.update_program(program_id, scene.editor, values) == revisions.PROPOSED
    assert await programs.pending_revision(program_id) is None
    assert await Revision.count() == 0


async def published_through_the_form(scene: Scene) -> int:
    values = await programs.validate_program(program_form(), scene.editor)
    program_id = await programs.create_program(scene.editor, values)
    await programs.transition(program_id, scene.editor, "submitted")
    await programs.transition(program_id, scene.staff, "published")
    return program_id


async def test_a_change_holds_only_its_fields_so_a_staff_edit_made_meanwhile_stays(scene):
    program_id = await published_through_the_form(scene)
    revision = await propose(scene, program_id, place="勇払公民館")
    assert revision["values"] == {"place": "勇払公民館"}
    # Staff correct the title directly while the editor's change waits.
    staff_values = await programs.validate_program(program_form(title="ほっき貝の浜で漁業体験（冬）", area=str(scene.area)),
                                                   scene.staff)
    await programs.update_program(program_id, scene.staff, staff_values)
    await approve(scene, revision)
    row = await program_row(program_id)
    assert (row["title"], row["place"]) == ("ほっき貝の浜で漁業体験（冬）", "勇払公民館")


async def test_times_saved_untouched_are_no_change_whatever_their_seconds(scene):
    """A program made outside the form (the demo, an import) has seconds the form cannot show."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    times = {"starts_at": datetime(2026, 12, 12, 9, 0, 41, tzinfo=tokyo), "ends_at": datetime(2026, 12, 12, 16, 0, 7, tzinfo=tokyo),
             "apply_from": datetime(2026, 11, 1, 10, 0, 59, 999, tzinfo=tokyo),
             "apply_until": datetime(2026, 12, 5, 23, 59, 30, tzinfo=tokyo)}
    program_id = await factories.program(scene.area, scene.editor.account_id, **times)
    revision = await propose(scene, program_id, title="題名だけ変える")
    assert set(revision["values"]) <= set(revisions.changed_fields(programs.REVISIONS, await program_row(program_id),
                                                                   revision["values"]))
    assert not set(revision["values"]) & set(times)
    [item] = await revisions.queue(programs.REVISIONS)
    assert "starts_at" not in [change["field"] for change in item["changes"]]


async def test_the_editor_withdraws_their_change_and_others_cannot(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    await propose(scene, program_id, title="取り下げる変更")
    assert await refusal(programs.withdraw_revision(program_id, scene.other_editor)) == "not_your_area"
    member = Actor((await factories.member()).account_id, "member")
    assert await refusal(programs.withdraw_revision(program_id, member)) == "not_allowed"
    assert await refusal(programs.withdraw_revision(999_999, scene.editor)) == "not_found"
    await programs.withdraw_revision(program_id, scene.editor)
    assert await programs.pending_revision(program_id) is None
    assert (await program_row(program_id))["title"] == "ほっき貝の浜で漁業体験"
    assert await refusal(programs.withdraw_revision(program_id, scene.editor)) == "no_revision"


async def test_a_change_cannot_be_proposed_for_a_program_unpublished_meanwhile(scene, monkeypatch):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    values = await programs.validate_program(program_form(title="間に合わない変更"), scene.editor)
    before_next_transaction(monkeypatch, lambda: programs.transition(program_id, scene.staff, "rejected", "日程の誤り"))
    assert await refusal(programs.update_program(program_id, scene.editor, values)) == "changed_meanwhile"
    assert await Revision.count() == 0 and (await program_row(program_id))["status"] == "rejected"


async def test_unpublishing_takes_the_change_waiting_for_review_with_it(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    await propose(scene, program_id, title="公開停止で消える変更")
    await programs.transition(program_id, scene.staff, "rejected", "日程の誤り")
    assert await programs.pending_revision(program_id) is None
    # Closing keeps it: the program is still public.
    other = await factories.program(scene.area, scene.editor.account_id)
    await propose(scene, other, title="締切後も残る変更")
    await programs.transition(other, scene.editor, "closed")
    assert (await programs.pending_revision(other))["values"]["title"] == "締切後も残る変更"


# The secretariat's side -----------------------------------------------------------------------------------


async def test_approving_applies_the_change_in_place_audits_it_and_tells_the_author(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    published_at = (await program_row(program_id))["published_at"]
    revision = await propose(scene, program_id, title="ほっき貝の浜で漁業体験（日程変更）", capacity="14")
    done = await approve(scene, revision)
    assert done["fields"][:1] == ["title"] and "capacity" in done["fields"]
    program = await program_row(program_id)
    assert (program["status"], program["title"], program["capacity"]) == ("published", "ほっき貝の浜で漁業体験（日程変更）", 14)
    assert program["place"] == "勇払漁港" and program["themes"] == ["agriculture", "tourism"]
    assert program["published_at"] == published_at  # not published anew: the same program, corrected
    assert await programs.pending_revision(program_id) is None
    (audit,) = await revision_audits()
    assert (audit["actor"], audit["target"], audit["decision"], audit["revision"]) == (
        scene.staff.account_id, str(program_id), "approved", revision["id"])
    assert "title" in audit["fields"]
    (notice,) = await Notice.select().where(Notice.account == scene.editor.account_id)
    assert "日程変更" in notice["title"] and notice["url"] == programs.program_path(program_id)


async def test_sending_back_needs_a_reason_discards_the_change_and_tells_the_author(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    revision = await propose(scene, program_id, title="差し戻される変更")
    send_back = revisions.send_back
    assert await refusal(send_back(programs.REVISIONS, revision["id"], revision["version"], scene.staff, "  ")) == "reason_needed"
    await send_back(programs.REVISIONS, revision["id"], revision["version"], scene.staff, "題名は変えないでください")
    assert await programs.pending_revision(program_id) is None
    assert (await program_row(program_id))["title"] == "ほっき貝の浜で漁業体験"
    (audit,) = await revision_audits()
    assert (audit["decision"], audit["reason"], audit["fields"][0]) == ("sent_back", "題名は変えないでください", "title")
    (notice,) = await Notice.select().where(Notice.account == scene.editor.account_id)
    assert notice["body"] == "題名は変えないでください"


async def test_an_editor_cannot_approve_or_send_back(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    revision = await propose(scene, program_id, title="自分で承認したい")
    assert await refusal(revisions.approve(programs.REVISIONS, revision["id"], 1, scene.editor)) == "not_allowed"
    assert await refusal(revisions.send_back(programs.REVISIONS, revision["id"], 1, scene.editor, "x")) == "not_allowed"
    assert await refusal(moderation.decide_revision(revision["id"], 1, "approve", scene.editor)) == "not_allowed"
    assert (await program_row(program_id))["title"] == "ほっき貝の浜で漁業体験"


async def test_approval_refuses_a_capacity_below_the_seats_taken_since_the_change(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id, capacity=10)
    people = await members(5)
    for person in people[:3]:
        assert await apply(program_id, person) == "accepted"
    revision = await propose(scene, program_id, capacity="4")  # fine when proposed: three seats taken
    for person in people[3:]:
        assert await apply(program_id, person) == "accepted"
    with pytest.raises(RevisionRefused) as refused:
        await approve(scene, revision)
    assert (refused.value.reason, refused.value.details) == ("capacity", {"capacity": 4, "count": 5})
    assert (await program_row(program_id))["capacity"] == 10
    assert (await programs.pending_revision(program_id))["version"] == revision["version"]  # kept, to send back
    assert await revision_audits() == []


async def test_the_capacity_rule_is_also_part_of_the_update_for_a_seat_taken_meanwhile(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id, capacity=10)
    people = await members(4)
    for person in people[:3]:
        await apply(program_id, person)
    revision = await propose(scene, program_id, capacity="3", title="定員を減らす")
    # As if the fourth seat were taken after the check read the program: only the statement's guard is left.
    unchecked = dataclasses.replace(programs.REVISIONS, check=None)
    await apply(program_id, people[3])
    assert await refusal(revisions.approve(unchecked, revision["id"], revision["version"], scene.staff)) == "changed_meanwhile"
    program = await program_row(program_id)
    assert (program["capacity"], program["title"], program["seats_taken"]) == (10, "ほっき貝の浜で漁業体験", 4)
    assert await programs.pending_revision(program_id) is not None


async def test_an_approval_of_a_version_replaced_meanwhile_is_refused(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    seen = await propose(scene, program_id, title="一度目の変更")
    await propose(scene, program_id, title="二度目の変更")
    assert await refusal(approve(scene, seen)) == "changed_meanwhile"
    assert await refusal(revisions.send_back(programs.REVISIONS, seen["id"], seen["version"], scene.staff, "x")) == \
        "changed_meanwhile"
    assert (await program_row(program_id))["title"] == "ほっき貝の浜で漁業体験"
    current = await programs.pending_revision(program_id)
    await approve(scene, current)
    assert (await program_row(program_id))["title"] == "二度目の変更"
    assert await refusal(approve(scene, current)) == "not_found"  # decided: gone


async def test_an_editor_replacing_the_change_while_staff_approve_it_never_gets_the_old_one_applied(scene, monkeypatch):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    seen = await propose(scene, program_id, title="古い変更")
    newer = await programs.validate_program(program_form(title="新しい変更"), scene.editor)
    before_next_transaction(monkeypatch, lambda: programs.update_program(program_id, scene.editor, newer))
    assert await refusal(approve(scene, seen)) == "changed_meanwhile"
    assert (await program_row(program_id))["title"] == "ほっき貝の浜で漁業体験"
    assert (await programs.pending_revision(program_id))["values"]["title"] == "新しい変更"
    assert await revision_audits() == []


async def test_two_staff_approving_at_once_apply_the_change_once(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    revision = await propose(scene, program_id, title="同時に承認")
    other_staff = Actor(await factories.staff_account("事務局 田中"), "staff")
    results = await asyncio.gather(
        approve(scene, revision),
        revisions.approve(programs.REVISIONS, revision["id"], revision["version"], other_staff),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], RevisionRefused), results
    assert refused[0].reason in ("not_found", "changed_meanwhile")
    assert (await program_row(program_id))["title"] == "同時に承認"
    assert len(await revision_audits()) == 1 and await Revision.count() == 0
    assert await Notice.count().where(Notice.account == scene.editor.account_id) == 1


async def test_the_editor_replacing_and_staff_approving_at_once_end_consistent(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id)
    seen = await propose(scene, program_id, title="承認される変更")
    newer = await programs.validate_program(program_form(title="後から来た変更"), scene.editor)
    approved, replaced = await asyncio.gather(
        approve(scene, seen), programs.update_program(program_id, scene.editor, newer), return_exceptions=True)
    assert replaced == revisions.PROPOSED
    title = (await program_row(program_id))["title"]
    waiting = await programs.pending_revision(program_id)
    if isinstance(approved, BaseException):  # the replacement came first: nothing applied
        assert isinstance(approved, RevisionRefused) and approved.reason == "changed_meanwhile"
        assert title == "ほっき貝の浜で漁業体験"
    else:  # the approval came first: the later change waits as a new revision
        assert title == "承認される変更"
    assert waiting["values"]["title"] == "後から来た変更"


async def test_the_queue_lists_changes_next_to_submitted_items_with_the_fields_they_change(scene):
    program_id = await factories.program(scene.area, scene.editor.account_id, title="ほっき貝の浜で漁業体験")
    await programs.create_program(scene.editor, await programs.validate_program(program_form(), scene.editor))
    submitted = await Program.select(Program.id).where(Program.status == "draft").first()
    await programs.transition(submitted["id"], scene.editor, "submitted")
    await propose(scene, program_id, title="新しい題", body="新しい本文", starts_at="2026-12-12T10:00")
    with in_locale("ja", audience="staff"):  # the secretariat's queue, with its dates
        queue = await moderation.queue()
    assert [(row["item_kind"], row.get("revision_id") is not None) for row in queue] == [
        ("program", False), ("program", True)]
    changes = {c["field"]: c for c in queue[1]["changes"]}
    assert (changes["title"]["old"], changes["title"]["new"], changes["title"]["long"]) == (
        "ほっき貝の浜で漁業体験", "新しい題", False)
    assert changes["body"]["long"] and changes["body"]["old"] == ""  # a long text only says it changed
    assert changes["starts_at"]["new"] == "令和8年12月12日 10:00"
    assert (await attention.counts())["review"] == 2
    assert await moderation.queue(area_id=scene.other_area) == []
    assert len(await moderation.queue(kind="article")) == 0


# Articles: the same mechanism ------------------------------------------------------------------------------

GOOD = {"kind": "report", "title": "田植え体験の報告", "lead": "都市から12人が参加しました。", "body": "## 当日\n\n晴れでした。"}


async def published_article(scene: Scene) -> int:
    values = await articles.validate_article(GOOD, scene.editor)
    article_id = await articles.create_article(scene.editor, values)
    await articles.transition(article_id, scene.editor, "submitted")
    await articles.transition(article_id, scene.staff, "published")
    return article_id


async def test_an_article_change_waits_is_approved_in_place_and_the_feed_order_stays(scene):
    article_id = await published_article(scene)
    before = await Article.select().where(Article.id == article_id).first()
    values = await articles.validate_article({**GOOD, "kind": "interview", "body": "書き直した本文"}, scene.editor)
    assert await articles.update_article(article_id, scene.editor, values) == revisions.PROPOSED
    assert (await articles.article_for_public(article_id))["body"] == GOOD["body"]
    (row,) = await moderation.queue(kind="article")
    assert row["item_kind"] == "article" and [c["field"] for c in row["changes"]] == ["kind", "body"]
    assert row["changes"][0]["new"] == articles.kind_label("interview")
    await moderation.decide_revision(row["revision_id"], row["version"], "approve", scene.staff)
    after = await Article.select().where(Article.id == article_id).first()
    assert (after["status"], after["kind"], after["body"]) == ("published", "interview", "書き直した本文")
    assert after["published_at"] == before["published_at"] and after["updated_at"] >= before["updated_at"]
    (audit,) = await revision_audits("article")
    assert (audit["decision"], audit["fields"]) == ("approved", ["kind", "body"])


async def test_an_article_change_is_sent_back_and_unpublishing_drops_one(scene):
    article_id = await published_article(scene)
    values = await articles.validate_article({**GOOD, "title": "差し戻される題"}, scene.editor)
    await articles.update_article(article_id, scene.editor, values)
    revision = await articles.pending_revision(article_id)
    assert await refusal(moderation.decide_revision(revision["id"], revision["version"], "reject", scene.staff)) == \
        "reason_needed"
    assert await refusal(moderation.decide_revision(revision["id"], revision["version"], "explode", scene.staff)) == \
        "not_allowed"
    await moderation.decide_revision(revision["id"], revision["version"], "reject", scene.staff, "元の題で")
    assert await articles.pending_revision(article_id) is None
    assert (await Article.select(Article.title).where(Article.id == article_id).first())["title"] == GOOD["title"]

    await articles.update_article(article_id, scene.editor, values)
    await articles.transition(article_id, scene.staff, "rejected", "掲載を止めます")
    assert await articles.pending_revision(article_id) is None
    assert await refusal(moderation.decide_revision(123_456, 1, "approve", scene.staff)) == "not_found"
    assert await refusal(moderation.decide_revision(2**40, 1, "approve", scene.staff)) == "not_found"


async def test_an_editor_withdraws_an_article_change(scene):
    article_id = await published_article(scene)
    values = await articles.validate_article({**GOOD, "lead": "取り下げるリード"}, scene.editor)
    await articles.update_article(article_id, scene.editor, values)
    assert await refusal(articles.withdraw_revision(article_id, scene.other_editor)) == "not_your_area"
    assert await refusal(articles.withdraw_revision(2**40, scene.editor)) == "not_found"
    await articles.withdraw_revision(article_id, scene.editor)
    assert await articles.pending_revision(article_id) is None
    assert await revisions.pending_ids(articles.REVISIONS) == set()


async def test_the_count_beside_the_staff_menu_is_the_length_of_the_queue(scene):
    await factories.program(scene.area, title="審査待ちの回", status="submitted")
    values = await articles.validate_article(GOOD, scene.editor)
    await articles.transition(await articles.create_article(scene.editor, values), scene.editor, "submitted")
    changed = await articles.validate_article({**GOOD, "body": "書き直した本文"}, scene.editor)
    assert await articles.update_article(await published_article(scene), scene.editor, changed) == revisions.PROPOSED
    queued = [*await moderation.queue("program"), *await moderation.queue("article")]
    assert {row["item_kind"] for row in queued} == {"program", "article"} and any("revision_id" in row for row in queued)
    assert (await attention.counts())["review"] == len(queued)
