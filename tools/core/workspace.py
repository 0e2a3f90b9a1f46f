"""The workspace: per-product material libraries and per-job folders.

Layout (all under ``Settings.workspace``)::

    products/<product_id>/product.json        ProductInfo
    products/<product_id>/library.json        list[Material]
    products/<product_id>/materials/<id>.<ext> normalised copies (names are content ids)
    jobs/<job_id>/job.json                     Job (steps done, artifacts, warnings)
    jobs/<job_id>/timeline.v<N>.json           Timeline versions; timeline.json is the current one
    jobs/<job_id>/...                          narration audio, subtitles, renders, logs

Writes are atomic (temp file in the same folder + ``os.replace``). Uploaded file names are
sanitised for display and never used as paths: stored files are named by content id.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tools.core.errors import InternalError, ToolInputError
from tools.core.models import Job

#: Per-job locks of this process (threads), and the jobs each thread holds (re-entrancy).
_LOCKS_GUARD = threading.Lock()
_JOB_RLOCKS: dict[str, threading.RLock] = {}
_HELD = threading.local()
_JOB_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_PRODUCT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (readers see the old file or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_model(path: Path, model: BaseModel) -> None:
    atomic_write_text(path, model.model_dump_json(indent=2))


def atomic_write_json(path: Path, obj: object) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2))


def sanitize_filename(name: str, max_len: int = 120) -> str:
    """A display-safe version of an uploaded file name: no folders, no control characters."""
    name = unicodedata.normalize("NFKC", str(name)).replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    name = re.sub(r"[^\w.\- ]", "_", name)
    return (name[:max_len] or "file")


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def product_id_for(name: str) -> str:
    """A stable library id for a product name: an ASCII slug plus a short hash of the name."""
    slug = re.sub(r"[^a-z0-9]+", "-", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower())
    slug = slug.strip("-")[:40] or "product"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class Workspace:
    """Paths inside one workspace root; every path handed out is checked to stay inside it."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a file of that name, a read-only disk, no permission
            raise ToolInputError(f"workspace {str(root)!r} cannot be used ({e.strerror or e})",
                                 hint="set ADREEL_WORKSPACE to a folder you can write (it is created if missing)") from e

    # ---- path safety
    def inside(self, *parts: str | Path) -> Path:
        """Join ``parts`` under the root; refuse anything that escapes it (``..``, absolute parts, links)."""
        try:
            p = self.root.joinpath(*[str(x) for x in parts]).resolve()
        except (ValueError, OSError, RuntimeError) as e:  # a NUL byte, a symlink loop, a name too long
            raise ToolInputError(f"path {'/'.join(str(x) for x in parts)[:200]!r} is not a valid path ({e})",
                                 hint="use paths inside the workspace") from e
        if p != self.root and self.root not in p.parents:
            raise ToolInputError(f"path {p} is outside the workspace {self.root}", hint="use paths inside the workspace")
        return p

    def rel(self, path: Path | str) -> str:
        """``path`` relative to the root (for storing in models)."""
        p = Path(path).resolve()
        if p != self.root and self.root not in p.parents:
            raise InternalError(f"{p} is not inside the workspace {self.root}")
        return p.relative_to(self.root).as_posix()

    def abs(self, rel_path: str) -> Path:
        """Absolute path of a stored workspace-relative path."""
        return self.inside(rel_path)

    # ---- products
    def product_dir(self, product_id: str) -> Path:
        if not _PRODUCT_ID.match(product_id):
            raise ToolInputError(f"bad product id {product_id!r}", hint="ids are lower-case letters, digits and '-'")
        d = self.inside("products", product_id)
        (d / "materials").mkdir(parents=True, exist_ok=True)
        return d

    # ---- jobs
    def new_job_id(self) -> str:
        return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"

    def job_dir(self, job_id: str, create: bool = True) -> Path:
        if not _JOB_ID.match(job_id):
            raise ToolInputError(f"bad job id {job_id!r}", hint="job ids look like 20261123-101500-a1b2c3")
        d = self.inside("jobs", job_id)
        if create:
            d.mkdir(parents=True, exist_ok=True)
        elif not d.is_dir():
            raise ToolInputError(f"no job {job_id!r} in {self.root}", hint="list jobs with `python app.py jobs`")
        return d

    @contextmanager
    def product_lock(self, product_id: str) -> Iterator[None]:
        """Exclusive use of a product library (its library.json and index) across threads and
        processes: concurrent sessions for the same product take turns (flock)."""
        d = self.product_dir(product_id)
        with open(d / ".lock", "a+") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def job_lock(self, job_id: str) -> Iterator[None]:
        """Exclusive use of one job (its graph state, job.json, timeline versions) across threads and
        processes: two edits of the same job at once run one after the other. Re-entrant within a
        thread (an edit that resumes the job takes it once)."""
        d = self.job_dir(job_id, create=False)
        key = str(d)
        with _LOCKS_GUARD:
            rlock = _JOB_RLOCKS.setdefault(key, threading.RLock())
        with rlock:
            held: dict[str, int] = _HELD.__dict__.setdefault("jobs", {})
            if key in held:
                held[key] += 1
                try:
                    yield
                finally:
                    held[key] -= 1
                return
            with open(d / ".lock", "a+") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                held[key] = 1
                try:
                    yield
                finally:
                    del held[key]
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def list_jobs(self) -> list[str]:
        d = self.root / "jobs"
        return sorted(p.name for p in d.iterdir() if _JOB_ID.match(p.name)) if d.is_dir() else []

    # ---- job records (job.json: status, steps, warnings, artifacts; kept in step with the planner state)
    def load_job(self, job_id: str) -> Job:
        """The job record of ``job_id``."""
        return Job.model_validate_json((self.job_dir(job_id, create=False) / "job.json").read_text(encoding="utf-8"))

    def save_job(self, job: Job) -> None:
        """Write the job record atomically."""
        atomic_write_model(self.job_dir(job.id) / "job.json", job)

    def update_job(self, job_id: str, *, step: str | None = None, warning: str | None = None,
                   timing: tuple[str, float] | None = None, **fields: Any) -> Job:
        """Record a finished step, a warning, a step's time, or new field values in job.json."""
        job = self.load_job(job_id)
        if step:
            job.steps_done.append(step)
        if warning and warning not in job.warnings:
            job.warnings.append(warning)
        if timing:
            job.step_times_s[timing[0]] = round(timing[1], 3)
        for k, v in fields.items():
            setattr(job, k, v)
        self.save_job(job)
        return job
