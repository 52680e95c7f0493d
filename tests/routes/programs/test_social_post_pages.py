"""Staff and editors find texts ready for the official accounts on a public program's and a published article's
page, and none on a draft."""

from __future__ import annotations

from tests import factories
from tests.conftest import log_in


async def test_a_public_program_offers_texts_for_each_account_and_a_draft_none(client):
    await log_in(client, await factories.staff_account())
    area = await factories.area("樽前", "tarumae")
    public = await factories.program(area, title="樽前山の登山道整備", summary="登山道の補修を手伝います。", place="樽前山7合目")
    draft = await factories.program(area, title="準備中", status="draft", published_at=None)
    page = (await client.get(f"/editor/programs/{public}")).text
    assert 'data-testid="social-posts"' in page
    for channel in ("x", "facebook", "instagram", "line"):
        assert f'data-testid="social-post-{channel}"' in page
    assert f"http://localhost:8000/programs/{public}" in page and "#苫小牧市 #関係人口 #樽前" in page
    assert 'data-testid="social-posts"' not in (await client.get(f"/editor/programs/{draft}")).text
