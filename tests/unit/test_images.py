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
