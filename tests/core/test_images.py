"""Image loading: colour order, EXIF orientation, odd pixel formats and bad files."""

import io

import numpy as np
import pytest
from helpers import run_cli
from PIL import Image

from edgeface.errors import ImageError
from edgeface.images import bgr_to_rgb, decode_jpeg, encode_jpeg, load_image, rgb_to_bgr


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    assert load_image(buf.getvalue()).shape == (40, 20, 3)


def test_grey_alpha_and_16bit_become_rgb():
    grey = load_image(_png(Image.new("L", (8, 6), 128)))
    assert grey.shape == (6, 8, 3) and grey.dtype == np.uint8 and (grey == 128).all()
    transparent = load_image(_png(Image.new("RGBA", (8, 6), (0, 0, 0, 0))))
    assert (transparent == 255).all(), "transparent pixels go on white, not black"
    deep = Image.fromarray(np.full((6, 8), 4000, dtype=np.uint16))
    assert load_image(_png(deep)).max() == 255


def test_colour_order_round_trip():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 200  # red
    bgr = rgb_to_bgr(rgb)
    assert bgr[0, 0, 2] == 200 and bgr[0, 0, 0] == 0
    assert (bgr_to_rgb(bgr) == rgb).all()
    decoded = decode_jpeg(encode_jpeg(bgr, quality=95))
    assert decoded[0, 0, 2] > 150 and decoded[0, 0, 0] < 50


@pytest.mark.parametrize("data, words", [
    (b"this is not an image", "not a readable image"),
    (b"", "not a readable image"),
])
def test_garbage_is_refused_with_reason(data, words):
    with pytest.raises(ImageError, match=words):
        load_image(data, name="upload.jpg")


def test_truncated_jpeg_is_refused(media_dir):
    data = (media_dir / "probes" / "obama_small.jpg").read_bytes()
    with pytest.raises(ImageError, match=r"obama_small\.jpg.*corrupt or truncated"):
        load_image(data[: len(data) // 3], name="obama_small.jpg")


def test_missing_file_and_huge_image(tmp_path, monkeypatch):
    with pytest.raises(ImageError, match="cannot open"):
        load_image(tmp_path / "nope.jpg")
    monkeypatch.setattr("edgeface.images.MAX_PIXELS", 100)
    with pytest.raises(ImageError, match="larger than the limit"):
        load_image(_png(Image.new("RGB", (20, 20))))


def test_decode_jpeg_rejects_corrupt_frames():
    assert decode_jpeg(b"") is None
    assert decode_jpeg(b"\xff\xd8garbage\xff\xd9") is None


def test_a_bad_pixel_limit_setting_is_named():
    proc = run_cli("recognize", "--model", "none.data", "x.jpg", env={"EDGEFACE_MAX_IMAGE_PIXELS": "lots"},
                   check=False)
    assert proc.returncode == 2 and "EDGEFACE_MAX_IMAGE_PIXELS='lots' is not a positive whole number" in proc.stderr
    assert "Traceback" not in proc.stderr
