"""Text printed on photos and keyframes, with boxes (rapidocr-onnxruntime, which ships the PP-OCRv4
detection + recognition ONNX models for Chinese and English inside its wheel — nothing is
downloaded).

The text feeds retrieval (``tools.understand.index.material_text``); the boxes let the subtitle layout keep
captions off printed text. One engine per process, created on first use (≈1 s) and shared
under a lock (onnxruntime sessions are thread-safe for inference, creation is not).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pydantic import Field

from tools.core.environment import usable_cores
from tools.core.errors import BackendUnavailable
from tools.core.models import Box, Model
from tools.core.paths import ContentId, ReadPath, WorkspaceRoot
from tools.core.registry import register

#: Lines recognised with lower confidence than this are dropped (rapidocr's default is 0.5;
#: on product photos, 0.5–0.6 lines were mostly texture read as letters).
MIN_LINE_SCORE = 0.6
#: Photos are downscaled to this long side before OCR: 960 px is the side PP-OCR's detector is
#: run at by default (PaddleOCR's ``det_limit_side_len``), so smaller print than the model sees
#: there is not read anyway. On the 20 shared product photos it kept every line of the package and
#: label text that 1600 px read (it lost a watch face's 'ADJUST'/'MODE' and two junk lines) at
#: 0.6 of the time.
OCR_MAX_SIDE = 960
#: The detector runs on the photo as given (long side ≤ :data:`OCR_MAX_SIDE`), PaddleOCR's own
#: default (``det_limit_type="max"``). rapidocr's default ("min", 736) *upscales* the short side to
#: 736 px: a 960×640 photo was detected at 1104×736 and a 1280×460 banner at 2048×736, 3.2 times
#: the pixels, and detection is nine tenths of OCR's time. On the 29 shared photos "max" read the
#: same lines on 26, on the other three one junk letter more, one price read better
#: ('S10,000 REWARD' for '$10,000 REWL') and one line order swapped, at 0.65 of the time.
OCR_DET_LIMIT = ("max", OCR_MAX_SIDE)
#: A picture smaller than :data:`OCR_MAX_SIDE` is enlarged until its short side is this long (the
#: short side rapidocr's default resize gives the detector), but not past OCR_MAX_SIDE on the long side.
OCR_SMALL_SHORT_SIDE = 736
#: The 0°/180° line classifier is skipped: upside-down print is rare on product photos and the
#: classifier runs once per line.
OCR_ANGLE_CLS = False

_ENGINE: Any = None
_LOCK = threading.Lock()


def get_engine() -> Any:
    """The process-wide RapidOCR engine (lazy singleton, single-threaded inference)."""
    global _ENGINE
    with _LOCK:
        if _ENGINE is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as e:
                raise BackendUnavailable("rapidocr-onnxruntime is not installed", hint="pip install rapidocr-onnxruntime==1.4.4") from e
            import os

            threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or -1
            _ENGINE = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1,
                               det_limit_type=OCR_DET_LIMIT[0], det_limit_side_len=OCR_DET_LIMIT[1])
        return _ENGINE


class OcrLine(Model):
    """One recognised line of text."""

    text: str
    """Recognised text."""
    score: float = Field(ge=0, le=1)
    """Recogniser confidence."""
    box_px: list[list[float]]
    """Four corner points [[x, y] …] clockwise from top-left, in pixels of the original image."""

    @property
    def bbox_px(self) -> tuple[float, float, float, float]:
        """Axis-aligned (x0, y0, x1, y1)."""
        xs = [p[0] for p in self.box_px]
        ys = [p[1] for p in self.box_px]
        return min(xs), min(ys), max(xs), max(ys)


class OcrResult(Model):
    """Text found on one image."""

    path: str
    """The image (or keyframe)."""
    width_px: int
    """Image width."""
    height_px: int
    """Image height."""
    lines: list[OcrLine] = Field(default_factory=list)
    """Lines in reading order (top to bottom, then left to right)."""

    @property
    def text(self) -> str:
        """All lines joined with newlines."""
        return "\n".join(line.text for line in self.lines)

    def text_area_ratio(self) -> float:
        """Share of the frame covered by text boxes (axis-aligned, overlaps counted twice, ≤ 1)."""
        area = 0.0
        for line in self.lines:
            x0, y0, x1, y1 = line.bbox_px
            area += max(0.0, x1 - x0) * max(0.0, y1 - y0)
        return min(1.0, area / max(1, self.width_px * self.height_px))


def ocr_image(image: str | Path | Any, *, min_score: float = MIN_LINE_SCORE, name: str | None = None) -> OcrResult:
    """Recognise text on an image path or RGB array; boxes are in original-image pixels."""
    import numpy as np

    from tools.core.images import as_rgb, load_image

    if isinstance(image, (str, Path)):
        rgb = load_image(image, cache=False)  # full size, read by OCR alone: not worth the cache's memory
        label = str(image)
    else:
        rgb = as_rgb(image)
        label = name or "<array>"
    h, w = rgb.shape[:2]
    # large pictures down to OCR_MAX_SIDE on the long side; small ones enlarged towards rapidocr's
    # own 736 px short side (small print on a small picture needs the pixels), never past
    # OCR_MAX_SIDE: never more pixels than rapidocr's resize gave the detector
    scale = min(OCR_MAX_SIDE / max(h, w), max(1.0, OCR_SMALL_SHORT_SIDE / min(h, w)))
    work = rgb
    if abs(scale - 1.0) > 1e-3:
        import cv2

        work = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                          interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC)
    bgr = np.ascontiguousarray(work[:, :, ::-1])
    res, _ = get_engine()(bgr, use_cls=OCR_ANGLE_CLS)
    lines: list[OcrLine] = []
    for box, text, score in res or []:
        s = float(score)
        if s < min_score or not str(text).strip():
            continue
        pts = [[float(x) / scale, float(y) / scale] for x, y in box]
        lines.append(OcrLine(text=str(text).strip(), score=min(1.0, max(0.0, s)), box_px=pts))
    lines.sort(key=lambda ln: (round(ln.bbox_px[1] / max(8.0, (ln.bbox_px[3] - ln.bbox_px[1]))), ln.bbox_px[0]))
    return OcrResult(path=label, width_px=w, height_px=h, lines=lines)


class OcrInput(Model):
    """Images to read."""

    paths: list[ReadPath] = Field(min_length=1)
    """Photos or keyframes."""
    min_score: float = Field(default=MIN_LINE_SCORE, ge=0, le=1)
    """Drop lines recognised with lower confidence."""


class OcrOutput(Model):
    """Text per image."""

    results: list[OcrResult]
    """One result per input path, in order."""


@register("ocr_images")
def ocr_images(inp: OcrInput) -> OcrOutput:
    """Read text printed on photos or keyframes (PP-OCRv4 via rapidocr), with boxes."""
    return OcrOutput(results=_in_parallel(lambda p: ocr_image(p, min_score=inp.min_score), list(inp.paths)))


def ocr_workers(n: int) -> int:
    """Photos read at once: one per core (each inference is single-threaded), at most ``n``."""

    cores = usable_cores()
    return max(1, min(n, cores))


def _in_parallel(fn: Any, items: list[Any]) -> list[Any]:
    """``[fn(x) for x in items]`` in a thread pool (onnxruntime runs without the GIL), in order."""
    if len(items) < 2:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    get_engine()  # created once, before the threads
    with ThreadPoolExecutor(ocr_workers(len(items))) as ex:
        return list(ex.map(fn, items))


class PhotoRef(Model):
    """A photo of the workspace library."""

    id: ContentId
    """Material id (its content id: the cache key)."""
    path: str
    """File, relative to the workspace root."""


class TextBoxesInput(Model):
    """Photos whose printed text the renderer must respect."""

    workspace: WorkspaceRoot
    """Workspace root; the per-photo cache lives in its ``cache/ocr/``."""
    photos: list[PhotoRef]
    """Photos to read (duplicates are read once)."""


class TextBoxesOutput(Model):
    """Printed text and its boxes per photo."""

    boxes: dict[str, list[Box]]
    """Material id → boxes in normalised source coordinates (photos without text are left out)."""
    texts: dict[str, str] = Field(default_factory=dict)
    """Material id → the text read, lines joined by newlines (photos without text are left out)."""


def normalised_boxes(res: OcrResult) -> list[Box]:
    """The lines of ``res`` as boxes in normalised (0..1) source coordinates."""
    w, h = max(1, res.width_px), max(1, res.height_px)
    out = []
    for ln in res.lines:
        x0, y0, x1, y1 = ln.bbox_px
        out.append(Box(x0=min(1, max(0, x0 / w)), y0=min(1, max(0, y0 / h)), x1=min(1, max(0, x1 / w)), y1=min(1, max(0, y1 / h))))
    return out


@register("read_text_boxes")
def read_text_boxes(inp: TextBoxesInput) -> TextBoxesOutput:
    """Text printed on photos and its boxes, cached per photo in the workspace (the storyline says what is printed; crops keep it, subtitles move off it)."""
    import json

    from tools.core.workspace import Workspace, atomic_write_text

    ws = Workspace(Path(inp.workspace))
    cache_dir = ws.inside("cache/ocr")
    cache_dir.mkdir(parents=True, exist_ok=True)
    boxes: dict[str, list[Box]] = {}
    texts: dict[str, str] = {}
    refs = list({p.id: p for p in inp.photos}.values())

    def read(ref: PhotoRef) -> tuple[list[Box], str]:
        f = cache_dir / f"{ref.id}.v2.json"
        if f.is_file():
            got = json.loads(f.read_text(encoding="utf-8"))
            return [Box.model_validate(b) for b in got["boxes"]], str(got["text"])
        res = ocr_image(ws.abs(ref.path))
        bx, text = normalised_boxes(res), "\n".join(ln.text for ln in res.lines)
        atomic_write_text(f, json.dumps({"text": text, "boxes": [b.model_dump() for b in bx]}, ensure_ascii=False))
        return bx, text

    todo = [r for r in refs if not (cache_dir / f"{r.id}.v2.json").is_file()]
    done = dict(zip([r.id for r in todo], _in_parallel(read, todo)))  # new photos in a pool, one per core
    for ref in refs:
        bx, text = done[ref.id] if ref.id in done else read(ref)
        if bx:
            boxes[ref.id] = bx
        if text:
            texts[ref.id] = text
    return TextBoxesOutput(boxes=boxes, texts=texts)
