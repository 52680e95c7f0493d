"""Web Push subscriptions (one per device) and each account's preferences of what to be told by push."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPusher

from app.services.notify.push_endpoints import PUSH_SERVICES, PushHosts
from app.services.notify.push_message import b64url_decode
from app.services.shared import clock
from app.services.shared.refusals import Refusal
from db.engine import is_unique_violation
from db.tables import PushPreference, PushSubscription


class PushRefused(Refusal):
    """A subscription or notification the push rules refuse."""


async def subscribe(account_id: int, endpoint: str, p256dh: str, auth: str, device_label: str,
                    hosts: PushHosts = PUSH_SERVICES) -> int:
    """Store this device's subscription; the same endpoint again (re-subscribe, another account) updates it.
    The endpoint must be on a push service `hosts` allows (push_endpoints), or PushRefused("bad_endpoint")."""
    if hosts.refusal(endpoint or "") is not None:
        raise PushRefused("bad_endpoint")
    if len(endpoint) > 1000 or not (20 <= len(p256dh) <= 200) or not (8 <= len(auth) <= 100):
        raise PushRefused("bad_keys")
    try:
        WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
        # pywebpush only checks the length: the key must be a point on P-256 and the auth secret 16 bytes
        # (RFC 8291), or every message to this device would fail to encrypt or to decrypt.
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(p256dh))
        if len(b64url_decode(auth)) != 16:
            raise ValueError("auth secret is not 16 bytes")
    except Exception:  # pywebpush raises for keys that are not base64url EC points
        raise PushRefused("bad_keys") from None
    values = {
        PushSubscription.account: account_id, PushSubscription.p256dh: p256dh, PushSubscription.auth: auth,
        PushSubscription.device_label: device_label[:60],
    }
    updated = await PushSubscription.update(values).where(PushSubscription.endpoint == endpoint).returning(PushSubscription.id)
    if updated:
        return updated[0]["id"]
    try:
        rows = await PushSubscription.insert(
            PushSubscription(account=account_id, endpoint=endpoint, p256dh=p256dh, auth=auth,
                             device_label=device_label[:60], created_at=clock.now())
        ).returning(PushSubscription.id)
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        rows = await PushSubscription.update(values).where(PushSubscription.endpoint == endpoint).returning(PushSubscription.id)
    return rows[0]["id"]


async def unsubscribe(account_id: int, endpoint: str) -> bool:
    deleted = await PushSubscription.delete().where(
        (PushSubscription.account == account_id) & (PushSubscription.endpoint == endpoint)
    ).returning(PushSubscription.id)
    return bool(deleted)


async def renew_subscription(account_id: int, old_endpoint: str, endpoint: str, p256dh: str, auth: str,
                             hosts: PushHosts = PUSH_SERVICES) -> int:
    """The browser replaced a device's subscription: the new one keeps the old one's device label, and the
    old one goes. The old endpoint must be one of this account's devices, or PushRefused("not_found")."""
    old = await PushSubscription.select(PushSubscription.device_label).where(
        (PushSubscription.account == account_id) & (PushSubscription.endpoint == old_endpoint)
    ).first()
    if old is None:
        raise PushRefused("not_found")
    subscription_id = await subscribe(account_id, endpoint, p256dh, auth, old["device_label"], hosts)
    if endpoint != old_endpoint:
        await unsubscribe(account_id, old_endpoint)
    return subscription_id


async def list_devices(account_id: int) -> list[dict]:
    """The account's subscribed devices, the first one subscribed first."""
    return await PushSubscription.select(
        PushSubscription.id, PushSubscription.device_label, PushSubscription.created_at, PushSubscription.last_success_at,
    ).where(PushSubscription.account == account_id).order_by(PushSubscription.created_at)


async def has_devices(account_id: int) -> bool:
    return await PushSubscription.exists().where(PushSubscription.account == account_id)


@dataclass
class Preferences:
    programs: str = "followed"  # followed | all | none
    events: bool = True
    surveys: bool = True
    news: bool = True


async def preferences(account_id: int) -> Preferences:
    row = await PushPreference.select().where(PushPreference.account == account_id).first()
    if row is None:
        return Preferences()
    return Preferences(programs=row["programs"], events=row["events"], surveys=row["surveys"], news=row["news"])


async def save_preferences(account_id: int, prefs: Preferences) -> None:
    if prefs.programs not in ("followed", "all", "none"):
        raise PushRefused("bad_preference")
    values = {PushPreference.programs: prefs.programs, PushPreference.events: prefs.events,
              PushPreference.surveys: prefs.surveys, PushPreference.news: prefs.news}
    if not await PushPreference.update(values).where(PushPreference.account == account_id).returning(PushPreference.id):
        try:
            await PushPreference.insert(PushPreference(account=account_id, **{c._meta.name: v for c, v in values.items()}))
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            await PushPreference.update(values).where(PushPreference.account == account_id)

