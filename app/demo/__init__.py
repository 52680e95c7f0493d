"""Demo data for `make run`: a believable region in natural Japanese. Idempotent: keyed by slug/key.

One module per part of the product (portal, wallet, articles, programs, desk, kpi, surveys, activities, campaigns,
notify, secretariat, subsidy); `load_demo_data` loads them in an order where each finds what it builds on (areas
first, the survey after the year it asks about). With `var_dir`, what needs a file (a travel claim's receipt) gets one.
"""

from __future__ import annotations

from pathlib import Path

from app.demo.activities import load_activity_demo
from app.demo.articles import load_article_demo
from app.demo.campaigns import load_campaign_demo
from app.demo.desk import load_desk_demo, load_inquiry_demo, load_mail_demo
from app.demo.kpi import load_kpi_demo
from app.demo.notify import load_digest_demo
from app.demo.portal import load_featured_demo, load_portal_demo
from app.demo.programs import load_program_demo, load_revision_demo
from app.demo.secretariat import load_secretariat_demo
from app.demo.subsidy import load_subsidy_demo
from app.demo.surveys import load_survey_demo
from app.demo.wallet import load_wallet_demo


async def load_demo_data(var_dir: Path | None = None) -> dict[str, int]:
    """Insert what is missing; rows already there are left as they are (staff may have edited them)."""
    created = await load_portal_demo()
    created.update(await load_wallet_demo())
    created.update(await load_article_demo())
    created.update(await load_program_demo())
    created.update(await load_revision_demo())
    created.update(await load_desk_demo())
    created.update(await load_inquiry_demo())
    created.update(await load_mail_demo())
    created.update(await load_featured_demo())
    created.update(await load_kpi_demo())
    created.update(await load_survey_demo())
    created.update(await load_activity_demo())
    created.update(await load_campaign_demo())  # after the demo year: it attributes some of its members
    created.update(await load_digest_demo())  # after the demo members (kpi)
    created.update(await load_secretariat_demo())  # it links to the programs, articles and inquiries
    created.update(await load_subsidy_demo(var_dir))  # the year's programs and attendees, decided by the secretariat
    return created
