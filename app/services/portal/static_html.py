"""The links of one page of the static export, made to work from a folder (app/services/portal/static_export.py).

Every address in an `href` or `src` goes through one of two answers the caller gives: `link` for where a reader
goes (a page of the export, or the app's own address for anything else) and `asset` for what the page loads
(the stylesheet, the icons, the images). Links written by `url_for` and those in what editors wrote (a cover
image, a Markdown link to another article) are the same to it. What only htmx reads (`hx-*`) goes, as htmx does
not come along. Everything else is copied as it came: the standard library's parser hands over each piece of
the page, and only a start tag with an address or an htmx attribute is written anew.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from html.parser import HTMLParser

# <link rel=…> that a page loads; any other <link> (canonical, alternate feeds) is a link like <a>.
LOADED_RELS = frozenset({"stylesheet", "icon", "apple-touch-icon"})

Link = Callable[[str, str | None], str]  # (address, hreflang) -> address to write
Asset = Callable[[str], str]  # address -> address to write


class _Rewriter(HTMLParser):
    def __init__(self, link: Link, asset: Asset) -> None:
        super().__init__(convert_charrefs=False)
        self.link, self.asset = link, asset
        self.out: list[str] = []

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], closing: str) -> None:
        values = dict(attrs)
        loads = tag != "link" or bool(LOADED_RELS & set((values.get("rel") or "").lower().split()))
        written, changed = [], False
        for name, value in attrs:
            if name.startswith("hx-"):
                changed = True
                continue
            if value is not None and name == "src":
                new = self.asset(value)
            elif value is not None and name == "href":
                new = self.asset(value) if tag == "link" and loads else self.link(value, values.get("hreflang"))
            else:
                new = value
            changed = changed or new != value
            written.append(name if new is None else f'{name}="{escape(new, quote=True)}"')
        raw = self.get_starttag_text() or ""
        self.out.append("<" + " ".join([tag, *written]) + closing if changed else raw)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, ">")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, " />")

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def unknown_decl(self, data: str) -> None:
        self.out.append(f"<![{data}]>")

    def handle_pi(self, data: str) -> None:
        self.out.append(f"<?{data}>")


def rewrite(html: str, link: Link, asset: Asset) -> str:
    parser = _Rewriter(link, asset)
    parser.feed(html)
    parser.close()
    return "".join(parser.out)
