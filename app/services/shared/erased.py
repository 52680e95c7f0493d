"""Who deleted their account, kept only as one-way hashes of their addresses and source ids (ErasedIdentity):
enough for an import of the municipality's list to leave them out, nothing to read back who they were."""

from __future__ import annotations

import hashlib
from datetime import datetime

from db.tables import ErasedIdentity


def key_hash(kind: str, value: str) -> str:
    """kind "email" (case does not matter) or "id" (a source system's id, as given)."""
    value = value.strip().lower() if kind == "email" else value.strip()
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


async def remember(emails: set[str], external_id: str | None, now: datetime) -> None:
    keys = {key_hash("email", e) for e in emails if e.strip()}
    if external_id:
        keys.add(key_hash("id", external_id))
    if keys:
        await ErasedIdentity.insert(*[ErasedIdentity(key_hash=k, erased_at=now) for k in sorted(keys)]).on_conflict(
            action="DO NOTHING")


async def erased_keys() -> set[str]:
    return {row["key_hash"] for row in await ErasedIdentity.select(ErasedIdentity.key_hash)}
