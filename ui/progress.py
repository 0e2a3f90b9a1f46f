"""Progress of a running job for the UI: the planner works in a thread while the page is told
the step it is in (from job.json, which the planner updates after every step) and an estimate
of the time left (the median time each step took in this workspace's earlier jobs, or typical
times on a 2-core machine when there are none)."""

from __future__ import annotations

import html
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agents.graph import STEPS
from tools.core.errors import AdReelError
from tools.core.workspace import Workspace

#: What each step does, as the page says it.
STEP_TEXT = {
    "brief": "reading your brief and product facts",
    "ingest": "taking in your photos and clips",
    "retrieve": "indexing the material",
    "score": "scoring sharpness, relevance and appeal",
    "music": "preparing the music and its bars",
    "storyline": "choosing and ordering the shots",
    "draft": "drafting a voice-over line per shot",
    "review": "applying your storyboard",
    "narrate": "writing the voice-over",
    "tts": "speaking the lines",
    "render": "rendering the video",
    "thumbnail": "making the GIF thumbnail",
    "explain": "explaining what makes it exciting",
}

#: Seconds per step on the 2-core machine (a 10 s, 3-shot job), used until this workspace has finished jobs of its own.
TYPICAL_S = {"brief": 0.1, "ingest": 0.5, "retrieve": 5.0, "score": 2.5, "music": 0.5, "storyline": 0.5, "draft": 1.0, "review": 0.1,
             "narrate": 0.5, "tts": 2.5, "render": 5.0, "thumbnail": 2.5, "explain": 4.5}


def expected_times(ws: Workspace, limit: int = 20) -> dict[str, float]:
    """Median seconds per step over the workspace's last ``limit`` jobs (typical times for steps never timed)."""
    seen: dict[str, list[float]] = {}
    for job_id in ws.list_jobs()[-limit:]:
        try:
            times = ws.load_job(job_id).step_times_s
        except (OSError, ValueError, AdReelError):
            continue  # a job being written or from an older version: not needed for an estimate
        for k, v in times.items():
            seen.setdefault(k, []).append(v)
    return {s: statistics.median(seen[s]) if seen.get(s) else TYPICAL_S[s] for s in STEPS}


@dataclass
class Watch:
    """What is known about a job while it runs."""

    done: list[str] = field(default_factory=list)
    """Steps finished since the run started, in order."""
    running: str | None = None
    """The step running now (None before the first or after the last)."""
    left_s: float = 0.0
    """Estimated seconds left."""
    fraction: float = 0.0
    """Share of the expected work done (0–1)."""


def watch(ws: Workspace, job_id: str, steps: tuple[str, ...], expected: dict[str, float], since: int, in_step_s: float) -> Watch:
    """Where the run of ``steps`` stands: ``since`` = how many steps job.json listed when it started,
    ``in_step_s`` = seconds since the last step finished (they count against the running step's time)."""
    try:
        done = ws.load_job(job_id).steps_done[since:]
    except (OSError, ValueError, AdReelError):
        done = []  # not written yet, or being replaced: nothing finished as far as the page knows
    last = max((steps.index(s) for s in done if s in steps), default=-1)
    todo = steps[last + 1:]
    total = sum(expected[s] for s in steps) or 1.0
    passed = sum(expected[s] for s in steps[:last + 1])
    running = todo[0] if todo else None
    in_step = min(expected[running], in_step_s) if running else 0.0
    left = max(0.0, sum(expected[s] for s in todo) - in_step)
    return Watch(done=list(done), running=running, left_s=left, fraction=min(1.0, (passed + in_step) / total))


def progress_html(w: Watch | None, steps: tuple[str, ...], title: str) -> str:
    """The progress bar: step k of n, its name, and the time left."""
    if w is None:
        return ""
    k = min(len(steps), len([s for s in w.done if s in steps]) + (1 if w.running else 0))
    what = STEP_TEXT.get(w.running or "", "finishing")
    left = "under a second left" if w.left_s < 1 else f"about {w.left_s:.0f} s left"
    pct = round(100 * w.fraction)
    return (f'<div class="adreel-progress" role="progressbar" aria-valuenow="{pct}" aria-valuemin="0" aria-valuemax="100">'
            f'<div class="adreel-progress-title">{html.escape(title)}: step {k} of {len(steps)} · {html.escape(what)} · {left}</div>'
            f'<div class="adreel-progress-track"><div class="adreel-progress-bar" style="width:{pct}%"></div></div></div>')


def done_html(text: str) -> str:
    return f'<div class="adreel-progress adreel-progress-done"><div class="adreel-progress-title">{html.escape(text)}</div></div>'


def run_watched(ws: Workspace, job_id: str, work: Callable[[], Any], steps: tuple[str, ...], every_s: float = 0.7) -> Iterator[tuple[Watch, bool, Any]]:
    """Run ``work`` in a thread; yield (where it stands, finished?, result) every ``every_s`` and once at the end.

    The exception ``work`` raised, if any, is re-raised at the end (the caller turns it into a chat message)."""
    expected = expected_times(ws)
    try:
        since = len(ws.load_job(job_id).steps_done)
    except (OSError, ValueError, AdReelError):
        since = 0  # the job is created by ``work`` itself
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread, which reports it
            box["error"] = e

    t = threading.Thread(target=target, name=f"adreel-job-{job_id}", daemon=True)
    t.start()
    n_done, changed = -1, time.time()
    while True:
        t.join(every_s)
        w = watch(ws, job_id, steps, expected, since, time.time() - changed)
        if len(w.done) != n_done:
            n_done, changed = len(w.done), time.time()
            w = watch(ws, job_id, steps, expected, since, 0.0)
        if not t.is_alive():
            break
        yield w, False, None
    if "error" in box:
        raise box["error"]
    yield w, True, box.get("result")
