"""GIF thumbnails (GIF paper): three disjoint shots, looping, palette GIF within the byte budget."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tools.core.errors import InfeasibleError, ToolInputError
from tools.explain.thumbnail import ThumbnailInput, effective_shot_s, make_gif_thumbnail, make_thumbnail_cli

W, H, FPS = 192, 108, 10


def write_video(path: Path, frames: list[np.ndarray], fps: int = FPS) -> Path:
    cmd = [shutil.which("ffmpeg") or "ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{frames[0].shape[1]}x{frames[0].shape[0]}", "-r", str(fps), "-i", "pipe:0",
           "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, input=np.stack(frames).tobytes(), check=True)
    return path


def scene_video(path: Path, seconds: int = 8, black: tuple[int, ...] = (), busy: tuple[int, ...] = ()) -> Path:
    """A textured scene; seconds in ``black`` are nearly black, seconds in ``busy`` have fast saturated motion."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    frames = []
    for i in range(seconds * FPS):
        s = i // FPS
        f = np.stack([100 + 60 * np.sin(xx / 9 + s), 110 + 50 * np.cos(yy / 7 + 0.5 * s), 120 + 40 * np.sin((xx + yy) / 13)], -1)
        if s in busy:
            f[(((xx + 9 * i) // 8) % 2).astype(bool)] = (250, 30, 200)
        if s in black:
            f = f * 0.03
        frames.append(np.clip(f + rng.normal(0, 2, f.shape), 0, 255).astype(np.uint8))
    return write_video(path, frames)


def gif_facts(path: str) -> dict:
    im = Image.open(path)
    return {"n_frames": getattr(im, "n_frames", 1), "loop": im.info.get("loop"), "size": im.size}


def assert_valid(out, video_s: float, shot_s: float = 1.0) -> None:
    starts = sorted(out.starts_s)
    assert len(starts) == 3
    assert all(b - a >= shot_s - 1e-9 for a, b in zip(starts, starts[1:])), f"shots overlap: {starts}"
    assert all(0 <= s and s + shot_s <= video_s + 1e-6 for s in starts)
    assert out.size_bytes == Path(out.gif_path).stat().st_size <= out.budget_bytes
    facts = gif_facts(out.gif_path)
    assert facts["loop"] == 0, "GIF must loop forever"
    assert facts["size"][0] == out.width_px
    assert facts["n_frames"] >= 3 * int(out.fps * shot_s) - 3
    assert [s.role for s in out.shots] == ["start", "develop", "end"]


def test_heuristic_avoids_black_seconds_and_ends_on_the_climax(tmp_path: Path, _isolated_workspace: Path) -> None:
    v = scene_video(tmp_path / "v.mp4", seconds=8, black=(2, 3, 4), busy=(6,))
    out = make_gif_thumbnail(ThumbnailInput(video_path=str(v), out_dir=str(_isolated_workspace)))
    assert_valid(out, 8.0)
    assert not {2.0, 3.0, 4.0} & set(out.starts_s), out.starts_s
    assert 6.0 in out.starts_s and out.shots[-1].start_s == 6.0  # the arousing shot closes the story
    assert out.shots[-1].arousal == max(s.arousal for s in out.shots)


def test_budget_ladder_shrinks_until_it_fits(tmp_path: Path, _isolated_workspace: Path) -> None:
    v = scene_video(tmp_path / "v.mp4", seconds=5, busy=(1, 3))
    big = make_gif_thumbnail(ThumbnailInput(video_path=str(v), out_dir=str(_isolated_workspace), file_name="a.gif"))
    small_budget = max(20_000, big.size_bytes // 4)
    small = make_gif_thumbnail(ThumbnailInput(video_path=str(v), out_dir=str(_isolated_workspace), file_name="b.gif",
                                              budget_bytes=small_budget))
    assert small.size_bytes <= small_budget < big.size_bytes
    assert (small.fps, small.colours, small.width_px) < (big.fps, big.colours, big.width_px) or small.width_px < big.width_px
    assert small.starts_s == big.starts_s  # the budget changes the encoding, not the choice


def test_impossible_budget_is_infeasible(tmp_path: Path, _isolated_workspace: Path) -> None:
    rng = np.random.default_rng(0)
    v = write_video(tmp_path / "noise.mp4", [rng.integers(0, 255, (240, 320, 3), np.uint8) for _ in range(40)])
    with pytest.raises(InfeasibleError, match="budget"):
        make_gif_thumbnail(ThumbnailInput(video_path=str(v), out_dir=str(_isolated_workspace), budget_bytes=20_000))
    assert not list(_isolated_workspace.glob("*.gif"))


def test_short_video_uses_shorter_shots(tmp_path: Path) -> None:
    v = scene_video(tmp_path / "short.mp4", seconds=2)
    out = make_thumbnail_cli(str(v), str(tmp_path / "t.gif"))
    starts = sorted(out["starts_s"])
    shot = out["shots"][0]["end_s"] - out["shots"][0]["start_s"]
    assert shot == pytest.approx(0.6) and all(b - a >= shot - 1e-9 for a, b in zip(starts, starts[1:]))
    assert effective_shot_s(10.0, 1.0) == 1.0
    with pytest.raises(InfeasibleError):
        effective_shot_s(0.5, 1.0)


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ToolInputError, match="not found"):
        make_thumbnail_cli(str(tmp_path / "missing.mp4"), str(tmp_path / "t.gif"))
    v = scene_video(tmp_path / "v.mp4", seconds=4)
    with pytest.raises(ToolInputError, match=".gif"):
        make_thumbnail_cli(str(v), str(tmp_path / "t.png"))
    with pytest.raises(ToolInputError, match="model_path"):
        make_thumbnail_cli(str(v), str(tmp_path / "t.gif"), scorer="gevaden")


def test_registered() -> None:
    from tools.core.registry import get_tool

    assert get_tool("make_gif_thumbnail").input_model is ThumbnailInput


@pytest.mark.slow
def test_every_shared_video_gets_a_gif_within_budget(media_dir: Path, _isolated_workspace: Path) -> None:
    from tools.understand.video_features import probe_video

    videos = sorted(p for p in (media_dir / "video").iterdir() if p.suffix in {".mp4", ".webm", ".mkv"})
    assert videos
    for v in videos:
        out = make_gif_thumbnail(ThumbnailInput(video_path=str(v), out_dir=str(_isolated_workspace), file_name=v.stem + ".gif"))
        assert_valid(out, probe_video(v).duration_s, out.shots[0].end_s - out.shots[0].start_s)
