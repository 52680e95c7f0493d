"""Demo of promotion and the portal's views: four campaign links (a station poster, flyers handed out at a migration
fair, an influencer's article, a post on X) and SMOUT as a matching site, this year's arrivals by each, a share of
the demo year's members (their pass activations and applications too) attributed to them, and page views per month
so far. Once, keyed by the station poster's short name."""

from __future__ import annotations

import random

from app.demo.kpi import KPI_DEMO_MARK
from app.i18n import to_tokyo
from app.services.campaigns.page_views import month_key
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock
from db.engine import atomic
from db.tables import Account, Application, Campaign, CampaignVisit, Member, PageView, Program, WalletPass

# (slug, name, source, kind, target, poster text, arrivals a month, share of the year's members it brought)
CAMPAIGNS = [
    ("station", "駅ポスター（JR苫小牧駅 南口）", "JR苫小牧駅", "poster", "/passes",
     "苫小牧に来たら、まずはエントリーパス。\n協力店舗で特典が受けられます。", 40, 0.15),
    ("fair-tokyo", "移住フェア配布チラシ（東京・有楽町）", "移住フェア東京", "flyer", "/programs",
     "海と森のまちで、週末だけの仕事体験。\n地域プログラムの参加者を募集しています。", 25, 0.2),
    ("influencer", "インフルエンサー記事（ワーケーション特集）", "ワーケーション系ブロガー", "influencer", "/articles",
     "", 60, 0.1),
    ("x-post", "X投稿（公式アカウント）", "X（旧Twitter）", "sns", "/", "", 35, 0.05),
    ("smout-jp", "SMOUT", "SMOUT", "matching_site", "/programs", "", 18, 0.1),
]
# Views of the portal, program pages and articles in a month of the demo year.
VIEWS = {"portal": 2400, "program": 1500, "article": 900}
SMOUT_PROGRAM = "勇払の酪農体験と牧場の担い手づくり"


async def load_campaign_demo() -> dict[str, int]:
    if await Campaign.exists().where(Campaign.slug == "station"):
        return {}
    now = clock.now()
    rng = random.Random(2611)
    staff = await Account.select(Account.id).where(Account.role == "staff").first()
    months = [m for m in clock.year_months(to_tokyo(now).date().replace(month=4, day=1, year=fiscal_year_of(now)))
              if m <= to_tokyo(now).date()]
    members = await Member.select(Member.id).where(Member.account.webauthn_user_id.like(KPI_DEMO_MARK + "%")).order_by(
        Member.id)
    taken: set[int] = set()  # a member comes by one first campaign
    async with atomic(Campaign._meta.db):
        for slug, name, source, kind, target, text, per_month, share in CAMPAIGNS:
            rows = await Campaign.insert(Campaign(
                slug=slug, name=name, source=source, kind=kind, target=target, poster_text=text,
                created_by=staff["id"] if staff and kind != "matching_site" else None, created_at=now, updated_at=now,
            )).returning(Campaign.id)
            campaign_id = rows[0]["id"]
            await CampaignVisit.insert(*[CampaignVisit(campaign=campaign_id, month=month_key(m),
                                                       visits=rng.randint(per_month // 2, per_month * 3 // 2))
                                         for m in months])
            chosen = [m["id"] for m in members if m["id"] not in taken and rng.random() < share]
            taken.update(chosen)
            if chosen:
                await Member.update({Member.campaign: campaign_id}).where(Member.id.is_in(chosen))
                await WalletPass.update({WalletPass.campaign: campaign_id}).where(WalletPass.member.is_in(chosen))
                await Application.update({Application.campaign: campaign_id}).where(Application.member.is_in(chosen))
        await PageView.insert(*[PageView(month=month_key(m), kind=kind, views=rng.randint(views * 7 // 10, views * 13 // 10))
                                for m in months for kind, views in VIEWS.items()])
        await Program.update({Program.matching_url: "https://smout.jp/plans/tomakomai-yufutsu-dairy"}).where(
            Program.title == SMOUT_PROGRAM)
    return {"campaigns": len(CAMPAIGNS)}
