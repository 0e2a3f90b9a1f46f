"""The fuzz suite's harness: a guarded sandbox per test, and the tally printed at the end.

Every fuzz test runs inside :class:`Guard`: the test's workspace (``ADREEL_WORKSPACE``) holds
small media and a symlink that points out of it; beside it, outside the workspace, are the
user's inputs (the only outside files tools may read) and a secret. A case passes when it gives
a correct output or an AdReel error with a message (never another exception, never exit status 1
from the CLI), and at the end of the test nothing was written outside the workspace (the test's
folders are listed before and after; every path trick carries a canary name that is searched for
in ``/``, ``/tmp``, ``~`` and the repository), the inputs are byte-identical, no output or message
contains the secret, and peak memory stayed under :data:`MEM_BOUND_BYTES`.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _guard import CHECKS, OUTCOMES, PEAK, STATS, Guard
from _hostile import SECRET


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not STATS:
        return
    tr = terminalreporter
    tr.section("AdReel fuzz suite")
    for cat, n in sorted(STATS.items()):
        tr.write_line(f"  {cat:28s} {n:5d} cases")
    tr.write_line(f"  {'total':28s} {sum(STATS.values()):5d} cases")
    tr.write_line("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items())))
    tr.write_line("  checks: " + ", ".join(f"{k} {v}" for k, v in CHECKS.items()))
    tr.write_line(f"  peak resident memory of a case: {PEAK['bytes'] / 2**20:.0f} MiB ({PEAK['case']})")


# --------------------------------------------------------------------------- media made once per session
def _wav(path: Path, seconds: float, freq: float = 440.0, sr: int = 22050, beats: bool = False) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t)
    if beats:  # clicks every 0.5 s: onsets and a beat
        y *= (np.mod(t, 0.5) < 0.05)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((y * 32767).astype(np.int16).tobytes())
    return path


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small valid and corrupt media, made once: photos, a 1.5 s clip, music, facts."""
    import cv2

    d = tmp_path_factory.mktemp("fuzz-media")
    for i, colour in enumerate([(40, 120, 220), (200, 80, 40), (30, 180, 60)]):
        img = np.zeros((240, 320, 3), np.uint8)
        img[:] = colour
        cv2.rectangle(img, (60 + 10 * i, 50), (260, 190), (255, 255, 255), -1)
        cv2.putText(img, f"CUP {i}", (90, 140), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 0), 3)
        cv2.imwrite(str(d / f"photo{i}.jpg"), img)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=1.5", "-pix_fmt", "yuv420p",
                    str(d / "clip.mp4")], check=True)
    _wav(d / "music.wav", 6.0, beats=True)
    _wav(d / "tone.wav", 1.0)
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    (d / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(500))
    (d / "facts.txt").write_text("name: Fuzz Cup\nmaterial: ceramic, glazed\noffer: buy two get one\n", encoding="utf-8")
    return d


@pytest.fixture()
def guard(media: Path, tmp_path: Path, _isolated_workspace: Path) -> Iterator[Guard]:
    """The sandbox: media in the workspace, the user's inputs and a secret beside it, reads
    allowed only from the inputs; checked at the end of the test."""
    from tools.core.paths import allow_inputs

    ws = _isolated_workspace
    outside = tmp_path / "outside"
    inputs = outside / "inputs"
    (inputs / "materials").mkdir(parents=True)
    for n in ("photo0.jpg", "photo1.jpg", "clip.mp4"):
        shutil.copy(media / n, inputs / "materials" / n)
    for n in ("facts.txt", "music.wav", "tone.wav"):
        shutil.copy(media / n, inputs / n)
    (outside / "secret.txt").write_text(f"name: {SECRET}\nsecret: {SECRET}\n", encoding="utf-8")
    for n in ("photo0.jpg", "photo1.jpg", "clip.mp4", "corrupt.mp4", "corrupt.jpg", "music.wav", "tone.wav", "facts.txt"):
        shutil.copy(media / n, ws / n)
    (ws / "escape").symlink_to(outside, target_is_directory=True)
    g = Guard(ws=ws, outside=outside, inputs=inputs, tmp=tmp_path)
    with allow_inputs(inputs, replace=True), address_space_cap():
        g.snapshot()
        yield g
    g.check_outside()


@contextlib.contextmanager
def address_space_cap(extra_bytes: int = 4 * 1024**3) -> Iterator[None]:
    """Cap this process's address space at its current size plus ``extra_bytes`` while a fuzz test
    runs: an unbounded allocation fails as MemoryError (a finding) instead of the kernel's OOM
    killer taking the machine (programs started meanwhile inherit the cap)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = next(int(x.split()[1]) * 1024 for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmSize:"))
    cap = size + extra_bytes if hard == resource.RLIM_INFINITY else min(hard, size + extra_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


