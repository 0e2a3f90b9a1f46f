"""Start-up checks and third-party state: everything the environment must give before any work.

:func:`check_environment` runs before a command does any work (the CLI calls it first): the
settings parse, the workspace is a folder AdReel can write, ffmpeg / ffprobe / espeak-ng run and
the subtitle font is installed. Each problem gets one line that says what to do; all of them are
reported at once, in well under a second, instead of one after 25 s of work.

:func:`confine_third_party_state` points the caches and runtime files of the libraries AdReel
uses (jieba, torch inductor, numba, matplotlib, onnxruntime, PulseAudio through espeak-ng, the
temp folder) into the workspace, or switches them off, so that nothing is written outside it.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from tools.core.errors import BackendUnavailable, ToolInputError
from tools.core.settings import Settings, get_settings

T = TypeVar("T")
R = TypeVar("R")

#: What a command may need; the CLI names the subset per command.
Need = str  # "ffmpeg" | "ffprobe" | "espeak" | "font" | "workspace"
ALL_NEEDS: tuple[Need, ...] = ("workspace", "ffmpeg", "ffprobe", "espeak", "font")


def usable_cores() -> int:
    """The CPU cores this process may use (its affinity, which taskset and containers limit), not
    the machine's total: every worker pool and thread count is sized from this."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def map_in_threads(fn: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """``[fn(x) for x in items]``, in order, in a pool of one thread per usable core (at most
    ``workers``): for per-photo work that runs mostly without the GIL (Pillow decoding, OpenCV,
    numpy), so that a step uses every core. One item, or one core: a plain loop."""
    n = min(len(items), workers or usable_cores(), usable_cores())
    if n < 2:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    ctx = contextvars.copy_context()  # the caller's workspace and allowed inputs (tools.core.paths), in every thread

    def run(x: T) -> R:
        return ctx.copy().run(fn, x)  # a context can be entered by one thread at a time: a copy each

    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(run, items))


def _runs(exe: str, args: list[str]) -> str | None:
    """None when ``exe args`` runs and exits 0 within 10 s; else why not."""
    path = shutil.which(exe)
    if path is None:
        return "not found" if os.sep not in exe else "no such executable file"
    try:
        proc = subprocess.run([path, *args], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cannot run ({e})"
    if proc.returncode != 0:
        return f"exits with status {proc.returncode}"
    return None


def _workspace_problem(root: Path) -> str | None:
    try:
        root = root.expanduser()
        if root.exists() and not root.is_dir():
            return f"ADREEL_WORKSPACE {str(root)!r} is a file, not a folder: set ADREEL_WORKSPACE to a folder (it is created if missing)"
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=root, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return f"ADREEL_WORKSPACE {str(root)!r} cannot be used ({e.strerror or e}): set ADREEL_WORKSPACE to a folder you can write"
    return None


def _font_problem(family: str) -> str | None:
    fc = shutil.which("fc-list")
    if fc is None:
        return None  # no fontconfig tools to ask: libass will say so itself
    try:
        out = subprocess.run([fc, f":family={family}", "family"], capture_output=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not out.strip():
        return (f"subtitle font {family!r} is not installed: `apt-get install fonts-noto-cjk` (or fonts-wqy-microhei) "
                f"or set ADREEL_SUBTITLE_FONT to an installed font that covers Chinese")
    return None


def check_environment(needs: tuple[Need, ...] = ALL_NEEDS, settings: Settings | None = None) -> Settings:
    """The settings, after checking everything in ``needs``; all problems are reported at once.

    Raises:
        ToolInputError: a malformed ``ADREEL_*`` setting, or a workspace that cannot be written.
        BackendUnavailable: ffmpeg, ffprobe or espeak-ng missing or broken, the subtitle font missing.
    """
    s = settings or get_settings()  # a malformed ADREEL_* value is a ToolInputError here
    fixable: list[str] = []
    missing: list[str] = []
    if "workspace" in needs and (p := _workspace_problem(Path(s.workspace))):
        fixable.append(p)
    checks = {"ffmpeg": (s.ffmpeg, ["-version"], "ADREEL_FFMPEG", "apt-get install ffmpeg"),
              "ffprobe": (s.ffprobe, ["-version"], "ADREEL_FFPROBE", "apt-get install ffmpeg"),
              "espeak": (s.espeak, ["--version"], "ADREEL_ESPEAK", "apt-get install espeak-ng")}
    for need, (exe, args, var, install) in checks.items():
        if need in needs and (why := _runs(exe, args)):
            missing.append(f"{need} {exe!r}: {why}: `{install}` or set {var} to the binary")
    if "font" in needs and (p := _font_problem(s.subtitle_font)):
        missing.append(p)
    if fixable:
        raise ToolInputError("the environment is not ready:\n  - " + "\n  - ".join(fixable + missing),
                             hint="fix the lines above, then run the command again")
    if missing:
        raise BackendUnavailable("the environment is not ready:\n  - " + "\n  - ".join(missing),
                                 hint="fix the lines above, then run the command again")
    return s


#: Environment variables that move a library's cache or runtime files (relative to the workspace's
#: ``cache/`` folder), or switch them off.
STATE_DIRS = {
    "TORCHINDUCTOR_CACHE_DIR": "torchinductor",
    "TRITON_CACHE_DIR": "triton",
    "NUMBA_CACHE_DIR": "numba",
    "MPLCONFIGDIR": "matplotlib",
    "XDG_CACHE_HOME": "xdg-cache",         # onnxruntime, fontconfig, huggingface …
    "XDG_RUNTIME_DIR": "runtime",          # PulseAudio's runtime socket folder (espeak-ng links libpulse)
    "PULSE_RUNTIME_PATH": "runtime/pulse",
    "PULSE_STATE_PATH": "runtime/pulse-state",
    "PULSE_CONFIG_PATH": "runtime/pulse-config",
    "PULSE_COOKIE": "runtime/pulse-cookie",
    "TMPDIR": "tmp",                      # jieba's dictionary cache, torch's and every other temp file
}
SWITCHED_OFF = {
    "ORT_DISABLE_TELEMETRY": "1",          # onnxruntime's telemetry events
    "DOTNET_CLI_TELEMETRY_OPTOUT": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "PULSE_SERVER": "none",                # espeak-ng writes WAV files: no sound server to look for
    "TORCHINDUCTOR_FX_GRAPH_CACHE": "0",
}


def confine_third_party_state(root: Path | str) -> dict[str, str]:
    """Point third-party caches, runtime and temp files under ``<root>/cache`` (or switch them
    off) for this process and the programs it starts; returns the variables set. Call it once at
    start-up, before those libraries are imported."""
    base = Path(root).expanduser().resolve() / "cache"
    env: dict[str, str] = {}
    for var, sub in STATE_DIRS.items():
        d = base / sub
        if var == "PULSE_COOKIE":
            d.parent.mkdir(parents=True, exist_ok=True)
        else:
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[var] = str(d)
    env.update(SWITCHED_OFF)
    os.environ.update(env)
    tempfile.tempdir = env["TMPDIR"]
    return env
