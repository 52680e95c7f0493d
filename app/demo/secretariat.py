"""Demo of the secretariat's own records: a working week of the daily record by two people, linked to the demo's
programs, articles and inquiries; two incidents (one still open, one closed); and this year's 受入支援 budgets
with payments, one area near its limit."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from app.i18n import TOKYO, to_tokyo
from app.services.membership.passkeys import new_user_handle
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock
from db.tables import Account, Area, Article, Budget, DiaryEntry, Incident, Inquiry, Program, Spending

STAFF = ("事務局 高橋 美咲", "事務局 中村 健太")
# (weekdays ago, who (index in STAFF), minutes, what was done, linked program title, article title, inquiry reference)
DIARY = [
    (4, 0, 120, "酪農体験プログラムの受入先と打合せ（送迎ルートと雨天時の代替内容を確認）。",
     "勇払の酪農体験と牧場の担い手づくり", None, None),
    (4, 1, 90, "協力店舗2件を訪問し、エントリーパスの読み取り手順を説明。タブレットの設定を手伝った。", None,
     "苫小牧エントリーパス 2026 の提供を始めました", None),
    (3, 0, 60, "相談窓口：二地域居住の相談に電話で回答。お試し住宅の空き状況を案内。", None, None, "Q-DEMO-4C5D"),
    (3, 1, 150, "空き家再生ワークショップの募集記事を作成し、審査に提出。", "樽前の空き家再生ワークショップ", None, None),
    (2, 0, 45, "交流会の参加者アンケートを集計し、次回の改善点を整理。",
     "オンライン交流会「苫小牧と関わる人の活動報告会」", None, None),
    (1, 1, 75, "体験レポート記事の写真を選定し、掲載許諾を参加者に確認。", None, "勇払の牧場で、酪農の一日を体験しました",
     None),
    (1, 0, 30, "相談窓口：エントリーパスの利用に関する問い合わせに返信。", None, None, "Q-DEMO-6E7F"),
    (0, 0, 60, "県の担当課と月次の進捗確認（登録者数と特典利用の状況を報告）。", None, None, None),
]
INCIDENTS = [
    {"days_ago": 12, "title": "協力店舗のタブレットが読み取りできない", "closed": True,
     "what_happened": "海鮮食堂 ほっき屋で、昼の混雑時にスキャナーが読み取り結果を表示しなかった。",
     "affected": "来店したふるさと住民3名（特典は手入力のコードで提供）", "told": "県 政策推進課",
     "actions": "店舗の通信状態を確認し、オフラインでも受け付けられることを説明。翌日に再訪し、動作を確認した。"},
    {"days_ago": 2, "title": "交流会の配信が10分途切れた", "closed": False,
     "what_happened": "オンライン交流会の途中で、会場側の回線が切れ配信が約10分止まった。",
     "affected": "オンライン参加者 約20名", "told": "",
     "actions": "チャットで状況を案内し、再開後に録画の共有を約束。回線の予備手段を検討中。"},
]


# (area slug, budget, [(days ago, payee, purpose, yen, program title, confirmed)]): 勇払 is near its limit.
BUDGETS = [
    ("yufutsu", 500_000, [
        (60, "勇払ファーム", "酪農体験の受入謝礼（10名分）", 150_000, "勇払の酪農体験と牧場の担い手づくり", True),
        (45, "苫小牧観光バス", "参加者の送迎（駅〜牧場 往復）", 88_000, "勇払の酪農体験と牧場の担い手づくり", True),
        (20, "勇払コミュニティセンター", "交流会の会場利用料", 24_000, None, True),
        (6, "勇払ファーム", "冬の作業体験の受入謝礼（12名分）", 165_000, None, False),
    ]),
    ("tarumae", 500_000, [
        (30, "樽前ガロー工務店", "空き家再生ワークショップの資材", 96_500, "樽前の空き家再生ワークショップ", True),
    ]),
]


async def _load_budgets(people: list[int], now: datetime) -> int:
    if await Spending.exists():
        return 0
    year = fiscal_year_of(now)
    today = to_tokyo(now).date()
    added = 0
    for slug, amount, payments in BUDGETS:
        area = await _id_of(Area, Area.slug, slug)
        if area is None:
            continue
        if not await Budget.exists().where((Budget.area == area) & (Budget.fiscal_year == year)):
            await Budget(area=area, fiscal_year=year, amount=amount, updated_by=people[0], updated_at=now).save()
        for ago, payee, purpose, yen, program, confirmed in payments:
            await Spending(area=area, fiscal_year=year, program=await _id_of(Program, Program.title, program),
                           spent_on=max(today - timedelta(days=ago), date(year, 4, 1)), payee=payee, purpose=purpose, amount=yen,
                           status="confirmed" if confirmed else "entered", entered_by=people[1],
                           confirmed_by=people[0] if confirmed else None, confirmed_at=now if confirmed else None,
                           created_at=now).save()
            added += 1
    return added


def _weekday_back(today, count: int):
    """The day `count` weekdays before the last weekday up to `today`: a record is written on working days."""
    day = today
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    while count:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


async def _id_of(table, column, value) -> int | None:
    if value is None:
        return None
    row = await table.select(table.id).where(column == value).first()
    return row["id"] if row else None


async def load_secretariat_demo() -> dict[str, int]:
    """Two secretariat members (keyed by name; they have no passkey, so nobody logs in as them), their record of the
    last working days, and the incidents (keyed by title). Nothing is added when the record has entries already."""
    created = {"diary_entries": 0, "incidents": 0, "spendings": 0}
    now = clock.now()
    people = []
    for name in STAFF:
        account = await Account.select(Account.id).where((Account.display_name == name) & (Account.role == "staff")).first()
        if account is None:
            account = (await Account.insert(Account(role="staff", display_name=name, webauthn_user_id=new_user_handle())
                                            ).returning(Account.id))[0]
        people.append(account["id"])
    if not await DiaryEntry.exists():
        today = to_tokyo(now).date()
        for ago, who, minutes, work, program, article, reference in DIARY:
            refs = [{"kind": kind, "id": found} for kind, found in (
                ("program", await _id_of(Program, Program.title, program)),
                ("article", await _id_of(Article, Article.title, article)),
                ("inquiry", await _id_of(Inquiry, Inquiry.reference, reference))) if found]
            await DiaryEntry(day=_weekday_back(today, ago), author=people[who], work=work, minutes=minutes, refs=refs,
                             created_at=now, updated_at=now).save()
            created["diary_entries"] += 1
    for row in INCIDENTS:
        if await Incident.exists().where(Incident.title == row["title"]):
            continue
        occurred = datetime.combine(to_tokyo(now).date() - timedelta(days=row["days_ago"]), time(12, 20), TOKYO)
        await Incident(
            occurred_at=occurred, title=row["title"], what_happened=row["what_happened"], affected=row["affected"],
            actions=row["actions"], told=row["told"], told_at=occurred + timedelta(hours=2) if row["told"] else None,
            status="closed" if row["closed"] else "open", closed_at=occurred + timedelta(days=1) if row["closed"] else None,
            created_by=people[0], created_at=occurred, updated_at=occurred,
        ).save()
        created["incidents"] += 1
    created["spendings"] = await _load_budgets(people, now)
    return created
