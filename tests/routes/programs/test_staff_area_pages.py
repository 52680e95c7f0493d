"""The secretariat keeps the list of areas that programs and editors belong to."""

from db.tables import Area
from tests import factories
from tests.conftest import log_in


async def test_staff_add_and_edit_an_area(client):
    await log_in(client, await factories.staff_account())
    created = await client.submit(
        "/staff/areas", {"name": "錦岡", "slug": "nishikioka", "description": "海辺の住宅地", "position": "5"},
        follow_redirects=True,
    )
    assert "地区を保存しました" in created.text and "錦岡" in created.text
    area = await Area.select().where(Area.slug == "nishikioka").first()
    await client.submit(f"/staff/areas/{area['id']}", {"name": "錦岡・樽前", "slug": "nishikioka", "position": "5"})
    assert (await Area.select(Area.name).where(Area.id == area["id"]).first())["name"] == "錦岡・樽前"


async def test_bad_area_input_is_shown_next_to_each_field_and_nothing_is_saved(client):
    await log_in(client, await factories.staff_account())
    await factories.area("勇払", "yufutsu")
    for form, field in (
        ({"name": "", "slug": "ok"}, "name"),
        ({"name": "x", "slug": "Not Valid"}, "slug"),
        ({"name": "x", "slug": "yufutsu"}, "slug"),
        ({"name": "x", "slug": "ok", "image_url": "javascript:alert(1)"}, "image_url"),
        ({"name": "x", "slug": "ok", "position": "-1"}, "position"),
        ({"name": "x", "slug": "ok", "description": "あ" * 2001}, "description"),
    ):
        response = await client.submit("/staff/areas", form)
        assert response.status_code == 422, form
        assert f'data-testid="error-{field}"' in response.text, form
    assert await Area.count() == 1


async def test_an_unknown_area_is_a_404_and_editors_cannot_manage_areas(client):
    area_id = await factories.area()
    await log_in(client, await factories.staff_account())
    assert (await client.get("/staff/areas/424242")).status_code == 404
    assert (await client.submit("/staff/areas/424242", {"name": "x", "slug": "x"})).status_code == 404
    client.cookies.clear()
    client.csrf_token = ""
    await log_in(client, await factories.staff_account("編集", role="editor", area=area_id))
    assert (await client.get("/staff/areas")).status_code == 403
