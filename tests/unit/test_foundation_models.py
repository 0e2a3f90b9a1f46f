"""Domain models: JSON round-trips, units, validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tools.core import models as m


def _timeline() -> m.Timeline:
    return m.Timeline(
        job_id="20261123-101500-a1b2c3", duration_s=5.0, render=m.RenderSpec(aspect="1:1", resolution_p=1080),
        video=[m.VideoClip(beat_index=0, material_id="a" * 16, source_path="p/a.jpg", is_still=True, in_s=0, start_s=0, duration_s=2, motion="zoom_in", source_aspect=1.5),
               m.VideoClip(beat_index=1, material_id="b" * 16, source_path="p/b.mp4", is_still=False, in_s=1.5, start_s=2, duration_s=3)],
        voice=[m.VoiceClip(beat_index=0, audio_path="j/v.wav", start_s=0.1, duration_s=1.5)],
        music=[m.MusicClip(path="/x/song.ogg", duration_s=5)],
        subtitles=[m.SubtitleCue(start_s=0.1, end_s=1.6, text="你好")],
        narration=[m.NarrationLine(beat_index=0, label="产品推荐+引导购买", text="好用 又实惠", language="zh", word_min=2, word_max=8)],
    )


EXAMPLES = [
    m.ProductInfo(name="Bag", language="en", aspects=[m.AspectPoints(aspect="material", points=["canvas", "leather"])]),
    m.Material(id="0123456789abcdef", kind="video", original_name="a.mp4", path="products/x/materials/a.mp4", size_bytes=10, width_px=640, height_px=360, duration_s=3.5, fps=25.0, has_audio=True, quality={"blur": 0.5}),
    m.Shot(id="s:0", material_id="0123456789abcdef", start_s=0.5, end_s=2.25, scores={"aesthetics": 0.7}),
    m.MusicAnalysis(path="a.ogg", duration_s=10, tempo_bpm=120, beats_s=[0.5, 1.0], downbeats_s=[0.5], bars_s=[0.5, 2.5, 4.5], emotion="excited", valence=0.6, arousal=0.8),
    m.Storyline(beats=[m.StoryBeat(index=0, shot_id="s:0", material_id="m", in_s=0, out_s=2, duration_s=2, label="痛点铺垫", word_min=7, word_max=13)]),
    m.BriefSpec(duration_s=15, aspect="9:16", mood="excited", emphasis=["texture"], raw="15 s"),
    m.Job(id="20261123-101500-a1b2c3", product_id="bag-1234abcd"),
    _timeline(),
]


@pytest.mark.parametrize("obj", EXAMPLES, ids=lambda o: type(o).__name__)
def test_json_round_trip_is_lossless(obj: m.Model) -> None:
    again = type(obj).model_validate_json(obj.model_dump_json())
    assert again == obj
    assert again.model_dump_json() == obj.model_dump_json()


@pytest.mark.parametrize(("aspect", "res", "wh"), [("9:16", 720, (720, 1280)), ("9:16", 1080, (1080, 1920)), ("1:1", 720, (720, 720)), ("16:9", 1080, (1920, 1080))])
def test_render_spec_sizes(aspect: str, res: int, wh: tuple[int, int]) -> None:
    spec = m.RenderSpec(aspect=aspect, resolution_p=res)  # type: ignore[arg-type]
    assert (spec.width_px, spec.height_px) == wh


def test_word_count_rules() -> None:
    assert m.count_words("没错， 飞利浦 电动牙刷！", "zh") == 11  # punctuation counts, whitespace does not
    assert m.count_words("Tear open, pour   hot water.", "en") == 5


def test_unknown_label_and_unknown_field_are_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown script label"):
        m.NarrationLine(beat_index=0, label="促销", text="x", language="zh", word_min=0, word_max=3)
    with pytest.raises(ValidationError):
        m.RenderSpec.model_validate({"aspect": "9:16", "resolutoin_p": 720})


def test_timeline_rejects_gaps() -> None:
    tl = _timeline().model_dump()
    tl["video"][1]["start_s"] = 2.5
    with pytest.raises(ValidationError, match="gap/overlap"):
        m.Timeline.model_validate(tl)


def test_bar_duration_is_mean_bar() -> None:
    ma = m.MusicAnalysis(path="a", duration_s=9, tempo_bpm=120, bars_s=[0.0, 2.0, 4.1, 6.0])
    assert ma.bar_s == pytest.approx(2.0)


@pytest.mark.parametrize(("stream", "wh"), [
    ({"width": 640, "height": 360}, (640, 360)),
    ({"width": 640, "height": 360, "tags": {"rotate": "90"}}, (360, 640)),            # older files
    ({"width": 640, "height": 360, "side_data_list": [{"rotation": -90}]}, (360, 640)),  # display matrix
    ({"width": 640, "height": 360, "side_data_list": [{"rotation": 180}]}, (640, 360)),
])
def test_display_size_after_rotation(stream: dict, wh: tuple[int, int]) -> None:
    from tools.core.media import display_size

    assert display_size(stream) == wh
