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


#: Words of a promotion in a listing title's brackets (【立即抢购】, 【官方正品】, 【虞书欣同款】).
_PROMO_ZH = re.compile(r"抢|购|订|付|定|速达|推荐|同款|正品|官方|品牌日|会员|赠|节|季|专享|直播|现货|重磅|全新|限定|限量|发货|预售|"
                       r"狂|大牌|秒杀|特价|包邮|新品|爆款|热卖|活动|福利|优惠|顺丰|超品|首发|年货|礼")


def clean_name(name: str) -> str:
    """The product name without shop decorations (bracketed promotions, 官方正品, 新款 …)."""
    # a bracket holding only a brand ("【曼秀雷敦】润唇膏…") opens the name; one holding a promotion does not
    name = re.sub(r"【([^】\d]{2,8})】", lambda m: m.group(1) if not _PROMO_ZH.search(m.group(1)) else m.group(0), name)
    s = _NAME_NOISE_RE.sub(" ", name).strip()
    s = re.sub(r"官方旗舰店|旗舰店|官方正品", "", s).strip() or s  # "植物医生旗舰店高山白茶…": the shop, not the name
    s = re.sub(r"^\S{1,6}同款\s*", "", s) or s
    s = re.sub(r"(?<=.)(十大名牌|十大品牌|官方(?=.)|品牌正品|正品(?=.)|品牌(?=.))", "", s) or s
    s = re.sub(r"20[0-9]{2}年?(新款|款|春夏|秋冬|夏季|冬季)", "·", s).strip("·") or s  # "zuru2023新款x特攻": the year ends the name  # "慕思官方十大名牌儿童…床垫": a boast, not the name  # "罗云熙同款高姿…": a celebrity's endorsement, not the name
    changed = True
    while changed:
        changed = False
        for w in _NAME_NOISE_WORDS_ZH:
            if s.startswith(w) and len(s) > len(w) + 1:
                s, changed = s[len(w):].strip(), True
    return s or name.strip()


#: Audience words of listing titles; the spoken name stops before them.
_AUDIENCE_WORDS = frozenset("女 男 女士 男士 女款 男款 女生 男生 男女 女式 男式 儿童 成人 宝宝 婴儿 学生 孕妇 中老年".split())


def _name_tokens(name: str) -> list[str]:
    """jieba words of the cleaned name, with hyphenated model codes kept whole ("SK-II", not "SK")."""
    toks = [t for t in tokens(clean_name(name), "zh") if t.strip()]
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        while i + 2 < len(toks) and toks[i + 1] == "-" and ALNUM_RE.fullmatch(t[-1]) and ALNUM_RE.fullmatch(toks[i + 2][0]):
            t, i = t + "-" + toks[i + 2], i + 2
        out.append(t)
        i += 1
    return out


def _leading_tokens(name: str, max_chars: int, stop_at_code: bool) -> str:
    toks = _name_tokens(name)
    while len(toks) > 2 and toks[0] in _PLACES_ZH:  # "韩国lunastory…": the place is no name
        toks = toks[1:]
    kept: list[str] = []
    for t in toks:
        if is_punct(t) or (kept and len("".join(kept)) + len(t) > max_chars):
            break
        if stop_at_code and kept and len("".join(kept)) >= 4 and ALNUM_RE.search(t):
            break
        kept.append(t)
    if stop_at_code and kept and "-" in kept[0] and ALNUM_RE.search(kept[0]):
        kept = kept[:1]  # "SK-II": a hyphenated brand is said alone (what jieba makes of the rest is no name)
    nxt = toks[len(kept)] if len(kept) < len(toks) else ""
    if len(kept) >= 2 and re.fullmatch(r"[A-Za-z]{3,}", kept[-2]) and not ALNUM_RE.search(kept[-1]) \
            and (len(kept[-1]) == 1 or re.fullmatch(r"[A-Za-z]", nxt)
                 or (re.fullmatch(r"[\u4e00-\u9fff]", nxt) and nxt not in _CATEGORY_END_ZH and nxt not in "车床灯包")):
        kept.pop()  # "Colorkey珂" of 珂拉琪, "ROMOSS罗马" of 罗马仕, "OralB欧乐" of 欧乐B: half a brand is no name
    # the audience words that follow the product noun in listing titles ("隔离霜女妆前乳") end the name
    for k, t in enumerate(kept):
        if k and len("".join(kept[:k])) >= 4 and (t in _AUDIENCE_WORDS or t[:1] in ("女", "男")):
            kept = kept[:k]
            break
    # a dangling one-character word ("IPSA茵芙莎第" before "9代") is half of something longer
    while len(kept) > 1 and kept[-1] in DANGLING_ZH | {"第", "之", "新", "款", "时尚", "经典", "潮流", "百搭", "轻奢", "现代",
                                                       "可", "不", "免", "无", "十大名牌", "十大品牌"}:
        kept.pop()  # a dangling word, or a title's adjective after the name ("卓韵霜时尚")
    rest = toks[len(kept):]
    if len(kept) > 1 and len(kept[-1]) == 1 and rest and (kept[-1] + rest[0][:1]) in "".join(kept[:-1]):
        kept.pop()  # "兰蔻菁纯护肤品套装菁" of "…套装 菁纯眼霜": one character of the next word
    while len(kept) > 1 and kept[-1] in _NOT_CATEGORY_ZH | {"淡斑", "抗皱", "焕白", "修护", "舒缓"} and len("".join(kept[:-1])) >= 3:
        kept.pop()  # a claim of the title ends no name ("欧诗漫珍珠白美白", "雪肌精套装补水")
    return "".join(kept) or clean_name(name)[:max_chars]


#: Last characters of zh product-category nouns (面霜, 洗发水, 眼影盘, 床垫, 染发剂 …) and whole
#: category words that end otherwise; a spoken short name is a brand and such a noun.
_CATEGORY_END_ZH = frozenset("霜水乳液油膏露盘釉垫机柜椅桌衣衫裤裙鞋包罩刷笔粉饼膜器灯杯壶锅表镜帽袜枕被箱架夹剂胶素片茶蜡泥棒仪扇锁奶")
_CATEGORY_WORDS_ZH = frozenset("精华 口红 面膜 眼影 键盘 鼠标 耳机 手机 电脑 主机 吊带 背心 内衣 文胸 洁面 礼盒 睫毛夹 跑步机 拓展坞 "
                               "发蜡 发泥 香水 牙刷 沙发 床垫 外套 衬衫 连衣裙 卫衣 毛衣 帐篷 书桌 台灯 音箱 相机 手表".split())
#: Effect words that end like a category noun (补水, 控油) but name none.
_NOT_CATEGORY_ZH = frozenset("补水 节水 控油 防水 保湿 吸油 油水 卸妆 去油 锁水 喝水 洗衣 防晒 美白 祛痘 淡纹 紧致 提亮".split())
#: Places that open listing titles (韩国…, 日本…) but are no brand: a name never starts with one alone.
_PLACES_ZH = frozenset("韩国 日本 法国 美国 德国 意大利 英国 泰国 澳洲 澳大利亚 新西兰 瑞士 新加坡 进口 国产 原装 原装进口".split())


def _category_name(name: str, max_chars: int, compose: bool = False) -> str | None:
    """Brand + category noun of a zh listing title: the title's start through its first category
    noun when that is at most ``max_chars`` long ("完美日记动物眼影盘"), else the brand (the first
    words, up to four characters, no place name) and the category ("发之食谱洗发水", "植村秀洁颜油")
    only when ``compose``.

    Sellers say the title's leading words (brand, series) more than brand + category: on dev.json
    the composed form lowered CIDEr-D of the narration by 2.6 (26.6 → 24.0, every third video), so
    spoken names do not compose; a category within the first ``max_chars`` characters completes
    the name ("植村秀琥珀臻萃洁颜油", not "…臻萃洁")."""
    from tools.narrate.text import zh_pos

    toks = [t for t in tokens(clean_name(name), "zh") if t.strip() and not is_punct(t)]
    while toks and toks[0] in _PLACES_ZH and len(toks) > 2:
        toks = toks[1:]
    for k, t in enumerate(toks):
        if k == 0 or ALNUM_RE.fullmatch(t):
            continue
        is_cat = t in _CATEGORY_WORDS_ZH or (len(t) >= 2 and t[-1] in _CATEGORY_END_ZH and zh_pos(t)[:1] == "n"
                                              and t not in _NOT_CATEGORY_ZH)
        if not is_cat:
            continue
        head = "".join(toks[:k + 1])
        if len(head) <= max_chars:
            return head
        if not compose:
            return None
        if len(toks[k - 1]) == 1 and k >= 2 and toks[k - 1] not in "款式型装版":  # jieba split it ("洁" + "颜油")
            t, k = toks[k - 1] + t, k - 1
        brand: list[str] = []
        for b in toks[:k]:  # the brand: the first words, up to four characters, not ending on a split one
            if brand and len("".join(brand)) + len(b) > 4:
                break
            brand.append(b)
        while len(brand) > 1 and len(brand[-1]) == 1:
            brand.pop()
        return "".join(brand) + t
    return None


def short_name(product: ProductInfo, language: Language) -> str:
    """A speakable short form of the product name: zh, the brand and category noun when the title
    has one (:func:`_category_name`), else its leading tokens up to ~8 characters."""
    if language == "en":
        return " ".join(clean_name(product.name).split()[:4])
    return _category_name(product.name, 10) or _leading_tokens(product.name, 8, stop_at_code=True)


#: Characters of the name said where the script introduces the product (产品推荐). Humans say
#: the fuller name there: on E-SyncVidStory dev 82 % of 产品推荐 lines contain a word of the
#: product name, and the leading tokens are the ones said (brand, series, category noun).
#: Tuned on dev.json (CIDEr of 产品推荐 lines 8 → 10 → 12 characters: 55 / 64 / 72).
LONG_NAME_CHARS = 10


def long_name(product: ProductInfo, language: Language) -> str:
    """The fuller spoken name used when the product is introduced or recommended."""
    if language == "en":
        return " ".join(clean_name(product.name).split()[:6])
    return _category_name(product.name, LONG_NAME_CHARS + 2) or _leading_tokens(product.name, LONG_NAME_CHARS,
                                                                                 stop_at_code=False)


#: Garments and footwear in a zh listing title (not the machines, racks and detergents named after them).
_WORN_ZH = re.compile(r"(连衣裙|半身裙|裙|T恤|衬衫|衬衣|卫衣|毛衣|针织衫|外套|夹克|风衣|大衣|羽绒服|防晒衣|防晒服|泳衣|泳裤|泳装|"
                      r"内衣|内裤|文胸|背心|吊带|打底衫|裤|西装|袜|鞋|靴|睡衣|家居服|运动服|瑜伽服)"
                      r"(?!机|柜|架|液|粉|凝珠|皂|刷|夹|盒|袋|收纳|挂|钩|柔顺|除味|烘|油|垫|撑|清洗)")
_NOT_WORN_ZH = re.compile(r"洗衣|晾衣|衣柜|衣架|鞋柜|鞋架|收纳|洗涤|清洗|除菌|除螨")
#: How the copy of a worn product says "use" ("用起来" of a dress reads as a cosmetic): same length,
#: so a line's measured length is unchanged.
_WORN_SAYING_ZH = (("上手", "上身"), ("用起来", "穿起来"),
                   ("试用一下", "试穿一下"), ("用着", "穿着"))
_FEET_SAYING_ZH = (("上身", "上脚"),)


def worn_zh(name: str) -> str:
    """'body' when a zh listing title names a garment, 'feet' for shoes and socks, else ''."""
    n = clean_name(name)
    if _NOT_WORN_ZH.search(n):
        return ""
    m = _WORN_ZH.search(n)
    if not m:
        return ""
    return "feet" if m.group(1) in ("袜", "鞋", "靴") else "body"


def say_worn(text: str, worn: str) -> str:
    """``text`` with the words of using a product said as wearing it (``worn`` from :func:`worn_zh`)."""
    if not worn:
        return text
    for a, b in _WORN_SAYING_ZH + (_FEET_SAYING_ZH if worn == "feet" else ()):
        text = text.replace(a, b)
    return text
