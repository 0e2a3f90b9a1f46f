"""Blind fluency rating of the embedded narrator (issue 14): make the sample, then score the ratings.

    .venv/bin/python tests/benchmarks/fluency_sample.py make  [--seed 14]   # writes fluency/sample.tsv + key.json
    .venv/bin/python tests/benchmarks/fluency_sample.py score                # reads fluency/ratings.tsv

The sample holds 60 zh narrator lines (E-SyncVidStory dev, given labels, leave-product-out: the
narrated product's copy is never retrieved), 40 en narrator lines (the 8 products of
``fluency/products_en.json``, written as a seller would, five beats each) and 20 human lines of
dev, shuffled together with the seed. ``sample.tsv`` shows only an id and the line; the source of
each id is in ``key.json``. Each rater reads ``sample.tsv`` alone and writes ``ratings_<rater>.tsv``
(id, ``y`` / ``n``: "a person would say this in an ad", a note for every ``n``), then ``score``
reports the yes-rate per source and rater, the share every rater accepted and the agreement.

The committed samples were made with the same code and each rated by two raters who saw only
``sample.tsv``: ``fluency/`` (seed 107) and ``fluency/seed109/`` were rated on the code they were
tuned with (the narrator was tuned on dev.json by reading the rejected lines of earlier seeds,
26–109); ``seed113``/``seed127``, ``seed131``/``seed137``, ``seed139``/``seed149`` and
``seed151``/``seed157`` are fresh seeds drawn after each round of fixes of the next session,
and ``seed163``/``seed167``, ``seed173``/``seed179``, ``seed181``/``seed191``, ``seed193``/``seed197``,
``seed199``/``seed211``, ``seed223``/``seed227``, ``seed229``/``seed233``, ``seed239``/``seed241``, ``seed251``/``seed257``, ``seed263``/``seed269``, ``seed271``/``seed277``, ``seed281``/``seed283`` ``seed293``/``seed307`` (four raters: the first pair's second answered late, so two more were asked; all four are kept), ``seed311``/``seed313`` and ``seed317``/``seed331`` those of the rounds after it (``key.json`` holds the
lines, so each folder records the code it rated). The sampled products
are dev products, so every rate is a development number, not a held-out one. Score a folder
with ``score --dir tests/benchmarks/fluency/seed151``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent / "fluency"

#: The storyline every English product is narrated with: (label, word_min, word_max).
EN_STORY = [("产品推荐", 6, 12), ("痛点铺垫", 5, 11), ("质地/成分/材质", 6, 12), ("产品功效", 9, 15), ("引导购买", 5, 11)]


def make(esync: str, seed: int, here: Path = HERE) -> None:
    from tools.core.models import ProductInfo
    from tools.narrate.corpus import default_corpus
    from tools.narrate.narrator import EmbeddedNarrator, NarrateInput, NarrationBeat, narrate_storyline
    from tools.story.esync import load_esync

    rng = random.Random(seed)
    videos = load_esync(esync)
    picked = rng.sample(videos, 60)
    nar = EmbeddedNarrator(default_corpus("zh"))
    items: list[dict] = []
    for v in picked:  # one line per video: 60 products' stories, a random clip of each
        beats = [NarrationBeat(label=c.label, word_min=c.word_min, word_max=c.word_max, rel_pos=c.rel_pos) for c in v.clips]
        res = nar.narrate(v.product, beats, "zh", exclude_products=[v.product.name], seed=seed)
        k = rng.randrange(len(res.lines))
        items.append({"source": "narrator-zh", "text": res.lines[k].text, "video": v.id, "clip": k, "label": res.lines[k].label})
    for p in json.loads((HERE / "products_en.json").read_text(encoding="utf-8")):
        prod = ProductInfo.model_validate(p)
        out = narrate_storyline(NarrateInput(product=prod, beats=[NarrationBeat(label=lab, word_min=a, word_max=b)
                                                                  for lab, a, b in EN_STORY], seed=seed))
        items += [{"source": "narrator-en", "text": ln.text, "product": prod.name, "label": ln.label} for ln in out.lines]
    others = [v for v in videos if v not in picked]
    for v in rng.sample(others, 20):
        c = rng.choice([c for c in v.clips if c.text])
        items.append({"source": "human-zh", "text": c.text, "video": v.id, "clip": c.index, "label": c.label})
    rng.shuffle(items)
    for i, it in enumerate(items, 1):
        it["id"] = f"L{i:03d}"
    here.mkdir(parents=True, exist_ok=True)
    (here / "sample.tsv").write_text("id\tline\n" + "".join(f"{it['id']}\t{it['text']}\n" for it in items), encoding="utf-8")
    (here / "key.json").write_text(json.dumps({"seed": seed, "items": items}, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {len(items)} lines to {here / 'sample.tsv'} (sources in key.json)")


def score(here: Path = HERE) -> dict[str, dict[str, dict[str, float]]]:
    """Yes-rate per source for every rater (``ratings*.tsv``: one file per rater) and the share
    of lines every rater accepted."""
    if not (here / "key.json").is_file():
        raise SystemExit(f"no key.json in {here}: make a sample there first (fluency_sample.py make --seed S --dir {here})")
    key = json.loads((here / "key.json").read_text(encoding="utf-8"))
    src = {it["id"]: it["source"] for it in key["items"]}
    raters: dict[str, dict[str, bool]] = {}
    for path in sorted(here.glob("ratings*.tsv")):
        ratings = {}
        for row in path.read_text(encoding="utf-8").splitlines()[1:]:
            if row.strip():
                rid, val = row.split("\t")[:2]
                ratings[rid] = val.strip().lower().startswith("y")
        raters[path.stem] = ratings
    raters["all raters"] = {i: all(r.get(i, False) for r in raters.values()) for i in src} if raters else {}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, ratings in raters.items():
        out[name] = {}
        for s in sorted(set(src.values())):
            ids = [i for i, v in src.items() if v == s and i in ratings]
            yes = sum(ratings[i] for i in ids)
            out[name][s] = {"rated": len(ids), "yes": yes, "rate": 100 * yes / max(len(ids), 1)}
            print(f"{name:<12} {s:<12} {yes:>3}/{len(ids):<3} = {out[name][s]['rate']:.0f} % 'a person would say this in an ad'")
    named = [r for r in raters if r != "all raters"]
    if len(named) >= 2:
        a, b = raters[named[0]], raters[named[1]]
        agree = sum(a.get(i) == b.get(i) for i in src)
        print(f"agreement of {named[0]} and {named[1]}: {agree}/{len(src)}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmd", choices=["make", "score"])
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--esync", default=str(ROOT.parent / "shared/data/esync/dev.json"))
    ap.add_argument("--dir", default=str(HERE), help="folder of sample.tsv, key.json and ratings*.tsv")
    a = ap.parse_args(argv)
    if a.cmd == "make":
        make(a.esync, a.seed, Path(a.dir))
    else:
        score(Path(a.dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
