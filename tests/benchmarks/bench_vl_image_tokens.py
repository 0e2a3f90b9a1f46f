"""Benchmark: image tokens per narration line sent to a vision-language model, before and after
visual compression and memory consolidation (narrator §4.1), on a real clip.

    .venv/bin/python tests/benchmarks/bench_vl_image_tokens.py                    # montage_gt.mp4, 2 fps keyframes
    .venv/bin/python tests/benchmarks/bench_vl_image_tokens.py --video V --cuts V.cuts.json --fps 1
    .venv/bin/python tests/benchmarks/bench_vl_image_tokens.py --base-url http://127.0.0.1:8000/v1   # a running --vl server

Each shot of the clip (ground-truth cuts) is one beat; its keyframes are frames sampled at ``--fps``.
For line i, *before* sends every keyframe of shot i and of all earlier shots; *after* sends what the
served narrator sends (serving/narrator_client.py): shot i's keyframes after visual compression
(tau) and the earlier shots consolidated to ``--image-budget`` images. Image tokens are counted
three ways: measured on the server (prompt tokens of the request minus those of the same request
without its images; the tiny Idefics3 model of serving/tiny_model.py unless ``--base-url``), and
computed with two Hugging Face image processors on the very images sent (JPEG, long side
``--max-side``): the tiny model's and Qwen2-VL's (``Qwen2VLImageProcessorPil``; tokens = patches /
merge², + 2 vision tags). Without ``--base-url`` the tiny VL server is started here (≈35 s) and also
writes the lines (``ServedNarrator``), so the *after* request is the one the narrator really sent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media" / "video"


def _sample_keyframes(video: Path, shot_frames: list[tuple[int, int]], fps_out: float, out: Path) -> list[list[str]]:
    """Frames every 1/fps_out seconds inside each shot, as JPEG files; per shot, in time order."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(1, round(fps / fps_out))
    want = {f: k for k, (a, b) in enumerate(shot_frames) for f in range(a + step // 2, b, step)}
    shots: list[list[str]] = [[] for _ in shot_frames]
    f = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if f in want:
            p = out / f"f{f:05d}.jpg"
            cv2.imwrite(str(p), bgr)
            shots[want[f]].append(str(p))
        f += 1
    cap.release()
    return shots


def _images_of(messages: list[dict]):
    import base64
    import io

    from PIL import Image

    return [Image.open(io.BytesIO(base64.b64decode(p["image_url"]["url"].split(",", 1)[1]))).convert("RGB")
            for m in messages if isinstance(m["content"], list) for p in m["content"] if p["type"] == "image_url"]


def _without_images(messages: list[dict]) -> list[dict]:
    return [{**m, "content": [p for p in m["content"] if p["type"] != "image_url"]} if isinstance(m["content"], list) else m
            for m in messages]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", default=str(MEDIA / "montage_gt.mp4"))
    ap.add_argument("--cuts", default=None, help="ground-truth cuts JSON (default: VIDEO with .cuts.json)")
    ap.add_argument("--fps", type=float, default=2.0, help="keyframes sampled per second of each shot")
    ap.add_argument("--tau", type=float, default=0.92)
    ap.add_argument("--frames-per-clip", type=int, default=4)
    ap.add_argument("--image-budget", type=int, default=6)
    ap.add_argument("--max-side", type=int, default=448)
    ap.add_argument("--base-url", default=None, help="a running VL server (python -m serving.vllm_server --vl --images 64)")
    ap.add_argument("--json", default=None, help="write the report here too")
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from serving.client import ChatClient
    from serving.narrator_client import (
        ServedBeat,
        ServedNarrateInput,
        ServedNarrator,
        _messages,
        _with_images,
    )
    from serving.tiny_model import build_tiny_vl_model
    from tools.core.models import ProductInfo

    video = Path(a.video)
    cuts = json.loads(Path(a.cuts or video.with_suffix(".cuts.json")).read_text())
    starts = [0, *cuts["cut_frames"]]
    spans = list(zip(starts, [*cuts["cut_frames"], cuts["n_frames"]]))
    tmp = Path(tempfile.mkdtemp(prefix="bench-vl-"))
    (tmp / "frames").mkdir()
    shots = _sample_keyframes(video, spans, a.fps, tmp / "frames")
    n = len(shots)
    product = ProductInfo(name="Trail Day Pack", language="en", aspects=[
        {"aspect": "design", "points": ["light frame", "rain cover"]}, {"aspect": "offer", "points": ["free shipping this week"]}])
    beats = [ServedBeat(word_min=4, word_max=10, rel_pos=i / max(1, n - 1), keyframes=k) for i, k in enumerate(shots)]
    inp = ServedNarrateInput(product=product, beats=beats, max_workers=1, tau=a.tau, frames_per_clip=a.frames_per_clip,
                             image_budget=a.image_budget, image_max_side_px=a.max_side, images="on", fallback=False)

    from transformers import AutoProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    model_dir = build_tiny_vl_model(tmp / "tiny-vl")
    tiny = AutoProcessor.from_pretrained(str(model_dir))
    base = len(tiny.tokenizer("a", add_special_tokens=False)["input_ids"])
    qwen = Qwen2VLImageProcessorPil()

    def tiny_tokens(im) -> int:
        return len(tiny(text=["a<image>"], images=[[im]], add_special_tokens=False)["input_ids"][0]) - base

    def qwen_tokens(im) -> int:
        thw = qwen(images=[im], return_tensors="np")["image_grid_thw"][0]
        return int(thw.prod()) // qwen.merge_size**2 + 2

    srv = None
    report: dict = {"video": video.name, "shots": n, "keyframes_per_shot": [len(s) for s in shots], "fps": a.fps, "tau": a.tau,
                    "frames_per_clip": a.frames_per_clip, "image_budget": a.image_budget, "max_side_px": a.max_side}
    if a.base_url:
        base_url = a.base_url
    else:
        from serving.vllm_server import VllmServer, vl_args

        limit = sum(len(s) for s in shots) + 1
        srv = VllmServer(model_dir, log_path=tmp / "server.log", start_timeout_s=600, extra_args=vl_args(limit)).start()
        report["server_start_s"] = round(srv.start_s or 0, 1)
        base_url = srv.base_url
    try:
        client = ChatClient(base_url, "", timeout_s=300)
        sent: list[list[dict]] = []

        class Rec:
            model = property(lambda self: client.model)

            def chat_json(self, messages, schema, **kw):
                sent.append(messages)
                return client.chat_json(messages, schema, **kw)

        t0 = time.perf_counter()
        out = ServedNarrator(Rec()).narrate(inp)
        report["narrate_s"] = round(time.perf_counter() - t0, 2)
        assert out.backend == "vllm" and len(sent) == n, (out.backend, out.fallback_reason, len(sent))
        previous = [(ln.label, ln.text) for ln in out.lines]
        rows = []
        for i in range(n):
            after_msgs = sent[i]
            text_msgs = _messages(product, beats, i, "en", previous, [b.label for b in beats])
            before_msgs = _with_images(text_msgs, [p for s in shots[:i] for p in s], shots[i], "en", a.max_side)
            row = {"line": i + 1}
            for key, msgs in (("before", before_msgs), ("after", after_msgs)):
                imgs = _images_of(msgs)
                with_img = client.chat_text(msgs, max_tokens=1, temperature=0).prompt_tokens
                without = client.chat_text(_without_images(msgs), max_tokens=1, temperature=0).prompt_tokens
                row[key] = {"images": len(imgs), "served_tiny_tokens": with_img - without,
                            "tiny_processor_tokens": sum(tiny_tokens(im) for im in imgs),
                            "qwen2vl_tokens": sum(qwen_tokens(im) for im in imgs)}
            rows.append(row)
        report["lines"] = rows
        for key in ("before", "after"):
            for m in ("images", "served_tiny_tokens", "qwen2vl_tokens"):
                report[f"{key}_{m}_mean"] = round(statistics.mean(r[key][m] for r in rows), 1)
        report["served_equals_processor"] = all(r[k]["served_tiny_tokens"] == r[k]["tiny_processor_tokens"]
                                                for r in rows for k in ("before", "after"))
    finally:
        if srv is not None:
            srv.stop()
    print(f"{'line':>4} {'imgs before':>11} {'imgs after':>10} {'tiny tok before':>15} {'tiny tok after':>14} "
          f"{'Qwen2-VL before':>15} {'Qwen2-VL after':>14}")
    for r in report["lines"]:
        b, f = r["before"], r["after"]
        print(f"{r['line']:>4} {b['images']:>11} {f['images']:>10} {b['served_tiny_tokens']:>15} {f['served_tiny_tokens']:>14} "
              f"{b['qwen2vl_tokens']:>15} {f['qwen2vl_tokens']:>14}")
    print(json.dumps({k: v for k, v in report.items() if k != "lines"}, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
