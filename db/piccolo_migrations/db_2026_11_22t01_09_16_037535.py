"""Wallet uniqueness, in raw SQL both SQLite and PostgreSQL accept (see the first raw migration for why)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

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


class Raw(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        for name, target in INDEXES.items():
            await Raw.raw(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {target}")

    async def run_backwards():
        for name in INDEXES:
            await Raw.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
