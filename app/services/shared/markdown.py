"""Markdown written by editors, rendered to HTML that is safe to show to everyone (articles and programs).

Two layers, so that a gap in one is caught by the other:
1. markdown-it-py with raw HTML turned off (`<script>` stays visible text) and a link check that lets
   through only http, https, mailto and relative addresses (`javascript:`, `data:` … stay plain text);
2. nh3 (ammonia) on the output, keeping only a small set of tags and attributes, adding
   `rel="noopener nofollow"` to every link and keeping images only from /uploads/.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

LINK_SCHEMES = {"http", "https", "mailto"}
TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
LINK_REL = "noopener nofollow"


def _link_allowed(url: str) -> bool:
    """http(s), mailto, or an address on this site ("/programs/3", "#top"); never javascript:, data:, …

    Whatever comes before a colon in the first segment must be an allowed scheme, so disguises such as
    "java%09script:" or "java\tscript:" (browsers drop tabs and newlines inside a scheme) are refused too.
    """
    compact = re.sub(r"[\x00-\x20\x7f]", "", url)
    head = re.split(r"[/?#]", compact, maxsplit=1)[0]
    if ":" not in head:
        return True  # relative, or protocol-relative ("//example.jp"), which is http(s)
    return head.split(":", 1)[0].lower() in LINK_SCHEMES


def image_allowed(src: str) -> bool:
    """Images from our own uploads only: the CSP allows no other, and a third-party image would tell
    another server who reads the page."""
    return src.startswith("/uploads/") and ".." not in src


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src":
        return value if image_allowed(value) else None
    if tag == "a" and name == "href":
        return value if _link_allowed(value) else None
    return value


def _shift_headings(state) -> None:
    """The page's own title is the <h1>: the body's biggest heading becomes <h2> and the others keep their steps
    below it, so a body that starts at "##" (as editors often write) skips no level (WCAG 1.3.1)."""
    headings = [token for token in state.tokens if token.type in ("heading_open", "heading_close")]
    if not headings:
        return
    shift = 2 - min(int(token.tag[1]) for token in headings)
    for token in headings:
        token.tag = f"h{min(int(token.tag[1]) + shift, 6)}"


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.validateLink = _link_allowed
    md.core.ruler.push("shift_headings", _shift_headings)
    return md


_MD = _parser()


def render(text: str) -> Markup:
    """Editor's Markdown → sanitised HTML, ready for a template (no `|safe` needed)."""
    if not text:
        return Markup("")
    cleaned = nh3.clean(
        _MD.render(text),
        tags=TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes=LINK_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return Markup(cleaned)  # noqa: S704 - sanitised by nh3 just above


def plain_text(text: str, limit: int = 200) -> str:
    """A short plain-text excerpt of Markdown (for descriptions when there is no lead)."""
    words = re.sub(r"\s+", " ", html.unescape(nh3.clean(_MD.render(text or ""), tags=set()))).strip()
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"
