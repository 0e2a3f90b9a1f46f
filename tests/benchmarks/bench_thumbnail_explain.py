"""Benchmark: GIF thumbnails for every shared video, and explanations on planted + real videos.

Run:  OMP_NUM_THREADS=1 taskset -c 0,1 .venv/bin/python tests/benchmarks/bench_thumbnail_explain.py [--out DIR]

Reports per video: chosen starts, GIF bytes vs budget, disjointness, seconds per GIF; per planted
seed: whether stage 1 ranks the planted section first, IoU of stage 2's region with the planted
region, stability, seconds per explanation. Times are wall-clock on this machine (2 cores; note
that other jobs may share them). The explainer's SLIC/LIME settings (n_segments=100,
lime_samples=300) were chosen on planted seeds 0–5 of this very generator, so seeds 6–9 are the
only ones not looked at while tuning.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.core.paths import allow_inputs  # noqa: E402
from tools.explain.excitement import ExplainInput, explain_excitement, explain_video  # noqa: E402
from tools.explain.thumbnail import ThumbnailInput, make_gif_thumbnail  # noqa: E402
from tools.understand.video_features import probe_video  # noqa: E402


def _planted():
    spec = importlib.util.spec_from_file_location("test_explain", ROOT / "tests/unit/test_explain.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/adreel_bench_thumb")
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media" / "video"))
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["ADREEL_WORKSPACE"] = str(out)  # tools write only inside the workspace: the report folder is it
    stack = contextlib.ExitStack()
    stack.enter_context(allow_inputs(args.media))  # the shared videos are the inputs this benchmark names
    report: dict = {"gifs": [], "planted": [], "real_explanations": []}

    videos = sorted(p for p in Path(args.media).iterdir() if p.suffix in {".mp4", ".webm", ".mkv"})
    for v in videos:
        t = time.perf_counter()
        r = make_gif_thumbnail(ThumbnailInput(video_path=str(v), out_dir=str(out / "gifs"), file_name=v.stem + ".gif"))
        dt = time.perf_counter() - t
        shot = r.shots[0].end_s - r.shots[0].start_s
        st = sorted(r.starts_s)
        disjoint = all(b - a >= shot - 1e-9 for a, b in zip(st, st[1:]))
        row = {"video": v.name, "duration_s": round(probe_video(v).duration_s, 2), "starts_s": r.starts_s,
               "shot_s": shot, "bytes": r.size_bytes, "within_budget": r.size_bytes <= r.budget_bytes,
               "disjoint": disjoint, "fps": r.fps, "colours": r.colours, "width_px": r.width_px, "seconds": round(dt, 2)}
        report["gifs"].append(row)
        print("GIF", json.dumps(row))

    te = _planted()
    for seed in range(args.seeds):
        v = out / f"planted{seed}.mp4"
        truth = te.make_planted_video(v, seed)
        t = time.perf_counter()
        r, arrays = explain_video(ExplainInput(video_path=str(v), out_dir=str(out / f"planted{seed}"), seed=seed))
        dt = time.perf_counter() - t
        row = {"seed": seed, "planted_s": [truth["start_s"], truth["end_s"]], "key_frame_s": r.key_frame_s,
               "stage1_hit": truth["start_s"] <= r.key_frame_s < truth["end_s"],
               "iou": round(te.iou(arrays["lime"]["mask"], truth["region"]), 3), "stability": r.stability,
               "seconds": round(dt, 2)}
        report["planted"].append(row)
        print("PLANTED", json.dumps(row))

    for v in videos[:3]:
        t = time.perf_counter()
        r = explain_excitement(ExplainInput(video_path=str(v), out_dir=str(out / "explain" / v.stem), seed=0))
        dt = time.perf_counter() - t
        row = {"video": v.name, "p_exciting": r.p_exciting, "emotion": r.emotion, "key_frame_s": r.key_frame_s,
               "stability": r.stability, "seconds": round(dt, 2), "png": r.png_path}
        report["real_explanations"].append(row)
        print("EXPLAIN", json.dumps(row))

    g, p = report["gifs"], report["planted"]
    summary = {
        "gifs_within_budget": f"{sum(x['within_budget'] and x['disjoint'] for x in g)}/{len(g)}",
        "mean_s_per_gif": round(sum(x["seconds"] for x in g) / len(g), 2),
        "stage1_hits": f"{sum(x['stage1_hit'] for x in p)}/{len(p)}",
        "iou_min": min(x["iou"] for x in p), "iou_mean": round(sum(x["iou"] for x in p) / len(p), 3),
        "iou_ge_0_5": f"{sum(x['iou'] >= 0.5 for x in p)}/{len(p)}",
        "stability_mean": round(sum(x["stability"] for x in p) / len(p), 3),
        "mean_s_per_explanation_planted": round(sum(x["seconds"] for x in p) / len(p), 2),
        "mean_s_per_explanation_real": round(sum(x["seconds"] for x in report["real_explanations"])
                                             / max(1, len(report["real_explanations"])), 2),
    }
    report["summary"] = summary
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print("SUMMARY", json.dumps(summary))


if __name__ == "__main__":
    main()
