"""Catalogue mode: many product videos from one manifest, on one machine or a Ray cluster.

    manifest.py   rows (CSV/JSONL) → tasks (one per video: a row in one variant), resource hints
    worker.py     one task on a worker: start or resume its planner job, collect and check the video
    backends.py   where tasks run: in-process, a local process pool, Ray (one interface)

:func:`run_batch` is the one entry point (``app.py batch``): it reads the manifest, skips the
tasks whose video an earlier run finished (checked again with ffprobe), hands the rest to the
backend, prints one progress line per finished task and writes the report (``report.json`` and
``report.csv``) into ``<workspace>/batches/<name>/``, beside one folder per row. A failed task
never stops the others; a re-run resumes the unfinished ones from their last finished step.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from agents.batch.backends import Backend, InProcess, ProcessPool, RayCluster, make_backend
from agents.batch.manifest import BatchTask, Defaults, load_manifest, slug
from agents.batch.worker import STAGES, TaskResult, WorkerContext, finished, run_task
from tools.core.models import Model
from tools.core.workspace import Workspace, atomic_write_model, atomic_write_text

__all__ = ["Backend", "BatchReport", "Defaults", "InProcess", "ProcessPool", "RayCluster", "make_backend", "run_batch"]

#: The report is written again at most this often while a batch runs (a killed batch leaves a recent one).
REPORT_EVERY_S = 10.0
CSV_COLUMNS = ("row", "variant", "status", "video", "duration_s", "width_px", "height_px", "job_id", "resumed", "step", "error", "hint",
               "wall_s", "worker", *(f"{s}_s" for s in STAGES))


class BatchReport(Model):
    """What a batch made, what failed and why (report.json; report.csv has one line per task)."""

    batch: str
    manifest: str
    backend: str
    workers: int
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    wall_s: float = 0.0
    state: Literal["running", "finished"] = "running"
    total: int = 0
    done: int = 0
    """Videos made in this run."""
    skipped: int = 0
    """Videos an earlier run made (checked again, not redone)."""
    failed: int = 0
    videos_per_min: float = 0.0
    """Videos made in this run per minute of wall time."""
    mean_stage_s: dict[str, float] = Field(default_factory=dict)
    """Mean seconds per stage over the videos made in this run (the per-video time split)."""
    tasks: list[TaskResult] = Field(default_factory=list)


def worker_env(workspace: Path, threads: int | None) -> dict[str, str]:
    """The settings every worker runs with: the driver's ADREEL_* variables, the workspace, and
    (for local workers) a thread count that splits the cores between them."""
    env = {k: v for k, v in os.environ.items() if k.startswith("ADREEL_")}
    env["ADREEL_WORKSPACE"] = str(workspace)
    if threads and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(threads)
    elif "OMP_NUM_THREADS" in os.environ:
        env["OMP_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"]
    return env


def run_batch(manifest: str | Path, ws: Workspace, backend: Backend, *, defaults: Defaults | None = None, name: str | None = None,
              log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> BatchReport:
    """Make every video the manifest asks for that is not made yet; returns (and writes) the report.

    Raises:
        ToolInputError: the manifest as a whole is unusable (nothing runs then).
        BackendUnavailable: the backend cannot start (Ray missing or its cluster unreachable).
    """
    batch = slug(name or Path(manifest).stem) or "batch"
    rel = f"batches/{batch}"
    tasks = load_manifest(manifest, defaults or Defaults(), rel)
    out = ws.inside(rel)
    out.mkdir(parents=True, exist_ok=True)
    local = backend.name != "ray" or not getattr(backend, "address", None)
    ctx = WorkerContext(workspace=str(ws.root), env=worker_env(ws.root, max(1, (os.cpu_count() or 1) // backend.workers) if local else None))
    report = BatchReport(batch=batch, manifest=str(Path(manifest).resolve()), backend=backend.name, workers=backend.workers, total=len(tasks))
    t0 = time.perf_counter()
    results: dict[str, TaskResult] = {}
    todo: list[BatchTask] = []
    for t in tasks:
        if t.request is None:
            results[t.key] = r = run_task(t, ctx)
            atomic_write_model(ws.inside(t.out_rel, "task.json"), r)
        elif (prev := finished(ws, t)) is not None:
            results[t.key] = prev
        else:
            todo.append(t)
    n_before = len(results)
    log(f"batch {batch}: {len(tasks)} video(s), {n_before - sum(r.status == 'failed' for r in results.values())} already made, "
        f"{sum(r.status == 'failed' for r in results.values())} row(s) unreadable, {len(todo)} to make on {backend.name} "
        f"({backend.workers} worker(s))")
    for r in results.values():
        log(_line(r, None, len(tasks)))
    last = time.perf_counter()
    for k, r in enumerate(backend.run(todo, ctx), n_before + 1):
        results[r.key] = r
        log(_line(r, k, len(tasks)))
        if time.perf_counter() - last > REPORT_EVERY_S:
            _write_report(out, _fill(report, tasks, results, time.perf_counter() - t0))
            last = time.perf_counter()
    report = _fill(report, tasks, results, time.perf_counter() - t0)
    report.state = "finished"
    _write_report(out, report)
    log(f"batch {batch}: {report.done} made, {report.skipped} already made, {report.failed} failed in {report.wall_s:.1f} s "
        f"({report.videos_per_min:.2f} videos/min); report: {out / 'report.csv'}")
    return report


def _line(r: TaskResult, k: int | None, n: int) -> str:
    key = r.key
    head = f"[{k}/{n}] " if k else ""
    if r.status == "failed":
        return f"{head}{key}: failed{f' in {r.step}' if r.step else ''}: {r.error}" + (f" — {r.hint}" if r.hint else "")
    if r.status == "skipped":
        return f"{head}{key}: already made ({r.video})"
    return f"{head}{key}: done in {r.wall_s:.1f} s{' (resumed)' if r.resumed else ''} → {r.video}"


def _fill(report: BatchReport, tasks: list[BatchTask], results: dict[str, TaskResult], wall_s: float) -> BatchReport:
    rows = [results[t.key] for t in tasks if t.key in results]
    made = [r for r in rows if r.status == "done"]
    mean = {s: round(sum(r.stage_times_s.get(s, 0.0) for r in made) / len(made), 3) for s in STAGES} if made else {}
    return report.model_copy(update={"tasks": rows, "wall_s": round(wall_s, 3), "done": len(made),
                                     "skipped": sum(r.status == "skipped" for r in rows), "failed": sum(r.status == "failed" for r in rows),
                                     "videos_per_min": round(len(made) / (wall_s / 60), 3) if wall_s > 0 else 0.0, "mean_stage_s": mean})


def _write_report(out: Path, report: BatchReport) -> None:
    atomic_write_model(out / "report.json", report)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in report.tasks:
        c = r.check
        w.writerow([r.row_id, r.variant, r.status, r.video or "", c.duration_s if c else "", c.width_px if c else "",
                    c.height_px if c else "", r.job_id or "", r.resumed, r.step or "", r.error or "", r.hint or "", r.wall_s, r.worker,
                    *(r.stage_times_s.get(s, "") for s in STAGES)])
    atomic_write_text(out / "report.csv", buf.getvalue())
