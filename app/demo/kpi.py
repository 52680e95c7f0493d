"""Demo year for the KPI dashboard and the yearly report: members from around Japan, their pass uses, three past
programs with attendance and a follow-up survey; this year's targets and report drafts."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from app.demo.wallet import PASS
from app.i18n import TOKYO, to_tokyo
from app.services.journeys import follow_up_survey
from app.services.membership.membership import format_member_no
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock
from app.services.surveys.builder import TITLE_MAX
from app.services.surveys.templates import RESIDENCE_INTENT, follow_up_title
from app.services.wallet.redemption import limit_of
from app.services.wallet.wallet import new_short_code
from app.settings import Branding
from db.engine import atomic
from db.tables import (
    Account,
    Application,
    Area,
    AreaFollow,
    JourneyEvent,
    KpiTarget,
    Member,
    Offer,
    Pass,
    PassOffer,
    Program,
    Redemption,
    ReportSection,
    Shop,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
    WalletPass,
)

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
               "エントリーパスを利用して実際に苫小牧を訪れる方も増えています。\n\n"
               "勇払・樽前・植苗の3地区で実施した地域プログラムには延べ26人が参加し、参加後アンケートでは"
               "半数近くが二地域居住や移住に関心があると答えました。",
    "issues": "冬期は協力店舗の利用とプログラムの参加が落ち込みます。また、登録後に一度もパスを利用していない方が"
              "一定数いるため、来訪のきっかけづくりが課題です。\n\n"
              "駅前・中心街ではプログラムを実施できず、地区ごとの参加者目標に差が出ました。",
    "direction": "次年度は冬の体験プログラムを新たに企画し、オンライン交流会から現地参加につなげる流れを強化します。"
                 "協力店舗を飲食店中心に広げ、パスの利用を週末以外にも促します。\n\n"
                 "プレミアムふるさと住民の要件を満たす方には、地域の担い手として継続して関われる場を案内します。",
}


async def load_kpi_demo() -> dict[str, int]:
    """This year's targets and report drafts (each unless staff set it), and a year of demo activity (once)."""
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
    follow-up survey. Random but seeded: the same believable year on every machine (the steps below draw
    from one generator, in this order)."""
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
    in_pass = [row["offer"] for row in await PassOffer.select(PassOffer.offer).where(PassOffer.entry_pass == entry_pass["id"])]
    # These members are all basic: a premium-only offer would have refused them at the counter.
    offers = await Offer.select(Offer.id, Offer.shop, Offer.limit_kind, Offer.limit_count).where(
        Offer.id.is_in(in_pass) & Offer.premium_only.eq(False)
    )

    async with atomic(Account._meta.db):
        await _demo_pass_history(first_day, now)
        members = await _demo_members(rng, areas, first_day, now)
        await _demo_pass_uses(rng, members, entry_pass["id"], offers, now)
        intending = await _demo_past_programs(rng, members, areas, today, first_day)
        # A few of the most involved are premium until the end of the fiscal year (the national scheme's renewal).
        premium_until = april.replace(year=april.year + 1) - timedelta(days=1)
        for member_id in intending[::3]:
            await Member.update({Member.tier: "premium", Member.premium_until: premium_until}).where(Member.id == member_id)
    return len(members)


async def _demo_pass_history(first_day: datetime, now: datetime) -> None:
    """The shops joined in the March before the year and their offers with them; the premium-only offer came in
    the autumn (no demo member used it before: they were all basic), so the report's changes show one."""
    joined = first_day - timedelta(days=20)
    await Shop.update({Shop.created_at: joined}).where(Shop.created_at > joined)
    await Offer.update({Offer.created_at: joined}).where((Offer.created_at > joined) & Offer.premium_only.eq(False))
    autumn = min(first_day + timedelta(days=183), now)
    await Offer.update({Offer.created_at: autumn}).where(Offer.premium_only.eq(True) & (Offer.created_at > autumn))


async def _demo_members(rng: random.Random, areas: dict[str, int], first_day: datetime, now: datetime) -> list[dict]:
    """The demo members, registering from `first_day` to `now`, each following an area or two."""
    span = (now - first_day).total_seconds()
    homes = [(code, town) for code, town, weight in DEMO_HOMES for _ in range(weight)]
    ties = [tie for tie, weight in DEMO_TIES for _ in range(weight)]
    prefix = Branding().member_no_prefix
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
                        consent_version="demo", terms_version="demo", consent_at=registered, created_at=registered)
        await member.save()
        await Member.update({Member.member_no: format_member_no(prefix, member.id)}).where(Member.id == member.id)
        followed = rng.sample(sorted(areas.values()), rng.choice((1, 1, 2)))
        await AreaFollow.insert(*[AreaFollow(member=member.id, area=area_id) for area_id in followed])
        members.append({"id": member.id, "account": account.id, "registered": registered, "home": prefecture})
    return members


async def _demo_pass_uses(rng: random.Random, members: list[dict], entry_pass_id: int, offers: list[dict],
                          now: datetime) -> None:
    """Most activate the pass within weeks of registering and use a few offers while it is valid,
    more often at weekends and around lunch and dinner."""
    for member in members:
        activated = member["registered"] + timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 8))
        if rng.random() > 0.65 or activated >= now:
            continue
        wallet_pass = WalletPass(member=member["id"], entry_pass=entry_pass_id, short_code=new_short_code(),
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


async def _demo_past_programs(rng: random.Random, members: list[dict], areas: dict[str, int], today: date,
                              first_day: datetime) -> list[int]:
    """Past programs: those who had registered by then applied; most came; a week later, the follow-up rule's survey.
    Returns the members who answered that they might live here one day."""
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
        # The week-after survey as the follow-up rule made it when the program was completed (its later ones
        # the background round of `make run` makes); shortened to the question the dashboard reads.
        opens_at = starts_at + timedelta(days=7)
        survey = Survey(title=follow_up_title(row["title"], 7, TITLE_MAX), status="closed",
                        target={"kind": "program", "program": program.id}, program=program.id, follow_up_days=7,
                        made_by_rule=follow_up_survey.RULE, open_days=14, opens_at=opens_at,
                        closes_at=opens_at + timedelta(days=14), invited_at=opens_at, created_at=starts_at,
                        updated_at=opens_at, published_at=starts_at)
        await survey.save()
        question = SurveyQuestion(survey=survey.id, position=0, kind="single", key="intent_to_move",
                                  text=RESIDENCE_INTENT.text, options=list(RESIDENCE_INTENT.options))
        await question.save()
        last = len(RESIDENCE_INTENT.options) - 1
        for member in attended:
            await SurveyInvitation(survey=survey.id, account=member["account"], created_at=opens_at).save()
            await JourneyEvent(rule=follow_up_survey.RULE, member=member["id"], cause=follow_up_survey.cause(program.id, 7),
                               fired_at=opens_at).save()
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
    return intending
