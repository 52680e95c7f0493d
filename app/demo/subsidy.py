"""Demo of the travel subsidy: an upcoming program run by a local group as its own matching project, and two of the
demo year's past programs covered, with their attendees' claims in every state — paid, approved at less with a note,
waiting for a check (one above the maximum), returned for a clearer receipt, and declined — each with its history.
With a var/ directory (`make run`), each claim carries a receipt picture. Once: nothing is added when a program is
covered already."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from app.i18n import TOKYO, to_tokyo
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock, uploads
from app.services.shared.reference import prefecture_name
from db.engine import atomic
from db.tables import Account, Application, AuditLog, Program, TravelClaim, TravelSubsidy

SCHEME = "苫小牧市 関係人口来訪支援交通費補助金"
# (program title, organiser, maximum, transports, days from the program's end to the deadline, conditions)
COVERED = [
    ("勇払の酪農体験と牧場の担い手づくり", "勇払地区まちづくり協議会", 20_000, ["rail", "air", "bus", "ship"], 30,
     "新千歳空港・苫小牧駅・苫小牧西港（フェリー）までの往復が対象です。宿泊費は含みません。"),
    ("植苗 じゃがいも収穫と農家民泊", "", 20_000, ["rail", "air", "bus", "ship"], 60, ""),
    ("樽前 海岸清掃と浜のバーベキュー交流会", "樽前地区の漁業者有志", 15_000, ["rail", "air", "bus"], 30,
     "自家用車・レンタカーでの来訪は対象外です。"),
]
# Per past program, the attendees' claims in order: (status, fare, approved, note, days after the program it was filed)
CLAIMS = {
    "植苗 じゃがいも収穫と農家民泊": [
        ("paid", 36_800, 20_000, "", 3),
        ("approved", 31_200, 16_000, "帰りの新千歳空港→羽田空港の領収書が見当たらないため、往路と鉄道区間の分を承認しました。", 5),
        ("submitted", 41_500, None, "", 8),
        ("submitted", 5_720, None, "", 12),
        ("returned", 28_900, None, "領収書の写真がぼやけていて金額が読めません。もう一度撮影して添付してください。", 6),
    ],
    "樽前 海岸清掃と浜のバーベキュー交流会": [
        ("paid", 33_400, 15_000, "", 2),
        ("paid", 4_980, 4_980, "", 4),
        ("declined", 18_000, None, "レンタカーの料金はこの補助の対象外です（対象は鉄道・航空機・バスです）。", 9),
    ],
}
# How people from each prefecture come: (route, transports). Others fly from their nearest airport.
ROUTES = {
    "01": ("札幌駅→苫小牧駅（JR特急すずらん）", ["rail"]),
    "04": ("仙台港→苫小牧港（太平洋フェリー）、苫小牧港→苫小牧駅（路線バス）", ["ship", "bus"]),
    "27": ("伊丹空港→新千歳空港（航空機）、新千歳空港→苫小牧駅（JR）", ["air", "rail"]),
    "26": ("関西空港→新千歳空港（航空機）、新千歳空港→苫小牧駅（JR）", ["air", "rail"]),
    "23": ("中部国際空港→新千歳空港（航空機）、新千歳空港→苫小牧駅（JR）", ["air", "rail"]),
    "40": ("福岡空港→新千歳空港（航空機）、新千歳空港→苫小牧駅（高速バス）", ["air", "bus"]),
}
FROM_TOKYO = ("羽田空港→新千歳空港（航空機）、新千歳空港→苫小牧駅（JR快速エアポート・特急）", ["air", "rail"])
DECIDERS = ("事務局 高橋 美咲", "事務局 中村 健太")  # the secretariat's demo people (demo/secretariat.py)


def receipt_picture(route: str, fare: int, day: date) -> bytes:
    """A plain receipt, drawn: enough for staff to see what a claim's receipt looks like on its page."""
    image = Image.new("RGB", (560, 720), "white")
    draw = ImageDraw.Draw(image)
    big, small = ImageFont.load_default(size=34), ImageFont.load_default(size=22)
    draw.rectangle((12, 12, 547, 707), outline=(60, 60, 60), width=3)
    draw.text((40, 40), "RECEIPT", font=big, fill="black")
    draw.text((40, 100), f"Date  {day:%Y-%m-%d}", font=small, fill="black")
    leg = "HND - CTS" if "羽田" in route else "CTS - TOMAKOMAI" if "新千歳" in route else "TOMAKOMAI"
    draw.text((40, 140), f"Route  {leg}", font=small, fill="black")
    draw.line((40, 200, 520, 200), fill=(120, 120, 120), width=2)
    draw.text((40, 230), "Fare (round trip)", font=small, fill="black")
    draw.text((40, 270), f"JPY {fare:,}", font=big, fill="black")
    draw.line((40, 340, 520, 340), fill=(120, 120, 120), width=2)
    draw.text((40, 640), "Thank you for travelling with us.", font=small, fill=(90, 90, 90))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def _receipt(var_dir: Path | None, route: str, fare: int, day: date, account_id: int) -> list[str]:
    """A receipt as the member sent it: private, theirs and the secretariat's to open."""
    if var_dir is None:
        return []
    prepared = await uploads.prepare_image(receipt_picture(route, fare, day))
    return [await uploads.store(prepared, var_dir, account_id, private=True)]


async def load_subsidy_demo(var_dir: Path | None = None) -> dict[str, int]:
    created = {"travel_subsidies": 0, "travel_claims": 0}
    if await TravelSubsidy.exists():
        return created
    now = clock.now()
    people = [row["id"] for row in await Account.select(Account.id).where(
        Account.display_name.is_in(list(DECIDERS)) & (Account.role == "staff")).order_by(Account.id)]
    decider = people[0] if people else None
    async with atomic(TravelSubsidy._meta.db):
        for title, organiser, maximum, transports, days, conditions in COVERED:
            program = await Program.select(Program.id, Program.ends_at).where(Program.title == title).first()
            if program is None:
                continue
            await TravelSubsidy(program=program["id"], scheme=SCHEME, organiser=organiser, max_amount=maximum,
                                transports=transports, conditions=conditions, updated_by=decider, updated_at=now,
                                deadline=to_tokyo(program["ends_at"]).date() + timedelta(days=days)).save()
            created["travel_subsidies"] += 1
            created["travel_claims"] += await _claims(program["id"], title, maximum, decider, now, var_dir)
    return created


async def _claims(program_id: int, title: str, maximum: int, decider: int | None, now: datetime,
                  var_dir: Path | None) -> int:
    """The attendees' claims for a past program of the demo year, in the states CLAIMS gives, with their history."""
    program = await Program.select(Program.starts_at, Program.ends_at).where(Program.id == program_id).first()
    attendees = await Application.select(
        Application.member, Application.member.account.as_alias("account"),
        Application.member.home_prefecture.as_alias("prefecture"),
        Application.member.home_municipality.as_alias("town"),
    ).where((Application.program == program_id) & (Application.status == "attended")).order_by(Application.id)
    first, last = to_tokyo(program["starts_at"]).date(), to_tokyo(program["ends_at"]).date()
    made = 0
    for who, (status, fare, approved, note, after) in zip(attendees, CLAIMS.get(title, []), strict=False):
        route, transports = ROUTES.get(who["prefecture"], FROM_TOKYO)
        filed = datetime.combine(last + timedelta(days=after), time(21, 10), TOKYO)
        decided = filed + timedelta(days=2, hours=-7) if status != "submitted" else None
        if (decided or filed) + timedelta(days=10) > now:  # the demo year began too lately for this one
            continue
        claim = TravelClaim(
            program=program_id, member=who["member"], fiscal_year=fiscal_year_of(program["starts_at"]), status=status,
            departure=(prefecture_name(who["prefecture"]) + who["town"]) or "東京都", route=route, transports=transports,
            outbound_on=first - timedelta(days=1 if who["prefecture"] != "01" else 0), return_on=last, fare=fare,
            max_amount=maximum, amount=min(fare, maximum), approved_amount=approved, note=note,
            receipts=await _receipt(var_dir, route, fare, first, who["account"]), submitted_at=filed, created_at=filed,
            updated_at=decided or filed, decided_by=decider if decided else None, decided_at=decided,
            paid_on=(decided + timedelta(days=10)).date() if status == "paid" else None,
            paid_by=decider if status == "paid" else None)
        await claim.save()
        await _history(claim, who["account"], decider, filed, decided)
        made += 1
    return made


async def _history(claim: TravelClaim, account: int, decider: int | None, filed: datetime,
                   decided: datetime | None) -> None:
    steps = [(account, "travel_claim.submit", filed, {"fare": claim.fare, "amount": claim.amount})]
    action = {"approved": "approve", "paid": "approve", "returned": "return", "declined": "decline"}.get(claim.status)
    if action and decided:
        steps.append((decider, f"travel_claim.{action}", decided, {"amount": claim.approved_amount} if claim.approved_amount
                      else {}))
    if claim.status == "paid" and decided:
        steps.append((decider, "travel_claim.paid", decided + timedelta(days=10), {"paid_on": claim.paid_on.isoformat()}))
    for actor, action_code, moment, detail in steps:
        await AuditLog(actor=actor, action=action_code, target_type="travel_claim", target_id=str(claim.id), detail=detail,
                       created_at=moment).save()

