"""Quality metrics move the right way, the pixel-limit guard, and near-duplicates keep the best copy."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tools.core.errors import MediaError, UnsupportedMediaError
from tools.core.images import load_image
from tools.understand.quality import find_near_duplicates, measure_quality, phash
from tools.core.registry import run_tool

sys.path.insert(0, str(Path(__file__).parent))
from _media_edits import edited_copies  # noqa: E402


@pytest.fixture(scope="module")
def coffee(media_dir: Path) -> np.ndarray:
    return load_image(media_dir / "images" / "skimage_coffee.png")


def test_blur_dark_bright_move_the_right_way(coffee: np.ndarray) -> None:
    base = measure_quality(coffee)
    blurred = measure_quality(cv2.GaussianBlur(coffee, (0, 0), 5))
    dark = measure_quality((coffee * 0.15).astype(np.uint8))
    bright = measure_quality(np.clip(coffee.astype(np.int32) + 200, 0, 255).astype(np.uint8))
    assert not base.is_blurry and blurred.is_blurry and blurred.blur > base.blur
    assert dark.is_underexposed and not base.is_underexposed
    assert bright.is_overexposed and not base.is_overexposed
    assert base.quality > max(blurred.quality, dark.quality, bright.quality)
    flat = measure_quality(np.full((100, 100, 3), 128, np.uint8))
    assert flat.colour_entropy == pytest.approx(0.0) and base.colour_entropy > 3


def test_white_packshot_is_not_overexposed(media_dir: Path) -> None:
    m = measure_quality(media_dir / "images" / "magento_mb01-blue-0.jpg")
    assert m.bright_ratio > 0.3 and not m.is_overexposed and not m.is_blurry


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(p)  # a few kB on disk, 144 MP when decoded
    assert p.stat().st_size < 200_000
    with pytest.raises(MediaError, match="decompression bomb"):
        load_image(p, max_pixels=80_000_000)


def test_bad_images(tmp_path: Path, coffee: np.ndarray) -> None:
    (tmp_path / "x.jpg").write_text("not an image")
    with pytest.raises(UnsupportedMediaError):
        load_image(tmp_path / "x.jpg")
    Image.fromarray(coffee).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError, match="corrupt or truncated"):
        load_image(tmp_path / "trunc.jpg")


def test_phash_flip_invariant(coffee: np.ndarray) -> None:
    assert phash(coffee) == phash(coffee[:, ::-1])


def test_near_duplicates_keep_the_better_copy(media_dir: Path) -> None:
    """Edited copies group with their original and the original is kept; different photos never group."""
    names = ["skimage_coffee.png", "magento_mg01-bk-0.jpg", "magento_mg04-bk-0.jpg", "skimage_chelsea.png"]
    items = {n: load_image(media_dir / "images" / n, max_side=1024) for n in names}
    ed = edited_copies(items["skimage_coffee.png"])
    items["coffee_half"] = ed["half"]
    items["coffee_blur"] = cv2.GaussianBlur(items["skimage_coffee.png"], (0, 0), 3)
    items["coffee_jpeg"] = ed["jpeg40"]
    groups = find_near_duplicates(items)
    assert len(groups) == 1, groups  # the two black watches (closest different pair) stay apart
    assert groups[0].keep == "skimage_coffee.png"
    assert set(groups[0].drop) == {"coffee_half", "coffee_blur", "coffee_jpeg"}


def test_assess_quality_tool(media_dir: Path) -> None:
    p = str(media_dir / "images" / "skimage_camera.png")
    out = run_tool("assess_quality", {"paths": [p], "find_duplicates": False})
    assert out.images[0].metrics.colour_entropy >= 0 and 0 <= out.images[0].metrics.quality <= 1
