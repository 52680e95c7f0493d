"""Demo of the weekly mail: one demo member in four asked for it when registering and confirmed their address.
Nothing is recorded as sent: the first background round of `make run` makes the week's digests (of the demo's
programs and articles) and, without a mail server, writes them under var/mail, where their unsubscribe links
can be tried."""

from __future__ import annotations

from app.demo.kpi import KPI_DEMO_MARK
from db.engine import atomic
from db.tables import Account, Member

EVERY = 4


async def load_digest_demo() -> dict[str, int]:
    demo = Member.account.webauthn_user_id.like(KPI_DEMO_MARK + "%")
    if await Member.exists().where(demo & Member.digest_since.is_not_null()):
        return {"digest_members": 0}
    members = await Member.select(Member.id, Member.account, Member.created_at).where(demo).order_by(Member.id)
    chosen = members[::EVERY]
    async with atomic(Member._meta.db):
        for n, member in enumerate(chosen, start=1):
            await Account.update({Account.email: f"furusato{n:02d}@example.jp",
                                  Account.email_verified_at: member["created_at"]}).where(Account.id == member["account"])
            await Member.update({Member.digest_since: member["created_at"]}).where(Member.id == member["id"])
    return {"digest_members": len(chosen)}
