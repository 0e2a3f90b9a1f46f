"""Backends are chosen once from the settings, and one rule decides every fallback."""

from __future__ import annotations

import pytest

from tools.core.backends import BACKENDS, default_backend, fallback_note, with_fallback
from tools.core.errors import BackendUnavailable, ToolInputError
from tools.core.models import ProductInfo, StoryBeat, Storyline


def _story(n: int = 3) -> Storyline:
    return Storyline(beats=[StoryBeat(index=i, shot_id=f"s{i}", material_id="0" * 16, in_s=0, out_s=3, duration_s=3,
                                      label="产品推荐" if i == 0 else "产品功效", word_min=12, word_max=18) for i in range(n)])


def test_with_fallback_runs_the_default_only_when_the_chosen_one_is_unavailable() -> None:
    assert with_fallback("speech", "openai", lambda: "endpoint", lambda: "espeak") == ("endpoint", None)

    def down() -> str:
        raise BackendUnavailable("server at http://127.0.0.1:9 is unreachable")

    res, note = with_fallback("speech", "openai", down, lambda: "espeak")
    assert res == "espeak" and note == "the speech endpoint failed (server at http://127.0.0.1:9 is unreachable); espeak-ng was used instead"

    def bad_input() -> str:
        raise ToolInputError("bad line")

    with pytest.raises(ToolInputError):  # a caller's mistake is not a reason to fall back
        with_fallback("speech", "openai", bad_input, lambda: "espeak")


def test_every_role_has_its_embedded_default_first() -> None:
    assert {r: default_backend(r) for r in BACKENDS} == {"narrator": "embedded", "speech": "espeak", "planner": "rules",
                                                         "encoder": "classic"}
    assert "rule-based planner" in fallback_note("planner", "llm", BackendUnavailable("down"))


def test_build_deps_reads_the_settings_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.deps import build_deps

    assert build_deps().describe() == {"narrator": "embedded", "planner": "rules", "speech": "espeak", "encoder": "classic"}
    monkeypatch.setenv("ADREEL_NARRATOR", "vllm")
    monkeypatch.setenv("ADREEL_PLANNER", "llm")
    monkeypatch.setenv("ADREEL_TTS", "openai")
    monkeypatch.setenv("ADREEL_TTS_BASE_URL", "http://speech.local:8880/v1")
    deps = build_deps()  # nothing connects here: a server that is down costs nothing until used
    assert deps.describe() == {"narrator": "vllm", "planner": "llm", "speech": "openai", "encoder": "classic"}
    assert deps.speech.endpoint is not None and deps.speech.endpoint.base_url == "http://speech.local:8880/v1"


def test_a_failing_narrator_hands_its_beats_to_the_embedded_one() -> None:
    from tools.narrate.lines import EmbeddedNarratorBackend, narrate_beats

    class Down(EmbeddedNarratorBackend):
        name = "vllm"

        def narrate(self, *a, **k):  # type: ignore[no-untyped-def]
            raise BackendUnavailable("vLLM server at http://127.0.0.1:9/v1 is unreachable")

    product = ProductInfo.model_validate({"name": "晨光挂耳咖啡", "language": "zh", "aspects": [{"aspect": "功效", "points": ["提神醒脑"]}]})
    story = _story()
    lines, note = narrate_beats(Down(), product, story, "zh")
    assert [ln.beat_index for ln in lines] == [0, 1, 2] and all(ln.in_range for ln in lines)
    assert note and "unreachable" in note and "the embedded narrator was used instead" in note
    # lines that still fit their beat are kept; only the others are written
    kept, note2 = narrate_beats(Down(), product, story, "zh", given=[lines[0].model_dump(), lines[2].model_dump()])
    assert kept[0] == lines[0] and kept[2] == lines[2] and note2


def test_a_line_too_long_to_speak_naturally_gets_a_smaller_budget() -> None:
    """The speech step compressed line 2 by 1.5×: its beat's new budget is what would have fitted."""
    from tools.core.models import NarrationLine
    from tools.narrate.lines import shorter_beats

    story = _story(3)
    lines = [NarrationLine(beat_index=i, label=b.label, text="好" * 18, language="zh", word_min=12, word_max=18)
             for i, b in enumerate(story.beats)]
    out = shorter_beats(story, lines, {1: 1.5}, [1])
    assert (out.beats[1].word_min, out.beats[1].word_max) == (8, 12)
    assert [b.word_max for k, b in enumerate(out.beats) if k != 1] == [18, 18] and story.beats[1].word_max == 18
