"""Photo and keyframe quality (survey §4.1.1, "VM Selection"): blur, under/over-exposure, colour
entropy, and near-duplicate removal that keeps the better copy.

Metrics (computed on the image resized so that its long side is 512 px, which makes them
comparable across resolutions):

* ``sharpness`` — variance of the Laplacian of the grey image (Pech-Pacheco et al. 2000). The
  survey's papers use a wavelet blur detector [135]; the Laplacian variance is the cheaper,
  standard substitute. ``blur`` = 1 − min(1, sharpness / 300): 0 is crisp, 1 is featureless.
  A photo is *blurry* when ``sharpness < BLUR_THRESHOLD`` (60; at 512 px a focused product
  shot measures 150–3000, a 5 px Gaussian blur of it 10–40).
* ``dark_ratio`` / ``bright_ratio`` — share of pixels with luma < 30 / > 235 (the counting rule of
  [15, 151] in §4.1.1). *Under-exposed* when dark_ratio > 0.6. Packshots on white legitimately
  have bright_ratio 0.5–0.8 (magento_mb01-blue-0: 0.64), so *over-exposed* needs bright_ratio
  > 0.6 **and** the remaining pixels washed out too (their mean luma > 170) — or bright_ratio > 0.95.
* ``colour_entropy`` — Shannon entropy (bits) of the normalised 8×4×4 HSV histogram, as in
  Hua et al. [48] for under/over-exposure and homogeneity. Range [0, 7]; < 1.5 is a near-flat frame.
* ``blockiness`` — JPEG 8×8 blocking: mean absolute luma step across 8-px block borders divided
  by the mean step elsewhere, minus 1, clipped to [0, 1] (0 for a clean image; ≈ 0.3–0.6 at
  JPEG q40). Measured at the image's own resolution (resizing destroys the grid). Without it,
  block edges raise the Laplacian variance and a heavily compressed copy looks *sharper*.
* ``quality`` — a single [0, 1] score used to pick the better of two duplicates:
  0.45·(1 − blur) + 0.2·(1 − exposure penalty) + 0.2·min(entropy/7, 1) + 0.15·resolution
  (log-scaled megapixels, 12 MP → 1) − 0.3·blockiness, clipped.

Near duplicates: two images are duplicates when the cosine similarity of their classic visual
descriptors (tools/understand/encoders.py) is ≥ ``DUPLICATE_COSINE`` (0.90) *or* the Hamming distance of their
flip-invariant 64-bit DCT perceptual hashes is ≤ ``DUPLICATE_PHASH_BITS`` (8). Measured on the 29
photos of ../shared/media/images (the same set the thresholds were chosen on — no held-out set
exists): the most similar two *different* photos (two black watches on white) have cosine 0.862
and pHash distance 30, no pair of different photos is grouped, and 97.7 % of 174 edited copies
(crop 80 %, half size, JPEG q40, brightness ±20 %, mirror) are grouped with their original —
all but 4 of the 80 % crops, which change the framing enough to count as a different shot.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from tools.core.environment import map_in_threads
from tools.core.images import as_rgb, load_image, resize_long
from tools.core.models import Model
from tools.core.paths import ReadPath
from tools.core.registry import register

if TYPE_CHECKING:
    import numpy as np

BLUR_THRESHOLD = 60.0
SHARPNESS_SCALE = 300.0
DARK_LUMA = 30
BRIGHT_LUMA = 235
EXPOSURE_RATIO = 0.6
WASHED_OUT_LUMA = 170
OVEREXPOSED_RATIO_ALONE = 0.95
DUPLICATE_COSINE = 0.90
DUPLICATE_PHASH_BITS = 8
_ANALYSIS_SIDE = 512


# --------------------------------------------------------------------------- metrics


class QualityMetrics(Model):
    """Quality measurements of one image (definitions in the module docstring)."""

    sharpness: float = Field(ge=0)
    """Variance of the Laplacian at 512 px (higher is sharper)."""
    blur: float = Field(ge=0, le=1)
    """1 − min(1, sharpness/300): 0 crisp, 1 featureless."""
    dark_ratio: float = Field(ge=0, le=1)
    """Share of pixels with luma < 30."""
    bright_ratio: float = Field(ge=0, le=1)
    """Share of pixels with luma > 235."""
    colour_entropy: float = Field(ge=0)
    """Shannon entropy (bits) of the 8×4×4 HSV histogram."""
    megapixels: float = Field(ge=0)
    """Original resolution."""
    quality: float = Field(ge=0, le=1)
    """Combined score used to keep the better of two duplicates."""
    is_blurry: bool
    """sharpness < 60."""
    is_underexposed: bool
    """dark_ratio > 0.6."""
    is_overexposed: bool
    """bright_ratio > 0.6 and the other pixels' mean luma > 170, or bright_ratio > 0.95."""
    blockiness: float = Field(default=0.0, ge=0, le=1)
    """JPEG 8×8 blocking strength (0 clean)."""

    def as_dict(self) -> dict[str, float]:
        """Numbers only, for ``Material.quality``."""
        return {k: float(v) for k, v in self.model_dump().items()}


def hsv_entropy(rgb: np.ndarray) -> float:
    """Shannon entropy (bits) of the normalised 8×4×4 HSV histogram (survey §4.1.1, Hua et al. [48])."""
    import cv2
    import numpy as np

    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    p = hist / max(hist.sum(), 1.0)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def blockiness(rgb: np.ndarray) -> float:
    """JPEG 8×8 blocking strength in [0, 1] (module docstring); on at most the central 1024² pixels."""
    import cv2
    import numpy as np

    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = g.shape
    if h < 32 or w < 32:
        return 0.0
    y0, x0 = max(0, (h - 1024) // 2) // 8 * 8, max(0, (w - 1024) // 2) // 8 * 8
    g = g[y0 : y0 + 1024, x0 : x0 + 1024]
    dx = np.abs(np.diff(g, axis=1))
    dy = np.abs(np.diff(g, axis=0))
    bx = (np.arange(dx.shape[1]) % 8) == 7  # step between column 8k+7 and 8k+8
    by = (np.arange(dy.shape[0]) % 8) == 7
    border = (dx[:, bx].mean() + dy[by, :].mean()) / 2
    inner = (dx[:, ~bx].mean() + dy[~by, :].mean()) / 2
    return float(np.clip(border / max(inner, 1e-3) - 1.0, 0.0, 1.0))


def measure_quality(img: str | Path | np.ndarray) -> QualityMetrics:
    """Quality metrics of an image path or RGB array (survey §4.1.1)."""
    import cv2
    import numpy as np

    rgb = as_rgb(img, max_side=2 * _ANALYSIS_SIDE) if isinstance(img, (str, Path)) else as_rgb(img)
    if isinstance(img, (str, Path)):
        from PIL import Image

        with Image.open(img) as im:
            mp = im.size[0] * im.size[1] / 1e6
    else:
        mp = rgb.shape[0] * rgb.shape[1] / 1e6
    small = resize_long(rgb, _ANALYSIS_SIDE)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    sharp = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    blur = 1.0 - min(1.0, sharp / SHARPNESS_SCALE)
    dark = float((grey < DARK_LUMA).mean())
    bright = float((grey > BRIGHT_LUMA).mean())
    ent = hsv_entropy(small)
    rest = grey[grey <= BRIGHT_LUMA]
    washed = float(rest.mean()) > WASHED_OUT_LUMA if rest.size else True
    over = (bright > EXPOSURE_RATIO and washed) or bright > OVEREXPOSED_RATIO_ALONE
    under = dark > EXPOSURE_RATIO
    exposure_pen = max(0.0, (dark - 0.3) / 0.7) if dark > 0.3 else 0.0
    if bright > 0.3 and washed:
        exposure_pen = max(exposure_pen, (bright - 0.3) / 0.7)
    blocky = blockiness(rgb)
    res_bonus = float(np.clip(np.log10(1 + mp) / np.log10(13), 0, 1))
    q = 0.45 * (1 - blur) + 0.2 * (1 - exposure_pen) + 0.2 * min(ent / 7.0, 1.0) + 0.15 * res_bonus - 0.3 * blocky
    return QualityMetrics(
        sharpness=sharp,
        blur=blur,
        dark_ratio=dark,
        bright_ratio=bright,
        colour_entropy=ent,
        megapixels=mp,
        quality=float(np.clip(q, 0, 1)),
        is_blurry=sharp < BLUR_THRESHOLD,
        is_underexposed=under,
        is_overexposed=over,
        blockiness=blocky,
    )


def phash(img: str | Path | np.ndarray) -> int:
    """64-bit DCT perceptual hash (grey 32×32 → top-left 8×8 DCT block > its median).

    Flip-invariant variant: the hash of the image or of its mirror, whichever is smaller as an
    integer, so a horizontally flipped copy hashes identically.
    """
    import cv2
    import numpy as np

    rgb = as_rgb(img, max_side=256)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA)
    out = []
    for g in (small, small[:, ::-1]):
        d = cv2.dct(np.ascontiguousarray(g))[:8, :8].ravel()
        bits = d[1:] > np.median(d[1:])  # drop DC: brightness changes move only DC
        out.append(int("".join("1" if b else "0" for b in bits), 2))
    return min(out)


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


class DuplicateGroup(Model):
    """Materials that show the same picture; ``keep`` is the best copy."""

    keep: str
    """Key (path or id) of the copy to keep (highest quality)."""
    drop: list[str]
    """Keys of the other copies."""


def find_near_duplicates(
    items: dict[str, str | Path | np.ndarray],
    *,
    vectors: dict[str, np.ndarray] | None = None,
    qualities: dict[str, float] | None = None,
    cosine: float = DUPLICATE_COSINE,
    phash_bits: int = DUPLICATE_PHASH_BITS,
) -> list[DuplicateGroup]:
    """Group near-duplicate images and keep the highest-quality copy of each group (survey §4.1.1).

    Args:
        items: key → image path or RGB array.
        vectors: key → L2-normalised descriptor; computed with the classic encoder when absent.
        qualities: key → quality score; computed with :func:`measure_quality` when absent.
    """
    import numpy as np

    keys = list(items)
    if len(keys) < 2:
        return []
    if vectors is None:
        from tools.understand.encoders import get_encoder

        enc = get_encoder("classic")
        mat = enc.encode_images([items[k] for k in keys])
    else:
        mat = np.stack([np.asarray(vectors[k], np.float32) for k in keys])
    hashes = [phash(items[k]) for k in keys]
    sims = mat @ mat.T
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            if sims[i, j] >= cosine or hamming(hashes[i], hashes[j]) <= phash_bits:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(keys)):
        groups.setdefault(find(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        q = {keys[i]: (qualities[keys[i]] if qualities else measure_quality(items[keys[i]]).quality) for i in members}
        best = max(q, key=lambda k: (q[k], k))
        out.append(DuplicateGroup(keep=best, drop=sorted(k for k in q if k != best)))
    return sorted(out, key=lambda g: g.keep)


# --------------------------------------------------------------------------- registry tools


class AssessQualityInput(Model):
    """Images to measure."""

    paths: list[ReadPath] = Field(min_length=1)
    """Image files (photos or keyframes)."""
    find_duplicates: bool = True
    """Also group near-duplicates and say which copy to keep."""


class ImageQuality(Model):
    """Quality of one image."""

    path: str
    """The image."""
    metrics: QualityMetrics
    """Its measurements."""


class AssessQualityOutput(Model):
    """Quality per image and duplicate groups."""

    images: list[ImageQuality]
    """One entry per input path, in order."""
    duplicates: list[DuplicateGroup] = Field(default_factory=list)
    """Near-duplicate groups (keys are the paths)."""


@register("assess_quality")
def assess_quality(inp: AssessQualityInput) -> AssessQualityOutput:
    """Measure blur, exposure and colour entropy of images and find near-duplicates (keep the best)."""
    paths = list(dict.fromkeys(inp.paths))
    metrics = dict(zip(paths, map_in_threads(measure_quality, paths)))  # one photo per core
    dups: list[DuplicateGroup] = []
    if inp.find_duplicates and len(inp.paths) > 1:
        items: dict[str, Any] = dict(zip(paths, map_in_threads(lambda p: load_image(p, max_side=768), paths)))
        dups = find_near_duplicates(items, qualities={p: m.quality for p, m in metrics.items()})
    return AssessQualityOutput(images=[ImageQuality(path=p, metrics=metrics[p]) for p in inp.paths], duplicates=dups)
