"""A short, human name for a device from its User-Agent, for passkey and session lists."""

from __future__ import annotations

from app.i18n import gettext as _

# Order matters: iPad before Mac (iPadOS says "Macintosh"), Android before Linux.
_PATTERNS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Macintosh", "Mac"),
    ("CrOS", "Chromebook"),
    ("Linux", "Linux"),
)
_BROWSERS = (("Edg/", "Edge"), ("Chrome/", "Chrome"), ("Firefox/", "Firefox"), ("Safari/", "Safari"))


def device_label(user_agent: str) -> str:
    system = next((name for needle, name in _PATTERNS if needle in user_agent), "")
    browser = next((name for needle, name in _BROWSERS if needle in user_agent), "")
    if system and browser:
        return f"{system} · {browser}"
    return system or browser or _("Unknown device")
