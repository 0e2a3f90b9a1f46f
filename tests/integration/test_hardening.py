"""Issue 15's findings on a whole job: what is skipped says why, a music track without onsets falls
back to generated music with a warning, emoji in the facts never reach the burned subtitles."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from agents.planner import Planner
from agents.samples import write_samples
from agents.state import MakeRequest
from tools.core.workspace import Workspace

pytestmark = pytest.mark.slow


def test_skips_say_why_and_silent_music_falls_back(_isolated_workspace: Path, tmp_path: Path) -> None:
    from PIL import Image

    ws = Workspace(_isolated_workspace)
    photos, _ = write_samples(ws, "en")
    mats = tmp_path / "mats"
    shutil.copytree(photos, mats)
    Image.new("RGB", (1, 1), (255, 0, 0)).save(mats / "pixel.png")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=0.1", "-pix_fmt", "yuv420p",
                    str(mats / "blink.mp4")], check=True)
    os.mkfifo(mats / "pipe.jpg")
    (tmp_path / "elsewhere").mkdir()
    (mats / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (mats / "passwd.jpg").symlink_to("/etc/passwd")
    tone = tmp_path / "my song.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(tone)], check=True)
    facts = tmp_path / "facts.txt"
    facts.write_text("name: Morning Cup 😀\nmaterial: ceramic ✨, glazed 🔥\noffer: buy two get one 🎉\n", encoding="utf-8")

    jid = Planner(ws).start(MakeRequest(materials_dir=str(mats), product_path=str(facts), music_path=str(tone), duration_s=6,
                                        aspect="1:1"), auto_approve=True)
    job = ws.load_job(jid)
    assert job.status == "done", job
    text = "\n".join(job.warnings)
    for name, why in [("pixel.png", "too small to show"), ("blink.mp4", "too short for a shot"), ("pipe.jpg", "FIFO"),
                      ("linked", "links to folders are not followed"), ("passwd.jpg", "outside the folder")]:
        assert any(name in w and why in w for w in job.warnings), (name, text)
    assert "your music was not used ('my song.wav' has no onsets" in text and "generated music instead" in text, text
    srt = (ws.job_dir(jid) / "subtitles.srt").read_text(encoding="utf-8")
    assert srt.strip() and not any(ord(c) > 0xFFFF or 0x2600 <= ord(c) <= 0x27BF for c in srt), srt
    assert np.isclose(float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                            str(ws.root / job.artifacts.video)], capture_output=True, text=True, check=True).stdout), 6.0,
                      atol=0.1)
