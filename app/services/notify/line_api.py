"""The Messaging API through LINE's own SDK (line-bot-sdk): its async client, pointed at LINE_API_BASE.

A client is an aiohttp session, so one is made inside the running event loop for a sender round or for the
replies to one webhook call, and closed after it. Every request is bounded (REQUEST_TIMEOUT_S): the SDK's
own default is five minutes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import TYPE_CHECKING

from app.settings import Line

if TYPE_CHECKING:
    from linebot.v3.messaging import AsyncMessagingApi, TextMessage

REQUEST_TIMEOUT_S = 10
TEXT_MAX = 5000  # characters in one text message (Messaging API reference, "Text message")


def sdk() -> ModuleType:
    """The SDK's Messaging API, imported when first used: importing it costs ≈ 0.7 s of CPU (pydantic models for its
    few hundred methods), which every process paid at start — the server, each worker, each test process — though
    only LINE's sender and webhook ever call it."""
    import linebot.v3.messaging

    return linebot.v3.messaging


@asynccontextmanager
async def messaging_api(line: Line) -> AsyncIterator[AsyncMessagingApi]:
    messaging = sdk()
    client = messaging.AsyncApiClient(messaging.Configuration(host=line.api_base, access_token=line.access_token))
    try:
        yield messaging.AsyncMessagingApi(client)
    finally:
        await client.close()


def text_message(text: str) -> TextMessage:
    return sdk().TextMessage(text=text[:TEXT_MAX])


async def reply(api: AsyncMessagingApi, reply_token: str, text: str) -> None:
    await api.reply_message(sdk().ReplyMessageRequest(reply_token=reply_token, messages=[text_message(text)]),
                            _request_timeout=REQUEST_TIMEOUT_S)


async def issue_link_token(api: AsyncMessagingApi, user_id: str) -> str:
    """A link token for this LINE user: valid ten minutes, once (the first step of account linking)."""
    response = await api.issue_link_token(user_id, _request_timeout=REQUEST_TIMEOUT_S)
    return response.link_token

