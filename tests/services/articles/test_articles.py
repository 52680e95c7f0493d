"""Articles: what an editor may write, the review workflow per role, its audit trail and notices, and
what the public sees. Sanitising and image checks have their own files (test_markdown.py, test_uploads.py)."""

import io
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from app.services.articles import articles
from app.services.articles.articles import ArticleInvalid
from app.services.review import revisions
from app.services.review.workflow import WorkflowRefused
from app.services.shared import uploads
from app.services.shared.actor import Actor
from db.tables import Article, AuditLog, Notice, Program, Upload
from tests import factories

GOOD = {"kind": "report", "title": "田植え体験の報告", "lead": "都市から12人が参加しました。", "body": "## 当日\n\n晴れでした。"}


async def people():
    yufutsu = await factories.area()
    tarumae = await factories.area("樽前", "tarumae")
    return {
        "yufutsu": yufutsu,
        "tarumae": tarumae,
        "editor": Actor(await factories.staff_account("編集 鈴木", role="editor", area=yufutsu), "editor", yufutsu),
        "other_editor": Actor(await factories.staff_account("編集 高橋", role="editor", area=tarumae), "editor", tarumae),
        "staff": Actor(await factories.staff_account(), "staff"),
    }


@pytest.fixture
async def who():
    return await people()


async def program_in(area_id: int, title: str = "勇払の田植え", status: str = "published") -> int:
    start = datetime(2026, 6, 1, 1, 0, tzinfo=timezone.utc)
    rows = await Program.insert(
        Program(area=area_id, title=title, status=status, starts_at=start, ends_at=start + timedelta(hours=4),
                apply_from=start - timedelta(days=30), apply_until=start - timedelta(days=1))
    ).returning(Program.id)
    return rows[0]["id"]


async def errors_of(form: dict, actor: Actor) -> dict:
    with pytest.raises(ArticleInvalid) as caught:
        await articles.validate_article(form, actor)
    return caught.value.errors


async def draft(actor: Actor, **changes) -> int:
    values = await articles.validate_article({**GOOD, **changes}, actor)
    return await articles.create_article(actor, values)


async def published(who, **changes) -> int:
    article_id = await draft(who["editor"], **changes)
    await articles.transition(article_id, who["editor"], "submitted")
    await articles.transition(article_id, who["staff"], "published")
    return article_id


async def status_of(article_id: int) -> str:
    return (await Article.select(Article.status).where(Article.id == article_id).first())["status"]


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(out, "JPEG")
    return out.getvalue()


# Validation -----------------------------------------------------------------------------------------


async def test_an_editors_article_belongs_to_their_own_area_whatever_the_form_says(who):
    values = await articles.validate_article({**GOOD, "area": str(who["tarumae"])}, who["editor"])
    assert values.area_id == who["yufutsu"]


async def test_staff_may_choose_an_area_or_none_for_the_whole_region(who):
    assert (await articles.validate_article({**GOOD, "area": str(who["tarumae"])}, who["staff"])).area_id == who["tarumae"]
    assert (await articles.validate_article(GOOD, who["staff"])).area_id is None


async def test_a_title_is_required(who):
    assert "title" in await errors_of({**GOOD, "title": "  "}, who["editor"])


async def test_over_long_fields_are_named_with_their_limit(who):
    errors = await errors_of({**GOOD, "title": "あ" * 121, "lead": "い" * 301, "body": "う" * 20001}, who["editor"])
    assert set(errors) == {"title", "lead", "body"}
    assert "120" in errors["title"] and "300" in errors["lead"] and "20000" in errors["body"]


async def test_fields_at_their_limit_are_accepted(who):
    values = await articles.validate_article({**GOOD, "title": "あ" * 120, "lead": "い" * 300, "body": "う" * 20000}, who["editor"])
    assert len(values.body) == 20000


async def test_an_unknown_kind_is_refused(who):
    assert "kind" in await errors_of({**GOOD, "kind": "advert"}, who["editor"])


@pytest.mark.parametrize("program", ["999999", "abc", "99999999999999999999", "１"])
async def test_an_unknown_program_is_refused_with_a_message(who, program):
    errors = await errors_of({**GOOD, "program": program}, who["editor"])
    assert "program" in errors and errors["program"]


async def test_an_editor_may_link_only_their_own_areas_programs(who):
    theirs = await program_in(who["yufutsu"])
    other = await program_in(who["tarumae"], "樽前山の清掃")
    assert (await articles.validate_article({**GOOD, "program": str(theirs)}, who["editor"])).program_id == theirs
    assert "program" in await errors_of({**GOOD, "program": str(other)}, who["editor"])


async def test_staff_linking_a_program_without_an_area_take_the_programs_area(who):
    program_id = await program_in(who["tarumae"])
    values = await articles.validate_article({**GOOD, "program": str(program_id)}, who["staff"])
    assert (values.program_id, values.area_id) == (program_id, who["tarumae"])


async def test_a_cover_image_must_be_one_of_our_uploads(who):
    errors = await errors_of({**GOOD, "cover_image": "https://evil.example/x.jpg"}, who["editor"])
    assert "cover_image" in errors
    assert "cover_image" in await errors_of({**GOOD, "cover_image": "/uploads/0123456789abcdef0123456789abcdef.jpg"}, who["editor"])


async def test_an_editor_without_an_area_cannot_write(who):
    nowhere = Actor(await factories.staff_account("編集 未設定", role="editor"), "editor", None)
    assert "area" in await errors_of(GOOD, nowhere)


async def test_control_characters_are_dropped(who):
    values = await articles.validate_article({**GOOD, "title": "報告\x0b\x00です"}, who["editor"])
    assert values.title == "報告です"


# Saving ---------------------------------------------------------------------------------------------


async def test_a_new_article_is_a_draft_of_its_author(who):
    article_id = await draft(who["editor"])
    row = await Article.select().where(Article.id == article_id).first()
    assert (row["status"], row["author"], row["area"], row["kind"]) == ("draft", who["editor"].account_id, who["yufutsu"], "report")


async def test_a_cover_image_is_stored_with_the_article(who, tmp_path):
    values = await articles.validate_article(GOOD, who["editor"])
    article_id = await articles.create_article(who["editor"], values, await uploads.prepare_image(jpeg()), tmp_path)
    cover = (await Article.select(Article.cover_image).where(Article.id == article_id).first())["cover_image"]
    assert await uploads.is_public(cover)
    assert (tmp_path / "uploads" / uploads.name_of(cover)).is_file()


async def test_when_the_article_cannot_be_saved_its_cover_image_is_not_kept(who, tmp_path, monkeypatch):
    values = await articles.validate_article(GOOD, who["editor"])

    def failing_insert(*rows):
        raise RuntimeError("database down")

    monkeypatch.setattr(Article, "insert", failing_insert)
    with pytest.raises(RuntimeError):
        await articles.create_article(who["editor"], values, await uploads.prepare_image(jpeg()), tmp_path)
    assert await Upload.count() == 0
    assert not any((tmp_path / "uploads").iterdir())


async def test_an_editor_changing_a_published_article_proposes_a_change_and_the_public_keeps_it(who):
    article_id = await published(who)
    audits = await AuditLog.count()
    values = await articles.validate_article({**GOOD, "title": "田植え体験の報告（追記）"}, who["editor"])
    assert await articles.update_article(article_id, who["editor"], values) == revisions.PROPOSED
    assert await status_of(article_id) == "published"
    public = await articles.article_for_public(article_id)
    assert public["title"] == "田植え体験の報告"
    revision = await articles.pending_revision(article_id)
    assert (revision["values"]["title"], revision["author"]) == ("田植え体験の報告（追記）", who["editor"].account_id)
    assert await AuditLog.count() == audits


async def test_staff_changing_a_published_article_keep_it_published(who):
    article_id = await published(who)
    values = await articles.validate_article({**GOOD, "title": "誤字を修正"}, who["staff"])
    assert await articles.update_article(article_id, who["staff"], values) == "published"


async def test_an_editor_cannot_change_an_article_under_review(who):
    article_id = await draft(who["editor"])
    await articles.transition(article_id, who["editor"], "submitted")
    values = await articles.validate_article(GOOD, who["editor"])
    with pytest.raises(WorkflowRefused) as caught:
        await articles.update_article(article_id, who["editor"], values)
    assert caught.value.reason == "in_review"


async def test_an_editor_cannot_change_another_areas_article(who):
    article_id = await draft(who["editor"])
    values = await articles.validate_article(GOOD, who["other_editor"])
    with pytest.raises(WorkflowRefused) as caught:
        await articles.update_article(article_id, who["other_editor"], values)
    assert caught.value.reason == "not_your_area"


# Workflow -------------------------------------------------------------------------------------------


async def test_the_whole_workflow_is_audited_from_draft_to_unpublished(who):
    article_id = await draft(who["editor"])
    await articles.transition(article_id, who["editor"], "submitted")
    await articles.transition(article_id, who["staff"], "rejected", "写真の許可を確認してください")
    await articles.transition(article_id, who["editor"], "submitted")
    await articles.transition(article_id, who["staff"], "published")
    await articles.transition(article_id, who["staff"], "rejected", "内容に誤りがありました")
    log = await AuditLog.select().where(AuditLog.action == "article.status").order_by(AuditLog.id).output(load_json=True)
    steps = [(row["detail"]["from"], row["detail"]["to"], row["actor"]) for row in log]
    editor, staff = who["editor"].account_id, who["staff"].account_id
    assert steps == [
        ("draft", "submitted", editor), ("submitted", "rejected", staff), ("rejected", "submitted", editor),
        ("submitted", "published", staff), ("published", "rejected", staff),
    ]
    assert all(row["target_type"] == "article" and row["target_id"] == str(article_id) for row in log)
    assert log[-1]["detail"]["reason"] == "内容に誤りがありました"


@pytest.mark.parametrize("start,to", [
    ("draft", "published"), ("submitted", "published"), ("submitted", "rejected"), ("published", "rejected"),
    ("draft", "rejected"), ("submitted", "draft"),
])
async def test_an_editor_can_neither_publish_nor_reject(who, start, to):
    article_id = await draft(who["editor"])
    await Article.update({Article.status: start}).where(Article.id == article_id)
    with pytest.raises(WorkflowRefused) as caught:
        await articles.transition(article_id, who["editor"], to, "理由")
    assert caught.value.reason == "not_allowed"
    assert await status_of(article_id) == start


async def test_staff_cannot_publish_a_draft_that_was_never_submitted(who):
    article_id = await draft(who["editor"])
    with pytest.raises(WorkflowRefused) as caught:
        await articles.transition(article_id, who["staff"], "published")
    assert caught.value.reason == "not_allowed"


@pytest.mark.parametrize("start", ["submitted", "published"])
async def test_sending_back_or_unpublishing_needs_a_reason(who, start):
    article_id = await draft(who["editor"])
    await Article.update({Article.status: start}).where(Article.id == article_id)
    with pytest.raises(WorkflowRefused) as caught:
        await articles.transition(article_id, who["staff"], "rejected", "   ")
    assert caught.value.reason == "reason_needed"
    assert await status_of(article_id) == start


async def test_an_editor_cannot_submit_another_areas_article(who):
    article_id = await draft(who["editor"])
    with pytest.raises(WorkflowRefused) as caught:
        await articles.transition(article_id, who["other_editor"], "submitted")
    assert caught.value.reason == "not_your_area"


@pytest.mark.parametrize("article_id", [999999, 2**31, -1])
async def test_an_unknown_article_is_not_found(who, article_id):
    with pytest.raises(WorkflowRefused) as caught:
        await articles.transition(article_id, who["staff"], "published")
    assert caught.value.reason == "not_found"
    assert await articles.get_article(article_id) is None


async def test_the_author_hears_of_publication_and_of_being_sent_back_with_the_reason(who):
    article_id = await published(who)
    await articles.transition(article_id, who["staff"], "rejected", "写真の掲載許可が必要です")
    notes = await Notice.select().where(Notice.account == who["editor"].account_id).order_by(Notice.id)
    assert [n["title"] for n in notes] == [f"公開されました：{GOOD['title']}", f"差し戻されました：{GOOD['title']}"]
    assert notes[1]["body"] == "写真の掲載許可が必要です"


async def test_the_author_is_not_told_of_their_own_submission(who):
    article_id = await draft(who["editor"])
    await articles.transition(article_id, who["editor"], "submitted")
    assert await Notice.count() == 0


async def test_publishing_sets_the_publication_time(who):
    article_id = await published(who)
    row = await Article.select(Article.published_at).where(Article.id == article_id).first()
    assert row["published_at"] is not None


# Lists ----------------------------------------------------------------------------------------------


async def test_the_moderation_queue_lists_submitted_articles_with_area_and_author(who):
    waiting = await draft(who["editor"], title="審査待ちの記事")
    await articles.transition(waiting, who["editor"], "submitted")
    await draft(who["editor"], title="下書き")
    await published(who, title="公開済み")
    rows = await articles.submitted_articles()
    assert [(r["id"], r["title"], r["kind"], r["area_name"], r["author_name"]) for r in rows] == [
        (waiting, "審査待ちの記事", "report", "勇払", "編集 鈴木")
    ]
    assert rows[0]["updated_at"] is not None
    assert await articles.submitted_articles(kind="news") == []
    assert await articles.submitted_articles(area_id=who["tarumae"]) == []


async def test_the_public_sees_only_published_articles_newest_first_and_by_kind(who):
    first = await published(who, title="一本目", kind="report")
    second = await published(who, title="二本目", kind="interview")
    await draft(who["editor"], title="下書き")
    assert [r["id"] for r in await articles.published_articles()] == [second, first]
    assert [r["id"] for r in await articles.published_articles(kind="interview")] == [second]
    assert [r["id"] for r in await articles.published_articles(limit=1)] == [second]


async def test_an_unpublished_article_is_no_longer_public(who):
    article_id = await published(who)
    assert (await articles.article_for_public(article_id))["title"] == GOOD["title"]
    await articles.transition(article_id, who["staff"], "rejected", "誤りがありました")
    assert await articles.article_for_public(article_id) is None
    assert await articles.published_articles() == []


async def test_a_public_article_links_its_program_only_once_the_program_is_public(who):
    hidden = await program_in(who["yufutsu"], status="draft")
    article_id = await published(who, program=str(hidden))
    assert (await articles.article_for_public(article_id))["program"] is None
    await Program.update({Program.status: "published"}).where(Program.id == hidden)
    assert (await articles.article_for_public(article_id))["program"] == hidden


async def test_an_editor_lists_their_areas_articles_and_staff_list_all(who):
    mine = await draft(who["editor"])
    theirs = await draft(who["other_editor"])
    news = await draft(who["staff"], kind="news")
    assert [r["id"] for r in await articles.articles_for(who["editor"])] == [mine]
    assert {r["id"] for r in await articles.articles_for(who["staff"])} == {mine, theirs, news}
    assert await articles.articles_for(who["staff"], status="published") == []
