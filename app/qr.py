"""QR codes as inline SVG (crisp on any screen, printable, no image request, allowed by the CSP)."""

from __future__ import annotations

from functools import lru_cache

import qrcode
import qrcode.image.svg
from markupsafe import Markup


def qr_svg(data: str, label: str) -> Markup:
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=4,
    )
    svg = image.to_string(encoding="unicode")
    # The library writes a fixed size in mm; CSS sizes the code, and a label makes it accessible.
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(label)}" class="qr" ', 1)
    return Markup(svg)


# Drawing a code costs ≈ 9 ms of CPU (the library tries all eight mask patterns and keeps the most readable,
# then writes the SVG path), more than all the rest of a card or wallet page. A signed code is shown again and
# again: a wallet token lasts as long as its pass, a card token a day (member_card.card_expiry), a check-in
# code its day; the page is reloaded, refreshed by the service worker and opened at every counter. So each is
# drawn once per process and kept: 512 codes of ≈ 13 kB are at most ≈ 7 MB. The mask is still the library's
# choice: at a counter in poor light the most readable one is worth the 5 ms it costs on a miss. One-time links
# (invitations, recovery) use qr_svg: drawn once anyway, and a secret should not outlive its page in memory.
@lru_cache(maxsize=512)
def signed_code_qr_svg(token: str, label: str) -> Markup:
    return qr_svg(token, label)
