"""Edits of a storyline, as pure tools: find shots by their words, swap the material of a beat,
move a beat, relabel a beat. The chat agent (``agents.agent``) and the rule-based editor call
them; each returns a new Storyline (durations stay with their positions, so cuts stay on their
bars) and says which beats changed, so only their narration is written again.
"""

from __future__ import annotations

import math

from pydantic import Field

from tools.core.errors import ToolInputError
from tools.core.models import Material, Model, StoryBeat, Storyline
from tools.core.registry import register
from tools.core.settings import get_settings
from tools.story.labels import check_label


class FindShotsInput(Model):
    """Words to look for in the job's materials."""

    materials: list[Material] = Field(min_length=1)
    """The job's photos and clips."""
    text: str = Field(min_length=1, max_length=200)
    """What the shot shows or has printed on it ("shoe compartment", "防水")."""
    k: int = Field(default=5, ge=1, le=50)
    """How many results."""


class FoundShot(Model):
    """A material whose words match."""

    material_id: str
    """Its id."""
    name: str
    """Its file name."""
    score: float = Field(ge=0, le=1)
    """Share of the query's words found in its printed text, facts shown, caption and file name."""


class FindShotsOutput(Model):
    """Best matches first (only those with a match)."""

    shots: list[FoundShot]
    """Matching materials."""


@register("find_shots")
def find_shots(inp: FindShotsInput) -> FindShotsOutput:
    """Find the job's photos and clips whose printed text, facts shown, caption or file name contain the given words."""
    from tools.understand.relevance import content_words, name_words, words_found

    want = content_words(inp.text)
    out = []
    for m in inp.materials:
        blob = " ".join([m.ocr_text, m.caption, name_words(m.original_name), *m.shows_facts])
        score = len(words_found(want, blob)) / len(want) if want else 0.0
        if score > 0:
            out.append(FoundShot(material_id=m.id, name=m.original_name, score=round(score, 3)))
    return FindShotsOutput(shots=sorted(out, key=lambda s: (-s.score, s.name))[: inp.k])


class EditStorylineInput(Model):
    """One edit of a storyline."""

    storyline: Storyline
    """The storyline to edit."""
    op: str = Field(pattern=r"^(swap|move|relabel)$")
    """swap: show ``material`` in ``beat``; move: put ``beat`` at position ``to``; relabel: give ``beat`` ``label``."""
    beat: int = Field(ge=0)
    """Beat index (0-based)."""
    material: Material | None = None
    """For swap: the material to show."""
    to: int | None = Field(default=None, ge=0)
    """For move: the new position (0-based)."""
    label: str | None = None
    """For relabel: the script label."""
    fps: int = Field(default=30, ge=12, le=60)
    """Frame rate (a clip must hold the beat's frames)."""


class EditStorylineOutput(Model):
    """The edited storyline."""

    storyline: Storyline
    """The new storyline."""
    changed: list[int]
    """Beats (new indices) whose narration must be written again."""
    moved: dict[int, int]
    """Old beat index → new beat index, for every beat."""


def _reindexed(beats: list[StoryBeat]) -> list[StoryBeat]:
    return [b.model_copy(update={"index": k}) for k, b in enumerate(beats)]


@register("edit_storyline")
def edit_storyline(inp: EditStorylineInput) -> EditStorylineOutput:
    """Swap the shot of a beat, move a beat, or relabel a beat; says which lines must be written again."""
    beats = list(inp.storyline.beats)
    n = len(beats)
    if not 0 <= inp.beat < n:
        raise ToolInputError(f"there is no beat {inp.beat + 1}; the storyline has {n}", hint=f"use a beat from 1 to {n}")
    same = {i: i for i in range(n)}
    b = beats[inp.beat]
    if inp.op == "relabel":
        if not inp.label:
            raise ToolInputError("relabel needs a label")
        beats[inp.beat] = b.model_copy(update={"label": check_label(inp.label), "fact": None})
        return EditStorylineOutput(storyline=Storyline(beats=beats, left_out=inp.storyline.left_out, notes=inp.storyline.notes),
                                   changed=[inp.beat], moved=same)
    if inp.op == "move":
        to = inp.to if inp.to is not None else 0
        if not 0 <= to < n:
            raise ToolInputError(f"there is no position {to + 1}", hint=f"use a position from 1 to {n}")
        order = [i for i in range(n) if i != inp.beat]
        order.insert(to, inp.beat)
        # a beat keeps its length (whole bars, so the cuts stay on bar lines) and its narration
        return EditStorylineOutput(storyline=Storyline(beats=_reindexed([beats[i] for i in order]), left_out=inp.storyline.left_out,
                                                       notes=inp.storyline.notes),
                                   changed=[], moved={old: k for k, old in enumerate(order)})
    m = inp.material
    if m is None or m.kind not in ("image", "video"):
        raise ToolInputError("swap needs a photo or clip of the job", hint="find one with find_shots")
    cap = get_settings().max_still_s if m.kind == "image" else float(m.duration_s or 0.0)
    if math.floor(cap * inp.fps + 1e-9) < round(b.duration_s * inp.fps):
        raise ToolInputError(f"'{m.original_name}' holds {cap:.2f} s, beat {inp.beat + 1} lasts {b.duration_s:.2f} s",
                             hint="pick a longer clip or a photo")
    in_s = 0.0 if m.kind == "image" else round(max(0.0, (cap - b.duration_s) / 2), 3)
    beats[inp.beat] = b.model_copy(update={"material_id": m.id, "shot_id": f"{m.id}:0", "in_s": in_s,
                                           "out_s": round(in_s + b.duration_s, 6), "fact": None,
                                           "reason": f"{'photo' if m.kind == 'image' else 'clip'} '{m.original_name}', "
                                                     f"{b.duration_s:.2f} s, {b.label}: chosen by the user"})
    left = {k: v for k, v in inp.storyline.left_out.items() if k != m.id}
    return EditStorylineOutput(storyline=Storyline(beats=beats, left_out=left, notes=inp.storyline.notes), changed=[inp.beat],
                               moved=same)
