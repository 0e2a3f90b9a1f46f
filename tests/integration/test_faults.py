"""Faults: a job killed (SIGKILL) at every step of the graph resumes to a correct video without
redoing finished steps; ten sessions at once each get their own correct video; two edits of the
same job at once are applied one after the other, leaving a consistent job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from agents.edits import Edit, apply_edit
from agents.graph import STEPS
from agents.planner import Planner
from agents.samples import write_samples
from agents.state import MakeRequest
from tools.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _probe(path: Path) -> tuple[int, int, float]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height:format=duration",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout)
    return d["streams"][0]["width"], d["streams"][0]["height"], float(d["format"]["duration"])


#: Where each round is killed: at the start of the step, or that many seconds into it (the long
#: steps are killed half-way through their work: files half written, ffmpeg running).
KILL_AT = {"retrieve": "retrieve:1", "score": "score:0.8", "draft": "draft:0.3", "render": "render:1", "thumbnail": "thumbnail:1",
           "explain": "explain:1"}


def _run(argv: list[str], env: dict[str, str], log: Path, timeout_s: float = 600) -> int:
    with open(log, "wb") as err:
        return subprocess.run([sys.executable, str(ROOT / "app.py"), *argv], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
                              timeout=timeout_s, check=False).returncode


def _started(log: Path) -> list[str]:
    text = log.read_text(encoding="utf-8", errors="replace")
    return [s for line in text.splitlines() for s in STEPS if line.endswith(f"] {s} …")]


@pytest.mark.timeout(1500)
def test_kill_at_every_step_then_resume(_isolated_workspace: Path) -> None:
    """SIGKILL inside each of the 13 steps in turn (make, then resume after resume; the process
    kills itself through the ADREEL_FAULT_KILL_AT failpoint, at the step's start or part-way into
    it), then a last resume: the video is correct, job.json stayed readable after every kill, and
    every resume started at the step that was killed (nothing finished was run again)."""
    ws = Workspace(_isolated_workspace)
    photos, facts = write_samples(ws, "en")
    base = {**os.environ, "ADREEL_WORKSPACE": str(ws.root), "OMP_NUM_THREADS": "1"}
    job_id = None
    report = []
    for k, step in enumerate(STEPS):
        log = ws.root / f"round{k}.log"
        argv = ["make", "--materials", str(photos), "--product", str(facts), "--duration", "6"] if job_id is None else ["resume", job_id]
        rc = _run(argv, {**base, "ADREEL_FAULT_KILL_AT": KILL_AT.get(step, step)}, log)
        ran = _started(log)
        if job_id is None:
            job_id = next(p.parent.name for p in (ws.root / "jobs").glob("*/job.json"))
        job = ws.load_job(job_id)  # atomic writes: readable after every kill
        assert rc == -signal.SIGKILL, f"round {k}: not killed in {step} (exit {rc}, ran {ran}): {log.read_text()[-2000:]}"
        assert job.status == "running", job
        assert ran and ran[-1] == step, (k, ran)
        if k > 0:
            assert ran[0] == STEPS[k - 1], f"round {k} started at {ran[0]}, not at {STEPS[k - 1]} where round {k - 1} was killed"
        report.append(f"killed in {step} ({KILL_AT.get(step, 'at its start')}); this run ran {', '.join(ran)}")
    log = ws.root / "final.log"
    rc = _run(["resume", job_id], base, log)
    ran = _started(log)
    assert rc == 0, log.read_text()[-3000:]
    assert ran == ["explain"], ran
    job = ws.load_job(job_id)
    assert job.status == "done", job
    assert set(job.steps_done) == set(STEPS), job.steps_done
    w, h, dur = _probe(ws.root / job.artifacts.video)
    assert (w, h) == (720, 1280) and abs(dur - 6.0) <= 0.1, (w, h, dur)
    assert (ws.root / job.artifacts.thumbnail_gif).is_file() and (ws.root / job.artifacts.explanation_png).is_file()
    print("\n".join(report + [f"final resume ran {', '.join(ran)}: done, {w}x{h}, {dur:.2f} s"]), file=sys.stderr)


def _session_material(root: Path, k: int) -> tuple[Path, Path]:
    import cv2

    d = root / f"seller{k}"
    (d / "photos").mkdir(parents=True)
    rng = np.random.default_rng(k)
    for i in range(2):
        img = np.zeros((480, 640, 3), np.uint8)
        img[:] = rng.integers(30, 220, 3)
        cv2.rectangle(img, (120, 100), (520, 380), tuple(int(x) for x in rng.integers(0, 255, 3)), -1)
        cv2.putText(img, f"SHOP {k}", (160, 260), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (255, 255, 255), 6)
        cv2.imwrite(str(d / "photos" / f"p{i}.jpg"), img)
    facts = d / "facts.txt"
    facts.write_text(f"name: Product {k} Mug\nmaterial: ceramic {k}\noffer: {k + 1} for the price of one\n", encoding="utf-8")
    return d / "photos", facts


@pytest.mark.timeout(1500)
def test_ten_concurrent_sessions_and_two_edits_at_once(_isolated_workspace: Path) -> None:
    """Ten sessions share one planner (as the UI's sessions do), each with its own seller's photos:
    each gets its own done job and correct video made only of its own photos. Then two edits of
    one job at once: both are applied, one after the other (versions 2 and 3), the job consistent."""
    ws = Workspace(_isolated_workspace)
    planner = Planner(ws)
    reqs = []
    for k in range(10):
        photos, facts = _session_material(ws.root / "inputs", k)
        reqs.append(MakeRequest(materials_dir=str(photos), product_path=str(facts), duration_s=3.0, aspect="1:1"))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(10) as ex:
        job_ids = list(ex.map(lambda r: planner.start(r, auto_approve=True), reqs))
    wall = time.perf_counter() - t0
    assert len(set(job_ids)) == 10
    products = set()
    for k, jid in enumerate(job_ids):
        job = ws.load_job(jid)
        assert job.status == "done", job
        w, h, dur = _probe(ws.root / job.artifacts.video)
        assert (w, h) == (720, 720) and abs(dur - 3.0) <= 0.1, (k, w, h, dur)
        story = json.loads((ws.job_dir(jid) / "storyline.json").read_text())
        lib = {m["id"] for m in json.loads((ws.product_dir(job.product_id) / "library.json").read_text())}
        assert {b["material_id"] for b in story["beats"]} <= lib, k  # only this seller's photos
        products.add(job.product_id)
    assert len(products) == 10
    print(f"\n10 concurrent sessions: {wall:.1f} s wall", file=sys.stderr)

    jid = job_ids[0]
    with ThreadPoolExecutor(2) as ex:
        msgs = list(ex.map(lambda e: apply_edit(planner, jid, e), [Edit(kind="aspect", value="16:9"), Edit(kind="duration", value=4.0)]))
    job = ws.load_job(jid)
    tl = json.loads((ws.job_dir(jid) / "timeline.json").read_text())
    assert job.status == "done" and tl["version"] == 3, (msgs, job, tl["version"])
    assert (ws.job_dir(jid) / "timeline.v2.json").is_file() and (ws.job_dir(jid) / "timeline.v3.json").is_file()
    w, h, dur = _probe(ws.root / job.artifacts.video)
    assert (w, h) == (1280, 720) and abs(dur - 4.0) <= 0.1, (msgs, w, h, dur)  # both edits are in the last version
    assert job.brief.aspect == "16:9" and job.brief.duration_s == 4.0
