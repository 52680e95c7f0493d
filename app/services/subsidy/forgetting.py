"""Forgetting a member's travel-subsidy claims when they delete their account (membership/erasure.py): the trip they
described, what the secretariat wrote to them and their receipts go; that a claim was made for a program, its amounts,
status and dates stay, for the year's totals and the accounts. A claim nobody has decided on yet is withdrawn, as
nobody is left to pay or to ask for a correction; an approved one stays approved, for the secretariat to settle."""

from __future__ import annotations

from app.services.shared import uploads
from db.tables import TravelClaim, Upload


async def forget_claims(member_id: int) -> list[str]:
    """Inside the caller's transaction. Returns the receipts' addresses: their rows are gone, their files are the
    caller's to remove once the transaction is committed (uploads.delete_files)."""
    rows = await TravelClaim.select(TravelClaim.receipts).where(TravelClaim.member == member_id).output(load_json=True)
    receipts = [url for row in rows for url in row["receipts"] or []]
    names = [name for name in (uploads.name_of(url) for url in receipts) if name]
    if names:
        await Upload.delete().where(Upload.name.is_in(names))
    await TravelClaim.update({TravelClaim.status: "withdrawn"}).where(
        (TravelClaim.member == member_id) & TravelClaim.status.is_in(["submitted", "returned"]))
    await TravelClaim.update({TravelClaim.departure: "", TravelClaim.route: "", TravelClaim.note: "",
                              TravelClaim.receipts: []}).where(TravelClaim.member == member_id)
    return receipts
