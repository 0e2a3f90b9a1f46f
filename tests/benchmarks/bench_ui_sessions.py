"""N concurrent gradio_client sessions against one app (default 10): wall time, per-session
time, the app's peak memory (VmHWM), and that every session got its own video of its length.

    .venv/bin/python tests/benchmarks/bench_ui_sessions.py [--sessions 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from conftest import free_port, start_app  # noqa: E402
from test_ui_api import _duration, run_session  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=10)
    a = ap.parse_args()
    media = ROOT.parent / "shared" / "media" / "images"
    with tempfile.TemporaryDirectory() as td:
        ws = Path(td) / "ws"
        facts = Path(td) / "product.txt"
        facts.write_text("name: Joust Duffle Bag\nmaterial: durable nylon, padded strap\noffer: only 34 dollars\n", encoding="utf-8")
        imgs = sorted(str(p) for p in media.glob("magento_*.jpg"))[:6]
        port = free_port()
        proc = start_app(ws, port)
        peak = 0
        try:
            url = f"http://127.0.0.1:{port}/"
            t0 = time.perf_counter()
            times: list[float] = []

            def one(i: int) -> tuple[int, dict]:
                s = time.perf_counter()
                r = run_session(url, [*imgs[: 3 + i % 3], str(facts)], f"{5 + i} s square video")  # ≥3 photos fill ≥18 s
                times.append(time.perf_counter() - s)
                return i, r

            with ThreadPoolExecutor(a.sessions) as ex:
                futs = [ex.submit(one, i) for i in range(a.sessions)]
                while not all(f.done() for f in futs):
                    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM"):
                            peak = max(peak, int(line.split()[1]))
                    time.sleep(0.5)
                results = [f.result() for f in futs]
            wall = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        ok = 0
        videos = set()
        for i, r in results:
            v = r["video"]["video"] if isinstance(r["video"], dict) else r["video"]
            if not v:
                print(f"session {i}: no video; last message: {str(r['chat'][-1])[:400]}")
                continue
            videos.add(v)
            ok += abs(_duration(v) - (5 + i)) <= 0.1
        print(f"sessions={a.sessions} ok={ok} distinct_videos={len(videos)} wall_s={wall:.1f} "
              f"per_session_s(min/mean/max)={min(times):.1f}/{sum(times) / len(times):.1f}/{max(times):.1f} app_peak_rss_mb={peak / 1024:.0f}")


if __name__ == "__main__":
    main()
