"""Music-driven montage: the emotion-aware knapsack solver (montage §3.3–3.4) and the
end-to-end ``python app.py montage`` pipeline (shots → scenes → emotion score → solver → render).

The solver (:func:`solve_montage`, registry tool ``solve_montage``) picks shots, in chronological
order, whose *discrete* durations (whole bars, montage §3.3 eq. 3) sum to exactly ``n_bars``,
maximising the weighted emotion score p_i (montage §3.4) under a scene constraint:

* ``mode="hard"`` — at most ``max_scenes`` distinct scenes (eq. 2), solved by Algorithm 1 with
  its four transitions (state (i, j, k, z)) and backtracking;
* ``mode="soft"`` — Σ 1/|scene(i)| over picked shots ≤ ``max_scenes`` (the soft constraint),
  solved as the "vanilla three-dimensional knapsack" (i, duration, integer scene weight).

Both are exact dynamic programmes: the unit tests compare them against exhaustive search on
hundreds of random instances (tests/unit/test_montage.py).
"""

from __future__ import annotations

import math
from functools import reduce
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from tools.core.bounds import MAX_MONTAGE_BARS, MAX_MONTAGE_SHOTS, MAX_MONTAGE_STATES
from tools.core.errors import InfeasibleError, ToolInputError
from tools.core.images import colourfulness
from tools.core.models import Model
from tools.core.registry import register

_NEG = -np.inf
#: tolerance when flooring duration_s / bar_s, so 4.0 / 2.0 or 0.6 / 0.2 are not floored one bar short
_FLOOR_EPS = 1e-9
#: memory budget (bytes) for the soft solver's backtracking bits; sets the default magnification
_SOFT_BITS_BUDGET = 64 * 1024 * 1024
#: largest integer scene-weight capacity (magnification × max_scenes) the soft solver uses
_SOFT_MAX_CAPACITY = 1200


class MontageShotIn(Model):
    """A candidate shot, given in chronological order."""

    id: str = Field(min_length=1)
    """Shot id (unique)."""
    scene: int
    """Scene index; shots of one scene must be adjacent (scenes are clusters of adjacent shots)."""
    duration_s: float = Field(gt=0)
    """Continuous shot length t^{c,s}_i."""
    score: float
    """Emotion score S_i^{(i,m)} between the shot and the music (montage §3.2), e.g. a cosine in [-1, 1]."""


class SolveMontageInput(Model):
    """Input of ``solve_montage``."""

    shots: list[MontageShotIn] = Field(min_length=1, max_length=MAX_MONTAGE_SHOTS)
    """Candidate shots in chronological order."""
    bar_s: float = Field(ge=0.1, le=60)
    """Mean bar duration of the music: the discrete time unit (montage §3.3)."""
    n_bars: int = Field(ge=1, le=MAX_MONTAGE_BARS)
    """Bars to fill, N_b: the picked discrete durations must sum to exactly this."""
    max_scenes: int = Field(ge=1, le=MAX_MONTAGE_SHOTS)
    """Scene budget N_e (hard: distinct scenes; soft: Σ 1/|scene| over picked shots)."""
    mode: Literal["hard", "soft"] = "hard"
    """hard: Algorithm 1 (≤ max_scenes scenes); soft: the 3-D knapsack with scene weights 1/|scene|."""
    soft_scale: int | None = Field(default=None, ge=1, le=100_000)
    """Soft mode only: magnification constant that turns weights 1/|scene| into integers
    (⌊scale/|scene|⌋, montage §3.4). None: the lcm of the scene sizes when it fits (exact), else the
    largest scale that fits the memory budget."""


    @model_validator(mode="after")
    def _bounded(self) -> SolveMontageInput:
        """Algorithm 1 keeps 2 bytes per (shot, bar, scene) state: bounded, a clear error instead of an OOM."""
        scenes = min(self.max_scenes, len({s.scene for s in self.shots}))
        states = len(self.shots) * (self.n_bars + 1) * (scenes + 1)
        if states > MAX_MONTAGE_STATES:
            raise ValueError(f"{len(self.shots)} shots × {self.n_bars} bars × {scenes} scenes need {states:,} states, over "
                             f"{MAX_MONTAGE_STATES:,}: use fewer shots, bars or scenes")
        return self


class BarAssignment(Model):
    """φ(b_k): the shot playing in bar k."""

    bar: int = Field(ge=0)
    """Bar index, 0-based."""
    shot: str
    """Shot id."""


class MontageSegment(Model):
    """A picked shot placed on the bar grid."""

    id: str
    """Shot id."""
    scene: int
    """Its scene."""
    start_bar: int = Field(ge=0)
    """First bar it covers."""
    n_bars: int = Field(ge=1)
    """Discrete duration t^{d,s}_i = ⌊duration_s / bar_s⌋ (bars it covers)."""
    p: float
    """Weighted emotion score p_i = score + mean score of its scene."""


class SolveMontageOutput(Model):
    """Output of ``solve_montage``."""

    selected: list[str]
    """Picked shot ids in chronological order (the shot indicator 1_s)."""
    total_score: float
    """Objective: Σ p_i over picked shots (weighted emotion score)."""
    bars: list[BarAssignment]
    """Shot↔bar mapping φ, one entry per bar, in order."""
    segments: list[MontageSegment]
    """Picked shots with their bar spans, in order."""
    scenes_used: list[int]
    """Distinct scenes of the picked shots, in order of first use."""
    mode: Literal["hard", "soft"]
    """Which constraint was solved."""
    soft_weight_used: float
    """Σ 1/|scene(i)| over picked shots (the soft constraint's real-valued left side)."""
    soft_scale: int | None = None
    """Soft mode: the magnification constant used."""
    soft_exact: bool | None = None
    """Soft mode: True when ⌊scale/|scene|⌋ = scale/|scene| for every scene, so the integer
    constraint equals the real one; otherwise the real usage may exceed max_scenes by at most
    n_bars/scale (the flooring of montage §3.4)."""


# --------------------------------------------------------------------------- preparation


def discrete_durations(durations_s: list[float] | np.ndarray, bar_s: float) -> np.ndarray:
    """t^{d,s}_i = ⌊t^{c,s}_i / t^{d,b}⌋ (montage §3.3), with a 1e-9 tolerance against float error."""
    d = np.asarray(durations_s, dtype=np.float64) / float(bar_s)
    return np.floor(d + _FLOOR_EPS).astype(np.int64)


def weighted_scores(scores: list[float] | np.ndarray, scenes: list[int] | np.ndarray) -> np.ndarray:
    """p_i = S_i + mean of S over the shots of scene τ(s_i) (montage §3.4)."""
    s = np.asarray(scores, dtype=np.float64)
    sc = np.asarray(scenes)
    _, inv = np.unique(sc, return_inverse=True)
    sums = np.bincount(inv, weights=s)
    counts = np.bincount(inv)
    return s + (sums / counts)[inv]


def scene_sizes(scenes: list[int] | np.ndarray) -> np.ndarray:
    """|scene(i)| for every shot i."""
    sc = np.asarray(scenes)
    _, inv, counts = np.unique(sc, return_inverse=True, return_counts=True)
    return counts[inv]


def _check_input(inp: SolveMontageInput) -> None:
    ids = [s.id for s in inp.shots]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ToolInputError(f"shot ids must be unique; repeated: {dup}", hint="give every shot its own id")
    seen: set[int] = set()
    prev: int | None = None
    for s in inp.shots:
        if s.scene != prev:
            if s.scene in seen:
                raise ToolInputError(
                    f"scene {s.scene} appears in two separate runs of shots (again at shot {s.id!r}); "
                    "scenes must be clusters of adjacent shots in chronological order",
                    hint="renumber the later run as its own scene, or sort the shots chronologically",
                )
            seen.add(s.scene)
            prev = s.scene
    for s in inp.shots:
        if not math.isfinite(s.score) or not math.isfinite(s.duration_s):
            raise ToolInputError(f"shot {s.id!r} has a non-finite score or duration", hint="scores and durations must be finite numbers")


# --------------------------------------------------------------------------- hard: Algorithm 1


def _shift(a: np.ndarray, dj: int, dk: int) -> np.ndarray:
    """out[j, k] = a[j - dj, k - dk] (−inf where out of range)."""
    out = np.full_like(a, _NEG)
    J, K = a.shape
    if dj >= J or dk >= K:
        return out
    out[dj:, dk:] = a[: J - dj, : K - dk]
    return out


def solve_hard(p: np.ndarray, t: np.ndarray, q: np.ndarray, n_bars: int, max_scenes: int) -> tuple[float, list[int]]:
    """Algorithm 1 (montage §3.4): hard scene constraint knapsack with backtracking.

    State (i, j, k, z): best Σ p over the first i shots with total discrete duration j, exactly k
    scenes opened, and z = whether the scene of shot i is opened. The four transitions:

    * boundary (q_i ≠ q_{i−1}), z=1 (line 5): (i−1, j−t_i, k−1, 0|1) + p_i — shot i opens its scene;
    * boundary, z=0 (line 6): (i−1, j, k, 0|1) — shot i is skipped;
    * same scene, z=1 (line 8): (i−1, j−t_i, k−1, 0) + p_i (opens the scene),
      (i−1, j−t_i, k, 1) + p_i (scene already open), (i−1, j, k, 1) (skip, scene stays open);
    * same scene, z=0 (line 9): (i−1, j, k, 0).

    Shots with t_i = 0 (shorter than a bar) cannot be picked. The answer is the best over
    k ≤ N_e and z of (n, N_b, k, z) — Algorithm 1 line 14 with "at most" N_e scenes — and
    ``Backtrack`` follows stored decisions from it. Memory: 2 bytes per (i, j, k) state.
    Returns (best, picked indices); best is −inf when infeasible.
    """
    n = len(p)
    J, K = n_bars + 1, max_scenes + 1
    a0 = np.full((J, K), _NEG)
    a1 = np.full((J, K), _NEG)
    a0[0, 0] = 0.0
    # decisions: dec1[i] ∈ {0: open from z=0, 1: open from z=1 (boundary) / continue (same), 2: skip-open, 3: from z=1 boundary}
    dec1 = np.zeros((n, J, K), dtype=np.uint8)
    dec0 = np.zeros((n, J, K), dtype=np.uint8)
    prev_q = None
    for i in range(n):
        ti, pi = int(t[i]), float(p[i])
        boundary = prev_q is None or q[i] != prev_q
        prev_q = q[i]
        if ti >= 1:
            take0 = _shift(a0, ti, 1) + pi  # open the scene from a state where it was not open
        else:
            take0 = np.full((J, K), _NEG)
        if boundary:
            take1 = _shift(a1, ti, 1) + pi if ti >= 1 else np.full((J, K), _NEG)  # line 5, second term
            n1 = np.maximum(take0, take1)
            dec1[i] = np.where(take0 >= take1, 0, 3)
            n0 = np.maximum(a0, a1)  # line 6
            dec0[i] = np.where(a0 >= a1, 0, 1)
        else:
            cont = _shift(a1, ti, 0) + pi if ti >= 1 else np.full((J, K), _NEG)  # line 8, second term
            skip = a1  # line 8, third term
            best = np.maximum(np.maximum(take0, cont), skip)
            d = np.where(take0 >= cont, 0, 1)
            d = np.where(np.maximum(take0, cont) >= skip, d, 2)
            dec1[i] = d
            n1 = best
            n0 = a0  # line 9
            dec0[i] = 0
        a0, a1 = n0, n1
    # line 14: best over k ≤ N_e, z ∈ {0, 1}
    cand0, cand1 = a0[n_bars], a1[n_bars]
    k0, k1 = int(np.argmax(cand0)), int(np.argmax(cand1))
    if cand0[k0] >= cand1[k1]:
        best, k, z = float(cand0[k0]), k0, 0
    else:
        best, k, z = float(cand1[k1]), k1, 1
    if not math.isfinite(best):
        return _NEG, []
    # Backtrack (line 15)
    picked: list[int] = []
    j = n_bars
    prev_boundary = [True] + [bool(q[i] != q[i - 1]) for i in range(1, n)]
    for i in range(n - 1, -1, -1):
        ti = int(t[i])
        if z == 1:
            d = int(dec1[i, j, k])
            if prev_boundary[i]:
                picked.append(i)
                j -= ti
                k -= 1
                z = 0 if d == 0 else 1
            else:
                if d == 0:
                    picked.append(i); j -= ti; k -= 1; z = 0
                elif d == 1:
                    picked.append(i); j -= ti; z = 1
                else:
                    z = 1
        else:
            d = int(dec0[i, j, k])
            z = d if prev_boundary[i] else 0
    if j != 0 or k != 0:
        raise AssertionError(f"backtrack ended at j={j}, k={k}")  # pragma: no cover - invariant
    return best, picked[::-1]


# --------------------------------------------------------------------------- soft: 3-D knapsack


def soft_scale_for(sizes: np.ndarray, n_shots: int, n_bars: int, max_scenes: int) -> tuple[int, bool]:
    """Default magnification: the lcm of scene sizes (exact) when lcm·N_e fits the capacity and
    memory budget, else the largest scale that fits (then ⌊scale/|scene|⌋ floors, as in §3.4)."""
    cap_mem = _SOFT_BITS_BUDGET * 8 // max(1, n_shots * (n_bars + 1))
    cap = max(1, min(_SOFT_MAX_CAPACITY, cap_mem))
    distinct = sorted({int(x) for x in sizes})
    lcm = reduce(lambda a, b: a * b // math.gcd(a, b), distinct, 1)
    if lcm * max_scenes <= cap:
        return lcm, True
    scale = max(1, cap // max_scenes)
    return scale, all(scale % s == 0 for s in distinct)


def solve_soft(p: np.ndarray, t: np.ndarray, w: np.ndarray, n_bars: int, capacity: int) -> tuple[float, list[int]]:
    """Soft scene constraint knapsack (montage §3.4): the "vanilla three-dimensional knapsack".

    State (i, j, k): best Σ p over the first i shots with summed integer scene weight j and
    discrete duration k; (i, j, k) comes from (i−1, j, k) or (i−1, j − w_i, k − t_i) + p_i. The answer
    is the best over j ≤ capacity at k = N_b. Take-bits are stored packed (1 bit per state) for
    backtracking. Returns (best, picked indices); best is −inf when infeasible.
    """
    n = len(p)
    K = n_bars + 1
    W = int(min(capacity, int(np.sum(w[t >= 1])) if np.any(t >= 1) else 0)) + 1
    tab = np.full((K, W), _NEG)
    tab[0, 0] = 0.0
    bits: list[np.ndarray | None] = []
    for i in range(n):
        ti, wi = int(t[i]), int(w[i])
        if ti < 1 or ti > n_bars or wi >= W:
            bits.append(None)
            continue
        cand = np.full((K, W), _NEG)
        cand[ti:, wi:] = tab[: K - ti, : W - wi] + float(p[i])
        take = cand > tab
        tab = np.where(take, cand, tab)
        bits.append(np.packbits(take, axis=None))
    row = tab[n_bars]
    j = int(np.argmax(row))
    best = float(row[j])
    if not math.isfinite(best):
        return _NEG, []
    picked: list[int] = []
    k = n_bars
    for i in range(n - 1, -1, -1):
        b = bits[i]
        if b is None:
            continue
        flat = k * W + j
        if (b[flat >> 3] >> (7 - (flat & 7))) & 1:
            picked.append(i)
            k -= int(t[i])
            j -= int(w[i])
    if k != 0 or j != 0:
        raise AssertionError(f"soft backtrack ended at k={k}, j={j}")  # pragma: no cover - invariant
    return best, picked[::-1]


# --------------------------------------------------------------------------- feasibility diagnosis


def _subset_sum_reachable(t: np.ndarray, n_bars: int) -> bool:
    reach = np.zeros(n_bars + 1, dtype=bool)
    reach[0] = True
    for ti in t:
        ti = int(ti)
        if 1 <= ti <= n_bars:
            reach[ti:] |= reach[: n_bars + 1 - ti].copy()
    return bool(reach[n_bars])


def _min_scenes_needed(t: np.ndarray, q: np.ndarray, n_bars: int) -> int | None:
    """Fewest distinct scenes whose shots can fill exactly n_bars (scenes are contiguous runs)."""
    best: int | None = None
    # per scene: reachable sums using that scene's shots; then a min-count knapsack over scenes
    INF = 10**9
    dp = np.full(n_bars + 1, INF, dtype=np.int64)
    dp[0] = 0
    for sc in dict.fromkeys(q.tolist()):
        ts = t[q == sc]
        reach = np.zeros(n_bars + 1, dtype=bool)
        reach[0] = True
        for ti in ts:
            ti = int(ti)
            if 1 <= ti <= n_bars:
                reach[ti:] |= reach[: n_bars + 1 - ti].copy()
        new = dp.copy()
        for s in np.nonzero(reach[1:])[0] + 1:
            new[s:] = np.minimum(new[s:], dp[: n_bars + 1 - s] + 1)
        dp = new
    if dp[n_bars] < INF:
        best = int(dp[n_bars])
    return best


def _diagnose(inp: SolveMontageInput, t: np.ndarray, q: np.ndarray) -> InfeasibleError:
    usable = int(np.sum(t >= 1))
    if usable == 0:
        longest = max(s.duration_s for s in inp.shots)
        return InfeasibleError(
            f"rhythm constraint (montage eq. 3): every shot is shorter than one bar (longest {longest:.3f} s < bar_s {inp.bar_s:.3f} s), "
            "so no shot can be picked",
            hint="use longer shots or music with shorter bars (a faster tempo)",
        )
    total = int(np.sum(t[t >= 1]))
    if total < inp.n_bars:
        return InfeasibleError(
            f"duration constraint (montage eq. 3): all usable shots together last {total} bars but n_bars is {inp.n_bars}",
            hint=f"ask for at most {total} bars, or add footage",
        )
    if not _subset_sum_reachable(t, inp.n_bars):
        return InfeasibleError(
            f"duration constraint (montage eq. 3): no set of shot durations (in whole bars: {sorted(set(int(x) for x in t if x >= 1))}) "
            f"sums to exactly n_bars={inp.n_bars}",
            hint="change n_bars by a bar or two, or add shots",
        )
    if inp.mode == "hard":
        need = _min_scenes_needed(t, q, inp.n_bars)
        return InfeasibleError(
            f"scene constraint (montage eq. 2): filling {inp.n_bars} bars needs at least {need} scenes but max_scenes is {inp.max_scenes}",
            hint=f"raise max_scenes to {need} or lower n_bars",
        )
    return InfeasibleError(
        f"soft scene constraint (montage §3.4): every set of shots filling {inp.n_bars} bars has Σ 1/|scene| above max_scenes={inp.max_scenes}",
        hint="raise max_scenes, lower n_bars, or use mode='hard'",
    )


# --------------------------------------------------------------------------- the tool


@register("solve_montage")
def solve_montage(inp: SolveMontageInput) -> SolveMontageOutput:
    """Pick shots filling exactly n_bars bars with the best emotion score under a scene budget (montage Algorithm 1 / soft knapsack)."""
    _check_input(inp)
    shots = inp.shots
    t = discrete_durations([s.duration_s for s in shots], inp.bar_s)
    q = np.asarray([s.scene for s in shots])
    p = weighted_scores([s.score for s in shots], q)
    sizes = scene_sizes(q)
    scale: int | None = None
    exact: bool | None = None
    if inp.mode == "hard":
        best, picked = solve_hard(p, t, q, inp.n_bars, min(inp.max_scenes, len(set(q.tolist()))))
    else:
        if inp.soft_scale is None:
            scale, exact = soft_scale_for(sizes, len(shots), inp.n_bars, inp.max_scenes)
        else:
            scale = inp.soft_scale
            exact = all(scale % int(s) == 0 for s in set(sizes.tolist()))
        w = (scale // sizes).astype(np.int64)
        best, picked = solve_soft(p, t, w, inp.n_bars, scale * inp.max_scenes)
    if not math.isfinite(best):
        raise _diagnose(inp, t, q)
    segs: list[MontageSegment] = []
    bars: list[BarAssignment] = []
    b = 0
    for i in picked:
        s = shots[i]
        segs.append(MontageSegment(id=s.id, scene=s.scene, start_bar=b, n_bars=int(t[i]), p=float(p[i])))
        for _ in range(int(t[i])):
            bars.append(BarAssignment(bar=b, shot=s.id))
            b += 1
    used = list(dict.fromkeys(s.scene for s in segs))
    return SolveMontageOutput(
        selected=[s.id for s in segs],
        total_score=float(sum(float(p[i]) for i in picked)),
        bars=bars,
        segments=segs,
        scenes_used=used,
        mode=inp.mode,
        soft_weight_used=float(sum(1.0 / float(sizes[i]) for i in picked)),
        soft_scale=scale,
        soft_exact=exact,
    )


# --------------------------------------------------------------------------- end to end (python app.py montage)


def detect_shots(video_path: str, detector: Literal["adaptive", "content", "histogram"] = "content",
                 threshold: float | None = None) -> tuple[list[tuple[float, float]], float]:
    """Shot boundaries with PySceneDetect, configured by :func:`tools.understand.shots.make_detector`
    (the one detector configuration: thresholds and the shortest shot, ``DEFAULT_MIN_SHOT_S``).
    ``content`` (ContentDetector, threshold 27) found exactly the ground-truth cuts of both
    ../shared/media/video/*.cuts.json files (montage_gt: 75/175/275/375, bikes:
    30/76/137/187/242); see tools/understand/shots.py for the other detectors.
    Returns ([(start_s, end_s)], fps)."""
    import cv2
    from scenedetect import detect

    from tools.understand.shots import DEFAULT_MIN_SHOT_S, make_detector

    cap = cv2.VideoCapture(video_path)
    if not cap.isOpened():
        from tools.core.errors import MediaError

        raise MediaError(f"cannot open video {video_path!r}", hint="is it a video file ffmpeg/OpenCV can decode?")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 25.0)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    cap.release()
    det, _ = make_detector(detector, threshold, max(1, round(DEFAULT_MIN_SHOT_S * fps)))
    scenes = detect(video_path, det)
    if not scenes:
        return [(0.0, n / fps)], fps
    return [(float(a.get_seconds()), float(b.get_seconds())) for a, b in scenes], fps


def shot_features(video_path: str, shots: list[tuple[float, float]], samples: int = 3) -> np.ndarray:
    """Per shot: [brightness, saturation, motion, colourfulness] in ≈[0, 1] plus a 24-bin hue/sat
    histogram, from ``samples`` frames spread over the shot (downscaled to 160 px wide)."""
    import cv2

    cap = cv2.VideoCapture(video_path)
    out = []
    for a, b in shots:
        frames = []
        for k in range(samples):
            t = a + (b - a) * (k + 1) / (samples + 1)
            cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000.0)
            ok, fr = cap.read()
            if ok:
                h = max(1, int(fr.shape[0] * 160 / fr.shape[1]))
                frames.append(cv2.resize(fr, (160, h), interpolation=cv2.INTER_AREA))
        if not frames:
            out.append(np.zeros(4 + 24))
            continue
        hsv = [cv2.cvtColor(f, cv2.COLOR_BGR2HSV) for f in frames]
        bright = float(np.mean([x[..., 2].mean() for x in hsv]) / 255)
        sat = float(np.mean([x[..., 1].mean() for x in hsv]) / 255)
        motion = float(np.mean([np.abs(frames[i + 1].astype(float) - frames[i]).mean() / 255 * (samples + 1) / max(b - a, 1e-3)
                                for i in range(len(frames) - 1)])) if len(frames) > 1 else 0.0
        colourful = colourfulness(frames[len(frames) // 2][..., ::-1]) / 150  # frames are BGR
        hist = cv2.calcHist([hsv[len(hsv) // 2]], [0, 1], None, [12, 2], [0, 180, 0, 256]).ravel()
        hist = hist / (hist.sum() + 1e-9)
        out.append(np.concatenate([[bright, sat, min(1.0, motion), min(1.0, colourful)], hist]))
    cap.release()
    return np.asarray(out)


def cluster_scenes(feats: np.ndarray, threshold: float = 0.35) -> list[int]:
    """Scenes = runs of adjacent shots: a new scene starts when the Bhattacharyya-style distance
    between consecutive shots' colour histograms exceeds ``threshold``."""
    scenes = [0]
    for i in range(1, len(feats)):
        h1, h2 = feats[i - 1, 4:], feats[i, 4:]
        d = math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(h1 * h2)))))
        scenes.append(scenes[-1] + (1 if d > threshold else 0))
    return scenes


def shot_va(feats: np.ndarray) -> np.ndarray:
    """Heuristic shot valence/arousal (brightness, saturation, colourfulness → valence; motion,
    saturation → arousal). A stand-in for the learned emotion space of montage §3.2, uncalibrated."""
    v = np.clip(0.2 + 0.4 * feats[:, 0] + 0.25 * feats[:, 1] + 0.25 * feats[:, 3], 0, 1)
    a = np.clip(0.2 + 0.6 * np.sqrt(feats[:, 2] * 4) + 0.2 * feats[:, 1], 0, 1)
    return np.stack([v, a], axis=1)


def emotion_similarity(shot_va_: np.ndarray, music_va: tuple[float, float]) -> np.ndarray:
    """M(s_i, x^m) ∈ [0, 1]: 1 − Euclidean distance in the valence–arousal plane / √2."""
    d = np.linalg.norm(shot_va_ - np.asarray(music_va)[None, :], axis=1)
    return 1.0 - d / math.sqrt(2)


def make_music_montage(video_path: str, music_path: str, out_path: str, work_dir: str, seed: int = 0,
                       max_scenes: int = 5, mode: Literal["hard", "soft"] = "hard", max_bars: int | None = None) -> dict:
    """``python app.py montage``: shots (PySceneDetect) → scenes (adjacent clustering) → emotion
    similarity to the music → :func:`solve_montage` → each picked shot cut to its bars → H.264 +
    the music (ffmpeg). Cuts land on the analysed bar boundaries: the output frame of cut k is
    round((bar_k − bar_0)·fps), so every cut is within half a frame of its bar.

    Returns cut and bar times (seconds on the montage timeline), the solver output and timings.
    ``seed`` is accepted for interface symmetry; the pipeline is deterministic."""
    import time

    from tools.core.media import run_ffmpeg
    from tools.story.music import analyze_music_full

    del seed
    timings: dict[str, float] = {}
    for p, what in ((video_path, "video"), (music_path, "music")):
        if not Path(p).is_file():
            raise ToolInputError(f"{what} file not found: {p!r}", hint=f"pass the path of a {what} file")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    shots, src_fps = detect_shots(video_path)
    timings["shots_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    feats = shot_features(video_path, shots)
    scenes = cluster_scenes(feats)
    timings["features_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    music, _ = analyze_music_full(music_path)
    timings["music_s"] = time.perf_counter() - t0
    if len(music.bars_s) < 2:
        raise InfeasibleError(f"music {Path(music_path).name!r} has no complete bar", hint="use a longer track")
    va = (music.valence if music.valence is not None else 0.5, music.arousal if music.arousal is not None else 0.5)
    scores = emotion_similarity(shot_va(feats), va)
    bars = np.asarray(music.bars_s)
    bar_s = float(music.bar_s)
    cand = [MontageShotIn(id=f"shot{i:05d}", scene=int(scenes[i]), duration_s=max(1e-3, b - a), score=float(scores[i]))
            for i, (a, b) in enumerate(shots)]
    usable = int(np.sum(discrete_durations([c.duration_s for c in cand], bar_s)))
    n_bars = min(len(bars) - 1, usable, max_bars or 10**9)
    if mode == "hard":  # at most max_scenes scenes can contribute: bound by the richest ones
        per_scene: dict[int, int] = {}
        for c, ti in zip(cand, discrete_durations([c.duration_s for c in cand], bar_s)):
            per_scene[c.scene] = per_scene.get(c.scene, 0) + int(ti)
        n_bars = min(n_bars, sum(sorted(per_scene.values(), reverse=True)[:max_scenes]))
    if n_bars < 1:
        raise InfeasibleError(f"no shot lasts a whole bar ({bar_s:.2f} s)", hint="use a video with longer shots or faster music")
    t0 = time.perf_counter()
    sol = None
    last_err: InfeasibleError | None = None
    for nb in range(n_bars, max(0, n_bars - 8), -1):  # the exact bar count may be unreachable: try a few fewer
        try:
            sol = solve_montage(SolveMontageInput(shots=cand, bar_s=bar_s, n_bars=nb, max_scenes=max_scenes, mode=mode))
            break
        except InfeasibleError as e:
            last_err = e
    if sol is None:
        assert last_err is not None
        raise last_err
    timings["solve_s"] = time.perf_counter() - t0
    fps = int(round(src_fps)) if src_fps and 10 <= src_fps <= 60 else 25
    nb = sum(s.n_bars for s in sol.segments)
    bar_times = (bars[: nb + 1] - bars[0]).tolist()
    cut_frames = [int(round(t * fps)) for t in bar_times]
    by_id = {c.id: i for i, c in enumerate(cand)}
    args: list[str] = []
    filt: list[str] = []
    seg_frames = []
    for k, seg in enumerate(sol.segments):
        i = by_id[seg.id]
        a, b = shots[i]
        f0, f1 = cut_frames[seg.start_bar], cut_frames[seg.start_bar + seg.n_bars]
        nfr = f1 - f0
        span = nfr / fps
        # the middle of the shot, staying inside it (no foreign frames from a neighbouring shot)
        in_s = a + max(0.0, (b - a - span) / 2)
        read = min(span, b - in_s) + 0.5 / fps
        args += ["-ss", f"{in_s:.4f}", "-t", f"{read:.4f}", "-i", video_path]
        filt.append(f"[{k}:v]fps={fps},scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2,"
                    f"setsar=1,format=yuv420p,tpad=stop_mode=clone:stop={nfr},trim=end_frame={nfr},setpts=PTS-STARTPTS[v{k}]")
        seg_frames.append(nfr)
    total_frames = cut_frames[nb] - cut_frames[0]
    total_s = total_frames / fps
    k_m = len(sol.segments)
    # the music from bar 0, cut first to a WAV so its start is sample-exact
    music_wav = work / "montage_music.wav"
    run_ffmpeg(["-ss", f"{bars[0]:.4f}", "-i", music_path, "-t", f"{total_s:.4f}", "-map", "0:a:0", "-ac", "2", "-ar", "44100",
                str(music_wav)], what="cutting the music")
    args += ["-i", str(music_wav)]
    filt.append("".join(f"[v{k}]" for k in range(k_m)) + f"concat=n={k_m}:v=1:a=0[vout]")
    script = work / "montage_filter.txt"
    script.write_text(";\n".join(filt), encoding="utf-8")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    run_ffmpeg([*args, "-filter_complex_script", str(script), "-map", "[vout]", "-map", f"{k_m}:a:0",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-r", str(fps), "-c:a", "aac", "-b:a", "160k", "-af", "apad",
                "-t", f"{total_s:.4f}", str(out)], what="rendering the montage")
    timings["render_s"] = time.perf_counter() - t0
    cut_times = [cut_frames[s.start_bar] / fps for s in sol.segments[1:]]
    return {
        "out_path": str(out), "fps": fps, "n_frames": total_frames, "duration_s": total_s,
        "cut_times_s": cut_times, "bar_times_s": bar_times, "cut_frames": [cut_frames[s.start_bar] for s in sol.segments[1:]],
        "n_shots": len(shots), "n_scenes": int(max(scenes) + 1), "n_bars": nb, "bar_s": bar_s,
        "music": music.model_dump(mode="json"), "solution": sol.model_dump(mode="json"), "timings_s": timings,
    }
