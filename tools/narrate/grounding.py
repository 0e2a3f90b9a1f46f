"""Grounding: every content word of a line is this product's, vetted-generic, or a function word.

Narrator §3.3 "Knowledge Relevance" (and §4.2: the model should "primarily use the information
provided in the prompt and avoid using unrelated knowledge"): a narration should state the
product's knowledge points and nothing unrelated (InfoSim). The embedded narrator enforces it
word by word: :class:`Grounder` accepts a word when the product's name, facts or trusted copy
contain it, when it is in the hand-vetted generic ad vocabulary (:data:`GENERIC_AD_WORDS`) or when
it is a function word (zh: jieba POS in :data:`FUNCTION_POS_ZH`; en:
:data:`~tools.narrate.text.EN_FUNCTION_WORDS`). Any other word is some other product's fact and
is never spoken.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tools.core.models import Language, ProductInfo
from tools.narrate.text import ALNUM_RE, EN_FUNCTION_WORDS, is_punct, tokens, zh_pos

#: Vetted generic, fact-free ad words (zh): audience, shopping verbs, evaluative words and
#: meta-nouns ("效果", "品质") that state no property of any particular product. Picked by hand
#: from the words used by the most products in the zh corpus (a word was rejected when it names a
#: category, an ingredient, a body part, a promotion or any property, e.g. 养肤, 肌肤, 保湿, 赠送).
GENERIC_AD_WORDS: dict[str, frozenset[str]] = {
    "zh": frozenset("""
真的 真心 非常 推荐 喜欢 值得 快来 下单 购买 入手 选择 大家 姐妹 姐妹们 朋友 朋友们 宝贝 宝子 小伙伴 你们 我们 自己
今天 现在 最近 平时 每天 日常 天天 瞬间 以后 之后 之前 以前 最后 接下来 一段时间 时候 时间 期间
使用 效果 感觉 产品 这款 这个 这是 一款 一个 一下 一点 一些 一起 一次 一种 多种 很多 所有 整个 整体 地方 东西 问题 情况 方式 方面 细节 步骤 状态 需求 机会
还有 没有 不会 不用 不想 不能 不够 不到 无需 起来 出来 回来 下来 看看 试试 试试看 试一试 尝试 知道 觉得 看到 发现 感受 享受 拥有 相信 愿意 记得 注意 告诉 分享 介绍 推开
适合 非常适合 合适 需要 想要 能够 才能 可以 可能 变得 变成 显得 像是 好像 属于 作为 加上 包括 进行 保持 支持 帮助 提供 带来 得到 找到 满足 解决 做到 搞定 坚持 安排 准备 打开 放在 出现 开始 采用 打造 升级 提升 提高 保证
放心 安心 担心 犹豫 后悔 错过 心动 惊喜 完美 经典 满满 满满的 必备 实用 好用 不错 超棒 超级 简单 容易 方便 轻松 划算 性价比 实惠 不贵 不亏 口碑 颜值 实力 质感 品质 质量 功效 设计 体验 作用 用心 讲究 用料 值得一提 专属 专业 重要 关键 丰富 用过 回购 离不开 闭眼 爱上 说好 看得见 保障 有目共睹 并存 亮点 发愁 烦恼 遇到 这样 是否 的话 赶紧 上手 明显 经得起 考验 外观 可靠 工序 严格 每一个 每一道 感觉 视频 链接 点击 行动 心情 开心 快乐 满意 用起来 看起来 一下子 第一步 肯定 没错 厉害 就够 好物 宝藏 这套 这瓶 这支 这只 这件 这双 这台 这盒 这罐 这把 一套 一瓶 一支 一只 一件 一盒 谁用谁 懂的 都懂 越用越 真香 种草 一用 效果显著 快乐 选它 答案 秘密 心里 生活 品味 精致 高级 有效 不同 一般 普通 完全 直接 充分
感超棒 越用 是不是 总在 试一下 放心使用 生产工艺 用着 说真的 安利 必须 一定
一试 一大 含有 困扰 千万 别错过 正在 回家 回家吧 带回家 超高 好看 外观设计 选用 试用 一步 每一步 一道 体验感 头疼
很加分 加分 一眼 值得一提的是
""".split()),
    "en": frozenset("""
love loved loving like great good best better really truly today now every everyday day daily life
easy easily simple simply use used using made make makes making worth penny last lasting built real favourite favorite
quality design designed look looks feel feels style perfect perfectly ideal need needs want wants get gets got
order grab yours new meet recommend recommended try tried trying see difference deliver delivers plus more
something everything anything thing things way ways time times moment right choice pick picks enjoy enjoyed
buy buying shop shopping deal price value little lot lots one ones two first always never ever still even also
whether morning mornings sound familiar tired problems problem there here ready go going keep keeps help helps
work works working fit fits trusted experts expert certified tested safety safe care carefully how come comes
detail details thought thoughtful favourite smart choice wonderful amazing lovely nice fine handy practical
materials throughout yourself recognised peace mind
say hello sick have has answer give gives feature features carry carries top favourite everyday
""".split()),
}

#: jieba POS tags of function words (pronouns, conjunctions, particles, prepositions, adverbs,
#: modal particles, interjections, onomatopoeia, classifiers, directions) — fact-free by nature.
FUNCTION_POS_ZH = ("r", "c", "u", "p", "d", "y", "e", "o", "q", "f", "ad", "uj", "ul", "zg")
#: Characters a zh numeral word may use without stating a fact (一个, 几次; not 三分钟, 双十一).
_FREE_NUMERAL_CHARS = set("一几些每多个两次点下种款套瓶支只件份")


#: Locative words (jieba POS f) that state nothing about a product.
_FREE_LOCATIVES_ZH = frozenset("""里面 之后 最近 下方 最后 上面 之前 以后 期间 下面 以上 以前 中间 后面 上方 下边 之间 旁边
以下 之外 背后 前面 上下 当中 之中 其中 左右 前后""".split())
#: One-character nouns that state nothing about a product (people, time, money, talk …).
_FREE_CHARS_ZH = frozenset("人 时 钱 心 话 问 处 内 价 货 礼 双 换 连 宝 性 化 状 风 光 力 事 家 天 年 样 点 种 次 款 个 里 外 边 面 手 感".split())


def _en_stem(w: str) -> str:
    w = w.lower().strip("'’-")
    for suf in ("ies", "es", "s", "ed", "ing", "ly"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[: -len(suf)]
    return w


class Grounder:
    """Decides whether a content word is supported: by this product's name/facts, by the vetted
    generic ad vocabulary (:data:`GENERIC_AD_WORDS`) or because it is a function word.

    The narrator's promise (issue 8 §4): no line names another product or states a fact this
    product lacks. A word that is neither this product's nor generic nor a function word is a
    fact of some *other* product (养肤 in a coffee ad) and is never spoken.
    """

    def __init__(self, product: ProductInfo, language: Language, trusted_texts: Sequence[str] = ()) -> None:
        self.language = language
        parts = [product.name] + [p for _, p in product.points()] + [a.aspect for a in product.aspects] + list(trusted_texts)
        self.blob = "|".join(re.sub(r"\s+", "" if language == "zh" else " ", s) for s in parts).lower()
        self.en_words = {_en_stem(w) for w in re.findall(r"[A-Za-z][A-Za-z'’\-]*", self.blob)}
        self.en_words |= {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'’\-]*", self.blob)}
        self.generic = GENERIC_AD_WORDS[language]
        self._codes: dict[str, bool] = {}

    def is_content(self, tok: str) -> bool:
        """Whether ``tok`` must be grounded: zh words of ≥ 2 characters and one-character nouns
        outside :data:`_FREE_CHARS_ZH` (脸, 油, 发 say what kind of product it is); en words
        outside the stop list."""
        if is_punct(tok) or not tok.strip():
            return False
        if self.language == "zh":
            if ALNUM_RE.search(tok):
                return True
            if len(tok) == 1:
                return tok not in _FREE_CHARS_ZH and zh_pos(tok) in ("n", "ng", "nz")
            return len(tok) >= 2
        return tok.lower().strip("'’") not in EN_FUNCTION_WORDS

    def grounded(self, tok: str) -> bool:
        if not self.is_content(tok):
            return True
        low = tok.lower()
        if self.language == "zh":
            if ALNUM_RE.search(tok):  # a number or code must be one of the facts', whole (199 ≠ 1990)
                return self._whole_code(low)
            if low in self.blob or tok in self.generic:
                return True
            pos = zh_pos(tok)
            if pos[0] == "f":  # locatives: 之后 is free, 面部 / 底部 name a part of some product
                return tok in _FREE_LOCATIVES_ZH
            if pos in FUNCTION_POS_ZH or (pos[0] in "rcupdyeoq" and pos != "df"):
                return True
            if pos == "m" and set(tok) <= _FREE_NUMERAL_CHARS:
                return True
            return False
        w = low.strip("'’-")
        if any(ch.isdigit() for ch in w):
            return w in self.blob
        return w in self.generic or _en_stem(w) in self.generic or w in self.en_words or _en_stem(w) in self.en_words

    def _whole_code(self, low: str) -> bool:
        if low in self._codes:
            return self._codes[low]
        ok = re.search(r"(?<![a-z0-9])" + re.escape(low) + r"(?![a-z0-9])", self.blob) is not None or (
            not low[0].isalnum() or not low[-1].isalnum()) and low in self.blob
        self._codes[low] = ok
        return ok

    def ungrounded(self, text: str) -> list[str]:
        """Content words of ``text`` that are neither this product's, generic, nor function words."""
        return [t for t in tokens(text, self.language) if not self.grounded(t)]
