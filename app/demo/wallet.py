"""Demo wallet: partner shops with their offers, and the entry pass that bundles them."""

from __future__ import annotations

from db.tables import Area, Offer, Pass, PassOffer, Shop

SHOPS = [
    {
        "name": "コワーキングスペース ミナトベース",
        "category": "coworking",
        "description": "苫小牧駅から徒歩5分。高速Wi-Fiと個室ブース、港を望むカウンター席があります。",
        "address": "北海道苫小牧市表町1-1-1",
        "area": "ekimae",
        "map_url": "https://www.openstreetmap.org/?mlat=42.6366&mlon=141.6043#map=17/42.6366/141.6043",
        "opening_hours": "9:00〜21:00（日曜定休）",
        "phone": "0144-00-0001",
        "offers": [
            {"title": "ドロップイン1日利用 半額", "description": "通常1,000円のドロップインが500円に。", "terms": "受付でウォレットのQRを提示してください。", "limit_kind": "once"},
            {"title": "ドリンク1杯無料", "description": "コーヒーまたはハスカップティー。", "terms": "1日1回まで。", "limit_kind": "per_day", "limit_count": 1},
            {"title": "個室ブース 2時間無料", "description": "オンライン会議に使える防音の個室ブースを2時間無料でご利用いただけます。地域の活動に参加してくださるプレミアムふるさと住民の方への感謝の特典です。",
             "terms": "プレミアムふるさと住民の方限定。1日1回まで。空きがあればご利用いただけます。", "limit_kind": "per_day", "limit_count": 1,
             "premium_only": True},
        ],
    },
    {
        "name": "とまこまいレンタカー 駅前店",
        "category": "rental_car",
        "description": "新千歳空港への乗り捨ても相談できます。冬はスタッドレスタイヤ標準装備。",
        "address": "北海道苫小牧市旭町2-2-2",
        "area": "ekimae",
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
        "area": "uenae-misawa",
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
        "area": "tarumae",
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
        "area": "ekimae",
        "map_url": "https://www.openstreetmap.org/?mlat=42.6330&mlon=141.6200#map=17/42.6330/141.6200",
        "opening_hours": "11:00〜15:00",
        "notice": "12月31日〜1月3日は休業します。",
        "phone": "0144-00-0005",
        "offers": [
            {"title": "ほっきカレー 大盛り無料", "description": "", "terms": "1日1回まで。", "limit_kind": "per_day", "limit_count": 1},
            {"title": "小鉢1品サービス", "description": "日替わりの小鉢をお付けします。", "terms": "", "limit_kind": "unlimited"},
        ],
    },
]

PASS = {
    "name": "苫小牧エントリーパス 2026",
    "description": "市外から苫小牧に来られる方のための特典パス。コワーキング、レンタカー、レンタサイクル、観光施設、飲食店で使えます。",
    "validity_days": 30,
    "outside_residents_only": True,
    "requires_stay": False,
}


async def load_wallet_demo() -> dict[str, int]:
    created = {"shops": 0, "offers": 0, "passes": 0}
    offer_ids, new_offer_ids = [], []
    area_ids = {row["slug"]: row["id"] for row in await Area.select(Area.id, Area.slug)}
    for row in SHOPS:
        fields = {k: v for k, v in row.items() if k != "offers"} | {"area": area_ids.get(row["area"])}
        shop = await Shop.select(Shop.id).where(Shop.name == row["name"]).first()
        if shop is None:
            shop = (await Shop.insert(Shop(**fields)).returning(Shop.id))[0]
            created["shops"] += 1
        else:
            # Shops loaded before they had areas get theirs; an area the secretariat chose stays.
            await Shop.update({Shop.area: fields["area"]}).where((Shop.id == shop["id"]) & Shop.area.is_null())
        for position, offer in enumerate(row["offers"]):
            existing = await Offer.select(Offer.id).where((Offer.shop == shop["id"]) & (Offer.title == offer["title"])).first()
            if existing is None:
                existing = (await Offer.insert(Offer(shop=shop["id"], position=position, **offer)).returning(Offer.id))[0]
                created["offers"] += 1
                new_offer_ids.append(existing["id"])
            offer_ids.append(existing["id"])
    entry_pass = await Pass.select(Pass.id).where(Pass.name == PASS["name"]).first()
    if entry_pass is None:
        entry_pass = (await Pass.insert(Pass(**PASS)).returning(Pass.id))[0]
        created["passes"] += 1
        to_link = offer_ids
    else:
        # An offer added to the demo later joins the pass an earlier load made; offers the secretariat took out
        # of it stay out.
        to_link = new_offer_ids
    if to_link:
        await PassOffer.insert(*[PassOffer(entry_pass=entry_pass["id"], offer=offer_id) for offer_id in to_link])
    return created
