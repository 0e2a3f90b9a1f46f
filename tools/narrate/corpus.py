"""The narration corpus: real ad copy with script labels, for retrieval (narrator §3.2).

Narrator §3.2 (E-SyncVidStory): advertising videos split into clips, each with a human narration
and a script label, plus the product's knowledge points. The embedded narrator retrieves lines of
such copy: for zh the E-SyncVidStory dev split (``tools/narrate/data/narration_corpus_zh.jsonl``),
for en a small corpus built from the Magento Luma sample catalogue (both built by
``tests/benchmarks/build_corpus.py``). A corpus holds its products (name + aspect facts) and
lines (label, text, tokens, clip position); :meth:`Corpus.product_df` gives the product document
frequency the adapter uses to tell generic words from facts.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from tools.core.errors import ToolInputError
from tools.core.models import Language
from tools.narrate.text import tokens

DATA_DIR = Path(__file__).resolve().parent / "data"
CORPUS_FILES: dict[str, Path] = {
    "zh": DATA_DIR / "narration_corpus_zh.jsonl",
    "en": DATA_DIR / "narration_corpus_en.jsonl",
}


@dataclass
class CorpusProduct:
    name: str
    points: list[tuple[str, str]]  # (aspect, point)
    blob: str = ""

    def __post_init__(self) -> None:
        self.blob = self.name + "|" + "|".join(p for _, p in self.points)


@dataclass
class CorpusLine:
    uid: str
    product: str
    label: str | None
    text: str
    toks: list[str]
    rel_pos: float | None = None
    clip: int = 0
    n_clips: int = 1
    video: str = ""
    trusted: bool = False  # user copy about this very product


@dataclass
class Corpus:
    language: Language
    products: dict[str, CorpusProduct] = field(default_factory=dict)
    lines: list[CorpusLine] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    _df: Counter | None = None
    _prod_toks: dict[str, set[str]] | None = None

    @classmethod
    def load(cls, path: str | Path, language: Language) -> Corpus:
        """Read a corpus JSONL (records of type meta / product / line)."""
        p = Path(path)
        if not p.is_file():
            raise ToolInputError(f"narration corpus not found: {str(p)!r}", hint="run `python tests/benchmarks/build_corpus.py` to build it")
        c = cls(language=language)
        order: list[str] = []
        for raw in p.read_text(encoding="utf-8").splitlines():
            if not raw.strip():
                continue
            r = json.loads(raw)
            if r["type"] == "meta":
                c.meta = r
            elif r["type"] == "product":
                c.products[r["name"]] = CorpusProduct(r["name"], [(a, pt) for a, pts in r["aspects"] for pt in pts])
                order.append(r["name"])
            else:
                prod = order[r["product"]] if isinstance(r["product"], int) else r["product"]
                c.lines.append(CorpusLine(uid=f"{r['video']}#{r['clip']}", product=prod, label=r.get("label"),
                                          text=r["text"], toks=r["toks"].split(" ") if r.get("toks") else tokens(r["text"], language),
                                          rel_pos=r.get("rel_pos"), clip=r["clip"], n_clips=r.get("n", 1), video=r["video"]))
        return c

    def product_df(self) -> tuple[Counter, dict[str, set[str]]]:
        """For each token, the number of products whose copy uses it; and each product's token set."""
        if self._df is None:
            prod_toks: dict[str, set[str]] = defaultdict(set)
            for ln in self.lines:
                prod_toks[ln.product].update(ln.toks)
            df: Counter = Counter()
            for s in prod_toks.values():
                df.update(s)
            self._df, self._prod_toks = df, dict(prod_toks)
        return self._df, self._prod_toks  # type: ignore[return-value]


@lru_cache(maxsize=4)
def default_corpus(language: Language) -> Corpus:
    """The corpus shipped with AdReel for ``language`` (cached)."""
    return Corpus.load(CORPUS_FILES[language], language)
