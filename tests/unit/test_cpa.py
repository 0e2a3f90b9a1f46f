"""Cognitive property scores: ranges, directions, EaMD mapping, motion, and the Learnable Wundt Curve."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.core.emotion import EMOTION_ANGLES_DEG, va_to_class
from tools.core.images import colourfulness, load_image
from tools.core.registry import run_tool
from tools.understand.cpa import (
    ScoreItem,
    load_wundt,
    persuasiveness,
    score_items,
    still_scores,
    train_wundt,
)

EMOTIONS = {"excited", "fearful", "neutral", "relaxed", "sad", "tense"}


@pytest.fixture(scope="module")
def coffee(media_dir: Path) -> np.ndarray:
    return load_image(media_dir / "images" / "skimage_coffee.png")


def test_still_scores_directions(coffee: np.ndarray) -> None:
    base = still_scores(coffee)
    assert all(0 <= v <= 1 for v in base.values())
    grey = cv2.cvtColor(cv2.cvtColor(coffee, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    assert colourfulness(grey) == pytest.approx(0, abs=1e-6)
    assert base["colourfulness"] > 0.3
    blurred = still_scores(cv2.GaussianBlur(coffee, (0, 0), 6))
    assert blurred["sharpness"] < base["sharpness"] and blurred["aesthetics"] < base["aesthetics"]
    flat = still_scores(np.full((200, 300, 3), 128, np.uint8))
    assert flat["contrast"] == pytest.approx(0, abs=1e-6)
    # Valdez & Mehrabian: saturation raises arousal, brightness raises valence
    hsv = cv2.cvtColor(coffee, cv2.COLOR_RGB2HSV)
    hsv[..., 1] = np.clip(hsv[..., 1].astype(int) * 2, 0, 255)
    sat = still_scores(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
    assert sat["arousal"] > base["arousal"]
    dark = still_scores((coffee * 0.4).astype(np.uint8))
    assert dark["valence"] < base["valence"]


def test_composition_prefers_thirds_and_centre_over_corner() -> None:
    def blob(cx: float, cy: float) -> np.ndarray:
        img = np.full((300, 450, 3), 40, np.uint8)
        cv2.circle(img, (int(cx * 450), int(cy * 300)), 30, (250, 200, 40), -1)
        return img

    thirds = still_scores(blob(1 / 3, 1 / 3))["composition"]
    corner = still_scores(blob(0.07, 0.9))["composition"]
    assert thirds > 0.7 > corner


@given(v=st.floats(0, 1), a=st.floats(0, 1))
@settings(max_examples=200, deadline=None)
def test_emotion_class_total_and_consistent(v: float, a: float) -> None:
    e = va_to_class(v, a)
    assert e in EMOTIONS
    if abs(v - 0.5) < 0.05 and abs(a - 0.5) < 0.05:
        assert e == "neutral"


def test_emotion_quadrants() -> None:
    assert va_to_class(0.9, 0.8) == "excited"
    assert va_to_class(0.8, 0.15) == "relaxed"
    assert va_to_class(0.15, 0.2) == "sad"
    assert va_to_class(0.48, 0.95) == "tense"
    assert va_to_class(0.2, 0.8) == "fearful"
    assert [n for _, n in EMOTION_ANGLES_DEG] == ["excited", "tense", "fearful", "sad", "relaxed"]


def test_wundt_curve_is_bell_shaped_and_bounded() -> None:
    m = load_wundt()
    ar = [persuasiveness(0.6, 0.6, x, m) for x in np.linspace(0, 1, 21)]
    peak = int(np.argmax(ar))
    assert 0 < peak < 20  # rises, then falls: over-stimulation hurts (survey §4.3.2)
    assert ar[0] < ar[peak] and ar[-1] < ar[peak]
    assert all(0 <= x <= 1 for x in ar)


def test_train_wundt_fits_targets_and_pairs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(200, 3))
    y = np.exp(-((x[:, 2] - 0.3) ** 2) / 0.02) * 0.8  # an arousal optimum at 0.3, unlike the default
    m, losses = train_wundt(x.tolist(), y.tolist(), epochs=250, seed=0, save_to=tmp_path / "lwc.pt")
    assert losses[-1] < 0.5 * losses[0]
    m2 = load_wundt(tmp_path / "lwc.pt")
    lo, hi = persuasiveness(0.5, 0.5, 0.3, m2), persuasiveness(0.5, 0.5, 0.9, m2)
    assert lo > hi
    _, pl = train_wundt(x.tolist(), pairs=[(0, 1), (2, 3), (4, 5)], epochs=50)
    assert pl[-1] <= pl[0]


def test_score_materials_photos_and_shots(media_dir: Path) -> None:
    items = [
        {"id": "coffee", "path": str(media_dir / "images" / "skimage_coffee.png")},
        {"id": "camera", "path": str(media_dir / "images" / "skimage_camera.png")},
        {"id": "marathon", "path": str(media_dir / "video" / "marathon_public_domain.mkv"), "start_s": 0, "end_s": 3},
        {"id": "chaplin", "path": str(media_dir / "video" / "chaplin_moviepy.mp4"), "start_s": 0, "end_s": 3},
    ]
    out = {m.id: m for m in run_tool("score_materials", {"items": items}).items}
    for m in out.values():
        assert all(0 <= v <= 1 for v in m.scores.values()), m
        assert m.emotion in EMOTIONS
    assert out["coffee"].scores["motion"] == 0
    assert out["marathon"].scores["motion"] > out["chaplin"].scores["motion"]  # crowd running vs static camera
    assert out["camera"].scores["colourfulness"] < out["coffee"].scores["colourfulness"]


def test_single_item_and_bad_span(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ScoreItem(id="x", path=str(tmp_path / "a.mp4"), start_s=2, end_s=1)
    rgb_path = Path(__file__)  # not an image
    from tools.core.errors import UnsupportedMediaError

    with pytest.raises(UnsupportedMediaError):
        score_items([ScoreItem(id="x", path=str(rgb_path))])
