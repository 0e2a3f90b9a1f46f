"""Time to first video: the job's MP4 is written and verified before the GIF thumbnail and the
explanation exist; in the background mode (the UI) the run returns with the video, and the extras
follow in a thread."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agents.planner import Planner
from agents.samples import write_samples
from agents.state import MakeRequest
from tools.core.workspace import Workspace


def _probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,nb_frames:format=duration", "-of", "json",
                          str(path)], capture_output=True, check=True, text=True).stdout
    return json.loads(out)


@pytest.mark.slow
@pytest.mark.parametrize("background", [False, True])
def test_video_ready_before_gif_and_explanation(_isolated_workspace: Path, background: bool) -> None:
    ws = Workspace(_isolated_workspace)
    photos, facts = write_samples(ws, "en")
    seen: list[tuple[str, dict]] = []

    def log(msg: str) -> None:
        """At each "… ready" line, look at the job folder: what exists at that moment."""
        if " ready: " not in msg:
            return
        what, path = msg.split("] ", 1)[1].split(" ready: ", 1)
        jd = Path(path).parent
        seen.append((what, {"gif": any(jd.glob("*.gif")), "png": (jd / "explanation.png").exists(),
                            "probe": _probe(Path(path)) if what == "video" else None}))

    pl = Planner(ws, log, extras_in_background=background)
    job_id = pl.start(MakeRequest(materials_dir=str(photos), product_path=str(facts), brief="6 s square video"))
    if background:
        job = ws.load_job(job_id)
        assert job.artifacts.video and ws.abs(job.artifacts.video).is_file()  # the run returned with the video
        assert pl.wait_extras(job_id, timeout=600)
    job = ws.load_job(job_id)
    assert job.status == "done", job
    assert [w for w, _ in seen] == ["video", "thumbnail", "explanation"], seen
    first = seen[0][1]
    assert not first["gif"] and not first["png"], first  # nothing of the extras before the video was ready
    streams = {s["codec_type"]: s for s in first["probe"]["streams"]}
    assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
    assert abs(float(first["probe"]["format"]["duration"]) - 6.0) < 0.05  # a whole, verified video at that moment
    assert job.artifacts.thumbnail_gif and ws.abs(job.artifacts.thumbnail_gif).is_file()
    assert job.artifacts.explanation_png and ws.abs(job.artifacts.explanation_png).is_file()
