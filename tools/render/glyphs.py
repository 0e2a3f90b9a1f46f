"""What a subtitle may show: text the subtitle font can draw, with no markup of its own.

Subtitle text comes from product facts and the user's own lines, so it is data: ASS override
blocks (``{\\an8}``, ``{\\fs200}``), SRT/HTML tags (``<font>``), control and bidi-override
characters are removed (the ASS writer also neutralises braces), and characters the font has no
glyph for (emoji, most symbols outside CJK fonts) are dropped instead of burning in as
missing-glyph boxes. Coverage is read from the font file fontconfig picks (fontTools); without
fontconfig or fontTools, emoji ranges are dropped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache

_OVERRIDE = re.compile(r"\{[^{}]*\}")                 # ASS override blocks
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?>")  # SRT/HTML tags: <i>, <font color=…>
# C0/C1 controls except newline, bidi embeddings/overrides/isolates, zero-width and joiner marks,
# variation selectors, tag characters
_INVISIBLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufe00-\ufe0f"
                        "\U000e0000-\U000e007f\U000e0100-\U000e01ef]")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\U0001f1e6-\U0001f1ff]")


@lru_cache(maxsize=8)
def font_codepoints(family: str) -> frozenset[int] | None:
    """Code points the font fontconfig picks for ``family`` draws (None when that cannot be read)."""
    fc = shutil.which("fc-match")
    if fc is None:
        return None
    try:
        out = subprocess.run([fc, "-f", "%{file}|%{index}", family], capture_output=True, text=True, timeout=10, check=False).stdout
        path, _, index = out.partition("|")
        from fontTools.ttLib import TTFont

        with TTFont(path, fontNumber=int(index or 0), lazy=True) as font:
            cmap = font.getBestCmap() or {}
        return frozenset(cmap)
    except Exception:  # noqa: BLE001 - no fontTools, an unreadable font: fall back to dropping emoji
        return None


def drawable_text(text: str, family: str) -> str:
    """``text`` without markup, invisible controls and characters ``family`` cannot draw."""
    t = _INVISIBLE.sub("", _TAG.sub("", _OVERRIDE.sub("", text)))
    cps = font_codepoints(family)
    if cps is None:
        t = _EMOJI.sub("", t)
    else:
        t = "".join(c for c in t if c.isspace() or ord(c) in cps)
    return re.sub(r"[ \t]{2,}", " ", t).strip()
