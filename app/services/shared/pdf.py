"""PDFs of our own pages (the yearly report, a member's 登録証): the page's HTML printed by headless Chromium
(`--print-to-pdf`), so the file and the page on screen are one design, with the Japanese fonts of the server."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from app.i18n import gettext as _
from app.services.shared.refusals import Refusal

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# A headless Chromium on a server (the PDFs here, the browser tests too): no sandbox (it runs as whatever user the
# app runs as), no background connections (the machine may have no network, and the pages need none), and no
# omnibox popup, a page of browser chrome that Chromium 156 loads in a renderer of its own even when headless: a
# sixth less CPU for a PDF, a quarter less for the browser tests.
HEADLESS_FLAGS = (
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup",
)
CHROMIUM_FLAGS = (
    "--headless", *HEADLESS_FLAGS, "--disable-extensions", "--no-pdf-header-footer",
    # Bookmarks from the page's headings: a reader jumps to a section of a long report, and the titles are text.
    "--generate-pdf-document-outline",
)
PDF_TIMEOUT_S = 90
_pdf_turn = asyncio.Semaphore(1)  # one Chromium at a time: it takes a few hundred MB while it prints


class PdfUnavailable(Refusal):
    """No PDF could be made: `reason` is "no_chromium" or "failed"."""

    @property
    def message(self) -> str:
        if self.reason == "no_chromium":
            return _("The PDF is made with Chromium, which is not installed on this server (Debian: apt-get install "
                     "chromium fonts-noto-cjk). Meanwhile open the printable report and choose Print → Save as PDF.")
        return _("The PDF could not be made this time. Try again, or open the printable report and choose Print → "
                 "Save as PDF.")


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


async def render_pdf(html: str, chromium: str | None = None) -> bytes:
    """Print a self-contained page (its assets are file:// URLs or inline) to an A4 PDF."""
    chromium = chromium or chromium_path()
    if chromium is None:
        raise PdfUnavailable("no_chromium")
    async with _pdf_turn:
        with tempfile.TemporaryDirectory(prefix="tsunagu-pdf-") as folder:
            page, pdf = Path(folder) / "page.html", Path(folder) / "page.pdf"
            page.write_text(html, encoding="utf-8")
            process = await asyncio.create_subprocess_exec(
                chromium, *CHROMIUM_FLAGS, f"--user-data-dir={Path(folder) / 'profile'}", f"--print-to-pdf={pdf}",
                page.as_uri(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                await asyncio.wait_for(process.wait(), PDF_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise PdfUnavailable("failed") from None
            data = pdf.read_bytes() if pdf.is_file() else b""
    if process.returncode != 0 or not data.startswith(b"%PDF"):
        raise PdfUnavailable("failed")
    return data
