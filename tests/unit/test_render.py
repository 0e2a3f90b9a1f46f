"""Render engine: frame-accurate cuts through cut/crossfade/slide, exact frame count, audio as long as
video, loudness at −14 LUFS, incremental re-render, reframing, subtitle placement, OTIO export and the
output checks. Small synthetic media at 1:1 720p so the whole file runs in well under a minute."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tools.core.errors import InternalError, ToolInputError
from tools.core.models import MusicClip, RenderSpec, SubtitleCue, Timeline, VideoClip, VoiceClip
from tools.render.reframe import Box, decide, reframe_image
from tools.render.engine import check_output, render
from tools.render.subtitles import to_ass
from tools.core.workspace import Workspace

FPS = 30
#: Distinct, saturated colours (RGB) one per shot, far apart so blends and cuts are unambiguous.
COLOURS = [(230, 30, 30), (30, 200, 40), (40, 60, 230), (240, 220, 30), (200, 40, 200)]


def _decode(path: Path, side: int = 16) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", f"scale={side}:{side}", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, side, side, 3).astype(np.float32)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import cv2

    d = tmp_path_factory.mktemp("render_media")
    for i, c in enumerate(COLOURS):
        img = np.zeros((400, 500 if i % 2 else 300, 3), np.uint8)  # mixed aspects: landscape and portrait stills
        img[:] = c[::-1]
        cv2.imwrite(str(d / f"still{i}.png"), img)
    r, g, b = COLOURS[4]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=0x{r:02x}{g:02x}{b:02x}:s=320x240:r=30:d=4",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(d / "clip4.mp4")], check=True)
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(d / "voice.wav"), "Fresh colours for every day"], check=True, capture_output=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:duration=2",
                    "-af", "volume=0.3", str(d / "music.wav")], check=True)
    return d


def _workspace(media: Path, root: Path) -> Workspace:
    ws = Workspace(root)
    mat = ws.inside("mat")
    if not mat.exists():
        shutil.copytree(media, mat)
    return ws


def _timeline(shots: list[tuple[str, float, str, str]], voice: bool = True, music: bool = True, subs: bool = True) -> Timeline:
    video, t = [], 0.0
    for k, (name, dur, transition, motion) in enumerate(shots):
        still = name.startswith("still")
        video.append(VideoClip(beat_index=k, material_id=name, source_path=f"mat/{name}", is_still=still, in_s=0.0 if still else 0.5,
                               start_s=round(t, 6), duration_s=dur, motion=motion if still else "none", transition_in=transition))  # type: ignore[arg-type]
        t += dur
    return Timeline(job_id="20250101-000000-abc123", duration_s=round(t, 6), render=RenderSpec(aspect="1:1", resolution_p=720, fps=FPS),
                    language="en", video=video,
                    voice=[VoiceClip(beat_index=0, audio_path="mat/voice.wav", start_s=0.3, duration_s=1.5)] if voice else [],
                    music=[MusicClip(path="mat/music.wav", duration_s=round(t, 6), gain_db=-12)] if music else [],
                    subtitles=[SubtitleCue(start_s=0.3, end_s=1.8, text="Fresh colours")] if subs else [])


SHOTS = [("still0.png", 0.8, "cut", "zoom_in"), ("still1.png", 0.7, "crossfade", "pan_left"),
         ("clip4.mp4", 0.6, "slide", "none"), ("still3.png", 0.5, "cut", "zoom_out")]
SHOT_COLOUR = [0, 1, 4, 3]


def _nearest(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: index of the nearest shot colour (over a central patch) and its distance."""
    centre = frames[:, 4:12, 4:12].reshape(len(frames), -1, 3).mean(axis=1)
    pal = np.array(COLOURS, np.float32)
    dist = np.linalg.norm(centre[:, None, :] - pal[None], axis=2)
    return dist.argmin(axis=1), dist.min(axis=1)


@pytest.fixture(scope="module")
def rendered(media: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    ws = _workspace(media, tmp_path_factory.mktemp("ws"))
    tl = _timeline(SHOTS)
    out = render(tl, ws, ws.inside("jobs", "a"), transition_s=0.2)
    return ws, tl, out


def test_cut_frames_exact_through_cut_crossfade_and_slide(rendered) -> None:  # type: ignore[no-untyped-def]
    ws, tl, out = rendered
    frames = _decode(Path(out.video_path))
    n = round(tl.duration_s * FPS)
    assert len(frames) == n == out.frames
    idx, dist = _nearest(frames)
    starts = [round(c.start_s * FPS) for c in tl.video] + [n]
    T = round(0.2 * FPS)
    for k, clip in enumerate(tl.video):
        own = SHOT_COLOUR[k]
        # from its cut frame to the start of the next transition the shot is fully on screen
        end = starts[k + 1] - (T if k + 1 < len(tl.video) and tl.video[k + 1].transition_in != "cut" else 0)
        assert (idx[starts[k]:end] == own).all(), (k, idx[starts[k]:end])
        assert dist[starts[k]:end].max() < 40, (k, dist[starts[k]:end])
        if k == 0:
            continue
        prev = SHOT_COLOUR[k - 1]
        if clip.transition_in == "cut":
            assert idx[starts[k] - 1] == prev and dist[starts[k] - 1] < 40  # hard cut exactly at the frame
        else:  # the overlap ends on the cut frame: the T frames before it mix both shots
            mix = frames[starts[k] - T: starts[k]]
            assert idx[starts[k] - T - 1] == prev and dist[starts[k] - T - 1] < 40
            assert not np.all(idx[starts[k] - T: starts[k]] == own) or dist[starts[k] - T: starts[k]].max() > 40, "transition frames should blend"
            assert len(mix) == T


def test_output_checks_durations_loudness_and_exports(rendered) -> None:  # type: ignore[no-untyped-def]
    ws, tl, out = rendered
    assert (out.width_px, out.height_px) == (720, 720)
    assert abs(out.duration_s - tl.duration_s) <= 1 / FPS
    assert out.audio_duration_s is not None and abs(out.audio_duration_s - out.frames / FPS) <= 1 / FPS
    assert out.loudness_lufs is not None and abs(out.loudness_lufs + 14) <= 1.5
    job = Path(out.video_path).parent
    assert (job / "subtitles.srt").read_text(encoding="utf-8").count("-->") == 1
    assert Timeline.model_validate_json((job / "timeline.json").read_text(encoding="utf-8")) == tl
    import cv2

    cover = cv2.imread(out.cover_path)
    assert cover is not None and cover.shape[:2] == (720, 720)
    # the cover is that frame of the video, taken from a shot's solo part (not a transition blend)
    assert out.cover_s is not None
    f = round(out.cover_s * FPS)
    frame = _decode(Path(out.video_path))[f]
    assert np.abs(cv2.resize(cover, (16, 16), interpolation=cv2.INTER_AREA)[..., ::-1].astype(np.float32) - frame).mean() < 12
    idx, dist = _nearest(_decode(Path(out.video_path)))
    assert dist[f] < 40
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", out.video_path],
                                     capture_output=True, text=True, check=True).stdout)
    v = info["streams"][0]
    assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p" and info["streams"][1]["codec_name"] == "aac"


def test_otio_export_reads_back(rendered) -> None:  # type: ignore[no-untyped-def]
    import opentimelineio as otio

    ws, tl, out = rendered
    back = otio.adapters.read_from_file(out.otio_path)
    v1 = back.tracks[0]
    clips = [c for c in v1 if isinstance(c, otio.schema.Clip)]
    trans = [c for c in v1 if isinstance(c, otio.schema.Transition)]
    assert len(clips) == len(tl.video) and len(trans) == 2
    assert sum(c.source_range.duration.to_frames() for c in clips) == out.frames  # transitions keep the length
    assert all(t.in_offset.to_frames() == round(0.2 * FPS) and t.out_offset.to_frames() == 0 for t in trans)
    assert clips[2].media_reference.target_url.endswith("clip4.mp4") and clips[2].source_range.start_time.to_frames() == 15
    assert [m.name for m in v1.markers] == ["Fresh colours"]
    assert {t.name for t in back.tracks} == {"V1", "A1 voice", "A2 music"}


def test_edit_of_one_shot_rerenders_only_its_segments(rendered) -> None:  # type: ignore[no-untyped-def]
    ws, tl, out = rendered
    again = render(tl, ws, ws.inside("jobs", "b"), transition_s=0.2)
    assert again.segments_rendered == 0 and again.segments_total == out.segments_total == 6
    edited = tl.model_copy(deep=True)
    edited.video[3].motion = "pan_right"  # last shot: its solo segment only (it is entered by a cut)
    e = render(edited, ws, ws.inside("jobs", "c"), transition_s=0.2)
    assert e.segments_rendered == 1
    edited2 = tl.model_copy(deep=True)
    edited2.video[1].motion = "zoom_in"  # middle shot between two transitions: solo + both transitions
    assert render(edited2, ws, ws.inside("jobs", "d"), transition_s=0.2).segments_rendered == 3
    a, b = _decode(Path(out.video_path)), _decode(Path(e.video_path))
    cut3 = round(tl.video[3].start_s * FPS)
    assert np.abs(a[:cut3] - b[:cut3]).max() < 1e-6  # untouched frames are bit-identical (stream copy)


def test_silent_timeline_and_one_shot(media: Path, tmp_path: Path) -> None:
    ws = _workspace(media, tmp_path / "ws")
    tl = _timeline([("still1.png", 1.0, "crossfade", "zoom_in")], voice=False, music=False, subs=False)
    out = render(tl, ws, ws.inside("jobs", "s"))
    assert out.frames == 30 and out.has_audio and out.loudness_lufs is None and out.segments_total == 1


def test_bad_input_says_what_to_do(media: Path, tmp_path: Path) -> None:
    ws = _workspace(media, tmp_path / "ws")
    tl = _timeline([("still0.png", 1.0, "cut", "zoom_in"), ("still1.png", 0.01, "cut", "none")], voice=False, music=False, subs=False)
    with pytest.raises(ToolInputError, match="less than one frame"):
        render(tl, ws, ws.inside("jobs", "x"))
    tl = _timeline([("clip4.mp4", 3.9, "cut", "none")], voice=False, music=False, subs=False)  # 0.5 + 3.9 > 4 s file
    with pytest.raises(ToolInputError, match="file lasts"):
        render(tl, ws, ws.inside("jobs", "x"))
    tl = _timeline([("nope.png", 1.0, "cut", "none")], voice=False, music=False, subs=False)
    with pytest.raises(ToolInputError, match="not found"):
        render(tl, ws, ws.inside("jobs", "x"))


def test_check_output_rejects_a_mismatch(rendered) -> None:  # type: ignore[no-untyped-def]
    ws, tl, out = rendered
    longer = tl.model_copy(update={"duration_s": tl.duration_s + 0.5})
    longer.video[-1].duration_s += 0.5
    with pytest.raises(InternalError, match="video frames"):
        check_output(Path(out.video_path), longer, Path(out.srt_path))
    with pytest.raises(InternalError, match="loudness"):
        check_output(Path(out.video_path), tl, Path(out.srt_path), expect_loudness=-23.0)


# ----------------------------------------------------------------------------- reframe and subtitles


def _object_image(x: float, w: int = 800, h: int = 400) -> np.ndarray:
    img = np.full((h, w, 3), 245, np.uint8)
    cx = int(x * w)
    img[120:280, cx - 60: cx + 60] = (200, 30, 30)
    return img


def test_reframe_crop_follows_the_product() -> None:
    r = reframe_image(_object_image(0.8), target_aspect=1.0)
    assert r.mode == "crop" and r.window.x0 <= 0.8 - 60 / 800 and r.window.x1 >= 0.8 + 60 / 800
    assert abs(r.focus_x - 0.8) < 0.05
    left = reframe_image(_object_image(0.2), target_aspect=1.0)
    assert left.window.x0 == 0 and left.window.x1 >= 0.2 + 60 / 800


def test_reframe_never_cuts_printed_text() -> None:
    img = _object_image(0.4)
    sal_only = reframe_image(img, 1.0)
    assert sal_only.mode == "crop" and abs((sal_only.window.x0 + sal_only.window.x1) / 2 - 0.4) < 0.05  # product centred
    edge = sal_only.window.x1
    text = Box(x0=edge - 0.08, y0=0.8, x1=min(1.0, edge + 0.08), y1=0.9)  # a caption straddling that crop's right edge
    r = reframe_image(img, 1.0, [text])
    assert r.mode == "crop"
    inside = r.window.overlap(text) / text.area()
    assert inside > 0.95 or inside < 0.05, (r.window, text)
    assert r.window.x0 <= 0.4 - 60 / 800 and r.window.x1 >= 0.4 + 60 / 800  # and the product still fits


def test_reframe_pads_when_a_crop_would_lose_the_product() -> None:
    img = np.full((300, 1200, 3), 245, np.uint8)
    img[100:200, 80:200] = (30, 30, 200)
    img[100:200, 1000:1120] = (30, 200, 30)  # two products at both ends of a wide banner
    assert reframe_image(img, 9 / 16).mode == "pad"
    flat = decide(np.zeros((64, 64), np.float32), 1.0, 1.0)
    assert flat.mode == "crop" and flat.window.x0 == 0 and flat.window.x1 == 1


def test_subtitles_move_off_printed_text(media: Path, tmp_path: Path) -> None:
    from tools.render.engine import _plan, place_subtitles

    ws = _workspace(media, tmp_path / "ws")
    tl = _timeline([("still0.png", 1.0, "cut", "zoom_in"), ("still3.png", 1.0, "cut", "zoom_in")], voice=False, music=False)
    tl.subtitles = [SubtitleCue(start_s=0.1, end_s=0.9, text="one"), SubtitleCue(start_s=1.1, end_s=1.9, text="two")]
    boxes = {"still3.png": [Box(x0=0.2, y0=0.75, x1=0.8, y1=0.85)]}  # a price tag printed in the bottom band
    shots = _plan(tl, ws, 0.2, boxes)
    where = place_subtitles(tl, shots, boxes)
    assert where == ["bottom", "top"]
    ass = to_ass(tl.subtitles, tl.render, "Noto Sans CJK SC", where)
    lines = [ln for ln in ass.splitlines() if ln.startswith("Dialogue")]
    assert "\\an" not in lines[0] and "{\\an8}" in lines[1]
