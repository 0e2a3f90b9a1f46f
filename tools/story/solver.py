"""Storyline solver (survey §4.3.2–4.3.3): select, order and label shots for a promo video.

1. **Selection** — the group-knapsack DP of Liu et al. [73] (survey §4.3.3, last paragraph):
   each material cluster is a group; the items of a group are its contiguous sub-sequences
   (shots in their natural order), with a length (Σ duration) and a value (Σ persuasiveness,
   the LWC score of §4.3.2 when the scorer provides it). At most one item per group, total
   length ≤ the budget, value maximised. Durations are rounded *up* to ``resolution_s`` so the
   budget is never exceeded; the DP is exact for that discretisation.
2. **Sequencing** by film-making principles (survey §4.3.3, Liu et al. [76]): the chosen
   sub-sequences are ordered to minimise
   ``w_size · Σ max(0, size_prev − size_next)`` (open wide, narrow to close-up),
   ``+ w_logic · Σ max(0, sed_next − sed_prev)`` (coherence: the semantic distance to the
   product should not grow), ``− w_disc · Σ (1 − cos(f_prev, f_next))`` (graphic discontinuity
   between adjacent shots). The cost is a sum over adjacent pairs, so the order is searched
   exactly with Held–Karp DP over subsets for n ≤ ``EXACT_MAX`` (12) units; above that a
   greedy nearest-neighbour start improved by 2-opt/or-opt moves is used (approximation).
3. **Script labels** over the 12 E-SyncVidStory labels (narrator §3): a first-order Markov
   model with position features learned from ../shared/data/esync/dev.json — start, transition
   and relative-position-bin label frequencies (add-one smoothed), decoded by Viterbi. The
   learned statistics ship in ``tools/data/label_stats.json``; :func:`learn_label_stats`
   rebuilds them and :func:`evaluate_label_model` reports accuracy held out by product.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.core.errors import InfeasibleError, ToolInputError
from tools.core.models import SCRIPT_LABELS, Language, StoryBeat, Storyline
from tools.core.registry import register

EXACT_MAX = 12
N_POS_BINS = 5
LABEL_STATS_PATH = Path(__file__).resolve().parent / "data" / "label_stats.json"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class StoryShotIn(_M):
    """A candidate shot."""

    id: str = Field(min_length=1)
    """Shot id."""
    material_id: str = ""
    """Material the shot comes from."""
    cluster: int
    """Material cluster (group of the group knapsack)."""
    in_s: float = Field(default=0.0, ge=0)
    """In point inside the material."""
    duration_s: float = Field(gt=0)
    """Length used on the timeline."""
    persuasiveness: float = 0.0
    """Value of the shot (e.g. the LWC persuasiveness score in [0, 1])."""
    shot_size: float = Field(default=0.5, ge=0, le=1)
    """Framing: 0 = wide/establishing, 1 = extreme close-up."""
    semantic_distance: float = Field(default=0.0, ge=0)
    """Distance between the shot's content and the product (SED of Liu et al.)."""
    feature: list[float] = Field(default_factory=list)
    """Visual feature vector for graphic discontinuity (any length, the same for all shots)."""


class SolveStorylineInput(_M):
    """Input of ``solve_storyline``."""

    shots: list[StoryShotIn] = Field(min_length=1)
    """Candidate shots; within a cluster, in natural (chronological) order."""
    budget_s: float = Field(gt=0)
    """Longest total duration."""
    min_fill: float = Field(default=0.0, ge=0, le=1)
    """Fraction of the budget that must be filled (0: any length)."""
    resolution_s: float = Field(default=0.1, gt=0, le=5)
    """Duration unit of the knapsack DP (durations rounded up to it)."""
    w_size: float = Field(default=1.0, ge=0)
    """Weight of the wide→close-up penalty."""
    w_logic: float = Field(default=1.0, ge=0)
    """Weight of the coherence (semantic-distance increase) penalty."""
    w_disc: float = Field(default=0.5, ge=0)
    """Weight of the graphic-discontinuity reward."""
    language: Language = "zh"
    """Narration language for the word ranges."""
    chars_per_s: float = Field(default=5.0, gt=0)
    """Narration rate: a t-second beat gets [rate·t − 3, rate·t + 3] (narrator §3.1)."""


class SolveStorylineOutput(_M):
    """Output of ``solve_storyline``."""

    storyline: Storyline
    """Ordered, labelled beats."""
    total_persuasiveness: float
    """Σ persuasiveness of the chosen shots (knapsack objective)."""
    order_cost: float
    """Film-making cost of the chosen order (lower is better)."""
    order_method: str
    """'held-karp (exact)' or '2-opt (approximate)'."""
    labels: list[str]
    """Script label per beat."""


# --------------------------------------------------------------------------- selection


def group_knapsack(groups: list[list[tuple[int, float]]], capacity: int) -> tuple[float, list[int], np.ndarray]:
    """Group knapsack: pick ≤ 1 item (weight, value) per group with Σ weight ≤ capacity, max Σ value.

    Returns (best value, chosen item index per group (−1 = none), best value per exact total
    weight). O(groups · capacity · items)."""
    NEG = -np.inf
    dp = np.full(capacity + 1, NEG)
    dp[0] = 0.0
    choice = np.full((len(groups), capacity + 1), -1, dtype=np.int32)
    for g, items in enumerate(groups):
        new = dp.copy()
        for it, (w, v) in enumerate(items):
            if w > capacity or w < 0:
                continue
            cand = np.full(capacity + 1, NEG)
            cand[w:] = dp[: capacity + 1 - w] + v
            better = cand > new
            new = np.where(better, cand, new)
            choice[g] = np.where(better, it, choice[g])
        dp = new
    w = int(np.argmax(dp))
    best = float(dp[w])
    picks = [-1] * len(groups)
    for g in range(len(groups) - 1, -1, -1):
        it = int(choice[g, w])
        picks[g] = it
        if it >= 0:
            w -= groups[g][it][0]
    return best, picks, dp


def select_subsequences(inp: SolveStorylineInput) -> tuple[float, dict[int, list[int]]]:
    """Run the group knapsack over clusters; returns (value, cluster → chosen shot indices)."""
    clusters: dict[int, list[int]] = {}
    for i, s in enumerate(inp.shots):
        clusters.setdefault(s.cluster, []).append(i)
    cap = int(math.floor(inp.budget_s / inp.resolution_s + 1e-9))
    units = [int(math.ceil(s.duration_s / inp.resolution_s - 1e-9)) for s in inp.shots]
    keys = list(clusters)
    groups: list[list[tuple[int, float]]] = []
    spans: list[list[tuple[int, int]]] = []
    for c in keys:
        idx = clusters[c]
        items, sp = [], []
        for a in range(len(idx)):
            w = v = 0.0
            for b in range(a, len(idx)):
                w += units[idx[b]]
                v += inp.shots[idx[b]].persuasiveness
                if w > cap:
                    break
                items.append((int(w), float(v)))
                sp.append((a, b))
        groups.append(items)
        spans.append(sp)
    if not any(groups):
        shortest = min(s.duration_s for s in inp.shots)
        raise InfeasibleError(f"duration budget: the shortest shot lasts {shortest:.2f} s, more than budget_s={inp.budget_s}",
                              hint="raise budget_s or add shorter shots")
    need = int(math.ceil(inp.min_fill * cap - 1e-9))
    if need > 0:
        # maximise value among fills ≥ need: re-run restricted to totals ≥ need
        _, _, dp = group_knapsack(groups, cap)
        ok = np.nonzero(np.isfinite(dp[need:]))[0]
        if ok.size == 0:
            most = int(np.max(np.nonzero(np.isfinite(dp))[0]))
            raise InfeasibleError(
                f"duration budget: the material fills at most {most * inp.resolution_s:.1f} s of the {inp.min_fill:.0%} × {inp.budget_s} s asked",
                hint="lower min_fill or budget_s, or add material")
        best_w = need + int(np.argmax(dp[need:]))
        value, picks = _knapsack_at(groups, cap, best_w)
    else:
        value, picks, _ = group_knapsack(groups, cap)
    chosen: dict[int, list[int]] = {}
    for g, it in enumerate(picks):
        if it >= 0:
            a, b = spans[g][it]
            chosen[keys[g]] = clusters[keys[g]][a : b + 1]
    return value, chosen


def _knapsack_at(groups: list[list[tuple[int, float]]], cap: int, total: int) -> tuple[float, list[int]]:
    """Best picks whose total weight is exactly ``total``."""
    NEG = -np.inf
    dp = np.full(cap + 1, NEG)
    dp[0] = 0.0
    choice = np.full((len(groups), cap + 1), -1, dtype=np.int32)
    for g, items in enumerate(groups):
        new = dp.copy()
        for it, (w, v) in enumerate(items):
            cand = np.full(cap + 1, NEG)
            cand[w:] = dp[: cap + 1 - w] + v
            better = cand > new
            new = np.where(better, cand, new)
            choice[g] = np.where(better, it, choice[g])
        dp = new
    picks = [-1] * len(groups)
    w = total
    for g in range(len(groups) - 1, -1, -1):
        it = int(choice[g, w])
        picks[g] = it
        if it >= 0:
            w -= groups[g][it][0]
    return float(dp[total]), picks


# --------------------------------------------------------------------------- sequencing


def pair_cost(a: StoryShotIn, b: StoryShotIn, w_size: float, w_logic: float, w_disc: float) -> float:
    """Cost of cutting from shot a to shot b (survey §4.3.3 principles 1–3)."""
    c = w_size * max(0.0, a.shot_size - b.shot_size) + w_logic * max(0.0, b.semantic_distance - a.semantic_distance)
    if a.feature and b.feature:
        fa, fb = np.asarray(a.feature, float), np.asarray(b.feature, float)
        den = float(np.linalg.norm(fa) * np.linalg.norm(fb))
        cos = float(fa @ fb / den) if den > 0 else 1.0
        c -= w_disc * (1.0 - cos)
    return c


def order_units(cost: np.ndarray) -> tuple[list[int], float, str]:
    """Minimum-cost Hamiltonian path over units (cost[i, j] = cost of i followed by j).

    Exact Held–Karp for n ≤ EXACT_MAX; otherwise greedy start + 2-opt/or-opt (approximate)."""
    n = cost.shape[0]
    if n == 1:
        return [0], 0.0, "held-karp (exact)"
    if n <= EXACT_MAX:
        full = 1 << n
        dp = np.full((full, n), np.inf)
        par = np.full((full, n), -1, dtype=np.int16)
        for i in range(n):
            dp[1 << i, i] = 0.0
        for mask in range(1, full):
            row = dp[mask]
            ends = [i for i in range(n) if mask >> i & 1 and np.isfinite(row[i])]
            if not ends:
                continue
            free = [j for j in range(n) if not mask >> j & 1]
            for j in free:
                nm = mask | (1 << j)
                vals = row[ends] + cost[ends, j]
                k = int(np.argmin(vals))
                if vals[k] < dp[nm, j]:
                    dp[nm, j] = vals[k]
                    par[nm, j] = ends[k]
        last = int(np.argmin(dp[full - 1]))
        best = float(dp[full - 1, last])
        order = [last]
        mask = full - 1
        while par[mask, order[-1]] >= 0:
            p = int(par[mask, order[-1]])
            mask ^= 1 << order[-1]
            order.append(p)
        return order[::-1], best, "held-karp (exact)"
    return _two_opt(cost)


def _path_cost(order: list[int], cost: np.ndarray) -> float:
    return float(sum(cost[a, b] for a, b in zip(order, order[1:])))


def _two_opt(cost: np.ndarray) -> tuple[list[int], float, str]:
    n = cost.shape[0]
    best_order: list[int] = []
    best = math.inf
    for start in range(n):
        order = [start]
        left = set(range(n)) - {start}
        while left:
            j = min(left, key=lambda x: cost[order[-1], x])
            order.append(j)
            left.remove(j)
        c = _path_cost(order, cost)
        improved = True
        while improved:
            improved = False
            for i in range(n - 1):
                for k in range(i + 1, n):
                    cand = order[:i] + order[i : k + 1][::-1] + order[k + 1 :]
                    cc = _path_cost(cand, cost)
                    if cc < c - 1e-12:
                        order, c, improved = cand, cc, True
                    # or-opt: move one unit
                    cand = order[:i] + order[i + 1 : k + 1] + [order[i]] + order[k + 1 :]
                    cc = _path_cost(cand, cost)
                    if cc < c - 1e-12:
                        order, c, improved = cand, cc, True
        if c < best:
            best, best_order = c, order
    return best_order, best, "2-opt (approximate)"


# --------------------------------------------------------------------------- labels


def _first(label: str) -> str:
    return label.split("+")[0]


def _split_by_product(videos: list[Any], test_frac: float = 0.2, seed: int = 0) -> tuple[list[Any], list[Any]]:
    """Deterministic split by product name (the 名称 line): a product is wholly train or test."""
    train, test = [], []
    for v in videos:
        h = int(hashlib.sha256(f"{seed}:{v.product.name}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (test if h < test_frac else train).append(v)
    return train, test


def learn_label_stats(videos: list[Any]) -> dict[str, Any]:
    """Start, transition and position-bin label counts (first component of compound labels)."""
    L = list(SCRIPT_LABELS)
    ix = {l: i for i, l in enumerate(L)}
    start = np.zeros(len(L))
    trans = np.zeros((len(L), len(L)))
    pos = np.zeros((N_POS_BINS, len(L)))
    end = np.zeros(len(L))
    n = 0
    for v in videos:
        labs = [_first(c.label) for c in v.clips if c.label]
        if len(labs) != len(v.clips) or not labs:
            continue
        n += 1
        start[ix[labs[0]]] += 1
        end[ix[labs[-1]]] += 1
        for a, b in zip(labs, labs[1:]):
            trans[ix[a], ix[b]] += 1
        for k, l in enumerate(labs):
            pos[_pos_bin(k, len(labs)), ix[l]] += 1
    return {"labels": L, "n_videos": n, "start": start.tolist(), "end": end.tolist(), "trans": trans.tolist(),
            "pos": pos.tolist(), "n_pos_bins": N_POS_BINS,
            "note": "counts from E-SyncVidStory dev.json (first component of compound labels); see tools/story/solver.py"}


def _pos_bin(k: int, n: int) -> int:
    r = 0.0 if n <= 1 else k / (n - 1)
    return min(N_POS_BINS - 1, int(r * N_POS_BINS))


@lru_cache(maxsize=1)
def load_label_stats(path: str | None = None) -> dict[str, Any]:
    """The shipped label statistics (tools/data/label_stats.json)."""
    p = Path(path) if path else LABEL_STATS_PATH
    if not p.is_file():
        raise ToolInputError(f"label statistics file missing: {p}", hint="rebuild it with `python -m tools.story.solver --learn DEV.json`")
    return json.loads(p.read_text(encoding="utf-8"))


def predict_labels(n: int, stats: dict[str, Any], pos_weight: float = 1.0, end_weight: float = 1.0,
                   avoid_repeat: float = 0.0) -> list[str]:
    """Viterbi decode of the most likely label sequence of length n under the Markov model:
    log P(l₁) + Σ log P(lₜ | lₜ₋₁) + pos_weight · Σ log P(lₜ | position bin) + end_weight · log P(end | lₙ)."""
    if n <= 0:
        return []
    L = stats["labels"]
    start = np.log((np.asarray(stats["start"]) + 1) / (np.sum(stats["start"]) + len(L)))
    tr = np.asarray(stats["trans"]) + 1
    tr = np.log(tr / tr.sum(axis=1, keepdims=True))
    if avoid_repeat:
        tr = tr - avoid_repeat * np.eye(len(L))
    pos = np.asarray(stats["pos"]) + 1
    pos = np.log(pos / pos.sum(axis=1, keepdims=True))
    end = np.log((np.asarray(stats["end"]) + 1) / (np.sum(stats["end"]) + len(L)))
    score = start + pos_weight * pos[_pos_bin(0, n)]
    back = []
    for k in range(1, n):
        cand = score[:, None] + tr
        back.append(np.argmax(cand, axis=0))
        score = cand.max(axis=0) + pos_weight * pos[_pos_bin(k, n)]
    score = score + end_weight * end
    last = int(np.argmax(score))
    seq = [last]
    for bp in reversed(back):
        seq.append(int(bp[seq[-1]]))
    return [L[i] for i in seq[::-1]]


def evaluate_label_model(dev_path: str | Path, test_frac: float = 0.2, seed: int = 0, **kw: float) -> dict[str, float]:
    """Train on the products of one side of a by-product split, predict label sequences of the
    held-out products' videos (given their clip count), and report: clip accuracy (exact label),
    clip accuracy counting a prediction right when it is one component of a compound label,
    whole-sequence match, and the majority-label-per-position baseline."""
    from tools.story.esync import load_esync

    vids = load_esync(dev_path)
    train, test = _split_by_product(vids, test_frac, seed)
    stats = learn_label_stats(train)
    pos = np.asarray(stats["pos"])
    tot = exact = comp = seqs = base = 0
    for v in test:
        gt = [c.label or "" for c in v.clips]
        pred = predict_labels(len(gt), stats, **kw)
        ok = [p == g for p, g in zip(pred, gt)]
        exact += sum(ok)
        comp += sum(p in g.split("+") for p, g in zip(pred, gt))
        seqs += all(ok)
        tot += len(gt)
        bl = [stats["labels"][int(np.argmax(pos[_pos_bin(k, len(gt))]))] for k in range(len(gt))]
        base += sum(b == g for b, g in zip(bl, gt))
    return {"n_train_videos": len(train), "n_test_videos": len(test),
            "n_test_products": len({v.product.name for v in test}),
            "clip_accuracy": exact / max(1, tot), "clip_accuracy_component": comp / max(1, tot),
            "sequence_match": seqs / max(1, len(test)), "baseline_position_majority": base / max(1, tot), "n_test_clips": tot}


# --------------------------------------------------------------------------- the tool


@register("solve_storyline")
def solve_storyline(inp: SolveStorylineInput) -> SolveStorylineOutput:
    """Select material sub-sequences maximising persuasiveness within a duration budget, order them by film-making principles and label them."""
    ids = [s.id for s in inp.shots]
    if len(set(ids)) != len(ids):
        raise ToolInputError("shot ids must be unique", hint="give every shot its own id")
    dims = {len(s.feature) for s in inp.shots if s.feature}
    if len(dims) > 1:
        raise ToolInputError(f"shot feature vectors have different lengths {sorted(dims)}", hint="use one encoder for all shots")
    value, chosen = select_subsequences(inp)
    if not chosen:
        raise InfeasibleError(f"duration budget: no shot fits in budget_s={inp.budget_s}", hint="raise budget_s")
    units = list(chosen.values())
    n = len(units)
    cost = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a != b:
                # cutting from unit a's last shot to unit b's first shot, plus b's internal cuts are fixed
                cost[a, b] = pair_cost(inp.shots[units[a][-1]], inp.shots[units[b][0]], inp.w_size, inp.w_logic, inp.w_disc)
    order, ocost, method = order_units(cost)
    internal = sum(pair_cost(inp.shots[u[i]], inp.shots[u[i + 1]], inp.w_size, inp.w_logic, inp.w_disc)
                   for u in units for i in range(len(u) - 1))
    seq = [i for k in order for i in units[k]]
    labels = predict_labels(len(seq), load_label_stats())
    beats = []
    for k, (i, lab) in enumerate(zip(seq, labels)):
        s = inp.shots[i]
        words = inp.chars_per_s * s.duration_s
        beats.append(StoryBeat(index=k, shot_id=s.id, material_id=s.material_id or s.id, in_s=s.in_s,
                               out_s=s.in_s + s.duration_s, duration_s=s.duration_s, label=lab,
                               word_min=max(0, int(round(words - 3))), word_max=max(1, int(round(words + 3))),
                               reason=f"cluster {s.cluster}, persuasiveness {s.persuasiveness:.2f}, size {s.shot_size:.2f}"))
    return SolveStorylineOutput(storyline=Storyline(beats=beats), total_persuasiveness=value,
                                order_cost=float(ocost + internal), order_method=method, labels=labels)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import argparse

    ap = argparse.ArgumentParser(description="learn / evaluate the script-label model")
    ap.add_argument("dev", help="path to E-SyncVidStory dev.json")
    ap.add_argument("--learn", action="store_true", help=f"write {LABEL_STATS_PATH}")
    a = ap.parse_args()
    print(json.dumps(evaluate_label_model(a.dev), ensure_ascii=False, indent=1))
    if a.learn:
        from tools.story.esync import load_esync

        LABEL_STATS_PATH.parent.mkdir(parents=True, exist_ok=True)
        LABEL_STATS_PATH.write_text(json.dumps(learn_label_stats(load_esync(a.dev)), ensure_ascii=False), encoding="utf-8")
        print("wrote", LABEL_STATS_PATH)
