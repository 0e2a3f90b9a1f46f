"""Timeline → MP4 with one ffmpeg filter graph (no frame compositing in Python).

Video: each clip is trimmed, scaled to cover the target frame and centre-cropped; photos get a
Ken Burns pan or zoom (survey §5.2); clips are concatenated with hard cuts at whole frames.
Subtitles are burned from an ASS file with a CJK font. Audio: the voice lines are placed at
their start times, the music is looped/trimmed to the length, set to its gain and ducked under
the voice with a sidechain compressor, then limited. After rendering, ffprobe checks duration,
streams and resolution: a mismatch is an error, never a silent bad file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from tools.errors import InternalError
from tools.media import ffprobe, run_ffmpeg
from tools.models import Model, Timeline, VideoClip
from tools.registry import register
from tools.settings import get_settings
from tools.subtitles import to_ass, to_srt
from tools.workspace import Workspace, atomic_write_text

#: Photos are scaled this much larger than the frame so motion never shows an edge.
MOTION_HEADROOM = 1.15


def _even(x: float) -> int:
    return int(round(x / 2)) * 2


#: Above this ratio between source and frame aspect, the source is shown whole over a blurred
#: copy of itself instead of being cropped (a packshot on a 9:16 frame keeps the whole product).
PAD_ASPECT_RATIO = 1.3


def _fit(k: int, src_aspect: float | None, w: int, h: int) -> str:
    """Scale input ``k`` to exactly w×h: cover-crop, or fit over a blurred cover when aspects differ a lot."""
    frame = w / h
    if src_aspect and max(src_aspect / frame, frame / src_aspect) > PAD_ASPECT_RATIO:
        return (f"[{k}:v]split=2[bg{k}][fg{k}];[bg{k}]scale={w // 4}:{h // 4}:force_original_aspect_ratio=increase,"
                f"crop={w // 4}:{h // 4},boxblur=8:2,scale={w}:{h},setsar=1[bgb{k}];"
                f"[fg{k}]scale={w}:{h}:force_original_aspect_ratio=decrease,setsar=1[fgs{k}];"
                f"[bgb{k}][fgs{k}]overlay=(W-w)/2:(H-h)/2")
    return f"[{k}:v]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}"


def _clip_filter(k: int, c: VideoClip, w: int, h: int, fps: int, src_aspect: float | None) -> str:
    d = c.duration_s
    tail = f"setsar=1,fps={fps},trim=duration={d:.6f},setpts=PTS-STARTPTS,format=yuv420p[v{k}]"
    if not c.is_still:
        return f"{_fit(k, src_aspect, w, h)},tpad=stop_mode=clone:stop_duration=1,{tail}"
    bw, bh = _even(w * MOTION_HEADROOM), _even(h * MOTION_HEADROOM)
    cover = _fit(k, src_aspect, bw, bh)
    p = f"(t/{d:.6f})"
    moves = {
        "none": ("(iw-ow)/2", "(ih-oh)/2"),
        "pan_left": (f"(iw-ow)*(1-{p})", "(ih-oh)/2"),
        "pan_right": (f"(iw-ow)*{p}", "(ih-oh)/2"),
        "pan_up": ("(iw-ow)/2", f"(ih-oh)*(1-{p})"),
        "pan_down": ("(iw-ow)/2", f"(ih-oh)*{p}"),
    }
    if c.motion in ("zoom_in", "zoom_out"):
        z = f"(1+{MOTION_HEADROOM - 1:.3f}*{p})" if c.motion == "zoom_in" else f"({MOTION_HEADROOM:.3f}-{MOTION_HEADROOM - 1:.3f}*{p})"
        return f"{cover},scale=w='trunc({w}*{z}/2)*2':h='trunc({h}*{z}/2)*2':eval=frame,crop={w}:{h},{tail}"
    x, y = moves[c.motion]
    return f"{cover},crop={w}:{h}:x='{x}':y='{y}',{tail}"


class RenderInput(Model):
    """What to render and where."""

    timeline: Timeline
    """The edit decision list."""
    workspace: str
    """Workspace root the timeline's paths are relative to."""
    out_dir: str
    """Job folder (inside the workspace) receiving video.mp4, subtitles.srt and subtitles.ass."""
    crf: int = Field(default=21, ge=14, le=35)
    """x264 quality (lower is better and bigger)."""
    preset: str = "veryfast"
    """x264 speed preset."""


class RenderOutput(Model):
    """What was written and what ffprobe measured."""

    video_path: str
    """The MP4."""
    srt_path: str
    """The SRT file."""
    duration_s: float
    """Measured container duration."""
    width_px: int
    """Measured frame width."""
    height_px: int
    """Measured frame height."""
    has_audio: bool
    """Whether an audio stream is present."""


def render(tl: Timeline, ws: Workspace, out_dir: Path, crf: int = 21, preset: str = "veryfast") -> RenderOutput:
    spec = tl.render
    w, h, fps, dur = spec.width_px, spec.height_px, spec.fps, tl.duration_s
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "subtitles.srt", to_srt(tl.subtitles))
    atomic_write_text(out_dir / "subtitles.ass", to_ass(tl.subtitles, spec, get_settings().subtitle_font))

    args: list[str] = []
    filters: list[str] = []
    for k, c in enumerate(tl.video):
        src = str(ws.abs(c.source_path))
        if c.is_still:
            args += ["-loop", "1", "-framerate", str(fps), "-t", f"{c.duration_s + 0.5:.3f}", "-i", src]
        else:
            args += ["-ss", f"{c.in_s:.3f}", "-t", f"{c.duration_s + 0.5:.3f}", "-i", src]
        filters.append(_clip_filter(k, c, w, h, fps, c.source_aspect))
    n = len(tl.video)
    filters.append("".join(f"[v{k}]" for k in range(n)) + f"concat=n={n}:v=1:a=0[vc]")
    filters.append("[vc]ass=filename=subtitles.ass[vout]" if tl.subtitles else "[vc]null[vout]")

    idx = n
    voice_labels = []
    for j, vclip in enumerate(tl.voice):
        args += ["-i", str(ws.abs(vclip.audio_path))]
        ms = int(round(vclip.start_s * 1000))
        filters.append(f"[{idx}:a]aresample=48000,aformat=channel_layouts=stereo,adelay={ms}:all=1[vo{j}]")
        voice_labels.append(f"[vo{j}]")
        idx += 1
    if voice_labels:
        filters.append("".join(voice_labels) + (f"amix=inputs={len(voice_labels)}:normalize=0:duration=longest[vo]" if len(voice_labels) > 1 else "anull[vo]"))
    music = tl.music[0] if tl.music else None
    if music:
        mpath = Path(music.path)
        args += ["-stream_loop", "-1", "-i", str(mpath if mpath.is_absolute() else ws.abs(music.path))]
        filters.append(
            f"[{idx}:a]aresample=48000,aformat=channel_layouts=stereo,atrim=start={music.offset_s:.3f}:duration={music.duration_s:.3f},"
            f"asetpts=PTS-STARTPTS,volume={music.gain_db:.1f}dB,adelay={int(music.start_s * 1000)}:all=1[mus]"
        )
        idx += 1
        if voice_labels and music.duck:
            filters.append("[vo]asplit=2[vo1][vosc]")
            filters.append("[mus][vosc]sidechaincompress=threshold=0.02:ratio=10:attack=15:release=350[duck]")
            filters.append("[duck][vo1]amix=inputs=2:normalize=0:duration=longest[mix]")
        elif voice_labels:
            filters.append("[mus][vo]amix=inputs=2:normalize=0:duration=longest[mix]")
        else:
            filters.append("[mus]anull[mix]")
    elif voice_labels:
        filters.append("[vo]anull[mix]")
    else:
        args += ["-f", "lavfi", "-t", f"{dur:.3f}", "-i", "anullsrc=r=48000:cl=stereo"]
        filters.append(f"[{idx}:a]anull[mix]")
    filters.append(f"[mix]apad=whole_dur={dur:.6f},atrim=duration={dur:.6f},alimiter=limit=0.95[aout]")

    out = out_dir / "video.mp4"
    tmp = out_dir / "video.tmp.mp4"
    graph = out_dir / "render.filtergraph"
    atomic_write_text(graph, ";\n".join(filters))
    run_ffmpeg(
        [*args, "-filter_complex_script", graph.name, "-map", "[vout]", "-map", "[aout]",
         "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", "-r", str(fps),
         "-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-movflags", "+faststart", "-t", f"{dur:.6f}", tmp.name],
        what=f"rendering job {tl.job_id}", cwd=out_dir,
    )
    tmp.replace(out)
    return check_output(out, tl, out_dir / "subtitles.srt")


def check_output(path: Path, tl: Timeline, srt: Path) -> RenderOutput:
    """ffprobe the render; raise InternalError when it does not match the timeline."""
    info = ffprobe(path)
    streams = info.get("streams", [])
    v = next((s for s in streams if s.get("codec_type") == "video"), None)
    a = next((s for s in streams if s.get("codec_type") == "audio"), None)
    dur = float(info.get("format", {}).get("duration", 0))
    spec = tl.render
    problems = []
    if v is None:
        problems.append("no video stream")
    elif (int(v["width"]), int(v["height"])) != (spec.width_px, spec.height_px):
        problems.append(f"frame {v['width']}×{v['height']}, expected {spec.width_px}×{spec.height_px}")
    if a is None:
        problems.append("no audio stream")
    if abs(dur - tl.duration_s) > 0.1:
        problems.append(f"duration {dur:.3f} s, expected {tl.duration_s:.3f} s")
    if problems:
        raise InternalError(f"render check failed for {path.name}: {'; '.join(problems)}")
    return RenderOutput(video_path=str(path), srt_path=str(srt), duration_s=round(dur, 3), width_px=int(v["width"]),
                        height_px=int(v["height"]), has_audio=a is not None)


@register("render_timeline")
def render_timeline(inp: RenderInput) -> RenderOutput:
    """Render a Timeline to MP4 (H.264 + AAC) with burned subtitles and ducked music, then verify it."""
    ws = Workspace(inp.workspace)
    return render(inp.timeline, ws, ws.inside(ws.rel(inp.out_dir)), inp.crf, inp.preset)
