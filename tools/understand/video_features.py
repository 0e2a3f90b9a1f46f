"""Classic per-frame and per-second features of a video, decoded small and fast.

Self-contained on purpose, needing only tools.core (thumbnail and explain use it; material
understanding may reuse it): frames are decoded by an ``ffmpeg`` pipe at low resolution (rgb24), then each frame gets colour,
exposure, sharpness and motion descriptors, and an arousal proxy in [0, 1].

Every descriptor is on a *fixed* scale (no per-video normalisation), so a score means the same
thing across videos and a frame's features depend only on that frame and the one before it
(motion). That property is what lets the explainer mask pixels of a few frames and recompute
their features without touching the rest of the video.

Heavy imports (cv2) live inside functions so that importing this module stays cheap.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.core.errors import MediaError, ToolInputError
from tools.core.images import colourfulness
from tools.core.media import display_size, ffmpeg_exe, ffprobe_exe

#: Names of the columns of :func:`frame_feature_matrix`, in order. All lie roughly in [0, 1].
FRAME_FEATURES: tuple[str, ...] = (
    "brightness",  # mean luma / 255
    "contrast",  # std of luma / 128
    "sharpness",  # Laplacian variance, squashed: 1 - exp(-var / 500)
    "colourfulness",  # Hasler & Süsstrunk (2003) M / 100, clipped
    "saturation",  # mean HSV saturation weighted by value
    "dark_ratio",  # share of pixels with luma < 16 (under-exposure)
    "bright_ratio",  # share of pixels with luma > 240 (over-exposure)
    "motion",  # mean |Δluma| to the previous frame / 255, squashed: 1 - exp(-d / 0.06)
    "hue_entropy",  # entropy of the saturation-weighted 8-bin hue histogram / log(8)
    *(f"hue_{i}" for i in range(8)),  # saturation-weighted hue histogram (sums to ≤ 1)
    "arousal",  # the arousal proxy, see :func:`arousal_from_columns`
)
_IDX = {n: i for i, n in enumerate(FRAME_FEATURES)}


@dataclass(frozen=True)
class VideoInfo:
    """What the decoder needs to know about a video stream."""

    path: str
    duration_s: float
    fps: float
    width_px: int
    height_px: int


def probe_video(path: str | Path) -> VideoInfo:
    """Duration, frame rate and display size (after rotation) of the first video stream.

    Raises:
        ToolInputError: the path does not exist.
        MediaError: the file has no decodable video stream.
    """
    p = Path(path)
    if not p.is_file():
        raise ToolInputError(f"video file not found: {str(path)!r}", hint="pass the path of an existing video file")
    info: dict | None = None
    ffprobe = ffprobe_exe()
    if ffprobe:
        cmd = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
               "stream=width,height,avg_frame_rate,r_frame_rate,duration:stream_side_data=rotation:"
               "stream_tags=rotate:format=duration", "-of", "json", str(p)]
        r = subprocess.run(cmd, capture_output=True, timeout=60)
        if r.returncode == 0:
            info = json.loads(r.stdout or b"{}")
    if info is not None:
        streams = info.get("streams") or []
        if not streams:
            raise MediaError(f"no video stream in {str(path)!r}", hint="pass a video file (mp4, webm, mkv, mov …)")
        s = streams[0]
        w, h = display_size(s)
        fps = _ratio(s.get("avg_frame_rate")) or _ratio(s.get("r_frame_rate")) or 25.0
        dur = float(s.get("duration") or 0) or float((info.get("format") or {}).get("duration") or 0)
    else:  # no ffprobe: OpenCV can still read the container header
        import cv2

        cap = cv2.VideoCapture(str(p))
        if not cap.isOpened():
            raise MediaError(f"cannot open video {str(path)!r}", hint="check that the file is a playable video")
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 25.0)
        n = float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        dur = n / fps if fps > 0 else 0.0
        cap.release()
    if w <= 0 or h <= 0 or dur <= 0:
        raise MediaError(
            f"video {str(path)!r} has no usable size or duration (w={w}, h={h}, duration={dur})",
            hint="re-encode it, e.g. `ffmpeg -i in -c:v libx264 out.mp4`",
        )
    return VideoInfo(str(p), dur, fps, w, h)


def _ratio(s: str | None) -> float:
    if not s or s in ("0/0", "0"):
        return 0.0
    if "/" in s:
        a, b = s.split("/")
        return float(a) / float(b) if float(b) else 0.0
    return float(s)


def analysis_size(info: VideoInfo, width_px: int) -> tuple[int, int]:
    """(width, height) for decoding at ``width_px`` wide, aspect kept, both even."""
    w = max(16, int(width_px) // 2 * 2)
    h = max(16, int(round(w * info.height_px / info.width_px / 2)) * 2)
    return w, h


def read_frames(
    path: str | Path,
    fps: float = 4.0,
    width_px: int = 160,
    start_s: float = 0.0,
    duration_s: float | None = None,
    info: VideoInfo | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode frames at ``fps`` and ``width_px`` wide through an ffmpeg pipe.

    Returns:
        (frames uint8 [N, H, W, 3] RGB, times_s float [N]) — times are presentation times of the
        sampled frames, relative to the start of the file.
    Raises:
        MediaError: ffmpeg cannot decode the file or yields no frame.
    """
    if fps <= 0:
        raise ToolInputError(f"analysis fps must be > 0, got {fps}", hint="use e.g. fps=4")
    info = info or probe_video(path)
    w, h = analysis_size(info, width_px)
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin"]
    if start_s > 0:
        cmd += ["-ss", f"{start_s:.3f}"]
    cmd += ["-i", str(path)]
    if duration_s is not None:
        cmd += ["-t", f"{duration_s:.3f}"]
    # fps filter samples the frame shown at k/fps (round=down keeps times inside the file)
    cmd += ["-an", "-vf", f"fps={fps}:round=down,scale={w}:{h}:flags=area,setsar=1",
            "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]
    r = subprocess.run(cmd, capture_output=True, timeout=600)
    if r.returncode != 0:
        raise MediaError(
            f"ffmpeg could not decode {str(path)!r}: {r.stderr.decode(errors='replace')[-300:].strip()}",
            hint="check that the file is a playable video",
        )
    n = len(r.stdout) // (w * h * 3)
    if n == 0:
        raise MediaError(f"no frame decoded from {str(path)!r}", hint="the file may be empty or truncated")
    frames = np.frombuffer(r.stdout[: n * w * h * 3], np.uint8).reshape(n, h, w, 3)
    times = start_s + np.arange(n) / fps
    return frames, times


# --------------------------------------------------------------------------- per-frame descriptors


def luma(frame: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB uint8 frame as float32 in [0, 255]."""
    f = frame.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _frame_row(frame: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
    import cv2

    y = luma(frame)
    row = np.zeros(len(FRAME_FEATURES), np.float32)
    row[_IDX["brightness"]] = y.mean() / 255.0
    row[_IDX["contrast"]] = min(1.0, y.std() / 128.0)
    lap = cv2.Laplacian(y, cv2.CV_32F)
    row[_IDX["sharpness"]] = 1.0 - np.exp(-float(lap.var()) / 500.0)
    row[_IDX["colourfulness"]] = min(1.0, colourfulness(frame) / 100.0)
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)  # H in [0,180), S,V in [0,255]
    s = hsv[..., 1].astype(np.float32) / 255.0
    v = hsv[..., 2].astype(np.float32) / 255.0
    sv = s * v
    row[_IDX["saturation"]] = sv.mean()
    row[_IDX["dark_ratio"]] = float((y < 16).mean())
    row[_IDX["bright_ratio"]] = float((y > 240).mean())
    if prev is not None:
        d = float(np.abs(y - luma(prev)).mean()) / 255.0
        row[_IDX["motion"]] = 1.0 - np.exp(-d / 0.06)
    hist = np.bincount((hsv[..., 0].astype(np.int32) * 8 // 180).ravel(), weights=sv.ravel(), minlength=8)[:8]
    hist = hist / sv.size
    row[_IDX["hue_0"]: _IDX["hue_0"] + 8] = hist
    tot = hist.sum()
    if tot > 1e-6:
        p = hist / tot
        p = p[p > 0]
        row[_IDX["hue_entropy"]] = float(-(p * np.log(p)).sum() / np.log(8))
    row[_IDX["arousal"]] = arousal_from_columns(row[None])[0]
    return row


def arousal_from_columns(rows: np.ndarray) -> np.ndarray:
    """The arousal proxy in [0, 1] from feature rows (columns as in :data:`FRAME_FEATURES`).

    Motion dominates (fast change is the strongest visual arousal cue), then colourfulness and
    saturation (saturated colour reads as energetic), then contrast. The weights are a hand-set
    prior, not fitted: 0.5 motion, 0.25 colourfulness, 0.15 saturation, 0.10 contrast.
    """
    r = np.asarray(rows, np.float32)
    a = (0.5 * r[:, _IDX["motion"]] + 0.25 * r[:, _IDX["colourfulness"]]
         + 0.15 * np.minimum(1.0, 2.0 * r[:, _IDX["saturation"]]) + 0.10 * r[:, _IDX["contrast"]])
    return np.clip(a, 0.0, 1.0)


def frame_feature_matrix(frames: np.ndarray, prev: np.ndarray | None = None) -> np.ndarray:
    """Feature rows [N, len(FRAME_FEATURES)] for frames [N, H, W, 3] RGB uint8.

    ``prev`` is the frame before ``frames[0]`` (for its motion); without it the first frame's
    motion is copied from the second so that a clip start does not read as static.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ToolInputError(f"frames must be [N, H, W, 3] RGB, got shape {frames.shape}")
    rows = np.stack([_frame_row(f, prev if i == 0 else frames[i - 1]) for i, f in enumerate(frames)])
    if prev is None and len(rows) > 1:
        rows[0, _IDX["motion"]] = rows[1, _IDX["motion"]]
        rows[0, _IDX["arousal"]] = arousal_from_columns(rows[:1])[0]
    return rows


def column(rows: np.ndarray, name: str) -> np.ndarray:
    """One named column of a feature matrix."""
    return rows[:, _IDX[name]]


# --------------------------------------------------------------------------- per-second


@dataclass(frozen=True)
class SecondFeatures:
    """Per-second features of a video: row t describes the one-second shot [t, t+1)."""

    info: VideoInfo
    starts_s: np.ndarray
    """Start time of each one-second shot (0, 1, 2 …)."""
    matrix: np.ndarray
    """[n_seconds, D]: mean of the frame rows in each second, then the std of motion and luma."""
    frame_rows: np.ndarray
    """[n_frames, len(FRAME_FEATURES)] frame rows the seconds were built from."""
    frame_times_s: np.ndarray
    """Times of the frame rows."""

    def col(self, name: str) -> np.ndarray:
        """Per-second mean of a named frame feature."""
        return self.matrix[:, _IDX[name]]

    @property
    def arousal(self) -> np.ndarray:
        """Per-second arousal proxy in [0, 1]."""
        return self.col("arousal")


def per_second_features(
    path: str | Path, fps: float = 4.0, width_px: int = 160, shot_s: float = 1.0
) -> SecondFeatures:
    """Features of every full ``shot_s``-long shot starting at multiples of ``shot_s``.

    Each row is the mean of the frame rows inside the shot, followed by two temporal columns
    (std of motion, std of brightness inside the shot: how much the shot itself changes).

    Raises:
        InfeasibleError-free: a video shorter than one shot yields a single (partial) row.
    """
    info = probe_video(path)
    frames, times = read_frames(path, fps=fps, width_px=width_px, info=info)
    rows = frame_feature_matrix(frames)
    n = max(1, int(np.floor(info.duration_s / shot_s + 1e-6)))
    out = []
    for t in range(n):
        sel = (times >= t * shot_s - 1e-6) & (times < (t + 1) * shot_s - 1e-6)
        r = rows[sel] if sel.any() else rows[[min(len(rows) - 1, int(t * shot_s * fps))]]
        extra = [r[:, _IDX["motion"]].std(), r[:, _IDX["brightness"]].std()]
        out.append(np.concatenate([r.mean(0), np.asarray(extra, np.float32)]))
    starts = np.arange(n, dtype=np.float64) * shot_s
    return SecondFeatures(info, starts, np.stack(out).astype(np.float32), rows, times)
