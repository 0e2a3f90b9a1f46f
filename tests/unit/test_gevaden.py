"""GEVADEN (GIF paper, "Model") learns the GIF pattern of generated data and beats random choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools.core.errors import ToolInputError
from tools.explain.gevaden import (
    GevadenConfig,
    closest_matching,
    generate_candidates,
    load_gevaden,
    predict_triplet,
    train_gevaden,
    standardise,
)
from tools.explain.metrics import best_over_ground_truths, pme, posterior_score

D = 8


def generated_video(rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]], np.ndarray]:
    """Per-second features of a synthetic video with 4 'highlight' seconds.

    Highlights have a high feature 0 (the interest signal C); feature 1 encodes the story role
    (low = start, high = end). Ground-truth GIFs are several triplets of highlights ordered by
    feature 1 — the one-to-many relation of the paper.
    """
    n = int(rng.integers(14, 26))
    X = rng.normal(0, 1, (n, D)).astype(np.float32)
    X[:, 0] = rng.normal(-0.5, 0.3, n)
    hl = rng.choice(n, 4, replace=False)
    X[hl, 0] = rng.normal(2.5, 0.2, 4)
    C = np.clip(X[:, 0] + 1, 0, None)
    trips = []
    for drop in range(4):
        keep = [int(h) for j, h in enumerate(hl) if j != drop][:3]
        trips.append(sorted(keep, key=lambda i: X[i, 1]))
    return X, trips[:2], C


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return [generated_video(rng) for _ in range(70)]


@pytest.fixture(scope="module")
def trained(data):
    train = data[:50]
    model, losses = train_gevaden([x for x, _, _ in train], [t for _, t, _ in train], epochs=60, seed=0,
                                  cfg=GevadenConfig(n_features=D, hidden=32, gif_hidden=16))
    return model, losses


def test_loss_falls(trained) -> None:
    _, losses = trained
    assert np.isfinite(losses).all()
    # what is left is mostly the irreducible noise of the 6 random feature columns (≈ 3 shots × 6)
    assert np.mean(losses[-5:]) < 0.65 * np.mean(losses[:3]), losses[::10]


def test_beats_random_on_held_out_videos(trained, data) -> None:
    model, _ = trained
    rng = np.random.default_rng(1)
    ps_model, ps_rand, pme_model, pme_rand = [], [], [], []
    for X, trips, C in data[50:]:
        y = predict_triplet(model, X, seed=0, samples=32)
        assert len(set(y)) == 3
        ps_model.append(posterior_score(y, C))
        r = list(rng.choice(len(X), 3, replace=False))
        ps_rand.append(posterior_score(r, C))
        Xs, g, cands = generate_candidates(model, X, seed=0, samples=8)
        pme_model.append(best_over_ground_truths([pme(g[0], Xs, t) for t in trips], lower_is_better=True))
        pme_rand.append(best_over_ground_truths([pme(Xs[r], Xs, t) for t in trips], lower_is_better=True))
    # PS ranges over [0, 3]; random picks ≈ 4/n of highlights
    assert np.mean(ps_model) > np.mean(ps_rand) + 1.0, (np.mean(ps_model), np.mean(ps_rand))
    assert np.mean(pme_model) < np.mean(pme_rand) - 0.2, (np.mean(pme_model), np.mean(pme_rand))


def test_same_seed_same_prediction_and_round_trip(trained, data, tmp_path: Path) -> None:
    model, _ = trained
    X = data[60][0]
    a = predict_triplet(model, X, seed=3, samples=16)
    assert a == predict_triplet(model, X, seed=3, samples=16)
    model.save(tmp_path / "g.pt")
    assert predict_triplet(load_gevaden(tmp_path / "g.pt"), X, seed=3, samples=16) == a


def test_closest_matching_is_exact_and_disjoint() -> None:
    X = np.array([[0.0, 0], [1, 0], [5, 5], [10, 0]])
    # greedy nearest would give shot 0 twice; the exact disjoint optimum is 0 and 1
    g = np.array([[0.1, 0], [0.2, 0], [9, 0]])
    assert closest_matching(g, X) == [0, 1, 3]
    rng = np.random.default_rng(0)
    import itertools

    for _ in range(20):
        X = rng.normal(size=(7, 3))
        g = rng.normal(size=(3, 3))
        best = min(itertools.permutations(range(7), 3),
                   key=lambda p: sum(np.linalg.norm(g[i] - X[p[i]]) for i in range(3)))
        got = closest_matching(g, X)
        assert np.isclose(sum(np.linalg.norm(g[i] - X[got[i]]) for i in range(3)),
                          sum(np.linalg.norm(g[i] - X[best[i]]) for i in range(3)))


def test_bad_annotations_say_what_to_do(tmp_path: Path) -> None:
    from tools.explain.gevaden import train_gevaden_cli

    bad = tmp_path / "a.json"
    bad.write_text(json.dumps({"v.mp4": [[1, 2]]}))
    with pytest.raises(ToolInputError, match="triplets"):
        train_gevaden_cli(str(bad), str(tmp_path / "m.pt"), epochs=1, seed=0)
    with pytest.raises(ToolInputError, match="distinct"):
        train_gevaden([np.zeros((5, D))], [[[1, 1, 2]]], epochs=1)
    with pytest.raises(ToolInputError, match="not found"):
        load_gevaden(tmp_path / "missing.pt")


def test_standardise_is_per_video() -> None:
    M = np.array([[1.0, 5], [3, 5]])
    S = standardise(M)
    assert np.allclose(S[:, 0], [-1, 1], atol=1e-4) and np.allclose(S[:, 1], 0)
