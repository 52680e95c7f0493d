"""What waits for the secretariat, counted for the console's navigation beside every staff page."""

from __future__ import annotations

from app.services.desk import inbox
from app.services.review import moderation
from app.services.wallet import conflicts


async def counts() -> dict[str, int]:
    """{"review": items waiting in the review queue, "inquiries": inquiries nobody has opened yet, "conflicts":
    counter uses allowed offline that could not be counted and wait for review}."""
    return {"review": await moderation.pending_count(), "inquiries": (await inbox.status_counts())["new"],
            "conflicts": await conflicts.open_count()}
