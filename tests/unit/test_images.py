"""Shared still-image primitives (tools/core/images.py): one colourfulness, one saliency, resizing."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from tools.core.images import SALIENCY_SIDE_PX, as_rgb, colourfulness, resize_long, saliency_map


def test_colourfulness_is_hasler_susstrunk_m() -> None:
    assert colourfulness(np.full((20, 30, 3), 128, np.uint8)) == pytest.approx(0.0, abs=1e-9)
    # flat pure red: rg = 255, yb = 127.5, no spread → M = 0.3·√(255² + 127.5²)
    red = np.zeros((10, 10, 3), np.uint8)
    red[..., 0] = 255
    assert colourfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))
    # half red, half green: the spread term dominates
    rg = np.zeros((10, 20, 3), np.uint8)
    rg[:, :10, 0] = 255
    rg[:, 10:, 1] = 255
    assert colourfulness(rg) > colourfulness(red)


def test_saliency_map_finds_the_product_on_white() -> None:
    img = np.full((300, 600, 3), 250, np.uint8)
    cv2.circle(img, (450, 150), 50, (200, 30, 30), -1)
    sal = saliency_map(img)
    assert sal.shape == (SALIENCY_SIDE_PX // 2, SALIENCY_SIDE_PX) and sal.dtype == np.float32
    assert 0.0 <= float(sal.min()) and float(sal.max()) == pytest.approx(1.0)
    ys, xs = np.mgrid[0 : sal.shape[0], 0 : sal.shape[1]]
    cx = float((sal * (xs + 0.5)).sum() / sal.sum() / sal.shape[1])
    assert cx == pytest.approx(0.75, abs=0.05)
    assert float(saliency_map(np.full((50, 50, 3), 90, np.uint8)).max()) == 0.0  # featureless


def test_resize_long_and_as_rgb() -> None:
    img = np.zeros((100, 400, 3), np.uint8)
    assert resize_long(img, 200).shape == (50, 200, 3)
    assert resize_long(img, 400) is img
    assert as_rgb(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert as_rgb(np.ones((4, 5, 3), np.float32)).max() == 255


def _photo(path, size: tuple[int, int], seed: int = 0) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8), (0, 0), 3)
    Image.fromarray(img).save(path, quality=90)


def test_decoded_photos_are_cached_and_are_what_a_fresh_decode_gives(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every size of a photo from the cache equals a decode without it (bit for bit), the arrays
    are shared read-only, and a rewritten file is decoded again."""
    from tools.core import images

    images.clear_decode_cache()
    p = tmp_path / "big.jpg"
    _photo(p, (2600, 1700))
    sizes = [None, 1024, 768, 640, 512]
    for _ in range(2):  # second pass: from the cache
        for side in sizes:
            got = images.load_image(p, max_side=side)
            fresh = images.load_image(p, max_side=side, cache=False)
            assert got.shape == fresh.shape and np.array_equal(got, fresh), side
            assert not got.flags.writeable
    assert images.load_image(p, max_side=1024) is images.load_image(p, max_side=1024)  # one decode, one array
    hits = images._DECODED.hits
    images.load_image(p, max_side=768)
    assert images._DECODED.hits == hits + 1
    _photo(p, (900, 600), seed=1)  # the file changes: its size and mtime with it
    assert images.load_image(p).shape == (600, 900, 3)


def test_decode_cache_is_bounded_by_bytes() -> None:
    from tools.core.images import DecodeCache

    c = DecodeCache(max_bytes=1000)
    for k in range(10):
        c.put(("k", k), object(), 200)
    assert c._bytes <= 1000 and c.get(("k", 9)) is not None and c.get(("k", 0)) is None  # the oldest went first
    c.put(("huge",), object(), 600)  # over a quarter of the budget: not kept (it would flush the rest)
    assert c.get(("huge",)) is None


def test_map_in_threads_keeps_order_and_the_callers_context() -> None:
    import contextvars

    from tools.core.environment import map_in_threads

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")
    assert map_in_threads(lambda x: (x * 2, var.get()), list(range(20)), workers=4) == [(x * 2, "caller") for x in range(20)]
    assert map_in_threads(lambda x: x, []) == []
