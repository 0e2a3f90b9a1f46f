"""narrate-bench: score the embedded narrator on an E-SyncVidStory-format file beside two baselines.

``narrate_bench(esync_path, out_path, labels="given"|"predicted", seed=0)`` narrates every video
(leave-product-out retrieval: copy of the narrated product is never retrieved), writes
``{video_id: [{"label", "text"}, …]}`` and returns the metrics (narrator §3.3, App. A.2; see
:mod:`tools.narrate.metrics`) of

* ``narrator`` — the embedded narrator;
* ``name_fill`` — every narration = the product name repeated and cut to the middle of the range;
* ``random_same_label`` — the ground-truth line of a random *other* product with the same label;
* ``human`` — the references themselves (reference-free metrics only: repetition, InfoSim …).

All systems are scored by the same code in the same run; BLEU/CIDEr-D use jieba words, so they
are not comparable with the paper's Baichuan-BPE numbers.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import defaultdict
from pathlib import Path

from tools.core.errors import ToolInputError
from tools.core.models import count_words
from tools.story.esync import EsyncVideo, read_esync


def name_fill(name: str, word_min: int, word_max: int, language: str = "zh") -> str:
    """Baseline: the product name repeated and cut to the middle of the range (zh characters / en words)."""
    if language == "en":
        words = name.split() or ["product"]
        out: list[str] = []
        while len(out) < (word_min + word_max) // 2 or not out:
            out += words
        return " ".join(out[: max(1, (word_min + word_max) // 2)])
    base = re.sub(r"\s+", "", name) or "产品"
    s = base
    while len(s) < word_min:
        s += base
    return s[: max(1, (word_min + word_max) // 2)]


def _random_same_label(videos: list[EsyncVideo], seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    by_first: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for v in videos:
        for c in v.clips:
            if c.label:
                by_label[c.label].append((v.product.name, c.text))
                by_first[c.label.split("+")[0]].append((v.product.name, c.text))
    out = []
    for v in videos:
        story = []
        for c in v.clips:
            pool = [t for p, t in by_label.get(c.label or "", []) if p != v.product.name]
            if not pool:
                pool = [t for p, t in by_first.get((c.label or "").split("+")[0], []) if p != v.product.name]
            if not pool:
                pool = [c2.text for v2 in videos if v2.product.name != v.product.name for c2 in v2.clips]
            story.append(rng.choice(pool) if pool else v.product.name)
        out.append(story)
    return out


def narrate_bench(esync_path: str, out_path: str, labels: str = "given", seed: int = 0) -> dict:
    """Narrate every video of ``esync_path``, write predictions to ``out_path`` and return the metrics.

    ``labels``: "given" uses the file's script labels as the storyline; "predicted" lets the
    narrator predict them (label accuracy is then reported).
    """
    from tools.narrate.corpus import default_corpus
    from tools.narrate.metrics import LexicalEncoder, label_accuracy, score_corpus
    from tools.narrate.narrator import EmbeddedNarrator, NarrationBeat

    if labels not in ("given", "predicted"):
        raise ToolInputError(f"labels must be 'given' or 'predicted', got {labels!r}")
    videos, warnings = read_esync(esync_path)
    if not videos:
        raise ToolInputError(f"{esync_path!r} holds no videos")
    lang = videos[0].product.language
    narrator = EmbeddedNarrator(default_corpus(lang))
    narrator.product_sim(videos[0].product)  # warm the product index outside the timing

    preds: dict[str, list[dict[str, str]]] = {}
    stories: list[list[str]] = []
    pred_labels: list[str] = []
    provenance: list[str] = []
    t0 = time.perf_counter()
    n_lines = 0
    for v in videos:
        beats = [NarrationBeat(label=c.label if labels == "given" else None, word_min=c.word_min, word_max=c.word_max,
                               rel_pos=c.rel_pos) for c in v.clips]
        res = narrator.narrate(v.product, beats, lang, exclude_products=[v.product.name], seed=seed)
        preds[v.id] = [{"label": ln.label, "text": ln.text} for ln in res.lines]
        stories.append([ln.text for ln in res.lines])
        pred_labels += [ln.label for ln in res.lines]
        provenance += res.provenance
        n_lines += len(res.lines)
    elapsed = time.perf_counter() - t0

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(preds, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(out)

    refs = [[c.text for c in v.clips] for v in videos]
    ranges = [[(c.word_min, c.word_max) for c in v.clips] for v in videos]
    know = [[p for _, p in v.product.points()] for v in videos]
    durs = [v.duration_s for v in videos]
    enc = LexicalEncoder([p for ks in know for p in ks] + [t for st in refs for t in st])
    systems = {
        "narrator": stories,
        "name_fill": [[name_fill(v.product.name, c.word_min, c.word_max, lang) for c in v.clips] for v in videos],
        "random_same_label": _random_same_label(videos, seed),
    }
    result: dict = {"file": str(esync_path), "videos": len(videos), "lines": n_lines, "labels": labels, "seed": seed,
                    "retrieval": "leave-product-out (copy of the narrated product excluded)",
                    "warnings": warnings}
    for name, st in systems.items():
        result[name] = score_corpus(st, refs, ranges, know, durs, lang, enc)
    human = score_corpus(refs, refs, ranges, know, durs, lang, enc)
    result["human"] = {k: human[k] for k in ("word_length_acc", "info_sim", "info_diverse", "repetition")}
    gold = [c.label or "" for v in videos for c in v.clips]
    la = label_accuracy(pred_labels, gold)
    result["narrator"]["label_acc_exact"] = 100 * la["exact"]
    result["narrator"]["label_acc_hit"] = 100 * la["hit"]
    result["narrator"]["labels_in_vocabulary"] = 100.0  # NarrationLine validates every label
    result["narrator"]["lines_per_s"] = n_lines / max(elapsed, 1e-9)
    result["narrator"]["in_range_lines"] = sum(
        lo <= count_words(t, lang) <= hi for st, rs in zip(stories, ranges) for t, (lo, hi) in zip(st, rs))
    from tools.narrate.guard import grammar_errors

    flat = [t for st in stories for t in st]
    result["narrator"]["guard_pass"] = 100 * sum(not grammar_errors(t, lang) for t in flat) / max(len(flat), 1)
    result["narrator"]["repaired_lines"] = sum(p == "fallback" for p in provenance)  # cut/padded by fit_line
    return result


def format_report(res: dict) -> str:
    """A small fixed-width table of the systems' scores."""
    cols = ["word_length_acc", "bleu1", "bleu4", "cider_d", "info_sim", "info_diverse", "repetition"]
    lines = [f"narrate-bench on {res['file']} ({res['videos']} videos, {res['lines']} lines, labels={res['labels']}, "
             f"{res['retrieval']})", f"{'system':<20}" + "".join(f"{c:>16}" for c in cols)]
    for name in ("narrator", "name_fill", "random_same_label", "human"):
        row = res.get(name, {})
        lines.append(f"{name:<20}" + "".join(f"{row[c]:>16.2f}" if c in row else f"{'-':>16}" for c in cols))
    n = res["narrator"]
    lines.append(f"narrator label accuracy: exact {n['label_acc_exact']:.1f} %, first-label hit {n['label_acc_hit']:.1f} %; "
                 f"throughput {n['lines_per_s']:.1f} lines/s")
    if "guard_pass" in n:
        lines.append(f"narrator lines passing the grammar guard: {n['guard_pass']:.1f} %; lines repaired by cutting/padding: "
                     f"{n['repaired_lines']}")
    if res.get("warnings"):
        lines.append(f"{len(res['warnings'])} warnings reading the file, e.g. {res['warnings'][0]}")
    return "\n".join(lines)
