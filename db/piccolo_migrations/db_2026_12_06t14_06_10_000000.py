"""One count per campaign and month, one per month and kind of page: the batches add to the same row."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T14:06:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique campaign visits and page views per month"


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, {
        "campaign_visit_month": "campaign_visit (campaign, month)",
        "page_view_month_kind": "page_view (month, kind)",
    })
