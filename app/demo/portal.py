"""Demo areas and portal: the four areas of the region, the portal's hero and link cards, and (once programs
and articles exist) its featured items."""

from __future__ import annotations

from app.services.programs.programs import PUBLIC_STATUSES
from db.tables import Area, Article, PortalBlock, Program

AREAS = [
    {
        "slug": "yufutsu",
        "name": "勇払",
        "description": "ウトナイ湖と勇払原野に囲まれた、野鳥と湿原のまち。港と工場の歴史も深い地区です。",
        "position": 1,
    },
    {
        "slug": "tarumae",
        "name": "樽前・錦岡",
        "description": "樽前山のふもとに広がる海辺の地区。サーフィンや家庭菜園を楽しむ移住者も増えています。",
        "position": 2,
    },
    {
        "slug": "uenae-misawa",
        "name": "植苗・美沢",
        "description": "新千歳空港から車で15分。酪農と畑作が営まれる、空の玄関口に近い農村地区です。",
        "position": 3,
    },
    {
        "slug": "ekimae",
        "name": "駅前・中心街",
        "description": "苫小牧駅を中心に、コワーキングスペースや飲食店が集まる、まちなかの拠点です。",
        "position": 4,
    },
]

PORTAL_BLOCKS = [
    {
        "kind": "hero",
        "key": "hero",
        "title": "海と森と港のまちで、もうひとつの暮らしを。",
        "body": "苫小牧は新千歳空港から車で約20分。夏は涼しく、冬は雪が少ないまちです。ふるさと住民に登録して、エントリーパスでまちを体験してみませんか。",
        "position": 0,
    },
    {
        "kind": "link",
        "key": "furusato-tax",
        "title": "ふるさと納税",
        "body": "ホッキ貝やハスカップなど、苫小牧の恵みで応援。",
        "url": "https://www.furusato-tax.jp/city/product/01213",
        "icon": "gift",
        "position": 1,
    },
    {
        "kind": "link",
        "key": "migration",
        "title": "移住・定住",
        "body": "住まい・仕事・子育ての支援制度をまとめて紹介。",
        "url": "https://www.city.tomakomai.hokkaido.jp/",
        "icon": "home",
        "position": 2,
    },
    {
        "kind": "link",
        "key": "workation",
        "title": "ワーケーション",
        "body": "駅前のコワーキングスペースで、海を眺めながら仕事を。",
        "url": "https://tomakomai.info/",
        "icon": "laptop",
        "position": 3,
    },
]


async def load_portal_demo() -> dict[str, int]:
    """The areas, keyed by slug, and the portal's blocks, keyed by key."""
    created = {"areas": 0, "portal_blocks": 0}
    for row in AREAS:
        if not await Area.exists().where(Area.slug == row["slug"]):
            await Area(**row).save()
            created["areas"] += 1
    for row in PORTAL_BLOCKS:
        if not await PortalBlock.exists().where(PortalBlock.key == row["key"]):
            await PortalBlock(**row).save()
            created["portal_blocks"] += 1
    return created


async def load_featured_demo() -> dict[str, int]:
    """The portal's featured items: the demo's first public program and its two newest articles (only when
    staff have not chosen any yet)."""
    created = {"featured": 0}
    if await PortalBlock.exists().where(PortalBlock.key == "featured"):
        return created
    programs = await Program.select(Program.id).where(Program.status.is_in(list(PUBLIC_STATUSES))).order_by(
        Program.starts_at).limit(1)
    articles = await Article.select(Article.id).where(Article.status == "published").order_by(
        Article.published_at, ascending=False).limit(2)
    await PortalBlock(kind="featured", key="featured", title="featured", position=80,
                      fields={"programs": [p["id"] for p in programs], "articles": [a["id"] for a in articles]}).save()
    created["featured"] += 1
    return created
