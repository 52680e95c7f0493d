"""App icons drawn from the region's colours, so a municipality's installed PWA wears its own theme; and the
inline SVG icons of the pages, drawn once."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache, lru_cache

from jinja2 import Environment
from markupsafe import Markup
from PIL import Image, ImageDraw

ICON_SIZES = (192, 512)
ICONS_TEMPLATE = "components/icons.html"


def _hex(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


@cache
def icon_svg(theme: str, accent: str) -> bytes:
    """The plain icon as SVG, for the logo in the page header and the browser tab: a few hundred bytes where
    the 192 px PNG is over thirteen thousand. The same geometry as `draw_icon` on a 100-unit square."""
    content = 74.0
    ring = content * 0.56
    width = ring * 0.16
    radius = (ring - width) / 2  # PIL draws an outline inside its box; SVG centres the stroke on the circle
    offset = content * 0.22
    circles = "".join(
        f'<circle cx="{50 + dx:.2f}" cy="50" r="{radius:.2f}" fill="none" stroke="{colour}" stroke-width="{width:.2f}"/>'
        for dx, colour in ((-offset, "#fff"), (offset, accent))
    )
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
            f'<rect width="100" height="100" rx="22" fill="{theme}"/>{circles}</svg>').encode()


@cache
def draw_icon(size: int, theme: str, accent: str, maskable: bool = False) -> bytes:
    """Two linked rings (つなぐ, to connect) on the theme colour.

    A maskable icon fills the square and keeps its drawing inside the central 80% safe zone;
    a plain icon is a rounded square with a transparent margin.
    """
    scale = 4  # draw large, then downsample for smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, big, big), fill=_hex(theme))
        content = big * 0.62
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=_hex(theme))
        content = big * 0.74
    ring = content * 0.56
    width = max(2, int(ring * 0.16))
    cy = big / 2
    offset = content * 0.22
    for cx, colour in ((big / 2 - offset, (255, 255, 255)), (big / 2 + offset, _hex(accent))):
        draw.ellipse((cx - ring / 2, cy - ring / 2, cx + ring / 2, cy + ring / 2), outline=colour, width=width)
    image = image.resize((size, size), Image.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def inline_icons(environment: Environment) -> Callable[..., Markup]:
    """`icon(name, label=None)` for the templates: the inline SVG of components/icons.html, drawn once per process.

    A page calls icon() some 35 times, and each call of the Jinja macro ran its chain of eighteen name tests and
    built the markup again (≈ 0.3 ms of CPU a page). The macro (`drawn_icon`) stays the one place the drawings
    are kept; its output for each name and label is kept here, so the markup is the macro's, byte for byte. The
    labels are texts of ours (translated), so the few pairs are all kept. The drawings have no words of their own
    (tests/test_i18n.py), so the one environment given draws them for every language.
    """
    @lru_cache(maxsize=512)
    def icon(name: str, label: str | None = None) -> Markup:
        return Markup(environment.get_template(ICONS_TEMPLATE).module.drawn_icon(name, label))

    return icon
