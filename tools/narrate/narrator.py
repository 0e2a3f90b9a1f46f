"""Embedded narrator: knowledge-grounded, script-labelled, length-exact narration without a model server.

Method (the offline counterpart of VideoNarrator, narrator §4; task of narrator §3.1). This
module holds the tool (``narrate_storyline``), its input/output models and the pipeline
(:class:`EmbeddedNarrator`); each step lives in its own module:

1. **Labels** (:mod:`tools.story.labels`). Each beat carries a script label (one of the 12,
   '+'-joinable). When a beat has none, :class:`~tools.story.labels.LabelModel` predicts it from
   the clip's relative position (narrator §4.1 "relative clip position"), the previous label and
   the clip length; labels whose facts the product lacks are masked out.
2. **Frames** (:mod:`tools.narrate.frames`, :mod:`tools.narrate.templates`). Sentences of real ad
   copy (for zh the E-SyncVidStory dev split, for en the Magento Luma catalogue; a user may add
   copy of their own) become frames: the source product's name and whole fact phrases found in
   them become typed slots (name; fact of an aspect group and phrase class). Hand-written
   templates by label and fact type are frames too.
3. **Adaptation** (:mod:`tools.narrate.adapt`). A frame whose other words are not generic or this
   product's is discarded; slots take whole facts of this product of the same type; the grammar
   guard (:mod:`tools.narrate.guard`) rejects fillings that break simple rules and grounding
   (:mod:`tools.narrate.grounding`) rejects any word this product's facts do not support.
4. **Exact length by choice** (:func:`tools.narrate.adapt.compose`). A line is one sentence or a
   sentence followed by one or two complete sentences (frames, fact templates, generic
   sentences), chosen so that its length (characters without whitespace for zh, words for en)
   lies in [word_min, word_max]; no bare word is ever appended.
5. **Ranking**. Candidates are ranked by a character n-gram language model of the corpus
   (:mod:`tools.narrate.lm`; leave-product-out when benchmarking), the facts they state (unused
   ones, the label's aspects first, a beat's printed ``fact`` always), novelty against the story
   so far (repetition) and how close the source product and clip position are.
6. **Naming** (:mod:`tools.narrate.naming`). Where the script introduces the product (产品推荐)
   it is named by its fuller spoken name, elsewhere by its short name, after three mentions by a
   pronoun.

Constants marked "tuned on dev.json" were chosen on E-SyncVidStory dev with leave-product-out
retrieval; the numbers are development numbers, not held-out ones.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

from pydantic import Field, field_validator, model_validator

from tools.core.errors import ToolInputError
from tools.core.models import Language, Model, NarrationLine, ProductInfo, StoryBeat
from tools.core.registry import register
from tools.narrate.adapt import (
    ANSWER_ZH,
    MAX_GENERIC,
    MAX_NAME_MENTIONS,
    SHOWN_ZH,
    W_OVERLAP_ITEM,
    Sentence,
    StoryState,
    Target,
    arrange_line,
    check_sentence,
    compose,
    content_words,
    fill_to_range,
    sentence_candidates,
)
from tools.narrate.corpus import CORPUS_FILES, Corpus, default_corpus
from tools.narrate.frames import (Frame, frames_from_line, head_kind, name_words, parse_template, starts_with_verb, usage_counts,
                                  usage_of, words_zh)
from tools.narrate.grounding import Grounder
from tools.narrate.lm import CharLM
from tools.narrate.naming import long_name, short_name
from tools.narrate.templates import LABEL_GROUPS, fact_frames, generic_frames, kind_demo_frames, kind_pain_frames, template_frames
from tools.narrate.text import GENERIC_FILLERS, fit_line, tokens, zh_pos
from tools.story.labels import LabelModel, check_label

__all__ = [
    "CopyLine", "EmbeddedNarrator", "NarrateInput", "NarrateOutput", "NarrationBeat", "narrate_story_beats",
    "narrate_storyline",
    # re-exported for callers of the pre-split module (tests/benchmarks/build_corpus.py)
    "CORPUS_FILES", "tokens",
]

#: Corpus frames considered per beat (best prior first); tuned on dev.json for speed at no loss
#: (40: CIDEr −0.3; 80 → 120: no change, 1.4× slower).
TOP_FRAMES = 80
PRIOR_SIM = 2.0  # prior weight of the source product's similarity to this one (character n-gram TF-IDF cosine)
PRIOR_POS = 0.6  # prior cost per unit of relative-position distance between the source clip and this one
PRIOR_USER = 1000.0  # the user's own copy is said whenever it fits (it outweighs facts, naming, everything)
PRIOR_LABEL = 0.5  # prior bonus of a frame whose label is exactly the beat's (not only one part of it)
#: Name the product by its fuller name (brand + series + category noun) wherever it is named, not
#: only where it is introduced (tuned on dev.json: off, CIDEr-D 20.9 vs 20.2 on, less repetition).
LONG_NAME_EVERYWHERE = False
PRIOR_TEMPLATE = 0.3  # templates state facts in a sure frame (tuned on dev.json: −0.3 → 0.3: CIDEr-D 19.7 → 22.0)
#: A line the label's sentences fill with stock praise only ("效果很明显。用过的都说好。颜值和实力并存。")
#: says the product's facts of other kinds not said yet instead (all of dev.json, given labels, with the
#: kind naming: CIDEr-D 24.48 → 24.84, repetition 13.85 → 13.95 %; lines of stock praise only 398 → 244 of 2,008).
SAY_FACTS_FIRST = True
#: A corpus sentence that states nothing of this product (no fact, no name) reads as vague or out
#: of place next to the others ("一点一点的给你补回来" in a toothbrush ad, "绝对是一种体验"); the
#: blind rating found most failed lines held one.
PRIOR_VAGUE = -1.5  # tuned on dev.json (−0.6 → −1.5: CIDEr-D 22.8 → 23.7, and they read better)


# --------------------------------------------------------------------------- tool models


class NarrationBeat(Model):
    """One clip to narrate."""

    label: str | None = None
    """Script label (one of the 12, or several joined with '+'); None = predict it."""
    word_min: int = Field(ge=0)
    """Lowest allowed length (characters without whitespace for zh, words for en)."""
    word_max: int = Field(ge=1)
    """Highest allowed length."""
    aspect: str | None = None
    """Product aspect to talk about (an aspect name of the product's facts), if chosen."""
    rel_pos: float | None = Field(default=None, ge=0, le=1)
    """Relative position of the clip in the video in [0, 1] (narrator §4.1); None = from its index."""
    fact: str | None = None
    """A fact point printed on the clip's picture: the line must state it whole."""

    @field_validator("label")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        return None if v is None else check_label(v)

    @model_validator(mode="after")
    def _range(self) -> NarrationBeat:
        if self.word_min > self.word_max:
            raise ValueError(f"word_min {self.word_min} exceeds word_max {self.word_max}; swap them")
        return self


class CopyLine(Model):
    """A line of real ad copy supplied by the user (any language)."""

    text: str = Field(min_length=1)
    """The copy."""
    label: str | None = None
    """Its script label, if known (unlabelled copy is used for any label)."""
    product_name: str | None = None
    """The product it was written for; None = this product (its facts are then trusted)."""


class NarrateInput(Model):
    """Input of ``narrate_storyline``."""

    product: ProductInfo
    """The product and its facts."""
    beats: list[NarrationBeat] = Field(min_length=1)
    """Clips in playing order."""
    language: Language | None = None
    """Narration language; None = the product's language."""
    extra_copy: list[CopyLine] = Field(default_factory=list)
    """User-supplied ad copy added to the retrieval corpus."""
    use_default_corpus: bool = True
    """Retrieve from the corpus shipped with AdReel for this language."""
    exclude_products: list[str] = Field(default_factory=list)
    """Product names whose copy must not be retrieved (evaluation: leave-product-out)."""
    seed: int = 0
    """Seed for tie-breaking among equally good candidates."""


class NarrateOutput(Model):
    """Output of ``narrate_storyline``."""

    lines: list[NarrationLine]
    """One line per beat, in order; every line is inside its range."""
    provenance: list[str]
    """Per line: where its frame came from (``corpus:<video>#<clip>``, ``user:<i>`` or ``template``)."""
    predicted_labels: list[bool]
    """Per line: whether the label was predicted rather than given."""


# --------------------------------------------------------------------------- narrator


def corpus_frames(corpus: Corpus) -> list[Frame]:
    """Every frame of ``corpus`` (built once per corpus object and cached on it)."""
    cached = getattr(corpus, "_frames_cache", None)
    if cached is not None:
        return cached
    lang = corpus.language
    generic = Grounder(ProductInfo(name="_", language=lang), lang)
    nw = {name: name_words(name, lang, generic) for name in corpus.products}
    out: list[Frame] = []
    for ln in corpus.lines:
        prod = corpus.products.get(ln.product)
        points = prod.points if prod else []
        out += frames_from_line(ln.uid, ln.product, points, ln.label, ln.text, ln.rel_pos, lang, generic,
                                nw.get(ln.product, set()))
    corpus._frames_cache = out  # type: ignore[attr-defined]
    return out


def corpus_lm(corpus: Corpus) -> CharLM:
    """The character language model of ``corpus`` (built once per corpus object)."""
    cached = getattr(corpus, "_lm_cache", None)
    if cached is None:
        cached = CharLM([(ln.product, ln.text) for ln in corpus.lines], lower=corpus.language == "en")
        corpus._lm_cache = cached  # type: ignore[attr-defined]
    return cached


def corpus_usage(corpus: Corpus) -> dict:
    """How the corpus's copy uses each word (:func:`tools.narrate.frames.usage_counts`), built once."""
    cached = getattr(corpus, "_usage_cache", None)
    if cached is None:
        cached = usage_counts((ln.product, ln.toks) for ln in corpus.lines) if corpus.language == "zh" else {}
        corpus._usage_cache = cached  # type: ignore[attr-defined]
    return cached


def pain_lexicon(corpus: Corpus, exclude: Iterable[str] = ()) -> frozenset[str]:
    """One-word facts that the corpus's sellers list as pain points (干燥, 细纹, 暗沉), without the
    excluded products' lists."""
    ex = set(exclude)
    key = "_pain_cache"
    cache = getattr(corpus, key, None)
    if cache is None:
        cache = {}
        for name, prod in corpus.products.items():
            for a, p in prod.points:
                if "痛点" in a or "pain" in a.lower():
                    cache.setdefault(p.strip(), set()).add(name)
        setattr(corpus, key, cache)
    return frozenset(p for p, names in cache.items() if names - ex and len(p) <= 4)


class EmbeddedNarrator:
    """Frames + typed slot filling + length by choice + language-model ranking (module docstring)."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.language = corpus.language
        self._enc = None
        self._prod_vecs = None
        self._prod_names: list[str] = []

    def product_sim(self, target: ProductInfo) -> dict[str, float]:
        """Similarity of ``target`` to every corpus product (character n-gram TF-IDF over name + facts)."""
        from tools.narrate.metrics import LexicalEncoder

        if self._enc is None:
            self._prod_names = list(self.corpus.products)
            blobs = [self.corpus.products[n].blob for n in self._prod_names]
            self._enc = LexicalEncoder(blobs or ["x"])
            self._prod_vecs = self._enc.encode(blobs) if blobs else None
            corpus_frames(self.corpus)
            corpus_lm(self.corpus)
        if self._prod_vecs is None:
            return {}
        q = self._enc.encode([target.name + "|" + "|".join(p for _, p in target.points())])
        sims = (self._prod_vecs @ q.T).toarray().ravel()
        return dict(zip(self._prod_names, map(float, sims)))

    def narrate(self, product: ProductInfo, beats: Sequence[NarrationBeat], language: Language | None = None,
                extra_copy: Sequence[CopyLine] = (), exclude_products: Iterable[str] = (), seed: int = 0,
                use_corpus: bool = True) -> NarrateOutput:
        lang: Language = language or product.language
        if lang != self.language and use_corpus:
            raise ToolInputError(f"corpus language {self.language!r} does not match narration language {lang!r}",
                                 hint="load the corpus of the narration language")
        rng = random.Random(seed)
        exclude = set(exclude_products)
        psim = self.product_sim(product) if use_corpus else {}
        lm = corpus_lm(self.corpus)
        if exclude:
            lm = lm.excluding(exclude)
        sname, lname = short_name(product, lang), long_name(product, lang)
        trusted = [cl.text for cl in extra_copy if cl.product_name is None or cl.product_name == product.name]
        counts = corpus_usage(self.corpus)
        target = Target(product, lang, trusted, sname, lname, pain_lexicon(self.corpus, exclude),
                        usage=lambda w: usage_of(w, counts, exclude))
        frames: list[Frame] = []
        if use_corpus:
            frames = [f for f in corpus_frames(self.corpus) if f.product not in exclude and target.usable(f)]
        user_frames, kind_of = self._user_frames(extra_copy, product, lang, target)
        frames += user_frames
        n = len(beats)
        rels = [b.rel_pos if b.rel_pos is not None else (i / (n - 1) if n > 1 else 0.0) for i, b in enumerate(beats)]
        given = [b.label is not None for b in beats]
        labels = [b.label for b in beats]
        if not all(given):
            lm_labels = LabelModel([ln for ln in self.corpus.lines if ln.product not in exclude])
            pred = lm_labels.predict_marginal([(r, (b.word_min + b.word_max) // 2) for r, b in zip(rels, beats)], product)
            labels = [lab if lab is not None else p for lab, p in zip(labels, pred)]
        by_label: dict[str, list[Frame]] = defaultdict(list)
        for f in frames:
            by_label[f.label or "*"].append(f)
        state = StoryState()
        out_lines: list[NarrationLine] = []
        prov: list[str] = []
        for i, (b, lab, rel) in enumerate(zip(beats, labels, rels)):
            lab = lab or "产品推荐"
            text, src = self._one(b, lab, rel, by_label, psim, target, state, lm, rng, kind_of)
            out_lines.append(NarrationLine(beat_index=i, label=lab, text=text, language=lang,
                                           word_min=b.word_min, word_max=b.word_max, source="embedded"))
            prov.append(src)
        return NarrateOutput(lines=out_lines, provenance=prov, predicted_labels=[not g for g in given])

    def _user_frames(self, extra_copy: Sequence[CopyLine], product: ProductInfo, lang: Language,
                     target: Target) -> tuple[list[Frame], dict[str, str]]:
        """The user's own copy as frames: copy about this product is said as written (it is
        trusted); copy about another product is adapted like corpus copy."""
        frames: list[Frame] = []
        kinds: dict[str, str] = {}
        generic = Grounder(ProductInfo(name="_", language=lang), lang)
        for i, cl in enumerate(extra_copy):
            uid = f"user:{i}"
            if cl.product_name is None or cl.product_name == product.name:
                text = cl.text.strip()
                if text and text[-1] not in "。！？!?.~…":
                    text += "。" if lang == "zh" else "."
                f = parse_template(uid, text.replace("{", "(").replace("}", ")"), cl.label, lang)
                fs = [f]
            else:
                fs = [f for f in frames_from_line(uid, cl.product_name, [], cl.label, cl.text, None, lang, generic,
                                                  name_words(cl.product_name, lang, generic)) if target.usable(f)]
                for f in fs:
                    f.uid = uid
            for f in fs:
                kinds[f.uid] = "user"
            frames += fs
        return frames, kinds

    def _one(self, b: NarrationBeat, label: str, rel: float, by_label: dict[str, list[Frame]], psim: dict[str, float],
             target: Target, state: StoryState, lm: CharLM, rng: random.Random,
             kind_of: dict[str, str]) -> tuple[str, str]:
        lang = target.lang
        state.label = label
        parts = label.split("+")
        groups: list[str] = []
        if b.aspect:
            from tools.narrate.frames import aspect_group

            groups.append(aspect_group(b.aspect))
        for p in parts:
            groups += [g for g in LABEL_GROUPS.get(p, ()) if g not in groups]
        state.topic = frozenset(f.point for f in target.facts if b.aspect and f.aspect == b.aspect)
        state.topic_words = frozenset().union(*(content_words(p, lang) for p in state.topic))
        if not any(f.group in groups for f in target.facts) and "benefit" not in groups:
            groups.append("benefit")  # nothing of the label's kind to say: say what the product does
        required = b.fact.strip() if b.fact and b.fact.strip() else None
        if required:
            target.add_fact(b.aspect or "", required, groups[0] if groups else "benefit")
            state.used_points.discard(required)  # printed on this shot: said here even if said before
        introduce = "产品推荐" in parts
        want_name = introduce or state.name_mentions < MAX_NAME_MENTIONS
        pron = "它" if lang == "zh" else "it"
        if introduce:
            names = [target.long, pron]
        elif state.name_mentions < MAX_NAME_MENTIONS:
            names = [target.long if LONG_NAME_EVERYWHERE else target.short, pron]
        else:
            names = [pron, pron]

        # main sentences: frames of this label (exactly, then sharing a part), user copy, templates
        cands = list(by_label.get(label, []))
        exact = {id(f) for f in cands}
        for lab2, fs in by_label.items():
            if lab2 != label and lab2 != "*" and set(lab2.split("+")) & set(parts):
                cands += fs
        cands += by_label.get("*", [])

        def prior(f: Frame) -> float:
            if kind_of.get(f.uid) == "user":
                return PRIOR_USER
            pos = 0.0 if f.rel_pos is None else abs(f.rel_pos - rel)
            sim = psim.get(f.product, 0.0)
            vague = PRIOR_VAGUE if not f.n_fact_slots and not f.has_name else 0.0
            return (PRIOR_SIM * sim - PRIOR_POS * pos + (PRIOR_LABEL if id(f) in exact else 0.0)
                    + 0.2 * min(f.n_fact_slots, 2) + vague + 0.001 * rng.random())

        ranked = sorted(((f, prior(f)) for f in cands if f.uid not in state.used_frames), key=lambda x: -x[1])
        tpl_main = [(f, PRIOR_TEMPLATE) for f in template_frames(lang) if f.label in parts]
        if "产品试用" in parts and lang == "zh":
            tpl_main += [(f, PRIOR_TEMPLATE) for f in kind_demo_frames(target.kind)]  # "取适量，轻轻涂抹均匀。"
        if "痛点铺垫" in parts and not introduce and lang == "zh" and not any(f.group == "pain" for f in target.facts):
            tpl_main += [(f, PRIOR_TEMPLATE) for f in kind_pain_frames(target.kind)]  # "你是否也在为挑选洗发水而烦恼？"
        hi = b.word_max
        mains = sentence_candidates(ranked[:TOP_FRAMES] + tpl_main, target, state, label, names, lm, required, groups,
                                    kind_of, max_len=hi, src_sim=psim)
        # further sentences: no name, frames of the label's parts, templates of its parts, generic sentences
        ex_frames = [(f, p) for f, p in ranked[:TOP_FRAMES] if not f.has_name and f.sentences == 1]
        ex_frames += [(f, PRIOR_TEMPLATE) for f in template_frames(lang) if not f.has_name and (
            f.label in parts or any(getattr(x, "group", "") in groups for x in f.parts))]
        ex_frames += [(f, -0.2) for f in generic_frames(lang) if _has_referent(f, state, introduce)]
        extras = sentence_candidates(ex_frames, target, state, label, [pron, pron], lm, None, groups, kind_of, limit=2,
                                     max_len=hi, src_sim=psim)
        if required:
            with_fact = [m for m in mains if required in m.text]
            if not with_fact:
                with_fact = self._fact_sentences(required, target, state, label, names, lm, groups)
            mains = with_fact + [m for m in mains if required not in m.text]
            extras = extras + [e for e in self._fact_sentences(required, target, state, label, [pron, pron], lm, groups)]
        again: list[Sentence] = []
        gen: list[Sentence] = []
        line = compose(mains, extras, b.word_min, b.word_max, state, target, want_name, required, introduce)
        if line is None:  # no main sentence leads to the range: lines of further sentences only
            line = compose(extras, extras, b.word_min, b.word_max, state, target, want_name, required, introduce)
        if line is not None and SAY_FACTS_FIRST and not any(p.facts or p.names or p.demo for p in line.parts) \
                and not required and not introduce:
            # a line of stock praise only ("效果很明显。用过的都说好。颜值和实力并存。" in an effects shot):
            # the product's facts of other kinds not said yet come first
            wide0 = self._wide_sentences(target, state, label, parts, pron, lm, groups, False)
            if wide0:
                alt = fill_to_range(mains or extras, extras + wide0, b.word_min, b.word_max, state, target, want_name,
                                    required, introduce, max_generic=MAX_GENERIC)
                if alt is not None and any(p.facts for p in alt.parts):
                    line = alt
        if line is None:
            # a long shot, or a product with little left to say under this label: its facts may be
            # said again in other words (sellers repeat their key points), before generic padding
            again_state = StoryState(used_frames=set(state.used_frames), words=state.words, label=label,
                                     kind_mentions=state.kind_mentions)
            pool = tpl_main + ex_frames
            again = sentence_candidates([(f, p - 0.5) for f, p in pool if f.n_fact_slots], target,
                                        again_state, label, [pron, pron], lm, None, groups, kind_of, max_len=hi,
                                        src_sim=psim)
            line = compose(mains + again, extras + again, b.word_min, b.word_max, state, target, want_name, required,
                           introduce)
            # facts the label does not ask for (the material, in a long effects shot), each said once, then
            # (a long story that has said them all) said again, come before a run of stock praise
            # ("一定要试试。推荐给大家。性价比很高。…" is no line to post); each stage takes generic sentences
            # not said yet, then generic ones said again; before the last lifts the cap on stock sentences,
            # facts are said in the long-shot frames too ("…，是它的一大亮点。", LONG_SHOT_FACT_SENTENCES)
            wide: list[Sentence] = []
            wide_key: tuple[bool, bool] | None = None
            for said_again, cap, long_shot in ((False, MAX_GENERIC, False), (True, MAX_GENERIC, False),
                                               (False, MAX_GENERIC, True), (True, MAX_GENERIC, True), (True, None, True)):
                if line is not None:
                    break
                if (said_again, long_shot) != wide_key:
                    wide_key = (said_again, long_shot)
                    wide = self._wide_sentences(target, state, label, parts, pron, lm, groups, said_again, long_shot)
                for gen_state in (state, StoryState(kind_mentions=state.kind_mentions)):
                    if line is not None:
                        break
                    gen = sentence_candidates([(f, -0.2) for f in generic_frames(lang) if _has_referent(f, state, introduce)],
                                              target, gen_state, label,
                                              [pron, pron], lm, None, groups, kind_of, max_len=hi)
                    # an answer ("别担心，今天就来帮你解决。") opens no line: a pain shot of a product with no
                    # problem to set up starts on what the product does, never on a run of stock praise
                    heads = [m for m in (mains or again or extras or gen) if not ANSWER_ZH.search(m.text)]
                    if not any(m.facts or m.names or m.demo for m in heads):
                        # stock praise heads no line that says a fact (stock never comes before a claim): when
                        # the label's own sentences say nothing, the facts left may open it (dev bunk bed, eighth
                        # 外观设计 shot: "很好用。真香！值得一试。一定要试试。…" with 23 fact sentences unused)
                        heads = wide + heads
                    heads = heads or wide or gen
                    line = fill_to_range(heads, extras + again + wide + gen, b.word_min,
                                         b.word_max, state, target, want_name, required, introduce, max_generic=cap)
        if line is not None:
            text = line.text
            used: list[Sentence] = list(line.parts)
            prov = "+".join(_prov(p) for p in used)
        elif (rep := _repeat_fill([x for x in mains + extras + again + gen if check_sentence(x, target)
                                   and not ANSWER_ZH.search(x.text)],
                                  b.word_min, b.word_max, lang, state.words)) is not None:
            # a shot longer than everything there is to say: whole sentences said again, never padding
            text, used = rep
            prov = "+".join(_prov(p) for p in used)
        else:
            # last resort (a range no combination of whole sentences reaches): the old repair
            best = max((s for s in mains + extras if s.valid is not False and s.length <= hi),
                       key=lambda s: s.lm_lp / max(s.lm_n, 1), default=None)
            base = best.text if best is not None else ""
            text = fit_line(base, b.word_min, b.word_max, lang, extras=[], fillers=[])
            used = [best] if best is not None and best.text in text else []
            prov = "fallback"
        for p in used:
            state.used_frames.add(p.filled.frame.uid)
            state.used_points.update(p.facts)
        state.name_mentions += sum(1 for nm in {target.short, target.long} if nm and nm in text) and 1
        state.kind_mentions += any(p.demo for p in used)
        state.words |= content_words(text, lang) - target.name_words  # naming it again is no repetition
        state.stock |= {f for f in GENERIC_FILLERS[lang] if f in text}
        return text, prov

    def _wide_sentences(self, target: Target, state: StoryState, label: str, parts: Sequence[str], pron: str, lm: CharLM,
                        groups: Sequence[str], said_again: bool, long_shot: bool = False) -> list[Sentence]:
        """Sentences of the product's facts in any group but offers and pain points (not said yet, or
        all of them when ``said_again``), in the templates of their own group, for a long line.

        Not: "你看，萃取天然植物成分" (shows nothing), "今天要推荐的是…" mid-line (introduces nothing),
        "babycare，遮光防变质" (a name that says no kind of product is no subject of a bare predicate),
        "明基SW240显示器，尺寸和比例。", "潘婷…护发素，硬脂醇。", "…安瓶面膜，光滑。" (after the name only a
        predicate of two words or more), nor a template sentence said earlier in the story."""
        names = tuple(n for n in (target.short, target.long, pron) if n)
        out: list[Sentence] = []
        for f in target.facts:
            if (not said_again and f.point in state.used_points) or f.group in ("offer", "pain", "related") or f.cls == "x":
                continue
            for w in self._fact_sentences(f.point, target, state, label, [pron, pron], lm, groups, again=said_again,
                                          long_shot=long_shot):
                frame = w.filled.frame
                if f.group != "look" and re.search(r"^你看|一眼就能看出来", w.text):
                    continue
                if "一眼就能看出来" in w.text and re.search(r"隐藏|隐形|无痕", f.point):  # the look itself: sentence_candidates
                    continue  # seen at a glance: a colour or a design, never "隐藏的袋子" nor "塑身衣" (seeds 281/283)
                if _HIGHLIGHT_ZH.search(w.text) and (len(re.findall(r"[\u4e00-\u9fff]", f.point)) < 2
                                                     or head_kind(f.point) == "audience" or not f.cls.startswith("np")
                                                     or zh_pos(words_zh(f.point)[0]) in ("d", "ad")  # "直接成分", "依然透亮光采"
                                                     or starts_with_verb(f.point) or len(f.point) <= 3 and f.point.endswith("提取物")
                                                     or not (_FEATURE_HEAD_ZH.search(f.point)
                                                             or head_kind(f.point) in ("ingredient", "material", "tech")
                                                             or ("一大亮点" in w.text and SHOWN_ZH.search(f.point)))
                                                     or not (f.sure or f.group in ("look", "material"))):
                    # "521，是它的一大亮点", "大码男士，…": a number or an audience is no highlight; nor is a word
                    # that is not surely a thing ("爱了爱了，是它的一大亮点" was rejected by both raters of seed
                    # 269; "柔软，这一点真的很加分", "99.93%松，…", "旗舰店，…")
                    continue
                if frame.uid.startswith(("fact:", "factL:")) and (head_kind(f.point) == "product" or re.search(r"[和与及等]|产品$", f.point) or (
                        w.text.startswith(names) and (f.cls not in ("vp", "ap") or len(words_zh(f.point)) < 2
                                                      or not target.demo))):
                    continue
                if frame.label in ("产品推荐", "引导购买", "痛点铺垫") and frame.label not in parts:
                    continue
                if said_again and frame.uid in state.used_frames:
                    continue
                out.append(w)
        return out

    def _fact_sentences(self, fact: str, target: Target, state: StoryState, label: str, names: Sequence[str], lm: CharLM,
                        groups: Sequence[str], again: bool = False, long_shot: bool = False) -> list[Sentence]:
        """Template sentences of any label that state ``fact`` (a beat's printed fact); ``long_shot``:
        the long-shot fact sentences too."""
        own = next((f for f in target.facts if f.point == fact), None)
        if own is None:
            return []
        tpls = [(f, PRIOR_TEMPLATE) for f in template_frames(target.lang)
                if any(getattr(p, "group", None) == own.group for p in f.parts)]
        tpls += [(f, PRIOR_TEMPLATE - 0.5) for f in fact_frames(own.group, own.cls, target.lang)]
        if long_shot:
            tpls += [(f, PRIOR_TEMPLATE - 0.5) for f in fact_frames(own.group, own.cls, target.lang, long_shot=True)]
        facts_backup = target.facts
        target.facts = [own]  # only the printed fact may fill these
        try:
            # a printed fact is said whatever frames earlier shots used (each shot's printed fact needs one)
            fresh = StoryState(used_points=set() if again else state.used_points, words=state.words,
                               name_mentions=state.name_mentions, label=state.label, kind_mentions=state.kind_mentions)
            out = sentence_candidates(tpls, target, fresh, "", names, lm, fact, [own.group])
        finally:
            target.facts = facts_backup
        return [s for s in out if fact in s.text]


#: Sentences that call a fact a highlight: said of things only (:meth:`EmbeddedNarrator._wide_sentences`).
_HIGHLIGHT_ZH = re.compile(r"是它的一大亮点|这一点真的很加分")
#: What a highlight is: a feature by its head noun (a design, a structure, a technique …), an
#: ingredient, a material. Seeds 281/283 rejected "REACH法规，这一点真的很加分", "核心成分，…", "所有肌肤
#:类型，…", "耐老化耐高温性差，…".
_FEATURE_HEAD_ZH = re.compile(r"(?<!锁水)(设计|结构|技术|工艺|科技|配方|功能|材质|面料|接口|按键|模式|款式|造型|配色|刷头|刷毛|涂层|"
                              r"内胆|电机|芯|网|扣|带|袋|兜|口|把手|手柄|轮|灯|屏|垫|层|边)$")


def _has_referent(frame: Frame, state: StoryState, introduce: bool) -> bool:
    """Whether a stock sentence's 它 ("每天都离不开它。") points at something: the product named earlier in
    the story or in this line; not "是不是总被头痒问题困扰？其实解决起来并不难。每天都离不开它。" (seed 313)."""
    return introduce or state.name_mentions > 0 or state.kind_mentions > 0 or not any(
        isinstance(p, str) and "它" in p for p in frame.parts)


def _repeat_fill(pool: Sequence[Sentence], lo: int, hi: int, language: Language,
                 said: frozenset[str] | set[str] = frozenset()) -> tuple[str, list[Sentence]] | None:
    """A line for a shot longer than everything there is to say: each distinct sentence of the
    pool once (best first, those whose words the story has ``said`` last) while there is room, then
    the rest of the range by an unbounded subset sum over the pool's lengths (sentences said again,
    as few as possible); None when no sum lands in the range. Never padding."""
    pool = sorted({p.text: p for p in pool if p.length > 0}.values(),
                  key=lambda q: -(q.lm_lp / max(q.lm_n, 1) + q.score) + W_OVERLAP_ITEM * len(q.words & said) / max(len(q.words), 1))
    if not pool:
        return None
    shortest = min(p.length for p in pool)
    parts: list[Sentence] = []
    total = 0
    said: set[str] = set()
    named = False
    for p in pool:
        if total >= lo:
            break
        if set(p.facts) & said or (p.names and named):
            continue  # one fact, and one naming, per line ("它能美白。…它能美白。", "推荐这款X。这就是X。")
        if total + p.length <= hi - shortest or lo <= total + p.length <= hi:
            parts.append(p)
            total += p.length
            said |= set(p.facts)
            named = named or bool(p.names)
    # what is said again is what states no fact nor name (fact-free sentences), unless nothing else fits
    pool = [p for p in pool if not p.facts and not p.names] or pool
    lengths = sorted({p.length for p in pool})
    combo: dict[int, list[int]] = {0: []}
    for t in range(1, hi - total + 1):
        for n in lengths:
            prev = combo.get(t - n)
            if prev is not None and (t not in combo or len(prev) + 1 < len(combo[t])):
                combo[t] = prev + [n]
    rest = next((t for t in range(max(lo - total, 0), hi - total + 1) if t in combo), None)
    if rest is None:
        return None
    for n in combo[rest]:
        parts.append(next(q for q in pool if q.length == n))
    if not parts:
        return None
    parts = list(arrange_line(tuple(parts)))
    return ("".join if language == "zh" else " ".join)(p.text for p in parts), parts


def _prov(s: Sentence) -> str:
    uid = s.filled.frame.uid
    if s.kind == "user" or uid.startswith("user:"):
        return uid
    if s.kind in ("template", "generic"):
        return uid
    return "corpus:" + uid.rsplit("/", 1)[0]


@lru_cache(maxsize=4)
def _default_narrator(language: Language) -> EmbeddedNarrator:
    return EmbeddedNarrator(default_corpus(language))


@register("narrate_storyline")
def narrate_storyline(inp: NarrateInput) -> NarrateOutput:
    """Write one script-labelled, length-exact, fact-grounded narration line per beat (embedded narrator)."""
    lang: Language = inp.language or inp.product.language
    if inp.use_default_corpus:
        nar = _default_narrator(lang)
    else:
        nar = EmbeddedNarrator(Corpus(language=lang))
    return nar.narrate(inp.product, inp.beats, lang, inp.extra_copy, inp.exclude_products, inp.seed,
                       use_corpus=inp.use_default_corpus)


def narrate_story_beats(product: ProductInfo, beats: Sequence[StoryBeat], language: Language | None = None,
                        seed: int = 0) -> list[NarrationLine]:
    """Drop-in for the pipeline: narrate storyline beats (label, word range, aspect, printed fact) with the embedded narrator."""
    n = len(beats)
    nb = [NarrationBeat(label=b.label, word_min=b.word_min, word_max=max(b.word_max, 1), aspect=b.aspect, fact=b.fact,
                        rel_pos=(i / (n - 1) if n > 1 else 0.0)) for i, b in enumerate(beats)]
    out = narrate_storyline(NarrateInput(product=product, beats=nb, language=language, seed=seed))
    return [ln.model_copy(update={"beat_index": b.index}) for ln, b in zip(out.lines, beats)]

