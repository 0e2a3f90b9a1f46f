"""Benchmark: solve_montage time and peak memory at 200 / 2 000 / 20 000 shots (60 bars, 10
scenes), both modes; optionally (--film MINUTES) a whole-film montage on looped real media.

    OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_montage.py [--film 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/adreel_numba_cache")

from tools.story.montage import SolveMontageInput, make_music_montage, solve_montage  # noqa: E402


def bench_solver(n: int, mode: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    scenes = np.sort(rng.integers(0, 10, n))  # 10 contiguous scenes
    shots = [{"id": f"s{i}", "scene": int(scenes[i]), "duration_s": float(rng.gamma(2.0, 2.0)), "score": float(rng.random())}
             for i in range(n)]
    inp = SolveMontageInput(shots=shots, bar_s=2.0, n_bars=60, max_scenes=10 if mode == "soft" else 5, mode=mode)
    tracemalloc.start()
    t = time.perf_counter()
    out = solve_montage(inp)
    el = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"shots": n, "mode": mode, "n_bars": 60, "scenes": 10, "max_scenes": inp.max_scenes, "time_s": round(el, 3),
            "peak_mem_mb": round(peak / 2**20, 1), "picked": len(out.selected), "score": round(out.total_score, 3)}


def bench_film(minutes: float, shared: Path) -> dict:
    """Loop the real clips of ../shared/media/video into ≥ `minutes` of video and run the montage."""
    work = Path(tempfile.mkdtemp(prefix="adreel_film_"))
    src = shared / "media" / "video" / "montage_gt.mp4"
    reps = int(np.ceil(minutes * 60 / 19.0))
    lst = work / "list.txt"
    lst.write_text("".join(f"file '{src}'\n" for _ in range(reps)))
    film = work / "film.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", str(film)], check=True)
    t = time.perf_counter()
    r = make_music_montage(str(film), str(shared / "media" / "music" / "lets_go_fishin_karissa_hobbs.ogg"),
                           str(work / "montage.mp4"), str(work / "w"))
    return {"film_minutes": round(reps * 19.0 / 60, 1), "total_s": round(time.perf_counter() - t, 1),
            "shots": r["n_shots"], "scenes": r["n_scenes"], "bars": r["n_bars"],
            "timings_s": {k: round(v, 2) for k, v in r["timings_s"].items()}}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--film", type=float, default=0.0, help="also run a whole-film montage of this many minutes")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    a = ap.parse_args()
    for n in (200, 2000, 20000):
        for mode in ("hard", "soft"):
            print(json.dumps(bench_solver(n, mode)), flush=True)
    if a.film:
        print(json.dumps(bench_film(a.film, Path(a.shared))), flush=True)
