"""Uploaded images: checked by their content, re-encoded without metadata, resized, stored under generated names.

What a person sends is never stored as sent. Pillow must decode the whole picture as JPEG, PNG or WebP
(the file name and the declared type are ignored), and the stored file is a fresh encoding of the pixels
only: EXIF (camera, GPS position), ICC profiles and comments are left behind. The name is random, so
neither a path nor an extension from the sender ever reaches the disk.

Decoding a large photo takes a good part of a second of CPU: it runs in a worker thread, so the event loop
keeps serving other requests meanwhile (Pillow lets go of the GIL while it decodes, resizes and encodes).
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.i18n import gettext as _
from app.services.shared import clock
from app.services.shared.refusals import Refusal
from db.tables import Upload

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 1600
# Decoding is refused above this many pixels: a small file can claim a huge canvas (a "decompression bomb").
MAX_PIXELS = 40_000_000
# Pillow's own guard, which Image.open runs on the header before any pixel is decoded, warns above its
# limit and raises DecompressionBombError above twice it (its default is about 89 million). Set here, where
# ours is, so that it agrees with ours for every image this process opens.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
JPEG_QUALITY = 85
# Pillow format → (content type, extension). Only these decoders are ever tried.
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|pdf)$")
# A PDF cannot be re-encoded like a picture: it is kept as sent when its content is a whole PDF (the header at
# the start, the end-of-file marker at the end) and is served only as a download (routes: get_upload).
PDF_HEADER = re.compile(rb"^%PDF-[12]\.\d")
PDF_END = b"%%EOF"
PDF_TYPE = "application/pdf"
URL_PREFIX = "/uploads/"


class UploadRefused(Refusal):
    """The file cannot be used; `message` tells the person what to do, in their language."""

    def messages(self) -> dict[str, str]:
        return {
            "empty": _("Choose an image file."),
            "too_big": _("The image is larger than %(mb)d MB. Choose a smaller one.", mb=MAX_BYTES // (1024 * 1024)),
            "too_many_pixels": _("The image is too large in size. Choose one of at most %(mp)d megapixels.",
                                 mp=MAX_PIXELS // 1_000_000),
            "not_image": _("This file is not a JPEG, PNG or WebP image. Choose a photo or picture in one of these formats."),
            "broken": _("The image could not be read to the end; it may be damaged. Save it again and choose it once more."),
            "default": _("The image could not be used."),
        }

    @property
    def message(self) -> str:
        words = self.messages()
        return words.get(self.reason, words["default"])


@dataclass(frozen=True)
class PreparedImage:
    """A checked, cleaned and resized image (or a checked PDF, kept as it came), held in memory until it is stored."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def directory(var_dir: Path) -> Path:
    return Path(var_dir) / "uploads"


async def prepare_image(data: bytes) -> PreparedImage:
    """Decode, strip and resize, in a worker thread. Raises UploadRefused; writes nothing.

    Every upload goes through here (the upload page, article covers, the portal's hero photo)."""
    if not data:
        raise UploadRefused("empty")
    if len(data) > MAX_BYTES:
        raise UploadRefused("too_big")
    return await asyncio.to_thread(_prepare, data)


async def prepare_attachment(data: bytes) -> PreparedImage:
    """An image (as prepare_image) or a PDF checked by its content; a mail's attachments go through here."""
    if data and len(data) <= MAX_BYTES and PDF_HEADER.match(data):
        if PDF_END not in data[-1024:]:
            raise UploadRefused("broken")
        return PreparedImage(data, PDF_TYPE, "pdf", 0, 0)
    return await prepare_image(data)


def _prepare(data: bytes) -> PreparedImage:
    try:
        # Above MAX_PIXELS Pillow warns and the check below refuses (no catch_warnings to make the warning an
        # error: it is not thread-safe); above twice MAX_PIXELS Pillow refuses by itself.
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as opened:
            kind = opened.format
            if kind not in FORMATS:
                raise UploadRefused("not_image")
            if opened.width * opened.height > MAX_PIXELS:  # from the header: nothing is decoded yet
                raise UploadRefused("too_many_pixels")
            opened.load()  # decodes every byte: a truncated or corrupt file fails here
            image = ImageOps.exif_transpose(opened)  # keep the picture upright once EXIF is gone
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # the warning too, under -W error
        raise UploadRefused("too_many_pixels") from None
    except UnidentifiedImageError:
        raise UploadRefused("not_image") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise UploadRefused("broken") from None
    content_type, extension = FORMATS[kind]
    image = _clean_mode(image, kind)
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    image.info.clear()  # no EXIF, ICC profile, comments or text chunks travel to the new file
    out = io.BytesIO()
    if kind == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif kind == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=JPEG_QUALITY, method=4)
    return PreparedImage(out.getvalue(), content_type, extension, image.width, image.height)


def _clean_mode(image: Image.Image, kind: str) -> Image.Image:
    """A colour mode that resizes smoothly and that the format stores well: CMYK JPEGs become RGB,
    palette and 16-bit PNGs become RGB, and transparency becomes a real alpha channel."""
    if kind == "JPEG":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return image.convert("RGBA")
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def _write(path: Path, data: bytes) -> None:
    """Write beside the target and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


async def store(image: PreparedImage, var_dir: Path, uploaded_by: int | None) -> str:
    """Write the file and its Upload row; returns the URL (/uploads/<name>). On failure nothing is left."""
    name = f"{secrets.token_hex(16)}.{image.extension}"
    path = directory(var_dir) / name
    _write(path, image.data)
    try:
        await Upload.insert(
            Upload(name=name, content_type=image.content_type, width=image.width, height=image.height,
                   size=len(image.data), uploaded_by=uploaded_by, created_at=clock.now())
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return URL_PREFIX + name


async def save_image(data: bytes, var_dir: Path, uploaded_by: int | None) -> str:
    """Check and store in one step (the upload page). Raises UploadRefused before anything is written."""
    return await store(await prepare_image(data), var_dir, uploaded_by)


def name_of(url: str) -> str | None:
    """The stored name in an /uploads/<name> URL, or None if the URL is not one of ours."""
    if not url.startswith(URL_PREFIX):
        return None
    name = url[len(URL_PREFIX):]
    return name if NAME.match(name) else None


async def exists(url: str) -> bool:
    name = name_of(url)
    return name is not None and await Upload.exists().where(Upload.name == name)


async def discard(url: str, var_dir: Path) -> None:
    """Remove a stored image and its row (used when what it was uploaded for could not be saved)."""
    name = name_of(url)
    if name is None:
        return
    (directory(var_dir) / name).unlink(missing_ok=True)
    await Upload.delete().where(Upload.name == name)


async def find(name: str, var_dir: Path) -> tuple[Path, str] | None:
    """(path on disk, stored content type) of an upload, or None if unknown or missing."""
    if not NAME.match(name):
        return None
    row = await Upload.select(Upload.content_type).where(Upload.name == name).first()
    path = directory(var_dir) / name
    if row is None or not path.is_file():
        return None
    return path, row["content_type"]


def remove_files(urls: list[str], var_dir: Path) -> None:
    """Remove the files of uploads whose rows are gone already (deleted in a transaction that has committed)."""
    for url in urls:
        name = name_of(url)
        if name is not None:
            (directory(var_dir) / name).unlink(missing_ok=True)
