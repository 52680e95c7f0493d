"""Whole yen as people type them: 1200, 1,200, ¥1,200, １２００円 (full-width read as half-width). Budgets, payments
and travel-subsidy claims all take amounts this way."""

from __future__ import annotations

import re
import unicodedata

_YEN = re.compile(r"^(?:¥|￥)?(\d{1,3}(?:,\d{3})+|\d+)(?:円)?$")


def parse_yen(text: str) -> int | None:
    """Whole yen as typed, or None for anything else (a decimal, a minus, a comma in the wrong place, words)."""
    match = _YEN.match(unicodedata.normalize("NFKC", text or "").strip().replace(" ", ""))
    return int(match.group(1).replace(",", "")) if match else None
