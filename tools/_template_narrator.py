"""Template narration with exact length control: the last-resort narrator.

Every line is built only from this product's name and facts plus generic, fact-free phrases,
then fitted into [word_min, word_max] (characters without whitespace for zh, words for en):
clauses are dropped while too long, fact-free phrases added while too short, and the final
clause cut to the exact budget. Used by the walking skeleton and as the fallback of the
knowledge-grounded narrator.
"""

from __future__ import annotations

from tools.models import Language, NarrationLine, ProductInfo, StoryBeat, count_words

_FILL = {
    "zh": ["真的很不错", "值得拥有", "细节满满", "越用越喜欢", "品质看得见", "日常必备", "用心之选", "一试就爱上"],
    "en": ["you will love it", "made for every day", "easy to love", "quality you can see", "worth every bit", "a smart choice"],
}
_CTA = {"zh": ["赶紧下单吧", "快带回家吧", "现在就入手"], "en": ["get yours today", "order now", "try it now"]}


def short_name(name: str, language: Language) -> str:
    """A speakable product name: the first chunk of a long zh listing title, or the en title."""
    if language == "zh":
        return name.split()[0][:10] if name else name
    return " ".join(name.split()[:4])


def _join(parts: list[str], language: Language) -> str:
    sep, end = ("，", "。") if language == "zh" else (", ", ".")
    return sep.join(p.strip(" ，,。.") for p in parts if p.strip()) + end


def _cut(text: str, n: int, language: Language) -> str:
    """The first ``n`` units of ``text`` (chars without whitespace for zh, words for en)."""
    if language == "en":
        return " ".join(text.split()[:n])
    out, k = [], 0
    for ch in text:
        if not ch.isspace():
            if k == n:
                break
            k += 1
        out.append(ch)
    return "".join(out)


def fit_to_range(parts: list[str], lo: int, hi: int, language: Language, fillers: list[str]) -> str:
    """Join clauses into one line whose length lies in [lo, hi] exactly."""
    parts = [p for p in parts if p.strip()] or [fillers[0]]
    while len(parts) > 1 and count_words(_join(parts, language), language) > hi:
        parts.pop()
    fi = 0
    while count_words(_join(parts, language), language) < lo and fi < 4 * len(fillers):
        parts.append(fillers[fi % len(fillers)])
        fi += 1
    text = _join(parts, language)
    n = count_words(text, language)
    if n > hi:  # cut the last clause so the line ends exactly at the budget
        end = "。" if language == "zh" else "."
        body = _cut(text.rstrip("。."), hi - (1 if language == "zh" else 0), language).rstrip("，, ")
        text = body + end
    if count_words(text, language) < lo:  # only reachable with tiny budgets: pad with the end mark
        text = text + ("！" if language == "zh" else " now") * (lo - count_words(text, language))
    return text


def narrate_beat(product: ProductInfo, beat: StoryBeat, language: Language, used: set[str]) -> NarrationLine:
    """One line for ``beat`` from the product's facts, fitted to its word range."""
    name = short_name(product.name, language)
    pts = [p for a in product.aspects if beat.aspect is None or a.aspect == beat.aspect for p in a.points]
    fresh = [p for p in pts if p not in used] or pts
    first = beat.label.split("+")[0]
    if first == "产品推荐":
        parts = [name, *fresh[:3]]
    elif first == "引导购买":
        parts = [*fresh[:2], *_CTA[language]]
    else:
        parts = fresh[:4] or [name]
    used.update(parts)
    text = fit_to_range(parts, beat.word_min, beat.word_max, language, _FILL[language])
    return NarrationLine(beat_index=beat.index, label=beat.label, text=text, language=language,
                         word_min=beat.word_min, word_max=beat.word_max, source="template")


def narrate(product: ProductInfo, beats: list[StoryBeat], language: Language) -> list[NarrationLine]:
    used: set[str] = set()
    return [narrate_beat(product, b, language, used) for b in beats]
