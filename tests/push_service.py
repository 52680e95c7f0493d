"""A fake Web Push service on loopback, strict the way real ones are (RFC 8030, RFC 8291, RFC 8292).

For every `POST /push/<device id>` it checks, before it answers:

- `Authorization: vapid t=<JWT>,k=<key>`: an ES256 JWT whose signature verifies with `k`, `aud` equal to
  this service's origin, `exp` in the future and at most 24 h ahead, `sub` present; and, when the device
  was subscribed with an application server key, `k` equal to it (a push service refuses other keys);
- `TTL` (a non-negative integer) and `Urgency` (very-low | low | normal | high) present, `Topic` (when
  given) at most 32 base64url characters, `Content-Encoding: aes128gcm`, a body of at most 4096 bytes;
- the body decrypts (http_ece, aes128gcm) with the device's private key and auth secret.

With `decrypt_every=N` (benchmarks only) every check above is still made on every request, but only every
Nth well-formed request (by arrival) is decrypted before its answer; the others are kept and decrypted
by `verify()` (`POST /_admin/verify`) once the run is over, a failure there being listed in `errors` like
any other. Every message is decrypted either way: the sample only moves most of that work off the clock,
as a real push service's work is on another machine.

A request that fails a check is answered 400/401/403/413 and listed in `errors`. Otherwise the service
answers what it was told for that device (`answer`): 201 by default, or 404, 410, 429 (with
`Retry-After`), 500, 400... Only a 201 delivers: the decrypted payload is kept on the device, keyed by
`Topic` — a later message with the same topic replaces the earlier one, as RFC 8030 § 5.4 says.

Two ways to run it:

- in the test process: `with FakePushService() as service:` serves from its own thread and event loop;
  `service.device()` makes a subscription (its own P-256 key pair and auth secret);
- as a process (`python -m tests.push_service --port 0`, or `FakePushServiceProcess`), for benchmarks: it
  makes devices itself on `POST /_admin/devices` and reports on `GET /_admin/stats`.

It is a raw asyncio HTTP/1.1 server (keep-alive, Content-Length bodies only): small, and fast enough to
not be what a benchmark measures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

HOST = "127.0.0.1"
MAX_BODY = 4096
MAX_EXP_AHEAD_S = 24 * 60 * 60
URGENCIES = ("very-low", "low", "normal", "high")
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           410: "Gone", 411: "Length Required", 413: "Payload Too Large", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Answer:
    status: int
    retry_after: str | None = None


@dataclass
class Device:
    """One subscribed browser: what PushManager.subscribe() would return, plus the secrets to read it."""

    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    server_key: str | None = None  # the applicationServerKey it was subscribed with (base64url), if any
    messages: dict[str, dict] = field(default_factory=dict)  # Topic -> decrypted payload (JSON)
    answers: list[Answer] = field(default_factory=list)  # consumed in order; the last one stays

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def subscription(self) -> dict:
        """The fields Tsunagu stores (the browser's PushSubscription.toJSON(), flattened)."""
        return {"endpoint": self.endpoint, "p256dh": self.p256dh, "auth": self.auth}


@dataclass
class Received:
    """One request as the service saw it."""

    device: str
    status: int
    topic: str | None
    ttl: str | None
    urgency: str | None
    authorization: str | None
    payload: dict | None
    error: str = ""  # why the request was refused before its answer; empty when it was well-formed
    at: float = 0.0


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def verify_es256(token: str, public_key_b64: str) -> dict:
    """The claims of an ES256 JWT, if its signature verifies with the raw P-256 point `public_key_b64`."""
    try:
        signing_input, signature_b64 = token.rsplit(".", 1)
        header_b64, claims_b64 = signing_input.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public_key_b64))
    except (ValueError, binascii.Error, json.JSONDecodeError) as exc:
        raise Refused(401, f"malformed token: {exc}") from None
    if header.get("alg") != "ES256" or header.get("typ", "JWT") != "JWT":
        raise Refused(401, f"bad JWT header {header}")
    if len(signature) != 64:
        raise Refused(401, "signature is not 64 bytes (r || s)")
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused(401, "bad signature") from None
    if not isinstance(claims, dict):
        raise Refused(401, "claims are not an object")
    return claims


class FakePushService:
    def __init__(self, host: str = HOST, port: int = 0, delay: float = 0.0, keep_payloads: bool = True,
                 decrypt_every: int = 1) -> None:
        if decrypt_every < 1 or (decrypt_every > 1 and keep_payloads):
            raise ValueError("decrypt_every is a whole number; above 1 the service keeps topics only")
        self.host = host
        self.port = port
        self.delay = delay  # seconds each accepted message waits before its answer (after being recorded)
        self.keep_payloads = keep_payloads
        self.decrypt_every = decrypt_every
        self.decrypted = 0  # bodies decrypted, before the answer or in verify()
        self._well_formed = 0  # requests that passed every check but decryption, in order of arrival
        self._undecrypted: list[tuple[Received, Device, bytes]] = []  # left for verify()
        self.devices: dict[str, Device] = {}
        self.requests: list[Received] = []
        self.token_checks = 0  # full ES256 verifications (a token seen before is only re-checked for expiry)
        self.delivered = 0  # 201 answers
        self._tokens: dict[tuple[str, str], dict] = {}  # (token, k) -> claims that verified
        self._lock = threading.Lock()
        self._watchers: list[tuple[int, threading.Event]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Task] = set()

    # --- what tests use ---------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def device(self, server_key: str | None = None) -> Device:
        """A new subscription on this service: its own key pair and 16-byte auth secret."""
        device_id = secrets.token_urlsafe(12)
        device = Device(id=device_id, endpoint=f"{self.origin}/push/{device_id}",
                        private_key=ec.generate_private_key(ec.SECP256R1()), auth_secret=os.urandom(16),
                        server_key=server_key)
        with self._lock:
            self.devices[device_id] = device
        return device

    def answer(self, device: Device, *statuses: int, retry_after: str | None = None) -> None:
        """What the service answers this device's next requests: one status per request, the last repeats."""
        with self._lock:
            device.answers = [Answer(status, retry_after) for status in statuses]

    @property
    def errors(self) -> list[Received]:
        return [r for r in self.requests if r.error]

    def requests_for(self, device: Device) -> list[Received]:
        return [r for r in self.requests if r.device == device.id]

    def when_delivered(self, count: int) -> threading.Event:
        """An event set once `count` messages have been answered 201 (for a test that must act mid-run)."""
        event = threading.Event()
        with self._lock:
            if self.delivered >= count:
                event.set()
            else:
                self._watchers.append((count, event))
        return event

    def stats(self) -> dict:
        with self._lock:
            held = [len(d.messages) for d in self.devices.values()]
            statuses = Counter(r.status for r in self.requests)
            return {
                "devices": len(self.devices), "requests": len(self.requests), "delivered": self.delivered,
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
                "errors": len(self.errors), "error_samples": [r.error for r in self.errors[:5]],
                "devices_with_messages": sum(1 for n in held if n), "messages_held": sum(held),
                "max_messages_per_device": max(held, default=0), "token_checks": self.token_checks,
                "distinct_tokens": len(self._tokens), "decrypt_every": self.decrypt_every,
                "decrypted": self.decrypted, "awaiting_decryption": len(self._undecrypted),
            }

    def verify(self) -> dict:
        """Decrypt every body left undecrypted (decrypt_every > 1): what a run's answers did not wait for."""
        with self._lock:
            left, self._undecrypted = self._undecrypted, []
        for record, device, body in left:
            try:
                self._decrypt(record, device, body)
            except Refused as refused:
                record.error = f"verification pass: {refused.reason}"
        return self.stats()

    # --- lifecycle: in a thread of the test process ----------------------------------------------

    def __enter__(self) -> FakePushService:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self.open())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.close())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-push-service", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"fake push service did not start: {failure}")

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    # --- HTTP/1.1 ---------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head[:-4].decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    status, extra, body = 411, {}, b"chunked bodies are not accepted here"
                    keep_alive = False
                else:
                    length = int(headers.get("content-length") or 0)
                    content = await reader.readexactly(length) if length else b""
                    status, extra, body = await self._handle(method, target, headers, content)
                    keep_alive = headers.get("connection", "").lower() != "close"
                response = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Content-Length: {len(body)}"]
                response += [f"{k}: {v}" for k, v in extra.items()]
                if not keep_alive:
                    response.append("Connection: close")
                writer.write(("\r\n".join(response) + "\r\n\r\n").encode("latin-1") + body)
                await writer.drain()
                if not keep_alive:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._connections.discard(task)
            writer.close()

    async def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        path = target.split("?", 1)[0]
        if path.startswith("/push/") and method == "POST":
            status, extra = self._push(path[len("/push/"):], headers, body)
            if status == 201 and self.delay:
                await asyncio.sleep(self.delay)  # recorded first: a sender killed now has delivered already
            return status, extra, b""
        if path == "/_admin/stats" and method == "GET":
            return 200, {"Content-Type": "application/json"}, json.dumps(self.stats()).encode()
        if path == "/_admin/verify" and method == "POST":
            return 200, {"Content-Type": "application/json"}, json.dumps(self.verify()).encode()
        if path == "/_admin/devices" and method == "POST":
            request = json.loads(body or b"{}")
            made = [self.device(request.get("server_key")) for _ in range(int(request.get("count", 1)))]
            return 200, {"Content-Type": "application/json"}, json.dumps(
                [{"id": d.id, **d.subscription()} for d in made]).encode()
        if path == "/_admin/answer" and method == "POST":
            request = json.loads(body)
            self.answer(self.devices[request["device"]], *request["statuses"], retry_after=request.get("retry_after"))
            return 200, {}, b""
        return 404, {}, b""

    # --- the push protocol ------------------------------------------------------------------------

    def _push(self, device_id: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        record = Received(device=device_id, status=0, topic=headers.get("topic"), ttl=headers.get("ttl"),
                          urgency=headers.get("urgency"), authorization=headers.get("authorization"), payload=None,
                          at=time.monotonic())
        extra: dict[str, str] = {}
        device = self.devices.get(device_id)
        try:
            if device is None:
                raise Refused(404, "no such subscription")
            self._check_headers(headers, body)
            self._check_vapid(headers.get("authorization", ""), device)
            with self._lock:
                self._well_formed += 1
                inline = self._well_formed % self.decrypt_every == 0
                if not inline:
                    self._undecrypted.append((record, device, body))
            if inline:
                self._decrypt(record, device, body)
            with self._lock:
                answer = device.answers[0] if device.answers else Answer(201)
                if len(device.answers) > 1:
                    device.answers.pop(0)
            record.status = answer.status
            if answer.retry_after is not None:
                extra["Retry-After"] = answer.retry_after
            if answer.status == 201:
                extra["Location"] = f"{self.origin}/message/{secrets.token_urlsafe(8)}"
        except Refused as refused:
            record.status = refused.status
            record.error = refused.reason
        with self._lock:
            self.requests.append(record)
            if record.status == 201 and device is not None:
                key = record.topic or f"untopiced-{len(self.requests)}"
                device.messages[key] = record.payload if self.keep_payloads else {}
                self.delivered += 1
                fired = [w for w in self._watchers if self.delivered >= w[0]]
                for watcher in fired:
                    self._watchers.remove(watcher)
                    watcher[1].set()
        return record.status, extra

    def _decrypt(self, record: Received, device: Device, body: bytes) -> None:
        try:
            plain = http_ece.decrypt(body, private_key=device.private_key, auth_secret=device.auth_secret,
                                     version="aes128gcm")
        except Exception as exc:  # any failure to decrypt is the sender's fault
            raise Refused(400, f"cannot decrypt: {type(exc).__name__}: {exc}") from None
        try:
            record.payload = json.loads(plain)
        except ValueError:
            record.payload = {"_raw": plain.decode("utf-8", "replace")}
        with self._lock:
            self.decrypted += 1

    @staticmethod
    def _check_headers(headers: dict[str, str], body: bytes) -> None:
        ttl = headers.get("ttl")
        if ttl is None or not ttl.isdigit():
            raise Refused(400, f"TTL missing or not a non-negative integer: {ttl!r}")
        if headers.get("urgency") not in URGENCIES:
            raise Refused(400, f"Urgency missing or unknown: {headers.get('urgency')!r}")
        topic = headers.get("topic")
        if topic is not None and not TOPIC.match(topic):
            raise Refused(400, f"bad Topic {topic!r}")
        if headers.get("content-encoding", "").lower() != "aes128gcm":
            raise Refused(400, f"Content-Encoding is not aes128gcm: {headers.get('content-encoding')!r}")
        if not body:
            raise Refused(400, "empty body")
        if len(body) > MAX_BODY:
            raise Refused(413, f"body of {len(body)} bytes")

    def _check_vapid(self, authorization: str, device: Device) -> None:
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise Refused(401, f"Authorization is not vapid: {authorization[:40]!r}")
        values = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        token, key = values.get("t", ""), values.get("k", "")
        if not token or not key:
            raise Refused(401, "vapid t= or k= missing")
        if device.server_key is not None and key != device.server_key:
            raise Refused(403, "k is not the key this subscription was made with")
        with self._lock:
            claims = self._tokens.get((token, key))
        if claims is None:
            claims = verify_es256(token, key)
            with self._lock:
                self.token_checks += 1
                self._tokens[(token, key)] = claims
        if claims.get("aud") != self.origin:
            raise Refused(401, f"aud {claims.get('aud')!r} is not {self.origin!r}")
        exp, now = claims.get("exp"), time.time()
        if not isinstance(exp, int) or exp <= now:
            raise Refused(401, f"exp {exp!r} is not in the future")
        if exp > now + MAX_EXP_AHEAD_S:
            raise Refused(401, f"exp {exp} is more than 24 h ahead")
        if not claims.get("sub"):
            raise Refused(401, "sub missing")


# --- as a process (benchmarks) ---------------------------------------------------------------------


class FakePushServiceProcess:
    """The service in a process of its own (`python -m tests.push_service`), so its decryption does not share
    the sender's interpreter. Always stopped on exit (terminate, then kill)."""

    def __init__(self, delay: float = 0.0, python: str = sys.executable, keep_payloads: bool = False,
                 decrypt_every: int = 1) -> None:
        root = Path(__file__).resolve().parent.parent
        command = [python, "-m", "tests.push_service", "--port", "0", "--delay", str(delay),
                   "--decrypt-every", str(decrypt_every)]
        if not keep_payloads:
            command.append("--no-payloads")
        self.process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True)
        try:
            line = self.process.stdout.readline()  # "PORT <n>", once it listens
            if not line.startswith("PORT "):
                raise RuntimeError(f"fake push service did not start: {line!r}")
            self.port = int(line.split()[1])
        except BaseException:
            self.stop()
            raise
        self.origin = f"http://{HOST}:{self.port}"

    def _call(self, method: str, path: str, payload: dict | None = None) -> object:
        import httpx

        response = httpx.request(method, self.origin + path, json=payload, timeout=60)
        response.raise_for_status()
        return response.json() if response.content else None

    def devices(self, count: int, server_key: str | None = None) -> list[dict]:
        return self._call("POST", "/_admin/devices", {"count": count, "server_key": server_key})

    def stats(self) -> dict:
        return self._call("GET", "/_admin/stats")

    def verify(self) -> dict:
        return self._call("POST", "/_admin/verify")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> FakePushServiceProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--no-payloads", action="store_true", help="keep only the topics, not the payloads")
    parser.add_argument("--decrypt-every", type=int, default=1,
                        help="decrypt every Nth message before answering, the others in POST /_admin/verify")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    service = FakePushService(port=args.port, delay=args.delay, keep_payloads=not args.no_payloads,
                              decrypt_every=args.decrypt_every)

    async def serve() -> None:
        await service.open()
        print(f"PORT {service.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # Also end when the parent goes away (its end of our stdout is closed): never outlive a benchmark.
        parent = os.getppid()
        waiter = asyncio.ensure_future(stop.wait())
        while not waiter.done() and os.getppid() == parent:
            await asyncio.wait([waiter], timeout=1.0)
        waiter.cancel()
        await service.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
