"""Premium applications (プレミアム申請), as the national ふるさと住民登録 runs the premium tier: three counted local
activities in the last twelve months, never in the member's home municipality, premium in at most three
municipalities, a year at a time. The member applies with their evidence; the secretariat approves (a
certificate number and a year of premium) or declines with a reason; the member is told by inbox, push and
mail. Renewal is an application again, with the activities since the last approval.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from piccolo.query import Count as CountQuery

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.services.activities import progress
from app.services.activities.activities import KINDS
from app.services.membership.membership import in_locale_of
from app.services.notify import personal
from app.services.notify.personal import INBOX_AND_PUSH_ONLY, Told
from app.services.shared import clock, exports
from app.services.shared.actor import Actor
from app.services.shared.refusals import FormInvalid, Refusal
from db.engine import atomic, is_row_id, is_unique_violation
from db.tables import AuditLog, Member, PremiumApplication

MAX_MUNICIPALITIES = 3  # premium in at most three municipalities, this one included
RENEWAL_OPENS = timedelta(days=60)  # a member may apply to renew this long before premium ends
NAME_MAX = 50
REASON_MAX = 500
STATES = ("holding", "applying")
STATUS_LABELS = {"submitted": _l("Waiting for the secretariat"), "approved": _l("Approved"), "declined": _l("Declined"),
                 "withdrawn": _l("Withdrawn")}
MEMBER_URL = "/account/premium"


class PremiumRefused(Refusal):
    """not_enough | waiting | already_premium | home_here | too_many | not_found | changed_meanwhile |
    reason_needed | not_allowed"""

    def messages(self):
        return {
            "not_enough": _("Premium needs %(needed)d local activities in the last twelve months.",
                            needed=progress.PREMIUM_ACTIVITIES),
            "waiting": _("Your application is waiting for the secretariat's decision."),
            "already_premium": _("You are a premium member. You can apply to renew from 60 days before it ends."),
            "home_here": _("Premium cannot be held in the municipality you live in."),
            "too_many": _("Premium can be held in at most %(count)d municipalities, this one included.",
                          count=MAX_MUNICIPALITIES),
            "not_found": _("This application does not exist."),
            "changed_meanwhile": _("Someone decided on this application in the meantime. Reload the page."),
            "reason_needed": _("Say why the application is declined; the member is told."),
            "not_allowed": _("Only the secretariat decides on premium applications."),
        }


class PremiumInvalid(FormInvalid):
    """What the member typed into the application cannot be sent."""


@dataclass
class PremiumRequest:
    home_municipality: str = ""
    others: list[dict] = field(default_factory=list)  # {"name", "state"}


@dataclass(frozen=True)
class Eligibility:
    refusal: str  # "" when the member may apply
    renewal: bool
    since: datetime  # the evidence counts from here
    evidence: list[dict]
    premium_until: date | None


def same_place(first: str, second: str) -> bool:
    """Municipality names as people type them: full-width, spaces and case do not matter."""
    def norm(text: str) -> str:
        return "".join(unicodedata.normalize("NFKC", text).split()).casefold()
    return bool(norm(first)) and norm(first) == norm(second)


def read_request(form: dict) -> PremiumRequest:
    """The application form: the home municipality, and up to three others where the member holds or applies
    for premium (other_name_N, other_state_N). Raises PremiumInvalid."""
    errors: dict[str, str] = {}
    request = PremiumRequest(home_municipality=form.get("home_municipality", "").strip())
    if not request.home_municipality:
        errors["home_municipality"] = _("Enter the municipality you live in.")
    elif len(request.home_municipality) > NAME_MAX:
        errors["home_municipality"] = _("Use %(max)d characters or fewer.", max=NAME_MAX)
    for n in range(1, MAX_MUNICIPALITIES + 1):
        name, state = form.get(f"other_name_{n}", "").strip(), form.get(f"other_state_{n}", "holding")
        if not name:
            continue
        if len(name) > NAME_MAX:
            errors[f"other_name_{n}"] = _("Use %(max)d characters or fewer.", max=NAME_MAX)
        elif state not in STATES:
            errors[f"other_name_{n}"] = _("Choose from the list.")
        elif any(same_place(name, other["name"]) for other in request.others):
            errors[f"other_name_{n}"] = _("This municipality is listed twice.")
        else:
            request.others.append({"name": name, "state": state})
    if errors:
        raise PremiumInvalid(errors, request)
    return request


async def waiting_application(member_id: int) -> dict | None:
    return await PremiumApplication.select().where(
        (PremiumApplication.member == member_id) & (PremiumApplication.status == "submitted")).first().output(
        load_json=True)


async def eligibility(member_id: int, now: datetime) -> Eligibility:
    """Whether the member may apply now, and with which evidence: for a first application the last twelve
    months; for a renewal the activities since the last approval (within the last twelve months)."""
    member = await Member.select(Member.tier, Member.premium_until).where(Member.id == member_id).first()
    today = to_tokyo(now).date()
    until = member["premium_until"] if member and member["tier"] == "premium" else None
    active = until is not None and until >= today
    since = now - progress.YEAR
    if active:
        approved = await PremiumApplication.select(PremiumApplication.decided_at).where(
            (PremiumApplication.member == member_id) & (PremiumApplication.status == "approved")).order_by(
            PremiumApplication.decided_at, ascending=False).first()
        if approved and approved["decided_at"] and approved["decided_at"] > since:
            since = approved["decided_at"]
    evidence = (await progress.evidence([member_id], since, now))[member_id]
    refusal = ""
    if await waiting_application(member_id):
        refusal = "waiting"
    elif active and until - today > RENEWAL_OPENS:
        refusal = "already_premium"
    elif len(evidence) < progress.PREMIUM_ACTIVITIES:
        refusal = "not_enough"
    return Eligibility(refusal, active, since, evidence, until if active else None)


async def apply(member_id: int, request: PremiumRequest, region_municipality: str, now: datetime | None = None) -> int:
    """Send the application with its evidence. Raises PremiumRefused (`field` set for what the form shows)."""
    now = now or clock.now()
    if same_place(request.home_municipality, region_municipality):
        raise PremiumRefused("home_here", field="home_municipality")
    if 1 + len(request.others) > MAX_MUNICIPALITIES:
        raise PremiumRefused("too_many", field="others")
    checked = await eligibility(member_id, now)
    if checked.refusal:
        raise PremiumRefused(checked.refusal)
    evidence = [{**item, "day": item["day"].isoformat()} for item in checked.evidence]
    try:
        async with atomic(PremiumApplication._meta.db):
            rows = await PremiumApplication.insert(PremiumApplication(
                member=member_id, renewal=checked.renewal, home_municipality=request.home_municipality,
                other_municipalities=request.others, evidence=evidence, created_at=now, updated_at=now,
            )).returning(PremiumApplication.id)
            await AuditLog.insert(AuditLog(actor=await _account_of(member_id), action="premium.apply",
                                           target_type="premium_application", target_id=str(rows[0]["id"]),
                                           detail={"renewal": checked.renewal, "activities": len(evidence)},
                                           created_at=now))
    except Exception as exc:
        if is_unique_violation(exc):  # sent twice at once: the first one waits
            raise PremiumRefused("waiting") from None
        raise
    return rows[0]["id"]


async def _account_of(member_id: int) -> int:
    return (await Member.select(Member.account).where(Member.id == member_id).first())["account"]


def term_for(decided: date, premium_until: date | None) -> tuple[date, date]:
    """A year of premium: from the decision, or for a renewal decided before the end from the day after it."""
    start = premium_until + timedelta(days=1) if premium_until is not None and premium_until >= decided else decided
    try:
        end = start.replace(year=start.year + 1) - timedelta(days=1)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + 1, day=28)
    return start, end


async def decide(application_id: int, actor: Actor, decision: str, reason: str = "", told: Told = INBOX_AND_PUSH_ONLY,
                 now: datetime | None = None) -> dict:
    """Approve or decline a waiting application; audited; the member is told. Two decisions at once give one
    (the UPDATE is conditional on "submitted"). Returns the application as decided."""
    now = now or clock.now()
    if actor.role != "staff":
        raise PremiumRefused("not_allowed")
    if decision not in ("approve", "decline"):
        raise PremiumRefused("not_allowed")
    reason = reason.strip()[:REASON_MAX]
    if decision == "decline" and not reason:
        raise PremiumRefused("reason_needed", field="reason")
    application = await PremiumApplication.select(
        *PremiumApplication.all_columns(), PremiumApplication.member.account.as_alias("account"),
        PremiumApplication.member.premium_until.as_alias("premium_until"),
        PremiumApplication.member.tier.as_alias("tier"),
        PremiumApplication.member.account.email.as_alias("email"),
    ).where(PremiumApplication.id == application_id).first() if is_row_id(application_id) else None
    if application is None:
        raise PremiumRefused("not_found")
    changes = {PremiumApplication.status: "approved" if decision == "approve" else "declined",
               PremiumApplication.decided_by: actor.account_id, PremiumApplication.decided_at: now,
               PremiumApplication.updated_at: now, PremiumApplication.reason: reason}
    if decision == "approve":
        current = application["premium_until"] if application["tier"] == "premium" else None
        valid_from, valid_until = term_for(to_tokyo(now).date(), current)
        changes.update({PremiumApplication.valid_from: valid_from, PremiumApplication.valid_until: valid_until,
                        PremiumApplication.certificate_no: f"P{valid_from:%Y}-{application_id:06d}"})
    async with atomic(PremiumApplication._meta.db):
        moved = await PremiumApplication.update(changes).where(
            (PremiumApplication.id == application_id) & (PremiumApplication.status == "submitted")).returning(
            PremiumApplication.id)
        if not moved:
            raise PremiumRefused("changed_meanwhile")
        if decision == "approve":
            await Member.update({Member.tier: "premium", Member.premium_until: valid_until}).where(
                Member.id == application["member"])
        await AuditLog.insert(AuditLog(actor=actor.account_id, action=f"premium.{decision}",
                                       target_type="premium_application", target_id=str(application_id),
                                       detail={"reason": reason} if reason else {}, created_at=now))
    async with in_locale_of(application["account"]):
        if decision == "approve":
            title = _("Premium granted until %(until)s", until=f"{valid_until:%Y/%m/%d}")
            body = _("Your certificate is in your account.")
        else:
            title, body = _("Your premium application was declined"), reason
    await personal.tell(application["account"], title, body, MEMBER_URL, smtp=told.smtp, email=application["email"] or "",
                        base_url=told.base_url, purpose="premium_decision", now=now)
    return await PremiumApplication.select().where(PremiumApplication.id == application_id).first().output(load_json=True)


async def withdraw(member_id: int, now: datetime | None = None) -> bool:
    """The member takes back their waiting application."""
    now = now or clock.now()
    rows = await PremiumApplication.update({PremiumApplication.status: "withdrawn", PremiumApplication.updated_at: now}).where(
        (PremiumApplication.member == member_id) & (PremiumApplication.status == "submitted")).returning(
        PremiumApplication.id)
    return bool(rows)


async def waiting(limit: int = 200) -> list[dict]:
    """Applications waiting for the secretariat, oldest first, with the member and the evidence."""
    return await PremiumApplication.select(
        *PremiumApplication.all_columns(), PremiumApplication.member.member_no.as_alias("member_no"),
        PremiumApplication.member.account.display_name.as_alias("display_name"),
    ).where(PremiumApplication.status == "submitted").order_by(PremiumApplication.created_at).limit(limit).output(
        load_json=True)


def waiting_count() -> CountQuery:
    """Applications waiting for a decision (a query: awaited, the number; attention.counts sends it with the
    console's other counts as one statement)."""
    return PremiumApplication.count().where(PremiumApplication.status == "submitted")


async def of_member(member_id: int) -> list[dict]:
    """The member's applications, the latest first."""
    return await PremiumApplication.select().where(PremiumApplication.member == member_id).order_by(
        PremiumApplication.id, ascending=False).output(load_json=True)


async def certificate(member_id: int, now: datetime) -> dict | None:
    """The member's 登録証 while premium holds: the approved application whose year covers today in Japan,
    with what the certificate shows of the member."""
    today = to_tokyo(now).date()
    member = await Member.select(
        Member.id, Member.member_no, Member.family_name, Member.given_name, Member.family_name_kana,
        Member.given_name_kana, Member.tier, Member.premium_until, Member.account.display_name.as_alias("display_name"),
    ).where(Member.id == member_id).first()
    if member is None or member["tier"] != "premium" or not member["premium_until"] or member["premium_until"] < today:
        return None
    granted = await PremiumApplication.select().where(
        (PremiumApplication.member == member_id) & (PremiumApplication.status == "approved")
        & (PremiumApplication.valid_from <= today) & (PremiumApplication.valid_until >= today)).order_by(
        PremiumApplication.valid_from, ascending=False).first().output(load_json=True)
    if granted is None:  # premium set by hand by the secretariat before applications existed: no certificate number
        return None
    return {**granted, "member": member}


EVIDENCE_COLUMNS = (  # the evidence CSV for the national registration app; documented in docs/evidence-csv.md
    _l("Member number"), _l("Source"), _l("Activity"), _l("Kind"), _l("Day"), _l("Place"), _l("How it was recorded"),
    _l("Municipality"),
)


async def evidence_csv(member_id: int, municipality: str, now: datetime) -> str:
    """The member's activities of the last twelve months, one row each, as the national app asks for evidence:
    in Japanese whatever language the person reads the site in."""
    with exports.csv_language():
        return exports.csv_text([str(c) for c in EVIDENCE_COLUMNS], await _evidence_rows(member_id, municipality, now))


async def _evidence_rows(member_id: int, municipality: str, now: datetime) -> list[list[str]]:
    member = await Member.select(Member.member_no).where(Member.id == member_id).first()
    items = (await progress.evidence([member_id], now - progress.YEAR, now))[member_id]
    source = {"program": _("Program"), "activity": _("Designated activity")}
    return [[member["member_no"], source[item["source"]], item["title"],
             str(KINDS.get(item["kind"], _("Program"))), item["day"].isoformat(), item["place"] or "",
             str(progress.HOW_LABELS.get(item["how"], item["how"])), municipality] for item in items]
