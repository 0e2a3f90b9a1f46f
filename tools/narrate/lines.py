"""Narration lines for a storyline: which lines stay, and who writes the rest.

A narrator backend writes one line per beat (narrator §3.1: a label and a text inside the beat's
word range). Backends implement :class:`Narrator`; the embedded one (:class:`EmbeddedNarrator
Backend`) always exists, the served one lives in ``serving/narrator_client.py``. Which backend
plays the role is decided once (``agents.deps``); when it fails, the one fallback rule of
``tools.core.backends`` hands the beats to the embedded narrator and says so.

Lines already written are kept when they still fit (:func:`lines_to_keep`): a drafted line
whose beat kept its label and word range, and a line the user wrote (the speech step then fits
its rate to the shot). A served narrator that fails half-way raises :class:`NarrationInterrupted`
with the lines it did write: those are kept, and only the rest falls to the embedded narrator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from tools.core.backends import with_fallback
from tools.core.errors import BackendUnavailable
from tools.core.models import Language, NarrationLine, ProductInfo, StoryBeat, Storyline


class NarrationInterrupted(BackendUnavailable):
    """A narrator backend stopped part-way (the server went away); ``written`` holds the lines it
    finished, by beat index, so that nothing already written is lost."""

    def __init__(self, message: str, written: dict[int, NarrationLine], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.written = written


class Narrator(Protocol):
    """Writes one narration line per beat. Raises BackendUnavailable when it cannot run."""

    name: str

    def narrate(self, product: ProductInfo, beats: Sequence[StoryBeat], language: Language, n_beats: int,
                keyframes: dict[int, list[str]]) -> list[NarrationLine]:
        """Lines for ``beats`` (a subset of a storyline of ``n_beats``), in order, ``beat_index`` set
        to each beat's index; ``keyframes`` maps a beat index to the images its shot shows."""
        ...


class EmbeddedNarratorBackend:
    """The embedded, knowledge-grounded narrator (``tools.narrate.narrator``): offline, always there."""

    name = "embedded"

    def narrate(self, product: ProductInfo, beats: Sequence[StoryBeat], language: Language, n_beats: int,
                keyframes: dict[int, list[str]]) -> list[NarrationLine]:
        from tools.narrate.narrator import narrate_story_beats

        return narrate_story_beats(product, beats, language)


def lines_to_keep(story: Storyline, given: Sequence[dict[str, Any] | NarrationLine] | None) -> dict[int, NarrationLine]:
    """Lines of ``given`` that still fit their beat: same label and word range and in range, or
    written by the user for the same label (the user's own words are kept)."""
    keep: dict[int, NarrationLine] = {}
    for d in given or []:
        ln = d if isinstance(d, NarrationLine) else NarrationLine.model_validate(d)
        if ln.beat_index >= len(story.beats):
            continue
        b = story.beats[ln.beat_index]
        if (ln.label, ln.word_min, ln.word_max) == (b.label, b.word_min, b.word_max) and ln.in_range:
            keep[ln.beat_index] = ln
        elif ln.source == "user" and ln.label == b.label and ln.text.strip():
            keep[ln.beat_index] = ln
    return keep


def narrate_beats(narrator: Narrator, product: ProductInfo, story: Storyline, language: Language,
                  given: Sequence[dict[str, Any] | NarrationLine] | None = None,
                  keyframes: dict[int, list[str]] | None = None) -> tuple[list[NarrationLine], str | None]:
    """A line for every beat of ``story``: kept lines stay, ``narrator`` writes the others (the
    embedded narrator when it fails). Returns the lines in beat order and a fallback note or None."""
    keep = lines_to_keep(story, given)
    todo = [b for b in story.beats if b.index not in keep]
    note = None
    fresh: dict[int, NarrationLine] = {}
    if todo:
        n, kf = len(story.beats), keyframes or {}
        done: dict[int, NarrationLine] = {}

        def chosen() -> list[NarrationLine]:
            try:
                return narrator.narrate(product, todo, language, n, kf)
            except NarrationInterrupted as e:
                done.update(e.written)
                raise

        def default() -> list[NarrationLine]:
            rest = [b for b in todo if b.index not in done]
            return list(done.values()) + (EmbeddedNarratorBackend().narrate(product, rest, language, n, kf) if rest else [])

        written, note = with_fallback("narrator", narrator.name, chosen, default)
        if note and done:
            note += f" for {len(todo) - len(done)} of {len(todo)} lines (the {len(done)} written before the failure were kept)"
        fresh = {ln.beat_index: ln for ln in written}
    return [keep.get(b.index) or fresh[b.index] for b in story.beats], note


def shorter_beats(story: Storyline, lines: Sequence[NarrationLine], tempo: dict[int, float], beats: Sequence[int]) -> Storyline:
    """The storyline with a smaller word budget on ``beats``: what their line would have needed to
    fit at a natural speaking rate (its length divided by the compression ``tempo`` the speech
    step had to apply), so the narrator writes them shorter instead of the voice rushing."""
    from tools.core.models import count_words

    out = list(story.beats)
    for i in beats:
        b, ln = story.beats[i], lines[i]
        fits = max(1, int(count_words(ln.text, ln.language) / max(1.0, tempo.get(i, 1.0))))
        hi = max(1, min(b.word_max, fits))
        out[i] = b.model_copy(update={"word_max": hi, "word_min": min(b.word_min, max(0, hi - 4))})
    return story.model_copy(update={"beats": out})
