"""GIF-thumbnail metrics of the GIF paper: Perceptual Matching Error (eq. 8) and Posterior Score (eq. 9).

Both are plain numpy/scipy functions (no registry tool): the thumbnail tool, GEVADEN training
and the benchmarks call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tools.core.errors import InternalError, ToolInputError


def pme_single(g: np.ndarray, X: np.ndarray, y: int, tol: float = 1e-9) -> float:
    """Normalised Perceptual Matching Error of one generated shot feature (GIF paper, eq. 8).

    PME(g, X, y) = min_v ||v|| / ||g − x_y||  s.t.  ||g + v − x_y|| ≤ ||g + v − x_j||  ∀ x_j ∈ X.

    Squaring both sides makes every constraint linear in p = g + v:
    2 pᵀ(x_j − x_y) ≤ ||x_j||² − ||x_y||², i.e. p must lie in the Voronoi cell of x_y. So PME is
    the Euclidean distance from g to that polyhedron (a convex QP), divided by ||g − x_y||. It is
    0 when g already matches x_y and at most 1 (v = x_y − g is always feasible).

    Exact solution: if projecting g onto one violated face already satisfies every constraint,
    that projection is optimal (the distance to a polyhedron is at least the distance to any
    half-space containing it), in closed form. Otherwise the QP min ½||v||² s.t. A v ≤ c is
    solved with SLSQP from the feasible start v = x_y − g to ~1e-12 relative tolerance.

    Args:
        g: generated feature, shape [D].
        X: all shot features of the video, shape [n, D].
        y: index of the ground-truth shot.
    """
    from scipy.optimize import minimize

    g = np.asarray(g, np.float64).ravel()
    X = np.asarray(X, np.float64)
    if X.ndim != 2 or X.shape[1] != g.size:
        raise ToolInputError(f"PME needs X of shape [n, {g.size}], got {X.shape}")
    if not 0 <= y < len(X):
        raise ToolInputError(f"ground-truth index {y} outside the video's {len(X)} shots")
    xy = X[y]
    denom = float(np.linalg.norm(g - xy))
    if denom <= tol:
        return 0.0
    others = np.array([j for j in range(len(X)) if j != y and np.linalg.norm(X[j] - xy) > tol], int)
    if others.size == 0:
        return 0.0
    A = 2.0 * (X[others] - xy)  # rows: constraint normals
    b = (X[others] ** 2).sum(1) - (xy ** 2).sum()
    # constraint on v: A (g + v) ≤ b  ⇔  A v ≤ b − A g
    c = b - A @ g
    if np.all(c >= -tol):
        return 0.0  # g already in the cell of x_y
    # A single violated half-space that the projection satisfies exactly is the common case
    # (two shots, or g near one face): closed form, checked against all constraints.
    best = None
    for k in np.flatnonzero(c < 0):
        a = A[k]
        v = a * (c[k] / (a @ a))
        if np.all(A @ v <= c + 1e-9 * (1 + np.abs(c))):
            nv = float(np.linalg.norm(v))
            best = nv if best is None else min(best, nv)
    if best is not None:
        return min(1.0, best / denom)
    v0 = xy - g  # feasible
    res = minimize(
        lambda v: 0.5 * float(v @ v),
        v0,
        jac=lambda v: v,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda v: c - A @ v, "jac": lambda v: -A}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    # SLSQP may stop with "positive directional derivative" *at* the optimum (a tight ftol):
    # accept any feasible point it returns, never one that violates a constraint
    v = res.x
    if np.any(A @ v > c + 1e-7 * (1 + np.abs(c))):
        if res.success:
            raise InternalError(f"PME solver returned an infeasible move ({res.message})")
        v = v0
    nv = float(np.linalg.norm(v))
    return min(1.0, nv / denom)


def pme(G: np.ndarray, X: np.ndarray, Y: Sequence[int]) -> float:
    """PME(g, X, Y) = (1/|Y|) Σ_i PME(g_i, X, y_i) (GIF paper, text after eq. 8).

    Args:
        G: generated shot features, shape [k, D] (k = |Y|, 3 for a GIF thumbnail).
        X: shot features of the video, shape [n, D].
        Y: ground-truth shot indices, length k.
    """
    G = np.atleast_2d(np.asarray(G, np.float64))
    if len(G) != len(Y) or len(Y) == 0:
        raise ToolInputError(f"PME needs one generated feature per ground-truth shot, got {len(G)} and {len(Y)}")
    return float(np.mean([pme_single(G[i], X, int(Y[i])) for i in range(len(Y))]))


def posterior_score(Y_hat: Sequence[int], C: Sequence[float]) -> float:
    """Posterior Score PS(Ŷ, C) = Σ_i C_{ŷ_i} / max(C) (GIF paper, eq. 9).

    ``C`` is the per-shot posterior signal (time-sync comments in the paper; any non-negative
    per-second interest signal here). Ranges over [0, |Ŷ|]; 3 means all three shots hit a peak.
    """
    C = np.asarray(C, np.float64)
    if C.ndim != 1 or C.size == 0:
        raise ToolInputError("PS needs a non-empty 1-D per-shot signal C")
    if np.any(C < 0):
        raise ToolInputError("PS needs a non-negative per-shot signal C (counts or scores)")
    m = C.max()
    if m <= 0:
        return 0.0
    idx = np.asarray(list(Y_hat), int)
    if np.any(idx < 0) or np.any(idx >= C.size):
        raise ToolInputError(f"shot indices {idx.tolist()} outside the video's {C.size} shots")
    return float(C[idx].sum() / m)


def best_over_ground_truths(values: Sequence[float], lower_is_better: bool) -> float:
    """The paper scores a prediction against its best-matching ground-truth GIF (one-to-many)."""
    if not values:
        raise ToolInputError("no ground-truth GIF to score against")
    return float(min(values) if lower_is_better else max(values))
