"""Changes to public programs and articles through the pages: the editor's banner, list badge and withdraw; the
review queue with the changed fields, preview, approve and send back; bad input answered on the page, never
a 500; and no second push announcement when a change to a published program is approved."""

from __future__ import annotations

from app.services.articles import articles
from app.services.programs import programs
from app.services.programs.programs import Actor
from db.tables import Article, AuditLog, Notice, Program, Revision
from tests import factories
from tests.conftest import log_in
from tests.routes.programs.test_program_pages import program_form

ARTICLE = {"kind": "report", "title": "田植え体験の報告", "lead": "都市から12人が参加しました。", "body": "## 当日\n\n晴れでした。"}


async def people() -> dict:
    area = await factories.area()
    other = await factories.area("樽前", "tarumae")
    return {
        "area": area,
        "editor": await factories.staff_account("勇払 編集 鈴木", role="editor", area=area),
        "other_editor": await factories.staff_account("樽前 編集 高橋", role="editor", area=other),
        "staff": await factories.staff_account(),
    }


async def program_with_change(who: dict, **changes) -> tuple[int, dict]:
    """A published program of the editor's area, and the editor's change to it waiting for review."""
    program_id = await factories.program(who["area"], who["editor"], title="勇払の酪農体験", body="牛の世話をします。")
    editor = Actor(who["editor"], "editor", who["area"])
    values = await programs.validate_program(program_form(**{"title": "勇払の酪農体験", "body": "牛の世話をします。", **changes}),
                                             editor)
    await programs.update_program(program_id, editor, values)
    return program_id, await programs.pending_revision(program_id)


async def article_with_change(who: dict, **changes) -> tuple[int, dict]:
    editor, staff = Actor(who["editor"], "editor", who["area"]), Actor(who["staff"], "staff")
    article_id = await articles.create_article(editor, await articles.validate_article(ARTICLE, editor))
    await articles.transition(article_id, editor, "submitted")
    await articles.transition(article_id, staff, "published")
    await articles.update_article(article_id, editor, await articles.validate_article({**ARTICLE, **changes}, editor))
    return article_id, await articles.pending_revision(article_id)


async def decide(client, revision: dict, decision: str, **fields):
    data = {"decision": decision, "version": str(revision["version"]), **fields}
    return await client.submit(f"/staff/moderation/revisions/{revision['id']}", data, follow_redirects=True)


# The editor -----------------------------------------------------------------------------------------------


async def test_the_editor_sees_their_change_waiting_on_the_form_and_in_the_list_and_can_withdraw_it(client):
    who = await people()
    program_id, _revision = await program_with_change(who, title="勇払の酪農体験（改訂）")
    await log_in(client, who["editor"])
    listing = await client.get("/editor/programs")
    assert 'data-testid="revision-pending"' in listing.text and "変更が審査待ち" in listing.text
    form = await client.get(f"/editor/programs/{program_id}")
    assert 'data-testid="revision-banner"' in form.text and "変更は事務局の審査待ちです" in form.text
    assert 'value="勇払の酪農体験（改訂）"' in form.text and "変更を審査に出す" in form.text
    withdrawn = await client.submit(f"/editor/programs/{program_id}/revision/withdraw", follow_redirects=True)
    assert "変更を取り下げました" in withdrawn.text and 'value="勇払の酪農体験"' in withdrawn.text
    assert await Revision.count() == 0
    again = await client.submit(f"/editor/programs/{program_id}/revision/withdraw", follow_redirects=True)
    assert again.status_code == 200 and "審査待ちの変更はもうありません" in again.text


async def test_the_article_editor_sees_the_proposed_version_and_its_preview_and_can_withdraw(client):
    who = await people()
    article_id, _revision = await article_with_change(who, body="書き直した本文です。")
    await log_in(client, who["editor"])
    listing = await client.get("/editor/articles")
    assert 'data-testid="revision-pending"' in listing.text
    form = await client.get(f"/editor/articles/{article_id}")
    assert 'data-testid="revision-banner"' in form.text and "書き直した本文です。" in form.text
    withdrawn = await client.submit(f"/editor/articles/{article_id}/revision/withdraw", follow_redirects=True)
    assert "変更を取り下げました" in withdrawn.text and await Revision.count() == 0
    assert "書き直した本文です。" not in withdrawn.text


async def test_saving_the_published_values_says_nothing_waits(client):
    who = await people()
    editor = Actor(who["editor"], "editor", who["area"])
    program_id = await programs.create_program(editor, await programs.validate_program(program_form(), editor))
    await programs.transition(program_id, editor, "submitted")
    await programs.transition(program_id, Actor(who["staff"], "staff"), "published")
    await log_in(client, who["editor"])
    response = await client.submit(f"/editor/programs/{program_id}", program_form(), follow_redirects=True)
    assert "公開中の内容と違いがないため" in response.text and await Revision.count() == 0


async def test_another_areas_editor_cannot_withdraw_or_see_the_change(client):
    who = await people()
    program_id, _revision = await program_with_change(who, title="他の地域からは触れない")
    await log_in(client, who["other_editor"])
    assert (await client.submit(f"/editor/programs/{program_id}/revision/withdraw")).status_code == 403
    assert (await client.submit("/editor/programs/99999999999/revision/withdraw")).status_code == 404
    assert (await client.submit("/editor/articles/99999999999/revision/withdraw")).status_code == 404
    assert await Revision.count() == 1


async def test_a_bad_change_is_shown_next_to_its_field_and_nothing_is_kept(client):
    who = await people()
    program_id = await factories.program(who["area"], who["editor"])
    await log_in(client, who["editor"])
    response = await client.hx_post(f"/editor/programs/{program_id}", {**program_form(capacity="0"),
                                                                      "_csrf_token": client.csrf_token})
    assert response.status_code == 422 and 'data-testid="error-capacity"' in response.text
    assert await Revision.count() == 0


async def test_staff_see_that_an_editors_change_waits_and_still_edit_the_published_values(client):
    who = await people()
    program_id, _revision = await program_with_change(who, title="担当者の改訂案")
    await log_in(client, who["staff"])
    form = await client.get(f"/editor/programs/{program_id}")
    assert "担当者による変更が審査待ちです" in form.text and 'data-testid="revision-queue-link"' in form.text
    assert 'value="勇払の酪農体験"' in form.text


# The secretariat ------------------------------------------------------------------------------------------


async def test_the_queue_shows_a_change_with_its_fields_and_a_preview_and_counts_it(client):
    who = await people()
    program_id, revision = await program_with_change(who, title="勇払の酪農体験（日程変更）", body="新しい本文", capacity="15")
    await log_in(client, who["staff"])
    queue = await client.get("/staff/moderation")
    assert queue.text.count('data-testid="moderation-item"') == 1
    assert "公開中のプログラムの変更" in queue.text
    assert "<del>勇払の酪農体験</del> → <ins>勇払の酪農体験（日程変更）</ins>" in queue.text
    assert "詳細が変更されました。" in queue.text and "<del>10</del> → <ins>15</ins>" in queue.text
    assert f'value="{revision["version"]}"' in queue.text
    assert 'data-testid="pending-count">1<' in (await client.get("/staff")).text
    preview = await client.get(f"/staff/preview/program-revision/{revision['id']}")
    assert preview.status_code == 200 and "勇払の酪農体験（日程変更）" in preview.text and "新しい本文" in preview.text
    public = await client.get(f"/programs/{program_id}")
    assert "（日程変更）" not in public.text and "新しい本文" not in public.text
    only_articles = await client.get("/staff/moderation", params={"kind": "article"}, headers={"HX-Request": "true"})
    assert 'data-testid="moderation-item"' not in only_articles.text


async def test_an_article_change_is_previewed_and_listed_with_its_body_changed(client):
    who = await people()
    _article_id, revision = await article_with_change(who, title="田植え体験の報告（写真追加）", body="写真を足しました。")
    await log_in(client, who["staff"])
    queue = await client.get("/staff/moderation", params={"kind": "article"})
    assert "公開中の記事の変更" in queue.text and "本文が変更されました。" in queue.text
    preview = await client.get(f"/staff/preview/article-revision/{revision['id']}")
    assert 'data-testid="revision-preview"' in preview.text and "写真を足しました。" in preview.text
    assert (await client.get("/staff/preview/article-revision/424242")).status_code == 404
    assert (await client.get("/staff/preview/article-revision/99999999999")).status_code == 404
    # each kind previews only its own changes
    assert (await client.get(f"/staff/preview/program-revision/{revision['id']}")).status_code == 404


async def test_approving_a_change_applies_it_without_a_new_push_announcement(client):
    from db.tables import Notification

    who = await people()
    program_id, revision = await program_with_change(who, title="勇払の酪農体験（改訂）")
    await log_in(client, who["staff"])
    response = await decide(client, revision, "approve")
    assert "変更を承認しました" in response.text
    program = await Program.select(Program.title, Program.status).where(Program.id == program_id).first()
    assert program == {"title": "勇払の酪農体験（改訂）", "status": "published"}
    assert "勇払の酪農体験（改訂）" in (await client.get(f"/programs/{program_id}")).text
    assert await Notification.count() == 0  # a push goes out on first publication only
    assert await AuditLog.count().where(AuditLog.action == "program.revision") == 1
    assert await Notice.count().where(Notice.account == who["editor"]) == 1
    assert "この変更はもう審査待ちではありません" in (await decide(client, revision, "approve")).text


async def test_sending_a_change_back_needs_a_reason_and_keeps_the_public_page(client):
    who = await people()
    article_id, revision = await article_with_change(who, title="差し戻される題")
    await log_in(client, who["staff"])
    refused = await decide(client, revision, "reject", reason="  ")
    assert "理由を入力してください" in refused.text and await Revision.count() == 1
    done = await decide(client, revision, "reject", reason="題は元のままにしてください")
    assert "変更を作成者に差し戻しました" in done.text and await Revision.count() == 0
    assert (await Article.select(Article.title).where(Article.id == article_id).first())["title"] == ARTICLE["title"]
    notice = await Notice.select().where(Notice.account == who["editor"]).order_by(Notice.id, ascending=False).first()
    assert notice["body"] == "題は元のままにしてください"


async def test_bad_decisions_are_explained_on_the_page_never_a_500(client):
    who = await people()
    program_id, revision = await program_with_change(who, capacity="11")
    await log_in(client, who["staff"])
    url = f"/staff/moderation/revisions/{revision['id']}"
    for data, message in (
        ({"decision": "approve", "version": "abc"}, "その間にほかの人が変更しました"),
        ({"decision": "approve", "version": "99999999999"}, "その間にほかの人が変更しました"),
        ({"decision": "approve"}, "その間にほかの人が変更しました"),
        ({"decision": "explode", "version": "1"}, "この操作はできません"),
        ({"decision": ["approve", "reject"], "version": "1"}, "この操作はできません"),
    ):
        response = await client.submit(url, data, follow_redirects=True)
        assert response.status_code == 200 and message in response.text, data
    response = await client.submit("/staff/moderation/revisions/424242", {"decision": "approve", "version": "1"},
                                   follow_redirects=True)
    assert response.status_code == 200 and "この変更はもう審査待ちではありません" in response.text
    # an id no row can have is the 404 page before any query (tests/routes/system/test_row_ids.py)
    response = await client.submit("/staff/moderation/revisions/99999999999", {"decision": "approve", "version": "1"})
    assert response.status_code == 404 and "ページが見つかりません" in response.text
    assert (await Program.select(Program.capacity).where(Program.id == program_id).first())["capacity"] == 10
    assert await Revision.count() == 1


async def test_a_capacity_below_the_seats_taken_is_refused_at_approval_with_the_numbers(client):
    who = await people()
    program_id, revision = await program_with_change(who, capacity="2")
    await Program.update({Program.seats_taken: 3}).where(Program.id == program_id)  # three people accepted since
    await log_in(client, who["staff"])
    response = await decide(client, revision, "approve")
    assert "変更後の定員（2名）が、すでに参加が決まっている3人を下回ります" in response.text
    assert (await Program.select(Program.capacity).where(Program.id == program_id).first())["capacity"] == 10
    assert await Revision.count() == 1


async def test_an_editor_cannot_decide_on_a_change(client):
    who = await people()
    program_id, revision = await program_with_change(who, title="自分で承認したい")
    await log_in(client, who["editor"])
    response = await client.submit(f"/staff/moderation/revisions/{revision['id']}",
                                   {"decision": "approve", "version": str(revision["version"])})
    assert response.status_code == 403
    assert (await client.get(f"/staff/preview/program-revision/{revision['id']}")).status_code == 403
    assert (await Program.select(Program.title).where(Program.id == program_id).first())["title"] == "勇払の酪農体験"
    assert await Revision.count() == 1
