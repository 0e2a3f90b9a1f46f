"""Subtitle cues timed to the measured voice audio, broken into readable lines; SRT and ASS."""

from __future__ import annotations

import re

from tools.core.models import Language, RenderSpec, SubtitleCue

#: Longest subtitle row, in characters, by frame aspect (zh) — about 70 % of the frame width at
#: the default font size; English rows hold about 2.2 times as many characters.
ZH_ROW_CHARS = {"9:16": 13, "1:1": 15, "16:9": 22}


def max_row_chars(language: Language, aspect: str) -> int:
    base = ZH_ROW_CHARS[aspect]
    return base if language == "zh" else int(base * 2.2)


def split_phrases(text: str, language: Language, limit: int) -> list[str]:
    """Break a line into display chunks of at most ``limit`` characters, at punctuation or words."""
    text = text.strip()
    if language == "zh":
        pieces = [p for p in re.split(r"(?<=[，。！？；、,!?;])", text) if p.strip()]
    else:
        pieces = [w + " " for w in text.split()]
    chunks: list[str] = []
    cur = ""
    for p in pieces:
        while len(p) > limit:  # a phrase longer than a row: hard-wrap it
            if cur:
                chunks.append(cur)
                cur = ""
            chunks.append(p[:limit])
            p = p[limit:]
        if len(cur) + len(p) > limit and cur:
            chunks.append(cur)
            cur = ""
        cur += p
    if cur.strip():
        chunks.append(cur)
    chunks = [c.strip().rstrip("，、,。") if language == "zh" else c.strip() for c in chunks]
    return [c for c in chunks if c]


def cues_for_line(text: str, language: Language, aspect: str, start_s: float, end_s: float) -> list[SubtitleCue]:
    """Cues covering [start_s, end_s], one chunk each, timed by chunk length (a proxy for speech)."""
    chunks = split_phrases(text, language, max_row_chars(language, aspect))
    weights = [max(1, len(c)) for c in chunks]
    total = sum(weights)
    cues, t = [], start_s
    for c, w in zip(chunks, weights):
        d = (end_s - start_s) * w / total
        cues.append(SubtitleCue(start_s=round(t, 3), end_s=round(t + d, 3), text=c))
        t += d
    return cues


def _ts(t: float, sep: str = ",") -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: list[SubtitleCue]) -> str:
    return "".join(f"{i}\n{_ts(c.start_s)} --> {_ts(c.end_s)}\n{c.text}\n\n" for i, c in enumerate(cues, 1))


#: Where a cue may sit: ASS alignment (numpad layout) and vertical margin as a share of the height.
PLACEMENTS: dict[str, tuple[int, float]] = {"bottom": (2, 0.12), "top": (8, 0.10), "middle": (5, 0.0)}


def subtitle_band(placement: str, spec: RenderSpec, rows: int = 2) -> tuple[float, float]:
    """Vertical extent (top, bottom) as shares of the frame height that ``rows`` subtitle rows occupy."""
    align, margin = PLACEMENTS[placement]
    size = round(min(spec.width_px, spec.height_px) * 0.062)
    band = rows * size * 1.3 / spec.height_px
    if align == 2:
        return 1 - margin - band, 1 - margin
    if align == 8:
        return margin, margin + band
    return 0.5 - band / 2, 0.5 + band / 2


def shift_cues(cues: list[SubtitleCue], start_s: float, end_s: float) -> list[tuple[int, SubtitleCue]]:
    """The cues visible in [start_s, end_s), re-timed to start at 0 (with their index in ``cues``)."""
    out = []
    for i, c in enumerate(cues):
        if c.end_s > start_s and c.start_s < end_s:
            out.append((i, SubtitleCue(start_s=max(0.0, c.start_s - start_s), end_s=c.end_s - start_s, text=c.text)))
    return out


def to_ass(cues: list[SubtitleCue], spec: RenderSpec, font: str, placements: list[str] | None = None) -> str:
    """ASS script: bold white text, black outline and soft shadow, bottom-centre above the safe margin.

    ``placements`` (one per cue: "bottom", "top" or "middle") moves single cues off printed text
    in the picture (the renderer decides it from OCR boxes of the shots under the cue).
    """
    w, h = spec.width_px, spec.height_px
    size = round(min(w, h) * 0.062)
    margin_v = round(h * PLACEMENTS["bottom"][1])

    def cs(t: float) -> str:
        cs_ = int(round(t * 100))
        hh, cs_ = divmod(cs_, 360000)
        mm, cs_ = divmod(cs_, 6000)
        ss, cs_ = divmod(cs_, 100)
        return f"{hh:d}:{mm:02d}:{ss:02d}.{cs_:02d}"

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("{", "(").replace("}", ")").replace("\n", "\\N")

    def pos(i: int) -> str:
        where = placements[i] if placements and i < len(placements) else "bottom"
        if where == "bottom":
            return ""
        return f"{{\\an{PLACEMENTS[where][0]}}}"

    def mv(i: int) -> int:
        where = placements[i] if placements and i < len(placements) else "bottom"
        return round(h * PLACEMENTS[where][1]) if where != "bottom" else 0

    head = (
        "[Script Info]\nScriptType: v4.00+\n"
        f"PlayResX: {w}\nPlayResY: {h}\nWrapStyle: 0\nScaledBorderAndShadow: yes\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
        "MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Default,{font},{size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,1,0,0,0,100,100,0,0,1,"
        f"{max(2, size // 12)},1,2,{round(w * 0.06)},{round(w * 0.06)},{margin_v},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    return head + "".join(f"Dialogue: 0,{cs(c.start_s)},{cs(c.end_s)},Default,,0,0,{mv(i)},,{pos(i)}{esc(c.text)}\n"
                          for i, c in enumerate(cues))
