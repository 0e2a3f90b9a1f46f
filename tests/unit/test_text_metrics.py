"""Narration metrics: known values, invariants, and the dev.json reference points of the baselines."""

from __future__ import annotations

import pytest

from tools.narrate.metrics import (
    bleu,
    cider_d,
    info_scores,
    intra_story_repetition,
    label_accuracy,
    story_repetition,
    tokenize,
    word_length_accuracy,
)


def test_word_length_accuracy_counts_chars_without_whitespace():
    assert word_length_accuracy(["一二 三", "一二三四五"], [(3, 3), (1, 4)], "zh") == 0.5
    assert word_length_accuracy(["one two three"], [(3, 3)], "en") == 1.0


def test_label_accuracy_exact_and_hit():
    acc = label_accuracy(["产品功效", "产品推荐", "引导购买"], ["产品功效", "产品推荐+引导购买", "外观设计"])
    assert acc["exact"] == pytest.approx(1 / 3)
    assert acc["hit"] == pytest.approx(2 / 3)


def test_repetition_known_story():
    # words ≥ 2 chars: line1 {苹果, 好吃}; line2 {苹果, 便宜}: 1 of 4 multi-char words repeats
    toks = [w for w in tokenize("苹果好吃") if len(w) >= 2]
    assert toks == ["苹果", "好吃"]
    assert story_repetition(["苹果好吃", "苹果便宜"]) == pytest.approx(0.25)
    assert story_repetition(["苹果", "苹果", "苹果"]) == pytest.approx(2 / 3)
    assert intra_story_repetition([["苹果好吃"], ["苹果", "苹果"]]) == pytest.approx(0.25)


def test_bleu_identity_and_disjoint():
    ref = [["这", "款", "面霜", "很", "好用"], ["价格", "很", "便宜", "快", "来", "买"]]
    assert bleu(ref, ref)[3] == pytest.approx(1.0, abs=1e-6)
    assert bleu([["完全", "无关", "的", "词", "语"]] * 2, ref)[0] < 0.2


def test_cider_d_orders_hypotheses_and_penalises_length():
    refs = [["飞利浦", "电动牙刷", "清洁", "力", "超强"], ["面霜", "质地", "轻薄", "好", "吸收"], ["现在", "下单", "立减", "五十", "元"]]
    same = cider_d(refs, refs)
    partial = cider_d([["飞利浦", "电动牙刷", "很", "好", "用"], ["面霜", "质地", "不错", "呀", "哦"], ["现在", "下单", "吧", "朋友", "们"]], refs)
    none = cider_d([["一", "二", "三", "四", "五"]] * 3, refs)
    longer = cider_d([r + ["啊"] * 12 for r in refs], refs)
    assert same > partial > none == 0.0
    assert same > longer  # gaussian length penalty (σ = 6)
    assert same == pytest.approx(10.0 * (1 + 1 + 1 + 1) / 4 * 1.0, rel=1e-6)  # cos = 1 for every n, ×10


def test_info_scores_cover_verbatim_points():
    pts = [["美白", "烟酰胺", "保湿"]]
    s = info_scores([["这款面霜很保湿，还能美白"]], pts, [4.0])
    assert s["info_diverse"] == pytest.approx(2 / 4.0)  # two of three points voiced in a 4 s story
    off = info_scores([["今天天气真好"]], pts, [4.0])
    assert off["info_diverse"] == 0.0
    assert 0 <= off["info_sim"] < s["info_sim"] <= 1


def test_dev_reference_points(esync_dev):
    """README reference: name filling → CIDEr ≈ 24.8, BLEU-4 ≈ 1.5, repetition ≈ 79 %; humans ≈ 12 %."""
    from tools.story.esync import load_esync
    from tools.narrate.bench import name_fill

    videos = load_esync(esync_dev)
    refs = [[c.text for c in v.clips] for v in videos]
    hyp = [[name_fill(v.product.name, c.word_min, c.word_max) for c in v.clips] for v in videos]
    H = [tokenize(t) for st in hyp for t in st]
    R = [tokenize(t) for st in refs for t in st]
    assert 100 * cider_d(H, R) == pytest.approx(24.8, abs=0.6)
    assert 100 * bleu(H, R)[3] == pytest.approx(1.5, abs=0.15)
    assert 100 * intra_story_repetition(hyp) == pytest.approx(79, abs=1.5)
    assert 100 * intra_story_repetition(refs) == pytest.approx(12, abs=1.0)
