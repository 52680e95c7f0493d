"""The weekly digest by mail (週1回の新着メール), for members who read neither push nor LINE: once a week, the
programs and articles published in the areas they follow since their last digest (at most a week back), in their
language, through the outbox. A week with nothing new sends nothing.

Members ask for it at registration (off unless ticked) or on their notifications page; it goes only to a
confirmed address. It is made at `SEND_WEEKDAY` `SEND_TIME` in Japan (Friday evening, when people plan their
weekend) by the first background round after it (app/jobs.py); a round days later, after the server was down,
still makes that week's. Each member's week is claimed by inserting its Digest row (unique member × week) in the
transaction that queues the mail, so rounds that overlap, or a process that restarts midway, make it once.

Every digest carries a one-click unsubscribe (RFC 8058): a signed token naming the member (signed_tokens.py,
kind "unsubscribe"), in the List-Unsubscribe header and in the mail's footer; routes/notify/digest.py answers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from app.i18n import TOKYO, current_locale, datetime_range, format_datetime, in_locale, ngettext, to_tokyo
from app.i18n import gettext as _
from app.services.articles.articles import article_path
from app.services.membership.membership import chosen_locale
from app.services.notify import notices, outbox
from app.services.programs.programs import program_path
from app.services.shared import clock
from app.services.shared.refusals import Refusal
from app.services.shared.signed_tokens import TokenSigner
from app.settings import Smtp
from db.engine import atomic
from db.tables import Account, AreaFollow, Article, Digest, Member, Notice, Program

SEND_WEEKDAY = 4  # Friday (Monday is 0)
SEND_TIME = time(18, 0)
WINDOW = timedelta(days=7)  # never further back than this, however long ago the last digest was
BATCH = 200  # members per round; the next round goes on with the rest
SHOWN = 10  # of each kind in the mail; the rest are counted, with the list's link
LEAD_MAX = 80
LINK_DAYS = 400  # how long the unsubscribe link of a digest keeps working
PURPOSE = "digest"
# The pages the mail links to (routes/notify/digest.py, routes/notify/push.py, the lists).
SETTINGS_PATH = "/account/notifications"
UNSUBSCRIBE_PATH = "/mail/unsubscribe/{token}"
PROGRAMS_PATH, ARTICLES_PATH, INBOX_PATH = "/programs", "/articles", "/inbox"
ONE_CLICK = "List-Unsubscribe=One-Click"  # the body RFC 8058 has mail programs POST


class DigestRefused(Refusal):
    def messages(self) -> dict[str, str]:
        return {"no_email": _("Add your e-mail address to your profile first: the weekly mail goes there.")}


@dataclass(frozen=True)
class Outgoing:
    """What the round needs besides the database: mail links are absolute, texts in the member's language (the
    site's when they never chose one)."""

    smtp: Smtp
    base_url: str
    site_name: str
    signing_key: str
    locale: str = "ja"


@dataclass
class DigestStats:
    sent: int = 0
    empty: int = 0  # weeks with nothing new for the member: recorded, no mail


def sending_time(now: datetime) -> datetime:
    """This week's sending time: the last Friday 18:00 in Japan at or before `now`."""
    local = to_tokyo(now)
    day = local.date() - timedelta(days=(local.weekday() - SEND_WEEKDAY) % 7)
    moment = datetime.combine(day, SEND_TIME, TOKYO)
    return moment if moment <= local else moment - timedelta(days=7)


def unsubscribe_path(signer: TokenSigner, member_id: int, now: datetime) -> str:
    return UNSUBSCRIBE_PATH.format(token=signer.sign("unsubscribe", member_id, now + timedelta(days=LINK_DAYS)))


def member_of(signer: TokenSigner, token: str, now: datetime) -> int:
    """The member an unsubscribe link was made for; TokenError when it is damaged, forged or too old."""
    return signer.verify(token, "unsubscribe", now).subject_id


# --- the member's choice -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """What the notifications page shows: whether they get it, where it goes, and the last one made."""

    wanted: bool
    email: str
    confirmed: bool
    last_sent_week: date | None


async def choice(account_id: int) -> Choice | None:
    member = await Member.select(Member.id, Member.digest_since, Member.account.email.as_alias("email"),
                                 Member.account.email_verified_at.as_alias("verified")).where(
        Member.account == account_id).first()
    if member is None:
        return None
    # The last one that was mailed: a week with nothing new sent nothing.
    last = await Digest.select(Digest.week).where((Digest.member == member["id"]) & (
        (Digest.programs > 0) | (Digest.articles > 0))).order_by(Digest.week, ascending=False).first()
    return Choice(wanted=member["digest_since"] is not None, email=member["email"] or "",
                  confirmed=member["verified"] is not None, last_sent_week=last["week"] if last else None)


async def set_wanted(account_id: int, wanted: bool, now: datetime) -> None:
    """Turn the digest on (DigestRefused("no_email") without an address to send it to) or off. On again keeps
    the time it was first turned on."""
    if not wanted:
        await Member.update({Member.digest_since: None}).where(Member.account == account_id)
        return
    email = await Account.select(Account.email).where(Account.id == account_id).first()
    if not email or not email["email"]:
        raise DigestRefused("no_email", "digest")
    await Member.update({Member.digest_since: now}).where((Member.account == account_id) & Member.digest_since.is_null())


async def is_wanted(member_id: int) -> bool:
    return await Member.exists().where((Member.id == member_id) & Member.digest_since.is_not_null())


async def stop(member_id: int) -> bool:
    """The one-click unsubscribe: no more digests for this member. False when they got none already."""
    stopped = await Member.update({Member.digest_since: None}).where(
        (Member.id == member_id) & Member.digest_since.is_not_null()).returning(Member.id)
    return bool(stopped)


# --- the round ------------------------------------------------------------------------------------------


def _gets_it():
    """Members who asked for the weekly mail and can be sent it: a confirmed address, an account still open."""
    return (Member.digest_since.is_not_null() & Member.account.email.is_not_null()
            & Member.account.email_verified_at.is_not_null() & (Member.account.status == "active"))


async def readers(accounts: list[int]) -> list[int]:
    """Those of `accounts` who get the weekly mail, which carries a notice they have not read by Friday: the
    composer's reach by mail."""
    if not accounts:
        return []
    rows = await Member.select(Member.account).where(Member.account.is_in(accounts) & _gets_it())
    return [row["account"] for row in rows]


async def run_due(out: Outgoing, now: datetime | None = None) -> DigestStats:
    """Make this week's digest of each member who wants one and has none yet, up to BATCH of them."""
    now = now or clock.now()
    stats = DigestStats()
    sending = sending_time(now)
    week = sending.date()
    # Those who asked after this week's sending time start next week.
    waiting = await Member.select(
        Member.id, Member.account.as_alias("account"), Member.account.email.as_alias("email"),
        Member.account.display_name.as_alias("name"), Member.account.locale.as_alias("locale"),
    ).where(
        _gets_it() & (Member.digest_since <= sending)
        & Member.id.not_in(Digest.select(Digest.member).where(Digest.week == week))
    ).order_by(Member.id).limit(BATCH)
    if not waiting:
        return stats
    new = await _published(now)
    ids = [m["id"] for m in waiting]
    unread = await _unread_notices([m["account"] for m in waiting], now)
    follows: dict[int, set[int]] = {}
    for row in await AreaFollow.select(AreaFollow.member, AreaFollow.area).where(AreaFollow.member.is_in(ids)):
        follows.setdefault(row["member"], set()).add(row["area"])
    covered: dict[int, datetime] = {}
    for row in await Digest.select(Digest.member, Digest.covered_until).where(Digest.member.is_in(ids)
                                                                             & (Digest.covered_until > now - WINDOW)):
        covered[row["member"]] = max(row["covered_until"], covered.get(row["member"], row["covered_until"]))
    signer = TokenSigner(out.signing_key)
    token = current_locale.set(out.locale)
    try:
        for member in waiting:
            since = covered.get(member["id"], now - WINDOW)
            areas = follows.get(member["id"], set())
            found = new.for_member(areas, since, [n for n in unread.get(member["account"], []) if n["created_at"] > since])
            made = await _make(member, week, found, bool(areas), now, out, signer)
            stats.sent += made == "sent"
            stats.empty += made == "empty"
    finally:
        current_locale.reset(token)
    return stats


@dataclass
class Found:
    programs: list[dict]
    articles: list[dict]
    notices: list[dict] = field(default_factory=list)  # the member's own, unread in the inbox

    def for_member(self, areas: set[int], since: datetime, notices: list[dict]) -> Found:
        """What is new for a member who follows `areas` (every area when none); articles about the whole region
        (no area) go to everyone. Their unread notices come along: for a member with no push and no LINE, the
        digest is how a broadcast or a decision reaches them outside the app."""
        return Found(
            [p for p in self.programs if p["published_at"] > since and (not areas or p["area"] in areas)],
            [a for a in self.articles if a["published_at"] > since and (not areas or a["area"] in areas or a["area"] is None)],
            notices,
        )

    def __bool__(self) -> bool:
        return bool(self.programs or self.articles or self.notices)


async def _unread_notices(accounts: list[int], now: datetime) -> dict[int, list[dict]]:
    """Account → its notices of the window not read yet, oldest first."""
    rows = await Notice.select(Notice.account, Notice.title, Notice.url, Notice.created_at).where(
        Notice.account.is_in(accounts or [0]) & Notice.read_at.is_null() & (Notice.created_at > now - WINDOW)
        & (Notice.created_at <= now)).order_by(Notice.created_at).order_by(Notice.id)
    found: dict[int, list[dict]] = {}
    for row in rows:
        found.setdefault(row["account"], []).append(row)
    return found


async def _published(now: datetime) -> Found:
    """Everything published within the window and still public, oldest first."""
    window = now - WINDOW
    programs = await Program.select(
        Program.id, Program.title, Program.area, Program.area.name.as_alias("area_name"), Program.starts_at,
        Program.ends_at, Program.apply_until, Program.published_at,
    ).where((Program.status == "published") & (Program.published_at > window) & (Program.published_at <= now)
            ).order_by(Program.published_at).order_by(Program.id)
    articles = await Article.select(
        Article.id, Article.title, Article.lead, Article.area, Article.published_at,
    ).where((Article.status == "published") & (Article.published_at > window) & (Article.published_at <= now)
            ).order_by(Article.published_at).order_by(Article.id)
    return Found(programs, articles)


async def _make(member: dict, week: date, found: Found, follows: bool, now: datetime, out: Outgoing,
                signer: TokenSigner) -> str:
    """Claim the member's week and queue its mail, in one transaction: "sent", "empty", or "" when another round
    made it first."""
    async with atomic(Digest._meta.db):
        claimed = await Digest.insert(Digest(
            member=member["id"], week=week, covered_until=now, programs=len(found.programs),
            articles=len(found.articles), created_at=now,
        )).on_conflict(action="DO NOTHING").returning(Digest.id)
        if not claimed:
            return ""
        if not found:
            return "empty"
        unsubscribe = out.base_url + unsubscribe_path(signer, member["id"], now)
        with in_locale(chosen_locale(member["locale"])):
            subject, body = compose(member["name"], found, follows, out, unsubscribe)
        queued = await outbox.enqueue(out.smtp, member["email"], subject, body, PURPOSE, now=now, headers={
            "List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": ONE_CLICK})
        await Digest.update({Digest.mail: queued["id"]}).where(Digest.id == claimed[0]["id"])
    return "sent"


def compose(name: str, found: Found, follows: bool, out: Outgoing, unsubscribe: str) -> tuple[str, str]:
    """The digest's subject and plain text, in the language in effect; `follows`: the member follows some areas."""
    count = len(found.programs) + len(found.articles) + len(found.notices)
    subject = ngettext("[%(site)s] %(num)d new this week", "[%(site)s] %(num)d new this week", count, site=out.site_name)
    parts = [_("Dear %(name)s,", name=name),
             _("Here is what was published this week in the areas you follow.") if follows
             else _("Here is what was published this week.")]
    if found.notices:
        parts.append(_section(_("Unread in your inbox"), [_notice(n, out.base_url) for n in found.notices[:SHOWN]],
                              len(found.notices), out.base_url + INBOX_PATH))
    if found.programs:
        parts.append(_section(_("New programs"), [_program(p, out.base_url) for p in found.programs[:SHOWN]],
                              len(found.programs), out.base_url + PROGRAMS_PATH))
    if found.articles:
        parts.append(_section(_("New articles"), [_article(a, out.base_url) for a in found.articles[:SHOWN]],
                              len(found.articles), out.base_url + ARTICLES_PATH))
    parts.append("----\n" + _(
        "You get this mail because you asked for the weekly mail of %(site)s.\n"
        "Change what you receive: %(settings)s\nStop this mail: %(unsubscribe)s",
        site=out.site_name, settings=out.base_url + SETTINGS_PATH, unsubscribe=unsubscribe))
    return subject, "\n\n".join(parts) + "\n"


def _section(heading: str, items: list[str], total: int, list_url: str) -> str:
    lines = [f"■ {heading}", *items]
    if total > len(items):
        lines.append(ngettext("%(num)d more: %(link)s", "%(num)d more: %(link)s", total - len(items), link=list_url))
    return "\n\n".join(lines)


def _program(program: dict, base_url: str) -> str:
    return "\n".join([
        _("%(title)s (%(area)s)", title=program["title"], area=program["area_name"]),
        "  " + datetime_range(program["starts_at"], program["ends_at"]),
        "  " + _("Apply by %(date)s", date=format_datetime(program["apply_until"], "short")),
        "  " + base_url + program_path(program["id"]),
    ])


def _article(article: dict, base_url: str) -> str:
    lead = " ".join((article["lead"] or "").split())
    lines = [article["title"]]
    if lead:
        lines.append("  " + (lead if len(lead) <= LEAD_MAX else lead[:LEAD_MAX - 1] + "…"))
    lines.append("  " + base_url + article_path(article["id"]))
    return "\n".join(lines)


def _notice(notice: dict, base_url: str) -> str:
    return "\n".join([notice["title"], "  " + notices.absolute(base_url, notice["url"] or INBOX_PATH)])
