"""The storyline engine: which shots, in what order, for how long, saying what.

1. **Candidates.** Every photo, and every shot of a clip (``clip_shots``, from shot detection),
   is a unit that can become one beat, so a beat never spans a cut inside its source. A photo
   may stay up to ``Settings.max_still_s``; a shot at most its own length; no beat is shorter
   than ``Settings.min_shot_s``.
2. **Screening** (survey §4.1.1): blurred and badly exposed photos (``assess_quality``'s flags),
   near-duplicates (left out by ``select_materials``, keeping the best copy) and off-topic
   material (relevance below :data:`~tools.understand.relevance.OFF_TOPIC`) are left out, each
   with its reason, as long as the good material can fill the video; otherwise the best of the
   weak material is taken back and the storyline says so.
3. **Selection** by the group knapsack of Liu et al. (survey §4.3.3; :func:`~tools.story.solver.
   group_knapsack`): one group per unit (a material is used once), one item per allowed length.
   Lengths are whole bars when the music gives a bar grid (montage §3.3, discrete durations) or
   whole steps of :data:`STEP_S` otherwise; the lengths fill the video exactly (the last beat
   also takes the frames left after the last whole step or bar). The value of showing unit *u*
   for *d* seconds is ``d·s_u − LENGTH_COST·(d − d*)²/d*`` with the unit score
   ``s_u = W_RELEVANCE·relevance + W_PERSUASION·persuasiveness + W_QUALITY·quality (+ EMPHASIS)``:
   screen time goes to the most relevant, persuasive and well-made material, shots stay near the
   target length ``d*`` (``Settings.target_shot_s``) and weak material enters only when strong
   material runs out.
4. **Order by film principles** (survey §4.3.3, Liu et al. [76]; :func:`~tools.story.solver.
   order_units`: Held–Karp, exact up to 12 beats, else 2-opt): wide before close (shot size),
   coherence (distance to the product should not grow), graphic discontinuity between neighbours.
   The opening and closing beats show the product itself (the hero or the best packshot).
5. **Labels and facts, jointly** (narrator §3; :func:`~tools.story.labels.predict_labels`): the
   label sequence maximises the E-SyncVidStory Markov model (start, transitions, position, end)
   plus what each shot supports: a shot whose printed text states a fact takes that fact's label
   and will say that fact; packshots lean to recommendation and call to action, close-ups to
   texture/material, clips to trial and effect; labels the product has no facts for are avoided;
   the brief's emphasis gets more and earlier beats.
6. **Music-driven mode** (montage §3.4): when the seller gives music and the library is rich in
   clip shots (at least :data:`MONTAGE_MIN_SHOTS`, and more clip shots than good photos), the
   emotion-aware knapsack of ``solve_montage`` (Algorithm 1, hard scene constraint) picks shots
   in their chronological order whose whole-bar durations fill the bars exactly, maximising the
   match between each shot's valence/arousal and the music's; the storyline's notes say which
   mode ran and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from tools.core.errors import InfeasibleError, InternalError
from tools.core.models import Language, Material, Model, ProductInfo, StoryBeat, Storyline
from tools.core.registry import register
from tools.core.settings import get_settings
from tools.story.labels import (
    aspects_for_label,
    label_for_aspect,
    label_from_words,
    labels_needing_facts,
    load_label_stats,
    predict_labels,
)
from tools.story.solver import knapsack_at, order_units

#: Step of beat lengths without a bar grid (whole frames of it): fine enough to look cut freely,
#: coarse enough to keep the knapsack small (a 600 s video has 1 200 steps).
STEP_S = 0.5
#: Weights of the unit score s_u (they sum to 1): showing the product matters most, then how
#: persuasive the frame is (CPA, survey §4.3.2), then its technical quality.
W_RELEVANCE, W_PERSUASION, W_QUALITY = 0.5, 0.3, 0.2
#: Added to s_u of material that matches what the brief stresses ("stress the texture").
EMPHASIS = 0.3
#: Music-driven mode needs at least this many usable clip shots (montage §3.4 works on footage).
MONTAGE_MIN_SHOTS = 8
#: Cost of a beat's length away from the target length (per second of squared relative deviation).
LENGTH_COST = 0.1
#: Emission weights of the label decoder (log-scores added to the Markov model's).
#: A printed fact outweighs the grammar's preference at any position (its log-odds reach ≈5 at the ends).
FACT_SHOWN_BONUS, PACKSHOT_BONUS, CLOSEUP_BONUS, CLIP_BONUS, EMPHASIS_BONUS, NO_FACTS_COST = 8.0, 1.0, 0.7, 0.4, 1.2, 2.0
#: Log-score cost of the same label on two beats in a row (variety; the grammar alone repeats 产品功效).
REPEAT_COST = 1.0
#: The opening beat shows the product (recommend it); the closing beat shows it again (ask to buy).
OPEN_BONUS, CLOSE_BONUS = 1.0, 1.5


def word_range(duration_s: float, language: Language) -> tuple[int, int]:
    """Narration budget of a shot (narrator §3.1): [r·t−3, r·t+3], r = 5 chars/s (zh) or the en rate."""
    s = get_settings()
    rate = s.zh_chars_per_s if language == "zh" else s.en_words_per_s
    mid = rate * duration_s
    return max(1, math.ceil(mid - 3)), max(2, math.floor(mid + 3))


@dataclass
class Unit:
    """A span that can become one beat: a photo, a whole clip, or one shot of a clip."""

    m: Material
    start_s: float
    end_s: float
    shot: int
    n_shots: int

    @property
    def id(self) -> str:
        return f"{self.m.id}:{self.shot}"

    @property
    def still(self) -> bool:
        return self.m.kind == "image"

    def capacity_s(self) -> float:
        return get_settings().max_still_s if self.still else self.end_s - self.start_s

    def score(self, key: str, default: float = 0.0) -> float:
        return float((self.m.quality or {}).get(key, default))

    def describe(self) -> str:
        if self.still:
            return f"photo '{self.m.original_name}'"
        if self.n_shots > 1:
            return f"shot {self.shot + 1} of clip '{self.m.original_name}'"
        return f"clip '{self.m.original_name}'"


def units_of(materials: list[Material], clip_shots: dict[str, list[tuple[float, float]]]) -> list[Unit]:
    """Photos and clips; a clip with detected shots becomes one unit per shot."""
    out: list[Unit] = []
    for m in materials:
        if m.kind == "image":
            out.append(Unit(m, 0.0, float(m.duration_s or 0.0), 0, 1))
        elif m.kind == "video":
            spans = [(float(a), float(b)) for a, b in (clip_shots.get(m.id) or []) if b > a] or [(0.0, float(m.duration_s or 0.0))]
            out += [Unit(m, a, b, k, len(spans)) for k, (a, b) in enumerate(spans)]
    return out


# --------------------------------------------------------------------------- screening
def weakness(u: Unit, marked: dict[str, str]) -> str | None:
    """Why a unit should not be shown when better material exists (None: it is fine): blurred or
    badly exposed first, then what was marked upstream (a near-duplicate), then off-topic."""
    q = u.m.quality or {}
    # exposure first: a dark photo also measures as unsharp, but darkness is what the seller can fix
    if q.get("is_underexposed"):
        return f"too dark ({q.get('dark_ratio', 0):.0%} of pixels near black)"
    if q.get("is_overexposed"):
        return f"too bright ({q.get('bright_ratio', 0):.0%} of pixels near white)"
    if q.get("is_blurry"):
        return f"blurred (sharpness {q.get('sharpness', 0):.0f} < 60)"
    if u.m.id in marked and not u.m.shows_facts:  # a copy with a selling point printed on it says more than its twin
        return marked[u.m.id]
    from tools.understand.relevance import OFF_TOPIC

    if "relevance" in q and q["relevance"] < OFF_TOPIC:
        return f"off-topic (relevance {q['relevance']:.2f} < {OFF_TOPIC})"
    return None


def unit_score(u: Unit, emphasis: list[str]) -> float:
    """s_u in [0, 1 + EMPHASIS] (module docstring, step 3)."""
    q = u.m.quality or {}
    s = (W_RELEVANCE * float(q.get("relevance", 0.5)) + W_PERSUASION * float(q.get("cpa_persuasiveness", 0.5))
         + W_QUALITY * float(q.get("quality", 0.6)))
    return s + (EMPHASIS if emphasis and matches_emphasis(u, emphasis) else 0.0)


def matches_emphasis(u: Unit, emphasis: list[str]) -> bool:
    """The unit's words (file name, caption, printed text, facts it shows) name something stressed."""
    from tools.understand.relevance import name_words

    text = " ".join([name_words(u.m.original_name), u.m.caption, u.m.ocr_text]).lower()
    return any(e.lower() in text for e in emphasis if e)


# --------------------------------------------------------------------------- selection
def select_units(scores: list[float], caps_f: list[int], step_f: list[int], fps: int, min_f: int,
                 target_s: float) -> list[tuple[int, int]] | None:
    """The group knapsack of step 3: one group per unit, one item per whole number of steps the
    unit can hold (``caps_f``: its capacity in frames; a unit must hold its steps wherever they
    fall, so the longest steps are assumed), filling exactly ``len(step_f)`` steps. Returns
    ``[(unit index, steps)]`` or None when the units cannot fill the steps."""
    n_steps = len(step_f)
    if n_steps == 0:
        return None
    mean_s, longest_f = sum(step_f) / n_steps / fps, max(step_f)
    groups: list[list[tuple[int, float]]] = []
    for s, cap_f in zip(scores, caps_f):
        items = []
        for k in range(1, n_steps + 1):
            if k * longest_f > cap_f:
                break
            if k * mean_s * fps < min_f - 1e-9:
                continue
            d = k * mean_s
            items.append((k, d * s - LENGTH_COST * (d - target_s) ** 2 / target_s))
        groups.append(items)
    value, picks = knapsack_at(groups, n_steps, n_steps)
    if not math.isfinite(value):
        return None
    return [(g, groups[g][it][0]) for g, it in enumerate(picks) if it >= 0]


# --------------------------------------------------------------------------- the tool
class PlanStorylineInput(Model):
    """What to plan."""

    materials: list[Material] = Field(min_length=1)
    """Candidate photos and clips (audio is ignored), with their scores in ``quality``."""
    product: ProductInfo
    """Facts the narration will use (drives labels and aspects)."""
    duration_s: float = Field(gt=0, le=600)
    """Exact length to fill."""
    fps: int = Field(default=30, ge=12, le=60)
    """Frame rate; durations are whole frames."""
    language: Language = "zh"
    """Narration language (word ranges depend on it)."""
    cut_grid_s: list[float] = Field(default_factory=list)
    """Allowed cut times (the music's bar lines on the timeline); empty: cut anywhere."""
    clip_shots: dict[str, list[tuple[float, float]]] = Field(default_factory=dict)
    """Shots of clips (material id → [(start_s, end_s) …], from ``detect_shots``): a beat stays inside one."""
    hero_id: str | None = None
    """The material the user marked as showing the product: it opens the video."""
    emphasis: list[str] = Field(default_factory=list)
    """What the brief stresses ("texture", "质地"): more and earlier beats."""
    left_out: dict[str, str] = Field(default_factory=dict)
    """Materials marked upstream (near-duplicates), with their reasons: left out unless needed."""
    music_va: tuple[float, float] | None = None
    """Valence and arousal of the seller's own music (None: no music, or generated music)."""


def _steps(total_f: int, fps: int, grid_s: list[float], min_f: int) -> list[int]:
    """Step lengths in frames, summing exactly to ``total_f``: the bars of the grid (the tail after
    the last bar line is a step of its own when it is at least half a shortest beat, else it
    lengthens the last bar), or :data:`STEP_S` steps with the remainder on the last one."""
    if grid_s:
        pts = sorted({round(g * fps) for g in grid_s if 0 < round(g * fps) < total_f})
        bounds = [0, *pts, total_f]
        steps = [b - a for a, b in zip(bounds, bounds[1:])]
        if len(steps) > 1 and steps[-1] * 2 < min_f:
            tail = steps.pop()
            steps[-1] += tail
        return steps
    q = max(1, round(STEP_S * fps))
    steps = [q] * max(1, total_f // q)
    steps[-1] += total_f - sum(steps)
    return steps


def montage_plan(units: list[Unit], pool: list[int], step_f: list[int], fps: int, duration_s: float,
                 music_va: tuple[float, float]) -> list[tuple[int, int]] | None:
    """Music-driven selection (module docstring, step 6): the clip shots of ``pool`` in
    chronological order, scenes = clips, score = closeness of the shot's valence/arousal to the
    music's, whole bars filling ``step_f`` exactly. None when the montage solver finds no fill."""
    from tools.core.errors import AdReelError
    from tools.story.montage import MontageShotIn, SolveMontageInput, solve_montage

    n_bars, mean_f, longest_f = len(step_f), sum(step_f) / len(step_f), max(step_f)
    shots = [i for i in pool if not units[i].still]
    clip_of = {m_id: k for k, m_id in enumerate(dict.fromkeys(units[i].m.id for i in shots))}
    items = []
    for i in shots:
        u = units[i]
        va = (u.score("cpa_valence", 0.5), u.score("cpa_arousal", 0.5))
        closeness = 1.0 - math.dist(va, music_va) / math.sqrt(2)
        # a shot covers at most two target lengths; shrunk so that its bars fit wherever they fall
        usable_s = min(u.capacity_s(), 2 * get_settings().target_shot_s) * mean_f / longest_f
        if usable_s * fps >= mean_f:
            items.append(MontageShotIn(id=str(i), scene=clip_of[u.m.id], duration_s=usable_s, score=closeness))
    if not items:
        return None
    max_scenes = max(2, min(len(clip_of), round(duration_s / 5)))
    try:
        out = solve_montage(SolveMontageInput(shots=items, bar_s=mean_f / fps, n_bars=n_bars, max_scenes=max_scenes, mode="hard"))
    except AdReelError:
        return None
    return [(int(seg.id), seg.n_bars) for seg in out.segments]


def _feature(u: Unit) -> list[float]:
    """What a cut between two shots changes graphically (colour, contrast, mood), from the CPA scores."""
    return [u.score(f"cpa_{k}", 0.5) for k in ("colourfulness", "contrast", "valence", "arousal", "aesthetics")]


def _product_score(u: Unit, hero_id: str | None) -> float:
    """How well a unit shows the product itself (for the opening and closing beats); a shot with a
    printed selling point is kept for the middle, where its beat says that point."""
    return 2.0 * (u.m.id == hero_id) + u.score("relevance", 0.5) + u.score("packshot") + 0.2 * u.still - 1.5 * bool(u.m.shows_facts)


def order_beats(chosen: list[Unit], hero_id: str | None) -> tuple[list[int], str]:
    """Film-principle order (module docstring, step 4) with the product opening and closing."""
    from tools.story.solver import StoryShotIn, pair_cost

    n = len(chosen)
    if n == 1:
        return [0], "one beat"
    shots = [StoryShotIn(id=str(i), cluster=i, duration_s=1.0, shot_size=min(1.0, max(0.0, u.score("shot_size", 0.5))),
                         semantic_distance=1.0 - u.score("relevance", 0.5), feature=_feature(u)) for i, u in enumerate(chosen)]
    cost = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a != b:
                cost[a, b] = pair_cost(shots[a], shots[b], 1.0, 1.0, 0.5)
    by_product = sorted(range(n), key=lambda i: -_product_score(chosen[i], hero_id))
    first, last = by_product[0], by_product[1]
    big = 1e3 + float(np.abs(cost).sum())  # no path may put a beat before the opening or after the closing one
    cost[:, first] += big
    cost[last, :] += big
    cost[first, last] += 0.0 if n == 2 else big
    order, _, method = order_units(cost)
    return order, method


def _emissions(units: list[Unit], product: ProductInfo, emphasis: list[str], labels: list[str]) -> tuple[np.ndarray, list[tuple[str, str] | None]]:
    """Log-score of each label on each beat from what its shot shows, and the fact it shows."""
    n, L = len(units), len(labels)
    em = np.zeros((n, L))
    shown: list[tuple[str, str] | None] = []
    has = {lab: bool(aspects_for_label(product, lab)) for lab in labels}
    needs = labels_needing_facts()
    stressed = {lab for e in emphasis if (lab := label_from_words(e) or label_for_aspect(e))}
    for i, u in enumerate(units):
        fact = next(((a, pt) for a, _, pt in (f.partition("：") for f in u.m.shows_facts) if pt), None)
        shown.append(fact)
        if fact:
            em[i, labels.index(label_for_aspect(fact[0]))] += FACT_SHOWN_BONUS
        for j, lab in enumerate(labels):
            if lab in needs and not has[lab]:
                em[i, j] -= NO_FACTS_COST
            if lab in ("产品推荐", "引导购买"):
                em[i, j] += PACKSHOT_BONUS * u.score("packshot") * (1.0 if lab == "产品推荐" else 0.5)
            if lab == "质地/成分/材质":
                em[i, j] += CLOSEUP_BONUS * u.score("shot_size", 0.5)
            if lab in ("产品试用", "产品功效") and not u.still:
                em[i, j] += CLIP_BONUS
            if lab in stressed:
                em[i, j] += EMPHASIS_BONUS * (1.0 - 0.5 * i / max(1, n - 1))
            if n > 1 and i == 0 and lab == "产品推荐":
                em[i, j] += OPEN_BONUS
            if n > 1 and i == n - 1 and lab == "引导购买":
                em[i, j] += CLOSE_BONUS
    return em, shown


@register("plan_storyline")
def plan_storyline(inp: PlanStorylineInput) -> Storyline:
    """Choose, order and label shots that fill the duration exactly: the group knapsack over relevance, persuasiveness and quality, film-principle order, labels from what each shot shows."""
    s = get_settings()
    units = units_of([m for m in inp.materials if m.kind in ("image", "video")], inp.clip_shots)
    if not units:
        raise InfeasibleError("no photos or clips to show", hint="add photos (jpg, png, webp) or clips (mp4, mov, mkv, webm)")
    fps, total_f = inp.fps, round(inp.duration_s * inp.fps)
    min_f = math.ceil(s.min_shot_s * fps - 1e-9)
    notes: list[str] = []
    weak = {i: w for i, u in enumerate(units) if (w := weakness(u, inp.left_out))}
    scores = [unit_score(u, inp.emphasis) for u in units]
    grid = list(inp.cut_grid_s)

    def attempt(pool: list[int], grid_s: list[float]) -> list[tuple[int, int]] | None:
        step_f = _steps(total_f, fps, grid_s, min_f)
        caps = [math.floor(units[i].capacity_s() * fps + 1e-9) for i in pool]
        picked = select_units([scores[i] for i in pool], caps, step_f, fps, min_f, s.target_shot_s)
        return None if picked is None else [(pool[g], k) for g, k in picked]

    good = [i for i in range(len(units)) if i not in weak]
    weak_order = sorted(weak, key=lambda i: -scores[i])
    plan = None
    taken_back: list[int] = []
    for grid_s in ([grid, []] if grid else [[]]):
        pool = list(good)
        plan = attempt(pool, grid_s) if pool else None
        for i in weak_order:
            if plan is not None:
                break
            pool.append(i)
            taken_back.append(i)
            plan = attempt(pool, grid_s)
        if plan is not None:
            if grid and not grid_s:
                notes.append("the material could not be cut on the music's bars; cuts fall between bars")
            grid = grid_s
            break
        taken_back = []
    if plan is None:
        cap_s = sum(min(u.capacity_s(), inp.duration_s) for u in units)
        raise InfeasibleError(
            f"{inp.duration_s:g} s requested, but the {len(units)} photos/shots fill at most {cap_s:.1f} s "
            f"(a photo stays up to {s.max_still_s:g} s, a clip's shot at most its length, no shot under {s.min_shot_s:g} s)",
            hint=f"add more photos or clips, or ask for {max(1, math.floor(cap_s))} s or less")
    for i in taken_back:
        if any(i == p[0] for p in plan):
            notes.append(f"used {units[i].describe()} although it is {weak[i]}: the better material could not fill {inp.duration_s:g} s")
    n_clip_shots = sum(not units[i].still for i in good)
    montage = None
    if grid and inp.music_va and n_clip_shots >= MONTAGE_MIN_SHOTS and n_clip_shots > len(good) - n_clip_shots:
        montage = montage_plan(units, good, _steps(total_f, fps, grid, min_f), fps, inp.duration_s, inp.music_va)
    if montage:
        plan = montage
        notes.append(f"music-driven mode: {n_clip_shots} clip shots and the seller's music, so the emotion-aware montage "
                     "knapsack picked shots in their order to fill whole bars")
        chosen = [units[i] for i, _ in plan]
        method = "montage order (chronological)"
    else:
        chosen = [units[i] for i, _ in plan]
        order, method = order_beats(chosen, inp.hero_id)
        plan = [plan[k] for k in order]
        chosen = [chosen[k] for k in order]
    # lengths in frames: whole steps (bars), which sum exactly to the duration
    step_f = _steps(total_f, fps, grid, min_f)
    bounds, acc = [0], 0
    for _, k in plan:
        acc += k
        bounds.append(sum(step_f[:acc]))
    frames = [b - a for a, b in zip(bounds, bounds[1:])]
    # labels: the Markov storyline grammar plus what each shot shows (module docstring, step 5)
    stats = load_label_stats()
    labels_all = list(stats["labels"])
    em, shown = _emissions(chosen, inp.product, inp.emphasis, labels_all)
    labels = predict_labels(len(chosen), stats, avoid_repeat=REPEAT_COST, emission=em)
    used_aspects: list[str] = []
    beats = []
    for k, (ui, u, f, lab, fact) in enumerate(zip((i for i, _ in plan), chosen, frames, labels, shown)):
        d = f / fps
        cap = u.capacity_s()
        if f > math.floor(cap * fps + 1e-9):  # guarded by the knapsack's capacities
            raise InternalError(f"beat {k} of {d:.2f} s exceeds its shot's {cap:.2f} s")
        # a shot with a selling point printed on it talks about that point whatever its label (a
        # closing call to action over "SHOE COMPARTMENT" still says it): the narrator states it whole
        aspect = fact[0] if fact else None
        if aspect is None:
            cands = aspects_for_label(inp.product, lab)
            aspect = next((a for a in cands if a not in used_aspects), cands[0] if cands else None)
        if aspect:
            used_aspects.append(aspect)
        lo, hi = word_range(d, inp.language)
        in_s = u.start_s
        if not u.still:
            # the middle of the shot: avoids fades and stays clear of its cuts
            in_s = round(u.start_s + max(0.0, (u.end_s - u.start_s - d) / 2), 3)
            in_s = min(in_s, max(u.start_s, math.floor((u.end_s - d) * 1000) / 1000))
        sc = {"relevance": round(u.score("relevance", 0.5), 3), "persuasiveness": round(u.score("cpa_persuasiveness", 0.5), 3),
              "quality": round(u.score("quality", 0.6), 3), "value": round(scores[ui], 3)}
        says = f"says {fact[1]!r} printed on it" if fact else f"talks about {aspect}" if aspect else "recommends the product"
        role = (method if montage else "opens with the product" if k == 0 else "closes on the product" if k == len(chosen) - 1
                else method)
        beats.append(StoryBeat(index=k, shot_id=u.id, material_id=u.m.id, in_s=in_s, out_s=round(in_s + d, 6), duration_s=round(d, 6),
                               label=lab, word_min=lo, word_max=hi, aspect=aspect, fact=fact[1] if fact else None,
                               scores=sc, reason=f"{u.describe()}, {d:.2f} s, {lab}: relevance {sc['relevance']:.2f}, "
                                                 f"persuasiveness {sc['persuasiveness']:.2f}, quality {sc['quality']:.2f}; {role}; {says}"))
    used = {u.m.id for u in chosen}
    left_out: dict[str, str] = {}
    for i, u in enumerate(units):
        if u.m.id not in used and u.m.id not in left_out:
            left_out[u.m.id] = weak.get(i) or "not needed: better material fills the video"
    return Storyline(beats=beats, left_out=left_out, notes=notes)
