"""Demo data for `make run`: a believable region in natural Japanese. Idempotent: keyed by slug/key."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from app.i18n import TOKYO, to_tokyo
from app.services import clock
from db.tables import Area, Article, Offer, Pass, PassOffer, PortalBlock, Program, Shop

AREAS = [
    {
        "slug": "yufutsu",
        "name": "勇払",
        "description": "ウトナイ湖と勇払原野に囲まれた、野鳥と湿原のまち。港と工場の歴史も深い地域です。",
        "position": 1,
    },
    {
        "slug": "tarumae",
        "name": "樽前・錦岡",
        "description": "樽前山のふもとに広がる海辺の地域。サーフィンや家庭菜園を楽しむ移住者も増えています。",
        "position": 2,
    },
    {
        "slug": "uenae-misawa",
        "name": "植苗・美沢",
        "description": "新千歳空港から車で15分。酪農と畑作が営まれる、空の玄関口に近い農村地域です。",
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


SHOPS = [
    {
        "name": "コワーキングスペース ミナトベース",
        "category": "coworking",
        "description": "苫小牧駅から徒歩5分。高速Wi-Fiと個室ブース、港を望むカウンター席があります。",
        "address": "北海道苫小牧市表町1-1-1",
        "map_url": "https://www.openstreetmap.org/?mlat=42.6366&mlon=141.6043#map=17/42.6366/141.6043",
        "opening_hours": "9:00〜21:00（日曜定休）",
        "phone": "0144-00-0001",
        "offers": [
            {"title": "ドロップイン1日利用 半額", "description": "通常1,000円のドロップインが500円に。", "terms": "受付でウォレットのQRを提示してください。", "limit_kind": "once"},
            {"title": "ドリンク1杯無料", "description": "コーヒーまたはハスカップティー。", "terms": "1日1回まで。", "limit_kind": "per_day", "limit_count": 1},
        ],
    },
    {
        "name": "とまこまいレンタカー 駅前店",
        "category": "rental_car",
        "description": "新千歳空港への乗り捨ても相談できます。冬はスタッドレスタイヤ標準装備。",
        "address": "北海道苫小牧市旭町2-2-2",
        "map_url": "https://www.openstreetmap.org/?mlat=42.6345&mlon=141.6050#map=17/42.6345/141.6050",
        "opening_hours": "8:00〜20:00",
        "phone": "0144-00-0002",
        "offers": [{"title": "レンタル料金 10%引き", "description": "24時間以上のご利用が対象です。", "terms": "予約時に「エントリーパス」とお伝えください。", "limit_kind": "once"}],
    },
    {
        "name": "ウトナイ湖サイクル",
        "category": "rental_bicycle",
        "description": "ウトナイ湖の野鳥観察路をめぐる電動アシスト自転車の貸し出し。",
        "address": "北海道苫小牧市植苗156-26",
        "map_url": "https://www.openstreetmap.org/?mlat=42.6990&mlon=141.6950#map=15/42.6990/141.6950",
        "opening_hours": "9:00〜17:00（11月〜3月は休業）",
        "phone": "0144-00-0003",
        "offers": [{"title": "電動自転車 2時間無料", "description": "延長は通常料金から200円引き。", "terms": "1日1回まで。", "limit_kind": "per_day", "limit_count": 1}],
    },
    {
        "name": "樽前山麓ビジターセンター",
        "category": "tourism",
        "description": "樽前山の成り立ちと森の動物を学べる展示。ガイドツアーもあります。",
        "address": "北海道苫小牧市樽前",
        "map_url": "https://www.openstreetmap.org/?mlat=42.6900&mlon=141.3770#map=13/42.6900/141.3770",
        "opening_hours": "9:30〜16:30",
        "phone": "0144-00-0004",
        "offers": [{"title": "ガイドツアー参加費 500円引き", "description": "毎日10時・14時出発の森歩きツアー。", "terms": "", "limit_kind": "once"}],
    },
    {
        "name": "海鮮食堂 ほっき屋",
        "category": "restaurant",
        "description": "苫小牧名物のホッキ貝を使ったカレーと丼が人気。漁港すぐの食堂です。",
        "address": "北海道苫小牧市港町3-3-3",
        "map_url": "https://www.openstreetmap.org/?mlat=42.6330&mlon=141.6200#map=17/42.6330/141.6200",
        "opening_hours": "11:00〜15:00",
        "phone": "0144-00-0005",
        "offers": [
            {"title": "ほっきカレー 大盛り無料", "description": "", "terms": "1日1回まで。", "limit_kind": "per_day", "limit_count": 1},
            {"title": "小鉢1品サービス", "description": "日替わりの小鉢をお付けします。", "terms": "", "limit_kind": "unlimited"},
        ],
    },
]

PASS = {
    "name": "苫小牧エントリーパス 2026",
    "description": "市外から苫小牧に来られる方のための優待パス。コワーキング、レンタカー、レンタサイクル、観光施設、飲食店で使えます。",
    "validity_days": 30,
    "outside_residents_only": True,
    "requires_stay": False,
}


async def load_wallet_demo() -> dict[str, int]:
    created = {"shops": 0, "offers": 0, "passes": 0}
    offer_ids = []
    for row in SHOPS:
        fields = {k: v for k, v in row.items() if k != "offers"}
        shop = await Shop.select(Shop.id).where(Shop.name == row["name"]).first()
        if shop is None:
            shop = (await Shop.insert(Shop(**fields)).returning(Shop.id))[0]
            created["shops"] += 1
        for position, offer in enumerate(row["offers"]):
            existing = await Offer.select(Offer.id).where((Offer.shop == shop["id"]) & (Offer.title == offer["title"])).first()
            if existing is None:
                existing = (await Offer.insert(Offer(shop=shop["id"], position=position, **offer)).returning(Offer.id))[0]
                created["offers"] += 1
            offer_ids.append(existing["id"])
    if not await Pass.exists().where(Pass.name == PASS["name"]):
        entry_pass = (await Pass.insert(Pass(**PASS)).returning(Pass.id))[0]
        await PassOffer.insert(*[PassOffer(entry_pass=entry_pass["id"], offer=offer_id) for offer_id in offer_ids])
        created["passes"] += 1
    return created


# Programs: dates are days from today (Tokyo) so the demo always has something to apply to.
PROGRAMS = [
    {
        "area": "yufutsu",
        "kind": "program",
        "title": "勇払の酪農体験と牧場の担い手づくり",
        "summary": "搾乳や牛の世話を2日間体験し、牧場の人手不足を一緒に考えます。新千歳空港からの送迎つき。",
        "body": "## こんな体験をします\n\n"
                "- 朝5時からの搾乳と牛舎の掃除\n- 子牛の哺乳と放牧地の見回り\n- 牧場主との座談会「酪農の担い手をどう育てるか」\n\n"
                "## 持ち物\n\n汚れてもよい服装、長靴（貸し出しもあります）、帽子。\n\n"
                "動物が好きな方、農業に関わる働き方に興味がある方の参加をお待ちしています。",
        "themes": ["agriculture", "business"],
        "place": "苫小牧市勇払 勇払ファーム（JR勇払駅から車で10分）",
        "support": "新千歳空港・苫小牧駅からの送迎、宿泊費の半額補助（上限5,000円）",
        "questions": ["農業や動物に関わった経験があれば教えてください。", "当日の送迎を希望しますか（空港／苫小牧駅／不要）。"],
        "days": 30, "start": time(9, 0), "length_days": 1, "end": time(15, 0),
    },
    {
        "area": "tarumae",
        "kind": "program",
        "title": "樽前の空き家再生ワークショップ",
        "summary": "海の見える築50年の平屋を、地域の大工さんと一緒に直します。壁塗りと床張りが中心です。",
        "body": "樽前地区には、住む人のいなくなった家が少しずつ増えています。\n\n"
                "このワークショップでは、地域の大工さんの指導で**壁の漆喰塗り**と**床板の張り替え**を行います。"
                "直した家は、移住を考える人のお試し住宅として使われる予定です。\n\n"
                "## スケジュール\n\n1. 10:00 集合・安全講習\n2. 10:30 作業（昼食は地元のお弁当）\n3. 15:30 ふりかえり",
        "themes": ["vacant_houses", "culture"],
        "place": "苫小牧市樽前 旧佐藤邸（樽前地区コミュニティセンター集合）",
        "support": "作業着と道具の貸し出し、昼食つき",
        "questions": ["DIYや大工仕事の経験はありますか。", "空き家の活用で関心のあることを教えてください。"],
        "days": 45, "start": time(10, 0), "length_days": 0, "end": time(16, 0),
    },
    {
        "area": "ekimae",
        "kind": "event",
        "title": "オンライン交流会「苫小牧と関わる人の活動報告会」",
        "summary": "苫小牧の地域活動に関わるふるさと住民が、この1年の取り組みを報告します。どなたでも参加できます。",
        "body": "首都圏や道内各地から苫小牧に関わっている人たちが、活動を10分ずつ報告します。\n\n"
                "- 勇払の牧場での援農\n- 駅前のコワーキングを拠点にした副業\n- 樽前の空き家再生\n\n"
                "後半は小さなグループに分かれて自由に話します。カメラはオフでも構いません。",
        "themes": ["business", "culture"],
        "place": "",
        "meeting_url": "https://meet.example.jp/tomakomai-katsudo-hokoku",
        "support": "",
        "questions": ["苫小牧との関わりを一言で教えてください。"],
        "days": 14, "start": time(19, 30), "length_days": 0, "end": time(21, 0),
    },
]


async def load_program_demo() -> dict[str, int]:
    """Three published programs in three areas, keyed by title; their dates are in the weeks ahead."""
    created = {"programs": 0}
    now = clock.now()
    today = to_tokyo(now).date()
    for row in PROGRAMS:
        if await Program.exists().where(Program.title == row["title"]):
            continue
        area = await Area.select(Area.id).where(Area.slug == row["area"]).first()
        if area is None:
            continue
        first_day = today + timedelta(days=row["days"])
        starts_at = datetime.combine(first_day, row["start"], TOKYO)
        ends_at = datetime.combine(first_day + timedelta(days=row["length_days"]), row["end"], TOKYO)
        await Program.insert(Program(
            area=area["id"], kind=row["kind"], title=row["title"], summary=row["summary"], body=row["body"],
            themes=row["themes"], place=row["place"], meeting_url=row.get("meeting_url", ""), support=row["support"],
            questions=row["questions"], starts_at=starts_at, ends_at=ends_at, apply_from=now - timedelta(days=1),
            apply_until=starts_at - timedelta(days=3), capacity=10, status="published", published_at=now,
            created_at=now, updated_at=now,
        ))
        created["programs"] += 1
    return created


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
        "lead": "首都圏から8名が参加した秋のプログラムの様子を報告します。",
        "body": "朝5時の搾乳から始まり、牛舎の掃除、子牛の世話まで。参加者からは「また来たい」という声が多く聞かれました。\n\n"
                "次回は冬の開催を予定しています。",
    },
    {
        "kind": "news",
        "area": None,
        "title": "苫小牧エントリーパス 2026 の提供を始めました",
        "lead": "市外から来られる方向けに、協力店舗で使える優待パスをアプリで提供しています。",
        "body": "ふるさと住民に登録すると、ウォレットからパスを有効にできます。対象の店舗は「協力店舗」のページでご覧ください。",
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


async def load_demo_data() -> dict[str, int]:
    """Insert what is missing; rows already there are left as they are (staff may have edited them)."""
    created = {"areas": 0, "portal_blocks": 0}
    for row in AREAS:
        if not await Area.exists().where(Area.slug == row["slug"]):
            await Area(**row).save()
            created["areas"] += 1
    for row in PORTAL_BLOCKS:
        if not await PortalBlock.exists().where(PortalBlock.key == row["key"]):
            await PortalBlock(**row).save()
            created["portal_blocks"] += 1
    created.update(await load_wallet_demo())
    created.update(await load_article_demo())
    created.update(await load_program_demo())
    return created
