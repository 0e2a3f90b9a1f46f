"""Where a batch's tasks run, behind one interface: :meth:`Backend.run` takes the tasks and yields
each :class:`~agents.batch.worker.TaskResult` as it completes.

    in-process   one after the other in this process (the default; nothing to set up)
    pool         a local pool of processes (``concurrent.futures``, spawned: each builds its own
                 planner once and keeps it)
    ray          Ray tasks on a cluster (``ray.init(address)``; without an address a local
                 cluster is started for the run). Each task asks for its resource hint
                 (``num_cpus``, ``memory``); a Ray worker process keeps its planner between tasks.

Every backend runs the same function (:func:`~agents.batch.worker.run_task`) on the same shared
workspace, so progress, results and the report are the same whichever runs them.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from agents.batch.manifest import BatchTask
from agents.batch.worker import TaskResult, WorkerContext, prepare_worker, run_task
from tools.core.errors import BackendUnavailable, ToolInputError

#: The worker died under the task (killed, out of memory): a re-run resumes it from its last step.
DIED_HINT = "run the batch again: the task resumes from its last finished step (if it keeps dying, give the workers more memory)"
#: Unix sockets of Ray's session live under its temp folder; their paths must stay under 107 bytes.
MAX_RAY_TEMP_CHARS = 40


def _died(task: BatchTask, why: str) -> TaskResult:
    return TaskResult(row_id=task.row_id, variant=task.variant, status="failed", out_rel=task.out_rel, error=why, hint=DIED_HINT,
                      fingerprint=task.fingerprint())


class Backend:
    """Runs tasks; yields their results in the order they finish."""

    name = "backend"

    def __init__(self, workers: int = 1) -> None:
        if not 1 <= workers <= 1024:
            raise ToolInputError(f"--workers {workers} is outside 1 … 1024", hint="give the number of videos to make at once, e.g. --workers 2")
        self.workers = workers

    def run(self, tasks: list[BatchTask], ctx: WorkerContext) -> Iterator[TaskResult]:
        raise NotImplementedError


class InProcess(Backend):
    """One task after the other, in this process."""

    name = "in-process"

    def __init__(self, workers: int = 1) -> None:
        super().__init__(1)

    def run(self, tasks: list[BatchTask], ctx: WorkerContext) -> Iterator[TaskResult]:
        here = ctx.model_copy(update={"env": {}})  # this process's environment and caches stay as they are
        for t in tasks:
            yield run_task(t, here)


def _pool_run(task_json: str, ctx_json: str) -> str:
    return run_task(BatchTask.model_validate_json(task_json), WorkerContext.model_validate_json(ctx_json)).model_dump_json()


def _pool_init(ctx_json: str) -> None:
    prepare_worker(WorkerContext.model_validate_json(ctx_json))


class ProcessPool(Backend):
    """A local pool of ``workers`` processes (spawned: no state inherited from the caller)."""

    name = "pool"

    def run(self, tasks: list[BatchTask], ctx: WorkerContext) -> Iterator[TaskResult]:
        if not tasks:
            return
        cj = ctx.model_dump_json()
        with ProcessPoolExecutor(min(self.workers, len(tasks)), mp_context=multiprocessing.get_context("spawn"), initializer=_pool_init,
                                 initargs=(cj,)) as ex:
            futures = {ex.submit(_pool_run, t.model_dump_json(), cj): t for t in tasks}
            for f in as_completed(futures):
                try:
                    yield TaskResult.model_validate_json(f.result())
                except Exception as e:  # noqa: BLE001 - BrokenProcessPool and the like: the process died, the batch goes on
                    yield _died(futures[f], f"the worker process died while running it ({type(e).__name__})")


def _ray_run(task_json: str, ctx_json: str) -> str:
    return _pool_run(task_json, ctx_json)


class RayCluster(Backend):
    """Ray tasks on the cluster at ``address`` (``ray://…`` or ``host:port``), or on a local
    cluster of ``workers`` CPUs started for the run when there is no address."""

    name = "ray"

    def __init__(self, workers: int = 2, address: str | None = None) -> None:
        super().__init__(workers)
        self.address = address or None
        self._temp: str | None = None
        self._token: str | None = None

    def _init(self, ray: Any, ctx: WorkerContext) -> bool:
        """Connect (or start a local cluster); True when this run started it and must stop it."""
        if ray.is_initialized():
            return False
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "runtime_env": {"env_vars": ctx.env}}
        if self.address and (problem := _unreachable(self.address)):  # ray.init would retry for minutes
            raise BackendUnavailable(f"cannot reach the Ray cluster at {self.address} ({problem})",
                                     hint="check ADREEL_RAY_ADDRESS / --ray-address (`ray status` on the head node), or run without --ray")
        try:
            if self.address:
                ray.init(address=self.address, **kw)
            else:
                if not {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(os.environ):
                    # the local cluster keeps Ray's token authentication, with a token for this run only:
                    # nothing is written to ~/.ray (the raylet inherits it from this process)
                    os.environ["RAY_AUTH_TOKEN"] = self._token = secrets.token_hex(32)
                self._temp = _ray_temp_dir(ctx.workspace)
                ray.init(num_cpus=self.workers, _temp_dir=self._temp, **kw)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray cluster"
            raise BackendUnavailable(f"cannot start or reach {where} ({type(e).__name__}: {str(e)[:300]})",
                                     hint="check ADREEL_RAY_ADDRESS / --ray-address (`ray status` on the head node), "
                                          "or run without --ray") from e
        return True

    def run(self, tasks: list[BatchTask], ctx: WorkerContext) -> Iterator[TaskResult]:
        if not tasks:
            return
        try:
            import ray
            from ray.exceptions import RayError
        except ImportError as e:
            raise BackendUnavailable("Ray is not installed", hint="pip install ray==2.60.0 (pinned in requirements.lock)") from e
        started = self._init(ray, ctx)
        try:
            # a failed task is a result, not an exception; a task whose worker died is retried once (it resumes)
            remote = ray.remote(max_retries=1)(_ray_run)
            cluster_mem = float(ray.cluster_resources().get("memory") or 0)
            cj = ctx.model_dump_json()
            refs = {}
            for t in tasks:
                mem = t.resources.memory_mb * 2**20
                if cluster_mem:  # a hint above what the whole cluster has would wait forever
                    mem = min(mem, cluster_mem)
                ref = remote.options(num_cpus=t.resources.num_cpus, memory=mem, name=f"adreel-{t.key}").remote(t.model_dump_json(), cj)
                refs[ref] = t
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for r in ready:
                    try:
                        yield TaskResult.model_validate_json(ray.get(r))
                    except RayError as e:
                        yield _died(refs[r], f"the Ray worker running it died ({type(e).__name__})")
        finally:
            if started:
                ray.shutdown()
                if self._token and os.environ.get("RAY_AUTH_TOKEN") == self._token:
                    del os.environ["RAY_AUTH_TOKEN"]
                if self._temp and not Path(self._temp).is_relative_to(Path(ctx.workspace)):  # the short folder made outside
                    shutil.rmtree(self._temp, ignore_errors=True)


def _unreachable(address: str, timeout_s: float = 5.0) -> str | None:
    """Why nothing answers at a Ray address's host:port (None when something does, or for ``auto``)."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return None  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        return e.strerror or type(e).__name__
    return None


def _ray_temp_dir(workspace: str) -> str:
    """Ray's session folder: in the workspace's cache when its path is short enough for Ray's Unix
    sockets, else a fresh short folder in the system's temp folder."""
    d = Path(workspace) / "cache" / "ray"
    if len(str(d)) <= MAX_RAY_TEMP_CHARS:
        d.mkdir(parents=True, exist_ok=True)
        return str(d)
    return tempfile.mkdtemp(prefix="adreel-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)


def make_backend(kind: str, workers: int, ray_address: str | None = None) -> Backend:
    """The backend ``kind`` (in-process, pool, ray) with ``workers`` at once."""
    if kind == "ray":
        return RayCluster(workers, ray_address)
    if kind == "pool":
        return ProcessPool(workers)
    if kind == "in-process":
        return InProcess()
    raise ToolInputError(f"unknown backend {kind!r}", hint="use in-process, pool or ray")
