"""Jobs over the planner graph: start, review, resume after a crash, re-run after an edit.

The graph (``agents.graph``) is checkpointed in the workspace after every node (LangGraph
SQLite checkpointer, one thread per job), so a killed job resumes from its last finished step.
The job record (job.json: status, steps, warnings, step times, artifacts, the brief) is kept in
step with the graph state here, after every node and after every edit.

Time to first video: the log says "video ready" as soon as the render step has written and
verified the MP4 (and exported it to ``--out``), then "thumbnail ready" and "explanation ready".
With ``extras_in_background`` (the UI), a run returns right after the render and the GIF
thumbnail and the explanation (:data:`EXTRAS`) are made in a background thread holding the job's
lock; :meth:`Planner.wait_extras` waits for them, and the job is "done" when they are.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agents.deps import Deps, build_deps
from agents.graph import STEPS, Node, Step, build_graph, first_step_reading
from agents.state import MakeRequest, PlanState, check_out_path
from tools.core.errors import AdReelError, ToolInputError
from tools.core.models import BriefSpec, Job, JobArtifacts, Timeline
from tools.core.settings import get_settings
from tools.core.workspace import Workspace
from tools.understand.product import load_product

Log = Callable[[str], None]

#: Steps after the render that make extras of the video (a GIF, an explanation): in the
#: background with ``extras_in_background``, so they never delay the video.
EXTRAS: tuple[Step, ...] = ("thumbnail", "explain")
#: The artifact (job.json key) each step makes, and how the log names it when it is ready.
READY: dict[str, tuple[str, str]] = {"render": ("video", "video"), "thumbnail": ("thumbnail_gif", "thumbnail"),
                                     "explain": ("explanation_png", "explanation")}

_EXTRA_THREADS: dict[str, threading.Thread] = {}
_EXTRA_GUARD = threading.Lock()


def _has_photos(folder: str) -> bool:
    """Whether a materials folder holds a photo (by extension; the first few hundred entries)."""
    from pathlib import Path

    from tools.core.media import IMAGE_EXT

    try:
        for k, p in enumerate(Path(folder).rglob("*")):
            if p.suffix.lower() in IMAGE_EXT:
                return True
            if k > 500:
                return False
    except OSError:
        return False
    return False


def wait_extras(job_id: str | None = None, timeout: float | None = None) -> bool:
    """Wait until the background extras of ``job_id`` (of every job when None) are made; False on timeout."""
    with _EXTRA_GUARD:
        threads = [t for k, t in _EXTRA_THREADS.items() if job_id is None or k == job_id]
    end = None if timeout is None else time.monotonic() + timeout
    for t in threads:
        t.join(None if end is None else max(0.0, end - time.monotonic()))
    return not any(t.is_alive() for t in threads)


#: Seconds a connection waits for another process's lock on the checkpoint file. Batch workers
#: (processes, or Ray tasks) share one file; sqlite's default of 5 s let a worker fail with
#: "database is locked" on a loaded 2-core box (the Ray catalogue test, once in three full runs).
CHECKPOINT_LOCK_WAIT_S = 120.0


def open_checkpointer(ws: Workspace) -> SqliteSaver:
    """The SQLite checkpointer in the workspace (one file, shared by all jobs; thread = job id)."""
    conn = sqlite3.connect(str(ws.inside("checkpoints.sqlite")), check_same_thread=False, timeout=CHECKPOINT_LOCK_WAIT_S)
    return setup_checkpointer(SqliteSaver(conn))


def setup_checkpointer(saver: SqliteSaver, wait_s: float = CHECKPOINT_LOCK_WAIT_S) -> SqliteSaver:
    """Create the checkpoint tables (and switch the file to WAL) now, retrying while another process does.

    Batch workers that open a fresh workspace at once race in ``SqliteSaver.setup``: switching the
    journal to WAL while another connection is doing the same fails at once with "database is locked"
    (sqlite does not call the busy handler there), whatever the connection's timeout. Measured: four
    processes opening one fresh file together, 15 times: 6 of 60 failed (the pool catalogue test, once
    in a full run); with the retry, 0. Any other error, or a lock held longer than ``wait_s``, is raised."""
    end = time.monotonic() + wait_s
    delay = 0.01
    while True:
        try:
            saver.setup()
            return saver
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() + delay > end:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def changed_keys(before: PlanState, values: dict[str, Any]) -> set[str]:
    """State keys ``values`` changes (``spec.<field>`` for each changed field of the brief)."""
    cur: dict[str, Any] = dict(before)
    out = set()
    for k, v in values.items():
        if k == "spec":
            old = cur.get("spec") or {}
            out |= {f"spec.{f}" for f in set(v) | set(old) if v.get(f) != old.get(f)}
        elif cur.get(k) != v:
            out.add(k)
    return out


def _failpoint(step: str) -> None:
    """Fault injection for the kill/resume tests: ``ADREEL_FAULT_KILL_AT=<step>[:<seconds>]`` sends
    this process SIGKILL when ``step`` starts, or that many seconds into it (unset: nothing)."""
    at = os.environ.get("ADREEL_FAULT_KILL_AT", "")
    name, _, delay = at.partition(":")
    if name != step:
        return
    if not delay:
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Timer(float(delay), lambda: os.kill(os.getpid(), signal.SIGKILL)).start()


class Planner:
    """Start, resume, review and edit jobs on one workspace (used by the CLI and the UI)."""

    def __init__(self, ws: Workspace, log: Log = lambda m: None, deps: Deps | None = None, extras_in_background: bool = False) -> None:
        self.ws = ws
        self.log = log
        self.extras_in_background = extras_in_background
        self.deps = deps or build_deps()
        self.saver = open_checkpointer(ws)
        self.graph = build_graph(ws, self.deps, self._warn, self.saver, self._bookkeeping)

    # ------------------------------------------------------------------ bookkeeping
    def _warn(self, job_id: str, text: str) -> None:
        self.log(f"warning: {text}")
        self.ws.update_job(job_id, warning=text)

    def _bookkeeping(self, name: Step, fn: Node) -> Node:
        """Log the step, record it in job.json (or the failure), keep the job's brief in step."""

        def node(st: PlanState) -> dict[str, Any]:
            job_id = st["job_id"]
            self.log(f"[{job_id}] {name} …")
            _failpoint(name)
            t0 = time.perf_counter()
            try:
                out = fn(st)
            except AdReelError as e:
                self.ws.update_job(job_id, status="failed", error=f"step {name}: {e}")
                raise
            fields: dict[str, Any] = {}
            if "spec" in out:
                fields["brief"] = BriefSpec.model_validate(out["spec"])
            if "product_id" in out:
                fields["product_id"] = out["product_id"]
            if out.get("backends"):
                fields["backends"] = {**self.ws.load_job(job_id).backends, **out["backends"]}
            self.ws.update_job(job_id, step=name, status="running", error=None, timing=(name, time.perf_counter() - t0), **fields)
            out.setdefault("steps_done", [name])
            if name in READY:
                key, what = READY[name]
                made = (out.get("artifacts") or {}).get(key)
                self.log(f"[{job_id}] {what} ready: {self.ws.abs(made)}" if made else f"[{job_id}] no {what} (see warnings)")
            return out

        return node

    @staticmethod
    def config(job_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": job_id}}

    # ------------------------------------------------------------------ runs
    def start(self, req: MakeRequest, auto_approve: bool = True, job_id: str | None = None) -> str:
        """Create a job and run it until it finishes or waits for review; returns the job id."""
        check_out_path(req, self.ws.root)
        job_id = job_id or self.ws.new_job_id()
        self.ws.save_job(Job(id=job_id, product_id="pending"))
        try:
            product = load_product(req.product_path)
        except (AdReelError, OSError, ValueError):
            product = None  # a bad facts file is the brief step's to report
        # the retrieve step (photos only) needs the text model, the draft step the narrator: they load while ingest works
        self.deps.prefetch(text_model=_has_photos(req.materials_dir), product=product)
        self._invoke({"job_id": job_id, "request": req.model_dump(), "auto_approve": auto_approve, "notes": [], "steps_done": []}, job_id)
        return job_id

    def _invoke(self, inp: Any, job_id: str) -> None:
        """Run the graph until it finishes or pauses; with ``extras_in_background``, stop after the
        render and make the extras in a background thread."""
        if not self.extras_in_background:
            self.graph.invoke(inp, self.config(job_id), durability="sync")
            self._finish_if_done(job_id)
            return
        self.graph.invoke(inp, self.config(job_id), durability="sync", interrupt_after=["render"])
        if self.waiting_for(job_id) not in EXTRAS:
            self._finish_if_done(job_id)
            return
        arts = self.state(job_id).get("artifacts") or {}
        self.ws.update_job(job_id, artifacts=JobArtifacts.model_validate(arts))  # the video is there before the extras
        with _EXTRA_GUARD:
            t = threading.Thread(target=self._extras, args=(job_id,), name=f"extras-{job_id}", daemon=True)
            _EXTRA_THREADS[job_id] = t
        t.start()

    def _extras(self, job_id: str) -> None:
        """The thumbnail and explanation steps of a job whose video is made (a background thread)."""
        try:
            with self.ws.job_lock(job_id):  # after the run that started us lets go of the job
                if self.waiting_for(job_id) in EXTRAS:  # an edit may have run them (or gone back) meanwhile
                    self.graph.invoke(None, self.config(job_id), durability="sync")
                    self._finish_if_done(job_id)
        except Exception as e:  # noqa: BLE001 - a thread has no caller: the job records the failure
            self.log(f"[{job_id}] warning: thumbnail/explanation not made ({e})")
            self.ws.update_job(job_id, warning=f"thumbnail/explanation not made: {e}")

    def wait_extras(self, job_id: str | None = None, timeout: float | None = None) -> bool:
        """Wait for the background thumbnail and explanation (see :func:`wait_extras`)."""
        return wait_extras(job_id, timeout)

    def state(self, job_id: str) -> PlanState:
        return self.graph.get_state(self.config(job_id)).values  # type: ignore[return-value]  # LangGraph types values as dict

    def waiting_for(self, job_id: str) -> str | None:
        """Name of the node the job is paused before or inside (None when finished)."""
        snap = self.graph.get_state(self.config(job_id))
        if snap.next:
            return snap.next[0]
        if snap.tasks:  # killed after a step finished but before its checkpoint: the step after it is next
            last = max(STEPS.index(t.name) for t in snap.tasks if t.name in STEPS)
            return STEPS[last + 1] if last + 1 < len(STEPS) else STEPS[last]
        return None

    def resume(self, job_id: str, decision: dict[str, Any] | None = None) -> None:
        """Continue a job: after a review decision, or from its last checkpoint after a crash."""
        self.ws.job_dir(job_id, create=False)  # a bad or unknown id is a clear ToolInputError
        with self.ws.job_lock(job_id):
            if not self.graph.get_state(self.config(job_id)).values:
                raise ToolInputError(f"job {job_id!r} has no saved progress to resume", hint="start it again with `python app.py make …`")
            if self.waiting_for(job_id) is None:
                return  # already finished: nothing to redo
            if self.waiting_for(job_id) == "review" and decision is not None:
                self._invoke(Command(resume=decision), job_id)
            else:
                self._invoke(None, job_id)

    def rerun_with(self, job_id: str, values: dict[str, Any]) -> Step | None:
        """Apply ``values`` to a finished job and run again only the steps that read what they
        change (from the first such step on). Returns that step, or None when nothing changed."""
        with self.ws.job_lock(job_id):
            before = self.state(job_id)
            changed = changed_keys(before, values)
            if not changed:
                return None
            first = first_step_reading(changed)
            i = STEPS.index(first)
            if i == 0:
                raise ToolInputError("an edit cannot change the job's request", hint="start a new job instead")
            self.graph.update_state(self.config(job_id), values, as_node=STEPS[i - 1])
            self._invoke(None, job_id)
            return first

    def restore(self, job_id: str, values: dict[str, Any]) -> None:
        """Put ``values`` (a saved version's state) back as the finished state, running nothing."""
        with self.ws.job_lock(job_id):
            self.graph.update_state(self.config(job_id), values, as_node=STEPS[-1])
            self._finish_if_done(job_id)

    def _finish_if_done(self, job_id: str) -> None:
        if self.waiting_for(job_id) is None:
            st = self.state(job_id)
            fields: dict[str, Any] = {"status": "done", "artifacts": JobArtifacts.model_validate(st.get("artifacts") or {})}
            if st.get("spec"):
                fields["brief"] = BriefSpec.model_validate(st["spec"])
            self.ws.update_job(job_id, **fields)

    def timeline(self, job_id: str) -> Timeline | None:
        tl = self.state(job_id).get("timeline")
        return Timeline.model_validate(tl) if tl else None


def make_video(req: MakeRequest, ws: Workspace | None = None, log: Log = print, deps: Deps | None = None) -> Job:
    """Run a whole job through the planner graph with the storyline auto-approved."""
    ws = ws or Workspace(get_settings().workspace)
    planner = Planner(ws, log, deps)
    job_id = planner.start(req, auto_approve=True)
    return ws.load_job(job_id)
