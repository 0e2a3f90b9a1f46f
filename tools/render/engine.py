"""Timeline → MP4 with ffmpeg filter graphs (no frame compositing in Python), incrementally.

Post-production (survey §5): the timeline is compiled to one small ffmpeg filter graph per
*segment* — the solo part of each shot and each transition between two shots — rendered
(video only, exact frame count, subtitles burned) into a content-addressed cache
(:mod:`tools.render.cache`) and joined with the concat demuxer without re-encoding. Audio is
mixed once (voice lines placed at their start, music looped, trimmed, ducked under the voice
with a sidechain compressor), loudness-normalised to −14 LUFS integrated (EBU R128, measured
with ffmpeg's ``ebur128``; the gain through a −1.5 dBFS peak limiter is refined by measurement,
see :func:`_loudness_gain`) and muxed beside the video. An edit of one shot re-renders that shot's
segment and the transitions touching it; an edit of one line re-renders the segments under
its subtitle cues and the audio.

Frames and cuts. Shot k starts at frame ``round(start_s × fps)``; the output has exactly
``round(duration_s × fps)`` frames. Those are the *cut frames*: the first frame where shot k is
fully on screen, whatever the transition.

Transitions (cut, crossfade, slide). A transition into shot k *ends on shot k's cut frame*:
the T frames before it (T = ``transition_s × fps``, at most the previous shot's length − 1)
blend the previous shot's last T frames with T frames of shot k's pre-roll — shot k "starts
earlier by the overlap": a still's motion starts T frames early, a clip is read from
``in_s − T/fps`` (cloning its first frame if the file has no earlier footage). So a transition
never changes the total length nor moves a cut frame; the previous shot is just partly covered
during its last T frames.

Stills get Ken Burns motion (survey §5.2, §7.3.3: zoom into the product) headed for the
saliency centroid; every shot is reframed to the target aspect with a saliency- and text-aware
crop or, when a crop would lose the product, shown whole over a blurred copy of itself
(:mod:`tools.render.reframe`). Subtitle cues move off printed text: when OCR boxes of a shot under a
cue overlap the bottom band, the cue goes to the top (or middle).

Built-in output checks (ffprobe + ebur128): codecs, pixel format, resolution, frame count,
container/stream durations (audio within one frame of video), faststart, loudness within
±1.5 LU of the target. A mismatch raises InternalError; no bad file is left as video.mp4.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from tools.core.environment import usable_cores
from tools.core.errors import InternalError, MediaError, ToolInputError
from tools.core.images import colourfulness, read_frame, saliency_map
from tools.core.media import display_size, ffprobe, run_ffmpeg
from tools.core.models import Box, Model, RenderSpec, Timeline, VideoClip
from tools.core.paths import WorkspaceRoot, WritePath, confine_read
from tools.core.registry import register
from tools.core.settings import get_settings
from tools.core.workspace import Workspace, atomic_write_model, atomic_write_text
from tools.render.brand import BrandStyle, ass_colours, brand_jobs, is_brand_clip
from tools.render.cache import SegmentCache, SegmentJob, content_id, key_of, meta_get, meta_put
from tools.render.glyphs import drawable_text
from tools.render.reframe import ReframeOutput
from tools.render.subtitles import PLACEMENTS, shift_cues, subtitle_band, to_ass, to_srt

#: Photos are framed this much larger than the output so motion never shows an edge.
MOTION_HEADROOM = 1.15
#: Above this mismatch between source and frame aspect, padding is considered (see tools.render.reframe).
PAD_ASPECT_RATIO = 1.3
#: Loudness target (EBU R128 integrated, LUFS), true-peak ceiling and accepted error.
TARGET_LUFS = -14.0
TRUE_PEAK_DB = -1.5
LOUDNESS_TOLERANCE_LU = 1.5
AUDIO_RATE = 48000

XFADE = {"crossfade": "fade", "slide": "slideleft"}

#: x264 settings per use: (preset, extra x264 parameters). The final video: superfast's motion
#: search (diamond, sub-pixel refinement 1, no inter sub-partitions) with veryfast's macroblock-tree
#: rate control (``mbtree``, 10 frames of lookahead), which plain superfast switches off and which is
#: what keeps slow Ken Burns motion cheap in bits. Against veryfast at the same crf 21, measured on the
#: 30 s benchmark timeline and a 15 s photo job (tests/benchmarks/bench_render.py; encoding a lossless
#: render of each, one thread): x264 time −28 % / −22 %, file +8 % / +8 %, PSNR −0.07 / +0.01 dB and
#: SSIM −0.0002 / +0.0001 against the lossless frames, i.e. the same picture. Plain superfast was
#: −20 % at +68 % / +140 % file size (no mbtree: crf spends many more bits on static frames).
#: A preview (a draft while editing) trades file size for speed.
ENCODERS: dict[str, tuple[str, str]] = {"final": ("superfast", "mbtree=1:rc-lookahead=10"), "preview": ("ultrafast", "")}
PRESETS = {use: preset for use, (preset, _) in ENCODERS.items()}
#: Memory one segment job may take at 1080p (decoder, filter frames, x264 lookahead), for the pool bound.
SEGMENT_JOB_BYTES = 400 << 20


def _available_memory() -> int | None:
    """MemAvailable from /proc/meminfo (None where there is none)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def choose_encoding(use: str = "final", *, cores: int | None = None, segments: int | None = None,
                    memory_bytes: int | None = None) -> dict[str, object]:
    """Preset (and extra x264 parameters), parallel segment jobs and threads per job for this machine and this use.

    Segments are independent ffmpeg processes, so they run in a pool of one job per core (each
    job's filters are mostly single-threaded; one x264 thread per job keeps every core busy without
    oversubscription), bounded by the segments there are and by the memory available
    (:data:`SEGMENT_JOB_BYTES` each). Threads per job = cores // jobs, the rule of
    :meth:`tools.render.cache.SegmentCache.ensure`.
    """

    if use not in PRESETS:
        raise ToolInputError(f"unknown render use {use!r}", hint=f"choose one of {', '.join(PRESETS)}")
    if not cores:
        cores = usable_cores()
    mem = memory_bytes if memory_bytes is not None else _available_memory()
    workers = cores
    if segments:
        workers = min(workers, segments)
    if mem:
        workers = min(workers, max(1, mem // SEGMENT_JOB_BYTES))
    workers = max(1, workers)
    preset, params = ENCODERS[use]
    return {"preset": preset, "x264_params": params, "workers": workers, "threads": max(1, cores // workers)}


def _even(x: float) -> int:
    return int(round(x / 2)) * 2


# --------------------------------------------------------------------------- models


class RenderInput(Model):
    """What to render and where."""

    timeline: Timeline
    """The edit decision list."""
    workspace: WorkspaceRoot
    """Workspace root the timeline's paths are relative to."""
    out_dir: WritePath
    """Job folder (inside the workspace) receiving video.mp4, subtitles.srt/.ass, timeline.json, timeline.otio and cover.jpg."""
    crf: int = Field(default=21, ge=14, le=35)
    """x264 quality (lower is better and bigger)."""
    preset: str | None = None
    """x264 speed preset (None: the settings for ``use``, see ENCODERS)."""
    use: Literal["final", "preview"] = "final"
    """What the render is for: the final video, or a quick preview while editing (a faster preset)."""
    transition_s: float = Field(default=0.4, ge=0.04, le=2.0)
    """Length of a crossfade or slide (shortened when the previous shot is short)."""
    text_boxes: dict[str, list[Box]] = Field(default_factory=dict)
    """OCR boxes of printed text per material id (normalised source coordinates): crops avoid cutting them, subtitles move off them."""
    cover_s: float | None = Field(default=None, ge=0)
    """Time of the cover frame; None picks the sharpest, most colourful mid-shot frame without subtitles."""
    attach_cover: bool = False
    """Also store cover.jpg inside the MP4 as its attached picture."""
    target_lufs: float = Field(default=TARGET_LUFS, ge=-30, le=-8)
    """Integrated loudness the mix is normalised to."""
    use_cache: bool = True
    """Reuse rendered segments from the workspace's render cache (incremental re-render)."""
    workers: int | None = Field(default=None, ge=1, le=64)
    """Segments rendered in parallel (None: one per core, bounded by memory; see choose_encoding)."""
    brand: BrandStyle | None = None
    """A brand kit's logo watermark, subtitle colours and font (tools.render.brand); None: the plain look."""


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
    frames: int = 0
    """Measured number of video frames."""
    audio_duration_s: float | None = None
    """Measured audio stream duration."""
    loudness_lufs: float | None = None
    """Measured integrated loudness of the output (None for a silent timeline)."""
    cover_path: str | None = None
    """The chosen cover frame (JPEG)."""
    cover_s: float | None = None
    """Time of the cover frame."""
    otio_path: str | None = None
    """OpenTimelineIO export of the timeline."""
    timeline_path: str | None = None
    """Timeline JSON written beside the video."""
    segments_total: int = 0
    """Segments the video was assembled from."""
    segments_rendered: int = 0
    """Segments rendered in this call (the rest came from the cache)."""
    wall_s: float = 0.0
    """Wall time of the render."""


# --------------------------------------------------------------------------- planning


@dataclass
class _Shot:
    clip: VideoClip
    src: Path
    cid: str
    f0: int  # first own frame on the timeline
    n: int  # own frames
    pre: int  # pre-roll frames (transition into this shot)
    frame: ReframeOutput
    src_aspect: float
    src_dur: float | None

    @property
    def visible(self) -> int:
        return self.pre + self.n


_REFRAME_MEMO: dict[tuple, ReframeOutput] = {}
_PROBE_MEMO: dict[str, tuple[float, float | None]] = {}


def _probe_source(path: Path, cid: str, cache_root: Path | None = None) -> tuple[float, float | None]:
    """(width/height, duration or None for stills) of a source file (memoised in the render cache)."""
    if cid in _PROBE_MEMO:
        return _PROBE_MEMO[cid]
    mkey = key_of({"kind": "probe", "src": cid})
    hit = meta_get(cache_root, mkey) if cache_root else None
    if isinstance(hit, list) and len(hit) == 2:
        _PROBE_MEMO[cid] = (float(hit[0]), None if hit[1] is None else float(hit[1]))
        return _PROBE_MEMO[cid]
    info = ffprobe(path)
    v = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)
    if v is None or not v.get("width"):
        raise MediaError(f"{path.name!r} has no picture", hint="use a photo or a video clip for the video track")
    w, h = display_size(v)
    dur = info.get("format", {}).get("duration") or v.get("duration")
    fmt = info.get("format", {}).get("format_name", "")
    still = "image2" in fmt or "_pipe" in fmt or fmt in ("png_pipe", "jpeg_pipe", "webp_pipe")
    out = (w / h, None if still else float(dur or 0.0))
    _PROBE_MEMO[cid] = out
    if cache_root:
        meta_put(cache_root, mkey, list(out))
    return out


def _reframe(path: Path, cid: str, is_still: bool, at_s: float, aspect: float, boxes: list[Box],
             cache_root: Path | None = None) -> ReframeOutput:
    from tools.render.reframe import decide

    key = (cid, round(at_s, 2), round(aspect, 4), tuple(b.model_dump_json() for b in boxes))
    if key in _REFRAME_MEMO:
        return _REFRAME_MEMO[key]
    mkey = key_of({"kind": "reframe", "k": key, "pad": PAD_ASPECT_RATIO})
    hit = meta_get(cache_root, mkey) if cache_root else None
    if isinstance(hit, dict):
        _REFRAME_MEMO[key] = ReframeOutput.model_validate(hit)
        return _REFRAME_MEMO[key]
    rgb = read_frame(path, at_s, reduce=4 if is_still else 1)
    h, w = rgb.shape[:2]
    out = decide(saliency_map(rgb), w / h, aspect, boxes, PAD_ASPECT_RATIO)
    _REFRAME_MEMO[key] = out
    if cache_root:
        meta_put(cache_root, mkey, out.model_dump())
    return out


def _plan(tl: Timeline, ws: Workspace, transition_s: float, text_boxes: dict[str, list[Box]], cache_root: Path | None = None) -> list[_Shot]:
    spec = tl.render
    fps = spec.fps
    if not tl.video:
        raise ToolInputError(f"timeline {tl.job_id} v{tl.version} has no video clips", hint="place at least one photo or clip on the video track")
    starts = [round(c.start_s * fps) for c in tl.video] + [round(tl.duration_s * fps)]
    aspect = spec.width_px / spec.height_px
    srcs: list[tuple[Path, str]] = []
    for k, c in enumerate(tl.video):
        if starts[k + 1] - starts[k] < 1:
            raise ToolInputError(f"clip {k} (beat {c.beat_index}, {c.material_id}) lasts {c.duration_s:.3f} s, less than one frame at {fps} fps",
                                 hint=f"make every clip at least {1 / fps:.3f} s long or drop it")
        src = ws.abs(c.source_path) if not Path(c.source_path).is_absolute() else Path(confine_read(c.source_path))
        if not src.is_file():
            raise ToolInputError(f"clip {k} (beat {c.beat_index}): source {c.source_path!r} not found in the workspace",
                                 hint="re-ingest the material or fix source_path in the timeline")
        srcs.append((src, content_id(src)))

    def analyse(k: int) -> tuple[tuple[float, float | None], ReframeOutput]:
        c, (src, cid) = tl.video[k], srcs[k]
        probe = _probe_source(src, cid, cache_root)
        at = 0.0 if c.is_still else c.in_s + c.duration_s / 2
        return probe, _reframe(src, cid, c.is_still, at, aspect, text_boxes.get(c.material_id, []), cache_root)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as ex:  # ffprobe + image decode: mostly waiting on subprocesses and I/O
        analysed = list(ex.map(analyse, range(len(tl.video))))
    shots: list[_Shot] = []
    for k, c in enumerate(tl.video):
        n = starts[k + 1] - starts[k]
        src, cid = srcs[k]
        (src_aspect, src_dur), fr = analysed[k]
        pre = 0
        if k > 0 and c.transition_in != "cut":
            pre = max(0, min(round(transition_s * fps), shots[-1].n - 1))
        if not c.is_still:
            if src_dur is None:
                raise ToolInputError(f"clip {k} (beat {c.beat_index}) is marked as video but {src.name!r} is a still image",
                                     hint="set is_still=true for photos")
            need = c.in_s + n / fps
            if src_dur and need > src_dur + 2.0 / fps:
                raise ToolInputError(f"clip {k} (beat {c.beat_index}) needs {c.in_s:.2f}–{need:.2f} s of {src.name!r} but the file lasts {src_dur:.2f} s",
                                     hint="shorten the clip or move its in point earlier (a frozen tail would show)")
        shots.append(_Shot(c, src, cid, starts[k], n, pre, fr, src_aspect, src_dur))
    return shots


# --------------------------------------------------------------------------- filter graphs


def _fit(lab_in: str, p: str, sh: _Shot, w: int, h: int) -> str:
    """Frame ``lab_in`` to exactly w×h: the reframe crop window scaled, or the whole picture over a blurred copy."""
    if sh.frame.mode == "crop":
        b = sh.frame.window
        return (f"{lab_in}crop=w='iw*{b.x1 - b.x0:.5f}':h='ih*{b.y1 - b.y0:.5f}':x='iw*{b.x0:.5f}':y='ih*{b.y0:.5f}',"
                f"scale={w}:{h}:flags=bicubic,setsar=1")
    bw, bh = max(2, _even(w / 4)), max(2, _even(h / 4))
    return (f"{lab_in}split=2[{p}bg][{p}fg];[{p}bg]scale={bw}:{bh}:force_original_aspect_ratio=increase,crop={bw}:{bh},"
            f"boxblur=8:2,eq=brightness=-0.06,scale={w}:{h},setsar=1[{p}bgb];"
            f"[{p}fg]scale={w}:{h}:force_original_aspect_ratio=decrease:flags=bicubic,setsar=1[{p}fgs];"
            f"[{p}bgb][{p}fgs]overlay=(W-w)/2:(H-h)/2")


def _focus(sh: _Shot) -> tuple[float, float]:
    """Saliency centroid in frame coordinates (0..1) after reframing."""
    f = sh.frame
    if f.mode == "crop":
        b = f.window
        return (min(1, max(0, (f.focus_x - b.x0) / max(1e-6, b.x1 - b.x0))), min(1, max(0, (f.focus_y - b.y0) / max(1e-6, b.y1 - b.y0))))
    return 0.5, 0.5


def _chain(k: int, sh: _Shot, n0: int, m: int, spec: RenderSpec, lab: str) -> tuple[list[str], str]:
    """Input args and filter chain producing frames [n0, n0+m) of shot ``sh``'s visible span as [lab].

    The visible span is the shot's pre-roll plus its own frames. Input index ``k`` in the graph.
    """
    w, h, fps = spec.width_px, spec.height_px, spec.fps
    p = f"s{k}"
    tail = f"settb=1/{fps},setpts=N,fps={fps},format=yuv420p,setsar=1[{lab}]"
    c = sh.clip
    if not c.is_still:
        t = c.in_s + (n0 - sh.pre) / fps
        lead = 0
        if t < 0:
            lead = math.ceil(-t * fps - 1e-6)
            t = 0.0
        args = ["-ss", f"{t:.4f}", "-t", f"{(m - lead) / fps + 0.5:.4f}", "-i", str(sh.src)]
        if sh.frame.mode == "crop":
            body = f"[{k}:v]setpts=PTS-STARTPTS," + _fit("", p, sh, w, h)
        else:
            body = f"[{k}:v]setpts=PTS-STARTPTS[{p}in];" + _fit(f"[{p}in]", p, sh, w, h)
        body += f",fps={fps},tpad=start={lead}:start_mode=clone:stop=-1:stop_mode=clone,trim=end_frame={m},{tail}"
        return args, body
    # still: frame and scale once, loop the one frame, then move a w×h window over it
    bw, bh = _even(w * MOTION_HEADROOM), _even(h * MOTION_HEADROOM)
    args = ["-framerate", str(fps), "-i", str(sh.src)]
    body = f"{_fit(f'[{k}:v]', p, sh, bw, bh)},format=yuv444p,loop=loop={m - 1}:size=1:start=0,setpts=N/{fps}/TB"
    last = max(1, sh.visible - 1)
    prog = f"min(1,(n+{n0})/{last})"
    fx, fy = _focus(sh)
    motion = c.motion
    if motion in ("zoom_in", "zoom_out"):
        hr = MOTION_HEADROOM - 1
        z = f"(1+{hr:.4f}*{prog})" if motion == "zoom_in" else f"({MOTION_HEADROOM:.4f}-{hr:.4f}*{prog})"
        cx = f"(0.5+({fx - 0.5:.4f})*{prog})" if motion == "zoom_in" else f"({fx:.4f}+({0.5 - fx:.4f})*{prog})"
        cy = f"(0.5+({fy - 0.5:.4f})*{prog})" if motion == "zoom_in" else f"({fy:.4f}+({0.5 - fy:.4f})*{prog})"
        body += (f",scale=w='round({w}*{z})':h='round({h}*{z})':eval=frame:flags=bicubic,"
                 f"crop={w}:{h}:x='clip({cx}*iw-ow/2,0,iw-ow)':y='clip({cy}*ih-oh/2,0,ih-oh)'")
    elif motion == "none":
        body += f",scale={w}:{h}:flags=bicubic"
    else:
        px = {"pan_left": f"(iw-ow)*(1-{prog})", "pan_right": f"(iw-ow)*{prog}"}.get(motion, f"clip({fx:.4f}*iw-ow/2,0,iw-ow)")
        py = {"pan_up": f"(ih-oh)*(1-{prog})", "pan_down": f"(ih-oh)*{prog}"}.get(motion, f"clip({fy:.4f}*ih-oh/2,0,ih-oh)")
        body += f",crop={w}:{h}:x='{px}':y='{py}'"
    body += f",trim=end_frame={m},{tail}"
    return args, body


def _shot_recipe(sh: _Shot, spec: RenderSpec) -> dict[str, object]:
    c = sh.clip
    return {"src": sh.cid, "still": c.is_still, "in": round(c.in_s, 4), "n": sh.n, "pre": sh.pre, "motion": c.motion,
            "frame": sh.frame.model_dump(), "spec": spec.model_dump()}


def _segments(shots: list[_Shot], tl: Timeline, placements: list[str], font: str, cache: SegmentCache,
              colours: tuple[str, str] | None = None) -> list[SegmentJob]:
    """Compile the video track into segment jobs: solo part of each shot, then each transition."""
    spec, fps = tl.render, tl.render.fps
    jobs: list[SegmentJob] = []

    def subs(f_start: int, f_end: int) -> str:
        vis = shift_cues(tl.subtitles, f_start / fps, f_end / fps)
        if not vis:
            return ""
        return to_ass([c for _, c in vis], spec, font, [placements[i] for i, _ in vis], colours=colours)

    def finish(graph: str, ass: str) -> tuple[str, dict[str, str]]:
        if ass:
            return graph + ";[pre]ass=filename=seg.ass,format=yuv420p[vout]", {"seg.ass": ass}
        return graph + ";[pre]null[vout]", {}

    for k, sh in enumerate(shots):
        if sh.pre:
            prev = shots[k - 1]
            T = sh.pre
            f_a = sh.f0 - T
            a_args, a = _chain(0, prev, prev.pre + prev.n - T, T, spec, "a")
            b_args, b = _chain(1, sh, 0, T, spec, "b")
            ass = subs(f_a, sh.f0)
            graph, files = finish(f"{a};{b};[a][b]xfade=transition={XFADE[sh.clip.transition_in]}:duration={T / fps:.6f}:offset=0,"
                                  f"trim=end_frame={T},setpts=N/{fps}/TB[pre]", ass)
            key = key_of({"kind": "transition", "type": sh.clip.transition_in, "a": _shot_recipe(prev, spec), "b": _shot_recipe(sh, spec),
                          "T": T, "ass": ass, "enc": cache.encoder_settings()})
            jobs.append(SegmentJob(key, T, a_args + b_args, graph, files, f"transition into shot {k}", start_frame=f_a))
        nxt = shots[k + 1].pre if k + 1 < len(shots) else 0
        m = sh.n - nxt
        args, body = _chain(0, sh, sh.pre, m, spec, "pre")
        ass = subs(sh.f0, sh.f0 + m)
        # cover candidate: the middle frame, moved to the nearest subtitle-free frame if the shot has one
        free = [f for f in range(m) if not any(c.start_s <= (sh.f0 + f) / fps < c.end_s for c in tl.subtitles)]
        local = min(free, key=lambda x: abs(x - m // 2)) if free else m // 2
        graph, files = finish(body.rsplit("[pre]", 1)[0] + "[pre0];[pre0]null[pre]", ass)
        graph = graph.rsplit("[vout]", 1)[0] + f"[seg];[seg]split=2[vout][c0];[c0]select='eq(n\\,{local})'[cov]"
        key = key_of({"kind": "solo", "shot": _shot_recipe(sh, spec), "n0": sh.pre, "m": m, "ass": ass, "enc": cache.encoder_settings(),
                      "cover": local})
        jobs.append(SegmentJob(key, m, args, graph, files, f"shot {k} ({sh.src.name})", shot=k, start_frame=sh.f0, cover_local=local))
    return jobs


# --------------------------------------------------------------------------- subtitles off printed text


def _frame_boxes(sh: _Shot, boxes: list[Box], target_aspect: float) -> list[Box]:
    """OCR boxes of a shot's source mapped to output-frame coordinates (0..1)."""
    out = []
    for b in boxes:
        if sh.frame.mode == "crop":
            wdw = sh.frame.window
            sx, sy = wdw.x1 - wdw.x0, wdw.y1 - wdw.y0
            x0, x1 = (b.x0 - wdw.x0) / sx, (b.x1 - wdw.x0) / sx
            y0, y1 = (b.y0 - wdw.y0) / sy, (b.y1 - wdw.y0) / sy
        else:
            if sh.src_aspect > target_aspect:  # full width, letterboxed
                hs = target_aspect / sh.src_aspect
                x0, x1, y0, y1 = b.x0, b.x1, (1 - hs) / 2 + b.y0 * hs, (1 - hs) / 2 + b.y1 * hs
            else:
                ws_ = sh.src_aspect / target_aspect
                x0, x1, y0, y1 = (1 - ws_) / 2 + b.x0 * ws_, (1 - ws_) / 2 + b.x1 * ws_, b.y0, b.y1
        c = [min(1.0, max(0.0, v)) for v in (x0, y0, x1, y1)]
        if c[2] > c[0] and c[3] > c[1]:
            out.append(Box(x0=c[0], y0=c[1], x1=c[2], y1=c[3]))
    return out


def place_subtitles(tl: Timeline, shots: list[_Shot], text_boxes: dict[str, list[Box]]) -> list[str]:
    """Per cue: "bottom" unless printed text of a shot under the cue overlaps the bottom band, then the
    free band among top and middle (or the least covered one)."""
    spec, fps = tl.render, tl.render.fps
    aspect = spec.width_px / spec.height_px
    mapped = [_frame_boxes(sh, text_boxes.get(sh.clip.material_id, []), aspect) for sh in shots]
    out = []
    for cue in tl.subtitles:
        boxes = [b for sh, bs in zip(shots, mapped) if (sh.f0 - sh.pre) / fps < cue.end_s and (sh.f0 + sh.n) / fps > cue.start_s for b in bs]
        best, best_cov = "bottom", math.inf
        for where in PLACEMENTS:
            top, bot = subtitle_band(where, spec)
            band = Box(x0=0.06, y0=max(0, top), x1=0.94, y1=min(1, bot))
            cov = sum(band.overlap(b) for b in boxes)
            if cov < best_cov - 1e-9:
                best, best_cov = where, cov
            if cov == 0:
                break
        out.append(best)
    return out


# --------------------------------------------------------------------------- audio


def _audio_mix(tl: Timeline, ws: Workspace, cache: SegmentCache, n_frames: int, target: float = TARGET_LUFS) -> tuple[Path | None, dict[str, float] | None]:
    """Mix voice + ducked music to a cached float WAV of exactly the video's length; measure it (loudnorm pass 1).

    Returns (wav, loudnorm measurement) or (None, None) for a silent timeline.
    """
    fps = tl.render.fps
    n_samples = round(n_frames * AUDIO_RATE / fps)
    voices = [(content_id(ws.abs(v.audio_path)), round(v.start_s, 4), str(ws.abs(v.audio_path))) for v in tl.voice]
    music = tl.music[0] if tl.music else None
    mpath = None
    if music:
        mp = Path(music.path)
        mpath = Path(confine_read(mp)) if mp.is_absolute() else ws.abs(music.path)
        if not mpath.is_file():
            raise ToolInputError(f"music file {music.path!r} not found", hint="re-ingest the music or remove it from the timeline")
    if not voices and not music:
        return None, None
    key = key_of({"kind": "audio", "voices": [v[:2] for v in voices], "music": music.model_dump() if music else None,
                  "music_id": content_id(mpath) if mpath else None, "samples": n_samples})
    wav = cache.root / f"{key}.wav"
    meas_path = cache.root / f"{key}.loudness{target:+.1f}.json"
    if wav.is_file() and meas_path.is_file():
        return wav, json.loads(meas_path.read_text(encoding="utf-8"))
    if wav.is_file():
        meas = _loudness_gain(wav, target)
        atomic_write_text(meas_path, json.dumps(meas))
        return wav, meas
    args: list[str] = []
    filters: list[str] = []
    idx = 0
    labels = []
    for j, (_, start, path) in enumerate(voices):
        args += ["-i", path]
        filters.append(f"[{idx}:a]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,adelay={round(start * 1000)}:all=1[vo{j}]")
        labels.append(f"[vo{j}]")
        idx += 1
    if labels:
        filters.append("".join(labels) + (f"amix=inputs={len(labels)}:normalize=0:duration=longest[vo]" if len(labels) > 1 else "anull[vo]"))
    if music:
        assert mpath is not None
        args += ["-stream_loop", "-1", "-i", str(mpath)]
        filters.append(f"[{idx}:a]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,atrim=start={music.offset_s:.3f}:duration={music.duration_s:.3f},"
                       f"asetpts=PTS-STARTPTS,afade=t=out:st={max(0.0, music.duration_s - 1.0):.3f}:d=1,volume={music.gain_db:.1f}dB,"
                       f"adelay={round(music.start_s * 1000)}:all=1[mus]")
        if labels and music.duck:
            # the sidechain must last as long as the video: sidechaincompress stops with its shorter
            # input, which cut the music off where the last line ended
            filters.append(f"[vo]apad=whole_len={n_samples},asplit=2[vo1][vosc]")
            filters.append("[mus][vosc]sidechaincompress=threshold=0.02:ratio=10:attack=15:release=350:makeup=1[duck]")
            filters.append("[duck][vo1]amix=inputs=2:normalize=0:duration=longest[mix]")
        elif labels:
            filters.append("[mus][vo]amix=inputs=2:normalize=0:duration=longest[mix]")
        else:
            filters.append("[mus]anull[mix]")
    else:
        filters.append("[vo]anull[mix]")
    filters.append(f"[mix]apad=whole_len={n_samples},atrim=end_sample={n_samples}[aout]")
    tmp = cache.root / f"{key}.tmp.wav"
    graph = cache.root / f"{key}.audio.filtergraph"
    graph.write_text(";\n".join(filters), encoding="utf-8")
    run_ffmpeg([*args, "-filter_complex_script", str(graph), "-map", "[aout]", "-c:a", "pcm_f32le", "-ar", str(AUDIO_RATE), str(tmp)],
               what=f"mixing the audio of job {tl.job_id}")
    graph.unlink(missing_ok=True)
    meas = _loudness_gain(tmp, target)
    tmp.replace(wav)
    atomic_write_text(meas_path, json.dumps(meas))
    return wav, meas


def _audio_track(tl: Timeline, ws: Workspace, cache: SegmentCache, n_frames: int, target: float = TARGET_LUFS
                 ) -> tuple[Path, dict[str, float] | None]:
    """The finished audio stream of the video: the mix (:func:`_audio_mix`) through the loudness
    gain and peak limiter, AAC 160 kb/s, exactly the video's length (silence for a silent timeline);
    cached beside the mix. Returns (the .m4a, the loudness measurement or None)."""
    n_samples = round(n_frames * AUDIO_RATE / tl.render.fps)
    wav, meas = _audio_mix(tl, ws, cache, n_frames, target)
    if wav is None:
        src, name = ["-f", "lavfi", "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo"], f"silence-{n_samples}.m4a"
    else:
        src, name = ["-i", str(wav)], f"{wav.stem}.{(meas or {}).get('gain_db', 0.0):+.2f}dB.m4a"
    aac = cache.root / name
    if aac.is_file():
        return aac, meas
    af = f"{_loudnorm_filter(meas)},aformat=channel_layouts=stereo,apad=whole_len={n_samples},atrim=end_sample={n_samples}"
    part = aac.with_suffix(f".{os.getpid()}.{threading.get_ident()}.m4a")
    run_ffmpeg([*src, "-af", af, "-c:a", "aac", "-b:a", "160k", "-ar", str(AUDIO_RATE), str(part)], what=f"encoding the audio of job {tl.job_id}")
    part.replace(aac)
    return aac, meas


def _ffmpeg_info(args: list[str], what: str) -> str:
    s = get_settings()
    proc = subprocess.run([s.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", *args], capture_output=True, timeout=600)
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg failed while {what}: {proc.stderr.decode('utf-8', 'replace').strip()[-400:]}", hint="check the audio files")
    return proc.stderr.decode("utf-8", "replace")


def _integrated(wav: Path, af: str = "anull") -> float | None:
    """EBU R128 integrated loudness (LUFS) of ``wav`` through filter ``af``; None when below the gate."""
    err = _ffmpeg_info(["-i", str(wav), "-af", f"{af},ebur128", "-f", "null", "-"], "measuring loudness")
    m = re.findall(r"I:\s+(-?[\d.]+|-inf) LUFS", err)
    if not m or m[-1] == "-inf" or float(m[-1]) <= -69:
        return None
    return float(m[-1])


def _limiter(gain_db: float) -> str:
    lim = 10 ** (TRUE_PEAK_DB / 20)
    return f"volume={gain_db:.2f}dB,alimiter=limit={lim:.4f}:level=false:attack=5:release=60"


def _loudness_gain(wav: Path, target: float) -> dict[str, float] | None:
    """Gain that brings the mix to ``target`` LUFS through a peak limiter at TRUE_PEAK_DB.

    Two-pass EBU R128 normalisation done by measurement: pass 1 measures the mix, then the gain
    is refined (at most three audio-only passes) until gain + limiter lands within 0.3 LU of the
    target — robust for short clips and peaky speech, where ffmpeg's one-shot ``loudnorm``
    estimate (its 3 s window) misses. None for a silent mix.
    """
    i0 = _integrated(wav)
    if i0 is None:
        return None
    g = target - i0
    got = i0
    for _ in range(3):
        got_ = _integrated(wav, _limiter(g))
        if got_ is None:
            break
        got = got_
        if abs(got - target) <= 0.3:
            break
        g += target - got
    return {"input_i": i0, "gain_db": round(g, 2), "output_i": got, "target": target}


def measure_loudness(path: Path) -> float | None:
    """Integrated loudness (LUFS) of a file's audio with ffmpeg's ebur128 meter; None when too quiet to gate."""
    err = _ffmpeg_info(["-i", str(path), "-map", "0:a:0", "-af", "ebur128", "-f", "null", "-"], f"measuring the loudness of {path.name}")
    m = re.findall(r"I:\s+(-?[\d.]+|-inf) LUFS", err)
    if not m or m[-1] == "-inf":
        return None
    v = float(m[-1])
    return None if v <= -69 else v


def _loudnorm_filter(meas: dict[str, float] | None) -> str:
    if not meas:  # silence: nothing to normalise
        return f"aresample={AUDIO_RATE}"
    return f"{_limiter(meas['gain_db'])},aresample={AUDIO_RATE}"


# --------------------------------------------------------------------------- cover


def _cover_score(jpg: Path, free: bool, still: bool) -> float:
    """Sharpness × colourfulness of a cover candidate, subtitle-free frames and photos preferred.

    Sharpness: mean absolute Laplacian; colourfulness: Hasler & Süsstrunk's M
    (:func:`tools.core.images.colourfulness`); dark frames are penalised. Computed on a
    quarter-size decode.
    """
    import cv2
    import numpy as np

    bgr = cv2.imread(str(jpg), cv2.IMREAD_REDUCED_COLOR_4)
    if bgr is None:
        return -1e9
    rgb = bgr[..., ::-1]
    g = rgb.astype(np.float32).mean(axis=2)
    lap = float(np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean())
    colour = colourfulness(rgb)
    dark = max(0.0, 40 - float(g.mean())) / 40
    return math.log1p(lap) + colour / 40 + 0.3 * free + 0.2 * still - dark


def _pick_cover(jobs: list[SegmentJob], tl: Timeline, shots: list[_Shot], cache: SegmentCache) -> tuple[int, Path | None]:
    """(timeline frame, candidate JPEG) of the best cover among the shots' candidates (see _segments)."""
    fps = tl.render.fps
    best, best_jpg, best_score = 0, None, -1e18
    for j in jobs:
        if j.shot < 0 or j.cover_local < 0:
            continue
        f = j.start_frame + j.cover_local
        free = not any(c.start_s <= f / fps < c.end_s for c in tl.subtitles)
        jpg = cache.cover_path(j.key)
        mkey = key_of({"kind": "cover", "seg": j.key})
        score = meta_get(cache.root, mkey)
        if not isinstance(score, (int, float)):
            score = _cover_score(jpg, free, shots[j.shot].clip.is_still)
            meta_put(cache.root, mkey, score)
        if score > best_score and jpg.is_file():
            best, best_jpg, best_score = f, jpg, float(score)
    return best, best_jpg


# --------------------------------------------------------------------------- render


def render(tl: Timeline, ws: Workspace, out_dir: Path, crf: int = 21, preset: str | None = None, *,
           transition_s: float = 0.4, text_boxes: dict[str, list[Box]] | None = None, cover_s: float | None = None,
           attach_cover: bool = False, target_lufs: float = TARGET_LUFS, use_cache: bool = True, workers: int | None = None,
           cache_dir: Path | None = None, use: str = "final", brand: BrandStyle | None = None) -> RenderOutput:
    """Render ``tl`` to ``out_dir/video.mp4`` (plus SRT, ASS, timeline JSON, OTIO, cover.jpg) and verify it."""
    t_start = time.perf_counter()
    spec = tl.render
    fps = spec.fps
    boxes = text_boxes or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    font = (brand.subtitle_font if brand else None) or get_settings().subtitle_font
    # subtitles are data: no markup of their own, no glyph the font lacks (emoji would burn in as boxes)
    cues = [c.model_copy(update={"text": drawable_text(c.text, font)}) for c in tl.subtitles]
    tl = tl.model_copy(update={"subtitles": [c for c in cues if c.text]})
    n_frames = round(tl.duration_s * fps)
    enc = choose_encoding(use)
    params = "" if preset else str(enc["x264_params"])  # a preset named by the caller is used as x264 defines it
    preset = preset or str(enc["preset"])
    cache = SegmentCache(cache_dir or ws.inside("cache", "render"), crf, preset, fps, x264_params=params)
    shots = _plan(tl, ws, transition_s, boxes, cache.root)
    placements = place_subtitles(tl, shots, boxes)
    atomic_write_text(out_dir / "subtitles.srt", to_srt(tl.subtitles))
    atomic_write_text(out_dir / "subtitles.ass", to_ass(tl.subtitles, spec, font, placements, colours=ass_colours(brand)))
    atomic_write_model(out_dir / "timeline.json", tl)

    jobs = _segments(shots, tl, placements, font, cache, colours=ass_colours(brand))
    if brand is not None:  # logo watermark off the brand's own items (intro, outro, end card)
        jobs = brand_jobs(jobs, [(sh.f0 - sh.pre, sh.f0 + sh.n) for sh in shots if is_brand_clip(sh.clip)], brand, ws, spec, cache.root)
    if sum(j.frames for j in jobs) != n_frames:
        raise InternalError(f"segments hold {sum(j.frames for j in jobs)} frames, timeline needs {n_frames}")
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as side:
        # the audio (mix, loudness passes, AAC encode) is made beside the segments (the pool drains
        # unevenly), so that the final mux only copies streams
        audio = side.submit(contextvars.copy_context().run, _audio_track, tl, ws, cache, n_frames, target_lufs)
        rendered = cache.ensure(jobs, workers=workers or int(choose_encoding(use, segments=len(jobs))["workers"]), reuse=use_cache)
        silent = out_dir / "video.noaudio.mp4"
        cache.concat([j.key for j in jobs], silent)
        aac, meas = audio.result()

    cover = out_dir / "cover.jpg"
    cand = None
    if cover_s is None:
        cover_frame, cand = _pick_cover(jobs, tl, shots, cache)
    else:
        cover_frame = min(n_frames - 1, round(cover_s * fps))
    if cand is not None:
        shutil.copyfile(cand, cover)
    else:
        run_ffmpeg(["-i", str(silent), "-vf", f"select='eq(n\\,{cover_frame})'", "-vsync", "0", "-frames:v", "1", "-q:v", "2", str(cover)],
                   what="writing the cover frame")

    out = out_dir / "video.mp4"
    tmp = out_dir / "video.tmp.mp4"
    args = ["-i", str(silent), "-i", str(aac)]
    if attach_cover:
        args += ["-i", str(cover)]
    args += ["-map", "0:v", "-map", "1:a"]
    if attach_cover:
        args += ["-map", "2:v", "-c:v:1", "mjpeg", "-disposition:v:1", "attached_pic"]
    args += ["-c:v:0", "copy", "-c:a", "copy", "-movflags", "+faststart", str(tmp)]
    run_ffmpeg(args, what=f"muxing job {tl.job_id}")
    try:
        res = check_output(tmp, tl, out_dir / "subtitles.srt", expect_loudness=target_lufs if meas else None)
    except InternalError:
        tmp.replace(out_dir / "video.failed.mp4")
        raise
    tmp.replace(out)
    silent.unlink(missing_ok=True)
    cache.prune()
    otio_path = None
    try:
        from tools.render.exports import write_otio

        otio_path = str(write_otio(tl, ws, out_dir / "timeline.otio", transition_frames={k: sh.pre for k, sh in enumerate(shots)}))
    except ImportError:  # opentimelineio is optional at runtime
        otio_path = None
    return res.model_copy(update={
        "video_path": str(out), "cover_path": str(cover), "cover_s": round(cover_frame / fps, 4), "otio_path": otio_path,
        "timeline_path": str(out_dir / "timeline.json"), "segments_total": len(jobs), "segments_rendered": rendered,
        "wall_s": round(time.perf_counter() - t_start, 3)})


def _moov_before_mdat(path: Path) -> bool:
    with path.open("rb") as f:
        pos = 0
        size_total = path.stat().st_size
        while pos < size_total:
            f.seek(pos)
            hdr = f.read(16)
            if len(hdr) < 8:
                return False
            size = int.from_bytes(hdr[:4], "big")
            kind = hdr[4:8]
            if size == 1:
                size = int.from_bytes(hdr[8:16], "big")
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size < 8:
                return False
            pos += size
    return False


def check_output(path: Path, tl: Timeline, srt: Path, expect_loudness: float | None = None) -> RenderOutput:
    """ffprobe (and ebur128) the render; raise InternalError when it does not match the timeline.

    Checked: H.264 yuv420p video at the spec's resolution with exactly round(duration × fps)
    frames, container duration within one frame of that, AAC audio whose duration is within one
    frame of the video's, moov atom before mdat (faststart) and, when ``expect_loudness`` is set,
    integrated loudness within ±LOUDNESS_TOLERANCE_LU.
    """
    info = ffprobe(path)
    streams = info.get("streams", [])
    v = next((s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")), None)
    a = next((s for s in streams if s.get("codec_type") == "audio"), None)
    dur = float(info.get("format", {}).get("duration", 0))
    spec = tl.render
    fps = spec.fps
    n_frames = round(tl.duration_s * fps)
    frame_s = 1 / fps
    problems = []
    frames = 0
    if v is None:
        problems.append("no video stream")
    else:
        if (int(v["width"]), int(v["height"])) != (spec.width_px, spec.height_px):
            problems.append(f"frame {v['width']}×{v['height']}, expected {spec.width_px}×{spec.height_px}")
        if v.get("codec_name") != "h264" or v.get("pix_fmt") != "yuv420p":
            problems.append(f"video is {v.get('codec_name')}/{v.get('pix_fmt')}, expected h264/yuv420p")
        frames = int(v.get("nb_frames") or 0)
        if frames != n_frames:
            problems.append(f"{frames} video frames, expected {n_frames}")
    a_dur = None
    if a is None:
        problems.append("no audio stream")
    else:
        if a.get("codec_name") != "aac":
            problems.append(f"audio is {a.get('codec_name')}, expected aac")
        a_dur = float(a.get("duration") or 0)
        v_dur = float(v.get("duration") or 0) if v else 0
        if abs(a_dur - v_dur) > frame_s + 1e-3:
            problems.append(f"audio lasts {a_dur:.3f} s, video {v_dur:.3f} s (more than one frame apart)")
    if abs(dur - n_frames / fps) > frame_s + 1e-3 or abs(dur - tl.duration_s) > frame_s + 1e-3:
        problems.append(f"duration {dur:.3f} s, expected {tl.duration_s:.3f} s")
    if not _moov_before_mdat(path):
        problems.append("moov atom is not at the front (no faststart)")
    lufs = measure_loudness(path) if a is not None else None
    if expect_loudness is not None and (lufs is None or abs(lufs - expect_loudness) > LOUDNESS_TOLERANCE_LU):
        problems.append(f"integrated loudness {lufs} LUFS, expected {expect_loudness:.1f} ± {LOUDNESS_TOLERANCE_LU}")
    if problems:
        raise InternalError(f"render check failed for {path.name}: {'; '.join(problems)}",
                            hint="the file was kept as video.failed.mp4 for inspection; report this with the timeline JSON")
    assert v is not None
    return RenderOutput(video_path=str(path), srt_path=str(srt), duration_s=round(dur, 3), width_px=int(v["width"]),
                        height_px=int(v["height"]), has_audio=a is not None, frames=frames,
                        audio_duration_s=round(a_dur, 4) if a_dur is not None else None,
                        loudness_lufs=round(lufs, 2) if lufs is not None else None)


@register("render_timeline")
def render_timeline(inp: RenderInput) -> RenderOutput:
    """Render a Timeline to MP4 (H.264 + AAC, −14 LUFS) with motion, transitions, reframing, burned subtitles and ducked music, then verify it."""
    ws = Workspace(inp.workspace)
    return render(inp.timeline, ws, ws.inside(ws.rel(inp.out_dir)), inp.crf, inp.preset, transition_s=inp.transition_s,
                  text_boxes=inp.text_boxes, cover_s=inp.cover_s, attach_cover=inp.attach_cover, target_lufs=inp.target_lufs,
                  use_cache=inp.use_cache, workers=inp.workers, brand=inp.brand, use=inp.use)
