"""Rate limits, on the handlers that need them and nowhere else.

A limit is a guard on its handlers, so no other request is counted or slowed down:
- `auth_rate_limit`: logins, registrations, recoveries, invitations and the contact form, per client
  address (AUTH_RATE_LIMIT_PER_MINUTE);
- `scan_rate_limit`: wallet scans and redemptions, per shop account, since a shop's tablets may share one
  address (SCAN_RATE_LIMIT_PER_MINUTE). It goes after `guards.shop_staff`, which refuses every other account.
  Where the counts are in a database that can write inside WITH (PostgreSQL), the scan is counted in the same
  statement as the login's lookup (`resolve_login`, from app/auth.py): the counter's scans and uses are the
  requests a festival day sends most, and that is one round trip fewer for each.

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
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Scope

from app.services.membership import login_sessions
from app.services.membership.login_sessions import CurrentAccount
from app.services.shared import clock, rate_counts
from app.settings import Settings

WINDOW_S = 60
REDIS_PREFIX = "tsunagu:rate"
# Longer text in X-Forwarded-For is not an address a proxy of ours wrote.
MAX_CLIENT_CHARS = 64
SCAN_BY_ACCOUNT = "account:"  # a scan's client: the shop account, whose tablets may share one address
SCAN_COUNTED = "rate_limit.scan_counted"  # scope state key: the scan's hit, counted with the login's lookup


@dataclass(frozen=True)
class RateLimits:
    counts: rate_counts.InDatabase | rate_counts.InRedis
    auth_per_minute: int
    scan_per_minute: int
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()

    async def check(self, name: str, client: str, per_minute: int) -> None:
        now = clock.now()
        judge(await self.counts.hit(f"{name}:{client}", now, WINDOW_S), per_minute, now)

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


def judge(hit: rate_counts.Hit, per_minute: int, now: datetime) -> None:
    if hit.count > per_minute:
        raise TooManyRequestsException(headers={"Retry-After": str(hit.retry_after(now))})


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
    state = connection.scope.get("state", {})
    if (counted := state.get(SCAN_COUNTED)) is not None:
        judge(counted, limits.scan_per_minute, clock.now())
        return
    account = state.get("account")
    client = f"{SCAN_BY_ACCOUNT}{account.id}" if account else f"address:{limits.client_address(connection.scope)}"
    await limits.check("scan", client, limits.scan_per_minute)


async def resolve_login(scope: Scope, token: str) -> CurrentAccount | None:
    """The login behind `token`; on a route `scan_rate_limit` guards, its scan counted in the same statement
    where the counts are in a database that can (the guard then judges that hit instead of counting again)."""
    handler = scope.get("route_handler")
    limits: RateLimits = scope["app"].state.rate_limits
    counted_here = (handler is not None and scan_rate_limit in (handler.guards or ())
                    and isinstance(limits.counts, rate_counts.InDatabase) and login_sessions.counts_with_login())
    if not counted_here:
        return await login_sessions.resolve(token)
    account, hit = await login_sessions.resolve_counting(token, f"scan:{SCAN_BY_ACCOUNT}", WINDOW_S)
    if hit is not None:
        scope["state"][SCAN_COUNTED] = hit  # type: ignore[index]
    return account
