"""Demo data for `make run`: a believable region in natural Japanese. Idempotent: keyed by slug/key."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from app.i18n import TOKYO, to_tokyo
from app.services.shared import clock
from db.tables import Account, Area, Article, Offer, Pass, PassOffer, PortalBlock, Program, Revision, Shop

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


# An area editor moved the Tarumae workshop's meeting point and said so in the summary; the change waits
# for the secretariat while the public page shows the published place.
DEMO_EDITOR = {"display_name": "樽前地区 編集担当 宮本", "area": "tarumae"}
DEMO_REVISION = {
    "title": "樽前の空き家再生ワークショップ",
    "changes": {
        "place": "苫小牧市樽前 旧佐藤邸（現地集合。樽前地区コミュニティセンターに駐車できます）",
        "summary": "海の見える築50年の平屋を、地域の大工さんと一緒に直します。壁塗りと床張りが中心です。"
                   "集合は現地に変わりました。",
    },
}


async def load_revision_demo() -> dict[str, int]:
    """The editor (keyed by name) and their pending change (one per program)."""
    from app.services.programs import programs
    from app.services.review import revisions

    created = {"revisions": 0}
    program = await Program.select(Program.id).where(Program.title == DEMO_REVISION["title"]).first()
    area = await Area.select(Area.id).where(Area.slug == DEMO_EDITOR["area"]).first()
    if program is None or area is None or await Revision.exists().where(Revision.program == program["id"]):
        return created
    editor = await Account.select(Account.id).where(Account.display_name == DEMO_EDITOR["display_name"]).first()
    if editor is None:
        editor = (await Account.insert(Account(role="editor", display_name=DEMO_EDITOR["display_name"],
                                               area=area["id"])).returning(Account.id))[0]
    current = await revisions.item(programs.REVISIONS, program["id"])
    await revisions.propose(programs.REVISIONS, current, {**current, **DEMO_REVISION["changes"]}, editor["id"])
    created["revisions"] += 1
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
    created.update(await load_revision_demo())
    created.update(await load_desk_demo())
    created.update(await load_inquiry_demo())
    created.update(await load_featured_demo())
    created.update(await load_kpi_demo())
    created.update(await load_survey_demo())
    return created


# The consultation desk: its contact details (a portal block staff edit) and a few saved answers.
DESK = {
    "kind": "desk",
    "key": "desk",
    "title": "ふるさと住民 相談窓口",
    "body": "二地域居住や移住のご相談を、電話・メール・ウェブフォームで受け付けています。",
    "fields": {"phone": "0144-32-6111", "email": "furusato-desk@city.tomakomai.example", "hours": "平日 8:45〜17:15"},
    "position": 90,
}
REPLY_TEMPLATES = [
    {
        "title": "受付のお礼と回答までの目安",
        "category": "",
        "body": "{name} 様\n\nお問い合わせ（受付番号 {reference}）をいただき、ありがとうございます。\n"
                "担当者が確認のうえ、3営業日以内にご連絡いたします。",
    },
    {
        "title": "お試し住宅のご案内",
        "category": "dual_residence",
        "body": "苫小牧市では、二地域居住や移住を考えている方向けに、家具・家電つきの「お試し住宅」を"
                "1週間から最長1か月までご利用いただけます。\n空き状況とお申し込み方法をご案内しますので、"
                "ご希望の時期と人数をお知らせください。",
    },
    {
        "title": "空き家バンクのご案内",
        "category": "housing",
        "body": "市内の空き家は「苫小牧市空き家バンク」に掲載しています。気になる物件があれば、"
                "見学の日程を調整しますので、物件番号をお知らせください。",
    },
]


async def load_desk_demo() -> dict[str, int]:
    """The desk block, keyed by key, and the saved answers, keyed by title."""
    from db.tables import ReplyTemplate

    created = {"desk": 0, "reply_templates": 0}
    if not await PortalBlock.exists().where(PortalBlock.key == DESK["key"]):
        await PortalBlock(**DESK).save()
        created["desk"] += 1
    for row in REPLY_TEMPLATES:
        if not await ReplyTemplate.exists().where(ReplyTemplate.title == row["title"]):
            await ReplyTemplate(**row, updated_at=clock.now()).save()
            created["reply_templates"] += 1
    return created


# A few inquiries at different stages, so the desk's inbox shows what a working week looks like:
# (reference, status, days ago, name, e-mail, phone, method, category, the asker's message, the desk's answer).
DEMO_INQUIRIES = [
    ("Q-DEMO-2A3B", "new", 1, "青木 沙織", "saori.aoki@example.jp", "", "email", "dual_residence",
     "東京で会社員をしています。夏の2か月だけ苫小牧で暮らしてみたいのですが、短期で借りられる住まいはありますか。"
     "テレワークができる環境かどうかも知りたいです。", ""),
    ("Q-DEMO-4C5D", "in_progress", 4, "森田 健一", "", "090-1234-5678", "phone", "migration",
     "来年の春に家族4人で移住を考えています。小学生の子どもが2人いるので、学校や放課後の過ごし方について"
     "相談したいです。平日の夕方に電話をいただけると助かります。", ""),
    ("Q-DEMO-6E7F", "waiting", 6, "石川 由香", "yuka.ishikawa@example.jp", "", "email", "entry_pass",
     "エントリーパスの滞在期間を入力し間違えてしまいました。変更はできますか。",
     "石川 様\n\nお問い合わせありがとうございます。滞在期間は事務局で変更できます。"
     "正しいご滞在の日程（到着日と出発日）をこのメールへの返信でお知らせください。"),
    ("Q-DEMO-8G9H", "closed", 12, "村上 翔", "sho.murakami@example.jp", "", "email", "work",
     "苫小牧で副業やプロボノとして関われる仕事はありますか。",
     "村上 様\n\n地域プログラムの「まちの担い手」募集で、週末に参加できる活動をご紹介しています。"
     "ポータルのプログラム一覧もあわせてご覧ください。"),
]


async def load_inquiry_demo() -> dict[str, int]:
    """The demo inquiries with their threads, keyed by reference (no mail is sent for them)."""
    from datetime import timedelta

    from app.services.desk.inquiries import CONSENT_VERSION
    from db.engine import atomic
    from db.tables import Inquiry, InquiryMessage

    created = {"inquiries": 0}
    now = clock.now()
    for reference, status, days, name, email, phone, method, category, question, answer in DEMO_INQUIRIES:
        if await Inquiry.exists().where(Inquiry.reference == reference):
            continue
        asked = now - timedelta(days=days)
        answered = asked + timedelta(hours=20)
        async with atomic(Inquiry._meta.db):
            rows = await Inquiry.insert(Inquiry(
                reference=reference, name=name, email=email, phone=phone, contact_method=method, category=category,
                status=status, consent_version=CONSENT_VERSION, created_at=asked, updated_at=answered if answer else asked,
                last_message_at=answered if answer else asked,
            )).returning(Inquiry.id)
            messages = [InquiryMessage(inquiry=rows[0]["id"], kind="asker", body=question, channel="web", created_at=asked)]
            if answer:
                messages.append(InquiryMessage(inquiry=rows[0]["id"], kind="reply", body=answer, channel="email",
                                               created_at=answered))
            await InquiryMessage.insert(*messages)
        created["inquiries"] += 1
    return created


async def load_featured_demo() -> dict[str, int]:
    """The portal's featured items: the demo's first public program and its two newest articles (only when
    staff have not chosen any yet)."""
    from app.services.programs.programs import PUBLIC_STATUSES

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


# The KPI dashboard and the yearly report: a believable year of activity (members from around Japan, pass
# uses, three past programs with attendance and a follow-up survey), this year's targets and report drafts.
# Dates are counted back from today, so the dashboard always has a year to show. All or nothing, once.
KPI_DEMO_MARK = "demo-member-"
KPI_DEMO_MEMBERS = 60
DEMO_NAMES = (
    "佐藤 美咲", "鈴木 大輔", "高橋 由美", "田中 翔太", "伊藤 直子", "渡辺 健", "山本 彩", "中村 拓也", "小林 恵",
    "加藤 陽介", "吉田 真由", "山田 隆", "佐々木 希", "山口 誠", "松本 奈々", "井上 亮", "木村 智子", "林 浩二",
)
# (JIS code, municipality, weight): mostly the Tokyo area and Sapporo, as the seeds describe the audience.
DEMO_HOMES = (
    ("13", "世田谷区", 9), ("13", "杉並区", 5), ("13", "港区", 4), ("14", "横浜市", 6), ("14", "川崎市", 3),
    ("11", "さいたま市", 4), ("12", "千葉市", 3), ("01", "札幌市", 8), ("01", "千歳市", 2), ("27", "大阪市", 4),
    ("23", "名古屋市", 2), ("04", "仙台市", 2), ("40", "福岡市", 2), ("26", "京都市", 1), ("99", "", 1),
)
DEMO_TIES = (("furusato_tax", 8), ("workation", 6), ("visitor", 7), ("products", 4), ("former_resident", 3),
             ("family", 3), ("dual_residence", 3), ("migration", 2))
PAST_PROGRAMS = [
    {"area": "yufutsu", "title": "勇払 初夏の牧場ボランティア", "summary": "放牧地の柵直しと子牛の世話を手伝う1日。",
     "days_ago": 150, "hour": 9, "attendees": 9},
    {"area": "tarumae", "title": "樽前 海岸清掃と浜のバーベキュー交流会", "summary": "地域の方と一緒に海岸をきれいにし、夕方は交流会。",
     "days_ago": 95, "hour": 10, "attendees": 10},
    {"area": "uenae-misawa", "title": "植苗 じゃがいも収穫と農家民泊", "summary": "収穫作業のあと、農家に泊まって夕食を囲みます。",
     "days_ago": 50, "hour": 8, "attendees": 7},
]
KPI_TARGETS = {"registrations": 100, "activations": 60, "redemptions": 150, "response_rate": 60}
AREA_PARTICIPANT_TARGET = 10
REPORT_DRAFTS = {
    "effects": "今年度は首都圏を中心に、ふるさと住民の登録が着実に増えました。ふるさと納税をきっかけに登録した方が多く、"
               "エントリーパスを使って実際に苫小牧を訪れる方も増えています。\n\n"
               "勇払・樽前・植苗の3地域で実施した地域プログラムには延べ26人が参加し、参加後アンケートでは"
               "半数近くが二地域居住や移住に関心があると答えました。",
    "issues": "冬期は協力店舗の利用とプログラムの参加が落ち込みます。また、登録後に一度もパスを使っていない方が"
              "一定数いるため、来訪のきっかけづくりが課題です。\n\n"
              "駅前・中心街ではプログラムを実施できず、地域ごとの参加者目標に差が出ました。",
    "direction": "次年度は冬の体験プログラムを新たに企画し、オンライン交流会から現地参加につなげる流れを強化します。"
                 "協力店舗を飲食店中心に広げ、パスの利用を週末以外にも促します。\n\n"
                 "プレミアム会員の要件を満たす方には、地域の担い手として継続して関われる場を案内します。",
}


async def load_kpi_demo() -> dict[str, int]:
    """This year's targets and report drafts (each unless staff set it), and a year of demo activity (once)."""
    from app.services.programs.programs import fiscal_year_of
    from db.engine import atomic
    from db.tables import Account, KpiTarget, ReportSection

    created = {"kpi_targets": 0, "report_sections": 0, "kpi_members": 0}
    now = clock.now()
    year = fiscal_year_of(now)
    area_ids = [a["id"] for a in await Area.select(Area.id)]
    async with atomic(Account._meta.db):
        wanted = [(metric, 0, value) for metric, value in KPI_TARGETS.items()]
        wanted += [("participants", area_id, AREA_PARTICIPANT_TARGET) for area_id in area_ids]
        for metric, area_id, value in wanted:
            if not await KpiTarget.exists().where((KpiTarget.fiscal_year == year) & (KpiTarget.metric == metric)
                                                  & (KpiTarget.area_id == area_id)):
                await KpiTarget(fiscal_year=year, metric=metric, area_id=area_id, value=value, updated_at=now).save()
                created["kpi_targets"] += 1
        for key, body in REPORT_DRAFTS.items():
            if not await ReportSection.exists().where((ReportSection.fiscal_year == year) & (ReportSection.key == key)):
                await ReportSection(fiscal_year=year, key=key, body=body, updated_at=now).save()
                created["report_sections"] += 1
    if not await Account.exists().where(Account.webauthn_user_id.like(KPI_DEMO_MARK + "%")):
        created["kpi_members"] = await _load_demo_year(now)
    return created


async def _load_demo_year(now: datetime) -> int:
    """Members registering through the year, their pass uses, three past programs with attendance and a
    follow-up survey. Random but seeded: the same believable year on every machine."""
    import random

    from app.services.membership.membership import format_member_no
    from app.services.surveys.templates import RESIDENCE_INTENT
    from app.services.wallet.redemption import limit_of
    from app.services.wallet.wallet import new_short_code
    from app.settings import Branding
    from db.engine import atomic
    from db.tables import (
        Account,
        Application,
        AreaFollow,
        Member,
        Redemption,
        Survey,
        SurveyAnswer,
        SurveyInvitation,
        SurveyQuestion,
        SurveyResponse,
        WalletPass,
    )

    rng = random.Random(2026)
    areas = {a["slug"]: a["id"] for a in await Area.select(Area.id, Area.slug)}
    entry_pass = await Pass.select(Pass.id).where(Pass.name == PASS["name"]).first()
    if not areas or entry_pass is None:
        return 0
    today = to_tokyo(now).date()
    april = today.replace(month=4, day=1) if today.month >= 4 else today.replace(year=today.year - 1, month=4, day=1)
    first_day = datetime.combine(april, time(9), TOKYO)
    if (now - first_day).days < 120:  # early in a year: begin in the last one, so the charts have a shape
        first_day -= timedelta(days=365)
    span = (now - first_day).total_seconds()
    in_pass = [row["offer"] for row in await PassOffer.select(PassOffer.offer).where(PassOffer.entry_pass == entry_pass["id"])]
    offers = await Offer.select(Offer.id, Offer.shop, Offer.limit_kind, Offer.limit_count).where(Offer.id.is_in(in_pass))
    homes = [(code, town) for code, town, weight in DEMO_HOMES for _ in range(weight)]
    ties = [tie for tie, weight in DEMO_TIES for _ in range(weight)]
    prefix = Branding().member_no_prefix

    async with atomic(Account._meta.db):
        members: list[dict] = []
        for n in range(KPI_DEMO_MEMBERS):
            # Registrations pick up over the year: later weeks get more of them.
            registered = first_day + timedelta(seconds=span * ((n + rng.random()) / KPI_DEMO_MEMBERS) ** 0.8)
            prefecture, town = rng.choice(homes)
            account = Account(role="member", display_name=DEMO_NAMES[n % len(DEMO_NAMES)],
                              webauthn_user_id=f"{KPI_DEMO_MARK}{n:03d}", created_at=registered)
            await account.save()
            member = Member(account=account.id, member_no=f"pending-{KPI_DEMO_MARK}{n:03d}", home_prefecture=prefecture,
                            home_municipality=town, ties=sorted(set(rng.sample(ties, rng.choice((1, 1, 2))))),
                            consent_version="demo", consent_at=registered, created_at=registered)
            await member.save()
            await Member.update({Member.member_no: format_member_no(prefix, member.id)}).where(Member.id == member.id)
            followed = rng.sample(sorted(areas.values()), rng.choice((1, 1, 2)))
            await AreaFollow.insert(*[AreaFollow(member=member.id, area=area_id) for area_id in followed])
            members.append({"id": member.id, "account": account.id, "registered": registered, "home": prefecture})

        # Most activate the pass within weeks of registering and use a few offers while it is valid,
        # more often at weekends and around lunch and dinner.
        for member in members:
            activated = member["registered"] + timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 8))
            if rng.random() > 0.65 or activated >= now:
                continue
            wallet_pass = WalletPass(member=member["id"], entry_pass=entry_pass["id"], short_code=new_short_code(),
                                     activated_at=activated, expires_at=activated + timedelta(days=PASS["validity_days"]))
            await wallet_pass.save()
            taken: set[tuple[int, str]] = set()
            for _use in range(rng.choice((0, 1, 2, 3, 3, 4, 5, 6))):
                day = to_tokyo(activated).date() + timedelta(days=rng.randint(0, PASS["validity_days"] - 1))
                if rng.random() < 0.5:
                    day += timedelta(days=(rng.choice((5, 6)) - day.weekday()) % 7)  # the coming weekend
                moment = datetime.combine(day, time(rng.choice((10, 11, 12, 12, 13, 15, 18, 18, 19))), TOKYO)
                moment += timedelta(minutes=rng.randint(0, 59))
                offer = rng.choice(offers)
                key, _slots = limit_of(offer, moment)
                if moment >= now or (offer["id"], key) in taken:
                    continue
                taken.add((offer["id"], key))
                await Redemption(wallet_pass=wallet_pass.id, offer=offer["id"], shop=offer["shop"], limit_key=key,
                                 client_nonce=f"demo-{wallet_pass.id}-{offer['id']}-{key}", redeemed_at=moment,
                                 home_prefecture=member["home"]).save()

        # Past programs: those who had registered by then applied; most came; a week later, a survey.
        intending: list[int] = []
        for row in PAST_PROGRAMS:
            starts_at = datetime.combine(today - timedelta(days=row["days_ago"]), time(row["hour"]), TOKYO)
            if starts_at < first_day or row["area"] not in areas:
                continue
            eligible = [m for m in members if m["registered"] < starts_at - timedelta(days=10)]
            applicants = rng.sample(eligible, min(len(eligible), row["attendees"] + 1, 10))
            program = Program(area=areas[row["area"]], kind="program", title=row["title"], summary=row["summary"],
                              body=row["summary"], starts_at=starts_at, ends_at=starts_at + timedelta(hours=7),
                              apply_from=starts_at - timedelta(days=40), apply_until=starts_at - timedelta(days=5),
                              capacity=10, seats_taken=len(applicants), status="completed",
                              published_at=starts_at - timedelta(days=40), created_at=starts_at - timedelta(days=45),
                              updated_at=starts_at)
            await program.save()
            attended = applicants[: row["attendees"]]
            for index, member in enumerate(applicants):
                came = index < row["attendees"]
                await Application(program=program.id, member=member["id"], status="attended" if came else "accepted",
                                  created_at=starts_at - timedelta(days=rng.randint(6, 30)),
                                  updated_at=starts_at, attended_at=starts_at if came else None).save()
            opens_at = starts_at + timedelta(days=7)
            survey = Survey(title=f"{row['title']} 参加後アンケート", status="closed", target={"kind": "program",
                            "program": program.id}, program=program.id, follow_up_days=7, open_days=14, opens_at=opens_at,
                            closes_at=opens_at + timedelta(days=14), invited_at=opens_at, created_at=starts_at,
                            updated_at=opens_at, published_at=starts_at)
            await survey.save()
            question = SurveyQuestion(survey=survey.id, position=0, kind="single", key="intent_to_move",
                                      text=RESIDENCE_INTENT.text, options=list(RESIDENCE_INTENT.options))
            await question.save()
            last = len(RESIDENCE_INTENT.options) - 1
            for member in attended:
                await SurveyInvitation(survey=survey.id, account=member["account"], created_at=opens_at).save()
                if rng.random() < 0.3:  # about seven in ten answer
                    continue
                answered_at = opens_at + timedelta(days=rng.randint(0, 6), hours=rng.randint(1, 12))
                response = SurveyResponse(survey=survey.id, account=member["account"], home_prefecture=member["home"],
                                          submitted_at=answered_at)
                await response.save()
                choice = rng.choice((0, 1, 1, 2, 3, 3, last, last, last))
                await SurveyAnswer(response=response.id, question=question.id, choice=choice).save()
                await SurveyInvitation.update({SurveyInvitation.responded_at: answered_at}).where(
                    (SurveyInvitation.survey == survey.id) & (SurveyInvitation.account == member["account"]))
                if choice != last:
                    intending.append(member["id"])
        # A few of the most involved are premium until the end of the fiscal year (the national scheme's renewal).
        premium_until = april.replace(year=april.year + 1) - timedelta(days=1)
        for member_id in intending[::3]:
            await Member.update({Member.tier: "premium", Member.premium_until: premium_until}).where(Member.id == member_id)
    return len(members)


# Surveys: the post-program template, sent five days ago to the participants of the latest completed program
# that demo members attended, with their answers so the results page has charts and comments to show. Only
# demo members (KPI_DEMO_MARK) ever answer: a real installation's members are never made to say anything.
SURVEY_DEMO_SUFFIX = " ふりかえりアンケート"
SURVEY_DEMO_COMMENTS = (
    "牧場の方が丁寧に教えてくださり、作業の大変さと楽しさの両方がわかりました。",
    "地元の方との夕食の時間がいちばん印象に残っています。次は家族で来たいです。",
    "集合場所までの交通が少しわかりにくかったので、地図があると助かります。",
    "作業時間がもう少し長くてもよかったです。2日間のプログラムがあれば参加したいです。",
    "参加者同士で連絡を取り合えるようになり、帰ってからもつながりが続いています。",
)
# Which option people pick, by the template's question position: come back (most would), dual residence or moving.
SURVEY_DEMO_SINGLE = {1: (0, 0, 0, 1, 1, 1, 2, 3), 3: (0, 1, 1, 2, 3, 3, 3, 4, 4, 4)}
SURVEY_DEMO_MESSAGES = ("ありがとうございました！また伺います。", "温かく迎えてくださり、感謝しています。", "次の収穫も手伝いに行きます。")


async def load_survey_demo() -> dict[str, int]:
    """One open survey with answers (once, keyed by its title), if demo members attended a completed program."""
    import random

    from app.services.notify import push_notifications
    from app.services.surveys import surveys
    from db.engine import atomic
    from db.tables import Application, Survey, SurveyInvitation

    created = {"surveys": 0, "survey_responses": 0}
    attended = await Application.select(
        Application.program.id.as_alias("program"), Application.program.title.as_alias("title"),
        Application.program.ends_at.as_alias("ends_at"), Application.member.account.as_alias("account"),
    ).where((Application.status == "attended") & (Application.program.status == "completed")
            & Application.member.account.webauthn_user_id.like(KPI_DEMO_MARK + "%"))
    if not attended:
        return created
    latest = max(attended, key=lambda row: row["ends_at"])
    title = latest["title"][: 120 - len(SURVEY_DEMO_SUFFIX)] + SURVEY_DEMO_SUFFIX
    if await Survey.exists().where(Survey.title == title):
        return created
    now = clock.now()
    sent = now - timedelta(days=5)
    people = sorted({row["account"] for row in attended if row["program"] == latest["program"]})
    rng = random.Random(7)
    async with atomic(Survey._meta.db):
        survey_id = await surveys.copy_template("follow_up", None, sent)
        await Survey.update({
            Survey.title: title, Survey.status: "published", Survey.program: latest["program"],
            Survey.target: {"kind": "program", "program": latest["program"]}, Survey.follow_up_days: None,
            Survey.published_at: sent, Survey.opens_at: sent, Survey.invited_at: sent,
            Survey.closes_at: surveys.end_of_day(to_tokyo(now).date() + timedelta(days=9)),
        }).where(Survey.id == survey_id)
        await SurveyInvitation.insert(*[SurveyInvitation(survey=survey_id, account=a, created_at=sent) for a in people])
        created["surveys"] = 1
        questions = await surveys.questions_of(survey_id)
        for account in people:
            if rng.random() < 0.3:  # about seven in ten answer
                continue
            answers = {str(q["id"]): _demo_answer(rng, q) for q in questions}
            answered_at = sent + timedelta(days=rng.randint(0, 4), hours=rng.randint(1, 20))
            await surveys.submit(survey_id, account, {k: v for k, v in answers.items() if v}, min(answered_at, now))
            created["survey_responses"] += 1
    # The invitation in each inbox, as the background round would have put it there five days ago.
    survey = await Survey.select().where(Survey.id == survey_id).first().output(load_json=True)
    title, body = await surveys.announcement(survey, reminder=False)
    await push_notifications.create_notification(push_notifications.Target(topic="surveys", account_ids=people), title, body,
                                                 surveys.answer_path(survey_id), None, send_at=sent)
    await push_notifications.fan_out_due(sent)
    return created


def _demo_answer(rng, question: dict) -> list[str]:
    """A believable answer: mostly satisfied, many wanting to come back, a few thinking of moving."""
    kind, count = question["kind"], len(question["options"])
    if kind == "scale":
        return [str(rng.choice((5, 5, 5, 4, 4, 4, 4, 3, 3, 2)))]
    if kind == "single":
        return [str(min(rng.choice(SURVEY_DEMO_SINGLE.get(question["position"], range(count))), count - 1))]
    if kind == "multiple":
        if not question["required"] and rng.random() < 0.3:
            return []
        return [str(i) for i in rng.sample(range(count - 1), rng.choice((1, 2, 2, 3)))]
    if kind == "long":
        return [rng.choice(SURVEY_DEMO_COMMENTS)] if rng.random() < 0.6 else []
    return [rng.choice(SURVEY_DEMO_MESSAGES)] if rng.random() < 0.4 else []
