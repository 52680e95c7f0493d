"""The member's "download my data" (APPI): everything we hold about one member, their activity included."""

from __future__ import annotations

from app.services.membership import login_sessions
from app.services.membership.membership import followed_areas
from app.services.shared import clock
from db.tables import (
    Account,
    Application,
    CheckIn,
    Inquiry,
    InquiryMessage,
    LineLink,
    Member,
    Passkey,
    PremiumApplication,
    PushSubscription,
    Redemption,
    SurveyResponse,
    TravelClaim,
    WalletPass,
)


async def export_data(account_id: int) -> dict:
    """Everything we hold about one member, for the "download my data" button (APPI)."""
    account = await Account.select(
        Account.role, Account.display_name, Account.email, Account.email_verified_at, Account.created_at,
        Account.last_login_at,
    ).where(Account.id == account_id).first()
    member = await Member.select(*Member.all_columns(exclude=[Member.id, Member.account])).where(
        Member.account == account_id
    ).first().output(load_json=True)
    member_id = (await Member.select(Member.id).where(Member.account == account_id).first() or {}).get("id")
    areas = await followed_areas(member_id) if member_id else []
    passkeys = await Passkey.select(
        Passkey.name, Passkey.device_type, Passkey.backed_up, Passkey.created_at, Passkey.last_used_at
    ).where(Passkey.account == account_id)
    sessions = await login_sessions.list_for(account_id)
    return {
        "exported_at": clock.now().isoformat(),
        "account": account,
        "member": member,
        "followed_areas": [a["name"] for a in areas],
        "passkeys": passkeys,
        "sessions": [{k: v for k, v in s.items() if k != "id"} for s in sessions],
        **(await _activity(account_id, member_id)),
    }


async def _activity(account_id: int, member_id: int | None) -> dict:
    """What the member did with the other capabilities: applications, check-ins at local activities, premium
    applications, travel-subsidy claims with their receipts, passes and their uses, surveys answered, push devices, the
    LINE link, and inquiries with the desk's replies (not the desk's internal notes)."""
    applications = await Application.select(
        Application.program.title.as_alias("program"), Application.status, Application.motivation,
        Application.answers, Application.created_at, Application.attended_at,
    ).where(Application.member == member_id).output(load_json=True) if member_id else []
    passes = await WalletPass.select(
        WalletPass.id, WalletPass.entry_pass.name.as_alias("pass"), WalletPass.status, WalletPass.activated_at,
        WalletPass.expires_at, WalletPass.stay_from, WalletPass.stay_to,
    ).where(WalletPass.member == member_id) if member_id else []
    uses = await Redemption.select(
        Redemption.offer.title.as_alias("offer"), Redemption.shop.name.as_alias("shop"), Redemption.redeemed_at,
        Redemption.undone_at,
    ).where(Redemption.wallet_pass.is_in([p["id"] for p in passes])) if passes else []
    surveys = await SurveyResponse.select(
        SurveyResponse.survey.title.as_alias("survey"), SurveyResponse.submitted_at,
    ).where(SurveyResponse.account == account_id)
    devices = await PushSubscription.select(PushSubscription.device_label, PushSubscription.created_at).where(
        PushSubscription.account == account_id)
    line = await LineLink.select(LineLink.line_user_id, LineLink.status, LineLink.linked_at).where(
        LineLink.account == account_id)
    asked = await Inquiry.select(
        Inquiry.id, Inquiry.reference, Inquiry.category, Inquiry.status, Inquiry.name, Inquiry.email, Inquiry.phone,
        Inquiry.created_at,
    ).where(Inquiry.account == account_id)
    messages = await InquiryMessage.select(
        InquiryMessage.inquiry, InquiryMessage.kind, InquiryMessage.body, InquiryMessage.created_at,
    ).where(InquiryMessage.inquiry.is_in([i["id"] for i in asked]) & (InquiryMessage.kind != "note")).order_by(
        InquiryMessage.id) if asked else []
    check_ins = await CheckIn.select(
        CheckIn.activity.title.as_alias("activity"), CheckIn.activity.kind.as_alias("kind"), CheckIn.day,
        CheckIn.method, CheckIn.scanned_at,
    ).where(CheckIn.member == member_id).order_by(CheckIn.day) if member_id else []
    premium = await PremiumApplication.select(
        PremiumApplication.status, PremiumApplication.renewal, PremiumApplication.home_municipality,
        PremiumApplication.other_municipalities, PremiumApplication.evidence, PremiumApplication.reason,
        PremiumApplication.certificate_no, PremiumApplication.valid_from, PremiumApplication.valid_until,
        PremiumApplication.created_at, PremiumApplication.decided_at,
    ).where(PremiumApplication.member == member_id).output(load_json=True) if member_id else []
    claims = await TravelClaim.select(
        TravelClaim.program.title.as_alias("program"), TravelClaim.status, TravelClaim.departure, TravelClaim.route,
        TravelClaim.transports, TravelClaim.outbound_on, TravelClaim.return_on, TravelClaim.fare, TravelClaim.max_amount,
        TravelClaim.amount, TravelClaim.approved_amount, TravelClaim.note, TravelClaim.receipts, TravelClaim.submitted_at,
        TravelClaim.decided_at, TravelClaim.paid_on,
    ).where(TravelClaim.member == member_id).order_by(TravelClaim.id).output(load_json=True) if member_id else []
    return {
        "applications": applications,
        "activity_check_ins": check_ins,
        "premium_applications": premium,
        "travel_subsidy_claims": claims,
        "wallet_passes": [{k: v for k, v in p.items() if k != "id"} for p in passes],
        "pass_uses": uses,
        "surveys_answered": surveys,
        "push_devices": devices,
        "line_link": line[0] if line else None,
        "inquiries": [
            {**{k: v for k, v in i.items() if k != "id"},
             "messages": [{k: v for k, v in m.items() if k != "inquiry"} for m in messages if m["inquiry"] == i["id"]]}
            for i in asked
        ],
    }
