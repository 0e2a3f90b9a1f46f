"""Subtitle cues timed to the measured voice audio, typeset by the rules of each language; SRT and ASS.

A narration line becomes cues of at most :data:`MAX_ROWS` rows, each row at most
:func:`max_row_chars` long for the frame (about 70 % of its width at the default font size):

* Chinese (GB/T 15834 and the kinsoku rules of CJK typesetting, 避头尾): rows break at clause
  punctuation first, then between words (jieba) at a phrase boundary (after 推荐, before 这款 …)
  rather than inside a phrase or a name, never inside a word or a number; a row never
  begins with closing punctuation (，。！？；：、」』）》”’…) — a comma that would start a row hangs at
  the end of the previous one — and never ends with opening punctuation (“「『（《), which moves to
  the next row. Commas and full stops at the end of a row or cue are dropped (subtitle style);
  ！ and ？ stay.
* English: rows break between words only, preferably after punctuation or before a
  conjunction or preposition, never after an article, preposition or conjunction when another
  break fits.

Cues prefer to end where sentences end. Their timing follows the measured speech: the line's
audio span is shared among its cues by the number of spoken characters (zh) or letters (en) in
each.
"""

from __future__ import annotations

import re

from tools.core.models import Language, RenderSpec, SubtitleCue

#: Longest subtitle row, in characters, by frame aspect (zh) — about 70 % of the frame width at
#: the default font size; English rows hold about 2.2 times as many characters.
ZH_ROW_CHARS = {"9:16": 13, "1:1": 15, "16:9": 22}
#: Rows per cue: two rows are read at a glance; a third covers the picture.
MAX_ROWS = 2

#: Closing punctuation: never at the start of a row (避头).
NO_ROW_START = frozenset("，。！？；：、）》」』”’〉】…~,.!?;:)]}%")
#: Opening punctuation: never at the end of a row (避尾).
NO_ROW_END = frozenset("（《「『“‘〈【([{")
_CLAUSE_END = "，。！？；：、,.!?;:"
_SENTENCE_END = "。！？!?.…~"
_DROP_AT_ROW_END = "，、。；,;"
#: English words a row should not end on (a break after them splits a phrase).
_EN_NO_BREAK_AFTER = frozenset("a an the of to in on at for with by from and or but as your our their my its this that "
                               "these those is are was were be very so than".split())
_EN_BREAK_BEFORE = frozenset("and or but with for to in on at by from that which while because so when if".split())


def max_row_chars(language: Language, aspect: str) -> int:
    """Longest row for the frame's aspect ratio, in characters."""
    base = ZH_ROW_CHARS[aspect]
    return base if language == "zh" else int(base * 2.2)


def _units_zh(text: str) -> list[str]:
    """Unbreakable units of a zh line: words (jieba; a run of letters/digits stays whole), each
    closing punctuation mark glued to the unit before it and each opening mark to the unit after."""
    import jieba

    from tools.narrate.text import tokens

    tokens("", "zh")  # initialise jieba quietly
    raw: list[str] = []
    for t in jieba.lcut(re.sub(r"\s+", "", text)):
        # a code or number is one unit (HX2471/HX6730, 3.0); a one-character word stays with the
        # next one (jieba splits 挂/耳咖啡: a row never ends inside such a compound)
        if raw and re.fullmatch(r"[A-Za-z0-9/\-.+%]+", t) and re.search(r"[A-Za-z0-9/\-.+%]$", raw[-1]):
            raw[-1] += t
        elif raw and len(raw[-1]) == 1 and re.match(r"[\u4e00-\u9fff]", raw[-1]) and re.match(r"[\u4e00-\u9fff]", t) \
                and len(t) <= 3:
            raw[-1] += t
        elif t:
            raw.append(t)
    units: list[str] = []
    pending_open = ""
    for t in raw:
        if all(ch in NO_ROW_START for ch in t) and units:
            units[-1] += t
        elif all(ch in NO_ROW_END for ch in t):
            pending_open += t
        else:
            units.append(pending_open + t)
            pending_open = ""
    if pending_open:
        if units:
            units[-1] += pending_open
        else:
            units.append(pending_open)
    return units


#: zh row breaks that end a phrase: after a verb that introduces what follows ("今天给大家推荐 / …",
#: "最近一直在用 / …") or before a word that opens a phrase (这款, 而且, 真的 …); anywhere else a break
#: falls inside a phrase, often inside a name ("今天给大家推荐Luma加厚 / 防爆瑜伽球").
_ZH_BREAK_AFTER = re.compile(r"(推荐|介绍|推荐的是|就是|是|在用|用|选|带|给你|给大家|的是|了|吧|呢|啊)$")
_ZH_BREAK_BEFORE = re.compile(r"^(这款|这个|这是|今天|现在|我们|我|你|它|而且|另外|还|又|也|都|就|真的|非常|可以|能|让|帮|不仅|不|很|"
                              r"更|再|用|上手|点击|马上|赶紧|快)")


def _break_cost_zh(left: str, right: str) -> float:
    """Cost of ending a row with ``left`` and starting the next with ``right``: nothing at a clause
    end, little at a phrase boundary (:data:`_ZH_BREAK_AFTER`, :data:`_ZH_BREAK_BEFORE`), much inside
    a phrase."""
    if left[-1:] in _CLAUSE_END:
        return 0.0
    if _ZH_BREAK_AFTER.search(left):
        return 1.0
    if _ZH_BREAK_BEFORE.match(right):
        return 2.0
    return 6.0


def _rows_zh(text: str, limit: int) -> list[str]:
    """Rows of a zh line: each sentence broken where the total cost is least (a dynamic programme
    over the break points between units, :func:`_units_zh`): one per row, the room a row leaves
    empty (squared), and :func:`_break_cost_zh` of each break, so rows break at clause ends first,
    then at phrase boundaries, and inside a phrase only when nothing else fits."""
    units = _units_zh(text.lstrip("".join(NO_ROW_START) + " "))
    joined = "".join(units)
    offs = [0]
    for u in units:
        offs.append(offs[-1] + len(u))

    def width(i: int, j: int) -> int:
        # punctuation hanging at the end of a row does not count (it may overhang the margin)
        return len(joined[offs[i]:offs[j]].rstrip("".join(NO_ROW_START)))

    segments, start = [], 0
    for k, u in enumerate(units):
        if u[-1] in _SENTENCE_END and k + 1 < len(units):
            segments.append((start, k + 1))  # a sentence ends here: so does the row
            start = k + 1
    segments.append((start, len(units)))
    rows: list[str] = []
    for a, b in segments:
        if a >= b:
            continue
        best = [float("inf")] * (b + 1)
        back = [a] * (b + 1)
        best[a] = 0.0
        for j in range(a + 1, b + 1):
            for i in range(j - 1, a - 1, -1):
                w = width(i, j)
                if w > limit and j - i > 1:
                    break  # a row of several units never overflows (a single long unit is split below)
                cost = best[i] + 1.0
                if j < b:
                    cost += ((limit - min(w, limit)) / limit) ** 2 + _break_cost_zh(joined[offs[i]:offs[j]], units[j])
                if cost < best[j]:
                    best[j], back[j] = cost, i
        spans, j = [], b
        while j > a:
            spans.append((back[j], j))
            j = back[j]
        for i, j in reversed(spans):
            r = joined[offs[i]:offs[j]]
            while j - i == 1 and len(r.rstrip("".join(NO_ROW_START))) > limit:  # a word longer than a row (a long code)
                rows.append(r[:limit])
                r = r[limit:]
            rows.append(r)
    out = []
    for r in rows:
        r = r.rstrip(_DROP_AT_ROW_END).strip()
        if r:
            out.append(r)
    return out


def _rows_en(text: str, limit: int) -> list[str]:
    words = text.lstrip(",.;:!? ").split()
    rows: list[str] = []
    i = 0
    while i < len(words):
        j, n = i, 0
        while j < len(words) and (n + len(words[j]) + (1 if j > i else 0) <= limit or j == i):
            n += len(words[j]) + (1 if j > i else 0)
            j += 1
        if j < len(words):
            # the best break in the second half of the row: after punctuation, before a
            # conjunction or preposition, never after a function word
            best, best_score = j, -1.0
            for k in range(i + 1, j + 1):
                prev, nxt = words[k - 1], words[k] if k < len(words) else ""
                sc = 0.0
                if prev[-1] in ",;:.!?":
                    sc = 3.0
                elif nxt.lower() in _EN_BREAK_BEFORE:
                    sc = 2.0
                elif prev.lower().strip("\"'") in _EN_NO_BREAK_AFTER:
                    sc = -2.0
                elif k - 1 > 0 and prev[:1].isupper() and nxt[:1].isupper():
                    sc = -2.0  # inside a name ("Meet the Joust Duffle / Bag,"): a capitalised run stays on one row
                else:
                    sc = 1.0
                filled = len(" ".join(words[i:k])) / limit
                sc += filled  # prefer fuller rows among equals
                if filled < 0.5:
                    sc -= 2.0
                if sc > best_score:
                    best, best_score = k, sc
            j = best
        rows.append(" ".join(words[i:j]))
        i = j
    return rows


def rows_for_text(text: str, language: Language, limit: int) -> list[str]:
    """The rows of a line typeset for a frame whose rows hold ``limit`` characters."""
    text = text.strip()
    if not text:
        return []
    return _rows_zh(text, limit) if language == "zh" else _rows_en(text, limit)


def _sentences(text: str, language: Language) -> list[str]:
    text = text.strip()
    if language == "zh":
        return [t for t in re.findall(r"[^。！？!?…]+[。！？!?…]*", text) if t.strip()]
    return [t for t in re.split(r"(?<=[.!?])\s+", text) if t.strip()]


def _balanced_rows(sentence: str, language: Language, limit: int) -> list[str]:
    """The rows of one sentence, re-broken a little narrower when the last cue would hold one
    short row alone ("finish." for 0.4 s after two full rows): rows fill whole cues instead."""
    rows = rows_for_text(sentence, language, limit)
    if len(rows) > MAX_ROWS and len(rows) % MAX_ROWS == 1 and len(rows[-1]) < 0.5 * limit:
        for lim in range(limit - 1, max(int(limit * 0.6), 1), -1):
            again = rows_for_text(sentence, language, lim)
            if len(again) % MAX_ROWS == 0:
                # zh: not at the price of a break inside a phrase ("欧莱雅第二代 / 紫熨斗眼霜")
                return again if language != "zh" or _breaks_zh(again) <= _breaks_zh(rows) else rows
    return rows


def _breaks_zh(rows: list[str]) -> float:
    """Total :func:`_break_cost_zh` of the row breaks of a sentence."""
    return sum(_break_cost_zh(a, b) for a, b in zip(rows, rows[1:]))


def split_phrases(text: str, language: Language, limit: int) -> list[str]:
    """Cue texts for a line: rows (:func:`rows_for_text`) grouped up to :data:`MAX_ROWS` to a cue,
    a cue ending where a sentence ends; rows of a cue are joined with a newline."""
    rows = [r for sent in _sentences(text, language) for r in _balanced_rows(sent, language, limit)]
    cues: list[list[str]] = []
    cur: list[str] = []
    for r in rows:
        cur.append(r)
        if len(cur) >= MAX_ROWS or r[-1] in _SENTENCE_END:  # a cue never runs on into the next sentence
            cues.append(cur)
            cur = []
    if cur:
        cues.append(cur)
    return ["\n".join(c) for c in cues]


def _spoken(text: str, language: Language) -> int:
    """Spoken units of a cue: characters without punctuation (zh), letters and digits (en)."""
    return len(re.findall(r"\w", text)) or 1


def cues_for_line(text: str, language: Language, aspect: str, start_s: float, end_s: float) -> list[SubtitleCue]:
    """Cues covering [start_s, end_s] (the line's measured speech), timed by their spoken length."""
    chunks = split_phrases(text, language, max_row_chars(language, aspect))
    if not chunks:
        return []
    weights = [_spoken(c, language) for c in chunks]
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


def to_ass(cues: list[SubtitleCue], spec: RenderSpec, font: str, placements: list[str] | None = None,
           colours: tuple[str, str] | None = None) -> str:
    """ASS script: bold white text, black outline and soft shadow, bottom-centre above the safe margin.

    ``placements`` (one per cue: "bottom", "top" or "middle") moves single cues off printed text
    in the picture (the renderer decides it from OCR boxes of the shots under the cue).
    ``colours`` (hex fill, hex outline: a brand kit's) replace the white text and black outline.
    """
    w, h = spec.width_px, spec.height_px
    size = round(min(w, h) * 0.062)
    margin_v = round(h * PLACEMENTS["bottom"][1])
    fill, line = "&H00FFFFFF", "&H00000000"
    if colours:  # ASS colours are &HAABBGGRR
        fill, line = (f"&H00{c[5:7]}{c[3:5]}{c[1:3]}".upper() for c in colours)

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
        f"Style: Default,{font},{size},{fill},{fill},{line},&H80000000,1,0,0,0,100,100,0,0,1,"
        f"{max(2, size // 12)},1,2,{round(w * 0.06)},{round(w * 0.06)},{margin_v},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    return head + "".join(f"Dialogue: 0,{cs(c.start_s)},{cs(c.end_s)},Default,,0,0,{mv(i)},,{pos(i)}{esc(c.text)}\n"
                          for i, c in enumerate(cues))
