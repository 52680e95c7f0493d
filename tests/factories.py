"""Named test people and the few rows tests need, set up without HTTP. Each sets only what tests check."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timezone

from app.services.membership import membership
from app.services.membership.membership import Profile
from app.services.membership.passkeys import NewPasskey, new_user_handle
from db.tables import Account, Activity, Area, Shop


def fake_passkey(**changes) -> NewPasskey:
    """A stored credential row for tests that do not exercise WebAuthn itself."""
    values = dict(
        credential_id=secrets.token_urlsafe(16),
        public_key=b"\x00" * 77,
        sign_count=0,
        aaguid="00000000-0000-0000-0000-000000000000",
        device_type="multi_device",
        backed_up=True,
        transports=["internal"],
    )
    values.update(changes)
    return NewPasskey(**values)


async def member(display_name: str = "つなぐ花子", email: str = "", verified: bool = False, **profile) -> membership.Registered:
    fields = {"home_prefecture": "13", "ties": ["workation"], **profile}
    registered = await membership.register_member(
        Profile(display_name=display_name, email=email, **fields), new_user_handle(), fake_passkey(), "テスト端末", "TMK"
    )
    if verified:
        await Account.update({Account.email_verified_at: datetime.now(timezone.utc)}).where(
            Account.id == registered.account_id
        )
    return registered


async def premium(member_id: int, until: date) -> None:
    """Premium until `until` (its last day in Japan), set directly: how it is granted is tested in premium/."""
    from db.tables import Member

    await Member.update({Member.tier: "premium", Member.premium_until: until}).where(Member.id == member_id)


async def staff_account(display_name: str = "事務局 佐藤", role: str = "staff", **scope) -> int:
    account = Account(role=role, display_name=display_name, webauthn_user_id=new_user_handle(), **scope)
    await account.save()
    return account.id


async def area(name: str = "勇払", slug: str = "yufutsu") -> int:
    row = Area(name=name, slug=slug)
    await row.save()
    return row.id


async def shop(name: str = "ベイサイド・コワーキング", area_id: int | None = None) -> int:
    row = Shop(name=name, category="coworking", area=area_id)
    await row.save()
    return row.id


# Entry pass wallet: shops with offers, a pass, and a member's copy of it, without the activation rules.


async def shop_with_offers(name: str = "海鮮食堂 ほっき屋", *offers: dict, area_id: int | None = None) -> tuple[int, list[int]]:
    """A shop (of no area unless said) and its offers, each given as Offer fields (limit_kind "once" unless said)."""
    from db.tables import Offer

    shop_id = await shop(name, area_id)
    offer_ids = []
    for position, fields in enumerate(offers):
        row = Offer(shop=shop_id, position=position, **{"title": f"特典 {position + 1}", **fields})
        await row.save()
        offer_ids.append(row.id)
    return shop_id, offer_ids


async def entry_pass(*offer_ids: int, name: str = "苫小牧エントリーパス", **fields) -> int:
    """A pass including the given offers (outside residents only, 30 days, no stay, unless said)."""
    from db.tables import Pass, PassOffer

    row = Pass(name=name, **fields)
    await row.save()
    if offer_ids:
        await PassOffer.insert(*[PassOffer(entry_pass=row.id, offer=offer_id) for offer_id in offer_ids])
    return row.id


async def wallet_pass(member_id: int, pass_id: int, activated_at: datetime, days: int = 30, **fields) -> tuple[int, str]:
    """A member's active copy of a pass, stored directly (the activation rules are tested on their own).
    Returns (wallet pass id, short code)."""
    from datetime import timedelta

    from app.services.wallet.wallet import new_short_code
    from db.tables import WalletPass

    values = dict(member=member_id, entry_pass=pass_id, short_code=new_short_code(), activated_at=activated_at,
                  expires_at=activated_at + timedelta(days=days))
    values.update(fields)
    row = WalletPass(**values)
    await row.save()
    return row.id, values["short_code"]


# Programs: a published program open for applications now, stored directly (the workflow is tested on its own).


async def program(area_id: int, author_id: int | None = None, **fields) -> int:
    """A published program of `area_id`, open for applications now (since yesterday, for 20 more days),
    starting in 30 days, capacity 10, unless `fields` say otherwise (any Program column)."""
    from datetime import timedelta

    from app.services.shared import clock
    from db.tables import Program

    now = clock.now()
    values = dict(area=area_id, author=author_id, title="ほっき貝の浜で漁業体験", status="published", published_at=now,
                  starts_at=now + timedelta(days=30), ends_at=now + timedelta(days=30, hours=6),
                  apply_from=now - timedelta(days=1), apply_until=now + timedelta(days=20), capacity=10)
    values.update(fields)
    row = Program(**values)
    await row.save()
    return row.id


# Consultation desk: the public form as a visitor fills it in, and an inquiry stored through the service.


def inquiry_form(**changes) -> dict:
    """A valid inquiry form: answer by e-mail, about dual residence, consent given (any field overridable)."""
    from app.services.desk.validation import CONSENT_VERSION

    form = {"name": "二地域 花子", "email": "hanako@example.jp", "phone": "", "contact_method": "email",
            "category": "dual_residence", "message": "夏の間だけ苫小牧で暮らすことはできますか。", "consent": CONSENT_VERSION}
    form.update(changes)
    return form


def desk_post(smtp=None, desk_email: str = "desk@tomakomai.example"):
    """What the desk's service needs to send: the mail server (files under var/mail unless given), the
    desk's details and the links the routes would give."""
    from app.services.desk import contact
    from app.settings import Smtp

    desk = contact.Desk("ふるさと住民 相談窓口", "0144-32-6111", desk_email, "平日 8:45〜17:15")
    links = contact.Links("http://localhost:8000", lambda i: f"/account/inquiries/{i}", lambda i: f"/staff/inquiries/{i}")
    return contact.Post(smtp or Smtp(), desk, links)


async def inquiry(account_id: int | None = None, post=None, **form_changes) -> dict:
    """An inquiry from the public form (or from a member's, with `account_id`): {"id", "reference"}."""
    from app.services.desk import asking, validation

    values = await validation.validate_inquiry(inquiry_form(**form_changes), member=account_id is not None)
    return await asking.create_inquiry(values, post or desk_post(), account_id=account_id)


# Surveys: recorded attendance (what "participants" means for a survey's target), and an open survey.


async def attendance(program_id: int, member_id: int, status: str = "attended") -> int:
    """A member's application to a program, attended unless said (the attendance rules are tested on their own)."""
    from app.services.shared import clock
    from db.tables import Application

    now = clock.now()
    row = Application(program=program_id, member=member_id, status=status, created_at=now, updated_at=now,
                      attended_at=now if status == "attended" else None)
    await row.save()
    return row.id


async def open_survey(questions: list[dict], account_ids: list[int], title: str = "参加後アンケート", **fields) -> int:
    """A published survey, open from now for 14 days and already sent to `account_ids`. Each question is given
    as SurveyQuestion fields, e.g. {"kind": "single", "text": "…", "options": ["はい", "いいえ"]}."""
    from datetime import timedelta

    from app.services.shared import clock
    from db.tables import Survey, SurveyInvitation, SurveyQuestion

    now = clock.now()
    values = dict(title=title, status="published", target={"kind": "everyone"}, opens_at=now, invited_at=now,
                  closes_at=now + timedelta(days=14), published_at=now, created_at=now, updated_at=now)
    values.update(fields)
    survey = Survey(**values)
    await survey.save()
    await SurveyQuestion.insert(*[SurveyQuestion(survey=survey.id, position=n, **{"required": True, **q})
                                  for n, q in enumerate(questions)])
    if account_ids:
        await SurveyInvitation.insert(*[SurveyInvitation(survey=survey.id, account=a, created_at=now) for a in account_ids])
    return survey.id


async def activity(area_id: int, title: str = "樽前山の登山道整備", **fields) -> int:
    """A designated activity (担い手活動), open, from 2026-11-01 to 2026-11-30 unless told otherwise."""
    values = {"kind": "volunteer", "starts_on": date(2026, 11, 1), "ends_on": date(2026, 11, 30),
              "place": "樽前山 七合目ヒュッテ", "organiser": "苫小牧山岳会", **fields}
    rows = await Activity.insert(Activity(title=title, area=area_id, **values)).returning(Activity.id)
    return rows[0]["id"]


async def premium_application(member_id: int) -> int:
    """A premium application waiting for the secretariat (who may apply, and the evidence, are tested in premium/)."""
    from db.tables import PremiumApplication

    rows = await PremiumApplication.insert(PremiumApplication(member=member_id, home_municipality="東京都世田谷区")).returning(
        PremiumApplication.id)
    return rows[0]["id"]


# The travel subsidy: a program it covers (the rules are tested in subsidy/), and a claim stored directly.


async def travel_subsidy(program_id: int, **fields) -> int:
    """The subsidy covers `program_id`: up to 20,000 yen a person, by rail, air or bus, claims until 2099-03-31,
    unless `fields` say otherwise (any TravelSubsidy column)."""
    from db.tables import TravelSubsidy

    values = {"max_amount": 20_000, "transports": ["rail", "air", "bus"], "deadline": date(2099, 3, 31), **fields}
    rows = await TravelSubsidy.insert(TravelSubsidy(program=program_id, **values)).returning(TravelSubsidy.id)
    return rows[0]["id"]


async def travel_claim(program_id: int, member_id: int, **fields) -> int:
    """A claim for 24,000 yen of fare (20,000 claimed), waiting for the secretariat unless `fields` say otherwise;
    stored directly: filing it is tested in subsidy/."""
    from app.services.programs.activities import fiscal_year_of
    from app.services.shared import clock
    from db.tables import Program, TravelClaim

    starts_at = (await Program.select(Program.starts_at).where(Program.id == program_id).first())["starts_at"]
    day = starts_at.date()
    values = {"fiscal_year": fiscal_year_of(starts_at), "departure": "東京都世田谷区", "route": "羽田空港→新千歳空港→苫小牧駅",
              "transports": ["air", "rail"], "outbound_on": day, "return_on": day, "fare": 24_000, "max_amount": 20_000,
              "amount": 20_000, "submitted_at": clock.now(), **fields}
    rows = await TravelClaim.insert(TravelClaim(program=program_id, member=member_id, **values)).returning(TravelClaim.id)
    return rows[0]["id"]
