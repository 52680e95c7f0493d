"""Members' wallet passes, as the secretariat sees them: finding a member, their passes with how often each
was used, and suspending, revoking or reactivating one (audited)."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared.refusals import FormInvalid
from app.services.wallet.admin_forms import check_length
from db.engine import atomic
from db.tables import AuditLog, Member, Redemption, WalletPass

WALLET_PASS_STATUS_LABELS = {
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "revoked": _l("Revoked"),
}
# action -> (new status, statuses it may start from). Revoking is final: the member cannot activate the
# same pass again (one wallet pass per member and pass), so a revoked pass is never brought back.
STATUS_ACTIONS = {
    "suspend": ("suspended", ("active",)),
    "revoke": ("revoked", ("active", "suspended")),
    "reactivate": ("active", ("suspended",)),
}
REASON_MAX = 200


def status_label(status: str) -> str:
    return str(WALLET_PASS_STATUS_LABELS.get(status, status))


async def find_member(text: str) -> dict | None:
    """A member by id or by member number (as printed on the card)."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return None
    where = Member.id == int(text) if text.isdigit() and len(text) < 10 else Member.member_no == text.upper()
    return await Member.select(
        Member.id, Member.member_no, Member.home_prefecture, Member.account.display_name.as_alias("display_name"),
    ).where(where).first()


async def member_wallet_passes(member_id: int) -> list[dict]:
    rows = await WalletPass.select(
        *WalletPass.all_columns(), WalletPass.entry_pass.name.as_alias("pass_name"),
    ).where(WalletPass.member == member_id).order_by(WalletPass.activated_at, ascending=False)
    if rows:
        used = await Redemption.select(Redemption.wallet_pass).where(
            Redemption.wallet_pass.is_in([r["id"] for r in rows]) & Redemption.undone_at.is_null()
        )
        for row in rows:
            row["redemption_count"] = sum(1 for u in used if u["wallet_pass"] == row["id"])
            row["actions"] = [action for action, (_to, starts) in STATUS_ACTIONS.items() if row["status"] in starts]
    return rows


async def get_wallet_pass(wallet_pass_id: int) -> dict | None:
    return await WalletPass.select(WalletPass.id, WalletPass.member, WalletPass.status).where(
        WalletPass.id == wallet_pass_id
    ).first()


async def set_wallet_pass_status(actor_id: int, wallet_pass_id: int, action: str, reason: str, now: datetime) -> str:
    """Suspend, revoke or reactivate a member's pass; audited. The next scan reads the new status.

    Raises FormInvalid (fields "action" and "reason") when the action is unknown, not possible from the
    pass's current status, or the reason is missing; returns the new status.
    """
    reason = unicodedata.normalize("NFKC", reason or "").strip()
    errors: dict[str, str] = {}
    values = {"action": action, "reason": reason}
    current = await get_wallet_pass(wallet_pass_id)
    if current is None:
        raise LookupError(wallet_pass_id)
    if action not in STATUS_ACTIONS:
        errors["action"] = _("Choose what to do with this pass.")
    elif current["status"] not in STATUS_ACTIONS[action][1]:
        errors["action"] = _("This cannot be done while the pass is %(status)s.", status=status_label(current["status"]))
    if not reason and action in ("suspend", "revoke"):
        errors["reason"] = _("Write the reason. It is kept in the audit log.")
    check_length(errors, "reason", reason, REASON_MAX)
    if errors:
        raise FormInvalid(errors, values)
    new_status = STATUS_ACTIONS[action][0]
    async with atomic(WalletPass._meta.db):
        # Conditional on the status just read: two staff acting at once cannot both change it.
        rows = await WalletPass.update({WalletPass.status: new_status, WalletPass.status_reason: reason}).where(
            (WalletPass.id == wallet_pass_id) & (WalletPass.status == current["status"])
        ).returning(WalletPass.id)
        if not rows:
            raise FormInvalid({"action": _("The pass was changed in the meantime. Check its status and try again.")}, values)
        await AuditLog.insert(
            AuditLog(
                actor=actor_id,
                action="wallet_pass.status",
                target_type="wallet_pass",
                target_id=str(wallet_pass_id),
                detail={"member": current["member"], "from": current["status"], "to": new_status, "reason": reason},
                created_at=now,
            )
        )
    return new_status
