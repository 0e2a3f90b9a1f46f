"""Segment cache for incremental re-render.

The renderer cuts a timeline into *segments*: the solo part of each shot and each transition
between two shots. A segment is rendered (video only, exactly its frame count, subtitles
burned in) to ``<cache>/<key>.mp4`` where ``key`` hashes everything that decides its pixels:
source content id, in point, frame range, motion, transition, render spec, reframe window,
subtitle events inside it and encoder settings. The segments are then joined with the concat
demuxer (``-c copy``, no re-encode). Editing one shot changes the keys of its segment and of the
transitions touching it only; every other segment is a cache hit.

All segments use the same encoder settings and resolution, so their H.264 parameter sets agree
and stream copy concatenation is valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools.core.environment import usable_cores
from tools.core.errors import BackendUnavailable, MediaError
from tools.core.settings import get_settings

#: Bump when the segment recipe changes so old cache entries are never reused.
RECIPE_VERSION = "seg-v3"

_ID_LOCK = threading.Lock()
_ID_MEMO: dict[tuple[str, int, int], str] = {}


def content_id(path: Path) -> str:
    """A content id of a file: sha256 of its size and its first and last MiB (memoised by mtime).

    Cheap for large videos, and it changes when the bytes change (a re-export, a replaced file),
    which a path or an mtime alone would not promise.
    """
    st = path.stat()
    memo_key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _ID_LOCK:
        if memo_key in _ID_MEMO:
            return _ID_MEMO[memo_key]
    h = hashlib.sha256(str(st.st_size).encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        if st.st_size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read(1 << 20))
    cid = h.hexdigest()[:24]
    with _ID_LOCK:
        _ID_MEMO[memo_key] = cid
    return cid


def key_of(parts: object) -> str:
    """Stable hash of a JSON-able description."""
    blob = json.dumps([RECIPE_VERSION, parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass
class SegmentJob:
    """One segment to (maybe) render: ffmpeg input args + a filter graph ending in [vout]."""

    key: str
    frames: int
    inputs: list[str]
    graph: str
    files: dict[str, str] = field(default_factory=dict)
    """Side files (name → text) the graph refers to, written next to the graph (e.g. the ASS)."""
    label: str = ""
    shot: int = -1
    """Index of the shot for a solo segment (-1 for a transition)."""
    start_frame: int = 0
    """First timeline frame of the segment."""
    cover_local: int = -1
    """Frame (inside the segment) written as a cover candidate ``<key>.cover.jpg`` from graph label [cov]; -1: none."""


class SegmentCache:
    """A folder of rendered segments keyed by content hash."""

    def __init__(self, root: Path, crf: int, preset: str, fps: int, x264_params: str = "") -> None:
        self.root = root
        self.crf, self.preset, self.fps = crf, preset, fps
        self.x264_params = x264_params
        """Extra ``-x264-params`` on top of the preset (``key=value:…``; empty: none)."""
        root.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self.timings: dict[str, float] = {}
        """Wall seconds per rendered segment label (for profiling and benchmarks)."""

    def path(self, key: str) -> Path:
        return self.root / f"{key}.mp4"

    def cover_path(self, key: str) -> Path:
        return self.root / f"{key}.cover.jpg"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def encoder_settings(self) -> dict[str, object]:
        return {"codec": "libx264", "crf": self.crf, "preset": self.preset, "x264_params": self.x264_params, "fps": self.fps,
                "pix_fmt": "yuv420p"}

    def _render_one(self, job: SegmentJob, threads: int) -> None:
        t0 = time.perf_counter()
        try:
            self._render(job, threads)
        finally:
            self.timings[job.label] = round(time.perf_counter() - t0, 3)

    def _render(self, job: SegmentJob, threads: int) -> None:
        s = get_settings()
        work = self.root / f"tmp-{job.key}"
        work.mkdir(parents=True, exist_ok=True)
        try:
            for name, text in job.files.items():
                (work / name).write_text(text, encoding="utf-8")
            (work / "graph.txt").write_text(job.graph, encoding="utf-8")
            tmp = work / "seg.mp4"
            cmd = [s.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *job.inputs,
                   "-filter_complex_script", "graph.txt", "-map", "[vout]", "-frames:v", str(job.frames),
                   "-c:v", "libx264", "-preset", self.preset, *(["-x264-params", self.x264_params] if self.x264_params else []),
                   "-crf", str(self.crf), "-pix_fmt", "yuv420p",
                   "-threads", str(threads), "-r", str(self.fps), "-video_track_timescale", str(self.fps * 512),
                   "-an", "-movflags", "+faststart", str(tmp)]
            if job.cover_local >= 0:
                cmd += ["-map", "[cov]", "-frames:v", "1", "-q:v", "2", "cover.jpg"]
            try:
                proc = subprocess.run(cmd, capture_output=True, cwd=work, timeout=600)
            except FileNotFoundError as e:
                raise BackendUnavailable("ffmpeg not found", hint="install it with `apt-get install ffmpeg` or set ADREEL_FFMPEG") from e
            if proc.returncode != 0:
                tail = "\n".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-6:])
                raise MediaError(f"ffmpeg failed while rendering segment {job.label}: {tail}",
                                 hint="check that the shot's source file decodes; the filter graph is in the render cache folder")
            if job.cover_local >= 0 and (work / "cover.jpg").is_file():
                (work / "cover.jpg").replace(self.cover_path(job.key))
            tmp.replace(self.path(job.key))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def ensure(self, jobs: list[SegmentJob], workers: int = 2, reuse: bool = True) -> int:
        """Render the segments that are not cached yet; returns how many were rendered."""
        todo: dict[str, SegmentJob] = {}
        for j in jobs:
            if reuse and self.has(j.key):
                self.hits += 1
            elif j.key not in todo:
                todo[j.key] = j
        self.misses += len(todo)
        if not todo:
            return 0
        workers = max(1, min(workers, len(todo)))
        threads = max(1, usable_cores() // workers)
        if workers == 1:
            for j in todo.values():
                self._render_one(j, threads)
        else:
            # longest first (frames ~ time): a long shot started last would leave the other workers idle at the end
            order = sorted(todo.values(), key=lambda j: -j.frames)
            with ThreadPoolExecutor(workers) as ex:
                for f in [ex.submit(self._render_one, j, threads) for j in order]:
                    f.result()
        return len(todo)

    def concat(self, keys: list[str], out: Path) -> None:
        """Join segments with the concat demuxer, stream copy (no re-encode)."""
        s = get_settings()
        lst = out.with_suffix(".concat.txt")
        lst.write_text("ffconcat version 1.0\n" + "".join(f"file '{self.path(k).resolve()}'\n" for k in keys), encoding="utf-8")
        proc = subprocess.run([s.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-f", "concat", "-safe", "0",
                               "-i", str(lst), "-map", "0:v", "-c", "copy", "-video_track_timescale", str(self.fps * 512),
                               str(out)], capture_output=True, timeout=600)
        lst.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise MediaError(f"joining {len(keys)} segments failed: {proc.stderr.decode('utf-8', 'replace').strip()[-400:]}",
                             hint="delete the render cache folder and render again")

    def prune(self, max_bytes: int = 4 << 30) -> int:
        """Delete least recently used segments until the cache is under ``max_bytes``; returns files removed."""
        files = sorted(self.root.glob("*.mp4"), key=lambda p: p.stat().st_atime)
        total = sum(p.stat().st_size for p in files)
        removed = 0
        for p in files:
            if total <= max_bytes:
                break
            total -= p.stat().st_size
            p.unlink(missing_ok=True)
            removed += 1
        return removed


def meta_get(root: Path, key: str) -> object | None:
    """A small cached JSON value (probe results, reframe decisions, cover scores) or None."""
    p = root / f"meta-{key}.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def meta_put(root: Path, key: str, value: object) -> None:
    root.mkdir(parents=True, exist_ok=True)
    p = root / f"meta-{key}.json"
    tmp = p.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    tmp.replace(p)
