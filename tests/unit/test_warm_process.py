"""Warm processes: the encoder's models are prefetched once per process; the set-up warm-up
leaves numba's compiled music-analysis kernels in the workspace cache, so no job compiles them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents import deps as deps_mod
from agents.deps import Deps
from tools.understand.index import EncoderChoice

ROOT = Path(__file__).resolve().parents[2]


def test_prefetch_runs_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    class Fake:
        def encode_texts(self, texts: list[str]) -> list[list[float]]:
            built.append(texts[0])
            return [[0.0]]

    monkeypatch.setattr(deps_mod, "_PREFETCHED", set())
    monkeypatch.setattr(EncoderChoice, "build", lambda self: Fake())
    d = Deps()
    t = d.prefetch()
    assert t is not None
    t.join(10)
    assert built == ["warm up"]
    assert d.prefetch() is None and Deps().prefetch() is None  # the same encoder: not again in this process
    assert built == ["warm up"]


@pytest.mark.slow
def test_setup_warm_up_fills_the_workspace_numba_cache(tmp_path: Path) -> None:
    env = {**os.environ, "ADREEL_WORKSPACE": str(tmp_path / "ws"), "OMP_NUM_THREADS": "1"}
    env.pop("NUMBA_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "tools.story.music"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cache = tmp_path / "ws" / "cache" / "numba"
    index = list(cache.rglob("*.nbi"))
    assert any("beat" in p.name for p in index), sorted(p.name for p in index)  # librosa's beat tracker, compiled
    assert any("localmax" in p.name for p in index)  # and its peak picking (onsets)
    assert "warmed up" in proc.stderr
