"""Saliency- and OCR-aware reframing: where to crop a still or a clip frame for a target aspect.

Survey §5.2 (still image animation) and §7.3.3 (visual effects that zoom into the product) ask
for motion and framing that follow the product. Without a detector we use bottom-up saliency
(:func:`tools.core.images.saliency_map`): the spectral residual of Hou & Zhang (CVPR 2007) on a
small grey copy, mixed with a colour-contrast term (distance from the median Lab colour, which
catches a product on a white packshot background). Printed text boxes (from OCR, passed in as
data) are treated as things a crop must not cut: a window that would slice through a text box
is moved or, if no window can hold it, the shot is padded over a blurred copy of itself instead
of cropped.

Everything here works in *normalised* source coordinates (0..1 of width and height), so the
result is independent of the resolution the renderer later decodes at.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from tools.core.images import read_frame, saliency_map
from tools.core.models import Box, Model
from tools.core.paths import ReadPath
from tools.core.registry import register

#: A crop must keep at least this share of the saliency mass, else the frame is padded instead.
MIN_KEPT_SALIENCY = 0.88


class ReframeInput(Model):
    """A still or one frame of a clip, and the frame to fit it into."""

    path: ReadPath
    """Image file, or a video file (then ``at_s`` picks the frame)."""
    target_aspect: float = Field(gt=0)
    """Width/height of the output frame (9/16, 1, 16/9)."""
    at_s: float = Field(default=0.0, ge=0)
    """For a video: the time of the frame to analyse."""
    text_boxes: list[Box] = Field(default_factory=list)
    """Printed-text boxes (OCR) in normalised coordinates; a crop never cuts through one."""
    pad_threshold: float = Field(default=1.3, gt=1)
    """Aspect mismatch (max(src/dst, dst/src)) above which padding is considered at all."""


class ReframeOutput(Model):
    """The decided framing, in normalised source coordinates."""

    mode: str
    """"crop" (the window fills the frame) or "pad" (whole source over a blurred copy)."""
    window: Box
    """The crop window (for pad: the whole frame)."""
    focus_x: float
    """Saliency centroid, share of the width (where Ken Burns motion heads)."""
    focus_y: float
    """Saliency centroid, share of the height."""
    kept_saliency: float
    """Share of the saliency mass inside the crop window."""


def decide(sal: np.ndarray, src_aspect: float, target_aspect: float, text_boxes: list[Box] | None = None,
           pad_threshold: float = 1.3) -> ReframeOutput:
    """Pick the crop window of aspect ``target_aspect`` that keeps the most saliency without cutting text.

    The window is the largest one of the target aspect (full height or full width); it slides
    along the free axis. Windows that slice a text box (keep between 5 % and 95 % of its area)
    are rejected. When the mismatch is above ``pad_threshold`` and the best window keeps less
    than MIN_KEPT_SALIENCY of the mass (or every window cuts text), the result is "pad".
    """
    boxes = text_boxes or []
    h, w = sal.shape
    total = float(sal.sum()) or 1.0
    ys, xs = np.mgrid[0:h, 0:w]
    fx = float((sal * (xs + 0.5)).sum() / total / w) if sal.sum() > 0 else 0.5
    fy = float((sal * (ys + 0.5)).sum() / total / h) if sal.sum() > 0 else 0.5
    ratio = target_aspect / src_aspect  # window width / source width when full height
    horizontal = ratio < 1  # the window is narrower than the source: slide along x
    span = ratio if horizontal else 1 / ratio  # window size along the sliding axis (share)
    prof = sal.sum(axis=0) if horizontal else sal.sum(axis=1)
    n = len(prof)
    cum = np.concatenate([[0.0], np.cumsum(prof)])
    win = max(1, round(span * n))
    best: tuple[float, float] | None = None  # (score, start share)
    for start in range(0, n - win + 1):
        kept = (cum[start + win] - cum[start]) / total
        a = start / n
        box = Box(x0=a, y0=0, x1=min(1.0, a + span), y1=1) if horizontal else Box(x0=0, y0=a, x1=1, y1=min(1.0, a + span))
        if any(0.05 < box.overlap(b) / max(b.area(), 1e-9) < 0.95 for b in boxes):
            continue
        # among windows keeping about as much, prefer the one centred on the saliency centroid
        score = kept - 0.03 * abs((a + span / 2) - (fx if horizontal else fy))
        if best is None or score > best[0]:
            best = (score, a)
    mismatch = max(ratio, 1 / ratio)
    if best is None:
        if mismatch > 1.02:
            return ReframeOutput(mode="pad", window=Box(x0=0, y0=0, x1=1, y1=1), focus_x=fx, focus_y=fy, kept_saliency=1.0)
        best = (1.0, 0.0)
    a = best[1]
    kept = float((cum[min(n, round(a * n) + win)] - cum[round(a * n)]) / total)
    box = Box(x0=a, y0=0, x1=min(1.0, a + span), y1=1) if horizontal else Box(x0=0, y0=a, x1=1, y1=min(1.0, a + span))
    if mismatch > pad_threshold and kept < MIN_KEPT_SALIENCY:
        return ReframeOutput(mode="pad", window=Box(x0=0, y0=0, x1=1, y1=1), focus_x=fx, focus_y=fy, kept_saliency=1.0)
    return ReframeOutput(mode="crop", window=box, focus_x=fx, focus_y=fy, kept_saliency=round(kept, 4))


def reframe_image(rgb: np.ndarray, target_aspect: float, text_boxes: list[Box] | None = None, pad_threshold: float = 1.3) -> ReframeOutput:
    """Saliency map + :func:`decide` for an RGB array."""
    h, w = rgb.shape[:2]
    return decide(saliency_map(rgb), w / h, target_aspect, text_boxes, pad_threshold)


@register("reframe_shot")
def reframe_shot(inp: ReframeInput) -> ReframeOutput:
    """Decide a saliency- and text-aware crop window (or blurred pad) of a still or clip frame for an aspect."""
    rgb = read_frame(inp.path, inp.at_s)
    return reframe_image(rgb, inp.target_aspect, inp.text_boxes, inp.pad_threshold)
