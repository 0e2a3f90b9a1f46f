"""Segments rendered in a pool give the same video as one at a time; the pool and the x264 preset
follow the machine and the use; the core-scaling replay script agrees with the engine's rule."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tools.core.errors import ToolInputError
from tools.core.models import RenderSpec, SubtitleCue, Timeline, VideoClip
from tools.core.workspace import Workspace
from tools.render.engine import PRESETS, choose_encoding, render

FPS = 30


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    import cv2

    w = Workspace(tmp_path_factory.mktemp("ws"))
    mat = w.inside("mat")
    mat.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):  # textured stills, so that a wrong frame order or a dropped frame shows
        img = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
        img = cv2.GaussianBlur(img, (0, 0), 6)
        cv2.putText(img, str(i), (120, 160), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
        cv2.imwrite(str(mat / f"s{i}.png"), img)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=3", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(mat / "c.mp4")], check=True)
    return w


def _timeline() -> Timeline:
    shots = [("s0.png", 0.7, "cut", "zoom_in"), ("c.mp4", 0.6, "crossfade", "none"), ("s1.png", 0.5, "slide", "pan_left"),
             ("s2.png", 0.6, "cut", "zoom_out")]
    video, t = [], 0.0
    for k, (name, dur, tr, motion) in enumerate(shots):
        still = name.endswith(".png")
        video.append(VideoClip(beat_index=k, material_id=name, source_path=f"mat/{name}", is_still=still, in_s=0.0 if still else 0.4,
                               start_s=round(t, 6), duration_s=dur, motion=motion, transition_in=tr))  # type: ignore[arg-type]
        t += dur
    return Timeline(job_id="20250101-000000-abc124", duration_s=round(t, 6), render=RenderSpec(aspect="1:1", resolution_p=720, fps=FPS),
                    language="en", video=video, subtitles=[SubtitleCue(start_s=0.2, end_s=1.5, text="Same frames either way")])


def _frames(path: Path, side: int = 64) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", f"scale={side}:{side}", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, side, side).astype(np.float32)


def _probe(path: Path) -> tuple[int, float]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                          "stream=nb_read_frames:format=duration", "-of", "json", str(path)], capture_output=True, check=True, text=True).stdout
    j = json.loads(out)
    return int(j["streams"][0]["nb_read_frames"]), float(j["format"]["duration"])


def test_parallel_segments_give_the_serial_video(ws: Workspace, tmp_path: Path) -> None:
    tl = _timeline()
    serial = render(tl, ws, ws.inside("jobs", "serial"), workers=1, cache_dir=tmp_path / "c1")
    pooled = render(tl, ws, ws.inside("jobs", "pooled"), workers=4, cache_dir=tmp_path / "c4")
    assert serial.segments_total == pooled.segments_total >= 6 and pooled.segments_rendered == pooled.segments_total
    n = round(tl.duration_s * FPS)
    (fs, ds), (fp, dp) = _probe(Path(serial.video_path)), _probe(Path(pooled.video_path))
    assert fs == fp == n and abs(ds - dp) < 1e-3
    a, b = _frames(Path(serial.video_path)), _frames(Path(pooled.video_path))
    assert a.shape == b.shape == (n, 64, 64)
    # same pictures in the same order (x264 threads may round differently: allow coding noise only)
    diff = np.abs(a - b).mean(axis=(1, 2))
    assert diff.max() < 3.0, diff
    neighbour = np.abs(a[1:] - a[:-1]).mean(axis=(1, 2))
    assert neighbour.max() > 3 * diff.max() + 1  # the check would see a frame out of place


def test_encoding_follows_machine_and_use() -> None:
    two = choose_encoding(cores=2, segments=23, memory_bytes=8 << 30)
    assert (two["workers"], two["threads"], two["preset"]) == (2, 1, PRESETS["final"])
    big = choose_encoding(cores=16, segments=23, memory_bytes=64 << 30)
    assert big["workers"] == 16 and big["threads"] == 1
    few = choose_encoding(cores=16, segments=5, memory_bytes=64 << 30)  # fewer segments than cores: threads fill the rest
    assert few["workers"] == 5 and few["threads"] == 3
    tight = choose_encoding(cores=16, segments=23, memory_bytes=1 << 30)  # memory bounds the pool
    assert tight["workers"] == 2 and tight["workers"] * 400 << 20 <= 1 << 30
    assert choose_encoding("preview", cores=2)["preset"] == "ultrafast" != PRESETS["final"]
    with pytest.raises(ToolInputError):
        choose_encoding("draft")


def test_replay_script_uses_the_engines_thread_rule() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import render_cores_remote as rc

    for cores in (2, 4, 16):
        for seg in (3, 23):
            e = choose_encoding(cores=cores, segments=seg, memory_bytes=64 << 30)
            assert rc.threads_per_job(cores, int(e["workers"])) == e["threads"]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_preview_render_is_a_valid_video(ws: Workspace, tmp_path: Path) -> None:
    tl = _timeline()
    out = render(tl, ws, ws.inside("jobs", "preview"), use="preview", cache_dir=tmp_path / "cp")
    assert _probe(Path(out.video_path))[0] == round(tl.duration_s * FPS)
