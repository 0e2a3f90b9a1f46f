"""Thin, typed wrappers around ffprobe/ffmpeg, and the media file kinds AdReel accepts.
Errors become MediaError with the file name."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tools.core.errors import BackendUnavailable, MediaError
from tools.core.settings import get_settings

#: File extensions (lower case) read as photos, clips and music.
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
VIDEO_EXT = {".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi"}
AUDIO_EXT = {".mp3", ".wav", ".ogg", ".oga", ".m4a", ".flac", ".aac", ".opus"}


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: ``ADREEL_FFMPEG`` / the one on PATH, else imageio-ffmpeg's bundled one.

    Raises:
        BackendUnavailable: neither is present.
    """
    exe = shutil.which(get_settings().ffmpeg)
    if exe:
        return exe
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as e:  # pragma: no cover - depends on the machine
        raise BackendUnavailable(
            "ffmpeg was not found on PATH and imageio-ffmpeg has no binary",
            hint="install ffmpeg (apt-get install ffmpeg), `pip install imageio-ffmpeg`, or set ADREEL_FFMPEG",
        ) from e


def ffprobe_exe() -> str | None:
    """Path of the ffprobe binary (``ADREEL_FFPROBE`` / the one on PATH), or None when there is none."""
    return shutil.which(get_settings().ffprobe)


def _run(cmd: list[str], timeout_s: float, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False, cwd=cwd)
    except FileNotFoundError as e:
        raise BackendUnavailable(
            f"{cmd[0]} not found", hint="install it with `apt-get install ffmpeg` or set ADREEL_FFMPEG / ADREEL_FFPROBE"
        ) from e


def ffprobe(path: str | Path, timeout_s: float = 30) -> dict[str, Any]:
    """ffprobe's JSON (format + streams) for ``path``; MediaError if it cannot be read."""
    s = get_settings()
    proc = _run([s.ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)], timeout_s)
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MediaError(f"cannot read {Path(path).name!r}: {msg[-1] if msg else 'ffprobe failed'}", hint="the file may be corrupt or truncated; re-export it")
    return json.loads(proc.stdout or b"{}")


def run_ffmpeg(args: list[str], *, what: str, timeout_s: float = 600, cwd: Path | None = None) -> None:
    """Run ffmpeg with ``args`` (no shell); raise MediaError quoting its last error lines."""
    s = get_settings()
    proc = _run([s.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args], timeout_s, cwd)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-6:])
        raise MediaError(f"ffmpeg failed while {what}: {tail}", hint="check the input files; run with --debug for the full command")


def duration_s(path: str | Path) -> float:
    """Container duration in seconds (0.0 when unknown)."""
    info = ffprobe(path)
    try:
        return float(info.get("format", {}).get("duration", 0.0))
    except (TypeError, ValueError):
        return 0.0


def display_size(stream: dict[str, Any]) -> tuple[int, int]:
    """Width and height of an ffprobe video stream as shown, after rotation (display-matrix side
    data of newer files, or the ``rotate`` tag of older ones)."""
    w, h = int(stream.get("width") or 0), int(stream.get("height") or 0)
    rot = (stream.get("tags") or {}).get("rotate", 0)
    for sd in stream.get("side_data_list") or []:
        if "rotation" in sd:
            rot = sd["rotation"]
    try:
        quarter = abs(int(float(rot))) % 180 == 90
    except (TypeError, ValueError):
        quarter = False
    return (h, w) if quarter else (w, h)
