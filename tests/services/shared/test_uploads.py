"""Uploaded images are judged by their content, stored without metadata, smaller than 1600 px, under a random name."""

import asyncio
import importlib
import io
import os
import struct
import time
import zlib

import pytest
from PIL import Image, ImageFile

from app.services.shared import uploads
from app.services.shared.actor import Actor
from app.services.shared.uploads import UploadRefused
from db.tables import DeskMail, Spending, Upload
from tests import factories

# The data migration that made the personal documents kept before private uploads private.
personal_uploads_private = importlib.import_module("db.piccolo_migrations.db_2026_12_06t14_46_48_000000")


def image_bytes(fmt: str = "JPEG", size=(800, 600), mode: str = "RGB", noisy: bool = False, **save) -> bytes:
    image = Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode))) if noisy else Image.new(mode, size, "teal")
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def exif_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:05:01 10:00:00"  # DateTime
    exif[0x8825] = {1: "N", 2: (42.0, 38.0, 1.0), 3: "E", 4: (141.0, 36.0, 2.0)}  # GPS: where the photo was taken
    return exif.tobytes()


async def refusal(data: bytes) -> str:
    with pytest.raises(UploadRefused) as caught:
        await uploads.prepare_image(data)
    assert caught.value.message  # a sentence for the person, not a code
    return caught.value.reason


@pytest.mark.parametrize("fmt,content_type", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
async def test_it_accepts_jpeg_png_and_webp_and_keeps_their_type(fmt, content_type):
    prepared = await uploads.prepare_image(image_bytes(fmt))
    assert prepared.content_type == content_type
    assert Image.open(io.BytesIO(prepared.data)).format == fmt
    assert (prepared.width, prepared.height) == (800, 600)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
async def test_exif_and_location_are_removed(fmt):
    original = image_bytes(fmt, exif=exif_with_gps())
    assert dict(Image.open(io.BytesIO(original)).getexif())  # the test photo does carry EXIF
    prepared = await uploads.prepare_image(original)
    stored = Image.open(io.BytesIO(prepared.data))
    assert not dict(stored.getexif())
    assert "exif" not in stored.info and "icc_profile" not in stored.info
    assert b"PhoneMaker" not in prepared.data


async def test_a_photo_taken_sideways_is_turned_upright_before_its_exif_goes():
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    prepared = await uploads.prepare_image(image_bytes("JPEG", size=(400, 300), exif=exif.tobytes()))
    assert (prepared.width, prepared.height) == (300, 400)


async def test_large_pictures_are_resized_to_1600_px_on_the_long_side():
    prepared = await uploads.prepare_image(image_bytes("JPEG", size=(4000, 3000)))
    assert (prepared.width, prepared.height) == (1600, 1200)
    tall = await uploads.prepare_image(image_bytes("PNG", size=(1000, 2400)))
    assert (tall.width, tall.height) == (667, 1600)


async def test_transparency_survives_in_png():
    prepared = await uploads.prepare_image(image_bytes("PNG", mode="RGBA"))
    assert Image.open(io.BytesIO(prepared.data)).mode == "RGBA"


async def test_a_php_script_named_like_a_photo_is_refused():
    assert await refusal(b"<?php system($_GET['cmd']); ?>\n") == "not_image"


async def test_a_php_script_behind_a_jpeg_signature_is_refused():
    assert await refusal(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00<?php system($_GET['cmd']); ?>") in ("not_image", "broken")


async def test_a_gif_is_refused():
    assert await refusal(image_bytes("GIF")) == "not_image"


async def test_an_svg_with_script_is_refused():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
    assert await refusal(svg) == "not_image"


async def test_a_file_over_5_mb_is_refused_before_decoding():
    assert await refusal(b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024)) == "too_big"


async def test_an_empty_file_is_refused():
    assert await refusal(b"") == "empty"


async def test_a_truncated_jpeg_is_refused():
    whole = image_bytes("JPEG", size=(600, 400), noisy=True, quality=95)
    assert await refusal(whole[: int(len(whole) * 0.8)]) == "broken"


async def test_a_small_file_claiming_a_huge_picture_is_refused():
    bomb = image_bytes("PNG", size=(9000, 6000), mode="1")
    assert len(bomb) < uploads.MAX_BYTES
    with pytest.warns(Image.DecompressionBombWarning):  # Pillow's guard agrees with ours
        assert await refusal(bomb) == "too_many_pixels"


def png_header(width: int, height: int) -> bytes:
    """A PNG that only claims a size: its header, one IDAT chunk with no pixels in it, and the end."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.fixture
def decoded(monkeypatch) -> list:
    """The sizes of the images whose pixels were decoded."""
    sizes: list = []
    load = ImageFile.ImageFile.load

    def counting_load(image):
        sizes.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return sizes


async def test_a_picture_over_the_pixel_limit_is_refused_from_its_header_without_being_decoded(decoded):
    with pytest.raises(UploadRefused) as caught:
        await uploads.prepare_image(png_header(20_000, 20_000))  # 400 megapixels: 1.2 GB once decoded
    assert caught.value.reason == "too_many_pixels" and "40" in caught.value.message
    with pytest.warns(Image.DecompressionBombWarning):
        assert await refusal(png_header(7_000, 6_000)) == "too_many_pixels"  # just over 40 megapixels
    assert decoded == []


async def test_the_event_loop_keeps_serving_while_a_large_photo_is_prepared():
    photo = image_bytes("JPEG", size=(7_000, 5_000))  # 35 megapixels, under the limit: about half a second of work
    gaps: list[float] = []

    async def tick() -> None:  # stands for every other request the process is serving meanwhile
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    prepared = await uploads.prepare_image(photo)
    took = time.perf_counter() - started
    ticking.cancel()
    assert (prepared.width, prepared.height) == (1600, 1143)
    assert took > 0.15, "the photo should take long enough to show a stall"
    # Decoded on the loop, one gap would be as long as the whole preparation. In a thread the ticks go on,
    # ~10 ms apart; the bound leaves room for a busy machine that runs the loop late now and then.
    assert max(gaps) < took / 2, f"the event loop stood still for {max(gaps):.3f} s of {took:.3f} s"


async def test_the_refusal_is_explained_in_japanese():
    with pytest.raises(UploadRefused) as caught:
        await uploads.prepare_image(image_bytes("GIF"))
    assert "JPEG" in caught.value.message and "画像" in caught.value.message


async def test_a_stored_image_gets_a_random_name_a_file_and_a_row(tmp_path):
    account_id = await factories.staff_account(role="editor", area=await factories.area())
    url = await uploads.save_image(image_bytes("PNG"), tmp_path, account_id)
    name = uploads.name_of(url)
    assert url.startswith("/uploads/") and name and name.endswith(".png")
    row = await Upload.select().where(Upload.name == name).first()
    assert row["content_type"] == "image/png" and row["uploaded_by"] == account_id
    assert (row["width"], row["height"]) == (800, 600)
    found = await uploads.find(name, tmp_path)
    assert found.path == tmp_path / "uploads" / name and found.path.stat().st_size == row["size"]
    assert (found.content_type, found.private, found.uploaded_by) == ("image/png", False, account_id)
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == [name]  # no temporary file left behind


async def test_two_uploads_of_the_same_picture_get_different_names(tmp_path):
    data = image_bytes("JPEG")
    assert await uploads.save_image(data, tmp_path, None) != await uploads.save_image(data, tmp_path, None)


async def test_a_refused_file_leaves_nothing_behind(tmp_path):
    with pytest.raises(UploadRefused):
        await uploads.save_image(image_bytes("GIF"), tmp_path, None)
    assert await Upload.count() == 0
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


async def test_when_the_row_cannot_be_written_the_file_is_removed(tmp_path, monkeypatch):
    async def failing_insert(*rows):
        raise RuntimeError("database down")

    monkeypatch.setattr(Upload, "insert", failing_insert)
    with pytest.raises(RuntimeError):
        await uploads.save_image(image_bytes("JPEG"), tmp_path, None)
    assert not any((tmp_path / "uploads").iterdir())


async def test_find_knows_only_stored_names(tmp_path):
    url = await uploads.save_image(image_bytes("JPEG"), tmp_path, None)
    assert await uploads.find(uploads.name_of(url), tmp_path) is not None
    for name in ("../secret.jpg", "0123456789abcdef0123456789abcdef.jpg", "x.php", ""):
        assert await uploads.find(name, tmp_path) is None


async def test_discard_removes_file_and_row(tmp_path):
    url = await uploads.save_image(image_bytes("JPEG"), tmp_path, None)
    await uploads.discard(url, tmp_path)
    assert await Upload.count() == 0 and not any((tmp_path / "uploads").iterdir())


def asking(account_id: int, role: str) -> Actor:
    return Actor(account_id, role)


def may_see(found: uploads.Found, viewer: Actor | None) -> bool:
    return uploads.may_see(found.private, found.uploaded_by, viewer)


async def test_a_private_upload_is_for_staff_and_its_uploader_only(tmp_path):
    editor = await factories.staff_account("編集 鈴木", role="editor", area=await factories.area())
    url = await uploads.store(await uploads.prepare_attachment(image_bytes("JPEG")), tmp_path, editor, private=True)
    receipt = await uploads.find(uploads.name_of(url), tmp_path)
    assert receipt.private and receipt.uploaded_by == editor
    assert may_see(receipt, asking(editor, "editor"))
    assert may_see(receipt, asking(editor + 1, "staff"))
    for other in (None, asking(editor + 1, "editor"), asking(editor + 1, "member"), asking(editor + 1, "shop")):
        assert not may_see(receipt, other)
    assert not await uploads.is_public(url)  # so no cover or portal image can point at it
    cover = await uploads.save_image(image_bytes("PNG"), tmp_path, None)
    assert await uploads.openable([url, cover, "", "/uploads/x"], asking(editor + 1, "editor")) == {cover}
    assert await uploads.openable([url, cover], asking(editor, "editor")) == {url, cover}


async def test_a_private_upload_nobody_uploaded_is_for_staff_only(tmp_path):
    """A mail's attachment: the sender has no account here."""
    url = await uploads.store(await uploads.prepare_attachment(image_bytes("PNG")), tmp_path, None, private=True)
    attachment = await uploads.find(uploads.name_of(url), tmp_path)
    assert may_see(attachment, asking(7, "staff"))
    assert not may_see(attachment, asking(7, "member")) and not may_see(attachment, None)


async def test_a_public_upload_is_for_anyone(tmp_path):
    url = await uploads.save_image(image_bytes("PNG"), tmp_path, None)
    cover = await uploads.find(uploads.name_of(url), tmp_path)
    assert not cover.private and may_see(cover, None) and await uploads.is_public(url)


async def test_receipts_and_mail_attachments_kept_before_become_private_and_covers_stay_public(tmp_path, monkeypatch):
    monkeypatch.setattr(personal_uploads_private._Raw._meta, "db", Upload._meta.db)  # the test's database
    area = await factories.area()
    editor = await factories.staff_account("編集 鈴木", role="editor", area=area)
    receipt, attachment, cover = [await uploads.save_image(image_bytes("PNG"), tmp_path, editor) for _n in range(3)]
    await Spending.insert(Spending(area=area, fiscal_year=2026, payee="苫小牧観光バス", purpose="送迎", amount=12_000,
                                   receipt_url=receipt, entered_by=editor))
    await DeskMail.insert(DeskMail(mailbox="desk@127.0.0.1:143/INBOX", uidvalidity=1, uid=1, message_key="<a@example.jp>",
                                   attachments=[{"filename": "間取り.png", "url": attachment, "content_type": "image/png"},
                                                {"filename": "a.exe", "refused": "not_image"}]))
    await personal_uploads_private.mark_private()
    private = {row["name"]: row["private"] for row in await Upload.select(Upload.name, Upload.private)}
    assert private == {uploads.name_of(receipt): True, uploads.name_of(attachment): True, uploads.name_of(cover): False}
