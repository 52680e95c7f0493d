"""Typed text as it is kept, whichever domain keeps it."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit


def clean_text(value: str) -> str:
    """Typed text as it is kept: line breaks normalised, control characters dropped (PostgreSQL refuses NUL in
    text), surrounding space trimmed."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in value if c in "\n\t" or unicodedata.category(c) != "Cc").strip()


# Hiragana, katakana, the long vowel mark and spaces: how a name's reading (フリガナ) is written.
KANA_PATTERN = re.compile(r"^[\u3041-\u309F\u30A0-\u30FF\u30FC\s　]+$")


def contains_pattern(term: str) -> str:
    """An ILIKE pattern for "contains `term`": its own wildcards and escapes dropped, so a typed % or _ matches
    itself nowhere rather than everything."""
    return "%" + term.replace("\\", "").replace("%", "").replace("_", "") + "%"


def is_site_path(text: str) -> bool:
    """A path on this site as it is written: no scheme or host (nor a scheme-relative //host), no backslash
    (browsers read it as /), no whitespace, control or format character (browsers drop some of them)."""
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return False
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc
