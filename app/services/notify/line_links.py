"""Linking a member's LINE account to their membership, exactly as the Messaging API documents account linking
(developers.line.biz, "User account linking"), and what the official account's webhook tells us.

1. The member adds the official account as a friend; LINE sends a `follow` event with their LINE user id.
2. We ask LINE for a link token for that user id and reply with a link to our page /line/link?linkToken=….
3. There the member, logged in with their passkey, confirms; we make a random nonce bound to their account
   (`start_link`: 256 bits, only its SHA-256 kept, used once, for LINK_NONCE_TTL) and send the browser to LINE's
   account-link endpoint with the token and the nonce.
4. LINE checks that the person in the LINE app is the one the token was issued for and sends an `accountLink`
   event with the user id and the nonce: an unused, unexpired nonce binds that user id to its account
   (`complete_link`).

Nothing else binds: a user id alone, a guessed nonce, one used or expired finds no account. A member already
linked to another LINE account, or a LINE account already linked to another member, is not replaced: the
attempt is refused and the person told so in LINE (unlink first, from the account page). `unfollow` (which is
also what blocking the account sends) marks the link blocked and the sender skips it; `follow` again
re-activates it. The member unlinks from the account page; the row goes, audited.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import AccountLinkEvent, FollowEvent, MessageEvent, UnfollowEvent, UserSource

from app.i18n import current_locale
from app.i18n import gettext as _
from app.services.notify import line_api
from app.settings import Line
from db.engine import atomic
from db.tables import AuditLog, LineDelivery, LineLink, LineLinkNonce

log = logging.getLogger("tsunagu.line")

LINK_NONCE_TTL = timedelta(minutes=10)  # as long as LINE's link token lives


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("utf-8", "surrogatepass")).hexdigest()


async def link_of(account_id: int) -> dict | None:
    """The account's LINE link ({status, linked_at}), or None."""
    return await LineLink.select(LineLink.status, LineLink.linked_at).where(LineLink.account == account_id).first()


async def start_link(account_id: int, now: datetime) -> str:
    """A new single-use nonce bound to this account, for LINE's account-link endpoint."""
    nonce = secrets.token_urlsafe(32)
    await LineLinkNonce.delete().where(LineLinkNonce.expires_at < now)
    await LineLinkNonce.insert(LineLinkNonce(nonce_hash=_digest(nonce), account=account_id, created_at=now,
                                             expires_at=now + LINK_NONCE_TTL))
    return nonce


async def complete_link(line_user_id: str, nonce: str, now: datetime) -> str:
    """Bind `line_user_id` to the account that asked for `nonce`: 'linked', 'taken' (that account or that
    LINE user is linked to another; nothing changes), or 'unknown' (no such nonce, used, or expired)."""
    async with atomic(LineLink._meta.db):
        used = await LineLinkNonce.update({LineLinkNonce.used_at: now}).where(
            (LineLinkNonce.nonce_hash == _digest(nonce)) & LineLinkNonce.used_at.is_null()
            & (LineLinkNonce.expires_at > now)).returning(LineLinkNonce.account)
        if not used:
            return "unknown"
        account_id = used[0]["account"]
        held = await LineLink.select(LineLink.id, LineLink.account, LineLink.line_user_id).where(
            (LineLink.account == account_id) | (LineLink.line_user_id == line_user_id))
        if held:
            if [(row["account"], row["line_user_id"]) for row in held] != [(account_id, line_user_id)]:
                return "taken"
            await LineLink.update({LineLink.status: "linked", LineLink.changed_at: now}).where(LineLink.id == held[0]["id"])
            return "linked"
        # Two links made at once for one account or one LINE user: the unique indexes keep one, the other is taken.
        inserted = await LineLink.insert(LineLink(account=account_id, line_user_id=line_user_id, status="linked",
                                                  linked_at=now, changed_at=now)).on_conflict(action="DO NOTHING").returning(LineLink.id)
        if not inserted:
            return "taken"
        await AuditLog.insert(AuditLog(actor=account_id, action="line.link", target_type="account",
                                       target_id=str(account_id), created_at=now))
    return "linked"


async def set_following(line_user_id: str, following: bool, now: datetime) -> bool:
    """`follow` (True) re-activates a link, `unfollow` (False) marks it blocked. True if the user is linked."""
    rows = await LineLink.update({LineLink.status: "linked" if following else "blocked", LineLink.changed_at: now}).where(
        LineLink.line_user_id == line_user_id).returning(LineLink.id)
    return bool(rows)


async def _drop(account_id: int, error: str) -> bool:
    """Delete the account's link; what was still queued for it is skipped. True if there was one."""
    links = LineLink.select(LineLink.id).where(LineLink.account == account_id)
    await LineDelivery.update({LineDelivery.status: "skipped", LineDelivery.last_error: error,
                               LineDelivery.claimed_until: None}).where(
        LineDelivery.line_link.is_in(links) & (LineDelivery.status == "queued"))
    return bool(await LineLink.delete().where(LineLink.account == account_id).returning(LineLink.id))


async def unlink(account_id: int, now: datetime) -> bool:
    """The member unlinks from the account page: the link goes (audited). True if there was one."""
    async with atomic(LineLink._meta.db):
        if not await _drop(account_id, "unlinked"):
            return False
        await AuditLog.insert(AuditLog(actor=account_id, action="line.unlink", target_type="account",
                                       target_id=str(account_id), created_at=now))
    return True


async def forget(account_id: int) -> None:
    """For the erasure of an account (inside its transaction): the link, its nonces, nothing queued for it,
    no error text about it."""
    await LineDelivery.update({LineDelivery.last_error: ""}).where(
        LineDelivery.line_link.is_in(LineLink.select(LineLink.id).where(LineLink.account == account_id)))
    await _drop(account_id, "")
    await LineLinkNonce.delete().where(LineLinkNonce.account == account_id)


# --- the webhook's events --------------------------------------------------------------------------


class BadWebhook(Exception):
    """Not a webhook call from LINE: no signature, a signature the channel secret did not make, or a body that is
    no webhook payload."""


def parse(channel_secret: str, body: bytes, signature: str | None) -> list:
    """The events of a webhook call, once its X-Line-Signature (HMAC-SHA256 of the body with the channel secret)
    is checked by the SDK's WebhookParser; BadWebhook otherwise."""
    if not signature:
        raise BadWebhook("no signature")
    try:
        return WebhookParser(channel_secret).parse(body.decode("utf-8"), signature)
    except InvalidSignatureError:
        raise BadWebhook("bad signature") from None
    except (ValueError, KeyError, TypeError, AttributeError):  # signed, but not a payload the SDK can read
        raise BadWebhook("bad body") from None


@dataclass
class Reply:
    """What to answer in LINE once the webhook has been answered: `kind` is 'invite' (a link token and the
    link to our page), 'linked', 'taken', 'expired' or 'welcome_back'."""

    token: str
    kind: str
    user_id: str


def _user_id(event) -> str | None:
    source = event.source
    return source.user_id if isinstance(source, UserSource) and source.user_id else None


async def handle_events(events: list, now: datetime) -> list[Reply]:
    """Record what the events say (quickly: the webhook answers right after); the replies that LINE calls
    need are returned, to be sent by `send_replies` once LINE has its answer. Other events are ignored."""
    replies = []
    for event in events:
        user_id = _user_id(event)
        if user_id is None:
            continue
        if isinstance(event, FollowEvent):
            known = await set_following(user_id, True, now)
            replies.append(Reply(event.reply_token, "welcome_back" if known else "invite", user_id))
        elif isinstance(event, UnfollowEvent):
            await set_following(user_id, False, now)
        elif isinstance(event, AccountLinkEvent):
            outcome = await complete_link(user_id, event.link.nonce, now) if event.link.result == "ok" else "unknown"
            if event.reply_token:  # LINE gives none when the link failed on its side
                replies.append(Reply(event.reply_token, "expired" if outcome == "unknown" else outcome, user_id))
        elif isinstance(event, MessageEvent) and event.reply_token:
            # Someone not linked yet writes to the account (a link token lives ten minutes): a fresh link.
            if not await LineLink.exists().where(LineLink.line_user_id == user_id):
                replies.append(Reply(event.reply_token, "invite", user_id))
    return replies


def _text(reply: Reply, site_name: str, link_url: str) -> str:
    return {
        "invite": _("Thank you for adding %(site)s. To receive its notifications here, link your membership: "
                    "open %(url)s and log in (the link works for ten minutes).", site=site_name, url=link_url),
        "linked": _("Your LINE account is now linked to %(site)s. Notifications will arrive here; you can unlink it "
                    "under My account at any time.", site=site_name),
        "taken": _("This LINE account was not linked: your membership is already linked to another LINE account, "
                   "or this LINE account to another member. Unlink it first under My account."),
        "expired": _("The link could not be completed: it was used already or has expired. Send any message here "
                     "to get a new one."),
        "welcome_back": _("Welcome back. Notifications from %(site)s arrive here again.", site=site_name),
    }[reply.kind]


async def send_replies(line: Line, replies: list[Reply], link_page: str, site_name: str, locale: str) -> None:
    """After the webhook answered: link tokens and replies through the Messaging API. A failure is logged, never
    raised (a reply token lives a short while; the member can ask again by writing to the account)."""
    if not replies:
        return
    token = current_locale.set(locale)
    try:
        async with line_api.messaging_api(line) as api:
            for reply in replies:
                try:
                    url = ""
                    if reply.kind == "invite":
                        url = f"{link_page}?{urlencode({'linkToken': await line_api.issue_link_token(api, reply.user_id)})}"
                    await line_api.reply(api, reply.token, _text(reply, site_name, url))
                except Exception:
                    log.exception("a LINE reply (%s) could not be sent", reply.kind)
    finally:
        current_locale.reset(token)
