"""Which push endpoints the server may call: what keeps a subscription from making it call an internal address.

A subscription's endpoint is whatever the page sent to POST /push/subscriptions, and the sender POSTs
to it, so an endpoint is only accepted when

- it is `https://` on the default port (443), with no user name or password, and its host is one of the
  real Web Push services or a name under one: fcm.googleapis.com (Chrome, Android browsers),
  push.services.mozilla.com (Firefox), push.apple.com (Safari), notify.windows.com (Edge on Windows); or
- it is at one of the origins listed in `Settings.push_extra_hosts` (PUSH_EXTRA_HOSTS).

Extra entries are origins, matched exactly (scheme, host and port; no names under them):
`https://push.example.org`, `https://push.example.org:8443`, `http://127.0.0.1:8123`. An entry without a
scheme means https (`push.example.org`); a missing port is the scheme's default. A listed origin is
trusted as it is, its addresses are not checked: that is how a test reaches its fake push service on
loopback, and how an installation could use a push relay of its own.

The rule is applied when a device subscribes or renews (PushRefused("bad_endpoint")), and again before
every send: a row stored under an older rule or another setting is never requested. Before a send the
host's addresses are looked up too, and a push-service name that resolves to a loopback, private,
link-local, multicast, reserved or unspecified address is not requested. Lookups are kept for
RESOLVE_TTL_S per host, and lookups of one host at the same moment share one. (The HTTP client resolves
the name again when it connects; the names it may connect to are the push services' own, which no
subscriber controls, so the lookup here guards against what their records point to, not against a
subscriber.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

PUSH_SERVICE_HOSTS = ("fcm.googleapis.com", "push.services.mozilla.com", "push.apple.com", "notify.windows.com")
DEFAULT_PORTS = {"https": 443, "http": 80}
RESOLVE_TTL_S = 60.0

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Read with two expressions rather than urlsplit: the same split (scheme, then the authority up to the
# first / ? #), at a fraction of the cost on every send; characters that could make parsers disagree are
# refused before.
_UNSAFE = re.compile(r"[^\x21-\x7e]|\\")  # anything but printable ASCII, or a backslash
_AUTHORITY = re.compile(r"([a-z][a-z0-9+.-]*)://([^/?#]*)", re.IGNORECASE)
_HOST_PORT = re.compile(rf"({_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])(?::([0-9]{{1,5}}))?", re.IGNORECASE)

Origin = tuple[str, str, int]  # scheme, host (lower case, IPv6 without brackets), port


def _origin(url: str) -> Origin | str:
    """(scheme, host, port) of an absolute URL, or why it is refused: "malformed", "userinfo", "scheme",
    "port". Strict on purpose, so that the host checked is the host the HTTP client calls: printable ASCII
    only, no backslash, and nothing in the authority but a host name or IP literal and a port (no user
    name, no percent-encoding)."""
    if not isinstance(url, str) or _UNSAFE.search(url):
        return "malformed"
    authority = _AUTHORITY.match(url)
    if authority is None:
        return "scheme" if url.partition(":")[0].lower() not in DEFAULT_PORTS else "malformed"
    scheme, netloc = authority.group(1).lower(), authority.group(2)
    if "@" in netloc:
        return "userinfo"
    if scheme not in DEFAULT_PORTS:
        return "scheme"
    host_port = _HOST_PORT.fullmatch(netloc)
    if host_port is None:
        return "malformed"
    host, port = host_port.group(1).lower().strip("[]"), host_port.group(2)
    if port is None:
        return scheme, host, DEFAULT_PORTS[scheme]
    if int(port) > 65535:
        return "port"
    return scheme, host, int(port)


def parse_origin(entry: str) -> Origin:
    """One PUSH_EXTRA_HOSTS entry: `scheme://host[:port]`, or `host[:port]` for https. ValueError otherwise."""
    text = entry.strip()
    url = text if "://" in text else f"https://{text}"
    origin = _origin(url)
    parts = urlsplit(url)
    if isinstance(origin, str) or parts.path not in ("", "/") or parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError(f"PUSH_EXTRA_HOSTS: {entry!r} is not an origin such as https://push.example.org or "
                         "http://127.0.0.1:8123")
    return origin


def is_public(address: str) -> bool:
    """Whether an address is one the server may call: not loopback, private, link-local, multicast,
    reserved, unspecified or otherwise not globally reachable; an IPv6 address that carries an IPv4 one
    (mapped, 6to4, Teredo) only if that one is public too."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is not part of the address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(str(ip.ipv4_mapped))
        embedded = [ip.sixtofour, *(ip.teredo or ())]
        if not all(is_public(str(v4)) for v4 in embedded if v4 is not None):
            return False
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


async def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (the event loop's resolver, off the loop's thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


class PushHosts:
    """The rule above, for one installation: the real push services plus the origins given as `extra`
    (the entries of PUSH_EXTRA_HOSTS). Keeps the address lookups of the sender that holds it."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.extra: frozenset[Origin] = frozenset(parse_origin(entry) for entry in extra)
        self._verdicts: dict[tuple[str, int], tuple[float, bool]] = {}  # (host, port) -> (until, public)
        self._lookups: dict[tuple[object, str, int], asyncio.Future[bool]] = {}  # in flight, per event loop

    def refusal(self, endpoint: str) -> str | None:
        """Why the server will not call this endpoint ("malformed", "userinfo", "scheme", "port", "host"),
        or None when it may."""
        origin = _origin(endpoint)
        return origin if isinstance(origin, str) else self._refusal(origin)

    async def refusal_to_send(self, endpoint: str) -> str | None:
        """`refusal`, then, just before a send, "address" when the host resolves to any address that is
        not public. A listed origin is not looked up. A lookup that fails raises (OSError): the delivery
        is retried, and nothing is kept."""
        origin = _origin(endpoint)
        if isinstance(origin, str):
            return origin
        refused = self._refusal(origin)
        if refused is not None or origin in self.extra:
            return refused
        _scheme, host, port = origin
        return None if await self.resolves_publicly(host, port) else "address"

    def _refusal(self, origin: Origin) -> str | None:
        if origin in self.extra:
            return None
        scheme, host, port = origin
        if scheme != "https":
            return "scheme"
        if port != 443:
            return "port"
        if not any(host == name or host.endswith("." + name) for name in PUSH_SERVICE_HOSTS):
            return "host"
        return None

    async def resolves_publicly(self, host: str, port: int) -> bool:
        """Whether every address of `host` is public: kept for RESOLVE_TTL_S, one lookup at a time per host."""
        verdict = self._verdicts.get((host, port))
        if verdict is not None and verdict[0] > time.monotonic():
            return verdict[1]
        loop = asyncio.get_running_loop()
        key = (loop, host, port)
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = self._lookups[key] = loop.create_task(self._look_up(host, port))
            lookup.add_done_callback(lambda _done: self._lookups.pop(key, None))
        # Shielded: a sender cancelled while waiting does not cancel the lookup the others wait for.
        return await asyncio.shield(lookup)

    async def _look_up(self, host: str, port: int) -> bool:
        addresses = await resolve(host, port)
        public = bool(addresses) and all(is_public(address) for address in addresses)
        self._verdicts[(host, port)] = (time.monotonic() + RESOLVE_TTL_S, public)
        return public


PUSH_SERVICES = PushHosts()  # the real push services only: what a caller that passes no setting gets
