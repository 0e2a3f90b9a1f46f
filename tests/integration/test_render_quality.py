"""Render quality on real media (../shared/media): a 9:16 packshot + clip + landscape timeline with
crossfade and slide, voice, ducked music and subtitles. Decoded frame by frame: no black frames, no
frozen stretches, every frame has content; audio and video lengths agree; loudness at −14 LUFS;
the blurred-pad / crop decisions are the expected ones; a contact sheet is written."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tools.core.models import MusicClip, RenderSpec, SubtitleCue, Timeline, VideoClip, VoiceClip
from tools.render.engine import render
from tools.core.workspace import Workspace


def _frames(path: Path, w: int, h: int) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", f"scale={w}:{h}", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w).astype(np.float32)


def _case(media_dir: Path, root: Path, aspect: str, res: int, fps: int = 30) -> tuple[Workspace, Timeline]:
    ws = Workspace(root)
    mat = ws.inside("mat")
    mat.mkdir(exist_ok=True)
    for src in ("images/magento_mb01-blue-0.jpg", "video/hikers_peter_stevens_ccby.mp4", "images/lomiri_sunset_by_Aitzol_Berasategi.jpg",
                "music/vibe_ace_kevin_macleod.ogg"):
        shutil.copy(media_dir / src, mat / Path(src).name)
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(mat / "v.wav"), "Carry everything, everywhere"], check=True, capture_output=True)
    shots = [("magento_mb01-blue-0.jpg", True, 0.0, 2.0, "zoom_in", "cut"), ("hikers_peter_stevens_ccby.mp4", False, 3.0, 2.0, "none", "crossfade"),
             ("lomiri_sunset_by_Aitzol_Berasategi.jpg", True, 0.0, 2.0, "pan_left", "slide")]
    video, t = [], 0.0
    for k, (name, still, ins, d, motion, tr) in enumerate(shots):
        video.append(VideoClip(beat_index=k, material_id=name, source_path=f"mat/{name}", is_still=still, in_s=ins, start_s=t, duration_s=d,
                               motion=motion, transition_in=tr))  # type: ignore[arg-type]
        t += d
    tl = Timeline(job_id="20250101-000000-qual00", duration_s=t, render=RenderSpec(aspect=aspect, resolution_p=res, fps=fps), language="en",  # type: ignore[arg-type]
                  video=video, voice=[VoiceClip(beat_index=0, audio_path="mat/v.wav", start_s=0.2, duration_s=1.8)],
                  music=[MusicClip(path="mat/vibe_ace_kevin_macleod.ogg", duration_s=t, gain_db=-12)],
                  subtitles=[SubtitleCue(start_s=0.2, end_s=2.0, text="Carry everything, everywhere")])
    return ws, tl


def _assert_clean(out, tl: Timeline) -> None:  # type: ignore[no-untyped-def]
    fps = tl.render.fps
    n = round(tl.duration_s * fps)
    fr = _frames(Path(out.video_path), 90, 160 if tl.render.aspect == "9:16" else 90)
    assert len(fr) == n == out.frames
    # every frame has content: not black, not flat
    assert fr.mean(axis=(1, 2)).min() > 20 and fr.std(axis=(1, 2)).min() > 8
    # no frozen stretch: no three identical frames in a row (photos move, clips play)
    diff = np.abs(np.diff(fr, axis=0)).mean(axis=(1, 2))
    still = diff < 0.02
    assert not np.any(still[:-1] & still[1:]), np.nonzero(still)[0]
    assert abs(out.audio_duration_s - n / fps) <= 1 / fps
    assert out.loudness_lufs is not None and abs(out.loudness_lufs + 14) <= 1.5


def test_vertical_720p_real_media(media_dir: Path, tmp_path: Path) -> None:
    ws, tl = _case(media_dir, tmp_path / "ws", "9:16", 720)
    out = render(tl, ws, ws.inside("jobs", "q"))
    _assert_clean(out, tl)
    # on 9:16 every one of these is shown whole over a blurred copy: the duffle bag fills the
    # packshot's width (a 9:16 crop would cut its ends), the clip is 4:3, the sunset 3:2
    from tools.render.engine import _plan

    shots = _plan(tl, ws, 0.4, {})
    assert [s.frame.mode for s in shots] == ["pad", "pad", "pad"]
    # on 1:1 the packshot (0.8) is cropped around the bag, keeping nearly all of its saliency
    sq = _plan(tl.model_copy(update={"render": RenderSpec(aspect="1:1", resolution_p=720)}), ws, 0.4, {})
    assert sq[0].frame.mode == "crop" and sq[0].frame.kept_saliency > 0.88
    sheet = Path(out.video_path).with_name("contact_sheet.png")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", out.video_path, "-vf", "select='not(mod(n\\,15))',scale=144:256,tile=7x2",
                    "-frames:v", "1", str(sheet)], check=True)
    assert sheet.stat().st_size > 10_000


@pytest.mark.slow
def test_landscape_1080p_real_media(media_dir: Path, tmp_path: Path) -> None:
    ws, tl = _case(media_dir, tmp_path / "ws", "16:9", 1080)
    out = render(tl, ws, ws.inside("jobs", "q"), attach_cover=True)
    _assert_clean(out, tl)
    info = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:stream_disposition=attached_pic", "-of", "csv=p=0",
                           out.video_path], capture_output=True, text=True, check=True).stdout.split()
    assert info[0].startswith("h264") and any(x.startswith("mjpeg,1") for x in info)
