"""Uploaded images are judged by their content, stored without metadata, smaller than 1600 px, under a random name."""

import io
import os

import pytest
from PIL import Image

from app.services.shared import uploads
from app.services.shared.uploads import UploadRefused
from db.tables import Upload
from tests import factories


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


def refusal(data: bytes) -> str:
    with pytest.raises(UploadRefused) as caught:
        uploads.prepare_image(data)
    assert caught.value.message  # a sentence for the person, not a code
    return caught.value.reason


@pytest.mark.parametrize("fmt,content_type", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_it_accepts_jpeg_png_and_webp_and_keeps_their_type(fmt, content_type):
    prepared = uploads.prepare_image(image_bytes(fmt))
    assert prepared.content_type == content_type
    assert Image.open(io.BytesIO(prepared.data)).format == fmt
    assert (prepared.width, prepared.height) == (800, 600)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_and_location_are_removed(fmt):
    original = image_bytes(fmt, exif=exif_with_gps())
    assert dict(Image.open(io.BytesIO(original)).getexif())  # the test photo does carry EXIF
    prepared = uploads.prepare_image(original)
    stored = Image.open(io.BytesIO(prepared.data))
    assert not dict(stored.getexif())
    assert "exif" not in stored.info and "icc_profile" not in stored.info
    assert b"PhoneMaker" not in prepared.data


def test_a_photo_taken_sideways_is_turned_upright_before_its_exif_goes():
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    prepared = uploads.prepare_image(image_bytes("JPEG", size=(400, 300), exif=exif.tobytes()))
    assert (prepared.width, prepared.height) == (300, 400)


def test_large_pictures_are_resized_to_1600_px_on_the_long_side():
    prepared = uploads.prepare_image(image_bytes("JPEG", size=(4000, 3000)))
    assert (prepared.width, prepared.height) == (1600, 1200)
    tall = uploads.prepare_image(image_bytes("PNG", size=(1000, 2400)))
    assert (tall.width, tall.height) == (667, 1600)


def test_transparency_survives_in_png():
    prepared = uploads.prepare_image(image_bytes("PNG", mode="RGBA"))
    assert Image.open(io.BytesIO(prepared.data)).mode == "RGBA"


def test_a_php_script_named_like_a_photo_is_refused():
    assert refusal(b"<?php system($_GET['cmd']); ?>\n") == "not_image"


def test_a_php_script_behind_a_jpeg_signature_is_refused():
    assert refusal(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00<?php system($_GET['cmd']); ?>") in ("not_image", "broken")


def test_a_gif_is_refused():
    assert refusal(image_bytes("GIF")) == "not_image"


def test_an_svg_with_script_is_refused():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
    assert refusal(svg) == "not_image"


def test_a_file_over_5_mb_is_refused_before_decoding():
    assert refusal(b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024)) == "too_big"


def test_an_empty_file_is_refused():
    assert refusal(b"") == "empty"


def test_a_truncated_jpeg_is_refused():
    whole = image_bytes("JPEG", size=(600, 400), noisy=True, quality=95)
    assert refusal(whole[: int(len(whole) * 0.8)]) == "broken"


def test_a_small_file_claiming_a_huge_picture_is_refused():
    bomb = image_bytes("PNG", size=(9000, 6000), mode="1")
    assert len(bomb) < uploads.MAX_BYTES
    assert refusal(bomb) == "too_many_pixels"


def test_the_refusal_is_explained_in_japanese():
    with pytest.raises(UploadRefused) as caught:
        uploads.prepare_image(image_bytes("GIF"))
    assert "JPEG" in caught.value.message and "画像" in caught.value.message


async def test_a_stored_image_gets_a_random_name_a_file_and_a_row(tmp_path):
    account_id = await factories.staff_account(role="editor", area=await factories.area())
    url = await uploads.save_image(image_bytes("PNG"), tmp_path, account_id)
    name = uploads.name_of(url)
    assert url.startswith("/uploads/") and name and name.endswith(".png")
    row = await Upload.select().where(Upload.name == name).first()
    assert row["content_type"] == "image/png" and row["uploaded_by"] == account_id
    assert (row["width"], row["height"]) == (800, 600)
    path, content_type = await uploads.find(name, tmp_path)
    assert path == tmp_path / "uploads" / name and path.stat().st_size == row["size"]
    assert content_type == "image/png"
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
