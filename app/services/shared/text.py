"""Typed text as it is kept, whichever domain keeps it."""

from __future__ import annotations

import unicodedata


def clean_text(value: str) -> str:
    """Typed text as it is kept: line breaks normalised, control characters dropped (PostgreSQL refuses NUL in
    text), surrounding space trimmed."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in value if c in "\n\t" or unicodedata.category(c) != "Cc").strip()
