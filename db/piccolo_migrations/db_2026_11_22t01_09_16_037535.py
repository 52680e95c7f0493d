"""Wallet uniqueness: pass offers, one wallet pass per member and pass, and the exactly-once redemption rule."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-11-22T01:09:16:037535"
VERSION = "1.38.0"
DESCRIPTION = "unique indexes for pass offers, wallet passes and redemptions"

INDEXES = {
    "pass_offer_pass_offer": "pass_offer (entry_pass, offer)",
    "wallet_pass_member_pass": "wallet_pass (member, entry_pass)",
    # The exactly-once rule: one row per (wallet pass, offer, limit key, slot).
    "redemption_limit": "redemption (wallet_pass, offer, limit_key, slot)",
    # A retried scan (same nonce from the same account) finds the first answer instead of counting twice.
    "redemption_nonce": "redemption (scanned_by, client_nonce)",
}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
