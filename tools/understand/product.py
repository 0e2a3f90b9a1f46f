"""Product facts: ProductInfo JSON, or the `p_info` text format of E-SyncVidStory.

Text format: one aspect per line, ``aspect：point、point、…`` (full- or half-width colon;
points split on 、，,;；), plus a name line ``名称：…`` or ``name: …``. Blank lines and lines
starting with ``#`` are ignored. Text is data: it is never executed, never used as a path,
and control characters are removed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import Field, ValidationError

from tools.core.errors import ToolInputError
from tools.core.models import AspectPoints, Model, ProductInfo
from tools.core.paths import ReadPath
from tools.core.registry import register

MAX_PRODUCT_FILE_BYTES = 1_000_000
MAX_POINT_CHARS = 200
_NAME_KEYS = {"名称", "商品名称", "产品名称", "name", "product", "product name", "title"}
_COLON = re.compile(r"[：:]")
_SPLIT = re.compile(r"[、，,;；]")
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def detect_language(text: str) -> str:
    """'zh' when at least 20 % of the letters are CJK ideographs, else 'en'."""
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    letters = len(re.findall(r"[A-Za-z]", text))
    return "zh" if cjk and cjk >= 0.2 * (cjk + letters / 4) else "en"


def parse_product_text(text: str, source: str = "<text>") -> ProductInfo:
    """Parse the `p_info` text format; errors name the offending line."""
    text = _CTRL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    name: str | None = None
    aspects: list[AspectPoints] = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = _COLON.split(line, maxsplit=1)
        if len(parts) != 2 or not parts[0].strip():
            raise ToolInputError(
                f"{source}, line {lineno}: cannot parse {line[:60]!r}",
                hint="write one aspect per line as `aspect：point、point` (or `aspect: point, point`), "
                "and the name as `名称：…` or `name: …`",
            )
        key, value = parts[0].strip(), parts[1].strip()
        if key.lower() in _NAME_KEYS:
            if not value:
                raise ToolInputError(f"{source}, line {lineno}: the product name is empty", hint="write `name: <product name>`")
            name = value[:200]
            continue
        if len(key) > 64:
            raise ToolInputError(f"{source}, line {lineno}: aspect name is {len(key)} characters long", hint="keep aspect names under 64 characters")
        points = [p.strip()[:MAX_POINT_CHARS] for p in _SPLIT.split(value) if p.strip()]
        if points:
            aspects.append(AspectPoints(aspect=key, points=points))
    if name is None:
        raise ToolInputError(f"{source}: no product name line", hint="add a line `名称：<product name>` or `name: <product name>`")
    if not aspects:
        raise ToolInputError(f"{source}: no product facts", hint="add lines like `外观：圆润、哑光` or `material: canvas, leather`")
    lang = detect_language(name + " " + " ".join(p for a in aspects for p in a.points))
    return ProductInfo(name=name, language=lang, aspects=aspects)  # type: ignore[arg-type]


def load_product(path: str | Path) -> ProductInfo:
    """Read a ProductInfo JSON file or a `p_info` text file."""
    p = Path(path)
    if p.is_dir():
        raise ToolInputError(f"product file {str(path)!r} is a folder", hint="pass --product with the .json or .txt file inside it")
    if p.exists() and not p.is_file():
        raise ToolInputError(f"product file {str(path)!r} is not a regular file (a pipe or a device)", hint="pass --product with a .json or .txt file")
    if not p.is_file():
        raise ToolInputError(f"product file {str(path)!r} does not exist", hint="pass --product with a .json or .txt file")
    if p.stat().st_size > MAX_PRODUCT_FILE_BYTES:
        raise ToolInputError(f"product file {p.name!r} is {p.stat().st_size} bytes", hint="product facts must be under 1 MB")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ToolInputError(f"product file {p.name!r} is not UTF-8 text (byte {e.start})", hint="save it as UTF-8") from e
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ToolInputError(f"{p.name}, line {e.lineno}: invalid JSON ({e.msg})", hint="fix the JSON or use the `aspect：point、point` text format") from e
        except RecursionError as e:
            raise ToolInputError(f"{p.name}: JSON nested too deeply", hint="a ProductInfo is a flat object: name, language, aspects") from e
        try:
            return ProductInfo.model_validate(data)
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise ToolInputError(f"{p.name}: field {loc}: {first['msg']}", hint="see `python app.py tools --name parse_product` for the schema") from e
    return parse_product_text(text, source=p.name)


class ParseProductInput(Model):
    """Where the product facts are."""

    path: ReadPath = Field(min_length=1)
    """ProductInfo JSON or `p_info` text file."""


@register("parse_product")
def parse_product(inp: ParseProductInput) -> ProductInfo:
    """Read product facts (ProductInfo JSON or `aspect：point、point` text) into a ProductInfo."""
    return load_product(inp.path)
