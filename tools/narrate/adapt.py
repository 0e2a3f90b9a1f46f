"""Adapting a retrieved corpus line to this product's facts (narrator §3.1, §3.3 knowledge relevance).

Narrator §3.1 asks each narration to incorporate the product's knowledge items; §3.3 scores
knowledge relevance (InfoSim) and diversity (InfoDiverse). The embedded narrator reuses real
copy of other products, so :func:`adapt_line` rewrites it token by token (:class:`Adapter`): a
span naming the source product becomes this product's name (or a pronoun after
:data:`MAX_NAME_MENTIONS` mentions); a span stating a whole source fact becomes an unused fact of
this product from the aspect the label calls for, of the same word class (:func:`word_class`);
any other specific token this product's facts do not support drops its whole clause.

:func:`product_facts` lists this product's facts with a salience prior measured on dev
(:data:`ASPECT_SALIENCE`); :class:`StoryState` tracks what a story already used so that facts are
said once (InfoDiverse) and :func:`fact_extras` picks unused facts to pad a short line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tools.core.models import Language, ProductInfo, count_words
from tools.narrate.corpus import Corpus, CorpusLine, CorpusProduct
from tools.narrate.grounding import Grounder
from tools.narrate.text import (
    ALNUM_RE,
    EN_FUNCTION_WORDS,
    balance_brackets,
    end_sentence,
    is_punct,
    join,
    tokens,
    zh_pos,
)
from tools.story.labels import aspect_allowed, aspects_for_label

_GENERIC_DF = 6  # a token used in the copy of at least this many other products is generic language
_FACTY_DF = 0.2  # … unless it is fact vocabulary used by fewer than this share of products
_PRONOUNS = {"zh": ["它", "这款"], "en": ["it", "this one"]}
NAME_ASPECT = "名称"  # pseudo-aspect of selling points stated by the product name
MAX_NAME_MENTIONS = 3  # name mentions per story before pronouns take over (tuned on dev.json: 5 → CIDEr 27.0, repetition 14.9 %; naming in every line up to 4 → 27.6, 19.6 %)
_DEMONSTRATIVES = {"这款", "这个", "这只", "这支", "这瓶", "这套", "这件", "这双", "这台", "这盒", "这罐", "这把", "我们", "the", "this", "our"}
_JOINERS = {"和", "与", "、", "及", "跟", "and", "&", ","}


@dataclass
class StoryState:
    """What a story has used so far (facts, source lines, words, name mentions, generic phrases)."""

    used_points: set[str] = field(default_factory=set)
    used_lines: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    name_mentions: int = 0
    facts: list[tuple[str, str, float]] = field(default_factory=list)
    grounder: Grounder | None = None
    label: str = ""
    used_fillers: set[str] = field(default_factory=set)
    long_name: str = ""


class Adapter:
    """Classifies the tokens of a retrieved line against the source and target products."""

    def __init__(self, corpus: Corpus, target: ProductInfo, language: Language, exclude: set[str]) -> None:
        self.c, self.t, self.lang = corpus, target, language
        df, prod_toks = corpus.product_df()
        self.df = df.copy()
        for p in exclude:  # leave-product-out: forget what the excluded products' copy taught
            for tok in prod_toks.get(p, ()):
                self.df[tok] -= 1
        self.n_products = max(1, len([p for p in prod_toks if p not in exclude]))
        self.t_blob = (target.name + "|" + "|".join(p for _, p in target.points())).lower()
        self.grounder = Grounder(target, language)

    def supported(self, tok: str) -> bool:
        return tok.lower() in self.t_blob

    def classify(self, tok: str, src: CorpusProduct | None) -> str:
        """K keep, N source-name span, F:<aspect> source fact span, U unsupported specific token."""
        if is_punct(tok) or tok.isspace():
            return "K"
        alnum = bool(ALNUM_RE.search(tok))
        if self.lang == "zh" and len(tok) == 1 and not alnum:
            return "K" if self.grounder.grounded(tok) else "U"
        if self.lang == "en" and tok.lower() in EN_FUNCTION_WORDS:
            return "K"
        if self.supported(tok) and (len(tok) >= 2 or self.lang == "en"):
            return "K"
        grounded = self.grounder.grounded(tok)
        df = self.df[tok]
        generic = df >= _GENERIC_DF and not (alnum and any(ch.isdigit() for ch in tok))
        if src is not None:
            low = tok.lower()
            if low in src.name.lower() and not (grounded and generic and df >= self.n_products * _FACTY_DF):
                return "N"
            for asp, pt in src.points:
                if low in pt.lower() and (len(tok) >= 2 or self.lang == "en"):
                    if grounded and generic and df >= self.n_products * _FACTY_DF:
                        return "K"
                    return "F:" + asp
        # grounding (issue 8 §4): a word that is not this product's, not vetted-generic and not a
        # function word is some other product's fact — its clause is dropped
        return "K" if grounded else "U"


def adapt_line(line: CorpusLine, ad: Adapter, state: StoryState, label: str, hint: str | None,
           sname: str, language: Language) -> tuple[str, int, list[str]] | None:
    """Rewrite ``line`` for the target product. Returns (text, facts inserted, facts used) or None."""
    src = ad.c.products.get(line.product)
    if line.trusted:
        return line.text, 0, []
    tags = [ad.classify(t, src) for t in line.toks]
    # merge spans: consecutive N/F tokens (also across joiners like 和/、) become one slot
    out: list[str] = []
    clause_bad = False
    clauses: list[tuple[list[str], bool]] = []
    facts_used: list[str] = []
    inserted = 0
    prefer = aspects_for_label(ad.t, label, hint)
    force_name = "产品推荐" in label.split("+")  # the product is introduced here: always by name
    last_name = -10  # index in ``out`` of the last name slot (two slots a token apart are one)
    i = 0
    toks = line.toks
    while i < len(toks):
        tag, tok = tags[i], toks[i]
        if tag in ("N",) or tag.startswith("F:"):
            j = i
            kinds = []
            while j < len(toks) and (tags[j] == "N" or tags[j].startswith("F:") or
                                     (toks[j] in _JOINERS and j + 1 < len(toks) and (tags[j + 1] == "N" or tags[j + 1].startswith("F:")))):
                kinds.append(tags[j])
                j += 1
            span = "".join(toks[i:j]) if language == "zh" else " ".join(toks[i:j])
            prev_tok = out[-1] if out else ""
            if any(k == "N" for k in kinds) and not any(k.startswith("F:") for k in kinds) and word_class(span, language) != "n":
                # a descriptive word of the source's name (滋润 in "…滋润霜") is a claim, not a name:
                # neither the name nor a pronoun can stand in for it
                clause_bad = True
                out.append(span)
                i = j
                continue
            if any(k == "N" for k in kinds) and not any(k.startswith("F:") for k in kinds):
                between = out[last_name + 1:] if last_name >= 0 else None
                if between is not None and len(between) <= 2 and not any(is_punct(t) or len(t) > 1 for t in between):
                    # "<name>纯<name>": the source spelled its name in two pieces; say it once
                    del out[last_name + 1:]
                    i = j
                    continue
                if force_name or state.name_mentions < MAX_NAME_MENTIONS or prev_tok in _DEMONSTRATIVES:
                    if prev_tok in _DEMONSTRATIVES:
                        out.pop()
                    rep = sname
                    state.name_mentions += 1
                else:
                    rep = _PRONOUNS[language][state.name_mentions % 2]
                out.append(rep)
                last_name = len(out) - 1
            else:
                src_aspects = [k[2:] for k in kinds if k.startswith("F:")]
                # only a span that states (most of) a whole source fact is swapped for a target fact;
                # a fragment of a fact would leave an ungrammatical or half-true clause behind
                whole = src is not None and any(
                    span.lower() in pt.lower() and len(span) >= 0.5 * len(pt) for _, pt in src.points)
                pt = _pick_point(ad.t, state, facts_used, src_aspects + prefer,
                                 word_class(span, language), language) if whole else None
                if pt is None:
                    clause_bad = True
                else:
                    facts_used.append(pt)
                    inserted += 1
                    out.append(pt)
            i = j
            continue
        if tag == "U":
            clause_bad = True
        out.append(tok)
        if is_punct(tok) and any(ch in "，。！？；,.!?;~…" for ch in tok):
            clauses.append((out, clause_bad))
            out, clause_bad = [], False
        i += 1
    if out:
        clauses.append((out, clause_bad))
    kept = [c for c, bad in clauses if not bad]
    # a lone word left over from dropped clauses ("Too,", "看，") says nothing: drop it
    def _substantial(c: list[str]) -> bool:
        content = [t for t in c if not is_punct(t)]
        return len(content) >= 2 if language == "en" else sum(len(t) for t in content) >= 3
    if len(kept) > 1 or (kept and len(clauses) > 1):
        kept = [c for c in kept if _substantial(c)]
    if not kept:
        return None
    text = end_sentence(balance_brackets(join([t for c in kept for t in c], language)), language)
    if language == "en" and text:
        text = text[0].upper() + text[1:]
    # drop leading connective punctuation left by dropped clauses
    text = text.lstrip("，,、；; ")
    if not text or count_words(text, language) == 0:
        return None
    return text, inserted, facts_used


#: Share of a seller's facts of each aspect that the human narrations of E-SyncVidStory dev
#: actually voice (measured on dev.json; a salience prior, not a rule).
ASPECT_SALIENCE: dict[str, float] = {
    "成分/材质": 0.28, "外观": 0.25, "活动优惠": 0.25, "功效": 0.22, "质地": 0.19, "质量/特性": 0.17,
    "相关产品": 0.0, "痛点": 0.10, "专利": 0.09, "适用人群/肤质": 0.09, "通用卖点": 0.07, "售后服务": 0.07,
    "生产工艺": 0.07, "鉴定/认证": 0.03, "品牌故事": 0.05, NAME_ASPECT: 0.42,
}


def _bigrams(s: str) -> set[str]:
    s = re.sub(r"\s+", "", s.lower())
    return {s[i : i + 2] for i in range(len(s) - 1)} or {s}


def product_facts(product: ProductInfo, language: Language, sname: str) -> list[tuple[str, str, float]]:
    """(aspect, point, salience) for every fact, plus the selling points the product *name* states
    (zh: jieba words of ≥ 2 characters outside the short name, e.g. 保湿 in 隔离霜…保湿提亮).

    Salience: the aspect prior × 2.5 when the point is echoed by the name (42 % vs 16 % voiced
    on dev) × a length factor (short points are voiced twice as often as long ones).
    """
    out: list[tuple[str, str, float]] = []
    name_bg = _bigrams(product.name)
    seen: set[str] = set()
    for a, p in product.points():
        if p in seen or not p.strip():
            continue
        seen.add(p)
        base = ASPECT_SALIENCE.get(a, 0.15)
        b = _bigrams(p)
        in_name = len(b & name_bg) / len(b) >= 0.5
        L = count_words(p, language)
        lf = 2.0 if L <= (3 if language == "zh" else 1) else (1.0 if L <= (8 if language == "zh" else 4) else 0.5)
        out.append((a, p, base * (2.5 if in_name else 1.0) * lf))
    if language == "zh":
        for t in tokens(product.name, "zh"):
            if len(t) >= 2 and not ALNUM_RE.search(t) and t not in sname and t not in seen:
                seen.add(t)
                out.append((NAME_ASPECT, t, ASPECT_SALIENCE[NAME_ASPECT]))
    return out


def _ranked(state: StoryState, aspects: Sequence[str], taken: Sequence[str]) -> list[str]:
    """Unused facts, those of the wanted aspects first (in the given order), each group by salience."""
    rank = {a: i for i, a in enumerate(dict.fromkeys(aspects))}
    cands = [(a, p, sal) for a, p, sal in state.facts
             if p not in state.used_points and p not in taken and "相关产品" not in a
             and aspect_allowed(a, state.label)]
    cands.sort(key=lambda x: (rank.get(x[0], len(rank)), -x[2]))
    return [p for _, p, _ in cands]


def word_class(text: str, language: Language) -> str:
    """Coarse part of speech of a phrase, from its last word: 'n' noun-like, 'v' verb, 'a' adjective.

    zh: jieba POS of the head (last) word (vn/an count as nouns too); en: always 'n' (facts
    there are noun phrases). Used so that a fact replaces a source fact of the same kind — a
    noun in a verb's slot gave lines like "来牙菌斑一下"."""
    if language != "zh":
        return "n"
    toks = [t for t in tokens(text, "zh") if not is_punct(t)]
    if not toks:
        return "x"
    pos = zh_pos(toks[-1])
    if pos in ("vn", "an") or pos[0] in "nrm" or ALNUM_RE.search(toks[-1]):
        return "n"
    return pos[0] if pos[0] in "va" else "x"


def _compatible(slot: str, fact: str) -> bool:
    return slot == "x" or fact == "x" or slot == fact


def _pick_point(product: ProductInfo, state: StoryState, taken: list[str], aspects: Sequence[str],
                slot_class: str = "x", language: Language = "zh") -> str | None:
    """The most salient unused fact of ``product`` from the first listed aspect that has one,
    of the same word class as the slot it fills (:func:`word_class`)."""
    wanted = set(aspects)
    for p in _ranked(state, list(aspects), taken):
        asp = next(a for a, q, _ in state.facts if q == p)
        if asp in wanted and len(p) <= 20 and _compatible(slot_class, word_class(p, language)):
            return p
    return None


def fact_extras(product: ProductInfo, state: StoryState, label: str, hint: str | None, taken: Sequence[str]) -> list[str]:
    """Unused facts for padding a short line: label-relevant aspects (and name claims) first, by salience."""
    prefer = aspects_for_label(product, label, hint) + [NAME_ASPECT]
    pref = _ranked(state, prefer, taken)
    wanted = set(prefer)
    first = [p for p in pref if next(a for a, q, _ in state.facts if q == p) in wanted]
    rest = sorted([p for p in pref if p not in first],
                  key=lambda p: -next(s for _, q, s in state.facts if q == p))
    return first + rest
