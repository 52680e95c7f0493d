"""Demo articles: an interview, a report and a news item, published."""

from __future__ import annotations

from app.services.shared import clock
from db.tables import Area, Article

ARTICLES = [
    {
        "kind": "interview",
        "area": "tarumae",
        "title": "東京と樽前、二つの暮らしを行き来する",
        "lead": "週の半分を樽前の古民家で過ごすデザイナーの佐々木さんに、二地域居住を始めたきっかけを聞きました。",
        "body": "## きっかけはワーケーション\n\n三年前、駅前のコワーキングスペースで一週間働いたのが始まりでした。"
                "夏の涼しさと、仕事のあとに海まで歩ける近さが決め手だったそうです。\n\n"
                "## 地域とのつながり\n\n今では町内会の清掃にも顔を出し、空き家再生のワークショップでは講師役も務めています。",
    },
    {
        "kind": "report",
        "area": "yufutsu",
        "title": "勇払の牧場で、酪農の一日を体験しました",
        "lead": "首都圏から8人が参加した秋のプログラムの様子を報告します。",
        "body": "朝5時の搾乳から始まり、牛舎の掃除、子牛の世話まで。参加者からは「また来たい」という声が多く聞かれました。\n\n"
                "次回は冬の開催を予定しています。",
    },
    {
        "kind": "news",
        "area": None,
        "title": "苫小牧エントリーパス 2026 の提供を始めました",
        "lead": "市外から来られる方向けに、協力店舗で使える特典パスをアプリで提供しています。",
        "body": "ふるさと住民に登録すると、ウォレットからパスの利用を開始できます。対象の店舗は「協力店舗」のページでご覧ください。",
    },
]


async def load_article_demo() -> dict[str, int]:
    """Published stories, keyed by title."""
    created = {"articles": 0}
    now = clock.now()
    for row in ARTICLES:
        if await Article.exists().where(Article.title == row["title"]):
            continue
        area = await Area.select(Area.id).where(Area.slug == row["area"]).first() if row["area"] else None
        await Article(
            kind=row["kind"], title=row["title"], lead=row["lead"], body=row["body"], area=area["id"] if area else None,
            status="published", published_at=now, created_at=now, updated_at=now,
        ).save()
        created["articles"] += 1
    return created
