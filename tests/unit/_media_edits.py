"""Shared helpers for the retrieval tests and benchmarks: the five edits of issue 3's acceptance."""

from __future__ import annotations

import cv2
import numpy as np

EDIT_NAMES = ("crop80", "half", "jpeg40", "bright+20", "bright-20", "flip")


def edited_copies(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Centre crop to 80 % of each side, half size, JPEG quality 40, brightness +20 % and −20 %,
    horizontal flip (brightness is tested in both directions: six queries per photo)."""
    h, w = rgb.shape[:2]
    ch, cw = int(h * 0.8), int(w * 0.8)
    y, x = (h - ch) // 2, (w - cw) // 2
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 40])
    assert ok
    return {
        "crop80": np.ascontiguousarray(rgb[y : y + ch, x : x + cw]),
        "half": cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
        "jpeg40": np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]),
        "bright+20": np.clip(rgb.astype(np.float32) * 1.2, 0, 255).astype(np.uint8),
        "bright-20": np.clip(rgb.astype(np.float32) * 0.8, 0, 255).astype(np.uint8),
        "flip": np.ascontiguousarray(rgb[:, ::-1]),
    }
