"""Spoken product names: without shop decorations, short in the body, fuller where introduced.

Narrator §3.1/§3.2: a narration introduces and recommends the product (script label 产品推荐,
App. A.4) and otherwise talks about it. Humans name it by a spoken form of its listing title:
:func:`long_name` where the script introduces it (on E-SyncVidStory dev 82 % of 产品推荐 lines
contain a word of the product name), :func:`short_name` elsewhere; :func:`clean_name` first drops
shop decorations (【…】, 官方正品, 新款 …).
"""

from __future__ import annotations

import re

from tools.core.models import Language, ProductInfo
from tools.narrate.text import ALNUM_RE, DANGLING_ZH, is_punct, tokens

#: Shop decorations that are not part of the product's spoken name (【立即预订】, 官方正品, 新款 …).
_NAME_NOISE_RE = re.compile(r"【[^】]*】|\[[^\]]*\]|「[^」]*」")
_NAME_NOISE_WORDS_ZH = ("官方正品", "官方旗舰店", "旗舰店", "正品", "官方", "新品", "新款", "全新", "现货", "包邮", "特价")


def clean_name(name: str) -> str:
    """The product name without shop decorations (bracketed promotions, 官方正品, 新款 …)."""
    s = _NAME_NOISE_RE.sub(" ", name).strip()
    changed = True
    while changed:
        changed = False
        for w in _NAME_NOISE_WORDS_ZH:
            if s.startswith(w) and len(s) > len(w) + 1:
                s, changed = s[len(w):].strip(), True
    return s or name.strip()


#: Audience words of listing titles; the spoken name stops before them.
_AUDIENCE_WORDS = frozenset("女 男 女士 男士 女款 男款 女生 男生 男女 女式 男式 儿童 成人 宝宝 婴儿 学生 孕妇 中老年".split())


def _leading_tokens(name: str, max_chars: int, stop_at_code: bool) -> str:
    toks = [t for t in tokens(clean_name(name), "zh") if t.strip()]
    kept: list[str] = []
    for t in toks:
        if is_punct(t) or (kept and len("".join(kept)) + len(t) > max_chars):
            break
        if stop_at_code and kept and len("".join(kept)) >= 4 and ALNUM_RE.search(t):
            break
        kept.append(t)
    # the audience words that follow the product noun in listing titles ("隔离霜女妆前乳") end the name
    for k, t in enumerate(kept):
        if k and len("".join(kept[:k])) >= 4 and (t in _AUDIENCE_WORDS or t[:1] in ("女", "男")):
            kept = kept[:k]
            break
    # a dangling one-character word ("IPSA茵芙莎第" before "9代") is half of something longer
    while len(kept) > 1 and kept[-1] in DANGLING_ZH | {"第", "之", "新", "款"}:
        kept.pop()
    return "".join(kept) or clean_name(name)[:max_chars]


def short_name(product: ProductInfo, language: Language) -> str:
    """A speakable short form of the product name (zh: leading tokens up to ~8 characters)."""
    if language == "en":
        return " ".join(clean_name(product.name).split()[:4])
    return _leading_tokens(product.name, 8, stop_at_code=True)


#: Characters of the name said where the script introduces the product (产品推荐). Humans say
#: the fuller name there: on E-SyncVidStory dev 82 % of 产品推荐 lines contain a word of the
#: product name, and the leading tokens are the ones said (brand, series, category noun).
#: Tuned on dev.json (CIDEr of 产品推荐 lines 8 → 10 → 12 characters: 55 / 64 / 72).
LONG_NAME_CHARS = 10


def long_name(product: ProductInfo, language: Language) -> str:
    """The fuller spoken name used when the product is introduced or recommended."""
    if language == "en":
        return " ".join(clean_name(product.name).split()[:6])
    return _leading_tokens(product.name, LONG_NAME_CHARS, stop_at_code=False)
