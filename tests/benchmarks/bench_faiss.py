"""FAISS benchmark at the classic encoder's dimension (512): build time, top-10 latency (single
queries, one thread) and recall@10 of the approximate index against exact Flat.

Data: synthetic *clustered* unit vectors (2 000 centres, within-cluster noise), a stand-in for
real descriptors, which cluster by product/scene; i.i.d. Gaussian vectors (no structure, the
worst case for IVF) are reported too with --uniform. Queries are held-out points of the same
distribution. The index under test is the one AdReel builds (tools.understand.index.VectorSpace: IVF-Flat
above 50 000 vectors, nlist = 4√n, nprobe = max(16, nlist/32)).

    OMP_NUM_THREADS=2 .venv/bin/python tests/benchmarks/bench_faiss.py --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.understand.encoders import CLASSIC_IMAGE_DIM, l2n  # noqa: E402
from tools.understand.index import VectorSpace  # noqa: E402


def make_data(n: int, d: int, uniform: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if uniform:
        return l2n(rng.standard_normal((n, d), dtype=np.float32))
    centres = l2n(rng.standard_normal((2000, d), dtype=np.float32))
    out = np.empty((n, d), np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        out[i : i + m] = l2n(centres[rng.integers(0, 2000, m)] + 0.6 * rng.standard_normal((m, d), dtype=np.float32) / np.sqrt(d))
    return out


def run(n: int, uniform: bool, n_queries: int = 200) -> dict[str, float]:
    import faiss

    d = CLASSIC_IMAGE_DIM
    data = make_data(n + n_queries, d, uniform)
    q, x = data[:n_queries], data[n_queries:]
    del data
    flat = faiss.IndexFlatIP(d)
    flat.add(x)
    t = time.perf_counter()
    for row in q[:100]:
        flat.search(row[None, :], 10)
    flat_ms = (time.perf_counter() - t) / 100 * 1000
    _, truth = flat.search(q, 10)
    del flat
    vs = VectorSpace(d)
    ids = [str(i) for i in range(n)]
    t = time.perf_counter()
    vs.add(ids, x)
    build_s = time.perf_counter() - t
    del x
    t = time.perf_counter()
    res = [vs.search(row[None, :], 10)[0] for row in q]
    ann_ms = (time.perf_counter() - t) / n_queries * 1000
    recall = float(np.mean([len({int(h[0]) for h in r} & set(tr.tolist())) / 10 for r, tr in zip(res, truth)]))
    return {"n": n, "kind": vs.kind, "nprobe": vs.nprobe, "build_s": build_s, "flat_ms": flat_ms, "index_ms": ann_ms, "recall@10": recall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--uniform", action="store_true")
    a = ap.parse_args()
    import faiss

    print(f"faiss {faiss.__version__}, threads {faiss.omp_get_max_threads()}, dim {CLASSIC_IMAGE_DIM}, data {'uniform' if a.uniform else 'clustered'}")
    print("n         kind  nprobe  build_s  flat_ms/query  index_ms/query  recall@10")
    for n in a.sizes:
        r = run(n, a.uniform)
        print(f"{r['n']:<9} {r['kind']:<5} {r['nprobe']:<7} {r['build_s']:<8.1f} {r['flat_ms']:<14.2f} {r['index_ms']:<15.2f} {r['recall@10']:.3f}", flush=True)


if __name__ == "__main__":
    main()
