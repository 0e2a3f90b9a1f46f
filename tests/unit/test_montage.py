"""solve_montage (montage §3.3–3.4): exactness against exhaustive search, constraints, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tools.core.errors import InfeasibleError, ToolInputError
from tools.story.montage import (
    SolveMontageInput,
    discrete_durations,
    scene_sizes,
    solve_montage,
    weighted_scores,
)
from tools.core.registry import run_tool


def _brute(inp: SolveMontageInput, soft_scale: int | None = None) -> float:
    """Exhaustive search over all 2^n subsets; −inf when none is feasible."""
    shots = inp.shots
    t = discrete_durations([s.duration_s for s in shots], inp.bar_s)
    q = [s.scene for s in shots]
    p = weighted_scores([s.score for s in shots], q)
    sizes = scene_sizes(q)
    best = -math.inf
    n = len(shots)
    for r in range(1, n + 1):
        for sub in itertools.combinations(range(n), r):
            if any(t[i] < 1 for i in sub) or sum(int(t[i]) for i in sub) != inp.n_bars:
                continue
            if inp.mode == "hard":
                if len({q[i] for i in sub}) > inp.max_scenes:
                    continue
            else:
                if sum(soft_scale // int(sizes[i]) for i in sub) > soft_scale * inp.max_scenes:
                    continue
            best = max(best, float(sum(p[i] for i in sub)))
    return best


@st.composite
def instances(draw, mode: str):
    n = draw(st.integers(1, 10))
    # contiguous scenes: run lengths
    scenes: list[int] = []
    sc = 0
    while len(scenes) < n:
        run = draw(st.integers(1, 3))
        scenes.extend([sc] * run)
        sc += 1
    scenes = scenes[:n]
    bar_s = draw(st.sampled_from([0.5, 1.0, 2.0, 1.7]))
    shots = []
    for i in range(n):
        bars = draw(st.integers(0, 3))
        frac = draw(st.sampled_from([0.0, 0.25, 0.9]))
        shots.append({"id": f"s{i}", "scene": scenes[i] * 3 + 1, "duration_s": (bars + frac) * bar_s or 0.3 * bar_s,
                      "score": draw(st.floats(-1, 1, allow_nan=False).map(lambda x: round(x, 3)))})
    total = sum(int(s["duration_s"] / bar_s + 1e-9) for s in shots)
    n_bars = draw(st.integers(1, max(1, min(12, total))))  # mostly feasible, so the optimum is compared
    n_scenes = len(set(scenes))
    max_scenes = draw(st.integers(1, max(1, min(3, n_scenes - 1))))  # usually fewer than the scenes there are
    return SolveMontageInput(shots=shots, bar_s=bar_s, n_bars=n_bars, max_scenes=max_scenes, mode=mode)


def _check_solution(inp: SolveMontageInput, out) -> None:
    by_id = {s.id: s for s in inp.shots}
    order = [s.id for s in inp.shots]
    idx = [order.index(i) for i in out.selected]
    assert idx == sorted(idx), "selected shots must be in chronological order"
    t = discrete_durations([by_id[i].duration_s for i in out.selected], inp.bar_s)
    assert all(t >= 1), "a shot shorter than one bar was picked"
    assert int(t.sum()) == inp.n_bars, "discrete durations must sum exactly to n_bars"
    assert [b.bar for b in out.bars] == list(range(inp.n_bars))
    # φ maps bars to shots in chronological order, each shot covering t_i consecutive bars
    expected = [sid for sid, ti in zip(out.selected, t) for _ in range(int(ti))]
    assert [b.shot for b in out.bars] == expected
    if inp.mode == "hard":
        assert len({by_id[i].scene for i in out.selected}) <= inp.max_scenes
    assert out.total_score == pytest.approx(sum(s.p for s in out.segments))


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("hard"))
def test_hard_mode_matches_exhaustive_search(inp: SolveMontageInput) -> None:
    best = _brute(inp)
    if best == -math.inf:
        with pytest.raises(InfeasibleError):
            solve_montage(inp)
        return
    out = solve_montage(inp)
    _check_solution(inp, out)
    assert out.total_score == pytest.approx(best, abs=1e-9)
    if _brute(inp.model_copy(update={"max_scenes": 99})) > best + 1e-9:
        event("scene constraint binds")


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("soft"))
def test_soft_mode_matches_exhaustive_search(inp: SolveMontageInput) -> None:
    try:
        out = solve_montage(inp)
    except InfeasibleError:
        out = None
    # small instances: the default scale is the lcm of the scene sizes, so the constraint is exact
    sizes = sorted(set(scene_sizes([s.scene for s in inp.shots]).tolist()))
    lcm = 1
    for s in sizes:
        lcm = lcm * s // math.gcd(lcm, s)
    best = _brute(inp, soft_scale=lcm)
    if best == -math.inf:
        assert out is None
        return
    assert out is not None
    assert out.soft_scale == lcm and out.soft_exact
    _check_solution(inp, out)
    assert out.total_score == pytest.approx(best, abs=1e-9)
    assert out.soft_weight_used <= inp.max_scenes + 1e-9
    if _brute(inp.model_copy(update={"max_scenes": 99}), soft_scale=lcm) > best + 1e-9:
        event("soft constraint binds")


def _shots(spec):
    return [{"id": f"s{i}", "scene": sc, "duration_s": d, "score": sco} for i, (sc, d, sco) in enumerate(spec)]


def test_weighted_score_adds_scene_mean() -> None:
    p = weighted_scores([1.0, 0.0, 0.5], [0, 0, 1])
    assert p.tolist() == pytest.approx([1.5, 0.5, 1.0])


def test_discrete_duration_floors_with_float_tolerance() -> None:
    assert discrete_durations([0.6, 1.99, 4.0, 0.3], 0.2).tolist() == [3, 9, 20, 1]
    assert discrete_durations([1.9], 2.0).tolist() == [0]


def test_hard_constraint_binds_and_changes_the_answer() -> None:
    # scene 0 has the best shots but only 2 bars; scene 1 and 2 offer 2 bars each
    spec = [(0, 2.0, 0.9), (1, 2.0, 0.5), (2, 2.0, 0.4)]
    two = solve_montage(SolveMontageInput(shots=_shots(spec), bar_s=1.0, n_bars=4, max_scenes=2))
    assert two.selected == ["s0", "s1"] and two.scenes_used == [0, 1]
    with pytest.raises(InfeasibleError, match=r"scene constraint .*at least 2 scenes"):
        solve_montage(SolveMontageInput(shots=_shots(spec), bar_s=1.0, n_bars=4, max_scenes=1))


def test_registry_round_trip_with_issue_input() -> None:
    payload = {"shots": [{"id": "a", "scene": 0, "duration_s": 4.1, "score": 0.2},
                         {"id": "b", "scene": 0, "duration_s": 2.0, "score": 0.9},
                         {"id": "c", "scene": 1, "duration_s": 6.0, "score": 0.1}],
               "bar_s": 2.0, "n_bars": 3, "max_scenes": 1, "mode": "hard"}
    out = run_tool("solve_montage", payload)
    d = out.model_dump()
    assert d["selected"] == ["a", "b"]
    assert d["bars"] == [{"bar": 0, "shot": "a"}, {"bar": 1, "shot": "a"}, {"bar": 2, "shot": "b"}]
    assert isinstance(d["total_score"], float)


@pytest.mark.parametrize(
    "spec,n_bars,pattern",
    [
        ([(0, 0.5, 1.0), (1, 0.9, 1.0)], 1, r"rhythm constraint.*shorter than one bar"),
        ([(0, 2.0, 1.0), (1, 1.0, 1.0)], 5, r"duration constraint.*3 bars but n_bars is 5"),
        ([(0, 2.0, 1.0), (1, 2.0, 1.0)], 3, r"no set of shot durations .* sums to exactly n_bars=3"),
    ],
)
def test_infeasible_inputs_name_the_failing_constraint(spec, n_bars, pattern) -> None:
    with pytest.raises(InfeasibleError, match=pattern):
        solve_montage(SolveMontageInput(shots=_shots(spec), bar_s=1.0, n_bars=n_bars, max_scenes=3))


def test_non_adjacent_scene_is_rejected() -> None:
    with pytest.raises(ToolInputError, match="two separate runs"):
        solve_montage(SolveMontageInput(shots=_shots([(0, 1, 1), (1, 1, 1), (0, 1, 1)]), bar_s=1.0, n_bars=1, max_scenes=1))


def test_soft_mode_floors_weights_on_large_scenes() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    spec = [(i // 300, float(rng.integers(1, 4)), float(rng.random())) for i in range(n)]
    out = solve_montage(SolveMontageInput(shots=_shots(spec), bar_s=1.0, n_bars=60, max_scenes=3, mode="soft"))
    assert sum(s.n_bars for s in out.segments) == 60
    assert out.soft_scale is not None
    # documented bound: the real soft usage exceeds max_scenes by at most n_bars / scale
    assert out.soft_weight_used <= 3 + 60 / out.soft_scale + 1e-9
    hard = solve_montage(SolveMontageInput(shots=_shots(spec), bar_s=1.0, n_bars=60, max_scenes=3, mode="hard"))
    assert len(hard.scenes_used) <= 3
