"""Tools are confined to the workspace by one mechanism (``tools.core.paths``): every path a tool
writes is resolved and must lie inside the workspace; every path it reads is in the workspace or
an input the user named; a tool's ``workspace`` field is the current workspace. Also the bounds
that keep memory and time finite, and the start-up checks (issue 15)."""

from __future__ import annotations

import math
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from tools.core.errors import ToolInputError
from tools.core.paths import PATH_VALIDATORS, allow_inputs, check_export, confine_read, confine_write, use_workspace
from tools.core.registry import all_tools, run_tool

_write, _read, _root, _name = (PATH_VALIDATORS[k] for k in ("write", "read", "root", "file_name"))


def _validators(annotation: object) -> set[object]:
    """The path validators (write, read, root, file name) inside a field's annotation."""
    found = set()
    for meta in getattr(annotation, "__metadata__", ()):
        fn = getattr(meta, "func", None)
        if fn in (_write, _read, _root, _name):
            found.add(fn)
    for arg in typing.get_args(annotation):
        found |= _validators(arg)
    return found


def _path_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, set[object]]]:
    out = []
    for name, f in model.model_fields.items():
        v = _validators(f.annotation) | {x for m in f.metadata for x in [getattr(m, "func", None)] if x in (_write, _read, _root, _name)}
        if v:
            out.append((prefix + name, v))
    return out


WRITE_NAMES = {"out_dir", "index_dir", "file_name", "workspace"}


def test_every_path_field_of_every_tool_is_typed() -> None:
    """No tool takes a path as a bare string: every field named like a path carries one of the
    confinement types (a new tool that forgets it fails here)."""
    names = {"path", "paths", "out_dir", "index_dir", "workspace", "video_path", "image_path", "model_path", "wundt_path", "file_name"}
    bare = []
    for tool in all_tools().values():
        typed = {n for n, _ in _path_fields(tool.input_model)}
        for name in tool.input_model.model_fields:
            if name in names and name not in typed:
                bare.append(f"{tool.name}.{name}")
    assert not bare, f"path fields without a confinement type: {bare}"


@pytest.mark.parametrize("tool", sorted(t for t, v in all_tools().items() if any(n in WRITE_NAMES for n, _ in _path_fields(v.input_model))))
def test_every_write_field_refuses_paths_outside(tool: str, tmp_path: Path, _isolated_workspace: Path) -> None:
    """The probe's finding: make_gif_thumbnail, generate_music, explain_excitement, detect_shots,
    synthesize_speech, index_materials, ingest_materials and render_timeline wrote outside."""
    model = all_tools()[tool].input_model
    outside = tmp_path / "elsewhere"
    for name, kinds in _path_fields(model):
        if not kinds & {_write, _root, _name}:
            continue
        for bad in [str(outside), "/", "../../x", f"{_isolated_workspace}/../x", "~/x"] + (["../../../x.gif", "a/b.gif"] if name == "file_name" else []):
            with pytest.raises(ToolInputError, match="outside the workspace|not the current workspace|not a bare file name"):
                run_tool(tool, {name: bad})
    assert not outside.exists()


def test_write_paths_resolve_dotdot_links_and_relative(tmp_path: Path, _isolated_workspace: Path) -> None:
    ws = _isolated_workspace
    (ws / "link").symlink_to(tmp_path, target_is_directory=True)
    assert confine_write("jobs/x") == str(ws / "jobs" / "x")  # relative: inside the workspace
    assert confine_write(str(ws / "a" / ".." / "b")) == str(ws / "b")
    for bad in ["link/x", str(ws / "link" / "x"), str(ws / ".." / "x"), "/tmp/x", "", "a\x00b", "x" * 5000]:
        with pytest.raises(ToolInputError):
            confine_write(bad)


def test_reads_are_the_workspace_or_named_inputs(tmp_path: Path, _isolated_workspace: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("name: x\nmaterial: y\n")
    with allow_inputs(replace=True):
        for bad in [str(secret), "/etc/passwd", "../../../../etc/passwd"]:
            with pytest.raises(ToolInputError, match="neither in the workspace nor one of the inputs"):
                confine_read(bad)
        with pytest.raises(ToolInputError):
            run_tool("parse_product", {"path": str(secret)})
        with allow_inputs(tmp_path):
            assert confine_read(str(secret)) == str(secret)
            assert run_tool("parse_product", {"path": str(secret)}).name == "x"


def test_render_into_the_filesystem_root_is_refused(tmp_path: Path) -> None:
    """The probe's finding: render_timeline with "workspace": "/" created /cache/render; a refused
    render is a ToolInputError (exit 2), not an internal error."""
    tl = {"job_id": "20250101-000000-abc123", "duration_s": 1.0, "video": []}
    before = Path("/cache/render").exists()
    for ws, out in [("/", "/"), ("/", str(tmp_path)), (str(tmp_path), str(tmp_path))]:
        with pytest.raises(ToolInputError):
            run_tool("render_timeline", {"timeline": tl, "workspace": ws, "out_dir": out})
    assert Path("/cache/render").exists() == before


def test_cache_ids_cannot_name_paths(_isolated_workspace: Path) -> None:
    """Material ids become cache file names: only content ids are accepted."""
    for bad in ["../../../../tmp/x", "a" * 300, "🙂"]:
        with pytest.raises(ToolInputError):
            run_tool("split_clips", {"workspace": str(_isolated_workspace), "clips": [{"id": bad, "path": "x.mp4"}]})
        with pytest.raises(ToolInputError):
            run_tool("read_text_boxes", {"workspace": str(_isolated_workspace), "photos": [{"id": bad, "path": "x.jpg"}]})


def test_use_workspace_switches_the_root(tmp_path: Path, _isolated_workspace: Path) -> None:
    with use_workspace(tmp_path):
        assert confine_write("x") == str(tmp_path / "x")
        with pytest.raises(ToolInputError):
            confine_write(str(_isolated_workspace / "x"))
    assert confine_write("x") == str(_isolated_workspace / "x")


def test_out_files_are_checked_before_work(tmp_path: Path, _isolated_workspace: Path) -> None:
    (tmp_path / "in.jpg").write_bytes(b"x")
    cases = [(tmp_path / "in.jpg", "must end in .mp4"), (tmp_path, "must end in .mp4"), ("/dev/full", "must end in .mp4"),
             (_isolated_workspace / "v.mp4", "inside the workspace"), (tmp_path / "in.jpg" / "v.mp4", "cannot be written"),
             ("/proc/v.mp4", "cannot be written"), ("", "not a file name")]
    for target, why in cases:
        with pytest.raises(ToolInputError, match=why):
            check_export(target, ".mp4", inputs=[tmp_path / "in.jpg"])
    (tmp_path / "d.mp4").mkdir()
    with pytest.raises(ToolInputError, match="is a folder"):
        check_export(tmp_path / "d.mp4", ".mp4")
    assert check_export(tmp_path / "new" / "v.mp4", ".mp4") == tmp_path / "new" / "v.mp4"
    assert not (tmp_path / "new").exists()  # nothing created by the check


# --------------------------------------------------------------------------- bounds
@pytest.mark.parametrize(("budget", "resolution"), [(1e308, 0.1), (600, 0.001), (math.inf, 0.1)])
def test_storyline_solver_refuses_unbounded_grids(budget: float, resolution: float) -> None:
    """The probe's finding: a large budget over a fine grid grew to 22.7 GB; 1e308 overflowed."""
    shots = [{"id": f"s{i}", "cluster": i, "duration_s": 2.0, "persuasiveness": 0.5} for i in range(50)]
    with pytest.raises(ToolInputError):
        run_tool("solve_storyline", {"shots": shots, "budget_s": budget, "resolution_s": resolution})


def test_storyline_solver_refuses_too_much_work_before_allocating() -> None:
    shots = [{"id": f"s{i}", "cluster": 0, "duration_s": 0.05, "persuasiveness": 0.5} for i in range(500)]
    with pytest.raises(ToolInputError, match="limits"):
        run_tool("solve_storyline", {"shots": shots, "budget_s": 600, "resolution_s": 0.01})


def test_montage_solver_refuses_unbounded_tables() -> None:
    """A fuzz finding: n_bars = 1e9 asked numpy for 22 GB."""
    shots = [{"id": "a", "scene": 0, "duration_s": 2.0, "score": 0.5}]
    for n in (10**9, 2**63):
        with pytest.raises(ToolInputError):
            run_tool("solve_montage", {"shots": shots, "bar_s": 1.0, "n_bars": n, "max_scenes": 1})
    many = [{"id": f"s{i}", "scene": i, "duration_s": 2.0, "score": 0.5} for i in range(1500)]
    with pytest.raises(ToolInputError, match="states"):
        run_tool("solve_montage", {"shots": many, "bar_s": 1.0, "n_bars": 1999, "max_scenes": 1500})


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0.0, 1e9])
def test_speech_durations_must_be_finite_and_positive(value: float, _isolated_workspace: Path) -> None:
    """The probe's finding: negative or NaN max_durations_s reached ffmpeg."""
    line = {"beat_index": 0, "label": "产品推荐", "text": "A cup.", "language": "en", "word_min": 1, "word_max": 5}
    with pytest.raises(ToolInputError, match="max_durations_s|finite"):
        run_tool("synthesize_speech", {"lines": [line], "max_durations_s": [value], "out_dir": "voice"})


def test_non_finite_and_huge_numbers_never_reach_a_tool(_isolated_workspace: Path) -> None:
    """Fuzz findings: NaN scores; a beat index of 2^63 overflowed OpenTimelineIO in render_timeline."""
    with pytest.raises(ToolInputError, match="finite number of sensible size"):
        run_tool("solve_montage", {"shots": [{"id": "a", "scene": 0, "duration_s": 2.0, "score": math.nan}], "bar_s": 1.0, "n_bars": 2,
                                   "max_scenes": 1})
    tl = {"job_id": "x", "duration_s": 1.0, "video": [{"beat_index": 2**63, "material_id": "m", "source_path": "a.jpg", "is_still": True,
                                                       "in_s": 0, "start_s": 0, "duration_s": 1.0}]}
    with pytest.raises(ToolInputError, match="finite number of sensible size"):
        run_tool("render_timeline", {"timeline": tl, "workspace": str(_isolated_workspace), "out_dir": "jobs/x"})


def test_long_music_is_analysed_over_its_first_ten_minutes(tmp_path: Path) -> None:
    """The probe's finding: a 2-hour silent file took 5.4 GB: now the first 600 s are decoded."""
    import subprocess

    from tools.story.music import load_audio

    p = tmp_path / "long.flac"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "1800", str(p)], check=True)
    y = load_audio(p, sr=8000)
    assert len(y) == 600 * 8000


# --------------------------------------------------------------------------- settings and start-up
def test_malformed_settings_and_workspaces_are_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.core.environment import check_environment
    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace

    monkeypatch.setenv("ADREEL_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(ToolInputError, match="ADREEL_MAX_IMAGE_PIXELS"):
        get_settings()
    monkeypatch.delenv("ADREEL_MAX_IMAGE_PIXELS")
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(ToolInputError, match="cannot be used"):
        Workspace(f)
    monkeypatch.setenv("ADREEL_WORKSPACE", str(f))
    with pytest.raises(ToolInputError, match="is a file, not a folder"):
        check_environment(("workspace",))


def test_missing_binaries_and_font_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.core.environment import check_environment
    from tools.core.errors import BackendUnavailable

    monkeypatch.setenv("ADREEL_FFMPEG", "/nonexistent/ffmpeg")
    monkeypatch.setenv("ADREEL_ESPEAK", "/nonexistent/espeak-ng")
    monkeypatch.setenv("ADREEL_SUBTITLE_FONT", "No Such Font At All")
    with pytest.raises(BackendUnavailable) as e:
        check_environment()
    msg = str(e.value)
    assert "ffmpeg '/nonexistent/ffmpeg'" in msg and "espeak" in msg and "No Such Font At All" in msg and "ffprobe" not in msg


def test_third_party_state_goes_into_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import tempfile

    from tools.core.environment import STATE_DIRS, SWITCHED_OFF, confine_third_party_state

    for var in (*STATE_DIRS, *SWITCHED_OFF):  # restored after the test
        monkeypatch.setenv(var, os.environ.get(var, ""))
    saved = tempfile.tempdir
    try:
        env = confine_third_party_state(tmp_path)
        for var in ("TMPDIR", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "TORCHINDUCTOR_CACHE_DIR", "NUMBA_CACHE_DIR", "MPLCONFIGDIR", "PULSE_RUNTIME_PATH"):
            assert Path(env[var]).is_relative_to(tmp_path / "cache") and Path(env[var]).is_dir(), var
        assert tempfile.gettempdir() == env["TMPDIR"]
    finally:
        tempfile.tempdir = saved


def test_subtitles_carry_no_markup_and_no_undrawable_glyphs() -> None:
    """The probe's finding: emoji in facts burned in as missing-glyph boxes; override tags are data."""
    from tools.render.glyphs import drawable_text

    out = drawable_text("好喝😀 {\\an8}{\\fs200}BIG <font color=red>red</font> 38℃ \u202eevil\u202c ✅", "Noto Sans CJK SC")
    assert out == "好喝 BIG red 38℃ evil"
