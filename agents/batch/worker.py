"""One batch task on a worker: start, or resume, its planner job; copy the video and its artifacts
into the task's folder; check the video; say what happened.

Whatever backend runs it (in-process, a process of the pool, a Ray worker), a task is this one
function, :func:`run_task`, and its state lives in the shared workspace: ``task.json`` in the
task's folder holds the job id (written before the job starts) and, at the end, the result. A
re-run resumes that job from its last finished step (the planner checkpoints every step), so a
worker killed half-way costs only the step it was in. The heavy state of a worker (backends,
models, the checkpointer) is built once per process and kept for every task it runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import traceback
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from agents.batch.manifest import BatchTask
from tools.core.errors import AdReelError, ToolInputError
from tools.core.media import ffprobe
from tools.core.models import BriefSpec, Model, RenderSpec
from tools.core.paths import allow_inputs, use_workspace
from tools.core.workspace import Workspace, atomic_write_model

#: The planner's steps by the stage of the per-video time split (what a larger cluster must scale).
STAGES: dict[str, tuple[str, ...]] = {
    "ingest": ("brief", "ingest", "retrieve", "score"),
    "plan": ("music", "storyline"),
    "narration": ("draft", "review", "narrate"),
    "tts": ("tts",),
    "render": ("render",),
    "extras": ("thumbnail", "explain"),
}
#: A video this much longer or shorter than asked is not the one asked for: one frame at 30 fps
#: plus the AAC frame padding ffmpeg adds at the end (≤ 0.05 s), with room.
DURATION_TOLERANCE_S = 0.25
#: Files copied (hard-linked where possible) from the job folder into the task's folder.
ARTIFACTS = ("video.mp4", "timeline.json", "subtitles.srt", "storyline.json", "thumb.gif", "explanation.png", "timeline.otio",
             "job.json")


class VideoCheck(Model):
    """What ffprobe says about a finished video, and whether it is the one asked for."""

    duration_s: float = 0.0
    width_px: int = 0
    height_px: int = 0
    video_codec: str | None = None
    audio_codec: str | None = None
    problem: str | None = None


class TaskResult(Model):
    """The outcome of one task, the same for every backend (a line of the batch report)."""

    row_id: str
    variant: str = "main"
    status: Literal["done", "skipped", "failed", "running"]
    """skipped: finished in an earlier run, its video checked again; running: only in task.json while it runs."""
    out_rel: str
    video: str | None = None
    """The video, relative to the workspace."""
    job_id: str | None = None
    error: str | None = None
    """Why it failed: the user-facing message (never a traceback)."""
    hint: str | None = None
    """What to do about it."""
    step: str | None = None
    """The planner step it failed in (None: before the job started)."""
    check: VideoCheck | None = None
    resumed: bool = False
    """The job was continued from an earlier run's checkpoint."""
    expected: dict[str, Any] = Field(default_factory=dict)
    """What was asked: duration_s, width_px, height_px."""
    step_times_s: dict[str, float] = Field(default_factory=dict)
    stage_times_s: dict[str, float] = Field(default_factory=dict)
    wall_s: float = 0.0
    worker: str = ""
    """host:pid of the process that ran it."""
    worker_setup_s: float = 0.0
    """Time this task's worker spent loading its heavy state first (0 when it was already loaded)."""
    fingerprint: str = ""

    @property
    def key(self) -> str:
        return self.row_id if self.variant == "main" else f"{self.row_id}/{self.variant}"


class WorkerContext(Model):
    """What every worker needs to know: the shared workspace and the settings of the batch."""

    workspace: str
    env: dict[str, str] = Field(default_factory=dict)
    """ADREEL_* settings (and thread counts) the driver runs with: workers on other hosts get the same."""


# ---------------------------------------------------------------------------- per-process state
_STATE: dict[str, Any] = {}


class _TaskLog:
    """The planner's log lines go to the running task's job.log (one task at a time per process)."""

    path: Path | None = None

    def __call__(self, message: str) -> None:
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(message + "\n")


def init_worker(ctx: WorkerContext) -> None:
    """Build this process's planner once (settings, backends, checkpointer; models load on first
    use and stay loaded); the time it took is reported by the next task."""
    if _STATE.get("workspace") == ctx.workspace:
        return
    t0 = time.perf_counter()
    os.environ.update(ctx.env)  # empty in-process: the caller's environment is already the batch's
    from agents.deps import build_deps
    from agents.planner import Planner
    from tools.core.environment import confine_third_party_state

    root = Path(ctx.workspace)
    if not root.is_dir():
        raise ToolInputError(f"the workspace {ctx.workspace} is not visible on {socket.gethostname()}",
                             hint="every worker must see the same workspace: mount the shared storage at the same path on every node")
    if ctx.env:  # a worker process of its own: its third-party caches go into the workspace, as the CLI's do
        confine_third_party_state(root)
    log = _TaskLog()
    _STATE.update(workspace=ctx.workspace, ws=Workspace(root), log=log, planner=Planner(Workspace(root), log, build_deps()))
    _STATE["unreported_setup_s"] = time.perf_counter() - t0


def prepare_worker(ctx: WorkerContext) -> None:
    """A pool's initializer: build the state before the first task arrives; its first task reports
    the time. A failure here is reported by that task (a pool whose initializer raises is broken)."""
    try:
        init_worker(ctx)
    except Exception:  # noqa: BLE001 - run_task builds it again and reports why it cannot
        _STATE.clear()


def run_task(task: BatchTask, ctx: WorkerContext) -> TaskResult:
    """Run (or resume) one task to a checked video; every failure becomes a failed result with the
    user-facing reason, so one task never stops the others."""
    t0 = time.perf_counter()
    res = TaskResult(row_id=task.row_id, variant=task.variant, status="failed", out_rel=task.out_rel,
                     worker=f"{socket.gethostname()}:{os.getpid()}", fingerprint=task.fingerprint())
    if task.request is None:
        res.error, res.hint = task.problem, task.hint
        return res
    try:
        init_worker(ctx)
        res.worker_setup_s = round(_STATE.pop("unreported_setup_s", 0.0), 3)
        _run(task, res)
    except Exception as e:  # noqa: BLE001 - the batch's boundary: every failure is reported, none stops the batch
        res.error, res.hint = _reason(e)
        res.status = "failed"
    res.wall_s = round(time.perf_counter() - t0, 3)
    ws: Workspace | None = _STATE.get("ws") if _STATE.get("workspace") == ctx.workspace else None
    if ws is not None:
        try:
            atomic_write_model(ws.inside(task.out_rel, "task.json"), res)
        except (OSError, AdReelError) as e:
            res.status, res.error, res.hint = "failed", f"cannot write the task's record ({e})", "check free space on the workspace"
    return res


def _run(task: BatchTask, res: TaskResult) -> None:
    ws: Workspace = _STATE["ws"]
    planner = _STATE["planner"]
    tdir = ws.inside(task.out_rel)
    tdir.mkdir(parents=True, exist_ok=True)
    _STATE["log"].path = tdir / "job.log"
    req = task.request
    assert req is not None  # checked by the caller
    prev = read_result(ws, task)
    job_id = prev.job_id if prev and prev.fingerprint == res.fingerprint and prev.job_id else None
    with use_workspace(ws.root), allow_inputs(*req.inputs(), replace=True):
        if job_id and _has_progress(planner, ws, job_id):
            res.job_id, res.resumed = job_id, True
            _write(ws, task, res.model_copy(update={"status": "running"}))
            try:
                planner.resume(job_id)
            except AdReelError as e:
                _failed_in(ws, job_id, res, e)
                return
        else:
            job_id = job_id or ws.new_job_id()
            res.job_id = job_id
            _write(ws, task, res.model_copy(update={"status": "running"}))  # the id, before any work
            try:
                planner.start(req, auto_approve=True, job_id=job_id)
            except AdReelError as e:
                _failed_in(ws, job_id, res, e)
                return
    job = ws.load_job(job_id)
    res.step_times_s = dict(job.step_times_s)
    res.stage_times_s = stage_times(job.step_times_s)
    if job.status != "done" or not job.artifacts.video:
        res.error, res.hint = f"the job stopped before its video ({job.status}: {job.error or 'no video'})", "run the batch again to resume it"
        return
    _collect(ws, ws.job_dir(job_id, create=False), tdir, ws.abs(job.artifacts.video))
    res.video = ws.rel(tdir / "video.mp4")
    res.expected = expected_of(job.brief)
    res.check = check_video(tdir / "video.mp4", res.expected)
    if res.check.problem:
        res.error, res.hint = f"the video is not what was asked: {res.check.problem}", "this is a bug in AdReel: report it with the task's job.log"
        return
    res.status, res.error, res.hint = "done", None, None


def _has_progress(planner: Any, ws: Workspace, job_id: str) -> bool:
    try:
        ws.job_dir(job_id, create=False)
        return bool(planner.graph.get_state(planner.config(job_id)).values)
    except AdReelError:
        return False


def _failed_in(ws: Workspace, job_id: str, res: TaskResult, e: AdReelError) -> None:
    res.error, res.hint = e.message, e.hint
    try:
        job = ws.load_job(job_id)
    except (OSError, ValueError, AdReelError):
        return
    res.step_times_s = dict(job.step_times_s)
    res.stage_times_s = stage_times(job.step_times_s)
    if job.error and job.error.startswith("step "):
        res.step = job.error[5:].split(":", 1)[0]


def _write(ws: Workspace, task: BatchTask, res: TaskResult) -> None:
    atomic_write_model(ws.inside(task.out_rel, "task.json"), res)


def _collect(ws: Workspace, jdir: Path, tdir: Path, video: Path) -> None:
    """The video and the job's artifacts into the task's folder (hard links: no second copy on disk)."""
    for name in ARTIFACTS:
        src = video if name == "video.mp4" else jdir / name
        if not src.is_file():
            continue
        dst = tdir / name
        tmp = tdir / f".{name}.part"
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def stage_times(step_times: dict[str, float]) -> dict[str, float]:
    """Seconds per stage of :data:`STAGES` (steps not run count 0)."""
    return {stage: round(sum(step_times.get(s, 0.0) for s in steps), 3) for stage, steps in STAGES.items()}


def expected_of(brief: BriefSpec) -> dict[str, Any]:
    spec = RenderSpec(aspect=brief.aspect, resolution_p=brief.resolution_p)
    return {"duration_s": brief.duration_s, "width_px": spec.width_px, "height_px": spec.height_px}


def check_video(path: Path, expected: dict[str, Any]) -> VideoCheck:
    """ffprobe the video: H.264 video of the asked size, an audio stream, the asked length."""
    try:
        info = ffprobe(path)
    except AdReelError as e:
        return VideoCheck(problem=e.message)
    streams = info.get("streams") or []
    v = next((s for s in streams if s.get("codec_type") == "video"), {})
    a = next((s for s in streams if s.get("codec_type") == "audio"), {})
    try:
        dur = float((info.get("format") or {}).get("duration") or 0.0)
    except (TypeError, ValueError):
        dur = 0.0
    chk = VideoCheck(duration_s=round(dur, 3), width_px=int(v.get("width") or 0), height_px=int(v.get("height") or 0),
                     video_codec=v.get("codec_name"), audio_codec=a.get("codec_name"))
    problems = []
    if chk.video_codec != "h264":
        problems.append(f"video codec {chk.video_codec}, not h264")
    if not chk.audio_codec:
        problems.append("no audio stream")
    if expected and (chk.width_px, chk.height_px) != (expected["width_px"], expected["height_px"]):
        problems.append(f"{chk.width_px}×{chk.height_px}, not {expected['width_px']}×{expected['height_px']}")
    if expected and abs(dur - expected["duration_s"]) > DURATION_TOLERANCE_S:
        problems.append(f"{dur:.2f} s, not {expected['duration_s']:g} s")
    chk.problem = "; ".join(problems) or None
    return chk


def read_result(ws: Workspace, task: BatchTask) -> TaskResult | None:
    """The task's record from an earlier run (None when there is none or it is unreadable)."""
    p = ws.inside(task.out_rel, "task.json")
    try:
        return TaskResult.model_validate_json(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def finished(ws: Workspace, task: BatchTask) -> TaskResult | None:
    """The earlier result of a task whose video is there and still checks out (it is skipped)."""
    if task.request is None:
        return None
    prev = read_result(ws, task)
    if prev is None or prev.status not in ("done", "skipped") or prev.fingerprint != task.fingerprint() or not prev.video:
        return None
    chk = check_video(ws.inside(prev.video), prev.expected)
    if chk.problem:
        return None
    return prev.model_copy(update={"status": "skipped", "check": chk, "wall_s": 0.0, "worker_setup_s": 0.0, "resumed": False})


def _reason(e: BaseException) -> tuple[str, str | None]:
    """The user-facing reason for an error that reached the batch boundary."""
    if isinstance(e, AdReelError):
        return e.message, e.hint
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ())) or "a value"
        return f"{where} = {str(err.get('input'))[:80]!r}: {err.get('msg')}", "fix that value in the manifest"
    if isinstance(e, OSError):
        where = f" {e.filename!r}" if e.filename else ""
        return f"cannot read or write{where}: {e.strerror or e}", "check the path, its permissions and free disk space"
    if isinstance(e, MemoryError):
        return "out of memory", "give the workers more memory or run fewer at once"
    last = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    where = f" at {Path(last[0].filename).name}:{last[0].lineno}" if last else ""
    return f"internal error ({type(e).__name__}: {e}){where}", "this is a bug in AdReel: report it with the task's job.log"
