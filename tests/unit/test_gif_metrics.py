"""PME (GIF paper eq. 8) and PS (eq. 9) on constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.core.errors import ToolInputError
from tools.explain.metrics import best_over_ground_truths, pme, pme_single, posterior_score


@pytest.mark.parametrize(
    ("g", "X", "y", "expected"),
    [
        pytest.param([3.0], [[0.0], [2.0]], 0, 2 / 3, id="1d-move-to-midpoint"),
        pytest.param([0.5], [[0.0], [2.0]], 0, 0.0, id="already-in-cell"),
        pytest.param([0.0], [[0.0], [2.0]], 0, 0.0, id="exact-match"),
        pytest.param([2.0], [[0.0], [2.0]], 0, 0.5, id="on-the-wrong-shot"),
        # cell of (0,0) among (2,0),(0,2) is x≤1, y≤1: from (3,3) to (1,1) → √8 / √18
        pytest.param([3.0, 3.0], [[0, 0], [2, 0], [0, 2]], 0, 2 / 3, id="2d-corner-of-two-faces"),
        # only the face x≤1 is violated: (3,0) → (1,0), 2/3
        pytest.param([3.0, 0.0], [[0, 0], [2, 0], [0, 2]], 0, 2 / 3, id="2d-one-face"),
        # y=1 with a third shot at (0,4): cell of (0,2) is 1 ≤ y ≤ 3; g=(0,-1) → (0,1): 2/3
        pytest.param([0.0, -1.0], [[0, 0], [0, 2], [0, 4]], 1, 2 / 3, id="middle-shot"),
    ],
)
def test_pme_known_answers(g, X, y, expected) -> None:
    assert pme_single(np.array(g), np.array(X, float), y) == pytest.approx(expected, abs=1e-6)


def test_pme_corner_needs_the_qp_and_matches_brute_force() -> None:
    # a corner where no single-face projection is feasible: the QP path
    X = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], float)
    g = np.array([5.0, 4.0])
    v = pme_single(g, X, 0)
    grid = np.stack(np.meshgrid(np.linspace(-2, 1, 601), np.linspace(-2, 1, 601)), -1).reshape(-1, 2)
    d_y = np.linalg.norm(grid - X[0], axis=1)
    inside = np.all(d_y[:, None] <= np.linalg.norm(grid[:, None] - X[None], axis=2) + 1e-12, axis=1)
    brute = np.linalg.norm(grid[inside] - g, axis=1).min() / np.linalg.norm(g - X[0])
    assert v == pytest.approx(brute, abs=2e-3)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_pme_bounds_and_zero_inside(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 3))
    g = rng.normal(size=3) * 2
    y = int(rng.integers(6))
    v = pme_single(g, X, y)
    assert 0.0 <= v <= 1.0 + 1e-9
    nearest = int(np.argmin(np.linalg.norm(X - g, axis=1)))
    if nearest == y:
        assert v == 0.0
    else:
        assert v > 0.0


def test_pme_averages_over_shots() -> None:
    X = np.array([[0.0], [2.0], [10.0]])
    assert pme(np.array([[3.0], [2.0], [10.0]]), X, [0, 1, 2]) == pytest.approx((2 / 3) / 3)


def test_posterior_score() -> None:
    C = [0, 5, 10, 2]
    assert posterior_score([2, 1, 0], C) == pytest.approx(1.5)
    assert posterior_score([2], C) == pytest.approx(1.0)
    assert posterior_score([0, 3], [0, 0, 0, 0]) == 0.0
    assert best_over_ground_truths([0.3, 0.1], lower_is_better=True) == 0.1
    with pytest.raises(ToolInputError):
        posterior_score([7], C)
    with pytest.raises(ToolInputError):
        posterior_score([0], [-1, 2])
    with pytest.raises(ToolInputError):
        pme_single(np.zeros(2), np.zeros((3, 3)), 0)
