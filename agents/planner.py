"""Jobs over the planner graph: start, review, resume after a crash, re-run after an edit.

The graph (``agents.graph``) is checkpointed in the workspace after every node (LangGraph
SQLite checkpointer, one thread per job), so a killed job resumes from its last finished step.
The job record (job.json: status, steps, warnings, step times, artifacts, the brief) is kept in
step with the graph state here, after every node and after every edit.
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

Log = Callable[[str], None]


def open_checkpointer(ws: Workspace) -> SqliteSaver:
    """The SQLite checkpointer in the workspace (one file, shared by all jobs; thread = job id)."""
    conn = sqlite3.connect(str(ws.inside("checkpoints.sqlite")), check_same_thread=False)
    return SqliteSaver(conn)


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

    def __init__(self, ws: Workspace, log: Log = lambda m: None, deps: Deps | None = None) -> None:
        self.ws = ws
        self.log = log
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
        self.graph.invoke({"job_id": job_id, "request": req.model_dump(), "auto_approve": auto_approve, "notes": [], "steps_done": []},
                          self.config(job_id), durability="sync")
        self._finish_if_done(job_id)
        return job_id

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
                self.graph.invoke(Command(resume=decision), self.config(job_id), durability="sync")
            else:
                self.graph.invoke(None, self.config(job_id), durability="sync")
            self._finish_if_done(job_id)

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
            self.graph.invoke(None, self.config(job_id), durability="sync")
            self._finish_if_done(job_id)
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
