"""A fake LINE platform on loopback, strict the way the Messaging API reference describes it, and the LINE side of
account linking.

Every API call is checked before it is answered: `Authorization: Bearer <channel access token>` (401
otherwise), `Content-Type: application/json`, `X-Line-Retry-Key` a UUID when present, and the body's schema
(`to` a user id, `messages` 1–5 text messages of 1–5000 characters). A call that fails a check is answered
400/401 and listed in `errors`.

- `POST /v2/bot/message/push`: answers what the test told it for that user (`answer`): 200 by default, or
  400, 429 with `Retry-After`, 500… Only a 200 delivers; it also remembers the retry key, and a later request
  with that key is answered 409 with `X-Line-Accepted-Request-Id`, as LINE does, and delivers nothing.
- `POST /v2/bot/user/{userId}/linkToken`: a link token for that user.
- `POST /v2/bot/message/reply`: a reply to an event the fake sent (its reply token, once).
- `GET /dialog/bot/accountLink?linkToken&nonce`: the browser confirming the link. With a known, unused link
  token, the fake posts the signed `accountLink` event (result ok, the nonce) to the app's webhook and sends
  the browser back to `return_url`; otherwise the event says failed.

`follow`, `unfollow`, `account_link` and `message` build the events LINE would send, and `signed` gives the
body and the `X-Line-Signature` header (HMAC-SHA256 of the body with the channel secret, base64).

It serves from its own thread and event loop: `with FakeLinePlatform(secret, token) as line:`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
from aiohttp import web

from app.settings import Line

HOST = "127.0.0.1"
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
TEXT_MAX = 5000


def user_id() -> str:
    return "U" + secrets.token_hex(16)


@dataclass
class Answer:
    status: int
    retry_after: str | None = None


@dataclass
class LineUser:
    id: str
    messages: list[str] = field(default_factory=list)  # pushed texts LINE delivered
    replies: list[str] = field(default_factory=list)  # replies to the events this user caused
    answers: list[Answer] = field(default_factory=list)  # consumed in order; the last one stays


@dataclass
class Call:
    path: str
    status: int
    retry_key: str | None
    body: dict | None
    error: str = ""


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class FakeLinePlatform:
    def __init__(self, channel_secret: str = "fake-channel-secret", access_token: str = "fake-access-token") -> None:
        self.channel_secret = channel_secret
        self.access_token = access_token
        self.port = 0
        self.users: dict[str, LineUser] = {}
        self.calls: list[Call] = []
        self.accepted_keys: dict[str, str] = {}  # retry key -> request id
        self.link_tokens: dict[str, str] = {}  # link token -> user id (unused ones)
        self.reply_tokens: dict[str, str] = {}  # reply token -> user id (unused ones)
        self.webhook_url = ""  # the app's webhook, for the account-link dialog
        self.return_url = ""  # where the dialog sends the browser afterwards
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # --- what tests use ---------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def account_link_url(self) -> str:
        return f"{self.origin}/dialog/bot/accountLink"

    def settings(self, add_friend_url: str = "") -> Line:
        """The app's LINE settings pointed at this platform, with its secret and token."""
        return Line(channel_id="2000000000", channel_secret=self.channel_secret, access_token=self.access_token,
                    api_base=self.origin, account_link_url=self.account_link_url, add_friend_url=add_friend_url)

    def user(self) -> LineUser:
        made = LineUser(user_id())
        with self._lock:
            self.users[made.id] = made
        return made

    def answer(self, user: LineUser, *statuses: int, retry_after: str | None = None) -> None:
        """What push answers this user's next requests: one status per request, the last repeats."""
        with self._lock:
            user.answers = [Answer(status, retry_after) for status in statuses]

    @property
    def errors(self) -> list[Call]:
        return [call for call in self.calls if call.error]

    def pushes_to(self, user: LineUser) -> list[Call]:
        return [c for c in self.calls if c.path == "/v2/bot/message/push" and c.body and c.body.get("to") == user.id]

    def wait_for(self, condition, timeout_s: float = 5.0) -> None:
        """Waits (bounded) for `condition()`: the app replies after its webhook has answered."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the fake LINE platform did not see what was expected in time")
            time.sleep(0.02)

    # --- events, as LINE sends them to the webhook ------------------------------------------------

    def _event(self, kind: str, user: LineUser, reply: bool = True, **extra) -> dict:
        event = {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
                 "source": {"type": "user", "userId": user.id}, "webhookEventId": secrets.token_hex(13).upper(),
                 "deliveryContext": {"isRedelivery": False}, **extra}
        if reply:
            token = secrets.token_hex(16)
            with self._lock:
                self.reply_tokens[token] = user.id
            event["replyToken"] = token
        return event

    def follow(self, user: LineUser) -> dict:
        return self._event("follow", user, follow={"isUnblocked": False})

    def unfollow(self, user: LineUser) -> dict:
        return self._event("unfollow", user, reply=False)

    def account_link(self, user: LineUser, nonce: str, result: str = "ok") -> dict:
        return self._event("accountLink", user, reply=result == "ok", link={"result": result, "nonce": nonce})

    def message(self, user: LineUser, text: str) -> dict:
        return self._event("message", user, message={"id": "1", "type": "text", "text": text, "quoteToken": "q"})

    def signed(self, *events: dict, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"destination": "U" + "0" * 32, "events": list(events)}, ensure_ascii=False).encode()
        digest = hmac.new((secret or self.channel_secret).encode(), body, hashlib.sha256).digest()
        return body, {"Content-Type": "application/json", "X-Line-Signature": base64.b64encode(digest).decode()}

    # --- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> FakeLinePlatform:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._open())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-line-platform", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake LINE platform did not start")
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _open(self) -> None:
        app = web.Application()
        app.router.add_post("/v2/bot/message/push", self._push)
        app.router.add_post("/v2/bot/message/reply", self._reply)
        app.router.add_post("/v2/bot/user/{user_id}/linkToken", self._link_token)
        app.router.add_get("/dialog/bot/accountLink", self._account_link_dialog)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    # --- the API ----------------------------------------------------------------------------------

    async def _checked(self, request: web.Request, body_expected: bool = True) -> tuple[dict | None, str | None]:
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            raise Refused(401, f"bad Authorization: {request.headers.get('Authorization', '')[:20]!r}")
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                raise Refused(400, f"X-Line-Retry-Key is not a UUID: {key!r}") from None
        if not body_expected:
            return None, key
        if request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise Refused(400, f"Content-Type {request.headers.get('Content-Type')!r}")
        try:
            body = json.loads(await request.read())
        except ValueError:
            raise Refused(400, "body is not JSON") from None
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            raise Refused(400, "messages: 1 to 5 expected")
        for message in messages:
            text = message.get("text") if isinstance(message, dict) else None
            if message.get("type") != "text" or not isinstance(text, str) or not 1 <= len(text) <= TEXT_MAX:
                raise Refused(400, f"not a text message of 1-{TEXT_MAX} characters: {str(message)[:80]}")
        return body, key

    async def _api(self, request: web.Request, handle, body_expected: bool = True) -> web.Response:
        call = Call(request.path, 0, request.headers.get("X-Line-Retry-Key"), None)
        try:
            body, key = await self._checked(request, body_expected)
            call.body = body
            status, headers, answer = handle(request, body, key)
        except Refused as refused:
            status, headers, answer, call.error = refused.status, {}, {"message": refused.reason}, refused.reason
        call.status = status
        with self._lock:
            self.calls.append(call)
        return web.json_response(answer, status=status, headers=headers)

    async def _push(self, request: web.Request) -> web.Response:
        return await self._api(request, self._push_answer)

    def _push_answer(self, request, body: dict, key: str | None) -> tuple[int, dict, dict]:
        to = body.get("to")
        if not isinstance(to, str) or not USER_ID.match(to):
            raise Refused(400, f"`to` is not a user id: {to!r}")
        with self._lock:
            if key is not None and key in self.accepted_keys:
                return 409, {"X-Line-Accepted-Request-Id": self.accepted_keys[key]}, {
                    "message": "The retry key is already accepted"}
            user = self.users.get(to)
            if user is None:
                return 400, {}, {"message": "Failed to send messages"}
            answer = user.answers[0] if user.answers else Answer(200)
            if len(user.answers) > 1:
                user.answers.pop(0)
            if answer.status != 200:
                headers = {"Retry-After": answer.retry_after} if answer.retry_after is not None else {}
                return answer.status, headers, {"message": "answered as the test asked"}
            request_id = str(uuid.uuid4())
            if key is not None:
                self.accepted_keys[key] = request_id
            user.messages.extend(message["text"] for message in body["messages"])
        return 200, {"X-Line-Request-Id": request_id}, {"sentMessages": [{"id": secrets.token_hex(8)}]}

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._api(request, self._reply_answer)

    def _reply_answer(self, request, body: dict, key: str | None) -> tuple[int, dict, dict]:
        if key is not None:
            raise Refused(400, "reply does not take X-Line-Retry-Key")
        with self._lock:
            to = self.reply_tokens.pop(str(body.get("replyToken")), None)
            if to is None:
                raise Refused(400, "Invalid reply token")
            self.users[to].replies.extend(message["text"] for message in body["messages"])
        return 200, {}, {"sentMessages": [{"id": secrets.token_hex(8)}]}

    async def _link_token(self, request: web.Request) -> web.Response:
        return await self._api(request, self._link_token_answer, body_expected=False)

    def _link_token_answer(self, request, body, key: str | None) -> tuple[int, dict, dict]:
        if key is not None:
            raise Refused(400, "linkToken does not take X-Line-Retry-Key")
        user = request.match_info["user_id"]
        if user not in self.users:
            raise Refused(400, f"no such user {user!r}")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.link_tokens[token] = user
        return 200, {}, {"linkToken": token}

    # --- the account-link dialog ------------------------------------------------------------------

    async def _account_link_dialog(self, request: web.Request) -> web.Response:
        """The member's browser arrives from the app; the member is the LINE user the token was issued for."""
        token, nonce = request.query.get("linkToken", ""), request.query.get("nonce", "")
        with self._lock:
            owner = self.link_tokens.pop(token, None)
        user = self.users.get(owner) if owner else None
        event = self.account_link(user, nonce) if user and nonce else None
        if event is None:
            return web.Response(status=400, text="invalid link token")
        body, headers = self.signed(event)
        async with httpx.AsyncClient(timeout=10) as client:
            answered = await client.post(self.webhook_url, content=body, headers=headers)
        if answered.status_code != 200:
            return web.Response(status=502, text=f"the webhook answered {answered.status_code}")
        raise web.HTTPFound(self.return_url)
