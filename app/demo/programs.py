"""Demo programs: three published programs in the weeks ahead, and an area editor's change waiting for review."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from app.i18n import TOKYO, to_tokyo
from app.services.programs import programs
from app.services.review import revisions
from app.services.shared import clock
from db.tables import Account, Area, Program, Revision

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
