"""The one valence/arousal → EaMD class mapping (montage §3.2; tools/core/emotion.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.core.emotion import EMOTION_ANGLES_DEG, EMOTION_VA, EMOTIONS, NEUTRAL_RADIUS, va_class_probs, va_to_class
from tools.core.models import EmotionClass


def _at(angle_deg: float, radius: float = 0.35) -> tuple[float, float]:
    """(valence, arousal) at ``angle_deg`` on the circumplex, ``radius`` from the centre."""
    return 0.5 + radius * math.cos(math.radians(angle_deg)), 0.5 + radius * math.sin(math.radians(angle_deg))


@dataclass(frozen=True)
class Region:
    valence: float
    arousal: float
    expected: EmotionClass


REGIONS = [
    # the centre of the plane pulls nowhere
    pytest.param(Region(0.5, 0.5, "neutral"), id="centre"),
    pytest.param(Region(0.53, 0.47, "neutral"), id="near-centre"),
    # pleasant, aroused (quadrant I)
    pytest.param(Region(0.9, 0.9, "excited"), id="QI-diagonal"),
    pytest.param(Region(0.9, 0.6, "excited"), id="QI-pleasant"),
    # unpleasant, aroused (quadrant II): tense next to the arousal axis, fearful further out
    pytest.param(Region(0.48, 0.95, "tense"), id="QII-arousal-axis"),
    pytest.param(Region(0.2, 0.8, "fearful"), id="QII-diagonal"),
    pytest.param(Region(0.1, 0.95, "fearful"), id="QII-very-aroused"),
    # unpleasant, calm (quadrant III)
    pytest.param(Region(0.1, 0.1, "sad"), id="QIII-diagonal"),
    pytest.param(Region(0.1, 0.6, "sad"), id="QII-barely-aroused"),
    # pleasant, calm (quadrant IV)
    pytest.param(Region(0.9, 0.1, "relaxed"), id="QIV-diagonal"),
    pytest.param(Region(0.8, 0.15, "relaxed"), id="QIV"),
]


@pytest.mark.parametrize("case", REGIONS)
def test_regions_map_as_the_circumplex_says(case: Region) -> None:
    assert va_to_class(case.valence, case.arousal) == case.expected


@pytest.mark.parametrize(
    ("word", "angle_deg", "expected"),
    [  # Russell (1980): where the class names themselves sit
        ("excited", 49, "excited"), ("tense", 93, "tense"), ("afraid", 117, "fearful"),
        ("sad", 208, "sad"), ("relaxed", 316, "relaxed"),
    ],
)
def test_russell_terms_land_in_their_class(word: str, angle_deg: float, expected: EmotionClass) -> None:
    assert va_to_class(*_at(angle_deg)) == expected, word


def test_covers_exactly_the_six_classes() -> None:
    assert set(EMOTIONS) == set(get_args(EmotionClass)) and len(EMOTIONS) == 6
    hit = {va_to_class(v / 40, a / 40) for v in range(41) for a in range(41)}
    assert hit == set(EMOTIONS)
    assert [n for _, n in EMOTION_ANGLES_DEG] == ["excited", "tense", "fearful", "sad", "relaxed"]
    assert EMOTION_ANGLES_DEG[-1][0] == 360.0


def test_class_prototypes_map_back_to_their_class() -> None:
    assert set(EMOTION_VA) == set(EMOTIONS)
    for e, (v, a) in EMOTION_VA.items():
        assert va_to_class(v, a) == e


@given(v=st.floats(0, 1), a=st.floats(0, 1))
@settings(max_examples=300, deadline=None)
def test_soft_probabilities_agree_with_the_hard_class(v: float, a: float) -> None:
    p = va_class_probs(v, a)
    assert list(p) == list(EMOTIONS)
    assert sum(p.values()) == pytest.approx(1.0) and all(x >= 0 for x in p.values())
    hard = va_to_class(v, a)
    assert p[hard] == pytest.approx(max(p.values()))


def test_soft_probabilities_are_confident_inside_a_region() -> None:
    assert va_class_probs(0.5, 0.5)["neutral"] > 0.8
    for e in ("excited", "relaxed", "sad", "fearful"):
        assert va_class_probs(*EMOTION_VA[e])[e] > 0.99
    # on the excited/tense border (80°) the two share the mass
    p = va_class_probs(*_at(80.0, 0.3))
    assert abs(p["excited"] - p["tense"]) < 0.05 and p["excited"] + p["tense"] > 0.95


def test_neutral_disc_radius() -> None:
    assert va_to_class(0.5 + 0.99 * NEUTRAL_RADIUS, 0.5) == "neutral"
    assert va_to_class(0.5 + 1.01 * NEUTRAL_RADIUS, 0.5) == "excited"
