"""Script labels: AdReel's one label vocabulary and its label-sequence models.

The 12 script labels of E-SyncVidStory (narrator §3.1 storyline, App. A.4 definitions) are
:data:`tools.core.models.SCRIPT_LABELS`. Everything else AdReel knows about them lives in one data
file, ``prompts/labels.yaml`` (read only by :func:`prompts.load_label_file`), and is served from
here:

* **Vocabulary** (:func:`vocabulary`): per label its English gloss, definitions, the product
  aspects it talks about, the aspect names that call for it, aspects reserved to it, and the chat
  words (zh and en) that name it.
* **Tables on it**: :func:`label_for_aspect` (storyline: which label talks about an aspect),
  :func:`aspects_for_label` (narrator: which of a product's aspects a label's line states),
  :func:`aspect_allowed` (a pain point is not sold as a benefit), :func:`label_from_words`
  (chat edits: "make line 2 a call to action"), :func:`check_label`.
* **Label-sequence models**, both learned from labelled videos read by one loader,
  :func:`label_sequences`:

  - :class:`LabelModel` — class-balanced naive Bayes over relative clip position (narrator §4.1
    "video clip positional encoding": late clips call to action, early ones recommend), the
    previous label and the clip length, decoded by Viterbi; the embedded narrator predicts
    missing labels with it, trained on its corpus with leave-product-out.
  - the first-order Markov model of the storyline solver — start, transition, end and
    position-bin counts (:func:`learn_label_stats`, shipped in ``tools/story/data/label_stats.json``,
    :func:`load_label_stats`), decoded by Viterbi (:func:`predict_labels`);
    :func:`evaluate_label_model` reports its accuracy held out by product.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tools.core.errors import InternalError, ToolInputError
from tools.core.models import SCRIPT_LABELS, ProductInfo
from tools.core.models import check_label as check_label  # re-exported: the vocabulary check lives in core

#: The label of an aspect that no label's cues name (and of a beat with no aspect).
FALLBACK_LABEL = "其他/通用卖点"

# --------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class LabelInfo:
    """One script label as ``prompts/labels.yaml`` describes it (field meanings: that file's header)."""

    zh: str
    en: str
    definition: str
    definition_en: str
    aspects: tuple[str, ...]
    aspect_cues: tuple[str, ...]
    reserved_aspects: tuple[str, ...]
    needs_facts: bool
    words_zh: tuple[str, ...]
    words_en: tuple[str, ...]


@dataclass(frozen=True)
class LabelVocabulary:
    """The 12 labels (in SCRIPT_LABELS order) and the orders in which first-match tables try them."""

    labels: dict[str, LabelInfo]
    aspect_cue_order: tuple[str, ...]
    word_order: tuple[str, ...]


def _strs(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise InternalError(f"prompts/labels.yaml: {where} must be a list of non-empty strings, got {raw!r}")
    return tuple(raw)


@lru_cache(maxsize=1)
def vocabulary() -> LabelVocabulary:
    """The label vocabulary, built once from ``prompts/labels.yaml``."""
    from prompts import load_label_file

    data = load_label_file()
    labels: dict[str, LabelInfo] = {}
    for raw in data["labels"]:
        name = raw["zh"]
        words = raw.get("words") or {}
        labels[name] = LabelInfo(
            zh=name, en=raw["en"], definition=raw["definition"], definition_en=raw["definition_en"],
            aspects=_strs(raw.get("aspects"), f"{name}.aspects"),
            aspect_cues=_strs(raw.get("aspect_cues"), f"{name}.aspect_cues"),
            reserved_aspects=_strs(raw.get("reserved_aspects"), f"{name}.reserved_aspects"),
            needs_facts=bool(raw.get("needs_facts", False)),
            words_zh=_strs(words.get("zh"), f"{name}.words.zh"), words_en=_strs(words.get("en"), f"{name}.words.en"))
    cue_order = _strs(data.get("aspect_cue_order"), "aspect_cue_order")
    word_order = _strs(data.get("word_order"), "word_order")
    missing = [lab for lab, info in labels.items() if info.aspect_cues and lab not in cue_order]
    missing += [lab for lab in SCRIPT_LABELS if lab not in word_order]
    if missing:
        raise InternalError(f"prompts/labels.yaml: labels {missing} are missing from aspect_cue_order / word_order")
    return LabelVocabulary(labels=labels, aspect_cue_order=cue_order, word_order=word_order)




# --------------------------------------------------------------------------- tables on the vocabulary


@lru_cache(maxsize=1)
def _aspect_cue_table() -> tuple[tuple[tuple[str, ...], str], ...]:
    v = vocabulary()
    return tuple((v.labels[lab].aspect_cues, lab) for lab in v.aspect_cue_order)


def label_for_aspect(aspect: str) -> str:
    """The script label that talks about ``aspect`` (其他/通用卖点 when nothing matches)."""
    a = aspect.lower()
    for keys, label in _aspect_cue_table():
        if any(k in a for k in keys):
            return label
    return FALLBACK_LABEL


@lru_cache(maxsize=1)
def _word_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    v = vocabulary()
    out = []
    for lab in v.word_order:
        info = v.labels[lab]
        words = info.words_zh + info.words_en
        if words:
            out.append((re.compile("|".join(re.escape(w) for w in words), re.I), lab))
    return tuple(out)


def label_from_words(text: str) -> str | None:
    """The label a chat text names by one of its words ("call to action", 痛点 …), or None."""
    for pat, label in _word_patterns():
        if pat.search(text):
            return label
    return None


@lru_cache(maxsize=1)
def _label_aspects() -> dict[str, tuple[str, ...]]:
    return {lab: info.aspects for lab, info in vocabulary().labels.items()}


def aspects_for_label(product: ProductInfo, label: str, hint: str | None = None) -> list[str]:
    """Aspect names of ``product`` that ``label`` (or the explicit ``hint``) calls for, best first."""
    names = [a.aspect for a in product.aspects]
    out: list[str] = []
    if hint:
        out += [a for a in names if a == hint] + [a for a in names if hint.lower() in a.lower() and a != hint]
    table = _label_aspects()
    for lab in label.split("+"):
        for kw in table.get(lab, ()):
            out += [a for a in names if kw.lower() in a.lower() and a not in out]
    return list(dict.fromkeys(out))


@lru_cache(maxsize=1)
def _reserved_groups() -> tuple[tuple[tuple[str, ...], frozenset[str]], ...]:
    """(keywords, labels) groups: labels listing the same reserved keywords share one group."""
    groups: dict[tuple[str, ...], set[str]] = {}
    for lab, info in vocabulary().labels.items():
        if info.reserved_aspects:
            groups.setdefault(info.reserved_aspects, set()).add(lab)
    return tuple((kws, frozenset(labs)) for kws, labs in groups.items())


def aspect_allowed(aspect: str, label: str) -> bool:
    """Whether facts of ``aspect`` may be spoken under ``label``: an aspect reserved to some labels
    (a pain point to 痛点铺垫; an offer to 引导购买, 其他/通用卖点) only under those; an empty label
    allows everything."""
    low = aspect.lower()
    parts = set(label.split("+")) if label else set()
    for kws, labels in _reserved_groups():
        if any(k in low for k in kws):
            return not parts or bool(parts & labels)
    return True


def labels_needing_facts() -> frozenset[str]:
    """Labels never predicted for a product without facts of their aspects (certificates, production)."""
    return frozenset(lab for lab, info in vocabulary().labels.items() if info.needs_facts)


# --------------------------------------------------------------------------- labelled training data


class LabelledClip(Protocol):
    """A clip of a labelled video (corpus lines of the narrator have these attributes)."""

    video: str
    clip: int
    n_clips: int
    label: str | None
    text: str


@dataclass(frozen=True)
class Clip:
    """A plain :class:`LabelledClip`."""

    video: str
    """Key of the video it belongs to."""
    clip: int
    """Position in the video's playing order (0-based)."""
    n_clips: int
    """Number of clips of the video."""
    label: str | None
    """Script label(s), '+'-joined; None = unlabelled."""
    text: str = ""
    """Narration."""


def esync_clips(videos: Iterable[Any]) -> list[Clip]:
    """The clips of E-SyncVidStory videos (:class:`tools.story.esync.EsyncVideo`) as labelled clips."""
    return [Clip(video=f"{k}:{v.id}", clip=i, n_clips=c.n_clips, label=c.label, text=c.text)
            for k, v in enumerate(videos) for i, c in enumerate(v.clips)]


def label_sequences(clips: Iterable[LabelledClip], complete: bool = False) -> list[list[LabelledClip]]:
    """Labelled clips grouped by video (videos in order of first appearance), each video's clips in
    playing order: the one reader of training data for both label models.

    ``complete=False``: the labelled clips of each video (unlabelled ones and clips without a
    video are skipped). ``complete=True``: only videos whose every clip is labelled, whole.
    """
    by_video: dict[str, list[LabelledClip]] = defaultdict(list)
    for c in clips:
        if complete or (c.label and c.video):
            by_video[c.video].append(c)
    out = []
    for vl in by_video.values():
        if complete and not all(c.label for c in vl):
            continue
        vl.sort(key=lambda x: x.clip)
        out.append(vl)
    return out


# --------------------------------------------------------------------------- naive-Bayes label model (narrator)


class LabelModel:
    """Naive-Bayes script-label predictor from relative position, previous label and clip length.

    Learned from labelled videos (:func:`label_sequences`; narrator §4.1 motivates relative
    position: late clips call to action, early ones recommend). Multi-labels count 1/k for each part.

    ``prior_weight`` scales the class prior. The default 0 is class-balanced naive Bayes: with
    the full prior (1) 63 % of dev clips were labelled 产品功效 (humans: 26 %), a monotone
    storyline. Measured on dev.json, predicted labels, leave-product-out: prior 1 → exact label
    accuracy 30.6 %, total-variation distance to the human label distribution 0.34, narration
    CIDEr-D 16.3; prior 0 → 28.8 %, 0.21, 21.6.
    """

    POS_BINS = 5
    LEN_BINS = (10, 20, 30, 45)

    def __init__(self, lines: Iterable[LabelledClip], alpha: float = 1.0, prior_weight: float = 0.0) -> None:
        self.alpha = alpha
        self.prior_weight = prior_weight
        self.prior: Counter = Counter()
        self.pos: dict[str, Counter] = defaultdict(Counter)
        self.prev: dict[str, Counter] = defaultdict(Counter)
        self.len: dict[str, Counter] = defaultdict(Counter)
        for vl in label_sequences(lines):
            prev = "<s>"
            for ln in vl:
                parts = ln.label.split("+")  # type: ignore[union-attr]
                w = 1.0 / len(parts)
                rel = ln.clip / max(ln.n_clips - 1, 1)
                L = len(re.sub(r"\s+", "", ln.text))
                for p in parts:
                    self.prior[p] += w
                    self.pos[p][self._pbin(rel)] += w
                    self.prev[p][prev] += w
                    self.len[p][self._lbin(L)] += w
                prev = parts[0]

    def _pbin(self, rel: float) -> int:
        # the first and the last clip are bins of their own (47 % of dev videos end on 引导购买)
        if rel <= 0.0:
            return 0
        if rel >= 1.0:
            return self.POS_BINS - 1
        return 1 + min(int(rel * (self.POS_BINS - 2)), self.POS_BINS - 3)

    def _lbin(self, n: int) -> int:
        return sum(n > b for b in self.LEN_BINS)

    def scores(self, rel: float, prev: str, length: int, allowed: Sequence[str] = SCRIPT_LABELS) -> dict[str, float]:
        tot = sum(self.prior.values()) or 1.0
        a = self.alpha
        out = {}
        for lab in allowed:
            c = self.prior[lab]
            s = self.prior_weight * math.log((c + a) / (tot + a * len(SCRIPT_LABELS)))
            s += math.log((self.pos[lab][self._pbin(rel)] + a) / (c + a * self.POS_BINS))
            s += math.log((self.prev[lab][prev] + a) / (c + a * (len(SCRIPT_LABELS) + 1)))
            s += math.log((self.len[lab][self._lbin(length)] + a) / (c + a * (len(self.LEN_BINS) + 1)))
            out[lab] = s
        return out

    def predict(self, beats: Sequence[tuple[float, int]], product: ProductInfo | None = None) -> list[str]:
        """The most probable label sequence for (rel_pos, target length) beats (Viterbi over the
        previous-label factor, so that a run of 产品功效 can still end on a call to action).
        Labels that need facts (:func:`labels_needing_facts`) the product lacks are masked out."""
        needs = labels_needing_facts()
        allowed = [lab for lab in SCRIPT_LABELS
                   if lab not in needs or (product is not None and aspects_for_label(product, lab))]
        if not beats:
            return []
        # delta[lab] = best log-score of a prefix ending in lab; back[i][lab] = its predecessor
        delta = self.scores(beats[0][0], "<s>", beats[0][1], allowed)
        back: list[dict[str, str]] = []
        for rel, length in beats[1:]:
            new: dict[str, float] = {}
            ptr: dict[str, str] = {}
            for prev, sp in delta.items():
                sc = self.scores(rel, prev, length, allowed)
                for lab, v in sc.items():
                    if lab not in new or sp + v > new[lab]:
                        new[lab], ptr[lab] = sp + v, prev
            delta = new
            back.append(ptr)
        lab = max(delta, key=delta.get)  # type: ignore[arg-type]
        out = [lab]
        for ptr in reversed(back):
            lab = ptr[lab]
            out.append(lab)
        return out[::-1]

    def predict_marginal(self, beats: Sequence[tuple[float, int]], product: ProductInfo | None = None) -> list[str]:
        """Per beat, the label of highest posterior marginal (forward–backward over the same
        factors as :meth:`predict`): the decision that maximises the expected number of correct
        labels, where Viterbi maximises the chance that the whole sequence is right. On
        E-SyncVidStory dev (leave-product-out, prior 0) exact accuracy 28.8 → 29.7 %, and the
        predicted labels' distribution is closer to the human one (产品推荐 312 → 460 clips of
        2 008; humans 306 first labels and more in compounds)."""
        needs = labels_needing_facts()
        allowed = [lab for lab in SCRIPT_LABELS
                   if lab not in needs or (product is not None and aspects_for_label(product, lab))]
        if not beats:
            return []
        n = len(beats)

        def lse(xs: Sequence[float]) -> float:
            mx = max(xs)
            return mx + math.log(sum(math.exp(x - mx) for x in xs))

        first = self.scores(beats[0][0], "<s>", beats[0][1], allowed)
        trans = [{p: self.scores(rel, p, length, allowed) for p in allowed} for rel, length in beats[1:]]
        fw = [first]
        for t in trans:
            fw.append({lab: lse([fw[-1][p] + t[p][lab] for p in allowed]) for lab in allowed})
        bw: list[dict[str, float]] = [{lab: 0.0 for lab in allowed}]
        for t in reversed(trans):
            bw.insert(0, {p: lse([t[p][lab] + bw[0][lab] for lab in allowed]) for p in allowed})
        return [max(allowed, key=lambda lab: fw[i][lab] + bw[i][lab]) for i in range(n)]


# --------------------------------------------------------------------------- Markov label model (storyline solver)

N_POS_BINS = 5
LABEL_STATS_PATH = Path(__file__).resolve().parent / "data" / "label_stats.json"


def first_label(label: str) -> str:
    """The first component of a '+'-joined label."""
    return label.split("+")[0]


def pos_bin(k: int, n: int) -> int:
    """Relative-position bin of clip ``k`` of ``n`` (``N_POS_BINS`` equal bins of [0, 1])."""
    r = 0.0 if n <= 1 else k / (n - 1)
    return min(N_POS_BINS - 1, int(r * N_POS_BINS))


def split_by_product(videos: list[Any], test_frac: float = 0.2, seed: int = 0) -> tuple[list[Any], list[Any]]:
    """Deterministic split by product name (the 名称 line): a product is wholly train or test."""
    train, test = [], []
    for v in videos:
        h = int(hashlib.sha256(f"{seed}:{v.product.name}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (test if h < test_frac else train).append(v)
    return train, test


def learn_label_stats(videos: Iterable[Any]) -> dict[str, Any]:
    """Start, transition and position-bin label counts (first component of compound labels) of the
    E-SyncVidStory videos whose every clip is labelled."""
    L = list(SCRIPT_LABELS)
    ix = {l: i for i, l in enumerate(L)}
    start = np.zeros(len(L))
    trans = np.zeros((len(L), len(L)))
    pos = np.zeros((N_POS_BINS, len(L)))
    end = np.zeros(len(L))
    n = 0
    for seq in label_sequences(esync_clips(videos), complete=True):
        labs = [first_label(c.label) for c in seq]  # type: ignore[arg-type]
        n += 1
        start[ix[labs[0]]] += 1
        end[ix[labs[-1]]] += 1
        for a, b in zip(labs, labs[1:]):
            trans[ix[a], ix[b]] += 1
        for k, l in enumerate(labs):
            pos[pos_bin(k, len(labs)), ix[l]] += 1
    return {"labels": L, "n_videos": n, "start": start.tolist(), "end": end.tolist(), "trans": trans.tolist(),
            "pos": pos.tolist(), "n_pos_bins": N_POS_BINS,
            "note": "counts from E-SyncVidStory dev.json (first component of compound labels); see tools/story/labels.py"}


@lru_cache(maxsize=1)
def load_label_stats(path: str | None = None) -> dict[str, Any]:
    """The shipped label statistics (tools/story/data/label_stats.json)."""
    p = Path(path) if path else LABEL_STATS_PATH
    if not p.is_file():
        raise ToolInputError(f"label statistics file missing: {p}", hint="rebuild it with `python -m tools.story.labels DEV.json --learn`")
    return json.loads(p.read_text(encoding="utf-8"))


def predict_labels(n: int, stats: dict[str, Any], pos_weight: float = 1.0, end_weight: float = 1.0,
                   avoid_repeat: float = 0.0, emission: np.ndarray | None = None) -> list[str]:
    """Viterbi decode of the most likely label sequence of length n under the Markov model:
    log P(l₁) + Σ log P(lₜ | lₜ₋₁) + pos_weight · Σ log P(lₜ | position bin) + end_weight · log P(end | lₙ)
    (+ Σ emission[t, lₜ]: what beat t's shot supports, an n × labels array of log-scores)."""
    if n <= 0:
        return []
    L = stats["labels"]
    start = np.log((np.asarray(stats["start"]) + 1) / (np.sum(stats["start"]) + len(L)))
    tr = np.asarray(stats["trans"]) + 1
    tr = np.log(tr / tr.sum(axis=1, keepdims=True))
    if avoid_repeat:
        tr = tr - avoid_repeat * np.eye(len(L))
    pos = np.asarray(stats["pos"]) + 1
    pos = np.log(pos / pos.sum(axis=1, keepdims=True))
    end = np.log((np.asarray(stats["end"]) + 1) / (np.sum(stats["end"]) + len(L)))
    em = np.zeros((n, len(L))) if emission is None else np.asarray(emission, float)
    if em.shape != (n, len(L)):
        raise ValueError(f"emission must be {n} × {len(L)}, got {em.shape}")
    score = start + pos_weight * pos[pos_bin(0, n)] + em[0]
    back = []
    for k in range(1, n):
        cand = score[:, None] + tr
        back.append(np.argmax(cand, axis=0))
        score = cand.max(axis=0) + pos_weight * pos[pos_bin(k, n)] + em[k]
    score = score + end_weight * end
    last = int(np.argmax(score))
    seq = [last]
    for bp in reversed(back):
        seq.append(int(bp[seq[-1]]))
    return [L[i] for i in seq[::-1]]


def evaluate_label_model(dev_path: str | Path, test_frac: float = 0.2, seed: int = 0, **kw: float) -> dict[str, float]:
    """Train on the products of one side of a by-product split, predict label sequences of the
    held-out products' videos (given their clip count), and report: clip accuracy (exact label),
    clip accuracy counting a prediction right when it is one component of a compound label,
    whole-sequence match, and the majority-label-per-position baseline."""
    from tools.story.esync import load_esync

    vids = load_esync(dev_path)
    train, test = split_by_product(vids, test_frac, seed)
    stats = learn_label_stats(train)
    pos = np.asarray(stats["pos"])
    tot = exact = comp = seqs = base = 0
    for v in test:
        gt = [c.label or "" for c in v.clips]
        pred = predict_labels(len(gt), stats, **kw)
        ok = [p == g for p, g in zip(pred, gt)]
        exact += sum(ok)
        comp += sum(p in g.split("+") for p, g in zip(pred, gt))
        seqs += all(ok)
        tot += len(gt)
        bl = [stats["labels"][int(np.argmax(pos[pos_bin(k, len(gt))]))] for k in range(len(gt))]
        base += sum(b == g for b, g in zip(bl, gt))
    return {"n_train_videos": len(train), "n_test_videos": len(test),
            "n_test_products": len({v.product.name for v in test}),
            "clip_accuracy": exact / max(1, tot), "clip_accuracy_component": comp / max(1, tot),
            "sequence_match": seqs / max(1, len(test)), "baseline_position_majority": base / max(1, tot), "n_test_clips": tot}


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import argparse

    ap = argparse.ArgumentParser(description="learn / evaluate the storyline solver's script-label model")
    ap.add_argument("dev", help="path to E-SyncVidStory dev.json")
    ap.add_argument("--learn", action="store_true", help=f"write {LABEL_STATS_PATH}")
    a = ap.parse_args()
    print(json.dumps(evaluate_label_model(a.dev), ensure_ascii=False, indent=1))
    if a.learn:
        from tools.story.esync import load_esync

        LABEL_STATS_PATH.parent.mkdir(parents=True, exist_ok=True)
        LABEL_STATS_PATH.write_text(json.dumps(learn_label_stats(load_esync(a.dev)), ensure_ascii=False), encoding="utf-8")
        print("wrote", LABEL_STATS_PATH)
