"""Text normalisation before speech (tools/narrate/speech_text.py): every class in both languages,
and the subtitle keeps the written form."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.core.models import NarrationLine
from tools.narrate.speech_text import script_runs, spoken_form, to_pinyin


@dataclass(frozen=True)
class Case:
    written: str
    spoken: str


ZH = [
    pytest.param(Case("只要289元", "只要二百八十九元"), id="zh-price-yuan"),
    pytest.param(Case("到手价¥199包邮", "到手价一百九十九元包邮"), id="zh-price-sign"),
    pytest.param(Case("仅需29.9元", "仅需二十九点九元"), id="zh-price-decimal"),
    pytest.param(Case("今天立减20%", "今天立减百分之二十"), id="zh-percent"),
    pytest.param(Case("全场8折", "全场八折"), id="zh-discount"),
    pytest.param(Case("50ml小样", "五十毫升小样"), id="zh-unit-ml"),
    pytest.param(Case("容量1.5L", "容量一点五升"), id="zh-unit-decimal"),
    pytest.param(Case("5000mAh大电池", "五千毫安时大电池"), id="zh-unit-mah"),
    pytest.param(Case("2024-11-11零点开抢", "二零二四年十一月十一日零点开抢"), id="zh-date-iso"),
    pytest.param(Case("11月11日发货", "十一月十一日发货"), id="zh-date-month-day"),
    pytest.param(Case("双11狂欢", "双十一狂欢"), id="zh-date-double-eleven"),
    pytest.param(Case("11.11当天", "双十一当天"), id="zh-date-11.11"),
    pytest.param(Case("ODT1新款", "O D T一新款"), id="zh-code-short"),
    pytest.param(Case("RTX4090显卡", "R T X四零九零显卡"), id="zh-code-long-digits"),
    pytest.param(Case("SPF50防晒", "S P F五十防晒"), id="zh-code-spf"),
    pytest.param(Case("买2送1", "买二送一"), id="zh-plain-numbers"),
    pytest.param(Case("2件更划算", "两件更划算"), id="zh-liang-before-measure-word"),
    pytest.param(Case("第3代", "第三代"), id="zh-ordinal"),
]

EN = [
    pytest.param(Case("Only $29.99 today", "Only twenty-nine ninety-nine today"), id="en-price-cents"),
    pytest.param(Case("Just $5", "Just five dollars"), id="en-price-whole"),
    pytest.param(Case("from ¥289", "from two hundred eighty-nine yuan"), id="en-price-yuan"),
    pytest.param(Case("20% off", "twenty percent off"), id="en-percent"),
    pytest.param(Case("a 50ml bottle", "a fifty milliliters bottle"), id="en-unit-ml"),
    pytest.param(Case("lasts 24h", "lasts twenty-four hours"), id="en-unit-hours"),
    pytest.param(Case("The 15-lb ball", "The fifteen-pound ball"), id="en-unit-compound-adjective"),
    pytest.param(Case("5 in 1 design", "five in one design"), id="en-unit-ambiguous-in-not-a-unit"),
    pytest.param(Case("Sale ends Nov 11", "Sale ends November eleventh"), id="en-date-month-day"),
    pytest.param(Case("Ships 2024-11-11", "Ships November eleventh, twenty twenty-four"), id="en-date-iso"),
    pytest.param(Case("made in 2019", "made in twenty nineteen"), id="en-year"),
    pytest.param(Case("the ODT1 is here", "the O D T one is here"), id="en-code-short"),
    pytest.param(Case("an X4090 card", "an X forty ninety card"), id="en-code-four-digits"),
    pytest.param(Case("the 3rd generation", "the third generation"), id="en-ordinal"),
    pytest.param(Case("1,299 reviews", "one thousand two hundred ninety-nine reviews"), id="en-thousands"),
    pytest.param(Case("2x faster", "two times faster"), id="en-times"),
]


@pytest.mark.parametrize("case", ZH)
def test_chinese_lines_are_spoken_as_a_person_says_them(case: Case) -> None:
    assert spoken_form(case.written, "zh") == case.spoken


@pytest.mark.parametrize("case", EN)
def test_english_lines_are_spoken_as_a_person_says_them(case: Case) -> None:
    assert spoken_form(case.written, "en") == case.spoken


def test_latin_brand_names_inside_chinese_go_to_an_english_voice() -> None:
    runs = script_runs(spoken_form("这款iPhone壳采用SPF50防晒", "zh"))
    assert runs == [("zh", "这款"), ("en", "iPhone"), ("zh", "壳采用"), ("en", "S P F"), ("zh", "五十防晒")]
    assert script_runs("纯中文，没有拉丁字母。") == [("zh", "纯中文，没有拉丁字母。")]


def test_text_without_numbers_is_unchanged() -> None:
    assert spoken_form("Rich aroma and a smooth sweet finish.", "en") == "Rich aroma and a smooth sweet finish."
    assert spoken_form("香气浓郁，回甘明显。", "zh") == "香气浓郁，回甘明显。"


def test_pinyin_makes_espeak_speak_mandarin_not_english_tone_digits() -> None:
    """Debian's espeak-ng 1.51 reads 今天 as "jin one tian one" with its cmn voice; tone-numbered
    pinyin through cmn-latn-pinyin gives Mandarin phonemes with no switch to English."""
    py = to_pinyin("今天的天气很好，买二送一！")
    assert py == "jin1 tian1 de5 tian1 qi4 hen3 hao3, mai3 er4 song4 yi1!"
    trace = subprocess.run(["espeak-ng", "-q", "-x", "-v", "cmn-latn-pinyin", py], capture_output=True, text=True, check=True).stdout
    assert "(en)" not in trace and "55" in trace  # tone contours, no English


def test_subtitle_keeps_the_written_form(tmp_path: Path) -> None:
    from tools.narrate.tts import SynthesizeInput, synthesize_speech
    from tools.render.subtitles import cues_for_line

    line = NarrationLine(beat_index=0, label="引导购买", text="今天只要289元，立减20%！", language="zh", word_min=1, word_max=20)
    out = synthesize_speech(SynthesizeInput(lines=[line], max_durations_s=[6.0], out_dir="voice"))
    assert out.clips[0].spoken == "今天只要二百八十九元，立减百分之二十！"
    assert line.text == "今天只要289元，立减20%！"
    cues = cues_for_line(line.text, "zh", "9:16", 0.0, out.clips[0].duration_s)
    shown = "".join(c.text for c in cues)
    assert "289元" in shown and "20%" in shown and "二百" not in shown
