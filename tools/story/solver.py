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
   and relative-position-bin label frequencies (add-one smoothed), decoded by Viterbi. The model
   lives with AdReel's other label tables in :mod:`tools.story.labels` (statistics shipped in
   ``tools/story/data/label_stats.json``; :func:`~tools.story.labels.learn_label_stats` rebuilds
   them, :func:`~tools.story.labels.evaluate_label_model` reports accuracy held out by product).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field, model_validator

from tools.core.bounds import MAX_SOLVER_CELLS, MAX_SOLVER_SHOTS, MAX_SOLVER_WORK, MAX_VIDEO_S
from tools.core.errors import InfeasibleError, ToolInputError
from tools.core.models import Language, Model, StoryBeat, Storyline
from tools.core.registry import register
from tools.story.labels import load_label_stats, predict_labels

EXACT_MAX = 12


class StoryShotIn(Model):
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


class SolveStorylineInput(Model):
    """Input of ``solve_storyline``."""

    shots: list[StoryShotIn] = Field(min_length=1, max_length=MAX_SOLVER_SHOTS)
    """Candidate shots; within a cluster, in natural (chronological) order."""
    budget_s: float = Field(gt=0, le=MAX_VIDEO_S)
    """Longest total duration (at most 600 s, ``tools.core.bounds``)."""
    min_fill: float = Field(default=0.0, ge=0, le=1)
    """Fraction of the budget that must be filled (0: any length)."""
    resolution_s: float = Field(default=0.1, ge=0.01, le=5)
    """Duration unit of the knapsack DP (durations rounded up to it); with budget_s it sets the DP's
    size, which must stay within ``MAX_SOLVER_CELLS`` / ``MAX_SOLVER_WORK``."""
    w_size: float = Field(default=1.0, ge=0)
    """Weight of the wide→close-up penalty."""
    w_logic: float = Field(default=1.0, ge=0)
    """Weight of the coherence (semantic-distance increase) penalty."""
    w_disc: float = Field(default=0.5, ge=0)
    """Weight of the graphic-discontinuity reward."""
    language: Language = "zh"
    """Narration language for the word ranges."""
    chars_per_s: float = Field(default=5.0, gt=0, le=20)
    """Narration rate: a t-second beat gets [rate·t − 3, rate·t + 3] (narrator §3.1)."""

    @model_validator(mode="after")
    def _bounded(self) -> SolveStorylineInput:
        """The DP's table (clusters × capacity) and work (sub-sequences × capacity) stay bounded:
        a clear error instead of tens of GB (a 600 s budget at 0.01 s over 1000 clusters)."""
        cap = int(self.budget_s / self.resolution_s) + 1
        sizes: dict[int, int] = {}
        for sh in self.shots:
            sizes[sh.cluster] = sizes.get(sh.cluster, 0) + 1
        cells = len(sizes) * cap
        work = sum(n * (n + 1) // 2 for n in sizes.values()) * cap
        if cells > MAX_SOLVER_CELLS or work > MAX_SOLVER_WORK:
            raise ValueError(f"the solver would need {cells:,} table cells and {work:,} steps ({len(sizes)} clusters, "
                             f"{len(self.shots)} shots, budget {self.budget_s:g} s at {self.resolution_s:g} s); limits "
                             f"{MAX_SOLVER_CELLS:,} and {MAX_SOLVER_WORK:,}: use a coarser resolution_s, fewer shots or a shorter budget")
        return self


class SolveStorylineOutput(Model):
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


def _knapsack_tables(groups: list[list[tuple[int, float]]], capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Best value per exact total weight, and the item each group chose on the way there."""
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
    return dp, choice


def _backtrack(groups: list[list[tuple[int, float]]], choice: np.ndarray, total: int) -> list[int]:
    picks = [-1] * len(groups)
    w = total
    for g in range(len(groups) - 1, -1, -1):
        it = int(choice[g, w])
        picks[g] = it
        if it >= 0:
            w -= groups[g][it][0]
    return picks


def group_knapsack(groups: list[list[tuple[int, float]]], capacity: int) -> tuple[float, list[int], np.ndarray]:
    """Group knapsack: pick ≤ 1 item (weight, value) per group with Σ weight ≤ capacity, max Σ value.

    Returns (best value, chosen item index per group (−1 = none), best value per exact total
    weight). O(groups · capacity · items)."""
    dp, choice = _knapsack_tables(groups, capacity)
    w = int(np.argmax(dp))
    return float(dp[w]), _backtrack(groups, choice, w), dp


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
        value, picks = knapsack_at(groups, cap, best_w)
    else:
        value, picks, _ = group_knapsack(groups, cap)
    chosen: dict[int, list[int]] = {}
    for g, it in enumerate(picks):
        if it >= 0:
            a, b = spans[g][it]
            chosen[keys[g]] = clusters[keys[g]][a : b + 1]
    return value, chosen


def knapsack_at(groups: list[list[tuple[int, float]]], cap: int, total: int) -> tuple[float, list[int]]:
    """Best picks whose total weight is exactly ``total`` (value −inf and no picks when none exists)."""
    dp, choice = _knapsack_tables(groups, cap)
    if not np.isfinite(dp[total]):
        return float("-inf"), [-1] * len(groups)
    return float(dp[total]), _backtrack(groups, choice, total)


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


#: Greedy starts tried by the approximate ordering: every unit up to this many units, else this many
#: evenly spread ones (the multi-start is O(n) starts × O(n³) per improvement pass).
MAX_ORDER_STARTS = 30
#: Work budget of the approximate ordering, in path-cost terms summed (evaluations × units): about
#: a second of Python. Counted, not timed, so the same input always gives the same order.
MAX_ORDER_WORK = 20_000_000


def _two_opt(cost: np.ndarray) -> tuple[list[int], float, str]:
    n = cost.shape[0]
    best_order: list[int] = []
    best = math.inf
    starts = range(n) if n <= MAX_ORDER_STARTS else sorted({round(i * (n - 1) / 7) for i in range(8)})
    budget = MAX_ORDER_WORK // max(1, n) // max(1, len(starts))  # path-cost evaluations per start
    for start in starts:
        order = [start]
        left = set(range(n)) - {start}
        while left:
            j = min(left, key=lambda x: cost[order[-1], x])
            order.append(j)
            left.remove(j)
        c = _path_cost(order, cost)
        evals = 0
        improved = True
        while improved and evals < budget:
            improved = False
            for i in range(n - 1):
                if evals >= budget:
                    break
                for k in range(i + 1, n):
                    evals += 2
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

