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


def test_prefetch_warms_the_narrator_after_the_text_model_once_per_language(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from tools.core.models import ProductInfo

    order: list[str] = []

    class Fake:
        def encode_texts(self, texts: list[str]) -> list[list[float]]:
            order.append("text model")
            return [[0.0]]

    class Narrator:
        name = "embedded"

        def narrate(self, product, beats, language, n_beats, keyframes):  # type: ignore[no-untyped-def]
            order.append(f"narrator {language} {len(beats)}")
            return []

    monkeypatch.setattr(deps_mod, "_PREFETCHED", set())
    monkeypatch.setattr(EncoderChoice, "build", lambda self: Fake())
    d = Deps(narrator=Narrator())
    en = ProductInfo(name="Trail Day Pack", language="en")
    t = d.prefetch(product=en)
    assert t is not None
    t.join(10)
    assert order == ["text model", "narrator en 1"]  # the retrieve step waits for the text model first
    assert d.prefetch(product=en) is None  # both loaded in this process already
    t = d.prefetch(text_model=False, product=en.model_copy(update={"language": "zh"}))
    assert t is not None
    t.join(10)
    assert order[-1] == "narrator zh 1"
    monkeypatch.setattr(deps_mod, "_PREFETCHED", set())
    served = replace(d, narrator=type("Served", (), {"name": "vllm", "narrate": Narrator.narrate})())
    assert served.prefetch(text_model=False, product=en) is None  # a served narrator has nothing to load here


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
