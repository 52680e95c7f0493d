"""What waits for the secretariat, counted for the console's navigation beside every staff page.

Each count has a key that a menu item names (app/routes/console/nav.py); a new queue adds one line here and
one item there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.services.desk import inbox
from app.services.premium import applications as premium_applications
from app.services.review import moderation
from app.services.secretariat import incidents
from app.services.subsidy import review as travel_claims
from app.services.wallet import conflicts


async def _new_inquiries() -> int:
    return (await inbox.status_counts())["new"]


COUNTERS: dict[str, Callable[[], Awaitable[int]]] = {
    "review": moderation.pending_count,  # programs, articles and changes to public ones
    "premium": premium_applications.waiting_count,
    "inquiries": _new_inquiries,  # nobody has opened them yet
    "conflicts": conflicts.open_count,  # counter uses allowed offline that could not be counted
    "incidents": incidents.open_count,  # trouble not yet closed
    "claims": travel_claims.waiting_count,  # travel-subsidy claims waiting for a check
}


async def counts() -> dict[str, int]:
    """How many wait in each queue, by the keys of `COUNTERS`."""
    return {key: await count() for key, count in COUNTERS.items()}
