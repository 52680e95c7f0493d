"""Texts ready to post from the region's official accounts about a program or an article (seed 004 §4(4)): one for
X within its length, one each for Facebook, Instagram and LINE, with the page's link and the region's hashtags.

X counts a character outside Latin scripts and common punctuation as two (its "weighted length", as
twitter-text defines it) and any link as 23, up to 280: a Japanese post holds about 140 characters, so the
summary is cut to what fits. Instagram shows no links in a caption, so the caption says where the link is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from app.i18n import datetime_range, in_locale
from app.i18n import gettext as _

X_LIMIT = 280
X_LINK = 23
# twitter-text's ranges that count as one; everything else (CJK, kana, full-width forms, emoji) counts two.
_ONE = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_LINK = re.compile(r"https?://\S+")
_NOT_IN_TAG = re.compile(r"[\s#・、。,.!?！？「」（）()]+")


@dataclass(frozen=True)
class Post:
    channel: str  # x | facebook | instagram | line
    label: str
    text: str
    limit: int | None = None
    length: int = 0  # as the channel counts it (X: weighted)


def x_length(text: str) -> int:
    """The length X counts: links 23 each, the rest weighted as twitter-text weights it."""
    links = _LINK.findall(text)
    rest = _LINK.sub("", text)
    return X_LINK * len(links) + sum(1 if any(a <= ord(c) <= b for a, b in _ONE) else 2 for c in rest)


def hashtags(*words: str) -> str:
    """Each word as a hashtag (spaces and punctuation taken out, as a tag cannot hold them), once each."""
    tags: list[str] = []
    for word in words:
        tag = _NOT_IN_TAG.sub("", word or "")
        if tag and f"#{tag}" not in tags:
            tags.append(f"#{tag}")
    return " ".join(tags)


def _fit_x(head: str, summary: str, tail: str) -> str:
    """head, as much of the summary as fits (cut with …), and tail, within X's limit."""
    whole = "\n".join(part for part in (head, summary, tail) if part)
    if x_length(whole) <= X_LIMIT or not summary:
        return whole
    kept = summary
    while kept and x_length("\n".join((head, kept + "…", tail))) > X_LIMIT:
        kept = kept[:-1]
    return "\n".join(part for part in (head, kept + "…" if kept else "", tail) if part)


# What the region's accounts tag every post with, besides the region and the area: the theme of the work.
THEME_TAG = "関係人口"


def posts(title: str, summary: str, links: Mapping[str, str], region: str, area: str = "",
          starts_at: datetime | None = None, ends_at: datetime | None = None, place: str = "") -> list[Post]:
    """The four texts for one page, in Japanese for the accounts' readers (dates as members read them), whatever
    language the staff member reads the app in. `links` holds each account's link to the page (its campaign's,
    campaigns.official_account_links), so the dashboard tells the readers of each account apart."""
    with in_locale("ja"):
        details = [datetime_range(starts_at, ends_at) if starts_at and ends_at else "", place]
        return _posts(title, summary, [d for d in details if d], links, hashtags(region, THEME_TAG, area))


def _posts(title: str, summary: str, details: list[str], links: Mapping[str, str], tags: str) -> list[Post]:
    head = "\n".join([f"【{title}】", *details])
    x_text = _fit_x(head, summary, f"{links['x']}\n{tags}")
    body = "\n\n".join(part for part in (head, summary) if part)
    details_line = _("Details and applications:")
    # A caption's link cannot be tapped: the profile's link is the account's campaign link, set once by staff.
    profile_line = _("The link is in our profile.")
    return [
        Post("x", "X", x_text, X_LIMIT, x_length(x_text)),
        Post("facebook", "Facebook", f"{body}\n\n{details_line}\n{links['facebook']}\n\n{tags}"),
        Post("instagram", "Instagram", f"{body}\n\n{profile_line}\n\n{tags}"),
        Post("line", "LINE", f"{head}\n{links['line']}"),
    ]
