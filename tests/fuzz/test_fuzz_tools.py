"""Fuzz every registered tool through the registry, as an LLM agent would call it (property-based).

For each tool a small valid payload (media inside the workspace) is mutated in one place: a path
field replaced by a path trick, a number by an absurd one, a string by hostile text, or the
whole payload by garbage JSON. Properties (see conftest): a correct output or an AdReel error
with a message, nothing written outside the workspace, the inputs unchanged, the secret never
read, memory bounded; and a write path outside the workspace is always refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _guard import Guard
from _hostile import NUMBERS, PATH_KEYS, TEXTS, json_garbage, put, read_tricks, slots, write_tricks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.core.errors import ToolInputError
from tools.core.paths import confine_write
from tools.core.registry import all_tools, run_tool

TOOLS = sorted(all_tools())


def fuzz(n: int) -> settings:
    """``n`` examples, the same ones every run (a red run reproduces), no deadline (media work)."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
MAT = {"id": "0123456789abcdef", "kind": "image", "original_name": "photo0.jpg", "path": "photo0.jpg", "size_bytes": 9000,
       "width_px": 320, "height_px": 240, "quality": {"sharpness": 120.0, "persuasiveness": 0.5}}
CLIP = {"id": "fedcba9876543210", "kind": "video", "original_name": "clip.mp4", "path": "clip.mp4", "size_bytes": 9000,
        "width_px": 320, "height_px": 240, "duration_s": 1.5, "fps": 25.0}
PRODUCT = {"name": "Fuzz Cup", "language": "en", "aspects": [{"aspect": "material", "points": ["ceramic", "glazed"]}]}
BEAT = {"index": 0, "shot_id": "0123456789abcdef:0", "material_id": "0123456789abcdef", "in_s": 0.0, "out_s": 2.0, "duration_s": 2.0,
        "label": "产品推荐", "word_min": 2, "word_max": 8}
LINE = {"beat_index": 0, "label": "产品推荐", "text": "A fine ceramic cup.", "language": "en", "word_min": 2, "word_max": 8}


def base_payload(tool: str, ws: Path) -> dict[str, Any]:
    """A small valid input for ``tool`` whose work is cheap (media inside the workspace)."""
    w = str(ws)
    timeline = {"job_id": "20250101-000000-abc123", "duration_s": 1.0, "render": {"aspect": "1:1", "resolution_p": 720, "fps": 12},
                "language": "en",
                "video": [{"beat_index": 0, "material_id": "0123456789abcdef", "source_path": "photo0.jpg", "is_still": True, "in_s": 0.0,
                           "start_s": 0.0, "duration_s": 1.0}],
                "subtitles": [{"start_s": 0.1, "end_s": 0.9, "text": "Fuzz"}]}
    return {
        "analyze_music": {"path": f"{w}/music.wav"},
        "assess_quality": {"paths": [f"{w}/photo0.jpg", f"{w}/photo1.jpg"]},
        "build_timeline": {"job_id": "20250101-000000-abc123", "storyline": {"beats": [BEAT]}, "lines": [LINE],
                           "speech": [{"path": "tone.wav", "duration_s": 1.0}], "materials": {MAT["id"]: MAT},
                           "render": {"aspect": "1:1", "resolution_p": 720}, "language": "en", "music_path": "music.wav"},
        "detect_shots": {"path": f"{w}/clip.mp4", "out_dir": f"{w}/shots"},
        "edit_storyline": {"storyline": {"beats": [BEAT]}},
        "explain_excitement": {"video_path": f"{w}/corrupt.mp4", "out_dir": f"{w}/explain"},
        "find_shots": {"materials": [MAT], "text": "cup"},
        "generate_music": {"out_dir": f"{w}/music", "duration_s": 2.0},
        "index_materials": {"index_dir": f"{w}/index", "items": [{"id": "a", "image_path": f"{w}/photo0.jpg", "text": "cup"}]},
        "ingest_materials": {"product_id": "fuzz-cup", "paths": [f"{w}/photo0.jpg"], "workspace": w},
        "make_gif_thumbnail": {"video_path": f"{w}/corrupt.mp4", "out_dir": f"{w}/thumb", "file_name": "t.gif"},
        "narrate_storyline": {"product": PRODUCT, "beats": [{"label": "产品推荐", "word_min": 3, "word_max": 8}], "language": "en"},
        "ocr_images": {"paths": [f"{w}/photo0.jpg"]},
        "parse_product": {"path": f"{w}/facts.txt"},
        "plan_storyline": {"materials": [MAT], "product": PRODUCT, "duration_s": 3.0, "language": "en"},
        "rate_relevance": {"product": PRODUCT, "items": [{"id": "a", "path": f"{w}/photo0.jpg", "text": "cup"}]},
        "read_text_boxes": {"workspace": w, "photos": [{"id": "0123456789abcdef", "path": "photo0.jpg"}]},
        "reframe_shot": {"path": f"{w}/photo0.jpg", "target_aspect": 0.5625},
        "render_timeline": {"timeline": timeline, "workspace": w, "out_dir": f"{w}/jobs/r", "workers": 1},
        "score_materials": {"items": [{"id": "a", "path": f"{w}/photo0.jpg"}, {"id": "b", "path": f"{w}/photo1.jpg"}]},
        "search_materials": {"index_dir": f"{w}/index", "text": "cup"},
        "select_materials": {"workspace": w, "product_id": "fuzz-cup", "materials": [MAT]},
        "solve_montage": {"shots": [{"id": "a", "scene": 0, "duration_s": 2.0, "score": 0.5}, {"id": "b", "scene": 1, "duration_s": 3.0, "score": 0.7}],
                          "bar_s": 1.0, "n_bars": 4, "max_scenes": 2},
        "solve_storyline": {"shots": [{"id": f"s{i}", "cluster": i, "duration_s": 2.0, "persuasiveness": 0.5} for i in range(4)], "budget_s": 6.0},
        "split_clips": {"workspace": w, "clips": [{"id": "fedcba9876543210", "path": "clip.mp4"}]},
        "synthesize_speech": {"lines": [LINE], "max_durations_s": [3.0], "out_dir": f"{w}/voice"},
    }.get(tool, {})


def _is_write_slot(tool: str, where: tuple[Any, ...]) -> bool:
    """Whether the slot is a write path of the tool (out_dir, index_dir of index_materials, file_name)."""
    key = next((k for k in reversed(where) if isinstance(k, str)), "")
    return key in {"out_dir", "file_name"} or (tool == "index_materials" and key == "index_dir")


def _escapes(ws: Path, value: str) -> bool:
    """Whether ``value`` as a write path would leave the workspace (or is no path at all)."""
    from tools.core.paths import use_workspace

    try:
        with use_workspace(ws):
            confine_write(value)
    except ToolInputError:
        return True
    return False


@pytest.mark.timeout(600)
@pytest.mark.parametrize("tool", TOOLS)
@fuzz(8)
@given(data=st.data())
def test_path_tricks(guard: Guard, tool: str, data: st.DataObject) -> None:
    base = base_payload(tool, guard.ws)
    where = slots(base, keys=PATH_KEYS)
    if not where:
        pytest.skip(f"{tool} takes no paths")
    at = data.draw(st.sampled_from(where), label="slot")
    key = next(k for k in reversed(at) if isinstance(k, str))
    pool = write_tricks(guard.ws, guard.outside, guard.inputs) if _is_write_slot(tool, at) or key == "workspace" \
        else read_tricks(guard.ws, guard.outside) + write_tricks(guard.ws, guard.outside, guard.inputs)[:8]
    value = data.draw(st.sampled_from(pool), label="value")
    kind, out = guard.case("path tricks", f"{tool}.{'.'.join(map(str, at))}={value[:60]!r}", lambda: run_tool(tool, put(base, at, value)))
    if _is_write_slot(tool, at) and key != "file_name" and _escapes(guard.ws, value):
        assert kind == "error" and isinstance(out, ToolInputError), f"{tool} accepted the write path {value[:80]!r}"
    if key == "file_name" and value not in ("t.gif",) and ("/" in value or "\x00" in value or not value.strip()):
        assert kind == "error", f"{tool} accepted the file name {value[:80]!r}"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("tool", TOOLS)
@fuzz(6)
@given(data=st.data())
def test_absurd_numbers(guard: Guard, tool: str, data: st.DataObject) -> None:
    base = base_payload(tool, guard.ws)
    where = slots(base, kind=(int, float))
    if not where:
        where = [("__extra_number__",)]
    at = data.draw(st.sampled_from(where), label="slot")
    value = data.draw(st.sampled_from(NUMBERS), label="value")
    guard.case("absurd numbers", f"{tool}.{'.'.join(map(str, at))}={value!r:.60}", lambda: run_tool(tool, put(base, at, value)))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("tool", TOOLS)
@fuzz(3)
@given(data=st.data())
def test_hostile_text(guard: Guard, tool: str, data: st.DataObject) -> None:
    base = base_payload(tool, guard.ws)
    where = [s for s in slots(base, kind=str) if not any(isinstance(k, str) and k in PATH_KEYS for k in s)]
    if not where:
        where = [("__extra_text__",)]
    at = data.draw(st.sampled_from(where), label="slot")
    value = data.draw(st.sampled_from(TEXTS), label="value")
    guard.case("hostile text", f"{tool}.{'.'.join(map(str, at))}={value[:40]!r}", lambda: run_tool(tool, put(base, at, value)))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("tool", TOOLS)
@fuzz(3)
@given(garbage=json_garbage(), as_text=st.booleans())
def test_garbage_payloads(guard: Guard, tool: str, garbage: Any, as_text: bool) -> None:
    import json

    payload: Any = json.dumps(garbage) if as_text else garbage
    guard.case("garbage payloads", f"{tool}: {str(payload)[:60]}", lambda: run_tool(tool, payload))


@pytest.mark.parametrize("payload", ["", "{", "[]", "null", '{"a": ' * 5000 + "1" + "}" * 5000, "\x00", "\ud800", "{}" * 10])
def test_unparseable_json(guard: Guard, payload: str) -> None:
    for tool in ("parse_product", "render_timeline", "solve_storyline"):
        guard.case("garbage payloads", f"{tool}: {payload[:30]!r}", lambda t=tool: run_tool(t, payload))
