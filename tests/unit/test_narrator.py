"""Embedded narrator: exact length, label vocabulary, grounding in this product's facts, prompts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.core.errors import ToolInputError
from tools.core.models import SCRIPT_LABELS, AspectPoints, ProductInfo, count_words
from tools.narrate.naming import short_name
from tools.narrate.narrator import NarrateInput, NarrationBeat, narrate_storyline
from tools.narrate.text import fit_line, validate_line

ZH_TEXT = st.text(alphabet=st.sampled_from(list("这款面霜真的很好用，质地轻薄。保湿！吸收快 ab12")), min_size=0, max_size=80)


@settings(max_examples=150, deadline=None)
@given(text=ZH_TEXT, lo=st.integers(0, 40), width=st.integers(0, 8), lang=st.sampled_from(["zh", "en"]))
def test_fit_line_always_lands_in_range(text, lo, width, lang):
    hi = max(lo + width, 1)
    out = fit_line(text, lo, hi, lang, extras=["玻尿酸" if lang == "zh" else "hyaluronic acid"])
    assert out.strip()
    assert validate_line(out, lo, hi, lang) is None, (out, lo, hi)


def test_fit_line_prefers_whole_clauses_and_keeps_in_range_text():
    s = "这款面霜很好用，质地轻薄，吸收很快。"
    assert fit_line(s, count_words(s, "zh") - 2, count_words(s, "zh") + 2, "zh") == s
    cut = fit_line(s, 5, 9, "zh")
    assert cut.startswith("这款面霜很好用") and 5 <= count_words(cut, "zh") <= 9


def _product() -> ProductInfo:
    return ProductInfo(name="青禾山茶花修护面霜", language="zh", aspects=[
        AspectPoints(aspect="功效", points=["修护屏障", "保湿锁水"]),
        AspectPoints(aspect="成分/材质", points=["山茶花精粹", "神经酰胺"]),
        AspectPoints(aspect="质地", points=["乳霜质地", "清爽不黏腻"]),
        AspectPoints(aspect="活动优惠", points=["买一送一"]),
    ])


BEATS = [("产品推荐", 10, 16), ("痛点铺垫", 8, 14), ("质地/成分/材质", 12, 18), ("产品功效", 20, 26),
         ("产品试用", 6, 12), ("引导购买", 14, 20)]


@pytest.fixture(scope="module")
def story():
    beats = [NarrationBeat(label=lab, word_min=a, word_max=b) for lab, a, b in BEATS]
    return narrate_storyline(NarrateInput(product=_product(), beats=beats))


def test_every_line_in_range_and_labelled(story):
    assert len(story.lines) == len(BEATS)
    for ln, (lab, a, b) in zip(story.lines, BEATS):
        assert ln.in_range and a <= count_words(ln.text, "zh") <= b
        assert ln.label == lab
    assert not any(story.predicted_labels)


def test_lines_never_carry_other_products_or_unsupported_codes(story):
    """Grounding: no other corpus product's short name, and no digits/Latin codes the facts lack."""
    from tools.narrate.corpus import default_corpus

    prod = _product()
    blob = prod.name + "".join(p for _, p in prod.points())
    others = {short_name(ProductInfo(name=n), "zh") for n in default_corpus("zh").products}
    for ln in story.lines:
        for code in re.findall(r"[A-Za-z0-9]+", ln.text):
            assert code in blob, f"unsupported code {code!r} in {ln.text!r}"
        for o in others:
            if len(o) >= 4 and o not in blob:
                assert o not in ln.text, f"other product {o!r} named in {ln.text!r}"


def test_story_uses_this_products_facts_and_name(story):
    text = "".join(ln.text for ln in story.lines)
    facts = [p for _, p in _product().points()]
    assert sum(f in text for f in facts) >= 3
    assert short_name(_product(), "zh") in text


def test_predicted_labels_are_in_vocabulary_and_deterministic():
    beats = [NarrationBeat(word_min=a, word_max=b) for _, a, b in BEATS]
    a = narrate_storyline(NarrateInput(product=_product(), beats=beats, seed=3))
    b = narrate_storyline(NarrateInput(product=_product(), beats=beats, seed=3))
    assert [x.text for x in a.lines] == [x.text for x in b.lines]
    assert all(a.predicted_labels)
    for ln in a.lines:
        assert all(p in SCRIPT_LABELS for p in ln.label.split("+"))
        assert ln.in_range
    # no facts for certificates / production: those labels are never predicted
    assert not {"鉴定展示", "安全认证", "生产过程"} & {ln.label for ln in a.lines}


def test_english_and_user_copy():
    prod = ProductInfo(name="Aero Trail Backpack", language="en", aspects=[
        AspectPoints(aspect="features", points=["padded laptop sleeve", "water-resistant nylon shell"])])
    beats = [NarrationBeat(label="产品推荐", word_min=6, word_max=10), NarrationBeat(label="质地/成分/材质", word_min=4, word_max=8)]
    from tools.core.registry import get_tool

    out = get_tool("narrate_storyline")({"product": prod.model_dump(), "beats": [b.model_dump() for b in beats],
                             "extra_copy": [{"text": "Carry everything you need, all day long.", "label": "产品推荐"}]})
    assert all(ln.in_range and ln.language == "en" for ln in out.lines)
    assert out.provenance[0].startswith("user:")


def test_leave_product_out_excludes_its_copy(esync_dev):
    from tools.narrate.corpus import default_corpus
    from tools.narrate.narrator import EmbeddedNarrator
    from tools.story.esync import load_esync

    v = load_esync(esync_dev)[0]
    nar = EmbeddedNarrator(default_corpus("zh"))
    own = {ln.uid for ln in default_corpus("zh").lines if ln.product == v.product.name}
    beats = [NarrationBeat(label=c.label, word_min=c.word_min, word_max=c.word_max, rel_pos=c.rel_pos) for c in v.clips]
    res = nar.narrate(v.product, beats, "zh", exclude_products=[v.product.name])
    assert all(p.removeprefix("corpus:") not in own for p in res.provenance)
    assert all(ln.in_range for ln in res.lines)
    assert all(ln.text != c.text for ln, c in zip(res.lines, v.clips))


def test_bad_input_is_a_clear_tool_error():
    from tools.core.registry import get_tool

    tool = get_tool("narrate_storyline")
    with pytest.raises(ToolInputError, match="word_min"):
        tool({"product": _product().model_dump(), "beats": [{"word_min": 9, "word_max": 3}]})
    with pytest.raises(ToolInputError, match="label"):
        tool({"product": _product().model_dump(), "beats": [{"label": "不存在", "word_min": 3, "word_max": 9}]})


def test_prompts_follow_figure6():
    from prompts import load_labels, render_narrator_messages

    assert [lab["zh"] for lab in load_labels()] == list(SCRIPT_LABELS)
    clips = [{"word_min": 10, "word_max": 16, "label": "产品推荐"}, {"word_min": 8, "word_max": 14}]
    msgs = render_narrator_messages(_product(), clips, 1, previous=[("产品推荐", "青禾面霜，修护屏障。")])
    assert msgs[0]["role"] == "system" and "质地/成分/材质" in msgs[0]["content"]
    assert "名称：青禾山茶花修护面霜" in msgs[1]["content"] and "10-16" in msgs[1]["content"]
    assert msgs[2]["content"].startswith("好的，剧本类型为：产品推荐")
    assert "8-14" in msgs[3]["content"] and "100%" in msgs[3]["content"]
    en = render_narrator_messages(_product().model_copy(update={"language": "en"}), clips, 0, language="en")
    assert "word count requirement is 10-16 words" in en[1]["content"]


def test_esync_reader(esync_dev):
    from tools.story.esync import load_esync

    v = load_esync(esync_dev)
    assert len(v) == 288 and sum(len(x.clips) for x in v) == 2008
    c = v[0].clips[0]
    assert (c.word_min, c.word_max, c.label) == (22, 28, "产品推荐") and c.text.startswith("没错")
    assert v[0].product.aspects[0].aspect == "痛点"


# --------------------------------------------------------------------------- grounding (issue 8 §4)

_COFFEE_ZH = [("痛点", ["早上没精神", "速溶咖啡口感差"]), ("外观", ["独立挂耳包装", "简约牛皮纸袋"]),
              ("质地", ["云南小粒咖啡豆", "中度烘焙", "坚果与焦糖香"]), ("功效", ["提神醒脑", "香气浓郁", "回甘明显"]),
              ("使用", ["撕开挂耳", "注入热水", "三分钟即享"]), ("活动优惠", ["双十一买二送一", "满99包邮"])]
_COFFEE_EN = [("pain points", ["sluggish mornings", "bland instant coffee"]),
              ("appearance", ["single-serve drip bags", "kraft paper pouch"]),
              ("material", ["Yunnan arabica beans", "medium roast", "nutty caramel aroma"]),
              ("effect", ["wakes you up", "rich aroma", "sweet aftertaste"]),
              ("usage", ["tear open the bag", "pour hot water", "ready in three minutes"]),
              ("promotion", ["buy two get one free", "free shipping over $99"])]
_ALL_LABELS_STORY = ["产品推荐", "痛点铺垫", "外观设计", "质地/成分/材质", "产品功效", "产品试用", "质量/特性介绍",
                     "其他/通用卖点", "引导购买", "产品推荐+产品功效"]


def _content_words(text: str, lang: str) -> list[str]:
    """zh: jieba words of ≥ 2 characters that are not function words; en: words outside the stop list."""
    from tools.narrate.grounding import FUNCTION_POS_ZH
    from tools.narrate.text import EN_FUNCTION_WORDS

    if lang == "en":
        return [w for w in re.findall(r"[A-Za-z0-9$][A-Za-z0-9'’\-]*", text) if w.lower() not in EN_FUNCTION_WORDS]
    import jieba
    import jieba.posseg as pseg

    out = []
    for w in jieba.lcut(re.sub(r"\s+", "", text)):
        if len(w) < 2 or not any(ch.isalnum() for ch in w):
            continue
        tags = pseg.lcut(w)
        flag = tags[0].flag if len(tags) == 1 else "x"
        if flag in FUNCTION_POS_ZH and not re.search(r"[A-Za-z0-9]", w):
            continue
        if flag == "m" and set(w) <= set("一几些每多个两次点下种款套瓶支只件份"):
            continue
        out.append(w)
    return out


def _assert_grounded(product: ProductInfo, lines, lang: str) -> None:
    from tools.narrate.grounding import GENERIC_AD_WORDS

    blob = (product.name + "|" + "|".join(p for _, p in product.points()) + "|" +
            "|".join(a.aspect for a in product.aspects)).lower()
    stem = lambda w: re.sub(r"(ies|es|s|ed|ing|ly)$", "", w) if len(w) > 5 else w  # noqa: E731
    generic = GENERIC_AD_WORDS[lang]
    for ln in lines:
        for w in _content_words(ln.text, lang):
            low = w.lower().strip("'’-")
            ok = low in blob or w in generic or low in generic or (lang == "en" and (stem(low) in generic or stem(low) in blob))
            assert ok, f"{w!r} in {ln.text!r} is neither a fact of {product.name!r} nor generic"
        for o, c in (("“", "”"), ("（", "）"), ("(", ")"), ("《", "》"), ("「", "」")):
            assert ln.text.count(o) == ln.text.count(c), f"unbalanced {o}{c} in {ln.text!r}"
        assert ln.text.count('"') % 2 == 0, ln.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_coffee_lines_only_state_this_products_facts(lang):
    """Regression: a coffee ad once said 养肤 (nourishes skin) and 'Smooth, you will love it.'."""
    aspects = _COFFEE_ZH if lang == "zh" else _COFFEE_EN
    name = "晨光手冲挂耳咖啡" if lang == "zh" else "Morning Light Drip Coffee"
    prod = ProductInfo(name=name, language=lang, aspects=[AspectPoints(aspect=a, points=p) for a, p in aspects])
    lo, hi = (10, 18) if lang == "zh" else (5, 10)
    beats = [NarrationBeat(label=lab, word_min=lo + i % 3, word_max=hi + i % 3) for i, lab in enumerate(_ALL_LABELS_STORY)]
    for seed in (0, 1):
        out = narrate_storyline(NarrateInput(product=prod, beats=beats, seed=seed))
        assert all(ln.in_range for ln in out.lines)
        _assert_grounded(prod, out.lines, lang)
        text = " ".join(ln.text for ln in out.lines)
        for foreign in ("养肤", "肌肤", "皮肤", "面霜", "Smooth", "all-purpose", "sleepy"):
            assert foreign not in text
    # the pain point is a pain point: it is not sold as a benefit or a quality
    for ln in out.lines:
        if ln.label in ("质量/特性介绍", "产品功效", "外观设计"):
            assert "速溶咖啡口感差" not in ln.text and "bland instant coffee" not in ln.text, ln.text


def test_dev_products_lines_are_grounded_leave_product_out(esync_dev):
    from tools.narrate.corpus import default_corpus
    from tools.narrate.narrator import EmbeddedNarrator
    from tools.story.esync import load_esync

    videos = load_esync(esync_dev)
    nar = EmbeddedNarrator(default_corpus("zh"))
    for v in videos[::48]:  # 6 products spread over the file
        beats = [NarrationBeat(label=c.label, word_min=c.word_min, word_max=c.word_max, rel_pos=c.rel_pos) for c in v.clips]
        res = nar.narrate(v.product, beats, "zh", exclude_products=[v.product.name])
        assert all(ln.in_range for ln in res.lines)
        _assert_grounded(v.product, res.lines, "zh")


def test_grounder_rejects_other_products_facts():
    from tools.narrate.grounding import Grounder
    from tools.narrate.text import balance_brackets

    prod = ProductInfo(name="晨光手冲挂耳咖啡", language="zh",
                       aspects=[AspectPoints(aspect=a, points=p) for a, p in _COFFEE_ZH])
    g = Grounder(prod, "zh")
    assert "养肤" in g.ungrounded("独立挂耳包装养肤，香气浓郁。")
    assert g.ungrounded("真的推荐大家入手，香气浓郁。") == []
    assert balance_brackets("Some mornings are “all-purpose.") == "Some mornings are all-purpose."
    assert balance_brackets("“好”（对）") == "“好”（对）"


def test_fillers_and_templates_are_fact_free():
    from tools.narrate.grounding import Grounder
    from tools.narrate.templates import TEMPLATES
    from tools.narrate.text import GENERIC_FILLERS

    for lang in ("zh", "en"):
        g = Grounder(ProductInfo(name="X", language=lang), lang)
        for f in GENERIC_FILLERS[lang]:
            assert g.ungrounded(f) == [], f
        for tpls in TEMPLATES[lang].values():
            for t in tpls:
                # slots become a neutral stand-in word; what is left must be fact-free
                bare = re.sub(r"\{(name|fact:[^}]*)\}", "它" if lang == "zh" else "it", t)
                assert g.ungrounded(bare) == [], t


def test_generic_phrases_are_said_once_per_story_and_intro_lines_name_the_product(esync_dev):
    """Regression for the first version, which padded every line with the same "大家可以放心冲":
    a generic phrase occurs in at most one line of a story, and every 产品推荐 line names the product."""
    from tools.narrate.corpus import default_corpus
    from tools.narrate.naming import long_name
    from tools.narrate.narrator import EmbeddedNarrator
    from tools.narrate.text import GENERIC_FILLERS
    from tools.story.esync import load_esync

    nar = EmbeddedNarrator(default_corpus("zh"))
    for v in load_esync(esync_dev)[5::40]:  # 8 videos spread over the file
        beats = [NarrationBeat(label=c.label, word_min=c.word_min, word_max=c.word_max, rel_pos=c.rel_pos) for c in v.clips]
        lines = [ln.text for ln in nar.narrate(v.product, beats, "zh", exclude_products=[v.product.name]).lines]
        for f in GENERIC_FILLERS["zh"]:
            assert sum(f in t for t in lines) <= 1, (f, lines)
        for c, t in zip(v.clips, lines):
            if "产品推荐" in (c.label or "").split("+"):
                assert short_name(v.product, "zh") in t or long_name(v.product, "zh") in t, (v.product.name, t)


def test_spoken_names_drop_shop_decorations_and_dangling_characters():
    from tools.narrate.naming import clean_name, long_name

    p = ProductInfo(name="【官方正品】IPSA茵芙莎第9代SE自律舒缓水乳流金套装保湿舒敏", language="zh")
    assert clean_name(p.name).startswith("IPSA")
    assert short_name(p, "zh") == "IPSA茵芙莎水乳"  # not "IPSA茵芙莎第" (nor the bare brand: what it is is said)
    assert long_name(p, "zh").startswith("IPSA茵芙莎") and "【" not in long_name(p, "zh")
    q = ProductInfo(name="官方正品 YSL圣罗兰口红香水礼盒", language="zh")
    assert short_name(q, "zh").startswith("YSL")
    assert clean_name("【】") == "【】"  # nothing left: keep the name as given


def test_label_decoding_is_the_exact_argmax_sequence():
    """Viterbi over the label model returns the best-scoring sequence (checked by brute force)."""
    import itertools

    from tools.narrate.corpus import default_corpus
    from tools.story.labels import LabelModel

    lm = LabelModel(default_corpus("zh").lines)
    beats = [(0.0, 20), (0.5, 30), (1.0, 15)]
    labs = list(SCRIPT_LABELS)

    def total(seq):
        prev, s = "<s>", 0.0
        for (rel, n), lab in zip(beats, seq):
            s += lm.scores(rel, prev, n, labs)[lab]
            prev = lab
        return s

    best = max(itertools.product(labs, repeat=len(beats)), key=total)
    got = lm.predict(beats, ProductInfo(name="x", language="zh", aspects=[
        AspectPoints(aspect=a, points=["y"]) for a in ("鉴定/认证", "生产工艺", "安全")]))
    assert total(got) == pytest.approx(total(best))


def test_label_marginal_decoding_picks_each_beats_most_probable_label():
    """Posterior-marginal decoding: each beat's label has the largest summed probability over
    every full sequence (brute force over all 12³ sequences, no forward–backward)."""
    import itertools
    import math

    from tools.narrate.corpus import default_corpus
    from tools.story.labels import LabelModel

    lm = LabelModel(default_corpus("zh").lines)
    beats = [(0.0, 20), (0.5, 30), (1.0, 15)]
    labs = list(SCRIPT_LABELS)
    product = ProductInfo(name="x", language="zh", aspects=[AspectPoints(aspect=a, points=["y"])
                                                            for a in ("鉴定/认证", "生产工艺", "安全")])
    marg = [dict.fromkeys(labs, 0.0) for _ in beats]
    for seq in itertools.product(labs, repeat=len(beats)):
        prev, s = "<s>", 0.0
        for (rel, n), lab in zip(beats, seq):
            s += lm.scores(rel, prev, n, labs)[lab]
            prev = lab
        for i, lab in enumerate(seq):
            marg[i][lab] += math.exp(s)
    got = lm.predict_marginal(beats, product)
    for i, lab in enumerate(got):
        assert marg[i][lab] == pytest.approx(max(marg[i].values()), rel=1e-9), (i, lab)


def test_cut_never_ends_on_a_dangling_word():
    assert fit_line("Order now: buy two get one free for every cup you drink today.", 5, 9, "en") == \
        "Order now: buy two get one free."
    out = fit_line("这款面霜的质地非常轻薄的，吸收也很快的时候", 4, 7, "zh")
    assert not out.rstrip("。！").endswith("的"), out


def test_grounding_catches_category_words_and_cut_numbers():
    """Words that reveal another kind of product (面部, 脸, 油 in a desk ad) and numbers cut short
    (199 from 1990) are not this product's facts."""
    from tools.narrate.grounding import Grounder

    desk = ProductInfo(name="大将作儿童桌椅经典1990", language="zh",
                       aspects=[AspectPoints(aspect="外观", points=["中碳钢架", "倒L型大桌板"])])
    g = Grounder(desk, "zh")
    assert "面部" in g.ungrounded("给面部带来享受。")
    assert "脸" in g.ungrounded("上脸呢。")
    assert "199" in g.ungrounded("经典199。")
    assert g.ungrounded("经典1990，中碳钢架，之后也很稳。") == []
    out = fit_line("中碳钢架，经典1990", 5, 9, "zh")
    assert "199" not in out.replace("1990", ""), out


# --------------------------------------------------------------------------- issue 14: fluent lines, printed facts, real data


def _beat(i: int, label: str, lo: int, hi: int, fact: str | None = None, aspect: str | None = None):
    from tools.core.models import StoryBeat

    return StoryBeat(index=i, shot_id=f"s{i}", material_id="0" * 16, in_s=0.0, out_s=2.0, duration_s=2.0, label=label,
                     word_min=lo, word_max=hi, fact=fact, aspect=aspect)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_fact_printed_on_the_shot_is_stated_whole(lang):
    """StoryBeat.fact → NarrationBeat.fact → the line states the whole point, with the beat's label."""
    from tools.narrate.narrator import narrate_story_beats

    aspects = _COFFEE_ZH if lang == "zh" else _COFFEE_EN
    name = "晨光手冲挂耳咖啡" if lang == "zh" else "Morning Light Drip Coffee"
    prod = ProductInfo(name=name, language=lang, aspects=[AspectPoints(aspect=a, points=p) for a, p in aspects])
    printed = ("独立挂耳包装", "中度烘焙", "防水面料") if lang == "zh" else ("kraft paper pouch", "medium roast",
                                                                         "water-resistant nylon")
    lo, hi = (10, 20) if lang == "zh" else (5, 11)
    beats = [_beat(0, "产品推荐", lo, hi), _beat(1, "外观设计", lo, hi, fact=printed[0]),
             _beat(2, "质地/成分/材质", lo, hi, fact=printed[1]), _beat(3, "其他/通用卖点", lo, hi, fact=printed[2])]
    lines = narrate_story_beats(prod, beats, lang)
    for ln, b in zip(lines, beats):
        assert ln.in_range and ln.label == b.label and ln.beat_index == b.index
        if b.fact:
            assert b.fact in ln.text, (b.fact, ln.text)  # even one the fact list lacks (防水面料): it is on the photo
    assert NarrationBeat(word_min=1, word_max=5, fact="x").fact == "x"


def test_dev_lines_pass_the_grammar_guard_and_reach_length_by_whole_sentences(esync_dev):
    """Every line of 8 dev stories (leave-product-out) is grammatical by the guard's rules and in
    range, and none was cut or padded with bare words (provenance "fallback")."""
    from tools.narrate.corpus import default_corpus
    from tools.narrate.guard import grammar_errors
    from tools.narrate.narrator import EmbeddedNarrator
    from tools.story.esync import load_esync

    nar = EmbeddedNarrator(default_corpus("zh"))
    for v in load_esync(esync_dev)[3::36]:
        beats = [NarrationBeat(label=c.label, word_min=c.word_min, word_max=c.word_max, rel_pos=c.rel_pos) for c in v.clips]
        res = nar.narrate(v.product, beats, "zh", exclude_products=[v.product.name])
        for ln, p in zip(res.lines, res.provenance):
            assert ln.in_range and p != "fallback", (ln.text, p)
            assert grammar_errors(ln.text, "zh") == [], ln.text
            assert not re.search(r"(呀啦哦|哦呀|啦哦)", ln.text), ln.text
            # 它 stands for the name only as a clause's subject ("它能…"), never inside a noun
            # phrase ("一套它", "其他它") nor alone before a comma ("它，胶原储备库，…")
            assert not re.search(r"(?<![了用])它[，、]|(其他|其它|一套|遇到好|这个)它", ln.text), ln.text
            # buying talk belongs to the call to action, problem set-ups to the pain point
            if "引导购买" not in ln.label:
                assert not re.search(r"下单|链接|带回家|别错过|抢购", ln.text), (ln.label, ln.text)
            if "痛点铺垫" not in ln.label:
                assert not re.search(r"困扰|烦恼", ln.text), (ln.label, ln.text)


def test_facts_are_typed_by_what_they_say():
    """A seller's loosely filed facts: a problem filed as an effect is a pain point, a noun phrase
    that starts with a verb stays a noun phrase, questions and listing fields are no facts, and a
    verb phrase whose verb ad copy never uses after 能 is not sure to fit a verb slot."""
    from tools.narrate.corpus import default_corpus
    from tools.narrate.frames import fact_class, typed_facts, usage_of
    from tools.narrate.narrator import corpus_usage

    counts = corpus_usage(default_corpus("zh"))
    facts = typed_facts([("功效", "粗糙现象", 0.2), ("功效", "改善粗糙", 0.2), ("外观", "来自火星的粉棕色", 0.2),
                         ("功效", "是否支持宏", 0.2), ("外观", "无服装版型信息", 0.2), ("功效", "滋养发丝", 0.2),
                         ("功效", "犹如肌肤弹力纽带", 0.2), ("功效", "积分可参与兑好礼", 0.2)], "zh",
                        usage=lambda w: usage_of(w, counts, set()))
    by = {f.point: f for f in facts}
    assert by["粗糙现象"].group == "pain" and by["改善粗糙"].group == "benefit"
    assert by["来自火星的粉棕色"].cls == "np" and fact_class("显色度", "zh") == "np"
    assert "是否支持宏" not in by and "无服装版型信息" not in by
    assert by["滋养发丝"].cls == "vp" and by["滋养发丝"].sure
    assert not (by["犹如肌肤弹力纽带"].cls == "vp" and by["犹如肌肤弹力纽带"].sure)
    assert by["积分可参与兑好礼"].group == "offer"


def test_spoken_names_drop_shop_words_and_places_and_keep_the_category():
    from tools.narrate.naming import long_name, short_name

    def zh(name: str) -> ProductInfo:
        return ProductInfo(name=name, language="zh")

    assert not short_name(zh("韩国lunastory宝宝折叠爬行垫婴儿爬爬垫加厚"), "zh").startswith("韩国")
    assert "旗舰店" not in short_name(zh("植物医生旗舰店高山白茶净透水乳套装护肤品"), "zh")
    assert short_name(zh("植村秀琥珀臻萃洁颜油强韧养肤深层清洁"), "zh").endswith("洁颜油")
    assert long_name(zh("【官方正品】IPSA茵芙莎三色遮瑕膏提亮遮黑眼圈"), "zh").startswith("IPSA")


def test_english_lines_use_whole_fact_phrases_with_articles():
    prod = ProductInfo(name="Aero Trail Backpack", language="en", aspects=[
        AspectPoints(aspect="material", points=["water-resistant nylon shell"]),
        AspectPoints(aspect="features", points=["padded laptop sleeve", "hidden passport pocket"]),
        AspectPoints(aspect="pain points", points=["sore shoulders"])])
    from tools.narrate.guard import grammar_errors

    beats = [NarrationBeat(label=lab, word_min=5, word_max=12) for lab in ("产品推荐", "痛点铺垫", "质地/成分/材质", "产品功效")]
    out = narrate_storyline(NarrateInput(product=prod, beats=beats))
    text = " ".join(ln.text for ln in out.lines)
    for ln in out.lines:
        assert ln.in_range and grammar_errors(ln.text, "en") == [], ln.text
    assert "Aero Trail Backpack" in out.lines[0].text
    assert "a water-resistant nylon shell" in text or "water-resistant nylon shell" not in text
    assert "Made with yoga" not in text and ": gym" not in text


def test_esync_reader_accepts_release_label_variants_and_skips_odd_items(tmp_path):
    import json

    from tools.story.esync import normalize_label, read_esync

    assert normalize_label("其他") == ("其他/通用卖点", "script label '其他' read as '其他/通用卖点'")
    assert normalize_label("质地+产品功效")[0] == "质地/成分/材质+产品功效"
    assert normalize_label("产品功效")[1] is None
    assert normalize_label("乱写")[0] is None

    def item(vid, label, rng="字数要求：10-16个字"):
        return {"id": vid, "p_info": "功效：保湿", "inputs": f"商品信息：\n名称：青禾面霜\n功效：保湿\n广告视频：\n镜头1/2：\n"
                f"场景：<vid_start><vid_end>\n{rng}\n剧本类型：{label}\n1.好用。\n镜头2/2：\n场景：<vid_start><vid_end>\n"
                f"字数要求：5-11个字\n剧本类型：产品推荐\n2.推荐。"}

    data = [item("a", "其他"), item("b", "乱写"), item("c", "产品功效", rng="字数：很多"), {"id": "d"}, "not an item"]
    p = tmp_path / "dev.json"
    p.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    videos, warnings = read_esync(p)
    assert [v.id for v in videos] == ["a", "b", "c"]
    assert videos[0].clips[0].label == "其他/通用卖点" and videos[1].clips[0].label is None
    assert len(videos[2].clips) == 1  # the clip without a word range is skipped, not the file
    assert any("'其他'" in w for w in warnings) and any("item 3 skipped" in w for w in warnings)
    assert any("item 4 skipped" in w for w in warnings)


@pytest.mark.parametrize("point, cls", [("free shipping this week", "np_m"), ("20% off this week", "np_m"),
                                         ("a free tote today", "np_s"), ("free returns", "np_p")])
def test_a_time_phrase_is_not_the_head_of_an_offer(point, cls):
    """A seller's video (duffle bag): "Order now and get a free shipping this week." (head "week")."""
    from tools.narrate.frames import fact_class

    assert fact_class(point, "en", "offer") == cls


def test_no_article_before_a_plural_fact() -> None:
    """'It is made with a notes of nuts and caramel' was heard in the en demo: no a/an before a plural head or a number."""
    from tools.core.models import ProductInfo
    from tools.narrate.narrator import NarrateInput, NarrationBeat, narrate_storyline

    p = ProductInfo(name="Morning Light Drip Coffee", language="en", aspects=[
        {"aspect": "material", "points": ["notes of nuts and caramel", "two roasts", "medium roast"]}])
    beats = [NarrationBeat(label="质地/成分/材质", word_min=4, word_max=12, aspect="material") for _ in range(3)]
    for ln in narrate_storyline(NarrateInput(product=p, beats=beats, language="en")).lines:
        assert " a notes" not in ln.text and " a two" not in ln.text, ln.text


def test_typed_slots_take_only_facts_of_their_kind():
    """What raters rejected in blind rounds (issue 14): 含有 holding a texture, a part, a test or a
    preservative; 采用 holding a product or a claim; 能 holding an adjective or a noun made of a verb
    (补水力); a slogan after 它; a solved problem offered as a worry; a gift without a verb; an
    English product "made from" its lining. Each fact is filled into the template that says it."""
    from tools.narrate.corpus import default_corpus
    from tools.narrate.frames import fill_frame, head_kind, parse_template, typed_facts, usage_of
    from tools.narrate.narrator import corpus_usage

    assert [head_kind(p) for p in ("玻尿酸", "姜根提取物", "甘草酸二钾", "纳米冰丝纤维", "机洗抗扭工艺", "敏感肌", "精华水")] == \
        ["ingredient", "ingredient", "ingredient", "material", "tech", "audience", "product"]
    counts = corpus_usage(default_corpus("zh"))
    usage = lambda w: usage_of(w, counts, set())  # noqa: E731

    def says(template: str, aspect: str, point: str, lang="zh") -> bool:
        facts = typed_facts([(aspect, point, 0.5)], lang, usage=usage if lang == "zh" else None)
        frame = parse_template("t", template, None, lang)
        return bool(facts) and bool(fill_frame(frame, facts, set(), ["它"], lang))

    for ok in ("玻尿酸", "姜根提取物", "霍霍巴籽油"):
        assert says("里面含有{fact:material:ing}。", "成分/材质", ok), ok
    for bad in ("盐雾测试", "铝合金面板", "细密气雾", "水润绵密", "苯氧乙醇", "柔软底裤", "蛋白肌"):
        assert not says("里面含有{fact:material:ing}。", "成分/材质", bad), bad
    assert says("它采用{fact:material:mat}。", "成分/材质", "纳米冰丝纤维")
    for bad in ("精华水", "全面升级", "轻巧便携", "英国梨与小苍兰香水"):
        assert not says("它采用{fact:material:mat}。", "成分/材质", bad), bad
    for bad in ("直接成分", "小黑瓶精华", "双酚A"):
        assert not says("{fact:material:mat}，用料很讲究。", "成分/材质", bad), bad
    assert says("它采用{fact:material:tech}，每一步都很讲究。", "生产工艺", "冷压萃取技术")
    assert not says("它采用{fact:material:tech}，每一步都很讲究。", "成分/材质", "透明质酸钠")
    assert not says("现在购买还能{fact:offer:vp}，千万别错过！", "活动优惠", "下单送券")
    assert says("它能{fact:benefit:vp}。", "功效", "滋养发丝")
    for bad in ("自由", "自动", "智能", "补水力", "改善肌肤没有明显改变"):
        assert not says("它能{fact:benefit:vp}。", "功效", bad), bad
    assert not says("它{fact:benefit:ap}，品质经得起考验。", "功效", "客户说好才是真的好")
    assert not says("而且它{fact:benefit:ap}。", "外观", "高定礼盒")
    assert says("你是否也有{fact:pain:prob}的烦恼？", "痛点", "干燥暗沉")
    assert not says("你是否也有{fact:pain:prob}的烦恼？", "痛点", "透气不闷热")
    assert not says("现在购买还能{fact:offer:vp}，千万别错过！", "活动优惠", "赠品")
    assert says("现在下单，还有{fact:offer:gift}。", "活动优惠", "赠品")
    assert not says("It is made from {fact:material:np*}.", "material", "recycled polyester lining", "en")
    assert says("It is made from {fact:material:np*}.", "material", "recycled polyester", "en")


def test_a_corpus_slot_takes_a_fact_of_the_kind_it_replaces():
    """A corpus sentence keeps its meaning only when the new fact names what the old one did: an
    ingredient for an ingredient; a slot glued after a noun ("里面的成分{…}") takes nothing."""
    from tools.narrate.frames import Fact, Frame, Slot, fill_frame

    ing = Frame("c1", "src", None, ("这里面含有", Slot("fact", "material", "np", src="烟酰胺"), "。"), frozenset(), lang="zh")
    glued = Frame("c2", "src", None, ("用着就是安心，里面的成分", Slot("fact", "material", "np", src="烟酰胺"), "。"), frozenset(), lang="zh")
    facts = [Fact("成分/材质", "玻尿酸", "material", "np", 0.5), Fact("成分/材质", "铝合金面板", "material", "np", 0.6)]
    got = [f.text for f in fill_frame(ing, facts, set(), ["它"], "zh")]
    assert got == ["这里面含有玻尿酸。"]
    assert fill_frame(glued, facts, set(), ["它"], "zh") == []


def test_seller_fact_lists_are_read_by_what_each_fact_is():
    """Regressions from the blind ratings: "外观上，它mac电脑系统" (an idiom tag hid the noun),
    "而且它安全随身携带" (and the verb), "用起来低饱和" (a colour filed as a texture), "乙基己酯"
    said as an ingredient of its own (a piece of 甲氧基肉桂酸乙基己酯 in the same list)."""
    from tools.narrate.frames import fact_class, typed_facts

    assert fact_class("mac电脑系统", "zh", "look") == "np"
    assert fact_class("安全随身携带", "zh", "benefit") != "ap"
    facts = typed_facts([("质地", "低饱和", 1.0), ("质地", "质地轻薄", 1.0), ("成分", "甲氧基肉桂酸乙基己酯", 1.0),
                         ("成分", "乙基己酯", 1.0), ("成分", "透明质酸", 1.0), ("成分", "透明质酸钠", 1.0)], "zh")
    by = {f.point: f for f in facts}
    assert by["低饱和"].group == "look" and by["低饱和"].cls != "ap"
    assert by["质地轻薄"].group == "texture"
    assert "乙基己酯" not in by and "甲氧基肉桂酸乙基己酯" in by
    assert "透明质酸" in by and "透明质酸钠" in by  # a shorter name that starts the longer one is a name too
    # seeds 131/137: "不仅能温和，还能清洁" (a tie in copy usage went to the verb), "它帮你改善表面问题肉眼可见",
    # "而且它不皂化物" (不 before a noun)
    tie = typed_facts([("功效", "温和", 1.0)], "zh", usage=lambda w: {"ap": 5, "vp": 5})
    assert tie[0].cls == "ap"
    assert [f.point for f in typed_facts([("功效", "改善表面问题肉眼可见", 1.0)], "zh")] == ["改善表面问题"]
    assert fact_class("不皂化物", "zh", "benefit") == "x" and fact_class("不油腻", "zh", "benefit") == "ap"
    # seeds 139/149: "它可以防螨达标", "外观上，它横竖屏切换"
    ty = {f.point: f.cls for f in typed_facts([("功效", "防螨达标", 1.0), ("外观", "横竖屏切换", 1.0)], "zh")}
    assert ty == {"防螨达标": "ap", "横竖屏切换": "vp"}
    # seeds 163/167: "而且它刷牙力过大" (a problem praised), "而且它牙龈娇嫩" (the user's gums, not the brush)
    got = {f.point: (f.group, f.cls) for f in typed_facts([("功效", "刷牙力过大", 1.0), ("功效", "牙龈娇嫩", 1.0)], "zh")}
    assert got["刷牙力过大"][0] == "pain" and got["牙龈娇嫩"][1] == "x"


def test_a_garment_is_worn_not_used():
    from tools.narrate.naming import say_worn, worn_zh

    assert worn_zh("歌莉娅黑色气质蛋糕裙夏装a字显瘦网纱连衣裙女") == "body"
    assert worn_zh("松山棉店珍珠抗菌浅口袜子防掉跟") == "feet"
    for name in ("九牧洗衣机龙头自动止水阀", "透真隔离霜女妆前乳打底保湿提亮", "实木鞋柜家用门口", "蓝月亮洗衣液"):
        assert worn_zh(name) == "", name
    assert say_worn("用起来柔软，上手试一下。", "body") == "穿起来柔软，上身试一下。"
    assert say_worn("上手试一下。", "feet") == "上脚试一下。"
    prod = ProductInfo(name="歌莉娅黑色气质蛋糕裙", language="zh",
                       aspects=[AspectPoints(aspect="质地", points=["柔软", "轻薄透气"]), AspectPoints(aspect="外观", points=["A字版型"])])
    beats = [NarrationBeat(label=lab, word_min=10, word_max=24) for lab in ("产品推荐", "产品试用", "质地/成分/材质", "产品试用")]
    out = narrate_storyline(NarrateInput(product=prod, beats=beats, seed=0))
    text = "".join(ln.text for ln in out.lines)
    assert all(ln.in_range for ln in out.lines)
    assert "用起来" not in text and "上手" not in text and "试用" not in text, text


@pytest.mark.parametrize("title, short", [
    ("【官方正品】SK-II光蕴臻采小灯泡美白淡斑精华面部精华液sklls", "SK-II精华"),  # was "SK", then the bare brand
    ("ROMOSS罗马仕10000毫安大容量充电宝22.5W快充超薄小巧便", "ROMOSS"),  # was "ROMOSS罗马" (half of 罗马仕)
    ("Colorkey珂拉琪空气唇釉女唇彩丝绒雾面口红女官方旗舰店大牌正品", "Colorkey唇釉"),  # was "Colorkey珂"
    ("慕思官方十大名牌儿童天然椰棕床垫席梦思慕斯榻榻米棕榈乳胶硬垫", "慕思儿童天然椰棕床垫"),  # was "慕思官方十大名牌"
    ("三橡树品牌正品染发剂植物天然无刺激孕妇自己在纯家染头发膏遮白", "三橡树染发剂"),
    ("zuru2023新款x特攻1秒速充增压儿童水枪玩具喷呲滋泚水枪男孩户", "zuru水枪"),  # was "zuru2023"
    ("【曼秀雷敦】润唇膏植物精油蔷薇果护唇膏小蜜油保湿", "曼秀雷敦润唇膏"),  # a bracket holding the brand is the name
    ("【官方正品】IPSA茵芙莎三色遮瑕膏提亮遮黑眼圈痘痘泪痕痘印泛红", "IPSA茵芙莎三色遮瑕膏"),  # its category within 12 characters
    # leading words cut inside a series say no product: to the category noun when it comes within 12 characters
    ("虎牌现代轻奢实木床头柜保险柜一体家用防盗隐藏式家庭小型指纹密码箱", "虎牌现代轻奢实木床头柜"),  # was "虎牌现代轻奢实木"
    ("欧莱雅第二代紫熨斗眼霜玻色因补水保湿抗皱紧致淡化细纹咖啡因", "欧莱雅第二代紫熨斗眼霜"),  # was "欧莱雅第二代紫"
    # blind raters (seeds 251–269) rejected names that stop inside the product or say a brand alone:
    # the name runs to the category noun, a category the title goes on from is not it, and a name
    # with none is said with the title's first kind noun
    ("【顺丰速达】修丽可维生素CE精华 修护抗老化淡纹早C维C抗氧化", "修丽可维生素CE精华"),  # was "修丽可维生素"
    ("Fresh馥蕾诗玫瑰润泽舒缓保湿面膜 涂抹花瓣面膜", "Fresh馥蕾诗面膜"),  # was "Fresh馥蕾诗" (long: "…玫瑰")
    ("错位型上下床交错式高低床多功能衣柜简约小户型儿童床子母双层床", "错位型上下床"),  # was "错位型上下床交错"
    ("【立即预订】碧欧泉男士护肤套装水动力保湿水乳洗面奶三件套", "碧欧泉男士护肤套装"),  # was "碧欧泉男士护肤" (long: "…套装水")
    ("九牧洗衣机龙头自动止水阀一分二家用拖把池单冷加长快开4/6分", "九牧洗衣机龙头"),  # a tap, not a washing machine
    ("全棉时代婴儿湿巾纯棉新生儿宝宝手口湿巾家庭装湿纸巾80抽*8包", "全棉时代婴儿湿巾"),  # was "全棉时代"
    ("OLAY玉兰油淡斑小白瓶面部精华液烟酰胺美白提亮改善暗沉祛斑痘印", "OLAY玉兰油精华液"),  # 玉兰油 is OLAY's name, not a kind
    ("欧舒丹沐浴油甜扁桃紧致沐浴露男女士温和清洁保湿补水滋润留香", "欧舒丹沐浴油"),  # was "欧舒丹沐浴油甜"
    ("婷美bb霜遮瑕不脱妆防水防汗持久保湿女品牌旗舰店官方正品粉底液", "婷美bb霜"),  # was "婷美bb霜遮瑕"
    ("补墙膏墙面修补白色墙体缝隙填塞填缝剂乳胶防水腻子墙身修复家用", "补墙膏"),  # was "补墙膏墙面修补"
    ("KUB可优比磁力片磁铁2岁儿童女宝男孩拼接磁力贴拼图益智积木玩具", "KUB可优比磁力片"),  # was "KUB可优比磁力"
    ("【全新】HFP果酸洁面液 深层清洁毛孔控油卸妆氨基酸洗面奶男女", "HFP果酸洁面液"),
])
def test_spoken_names_are_never_half_a_word(title, short):
    assert short_name(ProductInfo(name=title, language="zh"), "zh") == short


def test_a_whole_word_after_a_latin_brand_stays_in_the_name():
    from tools.narrate.naming import long_name

    assert long_name(ProductInfo(name="babycare扭扭车儿童男女宝宝溜溜摇摇玩具1-3岁静音万向轮防侧", language="zh"), "zh") == "babycare扭扭车"


def test_a_service_is_not_praised_as_a_thing_used_every_day():
    """Blind rating: "每天都离不开它" said of a kitchen renovation service makes no sense."""
    prod = ProductInfo(name="酷太厨房收纳改造服务", language="zh",
                       aspects=[AspectPoints(aspect="功效", points=["提供收纳整理方案", "空间升级"])])
    beats = [NarrationBeat(label=lab, word_min=20, word_max=40) for lab in ("产品推荐", "产品功效", "质量/特性介绍", "引导购买")]
    for seed in (0, 1):
        out = narrate_storyline(NarrateInput(product=prod, beats=beats, seed=seed))
        assert all(ln.in_range for ln in out.lines)
        for ln in out.lines:
            assert not re.search(r"离不开|必备|好用|用过|上手|带回家", ln.text), ln.text


def test_lines_are_said_in_a_persons_order_and_long_shots_say_facts_not_praise_runs(esync_dev):
    """Blind ratings of seeds 113/127: "一定要试试。推荐给大家。性价比很高。…" (nine stock sentences in
    a row), "我们来试用一下。而且它省心便捷。" (而且 adds to nothing), "它采用…。每天都离不开它。里面含有…。"
    (praise between two facts). On dev products, leave-product-out, given labels: no line opens with
    而且/另外, stock praise never comes before a claim, one demonstration opener per line, and runs of
    more than three stock sentences are rare (a product with nothing left to say)."""
    from tools.narrate.corpus import default_corpus
    from tools.narrate.narrator import EmbeddedNarrator
    from tools.narrate.templates import GENERIC_SENTENCES, TEMPLATES
    from tools.story.esync import load_esync

    stock = set(GENERIC_SENTENCES["zh"]) | {t for ts in TEMPLATES["zh"].values() for t in ts if "{" not in t}
    stock -= {"别担心，今天就来帮你解决。", "其实解决起来并不难。", "我们来试用一下。", "一起来看看上手效果吧。"}
    videos = load_esync(esync_dev)
    nar = EmbeddedNarrator(default_corpus("zh"))
    n_lines = long_runs = 0
    for v in videos[::12]:
        beats = [NarrationBeat(label=c.label, word_min=c.word_min, word_max=c.word_max, rel_pos=c.rel_pos) for c in v.clips]
        for ln in nar.narrate(v.product, beats, "zh", exclude_products=[v.product.name]).lines:
            sents = re.findall(r"[^。！？]+[。！？]", ln.text)
            # an offer may follow praise ("好用不贵。现在下单，还有限时福利。"): the call to buy closes a line
            kinds = ["stock" if s in stock else "offer" if re.search(r"下单|购买|抢购|链接|福利|优惠|立减|赠", s) else "claim"
                     for s in sents]
            n_lines += 1
            long_runs += kinds.count("stock") > 3
            assert not re.match(r"(而且|另外|此外)", ln.text), ln.text
            assert "stock" not in kinds or "claim" not in kinds[kinds.index("stock"):], ln.text
            assert sum(bool(re.match(r"(我们来试|一起来看看)", s)) for s in sents) <= 1, ln.text
    # 5 of 167 before the long-shot fact sentences (LONG_SHOT_FACT_SENTENCES), 3 after
    assert n_lines > 100 and long_runs / n_lines < 0.02, (long_runs, n_lines)


def test_a_pain_shot_of_a_product_with_no_problem_to_set_up_says_its_facts_not_praise():
    """Dev (百雀羚 水乳, first shot, 痛点铺垫, 38–44 characters): the seller filed no pain point, the
    only pain sentences were answers ("别担心，今天就来帮你解决。") that open no line, and the shot said
    "一定要试试。推荐给大家。性价比很高。用过的都说好。非常实用。真的很不错。好用不贵。"."""
    from tools.narrate.templates import GENERIC_SENTENCES

    asp = [("功效", ["水润", "紧致", "抗皱", "淡化细纹", "舒缓敏感"]), ("成分", ["胶原紧致肽", "灵芝精华", "多重草本植萃成分"]),
           ("外观", ["新中式风", "东方花园包"])]
    prod = ProductInfo(name="百雀羚肌初赋活3.0水乳套装紧致补水保湿抗初老护肤套装", language="zh",
                       aspects=[AspectPoints(aspect=a, points=p) for a, p in asp])
    facts = [p for _, ps in asp for p in ps]
    for lo in (38, 57):
        out = narrate_storyline(NarrateInput(product=prod, beats=[NarrationBeat(label="痛点铺垫", word_min=lo, word_max=lo + 6)]))
        text = out.lines[0].text
        sents = re.findall(r"[^。！？]+[。！？]", text)
        assert out.lines[0].in_range and any(f in text for f in facts), text
        assert sum(s in GENERIC_SENTENCES["zh"] for s in sents) <= 3, text
        assert not re.match(r"别担心|其实解决起来", text), text


def test_a_name_slot_never_starts_inside_the_source_brand():
    """Seed 139: "为大家介绍花IPSA茵芙莎三色遮瑕膏" (the source said 花西子; jieba split 花 / 西子)."""
    from tools.narrate.frames import _generic_grounder, frames_from_line, name_words

    name = "花西子空气蜜粉/夏季散粉定妆粉饼女持久控油提亮肤色不脱妆油皮"
    g = _generic_grounder("zh")
    fr = frames_from_line("u", name, [], "产品推荐", "为大家介绍花西子空气蜜粉。", None, "zh", g, name_words(name, "zh", g))
    assert not any(isinstance(p, str) and p.endswith("花") for f in fr for p in f.parts), [f.parts for f in fr]


def test_an_offer_is_not_bought_twice():
    """A seller's video (Luma yoga kit): "现在购买还能买就送弹力带" says buying twice."""
    from tools.narrate.frames import fill_frame, parse_template, typed_facts

    fr = parse_template("t", "现在购买还能{fact:offer:vp}，千万别错过！", "引导购买", "zh")
    facts = typed_facts([("活动优惠", "买就送弹力带", 1.0), ("活动优惠", "立减50元", 1.0)], "zh")
    texts = [f.text for f in fill_frame(fr, facts, set(), ["它"], "zh")]
    assert "现在购买还能立减50元，千万别错过！" in texts and not any("还能买就送" in t for t in texts), texts


def test_a_beat_says_the_aspect_the_storyline_gave_it():
    """A seller's video (Luma yoga kit): the closing shot "talks about 活动优惠" but said only
    "点击下方链接，马上带回家吧！心动不如行动，快来下单吧！"; the offer is what a closing shot sells."""
    asp = [("痛点", ["在家锻炼没器材"]), ("材质", ["环保TPE瑜伽垫", "加厚防爆健身球"]), ("功效", ["改善体态", "增强核心力量"]),
           ("活动优惠", ["双11立减50元", "买就送弹力带"])]
    prod = ProductInfo(name="Luma瑜伽健身套装", language="zh", aspects=[AspectPoints(aspect=a, points=p) for a, p in asp])
    beats = [NarrationBeat(label="产品推荐", word_min=27, word_max=33, aspect="功效"),
             NarrationBeat(label="引导购买", word_min=27, word_max=33, aspect="活动优惠")]
    for seed in (0, 1):
        out = narrate_storyline(NarrateInput(product=prod, beats=beats, seed=seed))
        assert all(ln.in_range for ln in out.lines)
        assert "弹力带" in out.lines[1].text or "立减50元" in out.lines[1].text, out.lines[1].text


def test_design_and_result_slots_take_only_their_kind():
    """Seeds 151/157: "它采用了细腻不卡纹" (a benefit with 不 as a design), "使用它可以轻松打造毛戈平高光粉膏"
    (the product as what it makes)."""
    from tools.narrate.frames import _names_a_result, fill_frame, parse_template, typed_facts

    assert not _names_a_result("毛戈平高光粉膏") and not _names_a_result("PA三个加号") and _names_a_result("精致妆容")
    # seeds 211/223/227: "使用它可以轻松打造机械轴体 / 泪沟型眼袋 / 人体曲线": 打造 makes a look, a skin, a style
    assert not any(_names_a_result(p) for p in ("机械轴体", "泪沟型眼袋", "人体曲线"))
    assert all(_names_a_result(p) for p in ("隐形毛孔", "理想光泽奶油肌", "男人味十足的造型", "温和净澈洁齿体验"))
    fr = parse_template("t", "它采用了{fact:look:design}。", "外观设计", "zh")
    facts = typed_facts([("外观", "细腻不卡纹", 1.0), ("外观", "圆角设计", 1.0)], "zh")
    texts = [f.text for f in fill_frame(fr, facts, set(), ["它"], "zh")]
    assert "它采用了圆角设计。" in texts and not any("不卡纹" in t for t in texts)


def test_a_corpus_line_that_says_its_name_twice_in_a_clause_is_no_frame():
    from tools.narrate.frames import _generic_grounder, frames_from_line, name_words

    name = "自然堂弹嫩洗面奶水乳护肤品套装紧致淡纹爽肤水乳女旗舰店正品"
    g = _generic_grounder("zh")
    fr = frames_from_line("u", name, [("成分", "三重宝藏成分")], "产品推荐", "嗯，这款自然堂的弹嫩水乳套装，里面有三重宝藏成分。",
                          None, "zh", g, name_words(name, "zh", g))
    texts = ["".join(p if isinstance(p, str) else "<%s>" % p.kind for p in f.parts) for f in fr]
    assert not any(t.count("<name>") >= 2 and "，" not in t.split("<name>")[1] for t in texts), texts


def _dev_story_lines(esync_dev, step: int):
    """(video, line, its sentences) of every ``step``-th dev story, narrated leave-product-out with given labels."""
    from tools.narrate.corpus import default_corpus
    from tools.narrate.narrator import EmbeddedNarrator
    from tools.story.esync import load_esync

    nar = EmbeddedNarrator(default_corpus("zh"))
    for v in load_esync(esync_dev)[::step]:
        beats = [NarrationBeat(label=c.label, word_min=c.word_min, word_max=c.word_max, rel_pos=c.rel_pos) for c in v.clips]
        for ln in nar.narrate(v.product, beats, "zh", exclude_products=[v.product.name]).lines:
            yield v, ln, re.findall(r"[^。！？]+[。！？]", ln.text)


@pytest.mark.parametrize("title, kind", [
    ("【官方正品】HR赫莲娜黑绷带抗老面霜紧致抗皱抗初老晚霜护肤品", "面霜"),
    ("兰蔻塑颜面霜 紧致轮廓抗氧焕白 淡化细纹抗初老 滋润保湿不油腻", ""),  # jieba reads 塑/颜面/霜: not sure, so none
    ("小米米家床头灯2 智能夜灯台灯卧室宿舍学习睡眠酷毙灯高级氛围感", ""),  # not the 床 of 床头灯
    ("九牧洗衣机龙头自动止水阀一分二家用拖把池单冷加长快开4/6分", ""),  # a tap for a washing machine
    ("错位型上下床交错式高低床多功能衣柜简约小户型儿童床子母双层床", "上下床"),  # not the 衣柜 the title lists
    ("OLAY玉兰油淡斑小白瓶面部精华液烟酰胺美白提亮改善暗沉祛斑痘印", "精华液"),  # its name says it with the title's kind
    ("Nursery娜斯丽柚子卸妆乳温和深层清洁不刺激敏感肌油啫喱液女", "卸妆乳"),
    ("迪卡侬儿童防晒衣男女防晒服透气凉感防紫外线速干皮肤衣外套KIDD", ""),
    ("晨光手冲挂耳咖啡", "挂耳咖啡"),
])
def test_the_kind_of_product_is_read_from_its_name_or_not_at_all(title, kind):
    from tools.narrate.naming import kind_noun

    assert kind_noun(ProductInfo(name=title, language="zh")) == kind


def test_the_product_is_called_this_kind_at_most_twice_and_never_beside_its_name(esync_dev):
    """Sellers say "这款面霜…" where the narrator said "它…" in every sentence. Dev stories,
    leave-product-out: "这款<kind>" opens a sentence, at most twice a story, never in a line that
    names the product or says 这款 again."""
    from tools.narrate.naming import kind_noun, long_name

    said = 0
    per_story: dict[str, int] = {}
    for v, ln, _sents in _dev_story_lines(esync_dev, 10):
        kind = kind_noun(v.product)
        if not (kind and re.search(r"(^|[。！？])这款" + kind, ln.text)):
            continue
        said += 1
        per_story[v.id] = per_story.get(v.id, 0) + 1
        assert per_story[v.id] <= 2, (v.id, ln.text)
        assert ln.text.count("这款") == 1 and short_name(v.product, "zh") not in ln.text \
            and long_name(v.product, "zh") not in ln.text, ln.text
    assert said >= 5


def test_a_defect_is_a_problem_not_a_claim():
    """Seeds 173/179: "而且它保湿不足", "这些易生锈不耐用都是一体成型的", "另外，它还能保湿有明显效果"."""
    from tools.narrate.frames import typed_facts

    facts = {f.point: f for f in typed_facts([("质量/特性", "保湿不足", 1.0), ("质量/特性", "易生锈不耐用", 1.0),
                                               ("功效", "保湿有明显效果", 1.0), ("质量/特性", "不易生锈", 1.0)], "zh")}
    assert facts["保湿不足"].group == "pain" and facts["易生锈不耐用"].group == "pain"
    assert facts["不易生锈"].group != "pain"  # said to be gone: a benefit
    assert facts["保湿有明显效果"].cls == "x"


@pytest.mark.parametrize("title, long, short", [
    ("McDavid迈克达威护膝篮球装备长款蜂窝防撞运动男女儿童护腿6446", "McDavid护膝", "McDavid护膝"),  # not half of 迈克达威
    ("【抢先预订】科颜氏祛痘控油水乳套装高保湿霜金盏花爽肤水护肤", "科颜氏祛痘控油水乳", "科颜氏祛痘控油水乳"),  # not "科颜氏祛痘控"
    ("九牧抽拉式水龙头冷热卫生间防溅洗漱台洗脸洗手旋转漱口面盆龙头", "九牧抽拉式水龙头", "九牧抽拉式水龙头"),
    ("笑容加usmile电动牙刷男女成人自动情侣款罗马柱礼盒装Y10/Y1PRO", "笑容加usmile电动牙刷", "笑容加电动牙刷"),  # 加 is the brand's
])
def test_spoken_names_end_on_a_whole_word(title, long, short):
    from tools.narrate.naming import long_name

    p = ProductInfo(name=title, language="zh")
    assert (long_name(p, "zh"), short_name(p, "zh")) == (long, short)


def test_an_effects_shot_with_no_effect_left_says_another_fact_not_only_praise():
    """Seed 179: "效果很明显。一定要试试。性价比很高。…" (an effects shot after the product's one
    effect was said). Facts of other kinds not said yet come before a line of stock praise."""
    asp = [("功效", ["深层补水"]), ("成分/材质", ["玻尿酸", "烟酰胺"]), ("质地", ["清爽不黏腻"]), ("外观", ["磨砂玻璃瓶"])]
    prod = ProductInfo(name="晨曦玻尿酸补水精华液", language="zh", aspects=[AspectPoints(aspect=a, points=p) for a, p in asp])
    beats = [NarrationBeat(label="产品功效", word_min=8, word_max=14), NarrationBeat(label="产品功效", word_min=8, word_max=14)]
    from tools.narrate.templates import GENERIC_SENTENCES, TEMPLATES

    stock = set(GENERIC_SENTENCES["zh"]) | {t for ts in TEMPLATES["zh"].values() for t in ts if "{" not in t}
    for seed in (0, 1, 2):
        out = narrate_storyline(NarrateInput(product=prod, beats=beats, seed=seed, use_default_corpus=False))
        second = out.lines[1].text
        sents = re.findall(r"[^。！？]+[。！？]", second)
        assert out.lines[1].in_range and not all(s in stock for s in sents), second
        assert any(p in second for _, ps in asp for p in ps), second


def test_an_offer_line_says_what_the_product_is_before_the_offer_and_the_call_to_buy(esync_dev):
    """Seed 179: "现在购买还能送小样，千万别错过！另外，它还能增加肌肤光泽。点击下方链接…" wedged a
    claim between the calls to buy. On dev stories (leave-product-out), no claim follows an offer."""
    from tools.narrate.adapt import _SHOPPING_ZH
    from tools.narrate.templates import GENERIC_SENTENCES, TEMPLATES

    stock = set(GENERIC_SENTENCES["zh"]) | {t for ts in TEMPLATES["zh"].values() for t in ts if "{" not in t}
    checked = 0
    for _v, ln, sents in _dev_story_lines(esync_dev, 8):
        shop = [bool(_SHOPPING_ZH.search(s)) for s in sents]
        if "引导购买" not in ln.label or not any(shop):
            continue
        checked += 1
        first = shop.index(True)
        later = [s for s, sh in zip(sents[first:], shop[first:]) if not sh and s not in stock]
        assert not later, ln.text
    assert checked >= 10


def test_what_no_picture_shows_is_not_pointed_at_and_a_feature_is_no_result():
    """Seeds 181/191: "你看，免费换新服务", "你看，抑菌消臭", "用了之后，可以免拆杯可机洗"."""
    from tools.narrate.adapt import StoryState, Target, sentence_candidates
    from tools.narrate.lm import CharLM
    from tools.narrate.templates import fact_frames, template_frames

    asp = [("外观", ["免费换新服务", "抑菌消臭", "磨砂外壳"]), ("功效", ["免拆杯可机洗", "提亮肤色"])]
    prod = ProductInfo(name="晨曦多功能收纳盒", language="zh", aspects=[AspectPoints(aspect=a, points=p) for a, p in asp])
    target = Target(prod, "zh")
    frames = [(f, 0.0) for f in fact_frames("look", "np", "zh")] + [(f, 0.0) for f in template_frames("zh")]
    lm = CharLM([("x", "你看，磨砂外壳。用了之后，可以提亮肤色。")])
    texts = [s.text for s in sentence_candidates(frames, target, StoryState(), "外观设计+产品功效", ["它", "它"], lm, None,
                                                 ["look", "benefit"], limit=10)]
    assert "你看，磨砂外壳。" in texts and "用了之后，可以提亮肤色。" in texts  # the rules do not silence the frames
    assert not any(t.startswith("你看") and ("服务" in t or "消臭" in t) for t in texts), texts
    assert not any(t.startswith("用了之后") and "机洗" in t for t in texts), texts


def test_a_line_introduces_the_product_before_it_talks_about_it(esync_dev):
    """Seed 191: "用了之后，可以解决生活困扰难题。这就是九牧抽拉式水龙头。…": the product is introduced
    first. Dev stories, leave-product-out: "这就是/给大家推荐…" never follows another sentence of its
    line unless a problem or a demonstration is set up first."""
    from tools.narrate.adapt import _PROBLEM_SETUP_ZH, _SHOPPING_ZH
    from tools.narrate.naming import long_name

    openers = r"的(困扰|烦恼)[。？]$|^(你是否|是不是|别担心|其实解决|我们来试|一起来看看|上手试一下)"
    intros = 0
    for v, ln, sents in _dev_story_lines(esync_dev, 4):
        names = (short_name(v.product, "zh"), long_name(v.product, "zh"))
        for i, s in enumerate(sents):
            if any(n in s for n in names) and not _SHOPPING_ZH.search(s):
                # seeds 199/211: "…它可以紧致。娇韵诗黄金双萃精华，维稳保湿。": named only after 它
                assert all(re.search(openers, p) or any(n in p for n in names) for p in sents[:i]), ln.text
            if re.match(r"(这就是|今天给大家推荐|给大家推荐)", s):
                intros += 1
                assert all(re.search(openers, p) for p in sents[:i]), ln.text
    assert intros >= 5
    assert _PROBLEM_SETUP_ZH.search("很多人都有干燥的困扰。") and _PROBLEM_SETUP_ZH.search("你是否也有这样的烦恼？")
    assert not _PROBLEM_SETUP_ZH.search("用了之后，可以解决生活困扰难题。")  # an answer, not a set-up: no line opens with it


def test_english_beats_say_the_products_facts_not_stock_praise():
    """"Quality materials throughout. Built for everyday life." was the materials line of a vitamin C
    serum with three ingredients: the repetition penalty counted "it", "is", "with" as words said
    again, so every fact sentence after the first line cost more than stock praise. For each product
    written as a seller would (the fluency sample's), the materials beat states a fact of the product,
    and for most of them one of its materials (a shoe's "knit upper" is a part: nothing is made with it)."""
    import json
    from pathlib import Path

    from tools.narrate.frames import aspect_group

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    story = [("产品推荐", 6, 12), ("痛点铺垫", 5, 11), ("质地/成分/材质", 6, 12), ("产品功效", 9, 15), ("引导购买", 5, 11)]
    said = 0
    for raw in json.loads((root / "fluency" / "products_en.json").read_text(encoding="utf-8")):
        prod = ProductInfo.model_validate(raw)
        mats = [p for a, p in prod.points() if aspect_group(a) == "material"]
        if not mats:
            continue
        out = narrate_storyline(NarrateInput(product=prod, beats=[NarrationBeat(label=lab, word_min=lo, word_max=hi)
                                                                   for lab, lo, hi in story]))
        line = out.lines[2].text
        assert out.lines[2].in_range
        assert any(p.lower() in line.lower() for _, p in prod.points()), (prod.name, line)
        assert "a vitamin" not in line.lower(), line
        said += any(m.lower() in line.lower() for m in mats)
    assert said >= 5


def test_a_sellers_own_name_is_said_whole_and_the_briefed_material_is_said():
    """A seller's video (a yoga ball, brief "突出防爆材质"): the name was cut to "Luma加厚防爆瑜伽"
    and the materials shot said "你看，磨砂防滑表面。用料非常讲究。": the name had said 加厚防爆, so
    the material counted as repetition, and jieba's verb 加厚 kept it out of "采用…"."""
    from tools.narrate.naming import long_name

    asp = [("痛点", ["久坐腰酸背痛"]), ("材质", ["加厚防爆PVC", "环保无异味"]), ("功效", ["锻炼核心力量", "改善体态"]),
           ("外观", ["磨砂防滑表面"]), ("活动优惠", ["送打气筒"])]
    prod = ProductInfo(name="Luma加厚防爆瑜伽球", language="zh", aspects=[AspectPoints(aspect=a, points=p) for a, p in asp])
    assert long_name(prod, "zh") == short_name(prod, "zh") == "Luma加厚防爆瑜伽球"
    beats = [NarrationBeat(label="产品推荐", word_min=27, word_max=33, aspect="功效"),
             NarrationBeat(label="质地/成分/材质", word_min=12, word_max=18, aspect="材质"),
             NarrationBeat(label="引导购买", word_min=27, word_max=33, aspect="活动优惠")]
    for seed in (0, 1):
        out = narrate_storyline(NarrateInput(product=prod, beats=beats, seed=seed))
        assert "Luma加厚防爆瑜伽球" in out.lines[0].text, out.lines[0].text
        mat = out.lines[1].text
        assert out.lines[1].in_range and "加厚防爆PVC" in mat and "里面含有" not in mat, mat


@pytest.mark.parametrize("point, cls", [("双11立减30元", "vp"), ("618直降100元", "vp"), ("前五名下单立减50%", "x"), ("双11", "event")])
def test_an_offer_may_open_with_the_event_it_is_for(point, cls):
    """A seller's video (yoga ball): "双11立减30元" was no phrase, so the closing shot named only the gift."""
    from tools.narrate.frames import fact_class

    assert fact_class(point, "zh", "offer") == cls


def test_you_see_points_only_at_what_a_picture_shows():
    """Blind ratings, seeds 173–233: lines with "你看，" were rejected 38 % of the time against 19 % for
    the others ("你看，130斤以内", "你看，弹力大无束缚", "你看，控制用量", "你看，1.6米乘以1.2米")."""
    from tools.narrate.adapt import _shown

    for seen in ("浪漫樱花粉", "镂空设计", "暗金色logo", "立体小花边", "蓝色帆布面料"):
        assert _shown(seen), seen
    for unseen in ("130斤以内", "1.6米乘以1.2米", "控制用量", "免费换新服务", "承托力", "显瘦"):
        assert not _shown(unseen, "np"), unseen
    assert not _shown("弹力大无束缚", "ap") and not _shown("随身携带", "vp")


def test_quality_praise_follows_only_what_lasts_and_a_bare_verb_fills_no_verb_slot():
    """Seeds 199–229: "它清爽，品质经得起考验" (品质 is how it lasts), "另外，它还能舒缓。" (舒缓 what?)."""
    from tools.narrate.corpus import default_corpus
    from tools.narrate.frames import fill_frame, parse_template, typed_facts, usage_of
    from tools.narrate.narrator import corpus_usage

    counts = corpus_usage(default_corpus("zh"))  # how copy uses each word: 清爽 and 舒缓 are then sure
    facts = typed_facts([("功效", "清爽", 1.0), ("功效", "耐磨耐用", 1.0), ("功效", "舒缓", 1.0), ("功效", "补水保湿", 1.0)], "zh",
                        usage=lambda w: usage_of(w, counts, set()))
    assert {f.point for f in facts if f.sure} >= {"清爽", "舒缓"}
    q = [f.text for f in fill_frame(parse_template("t", "它{fact:benefit:apq}，品质经得起考验。", None, "zh"), facts, set(), ["它"], "zh")]
    assert q and all("清爽" not in t for t in q), q
    v = [f.text for f in fill_frame(parse_template("t", "另外，它还能{fact:benefit:vp}。", None, "zh"), facts, set(), ["它"], "zh", limit=5)]
    assert "另外，它还能舒缓。" not in v, v


def test_a_space_in_a_title_ends_the_spoken_name_and_a_name_is_not_doubled():
    """Seed 229: "今天给大家推荐海蒂诗柜门反弹器免。" (jieba joined 器 and 免 across the title's space);
    "这款肌肤之钥CPB粉霜霜…" (a corpus frame whose source name went on past the slot)."""
    from tools.narrate.naming import long_name

    p = ProductInfo(name="海蒂诗柜门反弹器 免拉手隐形门弹簧开关衣橱柜门碰珠衣柜 按弹器", language="zh")
    assert long_name(p, "zh") == "海蒂诗柜门反弹器" and short_name(p, "zh") == "海蒂诗柜门反弹器"
    assert long_name(ProductInfo(name="兰蔻塑颜面霜 紧致轮廓抗氧焕白 淡化细纹抗初老", language="zh"), "zh") == "兰蔻塑颜面霜"
    assert short_name(ProductInfo(name="美禾 假发女长发真发发片 头顶补发片", language="zh"), "zh").startswith("美禾假发")
    asp = [("外观", ["暖米白", "晶钻粉霜"]), ("功效", ["遮瑕", "养肤"]), ("活动优惠", ["618大促"])]
    prod = ProductInfo(name="肌肤之钥CPB粉霜 晶钻粉霜养肤 贵妇粉底液遮瑕", language="zh",
                       aspects=[AspectPoints(aspect=a, points=ps) for a, ps in asp])
    beats = [NarrationBeat(label=lab, word_min=18, word_max=40) for lab in ("产品推荐", "外观设计", "产品功效", "引导购买")]
    for ln in narrate_storyline(NarrateInput(product=prod, beats=beats)).lines:
        assert "粉霜霜" not in ln.text, ln.text


def test_one_shopping_event_a_line_and_no_kind_of_many_for_one_ingredient():
    """Seeds 251/257: "趁着618，赶紧下单吧！双十一活动已经开始…" (two events in one call to buy),
    "里面的…成分，能够舒缓我们的肌肤，还有各种橄榄叶。" (各种 before one ingredient)."""
    from tools.narrate.adapt import _other_events
    from tools.narrate.frames import _generic_grounder, fill_frame, frames_from_line, name_words, typed_facts

    assert _other_events("趁着618，赶紧下单吧！", "双十一活动已经开始，心动的快来抢购吧。")
    assert not _other_events("趁着双11，赶紧下单吧！", "双十一活动已经开始。") and not _other_events("趁着618，赶紧下单吧！", "点击下方链接！")
    name = "修丽可色修精华 舒缓修护补水保湿修红面部提亮"
    g = _generic_grounder("zh")
    frames = frames_from_line("u", name, [("成分", "玻尿酸"), ("成分", "烟酰胺")], "质地/成分/材质",
                              "里面的玻尿酸成分，能够舒缓我们的肌肤，还有各种烟酰胺。", None, "zh", g, name_words(name, "zh", g))
    facts = typed_facts([("成分", "积雪草提取物", 1.0), ("成分", "透明质酸钠", 1.0)], "zh")
    assert frames  # the frame is read; before this rule it said "…，还有各种透明质酸钠。"
    texts = [f.text for fr in frames for f in fill_frame(fr, facts, set(), ["它"], "zh")]
    assert not any("各种" in t for t in texts), texts


def test_every_template_sentence_passes_the_grounding_test_with_a_fact_of_the_product():
    """Three fact sentences were never said: jieba reads "…，这一点真的很加分。" as 很加分, "…，一眼就能
    看出来。" as 一眼 and "值得一提的是，…" as one word, none of them in the generic vocabulary, so the
    grounding test rejected every sentence made from them (a long shot then fell to stock praise:
    dev bunk bed, "很好用。真香！值得一试。一定要试试。推荐给大家。…"). Every template, filled with a
    fact the product has, must pass it."""
    from tools.narrate.grounding import Grounder
    from tools.narrate.templates import (
        FACT_SENTENCES,
        GENERIC_SENTENCES,
        KIND_DEMO_SENTENCES_ZH,
        LONG_SHOT_FACT_SENTENCES,
        TEMPLATES,
    )

    prod = ProductInfo(name="晨曦玻尿酸补水精华液", language="zh",
                       aspects=[AspectPoints(aspect="外观", points=["磨砂玻璃瓶"]), AspectPoints(aspect="活动优惠", points=["618"])])
    g = Grounder(prod, "zh")
    texts = [t for table in (TEMPLATES, FACT_SENTENCES, LONG_SHOT_FACT_SENTENCES) for ts in table["zh"].values() for t in ts]
    bad = {}
    for t in texts + GENERIC_SENTENCES["zh"]:
        s = re.sub(r"\{name\}", "晨曦精华液", t)
        s = re.sub(r"\{fact:offer:[^}]*\}", "618", s)
        s = re.sub(r"\{[^}]*\}", "磨砂玻璃瓶", s)
        if g.ungrounded(s):
            bad[t] = g.ungrounded(s)
    assert not bad, bad
    assert any("这一点真的很加分" in t for t in texts)  # the sentences checked are the ones said
    # the kind demonstration sentences pass as a whole only for their kind: their words are no fact
    assert any(g.ungrounded(t) for ts in KIND_DEMO_SENTENCES_ZH.values() for t in ts)


def test_a_highlight_is_a_thing_and_a_feeling_is_felt():
    """Dev lines after the fact sentences came back: "柔软，这一点真的很加分。", "99.93%松，…",
    "轻薄水润，这一点真的很加分。" (jieba tags 水润 a noun; copy says "很水润"); "用了它，感觉很耐用。"
    (lasting is no feeling); seed 269: "爱了爱了，是它的一大亮点。". Corpus sentences that lean on their
    own ad ("感觉真的就不一样了呢，真好看。", "一点一点的给你补回来。") are not said."""
    from tools.narrate.corpus import default_corpus
    from tools.narrate.frames import typed_facts, usage_of
    from tools.narrate.narrator import EmbeddedNarrator, corpus_usage

    counts = corpus_usage(default_corpus("zh"))
    facts = {f.point: f for f in typed_facts([("质地", "轻薄水润", 1.0), ("外观", "网眼设计", 1.0)], "zh",
                                             usage=lambda w: usage_of(w, counts, []))}
    assert facts["轻薄水润"].cls == "ap" and facts["网眼设计"].cls.startswith("np")
    asp = [("外观", ["柔软", "99.93%松", "网眼设计", "原木色"]), ("功效", ["爱了爱了", "耐用", "清爽"]),
           ("质地", ["轻薄水润"]), ("成分/材质", ["E0板材", "实木爬梯"])]
    prod = ProductInfo(name="晨曦儿童上下床", language="zh", aspects=[AspectPoints(aspect=a, points=p) for a, p in asp])
    beats = [NarrationBeat(label=lab, word_min=24, word_max=32)
             for lab in ("产品推荐", "外观设计", "外观设计", "外观设计", "产品功效", "产品功效", "外观设计", "外观设计")]
    nar = EmbeddedNarrator(default_corpus("zh"))
    lines = [ln.text for ln in nar.narrate(prod, beats, "zh").lines]
    text = "".join(lines)
    for bad in ("柔软，这一点", "99.93%松，", "轻薄水润，这一点", "感觉很耐用", "爱了爱了，", "不一样了", "补回来"):
        assert bad not in text, (bad, lines)
    assert re.search(r"(网眼设计|原木色|实木爬梯)，(这一点真的很加分|是它的一大亮点|一眼就能看出来)", text), lines


def test_a_demonstration_shot_shows_how_its_kind_is_used():
    """Human 产品试用 lines of dev say 使用/涂抹/均匀/轻轻 most; the narrator said "我们来试用一下。" and
    moved on. A face cream's demonstration may say how a cream is used ("取适量，轻轻涂抹均匀。"); a
    keyboard never says it, and a cream's effects shot does not either."""
    from tools.narrate.templates import KIND_DEMO_SENTENCES_ZH

    def lines(name, labels):
        prod = ProductInfo(name=name, language="zh", aspects=[
            AspectPoints(aspect="功效", points=["修护屏障", "保湿锁水"]), AspectPoints(aspect="质地", points=["清爽不黏腻"])])
        beats = [NarrationBeat(label=lab, word_min=16, word_max=24) for lab in labels]
        return [ln.text for ln in narrate_storyline(NarrateInput(product=prod, beats=beats)).lines]

    cream = lines("晨曦山茶花修护面霜", ["产品推荐", "产品试用", "产品试用", "产品功效", "产品功效"])
    demo = set(KIND_DEMO_SENTENCES_ZH["面霜"])
    assert any(s in ln for s in demo for ln in cream[1:3]), cream
    assert not any(s in ln for s in demo for ln in cream[3:]), cream
    all_demo = {s for ss in KIND_DEMO_SENTENCES_ZH.values() for s in ss}
    keyboard = lines("晨曦机械键盘", ["产品推荐", "产品试用", "产品试用"])
    assert not any(s in ln for s in all_demo for ln in keyboard), keyboard


def test_round_fifteen_rejections_are_not_said():
    """Seeds 271/277 (blind, both raters): "双边吸奶器，一眼就能看出来。" (a product is no feature to
    show), "它采用软化角质蛋白。" (a verb phrase as a material), "现在购买还能1至4折起" (no verb), "它时而
    柔媚" (half of 时而…时而…), "直接成分，这一点真的很加分。", "上手试一下，…。为大家介绍一款…" (the
    introduction after the demonstration), "绝对是一种体验。" (leans on its own ad), "这款everbab艾蓓拉"
    (a brand, not the eyelash curler)."""
    from tools.narrate.adapt import arrange_line, fits_beat
    from tools.narrate.frames import head_kind, parse_template, starts_with_verb, typed_facts
    from tools.narrate.naming import long_name

    assert head_kind("双边吸奶器") == "product" and head_kind("启初黄色双肩妈咪包") == "product"
    assert head_kind("有机") != "product" and head_kind("网眼设计") != "product"
    assert starts_with_verb("软化角质蛋白")
    facts = {f.point: f for f in typed_facts([("活动优惠", "1至4折起", 1.0), ("外观", "时而柔媚", 1.0)], "zh")}
    assert "享1至4折起" in facts and "时而柔媚" not in facts
    frame = parse_template("c", "绝对是一种体验。", "产品功效", "zh")
    assert not fits_beat("绝对是一种体验。", "产品功效", frame.__class__(**{**frame.__dict__, "template": False}), "zh")
    p = ProductInfo(name="everbab艾蓓拉一飞冲天睫毛夹卷翘持久定型局部太阳花新手便携女", language="zh")
    assert long_name(p, "zh") == "everbab艾蓓拉睫毛夹" and short_name(p, "zh") == "everbab睫毛夹"
    asp = [("外观", ["双边吸奶器", "绑带设计", "直接成分"]), ("功效", ["解放双手"])]
    prod = ProductInfo(name="晨曦双边电动吸奶器", language="zh", aspects=[AspectPoints(aspect=a, points=ps) for a, ps in asp])
    beats = [NarrationBeat(label=lab, word_min=20, word_max=30) for lab in ("产品推荐", "外观设计", "外观设计", "产品功效")]
    text = "".join(ln.text for ln in narrate_storyline(NarrateInput(product=prod, beats=beats)).lines)
    assert "双边吸奶器，一眼" not in text and "直接成分，" not in text, text

    # the product introduced before it is tried, whatever order the sentences came in
    from tools.narrate.adapt import Sentence
    from tools.narrate.frames import Filled

    def sent(t, names=0):
        f = parse_template("t:" + t, t, None, "zh")
        return Sentence(filled=Filled(frame=f, text=t, facts=(), names=names, fills=()), text=t, length=len(t), lm_lp=0.0,
                        lm_n=1, words=set(), facts=(), names=names, score=0.0, kind="corpus")
    line = arrange_line((sent("上手试一下，真的很清爽。"), sent("为大家介绍一款娜丽丝防晒霜。", names=1)))
    assert line[0].text.startswith("为大家介绍"), [p.text for p in line]


def test_round_sixteen_rejections_are_not_said():
    """Seeds 281/283 (blind, both raters): "REACH法规，这一点真的很加分。", "核心成分，…", "所有肌肤类型，…",
    "耐老化耐高温性差，…" (a highlight is a feature, an ingredient or a material); "隐藏的袋子，一眼就能
    看出来。", "塑身衣，一眼就能看出来。" (seen at a glance: a colour or a design); "色斑肌肤也能放心使用。",
    "细致肌肤也能放心使用。" (a sensitive group is reassured); "用了之后，可以抗摔。" (how it lasts is no
    gain of the user)."""
    from tools.narrate.frames import fill_frame, parse_template, typed_facts

    facts = typed_facts([("功效", "抗摔", 1.0), ("功效", "补水", 1.0), ("适用人群", "色斑肌肤", 1.0),
                         ("适用人群", "敏感肌", 1.0)], "zh")
    gain = [f.text for f in fill_frame(parse_template("t", "用了之后，可以{fact:benefit:vp}。", None, "zh"), facts, set(),
                                       ["它"], "zh", limit=5)]
    assert "用了之后，可以抗摔。" not in gain
    safe = [f.text for f in fill_frame(parse_template("t2", "{fact:audience:aud}也能放心使用。", None, "zh"), facts, set(),
                                       ["它"], "zh", limit=5)]
    assert "色斑肌肤也能放心使用。" not in safe
    asp = [("外观", ["隐藏的袋子", "塑身衣", "彩虹配色"]), ("安全认证", ["REACH法规"]), ("成分/材质", ["核心成分", "纳米冰丝纤维"]),
           ("质量/特性", ["耐老化耐高温性差"]), ("适用人群", ["所有肌肤类型"])]
    prod = ProductInfo(name="晨曦运动收腹带", language="zh", aspects=[AspectPoints(aspect=a, points=ps) for a, ps in asp])
    beats = [NarrationBeat(label=lab, word_min=24, word_max=34)
             for lab in ("产品推荐", "外观设计", "外观设计", "质地/成分/材质", "外观设计", "安全认证")]
    lines = [ln.text for ln in narrate_storyline(NarrateInput(product=prod, beats=beats)).lines]
    text = "".join(lines)
    for bad in ("REACH法规，这一点", "核心成分，这一点", "所有肌肤类型，", "性差，这一点", "隐藏的袋子，一眼", "塑身衣，一眼"):
        assert bad not in text, (bad, lines)


def test_round_seventeen_rejections_are_not_said():
    """Seeds 293/307 (blind, both or all raters): "它能安心护肤。" (安心 is the user's), "而且它白皙透亮。"
    (the skin's look, not the product's), "而且它不添加。" (adds what?), "Built to last, with a reflective
    heel tab." (nothing about lasting), "It features a hidden passport pocket. You will see the difference."
    (a part, no effect), "很多人都有粗糙纹路的困扰。所有肤质也能放心使用。" (也 of what?), "现在下单，还有最大
    福利。每天都离不开它。点击下方链接…" (praise between two calls to buy)."""
    from tools.narrate.corpus import default_corpus
    from tools.narrate.frames import fill_frame, parse_template, typed_facts, usage_of
    from tools.narrate.narrator import corpus_usage

    counts = corpus_usage(default_corpus("zh"))
    facts = typed_facts([("功效", "安心护肤", 1.0), ("功效", "白皙透亮", 1.0), ("功效", "不添加", 1.0), ("功效", "清爽不黏腻", 1.0),
                         ("功效", "淡化细纹", 1.0)], "zh", usage=lambda w: usage_of(w, counts, set()))
    assert "不添加" not in {f.point for f in facts}
    # an effect verb and what it works on is what the product does (jieba tags 淡化 a noun, 紧致 an adjective):
    # "而且它改善暗沉" read it as how the product is
    assert {p: c for p, c in ((f.point, f.cls) for f in typed_facts(
        [("功效", w, 1.0) for w in ("淡化细纹", "改善暗沉", "紧致肌肤", "修护成分")], "zh"))} == {
        "淡化细纹": "vp", "改善暗沉": "vp", "紧致肌肤": "vp", "修护成分": "np"}
    can = [f.text for f in fill_frame(parse_template("t", "它能{fact:benefit:vp}。", None, "zh"), facts, set(), ["它"], "zh", limit=5)]
    assert can and "它能安心护肤。" not in can, can
    gain = [f.text for f in fill_frame(parse_template("t1", "用了之后，可以{fact:benefit:vp}。", None, "zh"), facts, set(), ["它"],
                                       "zh", limit=5)]
    assert "用了之后，可以安心护肤。" in gain, gain  # the user's gain: said
    also = [f.text for f in fill_frame(parse_template("t2", "而且它{fact:benefit:ap}。", None, "zh"), facts, set(), ["它"], "zh", limit=5)]
    assert "而且它白皙透亮。" not in also, also
    en = typed_facts([("features", "reflective heel tab", 1.0), ("features", "reinforced base", 1.0)], "en")
    built = [f.text for f in fill_frame(parse_template("t3", "Built to last, with {fact:benefit:np*}.", None, "en"), en, set(), ["it"],
                                        "en", limit=5)]
    assert built and all("heel tab" not in t for t in built) and any("reinforced base" in t for t in built), built
    en2 = typed_facts([("features", "storage drawer", 1.0), ("benefits", "all-day comfort", 1.0)], "en")
    gives = [f.text for f in fill_frame(parse_template("t4", "It gives you {fact:benefit:np*}.", None, "en"), en2, set(), ["it"],
                                        "en", limit=5)]
    assert gives and all("drawer" not in t for t in gives), gives  # seed 311: "It gives you a storage drawer."
    # seed 313: "店铺订单默认无礼袋，这一点真的很加分。" (a shop's disclaimer), "你看，黄黑皮。" (whom it is for)
    assert not typed_facts([("通用卖点", "店铺订单默认无礼袋", 1.0)], "zh")
    from tools.narrate.adapt import _shown

    assert not _shown("黄黑皮", "np") and not _shown("油皮", "np") and not _shown("敏感肌", "np")
    assert _shown("头层牛皮", "np") and _shown("磨砂机身", "np")  # leather and a body are in the picture

    # a whole story: the call to buy closes a line, praise comes before it; "You will see the difference"
    # follows what the product does; reassurance never answers a problem
    prod = ProductInfo(name="Atlas Travel Backpack", language="en", aspects=[
        AspectPoints(aspect="features", points=["hidden passport pocket", "padded laptop sleeve"]),
        AspectPoints(aspect="benefits", points=["keeps your valuables safe"])])
    beats = [NarrationBeat(label="产品功效", word_min=9, word_max=13) for _ in range(4)]
    for ln in narrate_storyline(NarrateInput(product=prod, beats=beats)).lines:
        assert not re.search(r"(pocket|sleeve)\. You will see the difference", ln.text), ln.text
        assert not re.match(r"(On top of that|Plus,)", ln.text), ln.text  # adds to nothing said in its line
    shirt = ProductInfo(name="Harbor Linen Shirt", language="en", aspects=[AspectPoints(aspect="materials", points=["linen"])])
    for ln in narrate_storyline(NarrateInput(product=shirt, beats=beats)).lines:
        assert "easy to use" not in ln.text, ln.text  # a shirt is worn (seed 311)
    zh = ProductInfo(name="晨曦修护面霜", language="zh", aspects=[
        AspectPoints(aspect="痛点", points=["粗糙纹路"]), AspectPoints(aspect="适用人群", points=["敏感肌"]),
        AspectPoints(aspect="活动优惠", points=["最大福利"])])
    zb = [NarrationBeat(label=lab, word_min=w, word_max=w + 8) for lab, w in (("痛点铺垫", 22), ("引导购买", 26))]
    lines = [ln.text for ln in narrate_storyline(NarrateInput(product=zh, beats=zb)).lines]
    assert not re.search(r"困扰。[^。]*也能放心使用", lines[0]), lines
    sents = re.findall(r"[^。！？]+[。！？]", lines[1])
    calls = [i for i, s in enumerate(sents) if re.search(r"下单|链接", s)]
    assert not calls or calls == list(range(calls[0], len(sents))), lines  # nothing said after the call to buy starts


def test_a_pain_shot_without_a_listed_pain_sets_up_choosing_one():
    """A pain-point shot of a product whose seller listed no pain point was stock praise ("推荐给大家。一定要
    试试。性价比很高。"): it now sets up the problem every buyer of its kind has, choosing one, and the
    sentence passes the grammar guard and the grounding test whole; a product with a pain point says that."""
    from tools.narrate.guard import grammar_errors

    prod = ProductInfo(name="晨曦生姜洗发水", language="zh", aspects=[AspectPoints(aspect="功效", points=["控油", "滋养头皮"]),
                                                               AspectPoints(aspect="成分", points=["生姜精华"])])
    beats = [NarrationBeat(label="痛点铺垫", word_min=12, word_max=26), NarrationBeat(label="产品功效", word_min=12, word_max=24)]
    lines = [ln.text for ln in narrate_storyline(NarrateInput(product=prod, beats=beats)).lines]
    assert re.search(r"挑选?洗发水", lines[0]) and "烦恼" in lines[0], lines
    assert not grammar_errors(lines[0], "zh")
    pained = prod.model_copy(update={"aspects": prod.aspects + [AspectPoints(aspect="痛点", points=["头皮出油"])]})
    first = narrate_storyline(NarrateInput(product=pained, beats=beats)).lines[0].text
    assert "头皮出油" in first and "挑选" not in first, first


def test_round_eighteen_rejections_are_not_said():
    """Seeds 311/313 (blind, both raters): "它原木黄，真的很不错。" (a colour's name is no predicate),
    "千兆网口，一眼就能看出来。", "点缀缎带蝴蝶结，一眼就能看出来。" (seen at a glance: a colour, a pattern, a
    design, not a part), "限时好礼给你答案。" (an answer to no question), "是不是总被头痒问题困扰？其实解决起来
    并不难。每天都离不开它。" (它 of nothing: the product was never named)."""
    from tools.narrate.adapt import _NEEDS_CONTEXT_ZH, AT_A_GLANCE_ZH, StoryState
    from tools.narrate.frames import fill_frame, parse_template, typed_facts
    from tools.narrate.narrator import _has_referent
    from tools.narrate.templates import generic_frames

    facts = typed_facts([("外观", "原木黄", 1.0), ("外观", "时尚稳固", 1.0)], "zh")
    said = [f.text for f in fill_frame(parse_template("t", "它{fact:look:ap}，真的很不错。", None, "zh"), facts, set(), ["它"], "zh",
                                       limit=5)]
    assert said and "它原木黄，真的很不错。" not in said, said
    assert not AT_A_GLANCE_ZH.search("千兆网口") and not AT_A_GLANCE_ZH.search("点缀缎带蝴蝶结")
    assert AT_A_GLANCE_ZH.search("莫兰迪配色") and AT_A_GLANCE_ZH.search("雾霾蓝") and AT_A_GLANCE_ZH.search("镂空设计")
    assert _NEEDS_CONTEXT_ZH.search("限时好礼给你答案。")
    # seeds 317/331: "Colorkey唇釉，不明确。" (a listing's empty field is no fact)
    assert not typed_facts([("外观", "不明确", 1.0), ("功效", "暂无", 1.0)], "zh")
    it = [f for f in generic_frames("zh") if "离不开它" in "".join(p for p in f.parts if isinstance(p, str))]
    assert it and not _has_referent(it[0], StoryState(), introduce=False)
    assert _has_referent(it[0], StoryState(), introduce=True) and _has_referent(it[0], StoryState(name_mentions=1), False)
