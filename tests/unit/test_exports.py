"""Editable exports (OTIO, FCP X XML, FCP 7 / Premiere XML, Jianying/CapCut draft, SRT, JSON), each
read back by an independent route — the OpenTimelineIO adapters for the XML files, the draft's
``draft_content.json`` parsed as plain JSON — and checked against the timeline: tracks, every
clip's start, length and in point in whole frames, subtitle texts, still motion and transitions.

The timeline has lengths that are not whole frames at 30 fps, a crossfade, a video clip with an
in point, overlapping voice lines and music shorter than the video (looped), so rounding and
trimming show."""

from __future__ import annotations

import json
import subprocess
import zipfile
from itertools import pairwise
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from tools.core.errors import ToolInputError
from tools.core.models import MusicClip, RenderSpec, SubtitleCue, Timeline, VideoClip, VoiceClip
from tools.core.workspace import Workspace
from tools.render.brand import BrandStyle
from tools.render.exports import EXPORT_FORMATS, transition_frames_for, write_exports, zip_draft

FPS = 30


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Timeline]:
    import cv2

    ws = Workspace(tmp_path_factory.mktemp("ws_exports"))
    d = ws.inside("mat")
    d.mkdir()
    for i, c in enumerate([(30, 30, 220), (40, 200, 40), (220, 60, 40)]):
        img = np.zeros((400, 300 + 100 * i, 3), np.uint8)
        img[:] = c
        cv2.imwrite(str(d / f"still{i}.png"), img)
    img = np.zeros((60, 160, 4), np.uint8)
    img[..., 2], img[..., 3] = 255, 255
    cv2.imwrite(str(d / "logo.png"), img)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=320x240:r=30:d=5", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(d / "clip.mp4")], check=True)
    for k, dur in enumerate((1.4, 2.05, 1.2)):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={300 + 50 * k}:sample_rate=48000:duration={dur}",
                        str(d / f"voice{k}.wav")], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000:duration=3",
                    str(d / "music.wav")], check=True)
    shots = [("mat/still0.png", True, 0.0, 1.7, "zoom_in", "cut"), ("mat/clip.mp4", False, 1.25, 2.35, "none", "cut"),
             ("mat/still1.png", True, 0.0, 1.0333, "pan_right", "crossfade"), ("mat/still2.png", True, 0.0, 2.0, "zoom_out", "crossfade")]
    video, t = [], 0.0
    for k, (p, still, in_s, dur, motion, tr) in enumerate(shots):
        video.append(VideoClip(beat_index=k, material_id=f"m{k}", source_path=p, is_still=still, in_s=in_s, start_s=round(t, 6),
                               duration_s=dur, motion=motion, transition_in=tr))
        t += dur
    total = round(t, 6)
    voice = [VoiceClip(beat_index=0, audio_path="mat/voice0.wav", start_s=0.12, duration_s=1.4),
             VoiceClip(beat_index=1, audio_path="mat/voice1.wav", start_s=1.45, duration_s=2.05),  # overlaps the first line
             VoiceClip(beat_index=3, audio_path="mat/voice2.wav", start_s=5.3, duration_s=1.2)]
    subs = [SubtitleCue(start_s=0.12, end_s=1.52, text="第一句\n两行字幕"), SubtitleCue(start_s=1.52, end_s=3.5, text="Second line, English"),
            SubtitleCue(start_s=5.3, end_s=6.5, text="最后一句：立即抢购")]
    tl = Timeline(job_id="20260101-000000-abcdef", duration_s=total, render=RenderSpec(aspect="9:16", resolution_p=720), language="zh",
                  video=video, voice=voice, subtitles=subs,
                  music=[MusicClip(path="mat/music.wav", offset_s=0.5, duration_s=total, gain_db=-12.0)])
    return ws, tl


def _frames(tl: Timeline) -> list[tuple[int, int]]:
    """(start, length) of each video clip in frames, by the renderer's rule."""
    starts = [round(c.start_s * FPS) for c in tl.video] + [round(tl.duration_s * FPS)]
    return [(starts[k], starts[k + 1] - starts[k]) for k in range(len(tl.video))]


def _voice_frames(tl: Timeline) -> list[tuple[int, int]]:
    out, t = [], 0
    for v in tl.voice:
        s, d = round(v.start_s * FPS), round(v.duration_s * FPS)
        if s < t:
            d, s = d - (t - s), t
        out.append((s, d))
        t = s + d
    return out


@pytest.fixture(scope="module")
def exported(job: tuple[Workspace, Timeline]) -> dict[str, Path]:
    ws, tl = job
    return write_exports(tl, ws, ws.inside("jobs", tl.job_id, "exports"), EXPORT_FORMATS,
                         brand=BrandStyle(logo_path="mat/logo.png", logo_corner="top-left", subtitle_colour="#FF3B30",
                                          outline_colour="#FFD60A"))


def _items(track) -> list:  # type: ignore[no-untyped-def]
    return [i for i in track if isinstance(i, otio.schema.Clip)]


def test_transition_frames_follow_the_renderer_rule(job: tuple[Workspace, Timeline]) -> None:
    _, tl = job
    # 0.4 s at 30 fps = 12 frames, at most the previous shot's length − 1
    assert transition_frames_for(tl) == {2: 12, 3: 12}


@pytest.mark.parametrize("fmt", ["otio", "fcp7xml", "fcpxml"])
def test_otio_adapters_read_back_frame_exact(fmt: str, job: tuple[Workspace, Timeline], exported: dict[str, Path]) -> None:
    _, tl = job
    back = otio.adapters.read_from_file(str(exported[fmt]))
    video = [t for t in back.tracks if t.kind == otio.schema.TrackKind.Video]
    audio = [t for t in back.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert len(audio) == 2  # voice-over and music on their own tracks
    assert len(video) == (2 if fmt == "fcp7xml" else 1)  # FCP 7 carries the subtitles as a text track
    v1 = max(video, key=lambda t: sum(isinstance(i, otio.schema.Clip) and "mat/" in str(getattr(i.media_reference, "target_url", ""))
                                       for i in t))
    clips = _items(v1)
    want = _frames(tl)
    assert [(c.range_in_parent().start_time.to_frames(), c.source_range.duration.to_frames()) for c in clips] == want
    # the clip's in point in its file: 1.25 s for the video clip, the pre-roll for stills after a crossfade
    pre = transition_frames_for(tl) if fmt != "fcpxml" else {}
    assert [c.source_range.start_time.to_frames() for c in clips] == [0, round(1.25 * FPS), pre.get(2, 0), pre.get(3, 0)]
    assert all(c.source_range.start_time.rate == FPS for c in clips)
    transitions = [i for i in v1 if isinstance(i, otio.schema.Transition)]
    assert [t.in_offset.to_frames() for t in transitions] == ([] if fmt == "fcpxml" else [12, 12])
    voice = next(t for t in audio if len(_items(t)) == len(tl.voice))
    assert [(c.range_in_parent().start_time.to_frames(), c.source_range.duration.to_frames()) for c in _items(voice)] == _voice_frames(tl)
    music = next(t for t in audio if t is not voice)
    (m,) = _items(music)
    assert (m.range_in_parent().start_time.to_frames(), m.source_range.start_time.to_frames(), m.source_range.duration.to_frames()) == \
        (0, 15, round(tl.duration_s * FPS))
    # subtitles: markers (OTIO, FCP X: on the clips, in source time) or a Text track (FCP 7)
    if fmt == "fcp7xml":
        t1 = next(t for t in video if t is not v1)
        texts = [c.media_reference.metadata["fcp_xml"]["parameter"]["value"] for c in _items(t1)]
        spans = [(c.range_in_parent().start_time.to_frames(), c.range_in_parent().end_time_exclusive().to_frames()) for c in _items(t1)]
        assert spans == [(round(c.start_s * FPS), round(c.end_s * FPS)) for c in tl.subtitles]
        # the stills' Ken Burns moves as Basic Motion keyframes (the video clip has none)
        motions = [[e.metadata["fcp_xml"]["parameter"][0]["keyframe"] for e in c.effects] for c in clips]
        assert motions[1] == []
        zoom_in = motions[0][0]
        assert [(k["when"], k["value"]) for k in zoom_in] == [("0", "100"), (str(want[0][1] - 1), "115")]
    elif fmt == "fcpxml":
        texts, spans = [], []
        for c in clips:
            for mk in c.markers:
                texts.append(mk.name)
                spans.append(c.range_in_parent().start_time.to_frames() + mk.marked_range.start_time.to_frames()
                             - c.source_range.start_time.to_frames())
        assert spans == [round(c.start_s * FPS) for c in tl.subtitles]
        # a marker holds one line in FCP X: a row break reads back as a space
        assert texts == [c.text.replace("\n", " ") for c in tl.subtitles]
        texts = [c.text for c in tl.subtitles]
    else:
        texts = [mk.name for mk in v1.markers]
    assert texts == [c.text for c in tl.subtitles]


def test_jianying_draft_parsed_back(job: tuple[Workspace, Timeline], exported: dict[str, Path]) -> None:
    _, tl = job
    folder = exported["jianying"]
    draft = json.loads((folder / "draft_content.json").read_text(encoding="utf-8"))  # plaintext JSON, not encrypted
    assert (folder / "draft_meta_info.json").is_file()
    assert (draft["fps"], draft["canvas_config"]["width"], draft["canvas_config"]["height"]) == (FPS, 720, 1280)
    assert draft["duration"] == round(round(tl.duration_s * FPS) * 1e6 / FPS)
    by_name = {t["name"]: t for t in draft["tracks"]}
    assert sorted((t["type"], t["name"]) for t in draft["tracks"]) == [
        ("audio", "A1 voice"), ("audio", "A2 music"), ("text", "T1 subtitles"), ("video", "V1 shots"), ("video", "V2 logo")]

    def frames(seg: dict, key: str = "target_timerange") -> tuple[int, int]:
        r = seg[key]
        s, e = r["start"], r["start"] + r["duration"]
        f0, f1 = round(s * FPS / 1e6), round(e * FPS / 1e6)
        # exact: microseconds are the frame boundaries themselves, not approximately near them
        assert (s, e) == (round(f0 * 1e6 / FPS), round(f1 * 1e6 / FPS))
        return f0, f1 - f0

    v1 = by_name["V1 shots"]["segments"]
    assert [frames(s) for s in v1] == _frames(tl)
    assert [frames(s, "source_timerange")[0] for s in v1] == [0, round(1.25 * FPS), 0, 0]
    mats = {m["id"]: m for m in draft["materials"]["videos"]}
    paths = [Path(mats[s["material_id"]]["path"]) for s in v1]
    assert all(p.is_file() and folder / "media" in p.parents for p in paths)  # the media travel with the draft
    assert [mats[s["material_id"]]["type"] for s in v1] == ["photo", "video", "photo", "photo"]
    # stills move (scale / position keyframes), the video clip does not
    kf = [{k["property_type"] for k in s.get("common_keyframes", [])} for s in v1]
    assert kf[1] == set() and all(kf[i] for i in (0, 2, 3))
    assert "KFTypePositionX" in kf[2]
    assert len(draft["materials"]["transitions"]) == 2  # the two crossfades
    assert [frames(s) for s in by_name["A1 voice"]["segments"]] == _voice_frames(tl)
    # music shorter than the video: looped as consecutive segments that fill it exactly
    mus = [frames(s) for s in by_name["A2 music"]["segments"]]
    assert mus[0][0] == 0 and sum(n for _, n in mus) == round(tl.duration_s * FPS)
    assert all(a[0] + a[1] == b[0] for a, b in pairwise(mus))
    assert [frames(s, "source_timerange")[0] for s in by_name["A2 music"]["segments"]] == [15] + [0] * (len(mus) - 1)
    texts = {t["id"]: json.loads(t["content"]) for t in draft["materials"]["texts"]}
    subs = by_name["T1 subtitles"]["segments"]
    assert [texts[s["material_id"]]["text"] for s in subs] == [c.text for c in tl.subtitles]
    assert [frames(s) for s in subs] == [(round(c.start_s * FPS), round(c.end_s * FPS) - round(c.start_s * FPS)) for c in tl.subtitles]
    fill = texts[subs[0]["material_id"]]["styles"][0]["fill"]["content"]["solid"]["color"]
    assert np.allclose(fill, [1.0, 0x3B / 255, 0x30 / 255], atol=1e-3)  # the brand's subtitle colour
    logo = by_name["V2 logo"]["segments"][0]
    assert logo["clip"]["transform"]["x"] < 0 < logo["clip"]["transform"]["y"]  # top-left corner


def test_zip_and_side_files(job: tuple[Workspace, Timeline], exported: dict[str, Path]) -> None:
    _, tl = job
    z = zip_draft(exported["jianying"])
    with zipfile.ZipFile(z) as f:
        names = f.namelist()
    top = exported["jianying"].name
    assert f"{top}/draft_content.json" in names and any(n.startswith(f"{top}/media/") for n in names)
    assert "第一句" in exported["srt"].read_text(encoding="utf-8")
    assert Timeline.model_validate_json(exported["json"].read_text(encoding="utf-8")) == tl


def test_bad_requests_are_clear(job: tuple[Workspace, Timeline], tmp_path: Path) -> None:
    ws, tl = job
    with pytest.raises(ToolInputError, match="unknown export format") as e:
        write_exports(tl, ws, ws.inside("x"), ["otio", "avid"])
    assert "fcpxml" in (e.value.hint or "")
    with pytest.raises(ToolInputError, match="inside the workspace"):
        write_exports(tl, ws, tmp_path / "outside", ["otio"])
    with pytest.raises(ToolInputError, match="not a Jianying draft"):
        zip_draft(ws.inside("mat"))
