"""Rate limits, on the handlers that need them and nowhere else.

A limit is a guard on its handlers, so no other request is counted or slowed down:
- `auth_rate_limit`: logins, registrations, recoveries, invitations and the contact form, per client
  address (AUTH_RATE_LIMIT_PER_MINUTE);
- `scan_rate_limit`: wallet scans and redemptions, per shop account, since a shop's tablets may share one
  address (SCAN_RATE_LIMIT_PER_MINUTE). It goes after `guards.shop_staff`, so only shop accounts count.

Counts are kept in fixed one-minute windows by app/services/shared/rate_counts.py: in Redis when REDIS_URL
is set, in the database otherwise; atomic in both and shared by every process. A request over the limit
gets a 429 (the usual error page) with Retry-After: the seconds until the window ends.

The client address is the peer of the connection. X-Forwarded-For is read only when that peer is one of
TRUSTED_PROXIES (addresses or networks), and then from the right: each proxy appends the address it was
reached from, so the right-most address that is not a trusted proxy is the one our own proxy saw. What
stands left of it came from the client and is never read. An IPv6 client is counted by its /64, the
block one household or server gets, so that changing addresses inside it does not reset the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Scope

from app.services.shared import clock, rate_counts
from app.settings import Settings

WINDOW_S = 60
REDIS_PREFIX = "tsunagu:rate"
# Longer text in X-Forwarded-For is not an address a proxy of ours wrote.
MAX_CLIENT_CHARS = 64


@dataclass(frozen=True)
class RateLimits:
    counts: rate_counts.InDatabase | rate_counts.InRedis
    auth_per_minute: int
    scan_per_minute: int
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()

    async def check(self, name: str, client: str, per_minute: int) -> None:
        now = clock.now()
        hit = await self.counts.hit(f"{name}:{client}", now, WINDOW_S)
        if hit.count > per_minute:
            raise TooManyRequestsException(headers={"Retry-After": str(hit.retry_after(now))})

    def client_address(self, scope: Scope) -> str:
        peer = scope.get("client")
        host = peer[0] if peer else ""
        if self.trusted_proxies and self._trusted(host):
            forwarded = [entry.strip() for name, value in scope["headers"] if name == b"x-forwarded-for"
                         for entry in value.decode("latin-1").split(",")]
            hops = [entry for entry in forwarded if entry]
            untrusted = [entry for entry in reversed(hops) if not self._trusted(entry)]
            # Every hop a proxy of ours: the first of them is as far as we can see.
            host = untrusted[0] if untrusted else (hops[0] if hops else host)
        return _counted_as(host)

    def _trusted(self, text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in network for network in self.trusted_proxies)


def make_rate_limits(settings: Settings) -> RateLimits:
    """The limits of one app; a proxy in TRUSTED_PROXIES that is no address or network stops the start."""
    if settings.redis_url:
        from redis.asyncio import Redis

        counts = rate_counts.InRedis(Redis.from_url(settings.redis_url), REDIS_PREFIX)
    else:
        counts = rate_counts.InDatabase()
    return RateLimits(
        counts=counts,
        auth_per_minute=settings.auth_rate_limit_per_minute,
        scan_per_minute=settings.scan_rate_limit_per_minute,
        trusted_proxies=tuple(ip_network(proxy, strict=False) for proxy in settings.trusted_proxies),
    )


def _address(text: str) -> IPv4Address | IPv6Address | None:
    """An address as proxies write it: bare, IPv4 with a port, or [IPv6] with or without one."""
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _counted_as(host: str) -> str:
    address = _address(host)
    if address is None:
        return host[:MAX_CLIENT_CHARS]
    if isinstance(address, IPv6Address):
        return str(IPv6Network((address, 64), strict=False))
    return str(address)


def _limits(connection: ASGIConnection) -> RateLimits:
    return connection.app.state.rate_limits


async def auth_rate_limit(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    limits = _limits(connection)
    await limits.check("auth", limits.client_address(connection.scope), limits.auth_per_minute)


async def scan_rate_limit(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    limits = _limits(connection)
    account = connection.scope.get("state", {}).get("account")
    client = f"account:{account.id}" if account else f"address:{limits.client_address(connection.scope)}"
    await limits.check("scan", client, limits.scan_per_minute)
