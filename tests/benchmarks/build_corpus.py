"""Build the embedded narrator's retrieval corpora under tools/data/.

    .venv/bin/python tests/benchmarks/build_corpus.py [--esync ../shared/data/esync/dev.json]
        [--magento ../shared/media/text/magento_luma_products_en.jsonl]

zh: every narration of the E-SyncVidStory dev split (Yang et al. 2024, alibaba/alimama-video-narrator
``data/split/test.json`` @ c1338ca, 288 of its videos) with its label, clip position and product
facts, pre-tokenised with jieba. en: sentences of the Magento Luma sample catalogue descriptions
(magento/magento2-sample-data@5380756, OSL-3.0 / AFL-3.0), labelled by keyword rules, with the
bullet lines of each description as that product's facts.

Records (one JSON object a line): ``{"type": "meta", …}``, ``{"type": "product", "name", "aspects":
[[aspect, [points]], …]}`` and ``{"type": "line", "video", "product", "clip", "n", "rel_pos",
"label", "text", "toks"}`` where ``product`` is the 0-based index of the product record.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.story.esync import load_esync  # noqa: E402
from tools.narrate.narrator import CORPUS_FILES, tokens  # noqa: E402

SHARED = ROOT.parent / "shared"

_EN_RULES: list[tuple[str, str]] = [
    (r"\b(cotton|polyester|spandex|nylon|fabric|leather|mesh|wool|fleece|material|steel|rubber|foam|lycra|organic)\b", "质地/成分/材质"),
    (r"\b(colou?r|design|look|style|pattern|stripe|size|sleek|shape|logo|print|silhouette)\b", "外观设计"),
    (r"\b(durable|lasting|waterproof|water-resistant|wrinkle|breathable|lightweight|sturdy|resist|protect)\b", "质量/特性介绍"),
    (r"\b(wear|carry|use|try|slip|pull|zip|put|fill|stretch|practice|workout|run|hike)\b", "产品试用"),
    (r"\b(keeps?|helps?|feel|comfort|support|cool|dry|warm|improve|easy|perfect for|ideal)\b", "产品功效"),
    (r"\b(tired|struggle|problem|never again|no more|hate|worry|sick of)\b", "痛点铺垫"),
    (r"\b(order|buy|grab|today|price|deal|sale|get yours|don't miss)\b", "引导购买"),
]


def _label_en(sentence: str, first: bool) -> str:
    s = sentence.lower()
    for pat, lab in _EN_RULES:
        if re.search(pat, s):
            return lab
    return "产品推荐" if first else "其他/通用卖点"


def build_zh(esync: Path, out: Path) -> int:
    videos = load_esync(esync)
    recs: list[dict] = [{"type": "meta", "language": "zh", "source": "E-SyncVidStory dev split (shared/data/esync/dev.json)",
                         "provenance": "alibaba/alimama-video-narrator data/split/test.json @ c1338ca (288 of 595 videos)",
                         "note": "evaluating on dev.json must exclude the narrated product (leave-product-out)"}]
    seen_order: list[str] = []
    for v in videos:
        if v.product.name not in seen_order:
            seen_order.append(v.product.name)
            recs.append({"type": "product", "name": v.product.name,
                         "aspects": [[a.aspect, a.points] for a in v.product.aspects]})
    pid = {name: i for i, name in enumerate(seen_order)}
    for v in videos:
        for c in v.clips:
            recs.append({"type": "line", "video": v.id, "product": pid[v.product.name], "clip": c.index, "n": c.n_clips,
                         "rel_pos": round(c.rel_pos, 4), "label": c.label, "text": c.text,
                         "toks": " ".join(t for t in tokens(c.text, "zh") if t.strip())})
    _write(out, recs)
    return sum(r["type"] == "line" for r in recs)


def build_en(magento: Path, out: Path) -> int:
    recs: list[dict] = [{"type": "meta", "language": "en", "source": "Magento Luma sample catalogue descriptions",
                         "provenance": "magento/magento2-sample-data@5380756 (shared/media/text/magento_luma_products_en.jsonl)",
                         "license": "OSL-3.0 / AFL-3.0"}]
    lines: list[dict] = []
    for raw in magento.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        p = json.loads(raw)
        desc = p.get("description") or ""
        parts = [x.strip() for x in desc.split("\n") if x.strip()]
        if not parts:
            continue
        prose, bullets = parts[0], [b.rstrip(".") for b in parts[1:] if len(b.split()) <= 12]
        aspects = [["features", bullets]] if bullets else []
        if p.get("category"):
            aspects.append(["category", [p["category"].split("/")[-1].strip()]])
        pid = sum(r["type"] == "product" for r in recs)
        recs.append({"type": "product", "name": p["name"], "aspects": aspects})
        sents = [s.strip() for s in re.split(r"(?<=[.!?])\s+", prose) if len(s.split()) >= 4]
        n = len(sents)
        for i, s in enumerate(sents):
            lines.append({"type": "line", "video": p["sku"], "product": pid, "clip": i, "n": n,
                          "rel_pos": round(i / max(n - 1, 1), 4), "label": _label_en(s, i == 0), "text": s,
                          "toks": " ".join(tokens(s, "en"))})
    _write(out, recs + lines)
    return len(lines)


def _write(out: Path, recs: list[dict]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in recs), encoding="utf-8")
    tmp.replace(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--esync", default=str(SHARED / "data/esync/dev.json"))
    ap.add_argument("--magento", default=str(SHARED / "media/text/magento_luma_products_en.jsonl"))
    a = ap.parse_args(argv)
    print("zh lines:", build_zh(Path(a.esync), CORPUS_FILES["zh"]))
    print("en lines:", build_en(Path(a.magento), CORPUS_FILES["en"]))


if __name__ == "__main__":
    main()
