"""Text normalisation before speech: the written line becomes the words a person would say.

Only the voice hears the result; the subtitle keeps the written form (``NarrationLine.text`` is
never changed). Both speech engines get the same spoken form, so a benchmark compares voices,
not normalisers.

    class            written        spoken (zh)                spoken (en)
    price            289元 / ¥289    二百八十九元                 —
                     $29.99         二十九点九九美元             twenty-nine ninety-nine
    percentage       20%            百分之二十                   twenty percent
    unit             50ml, 15-lb    五十毫升                     fifty milliliters, fifteen-pound
    date             2024-11-11     二零二四年十一月十一日        November eleventh, twenty twenty-four
                     11月11日 / 11.11  十一月十一日 / 双十一        Nov 11 → November eleventh
    model code       ODT1 / X4090   O D T一 / X四零九零          O D T one / X forty ninety
    Latin in zh      iPhone, SPF    iPhone, S P F (spoken by an English voice: :func:`script_runs`)

Numbers inside Chinese go through cn2an (Arabic → Chinese numerals, dates, fractions,
percentages); English numbers through inflect. The hand-written parts are only what those
libraries do not know: unit names, currency symbols, how a model code is read.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from tools.core.models import Language

#: unit symbol → (zh, en singular, en plural). Symbols are matched case-sensitively after a number.
UNITS: dict[str, tuple[str, str, str]] = {
    "ml": ("毫升", "milliliter", "milliliters"), "mL": ("毫升", "milliliter", "milliliters"),
    "L": ("升", "liter", "liters"), "l": ("升", "liter", "liters"),
    "mg": ("毫克", "milligram", "milligrams"), "g": ("克", "gram", "grams"), "kg": ("公斤", "kilogram", "kilograms"),
    "mm": ("毫米", "millimeter", "millimeters"), "cm": ("厘米", "centimeter", "centimeters"),
    "m": ("米", "meter", "meters"), "km": ("公里", "kilometer", "kilometers"),
    "oz": ("盎司", "ounce", "ounces"), "lb": ("磅", "pound", "pounds"), "lbs": ("磅", "pound", "pounds"),
    "in": ("英寸", "inch", "inches"), "ft": ("英尺", "foot", "feet"),
    "mAh": ("毫安时", "milliamp hour", "milliamp hours"), "W": ("瓦", "watt", "watts"), "V": ("伏", "volt", "volts"),
    "Hz": ("赫兹", "hertz", "hertz"), "GB": ("G", "gigabyte", "gigabytes"), "TB": ("T", "terabyte", "terabytes"),
    "h": ("小时", "hour", "hours"), "hr": ("小时", "hour", "hours"), "hrs": ("小时", "hour", "hours"),
    "min": ("分钟", "minute", "minutes"), "s": ("秒", "second", "seconds"), "sec": ("秒", "second", "seconds"),
    "°C": ("摄氏度", "degree Celsius", "degrees Celsius"), "℃": ("摄氏度", "degree Celsius", "degrees Celsius"),
    "°F": ("华氏度", "degree Fahrenheit", "degrees Fahrenheit"), "°": ("度", "degree", "degrees"),
}
#: currency sign → (zh word after the amount, en singular, en plural)
CURRENCIES: dict[str, tuple[str, str, str]] = {
    "¥": ("元", "yuan", "yuan"), "￥": ("元", "yuan", "yuan"), "$": ("美元", "dollar", "dollars"),
    "€": ("欧元", "euro", "euros"), "£": ("英镑", "pound", "pounds"),
}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
_MONTH_ABBR = {m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
ZH_DIGITS = "零一二三四五六七八九"
#: measure words after which 二 is said 两 (两件, 两瓶 …)
ZH_MEASURE_WORDS = "个件瓶盒包支袋只台款种片罐杯双套斤次位份张条颗粒块"

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
# ASCII word edges: Python's \b treats Han characters as word characters, so "ODT1新款" has none
_L = r"(?<![A-Za-z0-9])"
_R = r"(?![A-Za-z0-9])"
_UNIT_ALT = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
#: unit symbols that are also words or letters ("5 in 1", "2 s") count only written against the number
_TIGHT_UNITS = {"in", "s", "m", "h", "l", "g", "W", "V", "L"}
_UNIT_RE = re.compile(rf"(?<![A-Za-z0-9.])({_NUM})(\s?)({_UNIT_ALT})(?![A-Za-z])")
_CUR_RE = re.compile(rf"([¥￥$€£])\s?({_NUM})")
_PCT_RE = re.compile(rf"({_NUM})\s?[%％]")
_ISO_DATE_RE = re.compile(rf"{_L}((?:19|20)\d\d)[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01]){_R}")
_US_DATE_RE = re.compile(rf"{_L}(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])(?:/((?:19|20)\d\d))?{_R}")
_MONTH_DAY_RE = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+((?:19|20)\d\d)\b)?")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
#: a model code: letters and digits in one token, at least one of each (ODT1, X4090, A7-III, 3D)
_CODE_RE = re.compile(rf"{_L}(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*{_R}")
_LATIN_RUN_RE = re.compile(r"[A-Za-z][A-Za-z0-9'’&.\- ]*[A-Za-z0-9]|[A-Za-z]")
_HAN = "\u3400-\u9fff\uf900-\ufaff"
_DOUBLE_ELEVEN_RE = re.compile(r"双\s?(11|12)|(?<![\d.])(11|12)\.(11|12)(?![\d.])")


# --------------------------------------------------------------------------- entry points


def spoken_form(text: str, language: Language) -> str:
    """The words a person says for the written ``text`` (numbers, prices, units, dates, codes)."""
    text = re.sub(r"\s+", " ", text.strip())
    return _spoken_zh(text) if language == "zh" else _spoken_en(text)


def script_runs(text: str) -> list[tuple[Literal["zh", "en"], str]]:
    """Split a (normalised) Chinese line into runs to speak in Chinese and Latin runs to speak in
    English, in order (``"这款iPhone壳"`` → ``[("zh", "这款"), ("en", "iPhone"), ("zh", "壳")]``)."""
    runs: list[tuple[Literal["zh", "en"], str]] = []
    pos = 0
    for m in _LATIN_RUN_RE.finditer(text):
        if m.start() > pos and text[pos:m.start()].strip():
            runs.append(("zh", text[pos:m.start()].strip()))
        runs.append(("en", m.group(0).strip()))
        pos = m.end()
    if text[pos:].strip():
        runs.append(("zh", text[pos:].strip()))
    # a run of punctuation alone belongs to the run before it (a pause, not a word)
    merged: list[tuple[Literal["zh", "en"], str]] = []
    for lang, t in runs:
        if merged and not re.search(rf"[{_HAN}A-Za-z0-9]", t):
            merged[-1] = (merged[-1][0], merged[-1][1] + t)
        else:
            merged.append((lang, t))
    return merged


def to_pinyin(text: str) -> str:
    """Chinese text as tone-numbered pinyin syllables separated by spaces (``今天`` → ``jin1 tian1``);
    Chinese punctuation becomes ASCII punctuation so that a pinyin reader pauses on it."""
    from pypinyin import Style, lazy_pinyin

    text = text.translate(_ZH_PUNCT)
    sylls = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda s: [s])
    out = " ".join(s.strip() for s in sylls if s.strip())
    return re.sub(r"\s+([,.!?;:])", r"\1", out)


_ZH_PUNCT = str.maketrans({"，": ",", "。": ".", "！": "!", "？": "?", "；": ";", "：": ":", "、": ",", "…": ".",
                           "（": " ", "）": " ", "“": " ", "”": " ", "《": " ", "》": " ", "—": ",", "～": " ", "·": " "})


# --------------------------------------------------------------------------- English


@lru_cache(maxsize=1)
def _inflect():  # type: ignore[no-untyped-def]
    import inflect

    return inflect.engine()


def en_number(num: str) -> str:
    """``"1,299"`` → ``"one thousand two hundred ninety-nine"``; ``"3.5"`` → ``"three point five"``."""
    words = _inflect().number_to_words(num.replace(",", ""), andword="")
    return words.replace(",", "")


def en_year(year: int) -> str:
    """A year the way it is said (``2024`` → ``twenty twenty-four``, ``2005`` → ``two thousand five``)."""
    if 2000 <= year <= 2009 or year % 1000 == 0:
        return en_number(str(year))
    hi, lo = divmod(year, 100)
    return f"{en_number(str(hi))} {'hundred' if lo == 0 else ('oh ' + en_number(str(lo)) if lo < 10 else en_number(str(lo)))}"


def en_ordinal(n: int) -> str:
    """``11`` → ``eleventh``."""
    return _inflect().ordinal(en_number(str(n)))


def _en_code(code: str) -> str:
    """A model code read aloud: letter runs spelled when short or capitalised, digit runs as a
    number (four digits in pairs, like a year; five or more one by one)."""
    parts = []
    for tok in re.findall(r"[A-Za-z]+|\d+", code):
        if tok.isdigit():
            if len(tok) <= 3:
                parts.append(en_number(tok))
            elif len(tok) == 4 and tok[2:] != "00":
                parts.append(f"{en_number(tok[:2])} {en_number(tok[2:]) if tok[2] != '0' else 'oh ' + en_number(tok[3])}")
            else:
                parts.append(" ".join(en_number(d) for d in tok))
        elif tok.isupper() or len(tok) <= 2:
            parts.append(" ".join(tok.upper()) if len(tok) <= 5 else tok)
        else:
            parts.append(tok)
    return " ".join(parts)


def _en_money(sign: str, num: str) -> str:
    _, one, many = CURRENCIES[sign]
    whole, _, cents = num.replace(",", "").partition(".")
    if cents and int(cents or 0):
        # "$29.99" is said "twenty-nine ninety-nine" in an ad; "$0.99" "ninety-nine cents"
        c = en_number(str(int(cents.ljust(2, "0")[:2])))
        return f"{c} cents" if int(whole) == 0 and sign == "$" else f"{en_number(whole)} {c}"
    return f"{en_number(whole)} {one if int(whole) == 1 else many}"


def _en_unit(num: str, unit: str) -> str:
    _, one, many = UNITS[unit]
    return f"{en_number(num)} {one if num in ('1', '1.0') else many}"


def _spoken_en(text: str) -> str:
    t = re.sub("[™®©]", "", text).replace("&", " and ").replace("24/7", "twenty-four seven")
    # "a 15-lb ball": a unit inside a compound adjective is said in the singular
    t = re.sub(rf"{_L}(\d+)-({_UNIT_ALT}){_R}", lambda m: f"{en_number(m[1])}-{UNITS[m[2]][1]}", t)
    t = _ISO_DATE_RE.sub(lambda m: f"{MONTHS[int(m[2]) - 1]} {en_ordinal(int(m[3]))}, {en_year(int(m[1]))}", t)
    t = _MONTH_DAY_RE.sub(lambda m: f"{MONTHS[_MONTH_ABBR[m[1][:4].lower() if m[1].lower().startswith('sept') else m[1][:3].lower()] - 1]} "
                                   f"{en_ordinal(int(m[2]))}" + (f", {en_year(int(m[3]))}" if m[3] else ""), t)
    t = _US_DATE_RE.sub(lambda m: f"{MONTHS[int(m[1]) - 1]} {en_ordinal(int(m[2]))}" + (f", {en_year(int(m[3]))}" if m[3] else ""), t)
    t = _CUR_RE.sub(lambda m: _en_money(m[1], m[2]), t)
    t = _PCT_RE.sub(lambda m: f"{en_number(m[1])} percent", t)
    t = _UNIT_RE.sub(lambda m: m[0] if m[2] and m[3] in _TIGHT_UNITS else _en_unit(m[1], m[3]), t)
    t = _ORDINAL_RE.sub(lambda m: en_ordinal(int(m[1])), t)
    t = re.sub(r"\b(\d+)x\b", lambda m: f"{en_number(m[1])} times", t)       # 2x faster
    t = re.sub(r"\b(\d+)-in-(\d+)\b", lambda m: f"{en_number(m[1])} in {en_number(m[2])}", t)
    t = _CODE_RE.sub(lambda m: _en_code(m[0]), t)
    t = re.sub(r"\b(?:in|since|from|by|of|until)\s+((?:19|20)\d\d)\b", lambda m: m[0].replace(m[1], en_year(int(m[1]))), t)
    t = re.sub(_NUM, lambda m: en_number(m[0]), t)
    t = re.sub(r"(\w)\s*/\s*(\w)", r"\1 or \2", t)
    t = t.replace("+", " plus ")
    return re.sub(r"\s+", " ", t).strip()


# --------------------------------------------------------------------------- Chinese


def zh_number(num: str) -> str:
    """``"289"`` → ``"二百八十九"``; ``"3.5"`` → ``"三点五"`` (cn2an)."""
    import cn2an

    return str(cn2an.an2cn(num.replace(",", ""), "low"))


def _zh_digits(num: str) -> str:
    return "".join(ZH_DIGITS[int(d)] for d in num)


def _zh_code(code: str) -> str:
    """A model code inside Chinese: letters stay Latin (an English voice reads them; short or
    capitalised runs spelled), digits in Chinese (one or two as a number, more one by one:
    ``X4090`` → ``X 四零九零``, ``ODT1`` → ``O D T 一``)."""
    parts = []
    for tok in re.findall(r"[A-Za-z]+|\d+", code):
        if tok.isdigit():
            parts.append(zh_number(tok) if len(tok) <= 2 else _zh_digits(tok))
        elif tok.isupper() and len(tok) <= 5:
            parts.append(" ".join(tok))
        else:
            parts.append(tok)
    return " " + " ".join(parts) + " "


def _zh_money(sign: str, num: str) -> str:
    return zh_number(num) + CURRENCIES[sign][0]


def _spoken_zh(text: str) -> str:
    import cn2an

    t = re.sub("[™®©]", "", text)
    t = _DOUBLE_ELEVEN_RE.sub(lambda m: "双" + zh_number(m[1] or m[2]) if (m[1] or m[2] == m[3]) else m[0], t)
    t = _ISO_DATE_RE.sub(lambda m: f"{_zh_digits(m[1])}年{zh_number(str(int(m[2])))}月{zh_number(str(int(m[3])))}日", t)
    t = _CUR_RE.sub(lambda m: _zh_money(m[1], m[2]), t)
    t = re.sub(rf"({_NUM})\s?(?:RMB|rmb|CNY)", lambda m: zh_number(m[1]) + "元", t)
    t = _PCT_RE.sub(lambda m: "百分之" + zh_number(m[1]), t)
    t = _UNIT_RE.sub(lambda m: m[0] if m[2] and m[3] in _TIGHT_UNITS else zh_number(m[1]) + UNITS[m[3]][0], t)
    t = re.sub(rf"{_L}(\d+)\s?[xX×](?![A-Za-z])", lambda m: zh_number(m[1]) + "倍", t)
    t = _CODE_RE.sub(lambda m: _zh_code(m[0]), t)
    t = str(cn2an.transform(t, "an2cn"))  # remaining numbers, dates (2024年11月), fractions, 第3代
    t = re.sub(rf"(?<![{ZH_DIGITS}十百千万亿点第])二(?=[{ZH_MEASURE_WORDS}])", "两", t)
    # Latin words keep a space on each side so that an English voice can take them; none next to Han
    t = re.sub(rf"\s+(?=[{_HAN}，。！？、；：])|(?<=[{_HAN}，。！？、；：])\s+", "", t)
    return re.sub(r"\s+", " ", t).strip()
