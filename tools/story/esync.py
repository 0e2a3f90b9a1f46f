"""Reader for the E-SyncVidStory format (narrator §3.2; ../shared/data/esync/README.md).

Each item of a ``dev.json``-style file has ``id``, ``p_info`` (one aspect per line,
``aspect：point、point、…``) and ``inputs``, the prompt-like record::

    商品信息：
    名称：<product name>
    <aspect>：<point>、<point>…
    广告视频：
    镜头1/7：
    场景：<vid_start><vid_end>
    字数要求：23-29个字
    剧本类型：产品推荐
    1.<ground-truth narration>

:func:`load_esync` returns one :class:`EsyncVideo` per item: the product as a
:class:`~tools.core.models.ProductInfo` plus its clips (word range, label, reference narration).

Real data is tolerated (issue 14 §3): a label spelled as in the public release but not as in
the vocabulary (``其他`` for ``其他/通用卖点``, ``质地`` for ``质地/成分/材质``, ``＋`` for ``+``) is
mapped to its label with a warning (:func:`normalize_label`); an unknown label leaves the clip
unlabelled (the narrator predicts it), a clip without a word range is skipped and an item that
cannot be read at all is skipped — each with a warning naming the item and clip — so one odd
line never rejects a whole file. :func:`read_esync` returns the warnings with the videos.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from pydantic import Field

from tools.core.errors import ToolInputError
from tools.core.models import SCRIPT_LABELS, AspectPoints, Model, ProductInfo

_CLIP_RE = re.compile(r"^镜头(\d+)/(\d+)[：:]\s*$")
_RANGE_RE = re.compile(r"^字数要求[：:]\s*(\d+)\s*-\s*(\d+)\s*个字\s*$")
_LABEL_RE = re.compile(r"^剧本类型[：:]\s*(.+?)\s*$")
_POINT_SPLIT = re.compile(r"[、]")
log = logging.getLogger(__name__)


def _label_aliases() -> dict[str, str]:
    """Each label's own name, its '/'-parts and its name without 产品/介绍 (其他 → 其他/通用卖点,
    质地 → 质地/成分/材质, 功效 → 产品功效, 特性介绍 → 质量/特性介绍)."""
    out: dict[str, str] = {}
    seen: dict[str, set[str]] = {}
    for lab in SCRIPT_LABELS:
        forms = {lab, *lab.split("/")}
        forms |= {f.removeprefix("产品").removesuffix("介绍") for f in list(forms)}
        for f in forms:
            if f:
                seen.setdefault(f, set()).add(lab)
    for f, labs in seen.items():
        if len(labs) == 1:  # an ambiguous short form maps to nothing
            out[f] = next(iter(labs))
    return out


def normalize_label(raw: str) -> tuple[str | None, str | None]:
    """(label in the vocabulary or None, warning or None) for a label as written in a file."""
    text = re.sub(r"\s+", "", raw or "")
    if not text:
        return None, None
    if all(p in SCRIPT_LABELS for p in text.split("+")):
        return text, None
    aliases = _label_aliases()
    parts: list[str] = []
    for p in re.split(r"[+＋、,，;；]", text):
        if not p:
            continue
        lab = p if p in SCRIPT_LABELS else aliases.get(p)
        if lab is None:
            # a form that holds exactly one label's name or alias ("产品功效展示", "其他卖点")
            hits = {v for k, v in aliases.items() if len(k) >= 2 and (k in p or p in k)}
            lab = next(iter(hits)) if len(hits) == 1 else None
        if lab is None:
            return None, f"unknown script label {raw!r} (known: {', '.join(SCRIPT_LABELS)}); the clip is read unlabelled"
        if lab not in parts:
            parts.append(lab)
    label = "+".join(parts)
    return label, f"script label {raw!r} read as {label!r}"


class EsyncClip(Model):
    """One clip of an E-SyncVidStory video."""

    index: int = Field(ge=0)
    """0-based clip position."""
    n_clips: int = Field(ge=1)
    """Number of clips in the video."""
    word_min: int = Field(ge=0)
    """Lowest allowed narration length (characters without whitespace)."""
    word_max: int = Field(ge=0)
    """Highest allowed narration length."""
    label: str | None = None
    """Script label(s), '+'-joined; None when the record has none."""
    text: str = ""
    """Ground-truth narration (empty when the record has none)."""

    @property
    def duration_s(self) -> float:
        """Clip length implied by the range [5t−3, 5t+3] (narrator §3.1): t = (low + high) / 10."""
        return (self.word_min + self.word_max) / 10.0

    @property
    def rel_pos(self) -> float:
        """Relative position of the clip in the video, in [0, 1] (narrator §4.1)."""
        return 0.0 if self.n_clips <= 1 else self.index / (self.n_clips - 1)


class EsyncVideo(Model):
    """One E-SyncVidStory video: product facts plus clips."""

    id: str
    """Video id."""
    product: ProductInfo
    """Product name and facts."""
    clips: list[EsyncClip]
    """Clips in playing order."""

    @property
    def duration_s(self) -> float:
        """Video length implied by the word ranges."""
        return sum(c.duration_s for c in self.clips)


def parse_p_info(p_info: str) -> list[AspectPoints]:
    """Parse ``aspect：point、point`` lines into aspects (empty points dropped, order kept)."""
    out: list[AspectPoints] = []
    for line in p_info.splitlines():
        line = line.strip()
        if not line:
            continue
        sep = "：" if "：" in line else (":" if ":" in line else None)
        if sep is None:
            continue
        aspect, rest = line.split(sep, 1)
        aspect = aspect.strip()[:64]
        if not aspect:
            continue
        pts = [p.strip() for p in _POINT_SPLIT.split(rest) if p.strip()]
        out.append(AspectPoints(aspect=aspect, points=pts))
    return out


def parse_item(item: dict, warnings: list[str] | None = None) -> EsyncVideo:
    """Parse one dev.json item; raises ToolInputError naming what is malformed when nothing of it
    can be read. Recoverable oddities (label variants, clips without a range) go to ``warnings``."""
    warn = warnings if warnings is not None else []
    if not isinstance(item, dict):
        raise ToolInputError(f"E-SyncVidStory item is a {type(item).__name__}, not an object", hint="each item needs id, p_info and inputs")
    vid = str(item.get("id", "?"))
    inputs = item.get("inputs")
    if not isinstance(inputs, str):
        raise ToolInputError(f"E-SyncVidStory item {vid!r} has no 'inputs' text", hint="each item needs id, p_info and inputs")
    m = re.search(r"名称[：:]\s*(.+)", inputs)
    if not m or not m.group(1).strip():
        raise ToolInputError(f"E-SyncVidStory item {vid!r}: no '名称：' line in inputs", hint="the product name line is required")
    name = m.group(1).strip()[:200]
    p_info = item.get("p_info")
    if not isinstance(p_info, str):
        # fall back to the facts block inside inputs
        block = inputs.split("广告视频", 1)[0]
        p_info = "\n".join(ln for ln in block.splitlines()[1:] if not ln.startswith("名称"))
    product = ProductInfo(name=name, language="zh", aspects=parse_p_info(p_info))

    video_part = inputs.split("广告视频", 1)[1] if "广告视频" in inputs else inputs
    clips: list[dict] = []
    cur: dict | None = None
    for raw in video_part.splitlines():
        line = raw.strip()
        cm = _CLIP_RE.match(line)
        if cm:
            cur = {"index": int(cm.group(1)) - 1, "n_clips": max(1, int(cm.group(2))), "lines": []}
            clips.append(cur)
            continue
        if cur is None:
            continue
        rm = _RANGE_RE.match(line)
        lm = _LABEL_RE.match(line)
        if rm:
            cur["word_min"], cur["word_max"] = int(rm.group(1)), int(rm.group(2))
        elif lm:
            cur["label"] = lm.group(1)
        elif line.startswith("场景"):
            continue
        else:
            nm = re.match(rf"^{cur['index'] + 1}\.(.*)$", line)
            if nm:
                cur["lines"].append(nm.group(1))
            elif cur["lines"]:
                cur["lines"].append(line)  # narration continued on another line
    if not clips:
        raise ToolInputError(f"E-SyncVidStory item {vid!r}: no '镜头i/n：' clip blocks found", hint="check the file format (see shared/data/esync/README.md)")
    out: list[EsyncClip] = []
    for c in clips:
        where = f"E-SyncVidStory item {vid!r}, clip {c['index'] + 1}"
        if "word_min" not in c:
            warn.append(f"{where}: no '字数要求：a-b个字' line; clip skipped")
            continue
        lo, hi = sorted((c["word_min"], c["word_max"]))
        label, note = normalize_label(c.get("label") or "")
        if note:
            warn.append(f"{where}: {note}")
        out.append(EsyncClip(index=c["index"], n_clips=max(c["n_clips"], c["index"] + 1), word_min=lo, word_max=hi,
                             label=label, text="".join(c["lines"]).strip()))
    if not out:
        raise ToolInputError(f"E-SyncVidStory item {vid!r}: no clip with a word range", hint="each clip needs '字数要求：a-b个字'")
    return EsyncVideo(id=vid, product=product, clips=out)


def read_esync(path: str | Path) -> tuple[list[EsyncVideo], list[str]]:
    """Read a dev.json-style file (a JSON list of items): the videos in file order and the warnings
    (label variants read as labels, clips and items skipped). Raises ToolInputError only when the
    file itself cannot be read or holds no readable item."""
    p = Path(path)
    if not p.is_file():
        raise ToolInputError(f"E-SyncVidStory file not found: {str(p)!r}", hint="pass the path of a dev.json-style file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ToolInputError(f"{str(p)!r} is not valid JSON ({e})", hint="the file must be a JSON list of items") from e
    if not isinstance(data, list):
        raise ToolInputError(f"{str(p)!r} holds a {type(data).__name__}, expected a list of items")
    videos: list[EsyncVideo] = []
    warnings: list[str] = []
    for k, it in enumerate(data):
        try:
            videos.append(parse_item(it, warnings))
        except (ToolInputError, ValueError) as e:  # pydantic's ValidationError is a ValueError
            msg = e.message if isinstance(e, ToolInputError) else str(e).splitlines()[0]
            warnings.append(f"item {k} skipped: {msg}")
    if data and not videos:
        raise ToolInputError(f"{str(p)!r}: none of its {len(data)} items could be read ({warnings[0]})",
                             hint="check the file format (see shared/data/esync/README.md)")
    for w in warnings[:20]:
        log.warning(w)
    if len(warnings) > 20:
        log.warning("… and %d more warnings reading %s", len(warnings) - 20, p)
    return videos, warnings


def load_esync(path: str | Path) -> list[EsyncVideo]:
    """Read a dev.json-style file into videos, in file order (warnings are logged; see :func:`read_esync`)."""
    return read_esync(path)[0]
