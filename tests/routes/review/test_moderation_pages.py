"""One review queue for programs and articles: approve, send back with a reason, unpublish; all logged."""

from datetime import timedelta

from app.services.articles import articles
from app.services.programs import programs
from app.services.programs.programs import Actor
from app.services.shared import clock
from db.tables import Article, AuditLog, Notice, Program
from tests import factories
from tests.conftest import log_in


async def submitted_program(area_id: int, author_id: int) -> int:
    now = clock.now()
    program = Program(
        area=area_id, title="勇払の酪農体験", summary="牧場の一日を体験", starts_at=now + timedelta(days=30),
        ends_at=now + timedelta(days=31), apply_from=now, apply_until=now + timedelta(days=20), status="submitted",
        author=author_id,
    )
    await program.save()
    return program.id


async def submitted_article(area_id: int, author_id: int) -> int:
    article = Article(kind="report", title="樽前の空き家再生レポート", lead="三日間の作業報告", body="本文", area=area_id,
                      status="submitted", author=author_id)
    await article.save()
    return article.id


async def test_staff_sees_both_kinds_waiting_and_filters_them(client):
    area_id = await factories.area()
    editor = await factories.staff_account("編集 鈴木", role="editor", area=area_id)
    await submitted_program(area_id, editor)
    await submitted_article(area_id, editor)
    await log_in(client, await factories.staff_account())
    page = await client.get("/staff/moderation")
    assert page.text.count('data-testid="moderation-item"') == 2
    only_articles = await client.get("/staff/moderation", params={"kind": "article"}, headers={"HX-Request": "true"})
    assert only_articles.text.count('data-testid="moderation-item"') == 1
    assert "樽前の空き家再生レポート" in only_articles.text


async def test_approving_publishes_logs_and_tells_the_author(client):
    area_id = await factories.area()
    editor = await factories.staff_account("編集 鈴木", role="editor", area=area_id)
    program_id = await submitted_program(area_id, editor)
    await log_in(client, await factories.staff_account())
    response = await client.submit(f"/staff/moderation/program/{program_id}", {"decision": "approve"}, follow_redirects=True)
    assert "公開しました" in response.text
    assert (await Program.select(Program.status).where(Program.id == program_id).first())["status"] == "published"
    assert await AuditLog.count().where(AuditLog.action == "program.status") == 1
    assert await Notice.count().where(Notice.account == editor) == 1


async def test_sending_back_needs_a_reason_the_author_reads(client):
    area_id = await factories.area()
    editor = await factories.staff_account("編集 鈴木", role="editor", area=area_id)
    article_id = await submitted_article(area_id, editor)
    await log_in(client, await factories.staff_account())
    refused = await client.submit(f"/staff/moderation/article/{article_id}", {"decision": "reject", "reason": " "}, follow_redirects=True)
    assert "理由を入力してください" in refused.text
    assert (await Article.select(Article.status).where(Article.id == article_id).first())["status"] == "submitted"
    await client.submit(f"/staff/moderation/article/{article_id}", {"decision": "reject", "reason": "写真の掲載許可を確認してください"})
    row = await Article.select().where(Article.id == article_id).first()
    assert (row["status"], row["status_reason"]) == ("rejected", "写真の掲載許可を確認してください")
    notice = await Notice.select().where(Notice.account == editor).first()
    assert "写真の掲載許可" in notice["body"]


async def test_unpublishing_takes_a_public_item_down(client):
    area_id = await factories.area()
    editor = await factories.staff_account("編集 鈴木", role="editor", area=area_id)
    staff = await factories.staff_account()
    program_id = await submitted_program(area_id, editor)
    await programs.transition(program_id, Actor(staff, "staff"), "published")
    await log_in(client, staff)
    public = await client.get("/staff/moderation", params={"show": "published"})
    assert 'data-testid="moderation-unpublish"' in public.text
    await client.submit(f"/staff/moderation/program/{program_id}", {"decision": "unpublish", "reason": "日程の誤り"})
    assert (await Program.select(Program.status).where(Program.id == program_id).first())["status"] == "rejected"


async def test_unknown_items_and_decisions_are_refused_clearly(client):
    await log_in(client, await factories.staff_account())
    assert (await client.submit("/staff/moderation/poll/1", {"decision": "approve"})).status_code == 404
    response = await client.submit("/staff/moderation/program/424242", {"decision": "approve"}, follow_redirects=True)
    assert "すでに存在しません" in response.text
    response = await client.submit("/staff/moderation/program/424242", {"decision": "explode"}, follow_redirects=True)
    assert "この操作はできません" in response.text


async def test_an_editor_cannot_open_the_queue(client):
    area_id = await factories.area()
    await log_in(client, await factories.staff_account("編集 鈴木", role="editor", area=area_id))
    assert (await client.get("/staff/moderation")).status_code == 403


async def test_the_article_workflow_matches_the_programs(client):
    area_id = await factories.area()
    editor = await factories.staff_account("編集 鈴木", role="editor", area=area_id)
    article_id = await submitted_article(area_id, editor)
    staff = await factories.staff_account()
    await articles.transition(article_id, Actor(staff, "staff"), "published")
    assert (await Article.select(Article.status).where(Article.id == article_id).first())["status"] == "published"


async def test_staff_preview_a_submitted_program_as_it_will_appear(client):
    area_id = await factories.area()
    editor = await factories.staff_account("編集 鈴木", role="editor", area=area_id)
    program_id = await submitted_program(area_id, editor)
    await log_in(client, await factories.staff_account())
    queue = await client.get("/staff/moderation")
    assert f"/staff/preview/program/{program_id}" in queue.text
    preview = await client.get(f"/staff/preview/program/{program_id}")
    assert preview.status_code == 200
    assert "勇払の酪農体験" in preview.text
    # The public still cannot see it.
    client.cookies.clear()
    assert (await client.get(f"/programs/{program_id}")).status_code == 404


async def test_approving_a_program_announces_it_to_the_followers_of_its_area(client, app):
    from app.services.notify import push_notifications
    from db.tables import Notification
    from tests.routes.notify.test_push_pages import CountingSender

    app.state.push_sender = sender = CountingSender()

    area_id = await factories.area()
    follower = await factories.member("フォロワー", area_ids=[area_id])
    stranger = await factories.member("無関係な人")
    editor = await factories.staff_account("編集 鈴木", role="editor", area=area_id)
    program_id = await submitted_program(area_id, editor)
    await log_in(client, await factories.staff_account())
    await client.submit(f"/staff/moderation/program/{program_id}", {"decision": "approve"})
    notification = await Notification.select().first()
    assert notification["topic"] == "programs"
    assert "勇払の酪農体験" in notification["title"]
    assert sender.wakes == 1
    await push_notifications.fan_out_due()
    assert await Notice.count().where(Notice.account == follower.account_id) == 1
    assert await Notice.count().where(Notice.account == stranger.account_id) == 0
