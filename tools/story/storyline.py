"""The walking-skeleton storyline: choose and order shots to fill a duration exactly.

Simple on purpose (the storyline/montage solvers replace the selection): every photo, and every
shot of a clip (``clip_shots``, from shot detection), gives at most one beat, so a beat never
spans a cut inside the source; shots of different clips are interleaved so one long clip does
not fill the video; the number of shots follows ``Settings.target_shot_s``; durations are whole
frames that add up exactly to the requested length; clips never exceed their own length and
photos never exceed ``max_still_s``. Script labels follow the usual arc of E-SyncVidStory ads:
recommend the product, then talk about its aspects (:func:`tools.story.labels.label_for_aspect`),
then call to action.
"""

from __future__ import annotations

import math

from pydantic import Field

from tools.core.errors import InfeasibleError
from tools.core.models import Language, Material, Model, ProductInfo, StoryBeat, Storyline
from tools.core.registry import register
from tools.core.settings import get_settings
from tools.story.labels import label_for_aspect


def word_range(duration_s: float, language: Language) -> tuple[int, int]:
    """Narration budget of a shot (narrator §3.1): [r·t−3, r·t+3], r = 5 chars/s (zh) or the en rate."""
    s = get_settings()
    rate = s.zh_chars_per_s if language == "zh" else s.en_words_per_s
    mid = rate * duration_s
    return max(1, math.ceil(mid - 3)), max(2, math.floor(mid + 3))


class _Unit:
    """A span that can become one beat: a photo, a whole clip, or one shot of a clip."""

    __slots__ = ("m", "start_s", "end_s", "shot", "kind", "duration_s", "original_name", "id")

    def __init__(self, m: Material, start_s: float = 0.0, end_s: float | None = None, shot: int = 0) -> None:
        self.m, self.start_s, self.shot = m, start_s, shot
        self.end_s = float(m.duration_s or 0.0) if end_s is None else end_s
        self.kind, self.original_name, self.id = m.kind, m.original_name, m.id
        self.duration_s = self.end_s - self.start_s if m.kind == "video" else m.duration_s


def _units(materials: list[Material], clip_shots: dict[str, list[tuple[float, float]]]) -> list[_Unit]:
    """Photos and clips in preference order; a clip with detected shots is split into them, and
    shots are taken round-robin across clips (first shot of each clip, then the second …)."""
    per: list[list[_Unit]] = []
    for m in materials:
        spans = clip_shots.get(m.id) if m.kind == "video" else None
        if spans and len(spans) > 1:
            per.append([_Unit(m, float(a), float(b), k) for k, (a, b) in enumerate(spans) if b > a])
        else:
            per.append([_Unit(m)])
    out: list[_Unit] = []
    for r in range(max((len(u) for u in per), default=0)):
        out += [u[r] for u in per if r < len(u)]
    return out


def _capacity_s(m: Material | _Unit) -> float:
    s = get_settings()
    return s.max_still_s if m.kind == "image" else float(m.duration_s or 0.0)


def allocate_frames(capacities_f: list[int], total_f: int) -> list[int]:
    """Split ``total_f`` frames as evenly as possible without exceeding any capacity (water filling)."""
    n = len(capacities_f)
    alloc = [0] * n
    remaining, open_ = total_f, list(range(n))
    while remaining > 0 and open_:
        share = max(1, remaining // len(open_))
        for i in list(open_):
            take = min(share, capacities_f[i] - alloc[i], remaining)
            alloc[i] += take
            remaining -= take
            if alloc[i] >= capacities_f[i]:
                open_.remove(i)
            if remaining == 0:
                break
    if remaining:
        raise InfeasibleError("internal allocation left frames over")  # guarded by the capacity check
    return alloc


def allocate_on_grid(caps_s: list[float], duration_s: float, grid_s: list[float], fps: int, min_shot_s: float) -> list[int] | None:
    """Cut points on ``grid_s`` (bar boundaries) splitting [0, duration_s] into one span per
    material in order, each within its capacity and at least ``min_shot_s``, as even as
    possible (least squares, exact DP). Returns frame counts, or None when no such split exists.
    Grid times are rounded to whole frames, so each cut lies within half a frame of its bar."""
    total_f = round(duration_s * fps)
    pts = sorted({round(g * fps) for g in grid_s if 0 < round(g * fps) < total_f})
    bounds = [0, *pts, total_f]
    n, m = len(caps_s), len(bounds)
    target = total_f / n
    min_f = math.ceil(min_shot_s * fps - 1e-9)
    inf = float("inf")
    # best[k][j]: cost of covering bounds[0..j] with the first k shots
    best = [[inf] * m for _ in range(n + 1)]
    prev = [[-1] * m for _ in range(n + 1)]
    best[0][0] = 0.0
    for k in range(1, n + 1):
        cap_f = math.floor(caps_s[k - 1] * fps + 1e-9)
        for j in range(1, m):
            for i in range(j):
                if best[k - 1][i] == inf:
                    continue
                span = bounds[j] - bounds[i]
                if span < min_f or span > cap_f:
                    continue
                c = best[k - 1][i] + (span - target) ** 2
                if c < best[k][j]:
                    best[k][j], prev[k][j] = c, i
    if best[n][m - 1] == inf:
        return None
    frames, j = [], m - 1
    for k in range(n, 0, -1):
        i = prev[k][j]
        frames.append(bounds[j] - bounds[i])
        j = i
    return frames[::-1]


class PlanStorylineInput(Model):
    """What to plan."""

    materials: list[Material] = Field(min_length=1)
    """Candidate photos and clips (audio is ignored), in preferred order."""
    product: ProductInfo
    """Facts the narration will use (drives labels and aspects)."""
    duration_s: float = Field(gt=0, le=600)
    """Exact length to fill."""
    fps: int = Field(default=30, ge=12, le=60)
    """Frame rate; durations are whole frames."""
    language: Language = "zh"
    """Narration language (word ranges depend on it)."""
    cut_grid_s: list[float] = Field(default_factory=list)
    """Allowed cut times (the music's bar boundaries on the timeline); empty: cut anywhere."""
    clip_shots: dict[str, list[tuple[float, float]]] = Field(default_factory=dict)
    """Shots of clips (material id → [(start_s, end_s) …], from ``detect_shots``): a beat stays inside one."""


@register("plan_storyline")
def plan_storyline(inp: PlanStorylineInput) -> Storyline:
    """Choose and order shots that fill the duration exactly, with a script label and word range each."""
    s = get_settings()
    visual_m = [m for m in inp.materials if m.kind in ("image", "video")]
    if not visual_m:
        raise InfeasibleError("no photos or clips to show", hint="add photos (jpg, png, webp) or clips (mp4, mov, mkv, webm)")
    total_f = round(inp.duration_s * inp.fps)
    visual = _units(visual_m, inp.clip_shots)
    min_f = math.ceil(s.min_shot_s * inp.fps)
    usable = [m for m in visual if _capacity_s(m) * inp.fps >= min_f]
    cap_total_s = sum(_capacity_s(m) for m in usable)
    # compare in whole frames: a 2.23 s clip holds 53 frames at 24 fps, but 2.23 s of video is 54
    if sum(math.floor(_capacity_s(m) * inp.fps + 1e-9) for m in usable) < total_f:
        raise InfeasibleError(
            f"{inp.duration_s:g} s requested, but {len(usable)} usable photos/clips fill at most {cap_total_s:.1f} s "
            f"(a photo stays up to {s.max_still_s:g} s; a clip at most its length)",
            hint=f"add more photos or clips, or ask for {math.floor(cap_total_s)} s or less",
        )
    n_target = max(1, round(inp.duration_s / s.target_shot_s))
    n = max(min(n_target, len(usable), total_f // min_f), 1)
    # take the n materials with most capacity if n shots cannot fill the time otherwise
    chosen = usable[:n]

    def cap_f(m: _Unit) -> int:
        return math.floor(_capacity_s(m) * inp.fps + 1e-9)

    if sum(cap_f(m) for m in chosen) < total_f:
        chosen = sorted(usable, key=_capacity_s, reverse=True)
        acc, k = 0, 0
        while acc < total_f:
            acc += cap_f(chosen[k])
            k += 1
        chosen = [m for m in usable if m in chosen[: max(k, n)]]
    caps_f = [cap_f(m) for m in chosen]
    frames = None
    if inp.cut_grid_s:  # cut on bars: try n shots, then fewer, before giving up the grid
        for k in range(len(chosen), 0, -1):
            sub = chosen[:k] if sum(cap_f(m) for m in chosen[:k]) >= total_f else None
            if sub and (frames := allocate_on_grid([_capacity_s(m) for m in sub], inp.duration_s, inp.cut_grid_s, inp.fps, s.min_shot_s)):
                chosen = sub
                break
    if frames is None:
        frames = allocate_frames(caps_f, total_f)
    chosen = [m for m, f in zip(chosen, frames) if f > 0]
    frames = [f for f in frames if f > 0]

    aspects = [a.aspect for a in inp.product.aspects if a.points]
    body_aspects = [a for a in aspects if label_for_aspect(a) not in ("引导购买",)] or aspects
    cta_aspect = next((a for a in aspects if label_for_aspect(a) == "引导购买"), None)
    beats, t = [], 0
    for i, (m, f) in enumerate(zip(chosen, frames)):
        d = f / inp.fps
        if i == 0:
            label, aspect = "产品推荐", (body_aspects[0] if body_aspects else None)
        elif i == len(chosen) - 1 and len(chosen) > 1:
            label, aspect = "引导购买", cta_aspect or (body_aspects[-1] if body_aspects else None)
        else:
            aspect = body_aspects[(i - 1) % len(body_aspects)] if body_aspects else None
            label = label_for_aspect(aspect) if aspect else "其他/通用卖点"
        lo, hi = word_range(d, inp.language)
        in_s = 0.0
        if m.kind == "video" and m.duration_s:
            # the middle of the shot (or clip): avoids fades and stays clear of its cuts
            in_s = round(m.start_s + max(0.0, (m.duration_s - d) / 2), 3)
            in_s = min(in_s, max(m.start_s, math.floor((m.end_s - d) * 1000) / 1000))
        what = f"shot {m.shot + 1} of clip" if m.kind == "video" and m.id in inp.clip_shots and len(inp.clip_shots[m.id]) > 1 else m.kind
        beats.append(StoryBeat(index=i, shot_id=f"{m.id}:{m.shot}", material_id=m.id, in_s=in_s, out_s=round(in_s + d, 6),
                               duration_s=round(d, 6), label=label, word_min=lo, word_max=hi, aspect=aspect,
                               reason=f"{what} '{m.original_name}' shown {d:.2f} s for {label}"))
        t += f
    return Storyline(beats=beats)
