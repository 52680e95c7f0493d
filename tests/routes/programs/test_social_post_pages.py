"""Staff and editors find texts ready for the official accounts on a public program's and a published article's
page, and none on a draft; each account's link is its campaign's, and a reader who follows it lands on the page
and is counted under that account."""

from __future__ import annotations

from db.tables import Campaign, CampaignVisit
from tests import factories
from tests.conftest import Client, log_in

BROWSER = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                         "Version/17.5 Mobile/15E148 Safari/604.1"}


async def test_a_public_program_offers_texts_for_each_account_and_a_draft_none(app, client):
    await log_in(client, await factories.staff_account())
    area = await factories.area("樽前", "tarumae")
    public = await factories.program(area, title="樽前山の登山道整備", summary="登山道の補修を手伝います。", place="樽前山7合目")
    draft = await factories.program(area, title="準備中", status="draft", published_at=None)
    page = (await client.get(f"/editor/programs/{public}")).text
    assert 'data-testid="social-posts"' in page
    for channel in ("x", "facebook", "instagram", "line"):
        assert f'data-testid="social-post-{channel}"' in page
    assert f"http://localhost:8000/c/sns-x?to=%2Fprograms%2F{public}" in page and "#苫小牧市 #関係人口 #樽前" in page
    assert 'data-testid="social-posts"' not in (await client.get(f"/editor/programs/{draft}")).text
    (await client.get(f"/editor/programs/{public}"))  # shown again: the accounts' campaigns are made once
    assert await Campaign.count().where(Campaign.kind == "sns") == 4

    reader = Client(app=app, base_url="http://localhost:8000")
    async with reader:
        landed = await reader.get(f"/c/sns-line?to=%2Fprograms%2F{public}", headers=BROWSER, follow_redirects=False)
        assert landed.status_code == 302 and landed.headers["location"] == f"/programs/{public}"
        away = await reader.get("/c/sns-line?to=https%3A%2F%2Fevil.example%2F", headers=BROWSER, follow_redirects=False)
        assert away.headers["location"] == "/"  # only a page of this site; else the campaign's own target
    line = await Campaign.select(Campaign.id, Campaign.source).where(Campaign.slug == "sns-line").first()
    visits = await CampaignVisit.select(CampaignVisit.visits).where(CampaignVisit.campaign == line["id"])
    assert line["source"] == "LINE" and visits == [{"visits": 2}]  # the reader's client wrote its counts as it closed
