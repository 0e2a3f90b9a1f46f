"""Scoring throughput: still_scores (aesthetics, emotion, saliency) per image, classic image and
text encoding per item, and the LWC on a batch.

    OMP_NUM_THREADS=2 .venv/bin/python tests/benchmarks/bench_scoring.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.understand.cpa import load_wundt, still_scores  # noqa: E402
from tools.understand.encoders import get_encoder  # noqa: E402
from tools.core.images import load_image  # noqa: E402

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"


def main() -> None:
    import torch

    imgs = [load_image(p, max_side=1024) for p in sorted((MEDIA / "images").iterdir())]
    t = time.perf_counter()
    for im in imgs:
        still_scores(im)
    dt = time.perf_counter() - t
    print(f"still_scores: {len(imgs) / dt:.1f} images/s ({dt / len(imgs) * 1000:.0f} ms each, 1024 px input)")
    enc = get_encoder("classic")
    t = time.perf_counter()
    enc.encode_images(imgs)
    dt = time.perf_counter() - t
    print(f"classic image encoder: {len(imgs) / dt:.1f} images/s")
    texts = [f"product {i}: a sporty duffle bag with dual handles, 夏日清凉 {i}" for i in range(256)]
    enc.encode_texts(texts[:2])
    t = time.perf_counter()
    enc.encode_texts(texts)
    dt = time.perf_counter() - t
    print(f"classic text encoder (MiniLM + lexical): {len(texts) / dt:.0f} texts/s")
    m = load_wundt()
    x = torch.rand(100_000, 3)
    t = time.perf_counter()
    with torch.no_grad():
        m(x)
    dt = time.perf_counter() - t
    print(f"LWC: {len(x) / dt:,.0f} items/s")


if __name__ == "__main__":
    main()
