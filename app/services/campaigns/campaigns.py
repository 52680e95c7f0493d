"""Campaign links (キャンペーン) and where people came from (流入元), seed 004 §4(4) and seed 000 別表1.

Staff make a campaign per news release, influencer article, poster, flyer or SNS post, with the source it is
seen at. Its short address /c/<slug> leads to a page of this site and notes the campaign in the visitor's
session (app/sessions.py) unless one is noted already: the first campaign counts. The session outlives
registration and login (a new session id keeps its data), so a registration, a pass activation and a program
application record the first campaign: the member's own if they registered by one, else the session's.
No cookie beyond the session the site already sets, no third party.

Attribution is a nullable column on the rows themselves (member, wallet pass, application) rather than a table
beside them: each row has at most one first campaign, the figures are one join, and a row erased or deleted takes
its attribution with it.

Visitors sent by a matching site the region already uses (SMOUT) are given that site's campaign, made the first
time someone arrives from it, without a link to print. The texts staff post from the official accounts
(app/services/shared/social_posts.py) carry a campaign of each account, made the first time one is shown, whose
link leads to the page posted about (/c/<slug>?to=<path>).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from app.i18n import gettext as _
from app.i18n import in_locale
from app.i18n import lazy_gettext as _l
from app.services.shared.refusals import FormInvalid
from app.services.shared.text import clean_text, is_site_path
from db.engine import atomic, is_row_id, is_unique_violation
from db.tables import AuditLog, Campaign, Member

KINDS = {
    "news_release": _l("News release"),
    "influencer": _l("Influencer"),
    "poster": _l("Poster"),
    "flyer": _l("Flyer"),
    "sns": _l("SNS post"),
    "other": _l("Other"),
    "matching_site": _l("Matching site"),
}
STAFF_KINDS = ("news_release", "influencer", "poster", "flyer", "sns", "other")  # a matching site's comes by itself
# Matching sites the region already uses (seed 000 別表1): host → the source name their visitors are counted as.
MATCHING_SITES = {"smout.jp": "SMOUT"}
# The region's official accounts the posting texts are written for: channel → the source their readers count as.
OFFICIAL_ACCOUNTS = {"x": "X", "facebook": "Facebook", "instagram": "Instagram", "line": "LINE"}
NAME_MAX, SOURCE_MAX, TARGET_MAX, POSTER_TEXT_MAX = 100, 100, 500, 300
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
SLUG_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: people type it from a poster
FIELDS = ("name", "source", "kind", "slug", "target", "poster_text")


def kind_label(kind: str) -> str:
    return str(KINDS.get(kind, KINDS["other"]))


@dataclass(frozen=True)
class CampaignValues:
    name: str
    source: str
    kind: str
    slug: str
    target: str
    poster_text: str


def new_slug() -> str:
    return "".join(secrets.choice(SLUG_ALPHABET) for _ in range(6))


def validate(form: dict) -> CampaignValues:
    """The campaign form as typed; FormInvalid with every message at once and the values kept."""
    values = {name: str(form.get(name, "") or "") for name in FIELDS}
    errors: dict[str, str] = {}
    name, source, poster_text = (clean_text(values[k]) for k in ("name", "source", "poster_text"))
    for field, text, limit in (("name", name, NAME_MAX), ("source", source, SOURCE_MAX)):
        if not text:
            errors[field] = _("Required.")
        elif len(text) > limit:
            errors[field] = _("Write at most %(count)d characters.", count=limit)
    if len(poster_text) > POSTER_TEXT_MAX:
        errors["poster_text"] = _("Write at most %(count)d characters.", count=POSTER_TEXT_MAX)
    kind = values["kind"].strip()
    if kind not in STAFF_KINDS:
        errors["kind"] = _("Choose a kind from the list.")
    slug = unicodedata.normalize("NFKC", values["slug"]).strip().lower()
    if slug and not SLUG.match(slug):
        errors["slug"] = _("Use 2 to 32 lower-case letters, digits and hyphens, such as station-2026; or leave it "
                           "empty for one made for you.")
    target = unicodedata.normalize("NFKC", values["target"]).strip() or "/"
    if len(target) > TARGET_MAX or not is_site_path(target):
        errors["target"] = _("Enter a page of this site starting with /, such as /programs/12.")
    if errors:
        raise FormInvalid(errors, values)
    return CampaignValues(name, source, kind, slug, target, poster_text)


async def _audit(actor_id: int, action: str, campaign_id: int, values: CampaignValues, now: datetime) -> None:
    await AuditLog.insert(AuditLog(actor=actor_id, action=action, target_type="campaign", target_id=str(campaign_id),
                                   detail={"name": values.name, "source": values.source, "slug": values.slug,
                                           "target": values.target}, created_at=now))


def _taken(values: CampaignValues) -> FormInvalid:
    shown = {"name": values.name, "source": values.source, "kind": values.kind, "slug": values.slug,
             "target": values.target, "poster_text": values.poster_text}
    return FormInvalid({"slug": _("This short name is taken by another campaign. Choose another.")}, shown)


async def create(values: CampaignValues, actor_id: int, now: datetime) -> int:
    """A new campaign, audited; a slug made for it when none was typed. FormInvalid when the slug is taken."""
    for _attempt in range(5):  # a made slug colliding with another is rare; five tries make it vanishing
        chosen = values if values.slug else CampaignValues(**{**values.__dict__, "slug": new_slug()})
        try:
            async with atomic(Campaign._meta.db):
                rows = await Campaign.insert(Campaign(
                    slug=chosen.slug, name=chosen.name, source=chosen.source, kind=chosen.kind, target=chosen.target,
                    poster_text=chosen.poster_text, created_by=actor_id, created_at=now, updated_at=now,
                )).returning(Campaign.id)
                await _audit(actor_id, "campaign.create", rows[0]["id"], chosen, now)
            return rows[0]["id"]
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            if values.slug:
                raise _taken(values) from None
    raise _taken(values)


async def update(campaign_id: int, values: CampaignValues, active: bool, actor_id: int, now: datetime) -> bool:
    """Change a campaign (its slug too: printed posters then lead nowhere, which the form says); False when
    there is no such campaign. FormInvalid when the slug is taken."""
    if not is_row_id(campaign_id):
        return False
    current = await Campaign.select(Campaign.slug, Campaign.kind).where(Campaign.id == campaign_id).first()
    if current is None:
        return False
    kind = current["kind"] if current["kind"] == "matching_site" else values.kind
    slug = values.slug or current["slug"]
    try:
        async with atomic(Campaign._meta.db):
            await Campaign.update({
                Campaign.slug: slug, Campaign.name: values.name, Campaign.source: values.source, Campaign.kind: kind,
                Campaign.target: values.target, Campaign.poster_text: values.poster_text, Campaign.active: active,
                Campaign.updated_at: now,
            }).where(Campaign.id == campaign_id)
            await _audit(actor_id, "campaign.update", campaign_id, CampaignValues(**{**values.__dict__, "slug": slug}), now)
    except Exception as exc:
        if is_unique_violation(exc):
            raise _taken(values) from None
        raise
    return True


async def get(campaign_id: int) -> dict | None:
    if not is_row_id(campaign_id):
        return None
    return await Campaign.select().where(Campaign.id == campaign_id).first()


async def by_slug(slug: str) -> dict | None:
    """An active campaign by its short address, as typed from a poster (upper case and full width too)."""
    slug = unicodedata.normalize("NFKC", slug or "").strip().lower()
    if not SLUG.match(slug):
        return None
    return await Campaign.select(Campaign.id, Campaign.target).where(
        (Campaign.slug == slug) & Campaign.active.eq(True)).first()


async def all_campaigns() -> list[dict]:
    """Every campaign, the newest first."""
    return await Campaign.select().order_by(Campaign.created_at, ascending=False).order_by(Campaign.id, ascending=False)


def matching_site_of(referer: str) -> str | None:
    """The matching site (its host as in MATCHING_SITES) a Referer names, or None."""
    try:
        host = (urlsplit(referer).hostname or "") if referer else ""
    except ValueError:  # a Referer is whatever the client sends, e.g. "http://["
        return None
    for site in MATCHING_SITES:
        if host == site or host.endswith("." + site):
            return site
    return None


async def _automatic_campaign(slug: str, name: str, source: str, kind: str, target: str, now: datetime) -> int:
    """A campaign nobody prints a link for, made the first time it is needed (two at once make one)."""
    found = await Campaign.select(Campaign.id).where(Campaign.slug == slug).first()
    if found:
        return found["id"]
    rows = await Campaign.insert(Campaign(
        slug=slug, name=name, source=source, kind=kind, target=target, created_at=now, updated_at=now,
    )).on_conflict(action="DO NOTHING").returning(Campaign.id)
    if rows:
        return rows[0]["id"]
    return (await Campaign.select(Campaign.id).where(Campaign.slug == slug).first())["id"]  # made meanwhile


async def matching_site_campaign(site: str, now: datetime) -> int:
    """The campaign a matching site's visitors are counted under, made the first time one arrives."""
    return await _automatic_campaign(site.replace(".", "-"), MATCHING_SITES[site], MATCHING_SITES[site],
                                     "matching_site", "/programs", now)


async def official_account_links(path: str, base_url: str, now: datetime) -> dict[str, str]:
    """Channel → the link a post from that official account carries to the page at `path`: its account's
    campaign, which leads there."""
    links = {}
    for channel, source in OFFICIAL_ACCOUNTS.items():
        slug = f"sns-{channel}"
        with in_locale("ja"):  # a name kept as data, in the language the region's records are in
            name = _("Posts from the official %(account)s account", account=source)
        await _automatic_campaign(slug, name, source, "sns", "/", now)
        links[channel] = f"{base_url}/c/{slug}?{urlencode({'to': path})}"
    return links


def destination(campaign: dict, to: str | None) -> str:
    """Where a campaign's link leads: the page a post named (`to`, a path on this site), else its own target."""
    return to if to and is_site_path(to) else campaign["target"]


async def campaign_to_record(member_id: int | None, noted: int | None) -> int | None:
    """The first campaign a registration, activation or application records: the member's own (the one they
    registered by), else the one noted in the session if it still exists, else none."""
    if member_id is not None:
        member = await Member.select(Member.campaign).where(Member.id == member_id).first()
        if member and member["campaign"]:
            return member["campaign"]
    if noted is None or not is_row_id(noted):
        return None
    return noted if await Campaign.exists().where(Campaign.id == noted) else None
