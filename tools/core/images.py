"""Still-image primitives every stage shares: safe decoding, RGB coercion, resizing, and two
picture measures (colourfulness, saliency). One home each, so that quality, scoring, features,
reframing and the cover picker measure the same thing the same way.

* :func:`load_image` / :func:`as_rgb` / :func:`resize_long` — decode (with a decompression-bomb
  guard and EXIF orientation), coerce to RGB uint8, resize by the long side.
* :func:`colourfulness` — Hasler & Süsstrunk (2003) colourfulness M on the opponent channels
  rg = R − G, yb = (R + G)/2 − B (0–255 scale): M = σ_rgyb + 0.3·μ_rgyb, with
  σ_rgyb = √(σ_rg² + σ_yb²) and μ_rgyb = √(μ_rg² + μ_yb²). Grey is 0; their "moderately
  colourful" ≈ 33, "highly colourful" ≈ 59, "extremely colourful" > 82. Callers squash M onto
  their own scale (and say so); the measure itself lives here.
* :func:`saliency_map` — bottom-up saliency in [0, 1] at :data:`SALIENCY_SIDE_PX` on the long
  side: the spectral residual of Hou & Zhang (CVPR 2007) on the grey image, mixed half and half
  with a colour-contrast term (Lab distance from the image's median colour, which catches a
  product on a white packshot background that the spectral residual alone spreads over the
  edges), then the mean is subtracted so only what stands out keeps mass.

Heavy imports (numpy, cv2, Pillow) live inside functions so importing this module stays cheap.

Decoded photos are kept in a small per-process cache (:class:`DecodeCache`): the steps of one
job read the same photo at several sizes (retrieval 512 px, quality 1024 and 768, scoring 1024,
relevance 640, OCR), and a decode costs more than everything these steps then compute on a
small picture. The cache returns exactly what a fresh decode would (the same array, or a
thumbnail of the same decoded picture), so it changes no result.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.core.errors import MediaError, ToolInputError, UnsupportedMediaError

if TYPE_CHECKING:
    import numpy as np

#: Side (px) of the long edge the saliency map is computed at: enough to place a product in the
#: frame, small enough that a map costs about a millisecond.
SALIENCY_SIDE_PX = 128


def _default_max_pixels() -> int:
    from tools.core.settings import get_settings

    return get_settings().max_image_pixels


# --------------------------------------------------------------------------- safe decoding


#: Bytes of decoded pictures the cache keeps (least recently used out first). One job's score
#: step reads each photo at about four sizes (≈ 7 MB a photo at 1024 px and below, plus the decoded
#: picture the sizes are made from): 256 MiB holds a 20-photo job's photos through the step.
DECODE_CACHE_BYTES = 256 << 20


class DecodeCache:
    """Decoded pictures (after draft decoding, EXIF orientation and RGB conversion) and the arrays
    made from them, keyed by the file's identity (path, size, mtime) and the decode size; LRU
    bounded by bytes, thread-safe (decoding happens outside the lock)."""

    def __init__(self, max_bytes: int = DECODE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> Any:
        with self._lock:
            got = self._items.get(key)
            if got is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return got[0]

    def put(self, key: tuple, value: Any, nbytes: int) -> None:
        if nbytes > self.max_bytes // 4:  # one huge picture would flush everything else
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (value, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes and self._items:
                _, (_, n) = self._items.popitem(last=False)
                self._bytes -= n

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_DECODED = DecodeCache()


def clear_decode_cache() -> None:
    """Forget every cached decode (tests; a process that wants the memory back)."""
    _DECODED.clear()


def load_image(path: str | Path, *, max_pixels: int | None = None, max_side: int | None = None, cache: bool = True) -> np.ndarray:
    """Decode an image to an RGB uint8 array (read-only), applying EXIF orientation.

    The header is read first and images over ``max_pixels`` (default ``ADREEL_MAX_IMAGE_PIXELS``,
    80 MP) are refused *before* decoding: a 50 kB PNG can declare 100 000 × 100 000 pixels and
    would need 30 GB to decode (a decompression bomb). ``max_side`` downsizes with a draft
    decode (JPEG DCT scaling) when possible, so large photos decode fast. Decodes are cached
    per process (module docstring): a second call for the same file returns the same pixels
    without decoding again; ``cache=False`` neither reads nor fills the cache (a full-size read
    no other step shares).

    Raises:
        ToolInputError: missing file.
        UnsupportedMediaError: not an image Pillow can read.
        MediaError: empty, corrupt, truncated or over the pixel limit.
    """
    import warnings

    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise ToolInputError(f"image {str(p)!r} does not exist", hint="check the path")
    st = p.stat()
    if st.st_size == 0:
        raise MediaError(f"image {p.name!r} is empty (0 bytes)", hint="re-upload or re-export the file")
    limit = max_pixels or _default_max_pixels()
    ident = (str(p.resolve()), st.st_size, st.st_mtime_ns, limit)
    arr = _DECODED.get((*ident, "array", max_side)) if cache else None
    if arr is not None:
        return arr
    try:
        with warnings.catch_warnings():
            # Pillow warns at open() above ~89 MP; our own limit below decides, with a clear error
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im0 = Image.open(p)
        with im0 as im:
            w, h = im.size
            if w * h > limit:
                raise MediaError(
                    f"image {p.name!r} is {w}x{h} = {w * h / 1e6:.0f} MP, over the {limit / 1e6:.0f} MP limit (possible decompression bomb)",
                    hint="downscale it (e.g. `ffmpeg -i IN -vf scale=4096:-1 OUT.jpg`) or raise ADREEL_MAX_IMAGE_PIXELS",
                )
            if max_side and max(w, h) > 2 * max_side and im.format == "JPEG":
                im.draft("RGB", (max_side, max_side))
            # the decoded picture depends only on the file and the draft (decode) size: every
            # size made from the same draft shares one decode
            dkey = (*ident, "decoded", im.mode, im.size)
            base = _DECODED.get(dkey) if cache else None
            if base is None:
                base = ImageOps.exif_transpose(im).convert("RGB")
                if cache:
                    _DECODED.put(dkey, base, base.width * base.height * 3)
        out = base
        if max_side and max(out.size) > max_side:
            out = base.copy()  # thumbnail() works in place: the cached picture stays whole
            out.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        arr = np.asarray(out, dtype=np.uint8)
    except MediaError:
        raise
    except UnidentifiedImageError as e:
        raise UnsupportedMediaError(
            f"{p.name!r} is not an image AdReel can read", hint="use JPEG, PNG or WebP"
        ) from e
    except Image.DecompressionBombError as e:
        raise MediaError(f"image {p.name!r} exceeds Pillow's decompression-bomb limit", hint="downscale it") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise MediaError(f"image {p.name!r} is corrupt or truncated: {e}", hint="re-export or re-upload it") from e
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MediaError(f"image {p.name!r} decoded to an empty array", hint="re-export it")
    if arr.flags.writeable:  # every caller shares it: nobody may change it in place
        arr.setflags(write=False)
    if cache and out is not base:  # a full-size array is made again from the cached picture (a copy, no decode)
        _DECODED.put((*ident, "array", max_side), arr, arr.nbytes)
    return arr


def as_rgb(img: str | Path | np.ndarray, max_side: int | None = None) -> np.ndarray:
    """A path or an array (RGB, or grey) as an RGB uint8 array."""
    import numpy as np

    if isinstance(img, (str, Path)):
        return load_image(img, max_side=max_side)
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ToolInputError(f"image array has shape {a.shape}; expected H×W×3 RGB", hint="pass an RGB uint8 array")
    a = a[:, :, :3]
    if a.dtype != np.uint8:
        a = np.clip(a * (255.0 if a.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return a


def resize_long(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` resized so that its long side is ``side`` px (area filter down, bilinear up); unchanged within 0.1 %."""
    import cv2

    h, w = rgb.shape[:2]
    s = side / max(h, w)
    if abs(s - 1) < 1e-3:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


# --------------------------------------------------------------------------- measures


def read_frame(path: str | Path, at_s: float = 0.0, *, reduce: int = 1) -> np.ndarray:
    """One RGB frame: the image itself, or the frame of a video at ``at_s`` seconds. ``reduce`` 2,
    4 or 8 decodes a still at that fraction of its size (OpenCV's reduced JPEG decoding).

    Raises:
        ToolInputError: the path does not exist.
        MediaError: neither an image OpenCV reads nor a video with a frame at ``at_s``.
    """
    import cv2
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise ToolInputError(f"{str(path)!r} does not exist", hint="pass the path of an image or a video file")
    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
    img = cv2.imread(str(p), flag)
    if img is None:  # a video (or an unreadable file): grab one frame
        cap = cv2.VideoCapture(str(p))
        cap.set(cv2.CAP_PROP_POS_MSEC, at_s * 1000)
        ok, img = cap.read()
        cap.release()
        if not ok or img is None:
            raise MediaError(f"cannot decode a frame of {p.name!r} at {at_s:.2f} s",
                             hint="the file may be corrupt; re-export it as JPEG/PNG or H.264 MP4")
    return np.ascontiguousarray(img[:, :, ::-1])


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness M of an RGB image (0 grey, ≈33 moderate, > 82 extreme).

    Computed in float64 (module docstring for the formula); callers map M to their own scale.
    """
    import numpy as np

    x = np.asarray(rgb, dtype=np.float64)
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def saliency_map(rgb: np.ndarray, side_px: int = SALIENCY_SIDE_PX) -> np.ndarray:
    """Saliency in [0, 1] at ``side_px`` on the long side (same aspect as ``rgb``), float32.

    Spectral residual (Hou & Zhang 2007) of the grey image plus a colour-contrast term: distance
    of each pixel's Lab colour from the image's median colour (the background on packshots).
    All zero for a featureless image.
    """
    import cv2
    import numpy as np

    h, w = rgb.shape[:2]
    s = side_px / max(h, w)
    small = cv2.resize(rgb, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    f = np.fft.fft2(grey)
    log_amp = np.log(np.abs(f) + 1e-8)
    residual = log_amp - cv2.blur(log_amp, (3, 3))
    sr = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(f)))) ** 2
    sr = cv2.GaussianBlur(sr.astype(np.float32), (0, 0), 2.5)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = np.median(lab.reshape(-1, 3), axis=0)
    cc = np.linalg.norm(lab - ref, axis=2)
    cc = cv2.GaussianBlur(cc, (0, 0), 2.0)

    def norm(a: np.ndarray) -> np.ndarray:
        lo, hi = float(np.percentile(a, 2)), float(a.max())
        return np.clip((a - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(a)

    sal = 0.5 * norm(sr) + 0.5 * norm(cc)
    # keep what stands out: the spectral residual leaves a broad floor on flat backgrounds
    sal = np.clip(sal - float(sal.mean()), 0, None)
    return (sal / sal.max() if sal.max() > 0 else sal).astype(np.float32)
