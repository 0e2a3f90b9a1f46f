"""The one label vocabulary (prompts/labels.yaml via tools.story.labels) and the label-sequence models."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tools.core.models import SCRIPT_LABELS, AspectPoints, ProductInfo
from tools.story.labels import (
    Clip,
    LabelModel,
    aspect_allowed,
    aspects_for_label,
    check_label,
    esync_clips,
    label_for_aspect,
    label_from_words,
    label_sequences,
    labels_needing_facts,
    learn_label_stats,
    load_label_stats,
    predict_labels,
    vocabulary,
)


def test_vocabulary_is_script_labels():
    from prompts import load_labels

    v = vocabulary()
    assert tuple(v.labels) == SCRIPT_LABELS
    assert tuple(lab["zh"] for lab in load_labels()) == SCRIPT_LABELS
    assert sorted(v.word_order) == sorted(SCRIPT_LABELS)
    assert set(v.aspect_cue_order) <= set(SCRIPT_LABELS)


@pytest.mark.parametrize("label", SCRIPT_LABELS)
def test_chat_words_map_back_to_their_label(label):
    info = vocabulary().labels[label]
    assert info.words_zh and info.words_en, f"{label} needs chat words in zh and en"
    for w in info.words_zh + info.words_en:
        assert label_from_words(w) == label, (w, label_from_words(w))
        assert label_from_words(f"make line 2 {w.upper()} please") == label
    # the label's own names are chat words too
    assert label_from_words(label) == label
    assert label_from_words(info.en) == label


def test_label_from_words_in_edit_requests():
    assert label_from_words("rewrite line 2 as a call to action") == "引导购买"
    assert label_from_words("第二句改成痛点") == "痛点铺垫"
    assert label_from_words("line 3: pain point") == label_from_words("line 3: painpoint") == "痛点铺垫"
    assert label_from_words("第3句讲试用效果") == "产品功效"  # first match in word_order
    assert label_from_words("make it shorter") is None


@pytest.mark.parametrize("label", [lab for lab in SCRIPT_LABELS if vocabulary().labels[lab].aspect_cues])
def test_aspect_cues_map_back_to_their_label(label):
    for cue in vocabulary().labels[label].aspect_cues:
        assert label_for_aspect(cue) == label, cue


def test_label_for_aspect():
    assert label_for_aspect("活动优惠") == "引导购买"
    assert label_for_aspect("Material") == "质地/成分/材质"
    assert label_for_aspect("使用效果") == "产品功效"  # 产品功效 is tried before 产品试用
    assert label_for_aspect("品牌故事") == "其他/通用卖点"


def test_aspects_for_label_and_reserved_aspects():
    p = ProductInfo(name="x", language="zh", aspects=[
        AspectPoints(aspect=a, points=["y"]) for a in ("痛点", "功效", "成分/材质", "活动优惠")])
    assert aspects_for_label(p, "质地/成分/材质") == ["成分/材质"]
    assert aspects_for_label(p, "产品推荐+引导购买") == ["功效", "活动优惠"]
    assert aspects_for_label(p, "产品推荐", hint="痛点")[0] == "痛点"
    assert not aspect_allowed("痛点", "产品功效") and aspect_allowed("痛点", "痛点铺垫")
    assert aspect_allowed("活动优惠", "其他/通用卖点") and not aspect_allowed("promotion", "外观设计")
    assert aspect_allowed("功效", "产品功效") and aspect_allowed("痛点", "")
    assert labels_needing_facts() == {"鉴定展示", "安全认证", "生产过程"}


def test_check_label():
    assert check_label("产品推荐+产品功效") == "产品推荐+产品功效"
    with pytest.raises(ValueError, match="unknown script label"):
        check_label("不存在")


def _video(vid: str, labels: list[str | None]) -> SimpleNamespace:
    clips = [SimpleNamespace(index=i, n_clips=len(labels), label=lab, text="一二三四五" * (i + 1))
             for i, lab in enumerate(labels)]
    return SimpleNamespace(id=vid, product=SimpleNamespace(name=vid), clips=clips)


def test_label_sequences_feed_both_models():
    vids = [_video("a", ["产品推荐", "产品功效", "引导购买"]), _video("b", ["产品推荐", None, "引导购买"])]
    clips = esync_clips(vids)
    assert [len(s) for s in label_sequences(clips)] == [3, 2]  # unlabelled clip skipped
    assert [len(s) for s in label_sequences(clips, complete=True)] == [3]  # incomplete video dropped
    stats = learn_label_stats(vids)
    assert stats["n_videos"] == 1 and stats["labels"] == list(SCRIPT_LABELS)
    lm = LabelModel(clips)
    assert lm.prior["产品推荐"] == 2 and lm.prev["引导购买"]["产品功效"] == 1
    assert lm.prev["引导购买"]["产品推荐"] == 1  # b: the unlabelled clip is skipped, not a break
    assert LabelModel([Clip(video="v", clip=0, n_clips=1, label="产品推荐+产品功效", text="好")]).prior["产品功效"] == 0.5


def test_shipped_statistics_are_learned_from_dev(esync_dev):
    """The solver's Markov statistics and the narrator's naive Bayes read the same labelled videos:
    learning from dev.json reproduces label_stats.json, and the naive Bayes learned from dev.json
    equals the one learned from the narrator's corpus (built from dev.json)."""
    from tools.narrate.corpus import default_corpus
    from tools.story.esync import load_esync

    vids = load_esync(esync_dev)
    learned, shipped = learn_label_stats(vids), load_label_stats()
    assert {k: v for k, v in learned.items() if k != "note"} == {k: v for k, v in shipped.items() if k != "note"}
    a, b = LabelModel(esync_clips(vids)), LabelModel(default_corpus("zh").lines)
    assert (a.prior, a.pos, a.prev, a.len) == (b.prior, b.pos, b.prev, b.len)
    assert predict_labels(6, shipped)[0] == "产品推荐"
