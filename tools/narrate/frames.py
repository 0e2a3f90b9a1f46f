"""Frames: sentences of real ad copy with typed phrase-level slots, and the facts that fill them.

Narrator §3.1 asks every narration to carry the product's knowledge; the embedded narrator reuses
the phrasing of real copy (the corpus) and states *this* product's facts in it. A **frame** is a
corpus sentence in which the phrases that were specific to its source product became typed
slots, found by matching that product's own facts and name in the sentence:

* ``name`` — the source product's name (a run of its name words);
* ``fact:<group>:<class>`` — a whole fact phrase of the source, typed by the aspect group it
  belongs to (:func:`aspect_group`: benefit, texture, material, look, pain, audience, offer, cert,
  service, story) and by its phrase class (:func:`fact_class`: ``np`` noun phrase, ``vp`` verb
  phrase, ``ap`` adjective/predicate phrase, ``num`` a phrase built on a number with its unit).

A slot is filled only by a whole fact phrase of this product of the same group and class
(:func:`fill_frame`); a frame whose remaining words are not generic ad language nor this
product's (:attr:`Frame.needs`, checked by :class:`~tools.narrate.grounding.Grounder`) is
discarded, never patched. Templates (:mod:`tools.narrate.templates`) are frames too, written by
hand with the same slot syntax (``{name}``, ``{fact:benefit:vp}``), so one filling and ranking
path serves both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from tools.core.models import Language, ProductInfo, count_words
from tools.narrate.grounding import Grounder
from tools.narrate.guard import slot_takes
from tools.narrate.text import ALNUM_RE, EN_FUNCTION_WORDS, is_punct, tokens, zh_pos

# --------------------------------------------------------------------------- fact typing

#: Aspect name keywords → aspect group (zh names of E-SyncVidStory and common English ones).
#: First match wins; an aspect matching none is a benefit.
_GROUP_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("related", ("相关产品", "related")),
    ("pain", ("痛点", "问题", "烦恼", "pain", "problem")),
    ("audience", ("人群", "肤质", "适用", "audience", "for whom", "suitable", "who")),
    ("offer", ("优惠", "活动", "价格", "促销", "福利", "赠", "offer", "promotion", "price", "deal", "discount", "sale")),
    ("service", ("售后", "服务", "warranty", "service", "guarantee")),
    ("cert", ("认证", "鉴定", "专利", "certif", "award", "patent", "test")),
    ("story", ("品牌", "故事", "brand", "story")),
    ("look", ("外观", "颜色", "设计", "款式", "造型", "appearance", "design", "colour", "color", "look", "style", "size")),
    ("texture", ("质地", "口感", "触感", "texture", "feel")),
    ("material", ("成分", "材质", "材料", "面料", "工艺", "material", "ingredient", "fabric", "made", "process")),
    ("use", ("使用", "用法", "试用", "usage", "use", "how to")),
    ("benefit", ("功效", "效果", "特性", "质量", "卖点", "名称", "effect", "benefit", "feature", "quality", "selling")),
)


def aspect_group(aspect: str) -> str:
    """The group of an aspect name (see the module docstring); unknown aspects are benefits."""
    a = aspect.lower()
    for group, keys in _GROUP_KEYS:
        if any(k in a for k in keys):
            return group
    return "benefit"


_ZH_NOUNISH = ("n", "nz", "ng", "nr", "ns", "nt", "vn", "an", "eng", "m", "q", "nrt", "nrfg", "b", "j", "f", "s")
#: 折 and 减 are offers only as a discount ("8折", "立减30"), not in 可折叠 or 减脂; 送 not in 放送.
_ZH_OFFER_VERB_RE = re.compile(r"(?<!放)送(?!礼)|立减|满减|减\d|直降|享(?=[\d一二三四五六七八九十两]|折|优惠|受|价)|包邮|[\d一二三四五六七八九]折|折扣|打折|赠|省|领|抢|买|返|免")
_ZH_OFFER_GAIN_RE = re.compile(r"(?<!放)送(?!礼)|立减|满减|减\d|直降|[\d一二三四五六七八九]折|折扣|享(?!受)|赠|免|返|券|元|优惠|包邮|红包|福利|礼|省")
#: Verbs that need an object: a fact of this verb alone ("改善", "修护") leaves the sentence
#: hanging ("给大家推荐…，改善又紧致").
_TRANSITIVE_ZH = frozenset("""改善 修护 提升 淡化 减少 抵御 增强 促进 打造 保护 修复 调理 预防 去除 对抗 抑制 阻隔 帮助 解决 缓解
告别 远离 击退 赶走 加速 提高 增加 降低 维持 保持 呵护 守护 激活 唤醒 焕活 重塑 拯救 调节 调整 控制 提供 保证 确保 实现 支持 吸收
添加 不添加 含有 不含 含 采用 使用""".split())  # "而且它不添加" (seed 293): adds what?


#: zh words that end a noun phrase whatever comes before them (修护成分, 减震结构, 立体剪裁).
_HEAD_NOUNS_ZH = frozenset("""成分 因子 精华 配方 技术 设计 工艺 面料 材质 系统 功能 模式 结构 系列 套装 组合 科技 剪裁 版型 款式
造型 颜色 配色 材料 原料 提取物 精粹 香型 香调 尺寸 容量 接口 按键 电机 电池 屏幕 镜头 芯片""".split())
#: Noun phrases that are not something a product contains (里面含有 … 技术 / 设计 / 面料).
_NOT_INGREDIENT_ZH = re.compile(r"(技术|工艺|科技|设计|结构|版型|款式|面料|系列|剪裁|造型|功能|模式|系统|香|色|款|型|质地|状|感|"
                                r"升级|来源|配方|洁颜|体验|力|孔|度|蓝|红|绿|黑|白|金|烟|宝石|霜|乳|水乳|套装)$|升级|认证")
#: Parts and materials, which a product has but does not make for you (打造 … 弹簧系统 / 粉体).
_NOT_RESULT_ZH = re.compile(r"(色|色号|系统|结构|粉体|材质|面料|成分|技术|科技|工艺|香型|形状|弹簧|纤维|提取物|精华|因子|配方|设计|面板|接口|"
                            r"按键|电机|电池|颗粒|教具|玩具|套装|乳|膜|霜|液|露|油|水|香型|香)$")
#: Noun phrases a design is made of (它采用了 … 设计 / 版型 / 配色), as opposed to the product itself
#: ("它采用了大码男士", "它采用了隐形防盗床头柜").
_DESIGN_ZH = re.compile(r"(设计|款式|版型|造型|工艺|配色|外观|面板|结构|领|袖|扣|边|线条|框|盖|把手|图案|印花|纹|拼接|剪裁|杯|带|口)$")
#: A problem a person has (the 困扰/烦恼 templates take one): a pain word or a negation.
_PROBLEM_ANY_ZH = re.compile(r"不|没|难|差|慢|累|痛|脏|乱|吵|怕|担心|麻烦|容易|易|总是|老是|过度|太")
#: One-character suffixes that make a noun of what precedes them (显色度, 防霉层, 回弹感, 入门款).
_NOUN_SUFFIX_ZH = frozenset("度 层 感 款 性 型 率 版 式 装".split())
_EASY_ZH = frozenset("易于 易 容易 便于 不易 好".split())
#: A fact that is a fragment of a sentence, not a phrase: a question (是否支持宏), a time clause
#: (轻轻按摩后), a hedge; no slot takes it.
#: Listing fields and joined lists that sellers file as facts ("无服装版型信息", "好耐用·全棕内芯").
_JUNK_ZH = re.compile(r"^(不明确|不详|未知|暂无|无|其他|其它|见详情)$|信息|参数|详情|尺码表|仅供参考|因人而异|以实物为准|图片|美颜|滤镜|实拍|剪辑|修图|https?:|www\.|\.com|\.cn|[·/|｜;；]")
_FRAGMENT_ZH = re.compile(r"是否|吗$|？|\?|[后时前]$|的话$|之后$|以后$|如果|可能|^(时而|依然|仍然|依旧)")  # "它时而柔媚": half of 时而…时而…


#: What a noun phrase names, read from its head (its last words). A typed slot takes only a fact
#: whose head says it is of the slot's kind: 含有 takes an ingredient (玻尿酸, 姜根提取物), never a
#: texture ("含有水润绵密"), a part ("含有铝合金面板") or a test ("含有盐雾测试"); 采用 and 用料
#: take an ingredient, a material or a technique ("采用纳米冰丝纤维"), never a product ("采用精华水")
#: or a claim ("采用全面升级"). Sellers' facts are noisy (Narrator §3.2 grounds lines in them), so a
#: fact with no head of a known kind is said only by slots that take any phrase.
_INGREDIENT_ZH = re.compile(r"(提取物|精粹|精萃|植萃|精华|精油|成分|因子|衍生物|复合物|蛋白|肽|酶|[酸醇酯钠钾镁锌钙铜苷糖素脂]|"
                            r"[花叶根茎籽草藻果]油|籽|[花叶根茎草藻]|维[ABCEK]\d?|[A-Z]?维?[ABCEK]\d?|VC|VE|B3|B5|益生菌|乳酸菌|玻色因|"
                            r"角鲨烷|角鲨烯|神经酰胺\w*|烟酰胺|胶原|精粹液|原液|咖啡豆|可可豆|[豆米麦]|茶叶|可可|果仁|燕麦|麦芽|蜂蜜|牛奶|奶粉|(精|果|籽|花|树|椰|橄榄|荷荷巴|山茶|玫瑰|茶|米|杏仁|葵|芝麻|鱼|坚果|植物|乳木果)油)$")
_PRODUCT_END_ZH = re.compile(r"(精华[水乳液露霜]|[水乳液露霜膏]|眼霜|面霜|香水|面膜|粉底|口红|唇釉|气垫|床垫|笔记本|内衣|套装|礼盒|瓶)$")
#: Last characters of things sold (吸奶器, 妈咪包, 按摩椅): a fact that ends in one names a product, not a
#: feature to show ("双边吸奶器，一眼就能看出来" was rejected by both raters of seed 277).
_THING_END_ZH = re.compile(r"(?<!有)(器|包|机|枕|椅|桌|柜|鞋|裤|裙|帽|袜|灯|车|身衣|防晒衣)$")
_MATERIAL_ZH = re.compile(r"(面料|材质|材料|用料|纤维|[棉麻丝绒毛革]|真皮|锦纶|氨纶|涤纶|莫代尔|天丝|乳胶|海绵|弹簧|[钢铜铝铁]|合金|塑料|"
                          r"硅胶|橡胶|实木|[木竹]|玻璃|陶瓷|[布纱网板]|网布|纱线|泡沫|山棕|椰棕|棕|内芯|PP|PPSU|ABS|EVA|TPU|PU|PC|PE)$",
                          re.I)
_TECH_ZH = re.compile(r"(技术|工艺|科技|结构|系统|配方|设计|成型|专利|版型|剪裁)$")
_AUDIENCE_ZH = re.compile(r"(肌|肤|肤质|肌肤|人群|人士|宝宝|儿童|孩子|小孩|女生|男生|女性|男性|男士|女士|学生|妈妈|孕妇|家庭|老人|"
                          r"体质|发质|头皮|年龄段|上班族|族)$")
_LIST_ZH = re.compile(r"其他|其它|等$|[和与及]")
#: Preservatives, solvents and fillers: on an ingredient list, never a selling point ("里面含有苯氧乙醇").
_NOT_TOUTED_ZH = re.compile(r"^(乙基|甲基|丙基|丁基|己基|双-|二苯)|双酚A|BPA|甲醛|重金属|荧光剂|塑化剂|苯氧乙醇|羟苯|尼泊金|甲基异噻|异噻唑|防腐|EDTA|丁二醇|丙二醇|戊二醇|卡波姆|三乙醇胺|香精|色素|酒精|乙醇|矿物油")
#: English parts and finishes: a product is not "made from" its lining, upper or paint.
_EN_PART_HEADS = frozenset("lining upper uppers sole soles outsole insole paint finish coating trim pocket pockets strap straps panel panels "
                           "zipper zip handle handles lid cap button buttons".split())

#: English parts and fittings a product has ("It has a storage drawer"); it gives comfort, warmth, support.
_EN_THING_HEADS = _EN_PART_HEADS | frozenset("""tab tabs desktop desk drawer drawers sleeve sleeves compartment compartments
shelf shelves leg legs base frame stand hood collar cuff cuffs buckle buckles wheel wheels heel midsole cable cord port ports
switch display screen battery motor blade blades filter nozzle hook hooks loop loops clip clips latch bottle bag case cover""".split())


def words_zh(point: str) -> list[str]:
    """The jieba words of a zh phrase, without punctuation."""
    return [t for t in tokens(point, "zh") if not is_punct(t)]


@lru_cache(maxsize=16384)
def head_kind(point: str) -> str:
    """What a zh fact phrase names: 'ingredient', 'material', 'tech', 'audience', 'cert', 'product',
    'price', 'gift' or '' (none of these); see :data:`_INGREDIENT_ZH`."""
    p = point.strip()
    if re.search(r"\d+(\.\d+)?\s*(元|块)|到手价|价格|[0-9一二三四五六七八九]折", p):
        return "price"
    if re.search(r"礼|赠品|小样|中样|福利|红包|优惠券|券$", p):
        return "gift"
    if _PRODUCT_END_ZH.search(p) or re.search(r"[瓶罐]", p) or (len(p) >= 3 and _THING_END_ZH.search(p)):
        return "product"  # "小黑瓶精华" is a product's nickname, not what it contains
    if re.fullmatch(r"\w{1,2}成分", p):
        return ""  # "直接成分", "染发成分", "天然成分": says no ingredient
    if p.endswith("成分") and len(p) > 2:
        before = [t for t in tokens(p[:-2], "zh") if not is_punct(t)]
        if before and zh_pos(before[-1])[:1] in ("a", "v", "d"):
            return ""  # "色调明亮成分", "温和清洁成分"? a quality, not an ingredient
    if re.search(r"(?<![A-Za-z])(PVC|TPE|TPU|EVA|ABS|PET|PP|PE|PC|PU|NBR|PPSU|PA66)(?![A-Za-z])", p):
        return "material"  # plastics and rubbers: "加厚防爆PVC" is what a ball is made of, not what a cream contains
    if _INGREDIENT_ZH.search(p) and not re.search(r"[感性度味色]$", p):
        return "ingredient"
    if _MATERIAL_ZH.search(p):
        return "material"
    if _TECH_ZH.search(p):
        return "tech"
    if _AUDIENCE_ZH.search(p):
        return "audience"
    if re.search(r"(认证|检测|测试|标准|鉴定|质检|报告|证书|体系|认可|许可|备案|评级|[A-Z]级|质保|联保|保修|专利|标识)$", p):
        return "cert"
    return ""


#: Nouns that make a noun phrase of the verb before them (补水力, 持妆效果, 防晒指数, 吸收速度,
#: 充电口): "它能补水力" says nothing. A verb phrase ending in one is no verb phrase.
_ATTR_NOUN_ZH = re.compile(r"(需求|[乳霜液膏露]|力|效果|指数|能力|体验|矩阵|需求|角度|意思|速度|口|程度|时间|方式|效率|搭档|标准|伞|器|机|值|量|度|感|性|型|率)$")
#: One-character verbs that ad copy uses inside words (防晒, 控油): a fact starting with one is a
#: verb phrase without a corpus count.
_VERB_CHARS_ZH = frozenset("防 抗 去 祛 控 减 提 补 锁 护 养 美 亮 淡 紧 修 保 润 清 洁 除 灭 阻 增 促 改 舒 缓 收 遮 定 持 消 令 耐 免 晒 透 贴".split())


#: Shopping events zh copy names ("趁着618…", "双11立减30元"): a deal may open with one, a line names one.
EVENTS_ZH = r"618|双11|双十一|双12|双十二|年货节|女神节|七夕|中秋|国庆|黑五|年终大促"


@lru_cache(maxsize=16384)
def fact_class(point: str, language: Language, group: str = "") -> str:
    """Phrase class of a fact: 'np', 'vp', 'ap' (zh also 'num'); en: 'np_s', 'np_p', 'np_m',
    'vp' (base form), 'vp3' (third person), 'ap'."""
    if language == "en":
        return _fact_class_en(point)
    if group == "offer":
        if re.fullmatch(r"(赠品|赠礼|礼品|好礼|豪礼|大礼包|礼包|小样|中样|赠品\w{0,4})", point):
            return "np"  # a gift named, no verb: "还能赠品" is not Chinese, "还有赠品" is
        if re.search(r"[送赠]$|送给|送[她他你您]|送的|[送赠]多|送(女友|男友|女朋友|男朋友|妈妈|爸爸|老婆|老公|朋友|闺蜜|长辈|孩子|礼|色号)|至高享\d+$|享\d$", point) \
                or head_kind(point) == "product":
            return "x"  # "买就送", "舒达梦享88经典床垫": says that something is given, or names a product, not the deal
        if _ZH_OFFER_VERB_RE.search(point) and not re.match(
                rf"({EVENTS_ZH})?"  # the event a deal is for opens it: "双11立减30元" (not "前五名…")
                r"(买|满|送|赠|领|享|立减|减|下单|加赠|加送|再送|还送|获得|得到|免|返|到手|直降|第二|拍|叠加|立享|低至|全场|限时|抢|包邮|[\d一二三四五六七八九十两])", point):
            return "x"  # "前五名下单立减50%": "现在购买还能前五名…" needs the deal's own verb first
        if re.match(r"(获得|得到|加赠|赠送|再送|还送|送|领取|领)", point):
            return "vp"  # "获得两个同款散粉的迷你版": "现在购买还能获得…", never "还有获得…"
        if re.search(r"[中啦了]$|^[可能]|^送礼", point):
            return "np" if re.search(r"福利|礼", point) else "x"  # "福利放送中", "可折叠": no verb phrase of an offer
        if _ZH_OFFER_VERB_RE.search(point):
            # an offer says what the buyer gets ("买一送一", "满300减50"); "买三套" alone is half of one
            return "vp" if _ZH_OFFER_GAIN_RE.search(point) else "x"
        return "event" if re.fullmatch(r"[0-9.]+|.*(节|大促|活动|狂欢|双十一|双11|双12|年货)", point) else "np"
    if re.fullmatch(r"[A-Za-z][A-Za-z\s\-'’&]*\s[A-Za-z\s\-'’&]+", point.strip()):
        return "x"  # a phrase of English words in Chinese copy ("DIMENSIONAL CUT") is no phrase to say
    if any(ch.isdigit() for ch in point):
        return "num"
    if _FRAGMENT_ZH.search(point):
        return "x"
    import jieba.posseg as pseg

    tokens("", "zh")  # jieba initialised quietly
    parts = [(w.word, w.flag) for w in pseg.lcut(point) if w.word.strip() and not is_punct(w.word)]
    if not parts:
        return "x"
    first, last = parts[0][1], parts[-1][1]
    if len(parts) >= 2 and last in ("l", "i") and len(parts[-1][0]) >= 3:
        last = _tail_pos(parts[-1][0]) or last  # "mac电脑系统" ends in a noun, "安全随身携带" in a verb, whatever jieba's
        #: idiom tag ("l"/"i", which reads as an adjective phrase) says
    if any(w == "的" for w, _ in parts[1:-1]):
        return "np" if parts[-1][1][:1] == "n" else "x"  # "红墙前的风华明艳" is no predicate
    if parts[0][0] == "不" and len(parts) >= 2 and all(f[:1] == "n" or f in ("zg", "ng", "k") for _, f in parts[1:]) \
            and usage_free_noun(point[1:]):
        return "x"  # "不皂化物": 不 before a noun is no Chinese ("而且它不皂化物")
    if parts[0][0] in ("无", "不", "零", "免", "没有", "不会") and len(parts) >= 2:
        return "ap"  # 无钢圈, 不粘腻: says how it is ("它无钢圈"), never after 能/可以
    if parts[0][0] in _EASY_ZH and len(parts) >= 2:
        return "ap"  # 易于吸收, 容易打理: says how it is, never after 能
    if len(parts) >= 2 and (parts[-1][0] in _HEAD_NOUNS_ZH or parts[-1][0] in _NOUN_SUFFIX_ZH
                            or (any(w == "的" for w, _ in parts[1:-1]) and parts[-1][1][:1] == "n")):
        return "np"  # 熬夜修护成分, 显色度, 来自火星的粉棕色: a noun phrase whatever its first word
    if len(parts) >= 2 and _EFFECT_VERBS_ZH.fullmatch(parts[0][0]) and parts[1][1][:1] in ("n", "a", "v") \
            and parts[-1][1][:1] != "v":
        return "vp"  # 淡化细纹, 改善暗沉, 紧致肌肤: an effect verb and what it works on (jieba tags 淡化 a noun and 紧致 an
        # adjective; "而且它改善暗沉", "这款面霜，淡化细纹，很不错" read its object as how the product is)
    if len(parts) == 1:
        if first in ("v", "vd"):
            return "vp"
        if first[0] == "a" and first != "an":
            return "ap"
        if first in ("l", "i"):
            return "ap"
        return "np" if first in _ZH_NOUNISH else "x"
    if last[0] == "a" and last != "an" and first != "p":
        return "ap"  # 吸收快, 配速范围广, 快而安静: a predicate adjective ends it ("它能吸收快" is not Chinese)
    if first in ("v", "vd", "p") and last not in ("uj",):
        return "vp"
    if (first[0] == "d" or first == "ad") and last[:1] == "v" and len(parts) >= 3:
        return "vp"  # "横竖屏切换": what it does ("它可以横竖屏切换"), not how it looks ("外观上，它横竖屏切换")
    if first[0] == "d" or first == "ad":
        return "ap"
    if last in _ZH_NOUNISH:
        return "np"
    if last[0] == "a" or last in ("l", "i"):
        return "ap"
    return "x"  # e.g. noun + verb ("王者配置"): no slot is sure to take it


def _adjective_like(word: str, usage) -> bool:
    """Whether a zh word says how something is: jieba tags it an adjective, or ad copy uses it mostly
    after 很/非常 (水润, which jieba tags a noun)."""
    if zh_pos(word)[:1] == "a" and zh_pos(word) != "an":
        return True
    u = usage(word)
    n = sum(u.values())
    return n >= 2 and u.get("ap", 0) >= 0.5 * n


def usage_free_noun(word: str) -> bool:
    """Whether a zh noun after 不 is a plain noun (皂化物), not one of the adjective-like nouns copy
    negates (不油腻, 不粘手, 不刺激 are said; jieba tags some of them n)."""
    return not re.search(r"[腻粘黏油闷燥涩刺痒掉脱晕卡飞沾]", word)


@lru_cache(maxsize=4096)
def _tail_pos(word: str) -> str:
    """POS of the longest proper sub-word that ends ``word`` (jieba's search-mode cut): 电脑系统 →
    系统 → "n", 随身携带 → 携带 → "v"; "" when no sub-word ends it."""
    import jieba

    tokens("", "zh")
    tails = [w for w in jieba.cut_for_search(word) if w != word and word.endswith(w)]
    if not tails:
        return ""
    tag = zh_pos(max(tails, key=len))
    return "" if tag == "x" else tag


_EN_BASE_VERBS = frozenset("""tear pour buy get enjoy keep wear carry use try add mix stir brew shake apply wash rinse dry fold pack zip
open close take make grab order save slip pull put fill stretch run hike train work sip drink heat serve clip attach adjust
charge plug wipe spray store hang set turn press choose pick stay feel look""".split())
_EN_VERBS_3 = frozenset("""wake dry fit hold last resist protect support help wick block reduce remove soothe boost lock seal
clean absorb repel cool warm run stay keep even smooth""".split())
_EN_ADJ_HEADS = frozenset("""ready safe free perfect ideal great good easy soft light lightweight warm cool dry durable comfortable
quick fast smooth gentle strong sturdy portable compact waterproof breathable washable reusable""".split())


def _fact_class_en(point: str) -> str:
    words = re.findall(r"[A-Za-z0-9$%][A-Za-z0-9'’\-.$%]*", point.lower())
    if not words:
        return "x"
    w0 = words[0]
    if w0 in _EN_BASE_VERBS and len(words) >= 2:
        return "vp"
    if (w0.endswith("s") and not w0.endswith("ss") and len(words) >= 2
            and (w0[:-1] in _EN_BASE_VERBS | _EN_VERBS_3 or w0.endswith(("ens", "izes", "ises", "ifies", "ates")))):
        return "vp3"
    if w0.endswith("es") and w0[:-2] in {"wash", "match", "fix"} and len(words) >= 2:
        return "vp3"
    if w0 in _EN_ADJ_HEADS and (len(words) == 1 or words[1] in ("in", "for", "to", "of", "from", "with", "and")):
        return "ap"
    from tools.narrate.guard import EN_MASS_NOUNS

    while len(words) > 2 and words[-1] in ("week", "weekend", "month", "today", "now", "only") and words[-2] in ("this", "today", "for", "now", "only"):
        words = words[:-2]  # "free shipping this week": the head is "shipping", not "week"
    while len(words) > 1 and words[-1] in ("today", "now", "only"):
        words = words[:-1]
    head = words[-1]
    if any(ch.isdigit() for ch in point) or head in EN_MASS_NOUNS or head.endswith(("ing", "ness", "ity", "tion")) \
            or (len(words) >= 2 and words[-2] == "vitamin"):  # "vitamin E", not "a vitamin E"
        return "np_m"
    if head.endswith("s") and not head.endswith(("ss", "us", "is")):
        return "np_p"
    return "np_s"


@dataclass(frozen=True)
class Fact:
    """One fact of the target product, typed."""

    aspect: str
    point: str
    group: str
    cls: str
    salience: float
    sure: bool = True  # the class is certain (usage seen in copy, or a clear phrase structure)


_SHOPPING_RE = re.compile(r"抽奖|点击|链接|直播间|购|赠|下单|优惠|价|抢|包邮|折|领券|福利|享(?=[\d一二三四五六七八九十两]|折|优惠|价|福利|好礼)|红包|券|立减|满减|积分|兑|好礼|\bbuy\b|\bfree shipping\b|\boff\b|\bdeal\b", re.I)
_EN_MATERIAL_RE = re.compile(r"\b(nylon|cotton|polyester|spandex|elastane|lycra|leather|mesh|wool|merino|fleece|foam|rubber|steel|"
                             r"aluminium|aluminum|silk|denim|canvas|linen|cashmere|bamboo|down|beans?|fabric|organic)\b", re.I)


#: zh words before a word that show how ad copy uses it: as a verb (能 保湿), as an adjective
#: (很 清爽), as a noun (含有 玻尿酸) or as something to avoid (无 刺激, 告别 干燥).
_USAGE_MARKERS: dict[str, frozenset[str]] = {
    "vp": frozenset("能 可以 能够 帮 帮助 帮你 有效 轻松 快速 还能 就能 来 持续 深层 深入 温和 帮忙".split()),
    "ap": frozenset("很 非常 超 特别 超级 更 更加 十分 太 挺 真的 多么 如此 这么".split()),  # not 好: 好吸收 is a verb made easy
    "np": frozenset("含有 采用 添加 富含 蕴含 选用 拥有 加入 搭配".split()),
    "neg": frozenset("不 无 没有 不会 告别 怕 避免 解决 远离 拒绝 不用 担心 不怕 防止 减少 改善 淡化 去除 抑制".split()),
}


def usage_counts(lines: Iterable[tuple[str, Sequence[str]]]) -> dict[str, dict[str, dict[str, int]]]:
    """For every word of the corpus: per product, how often it follows each kind of marker
    (:data:`_USAGE_MARKERS`). ``lines``: (product, tokens) pairs."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for prod, toks in lines:
        for a, b in zip(toks, toks[1:]):
            if len(b) < 2 or is_punct(b):
                continue
            for cls, marks in _USAGE_MARKERS.items():
                if a in marks:
                    d = out.setdefault(b, {}).setdefault(prod, {})
                    d[cls] = d.get(cls, 0) + 1
    return out


def usage_of(word: str, counts: dict[str, dict[str, dict[str, int]]], exclude: set[str]) -> dict[str, int]:
    """How the corpus (without ``exclude``'s copy) uses ``word`` (see :func:`usage_counts`)."""
    tot: dict[str, int] = {}
    for prod, d in counts.get(word, {}).items():
        if prod in exclude:
            continue
        for k, v in d.items():
            tot[k] = tot.get(k, 0) + v
    return tot


def typed_facts(facts: Iterable[tuple[str, str, float]], language: Language,
                pain_words: frozenset[str] = frozenset(), usage=None) -> list[Fact]:
    """(aspect, point, salience) triples as typed :class:`Fact` s (related-product facts dropped).

    Sellers file facts loosely; a fact is re-grouped by what it says: a shopping phrase (加赠,
    抢购) is an offer whatever its aspect, a one-word fact that sellers list as a pain point
    elsewhere (``pain_words``: 干燥, 细纹, 暗沉) is a pain point, an English feature made of a
    material (durable nylon construction) is a material. ``usage(word)`` (zh, :func:`usage_of`)
    says how ad copy uses a one-word fact: mostly after 不/无/告别 it is something to avoid (a
    pain point: 刺激, 黏腻), otherwise its commonest use gives its class (很 服帖: an adjective,
    not the noun jieba tags it)."""
    out = []
    for a, p, s in facts:
        g = aspect_group(a)
        if g == "related":
            continue
        if language == "zh" and len(p) > 6:
            p = re.sub(r"(，|,)?(肉眼可见|看得见|效果显著)$", "", p)  # "改善表面问题肉眼可见": the claim, without its boast
        cls = None
        sure = language == "en" or len(tokens(p, language)) >= 2
        if language == "zh" and (p in _GENERIC_WORDS_ZH() or (len(p) <= 2 and is_punct(p))):
            continue
        if language == "zh" and g not in ("offer", "service") and (_FRAGMENT_ZH.search(p) or _JUNK_ZH.search(p)
                                                                 or p in _TRANSITIVE_ZH):
            continue  # a question, a time clause or a listing's field ("无服装版型信息") is no phrase to say  # 使用, 效果, 产品: a word any product could say is not a fact of this one
        if language == "zh" and re.search(r"默认(无|不|没有)", p):
            continue  # "店铺订单默认无礼袋" (seed 313): a shop's disclaimer is no selling point
        if g not in ("offer", "service") and _SHOPPING_RE.search(p):
            g = "offer"
        if g == "offer" and language == "zh" and re.fullmatch(r"[0-9一二三四五六七八九.至到~-]+折起?", p):
            p = "享" + p  # "现在购买还能1至4折起" lacks its verb (seed 271): a discount is had, 享1至4折起
        elif g in ("benefit", "texture", "look") and (p in pain_words or (language == "zh" and _states_a_problem(p))):
            g = "pain"
        elif language == "zh" and g == "texture" and _COLOUR_ZH.search(p):
            g, cls = "look", "x" if fact_class(p, language, "look") == "ap" else None
            # "低饱和", "显色度高": a colour is seen, not felt ("用起来低饱和" is no sentence), and said as
            # a colour's name only ("外观上，它低饱和" is not Chinese either)
        elif language == "en" and g == "benefit" and _EN_MATERIAL_RE.search(p):
            g = "material"
        elif language == "en" and g == "material" and (re.match(r"(notes|hints|aromas?|flavou?rs?|tastes?) of\b", p.lower())
                                                           or re.search(r"\b(light|medium|dark) roast\b", p.lower())):
            g = "texture"  # a taste filed as a material: nothing is "made from notes of nuts and caramel" or "from a medium roast"
        elif language == "zh" and usage is not None and g not in ("offer", "pain") and len(tokens(p, "zh")) == 1:
            u = usage(p)
            n = sum(u.values())
            if n >= 2:
                if u.get("neg", 0) >= 0.5 * n:
                    g = "pain"
                else:
                    # a tie goes to jieba's reading: 温和 (ap 5, vp 5) is how it is, not what it does ("不仅能温和")
                    tag = "ap" if zh_pos(p)[:1] == "a" else "vp" if zh_pos(p)[:1] == "v" else "np"
                    best = max(("vp", "ap", "np"), key=lambda k: (u.get(k, 0), k == tag))
                    if u.get(best, 0) >= 0.5 * n:
                        cls, sure = best, True
                        if best == "vp" and zh_pos(p) not in ("v", "vd") and p[0] not in _VERB_CHARS_ZH and u["vp"] < 3:
                            sure = False  # 自由, 自动, 智能: "能自由调节" makes no verb of 自由
        cls = cls or fact_class(p, language, g)
        if language == "zh" and usage is not None and cls == "vp" and g != "offer" and sure:
            # a verb phrase is sure when ad copy uses its verb after 能/可以/帮助 (修护, 滋养, 减少);
            # jieba tags 来自, 犹如, 初恋 as verbs too, and "它能来自火星的粉棕色" is no sentence
            toks = words_zh(p)
            first = toks[0]
            if (usage(first).get("vp", 0) == 0 and not (len(first) == 1 and first in _VERB_CHARS_ZH)) \
                    or (len(toks) == 1 and usage(first).get("ap", 0) > usage(first).get("vp", 0)):
                sure = False  # 自动, 智能, 向右, 温和: jieba's verbs that copy never puts after 能
            if re.search(r"没有|不是|没", p):
                cls = "x"  # "改善肌肤没有明显改变" reports, it does not promise
            elif (len(toks) == 2 and _ATTR_NOUN_ZH.search(p) and zh_pos(toks[-1])[:1] == "n") or p.endswith("需求"):
                cls = "np"  # 补水力, 持妆效果, 吸收速度: a noun phrase ("它能补水力" is not Chinese)
        if language == "zh" and usage is not None and cls.startswith("np") and g not in ("offer", "pain"):
            toks = words_zh(p)
            if 2 <= len(toks) <= 3 and all(_adjective_like(t, usage) for t in toks):
                cls = "ap"  # "轻薄水润" (jieba: 轻薄/a 水润/n, copy says "很水润"): how it feels, not a thing
                # ("轻薄水润，这一点真的很加分" is no sentence; "它轻薄水润" is)
        if language == "zh" and cls in ("vp", "ap") and re.search(r"有.{0,3}效果|效果(明显|显著)", p):
            cls = "x"  # "保湿有明显效果" is a clause of its own ("另外，它还能保湿有明显效果")
        if language == "zh" and cls == "vp" and re.search(r"(达标|合格|达到标准)$", p):
            cls = "ap"  # "防螨达标" says how it is: "它防螨达标", never "它可以防螨达标"
        if language == "zh" and cls == "ap" and p.startswith("无") and len(p) >= 3 and zh_pos(p[1:]) in ("a", "v", "ad", "vd"):
            p = "不" + p[1:]  # "它无刺眼" is not Chinese; "它不刺眼" is
        if language == "zh" and cls == "ap" and len(p) >= 3 and zh_pos(p[0]) in ("n", "ng") and zh_pos(p[1:]) in ("a", "v", "ad"):
            cls = "x"  # "水舒缓": a one-character noun glued to an adjective reads as a typo
        if language == "zh" and cls == "ap":
            toks = words_zh(p)
            if re.match(r"(肌肤|皮肤|屏障|肌|头发|发丝|发质|头皮|脸|毛孔|唇|眼周|身体|水油|油脂|皮脂|牙龈|牙齿|口腔|手部|双手|脚)", p) \
                    or head_kind(p) == "product" \
                    or sum(zh_pos(t)[:1] == "n" for t in toks[:-1]) >= 2:
                cls = "x"  # the skin, not the product, is what 强韧 / 水分充足 says; "三合一…素颜霜" names a product
        if language == "zh" and cls == "ap" and re.match(r"(感到|感觉|让|使|令)", p):
            cls = "x"  # "感到肌肤柔嫩": someone's feeling, not how the product is ("这款…，感到肌肤柔嫩")
        if language == "zh" and cls == "ap" and re.search(r"是", p):
            cls = "x"  # "客户说好才是真的好": a slogan, not how the product is ("它客户说好才是真的好")
        if language == "zh" and cls == "ap" and g != "offer" and not re.match(r"[无不零免没易]|便于|容易", p) and not re.search(r"[不无没]", p):
            toks = words_zh(p)
            last = toks[-1] if toks else ""
            if (zh_pos(last)[:1] in ("n", "e") or (zh_pos(last) == "x" and re.fullmatch(r"[\u4e00-\u9fff]{2,}", last))) \
                    and (usage is None or usage(last).get("ap", 0) == 0):
                cls = "np"  # 自然妆效, 高定礼盒, 暗金色logo: a noun ends it ("而且它高定礼盒")
        # an offer's class comes from its words (送/减/享: a verb phrase), not from jieba: it is sure
        out.append(Fact(a, p, g, cls, s, sure or g == "offer"))
    if language == "zh":
        # a seller's list may hold an ingredient and pieces of it ("甲氧基肉桂酸乙基己酯", "乙基己酯"):
        # the piece is no ingredient of its own, only the whole is said
        ings = [f.point for f in out if head_kind(f.point) == "ingredient"]
        out = [f for f in out if not (head_kind(f.point) == "ingredient"
                                      and any(f.point != o and f.point in o and not o.startswith(f.point) for o in ings))]
    return out


#: zh words of colour: a fact holding one is a look, whatever aspect the seller filed it under.
_COLOUR_ZH = re.compile(r"饱和|色调|色系|配色|显色|色号|[红橙黄绿青蓝紫粉棕灰黑白金银]色|色$")


#: zh words naming a problem (a seller files "粗糙现象", "内衣痕迹", "声音偏大" under effects or
#: looks): a fact holding one and no remedy word is a pain point, never praised as an effect.
_PROBLEM_ZH = re.compile(r"痕迹|粗糙|干燥|干枯|毛躁|暗沉|暗黄|细纹|皱纹|黑头|粉刺|痘痘|闭口|出油|油腻|油光|偏大|偏硬|偏小|困扰|烦恼|"
                         r"问题|敏感|脱妆|卡粉|起皮|闷热|异味|噪音|松弛|下垂|色斑|斑点|毛孔粗大|脱发|掉发|头屑|瘙痒|过敏|"
                         r"疲劳|酸痛|勒|磨脚|臭|发黄|起球|褪色|变形|漏|塌|过大|过度|过重|过猛")
_REMEDY_ZH = re.compile(r"改善|减少|减轻|淡化|去|祛|防|抗|告别|不|无|修护|修复|解决|控|净|清|抑|舒缓|缓解|远离|拒绝|少|零|避免|对抗|击退|"
                        r"消|除|赶走|摆脱|匀|亮|提|紧致|收")


#: A problem said to be gone ("透气不闷热", "无油腻感", "告别干燥"): a benefit, never "你是否也有…的烦恼".
_PROBLEM_SOLVED_ZH = re.compile(r"(不|无|零|告别|防|抗|远离|拒绝|没有)(" + _PROBLEM_ZH.pattern + ")|无忧|不怕|不用怕|远离|告别")


#: A defect said outright ("保湿不足", "易生锈不耐用"): a problem even though it holds 不.
_DEFECT_ZH = re.compile(r"不足$|不够$|不耐用|不结实|不牢固|不透气|缺乏|缺少|(?<![不无防抗免])(?<![不无防抗免]易)(生锈|碎裂|易碎|易坏|断裂)")


def _states_a_problem(point: str) -> bool:
    return (bool(_PROBLEM_ZH.search(point)) and not _REMEDY_ZH.search(point)) or bool(_DEFECT_ZH.search(point))


@lru_cache(maxsize=1)
def _GENERIC_WORDS_ZH() -> frozenset[str]:
    from tools.narrate.grounding import GENERIC_AD_WORDS

    return GENERIC_AD_WORDS["zh"]


# --------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class Slot:
    """A typed hole in a frame: the product name, or a fact of a group and phrase class."""

    kind: str  # "name" | "fact"
    group: str = ""
    cls: str = ""
    article: bool = False  # en templates: put a/an before a singular count noun phrase
    src: str = ""  # the source phrase it replaced (corpus frames)


@dataclass
class Frame:
    """A sentence (or a short run of sentences) with slots; see the module docstring."""

    uid: str
    product: str  # source product ("" for templates)
    label: str | None
    parts: tuple[str | Slot, ...]
    needs: frozenset[str]  # content words this product must support
    rel_pos: float | None = None
    lang: Language = "zh"
    literal_len: int = 0
    n_fact_slots: int = 0
    has_name: bool = False
    template: bool = False
    sentences: int = 1

    def __post_init__(self) -> None:
        lit = "".join(p for p in self.parts if isinstance(p, str))
        self.literal_len = count_words(lit, self.lang) if self.lang == "zh" else len(lit.split())
        self.n_fact_slots = sum(isinstance(p, Slot) and p.kind == "fact" for p in self.parts)
        self.has_name = any(isinstance(p, Slot) and p.kind == "name" for p in self.parts)


_SENT_RE = re.compile(r"[^。！？!?~…]+[。！？!?~…]+|[^。！？!?~…]+$")
_SLOT_RE = re.compile(r"\{(name|fact:[a-z_]+:[a-z0-9_]+\*?)\}")


def parse_template(uid: str, text: str, label: str | None, language: Language) -> Frame:
    """A hand-written template with ``{name}`` / ``{fact:<group>:<class>}`` slots as a frame.

    Class ``np*`` (en) takes any noun phrase and puts a/an before a singular count one."""
    parts: list[str | Slot] = []
    pos = 0
    for m in _SLOT_RE.finditer(text):
        if m.start() > pos:
            parts.append(text[pos:m.start()])
        spec = m.group(1)
        if spec == "name":
            parts.append(Slot("name"))
        else:
            _, group, cls = spec.split(":")
            cls = cls.rstrip("*") if cls != "*" else ""
            parts.append(Slot("fact", group, "" if cls == "any" else cls, article=spec.endswith("*")))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return Frame(uid=uid, product="", label=label, parts=tuple(parts), needs=frozenset(), lang=language, template=True,
                 sentences=max(1, len(_SENT_RE.findall(re.sub(_SLOT_RE, "X", text)))))


#: zh verbs whose object is a noun phrase: a fact slot after them holds a noun phrase.
_TAKES_NP_ZH = frozenset("打造 采用 选用 含有 添加 拥有 搭配 带来 提供 加入 蕴含 富含 甄选 精选 内含 配有 配备 自带 增加".split())


def _bound(tok: str) -> bool:
    """A one-character content morpheme that forms a word with what stands next to it (力 in 遮瑕力)."""
    if len(tok) != 1 or is_punct(tok) or ALNUM_RE.match(tok):
        return False
    return zh_pos(tok) not in ("v", "p", "u", "uj", "ul", "c", "d", "r", "y", "m", "q", "f", "e", "o", "zg", "vd")


def _generic_grounder(language: Language) -> Grounder:
    return Grounder(ProductInfo(name="_", language=language), language)


def _spans_aligned(text: str, start: int, end: int, bounds: set[int]) -> bool:
    return start in bounds and end in bounds


def _find(text: str, phrase: str, language: Language) -> list[int]:
    if language == "en":
        return [m.start() for m in re.finditer(r"(?<![A-Za-z0-9])" + re.escape(phrase) + r"(?![A-Za-z0-9])", text, re.I)]
    out, i = [], text.find(phrase)
    while i >= 0:
        out.append(i)
        i = text.find(phrase, i + 1)
    return out


def frames_from_line(uid: str, product_name: str, points: Sequence[tuple[str, str]], label: str | None, text: str,
                     rel_pos: float | None, language: Language, generic: Grounder, name_words: set[str]) -> list[Frame]:
    """Frames of one corpus line: the whole line and, when it has several, each of its sentences."""
    text = re.sub(r"\s+", "" if language == "zh" else " ", text).strip()
    if not text:
        return []
    sents = [s.strip() for s in _SENT_RE.findall(text) if s.strip()]
    pieces = [text] + (sents if len(sents) > 1 else [])
    out = []
    for k, piece in enumerate(pieces):
        if piece[-1] not in "。！？!?~….":
            if piece[-1] in "，,、；;：:":
                continue  # the narration stops mid-sentence (it goes on over the next clip)
            piece += "。" if language == "zh" else "."
        f = _frame(f"{uid}/{k}", product_name, points, label, piece, rel_pos, language, generic, name_words)
        if f is not None:
            f.sentences = 1 if k else len(sents)
            out.append(f)
    return out


def _frame(uid: str, product_name: str, points: Sequence[tuple[str, str]], label: str | None, text: str,
           rel_pos: float | None, language: Language, generic: Grounder, name_words: set[str]) -> Frame | None:
    toks = tokens(text, language)
    # token boundaries (character offsets) of the whole sentence: a fact is a slot only when it
    # is a whole run of words here ("清新" inside "清新自然" is not the fact 清新)
    bounds, pos = {0}, 0
    if language == "zh":
        for t in toks:
            pos += len(t)
            bounds.add(pos)
    else:
        for m in re.finditer(r"[A-Za-z0-9][A-Za-z0-9'’\-]*|[^\sA-Za-z0-9]", text):
            bounds.add(m.start())
            bounds.add(m.end())
    tok_at_end: dict[int, str] = {}
    tok_at_start: dict[int, str] = {}
    if language == "zh":
        pos = 0
        for t in toks:
            tok_at_start[pos] = t
            pos += len(t)
            tok_at_end[pos] = t
    spans: list[tuple[int, int, Slot]] = []
    taken = [False] * len(text)
    for aspect, pt in sorted(points, key=lambda ap: -len(ap[1])):
        if len(pt) < 2 or (language == "zh" and not generic.ungrounded(pt)):
            continue  # a fact stated in generic words (性价比) stays as it is
        group = aspect_group(aspect)
        for s in _find(text, pt, language):
            e = s + len(pt)
            if any(taken[s:e]) or not _spans_aligned(text, s, e, bounds):
                continue
            if group == "related":
                return None  # the line talks about another product
            cls = fact_class(pt, language, group)
            if language == "zh":
                before, after = tok_at_end.get(s, ""), tok_at_start.get(e, "")
                if _bound(before) or _bound(after):
                    return None  # the fact is glued to a morpheme ("遮瑕力"): no other fact fits there
                if before in _TAKES_NP_ZH and group != "offer":
                    cls = "np"  # 采用/含有/打造 … take a noun phrase whatever the source said
                if before in ("打造", "塑造", "营造", "成就") and group != "offer":
                    cls = "res"  # what it makes is a result (打造自然妆感), never a part ("打造弹簧系统")
            spans.append((s, e, Slot("fact", group, cls, src=pt)))
            for i in range(s, e):
                taken[i] = True
    # name: maximal runs of the source name's words (not generic ones) outside fact spans
    off = 0
    run: list[tuple[int, int]] = []
    tok_offsets = []
    for t in (toks if language == "zh" else re.findall(r"\S+|\s+", text)):
        tok_offsets.append((off, off + len(t), t))
        off += len(t)
    i = 0
    while i < len(tok_offsets):
        s, e, t = tok_offsets[i]
        key = t.lower().strip(".,!?;:'’\"") if language == "en" else t
        if not any(taken[s:e]) and key in name_words:
            j, end = i, e
            while j + 1 < len(tok_offsets):
                s2, e2, t2 = tok_offsets[j + 1]
                k2 = t2.lower().strip(".,!?;:'’\"") if language == "en" else t2
                if any(taken[s2:e2]) or not (k2 in name_words or (language == "en" and not t2.strip())):
                    break
                j, end = j + 1, e2
            if language == "en":
                while end > s and text[end - 1] in " .,!?;:":
                    end -= 1
            run.append((s, end))
            i = j + 1
        else:
            i += 1
    for s, e in run:
        phrase = text[s:e]
        if language == "zh" and zh_pos(phrase) not in ("n", "nz", "nr", "nt", "ns", "x", "eng", "l") and len(tokens(phrase, "zh")) == 1 \
                and zh_pos(phrase)[0] in "av":
            continue  # a descriptive word of the name (滋润 in "…滋润霜") is a claim, not a name
        if language == "zh" and s > 0 and re.match(r"[\u4e00-\u9fff]", text[s - 1]) and (text[s - 1] + phrase[:1]) in product_name:
            return None  # "为大家介绍花<西子…>" of 花西子: the slot would start inside the source's brand
        spans.append((s, e, Slot("name", src=phrase)))
        for k in range(s, e):
            taken[k] = True
    spans.sort()
    parts: list[str | Slot] = []
    pos = 0
    for s, e, slot in spans:
        if s > pos:
            parts.append(text[pos:s])
        elif parts and isinstance(parts[-1], Slot):
            return None  # two slots with nothing between them ("<N><F>") do not come apart cleanly
        parts.append(slot)
        pos = e
    if pos < len(text):
        parts.append(text[pos:])
    literal = "".join(p if isinstance(p, str) else " " for p in parts)
    if language == "zh":
        content = re.sub(r"[\W_]", "", literal)
        if len(content) < 2:
            return None
    elif len(re.findall(r"[A-Za-z]+", literal)) < 2:
        return None
    if sum(isinstance(p, Slot) and p.kind == "name" for p in parts) > 2:
        return None
    # two name slots a word apart ("<N>红<N>", "<N>是<N>质地") are one name the source spelt in
    # pieces: no fill makes them read right
    for k in range(len(parts) - 2):
        a, gap, b = parts[k], parts[k + 1], parts[k + 2]
        if isinstance(a, Slot) and isinstance(b, Slot) and a.kind == b.kind == "name" and isinstance(gap, str) \
                and not re.search(r"[，。！？、,.!?]", gap):
            return None  # ("这款<N>堂的弹嫩<N>" of "这款自然堂的弹嫩水乳套装": the name said twice in one clause)
    needs: set[str] = set()
    for p in parts:
        if isinstance(p, str):
            for t in tokens(p, language):
                if not generic.grounded(t):
                    needs.add(t)
    return Frame(uid=uid, product=product_name, label=label, parts=tuple(parts), needs=frozenset(needs), rel_pos=rel_pos,
                 lang=language)


def name_words(name: str, language: Language, generic: Grounder) -> set[str]:
    """The words of a product name that name it (not generic ones such as 宝藏 or 'new')."""
    from tools.narrate.naming import clean_name

    out = set()
    for t in tokens(clean_name(name), language):
        if is_punct(t):
            continue
        if language == "zh":
            # jieba tags some brands as adverbs (大自然/d): only true function words are left out
            if (len(t) >= 2 or ALNUM_RE.search(t)) and not (t in generic.generic or zh_pos(t) in ("c", "u", "p", "r")):
                out.add(t)
        else:
            w = t.lower()
            if w not in EN_FUNCTION_WORDS and w not in generic.generic:
                out.add(w)
    return out


# --------------------------------------------------------------------------- filling


@dataclass
class Filled:
    """A frame with its slots filled: the text, the facts it states, the name mentions, the checks."""

    frame: Frame
    text: str
    facts: tuple[str, ...]
    names: int
    fills: tuple[tuple[str, str], ...]  # (slot class, fill class) for the grammar guard
    length: int = 0
    extra: dict = field(default_factory=dict)


#: Source-product similarity (character n-gram TF-IDF cosine) from which a corpus slot takes any
#: fact of its type; below it the fact must share a character with the source phrase. 0.12 is
#: about the 95th percentile of product pairs on dev.json, where products of one kind (two
#: toothbrushes, two foundations) meet; tuned on dev.json by reading lines.
FILL_SIM = 0.12


def _related(src: str, fact: str, language: Language) -> bool:
    if language == "zh":
        return bool(set(src) & set(fact) - set("的了是和与不很也都一有"))
    a = {w for w in re.findall(r"[a-z]+", src.lower()) if w not in EN_FUNCTION_WORDS}
    return bool(a & {w for w in re.findall(r"[a-z]+", fact.lower()) if w not in EN_FUNCTION_WORDS})


def _article(np_: str) -> str:
    """``a``/``an`` before a singular noun phrase; none before a plural head ("notes of nuts and
    caramel": the head is the word before "of") or a number ("two side pockets")."""
    w = np_.strip().lower()
    head = (w.split(" of ")[0].split() or [""])[-1] if " of " in w else (w.split() or [""])[-1]
    if re.match(r"\d|(two|three|four|five|six|some|many|more|all|both)\b", w) or (
            head.endswith("s") and not head.endswith(("ss", "us", "is"))):
        return np_
    vowel = bool(re.match(r"[aeio]|u(?![nr]i|s[eu]|ti)|8|11|18", w)) and not w.startswith(("one", "uni", "use", "eu"))
    return ("an " if vowel else "a ") + np_


def _one_word(point: str, language: Language) -> bool:
    """A fact short enough to follow a degree adverb ("很{清爽}", "{柔软}又{细腻}"): one word of at
    most four characters (zh), or one or two words (en)."""
    if language == "zh":
        return len(point) <= 4 and len(words_zh(point)) == 1
    return len(point.split()) <= 2


def _group_fits(slot_group: str, f: Fact) -> bool:
    """Whether a fact of ``f.group`` may fill a slot of ``slot_group``: its own group, or a noun
    phrase filed under texture where a material is asked for (sellers list beans and fabrics under
    质地: "质地：云南小粒咖啡豆、中度烘焙")."""
    return f.group == slot_group or (slot_group == "material" and f.group == "texture" and f.cls.startswith("np")
                                     and not _NOT_INGREDIENT_ZH.search(f.point))  # not a flavour ("坚果与焦糖香")


def _pronoun_fits(prev: str, parts: Sequence[str | Slot], slot: Slot) -> bool:
    """Whether 它 may stand for the product's name here: as the subject at the start of a clause,
    followed by words ("它能…", "，它还…"), never inside a noun phrase ("一套它", "其他它") or
    alone before a comma ("它，胶原储备库，…")."""
    i = next(i for i, q in enumerate(parts) if q is slot)
    nxt = parts[i + 1] if i + 1 < len(parts) else ""
    nxt_s = nxt if isinstance(nxt, str) else "x"
    at_start = not prev.strip() or prev.rstrip()[-1] in "，。！？；：、,.!?;:~…" or prev.endswith(("而且", "所以", "因为", "但是", "其实"))
    return at_start and bool(nxt_s) and nxt_s[0] not in "，。！？；：、,.!?;:~…"


def _shares_word(a: str, b: str) -> bool:
    """Whether two fact phrases share a character bigram ("柔软" and "触感柔软细腻"): said together
    in one sentence they repeat themselves."""
    a2 = {a[i:i + 2] for i in range(len(a) - 1)}
    return bool(a2 & {b[i:i + 2] for i in range(len(b) - 1)})


#: Effect verbs that open a zh phrase whatever jieba tags them (软化 is tagged a noun).
_EFFECT_VERBS_ZH = re.compile(r"软化|淡化|修护|修复|改善|抑制|促进|减少|提升|增强|保护|舒缓|平衡|调理|补充|去除|清除|防止|抵御|提亮|"
                              r"滋养|滋润|紧致|收缩|疏通|对抗|阻隔|维稳|锁住|深入")


def starts_with_verb(point: str) -> bool:
    """"软化角质蛋白", "萃取天然植物成分", "配合特殊柔性网EX技术": a verb phrase, not an ingredient, a
    material or a technique ("采用配合…" stacks two verbs)."""
    toks = words_zh(point)
    if re.match(r"(配合|采用|使用|运用|搭配|结合|通过|利用|加入|添加|含有)", point):
        return True
    if len(toks) >= 2 and _EFFECT_VERBS_ZH.fullmatch(toks[0]):
        return True  # "软化角质蛋白": jieba tags 软化 a noun; it does something to the keratin
    if toks and toks[0] in ("加厚", "加固", "加宽", "加大", "加长", "加密", "加绒", "升级"):
        return False  # "加厚防爆PVC": jieba's verb, but here it says what kind of material
    return len(toks) >= 2 and zh_pos(toks[0]) == "v" and head_kind(point) != "tech"


def _names_a_result(point: str) -> bool:
    """What 打造 may make: a noun, not a verb phrase or an ability ("打造造型能力", "打造舒敏强韧护肤",
    "打造消闭口")."""
    toks = words_zh(point)
    return bool(toks) and zh_pos(toks[-1])[:1] == "n" and zh_pos(toks[-1]) != "vn" and not re.search(r"能力|护肤|护理|[力性度]$", point) \
        and not any(zh_pos(t) == "v" or zh_pos(t)[:1] == "d" for t in toks) and not (len(toks[0]) == 1 and toks[0] in _VERB_CHARS_ZH) \
        and not re.search(r"高度|程度|PA|SPF|加号|\+", point) and head_kind(point) != "product" \
        and bool(_RESULT_HEAD_ZH.search(point))
    # "打造毛戈平高光粉膏" makes the product, "打造PA三个加号" a rating


#: What "品质经得起考验" may follow (它{…}，品质经得起考验): how it lasts or holds, not how it feels
#: ("它清爽", "它显白" said with 品质 read as non sequiturs to raters, seeds 199–227); how it feels
#: takes "…，真的很不错" (slot class "apf").
#: Groups a seller reassures ("敏感肌也能放心使用"): a skin type or a sensitive group of people.
_SAFE_FOR_ZH = re.compile(r"(敏感|干|油|混油|混干|混合|中性|痘|孕|所有|各种|任何|全)(性)?(肌|皮|肤质|肤)|敏感肌|孕妇|哺乳|宝宝|婴|儿童|"
                          r"孩子|老人|男士|女士|学生|新手|素颜|油痘|问题肌")
_LASTING_ZH = re.compile(r"耐|稳|牢|结实|坚固|抗摔|防摔|防水|防尘|不变形|不易|静音|不噪|持久|密封|回弹|扎实|厚实|精细|做工|质量|品质|安全|精准")
#: Effect verbs that take an object: alone in a verb slot they dangle ("用了之后，可以舒缓", "它还能清洁").
#: A colour's name ("原木黄", "雾霾蓝", "奶油白"): not 显白/美白/亮白, which say what it does.
_COLOUR_NAME_ZH = re.compile(r"(?<![显美亮洁提增])[红橙黄绿青蓝紫粉棕灰黑白金银]$|[^特出本角]色$")
#: A user's manner of doing something ("安心护肤", "放心使用"): the product does not do it ("它能安心护肤").
_USER_MANNER_ZH = re.compile(r"安心|放心|随心|尽情|大胆")
#: How skin looks after use ("白皙透亮", "红润有光泽"): the skin's state, never the product's ("而且它白皙透亮").
_SKIN_STATE_ZH = re.compile(r"白皙|透亮|红润|白嫩|嫩白|水嫩|亮白|嫩滑|白里透红")
#: What makes an English product last ("Built to last, with {F}"): a tough material, a reinforced part, a guarantee.
_LASTING_EN = re.compile(r"\b(durable|durability|reinforced|sturdy|tough|rugged|heavy[- ]duty|water[- ]?(proof|resistant|repellent)|"
                         r"abrasion|rip-?stop|tear|scratch|shock|impact|stitch(ed|ing)?|steel|alumin(i)?um|metal|leather|nylon|canvas|"
                         r"polyester|solid|hardwood|oak|walnut|warranty|guarantee|long[- ]lasting|lasting|hard[- ]wearing|wear[- ]resistant|"
                         r"rust|corrosion|weather|uv|fade|robust|welded|forged)\b", re.IGNORECASE)
_BARE_TRANSITIVE_ZH = frozenset("舒缓 清洁 修护 修复 保护 改善 提升 减少 缓解 预防 抵御 去除 淡化 呵护 调节 促进 增强 防止 抑制 对抗 帮助 解决".split())


#: What copy says 打造 makes: a look, a skin, a style, an experience, a space ("打造精致妆容",
#: "打造奶油肌", "打造温和净澈洁齿体验"); not "打造机械轴体", "打造泪沟型眼袋", "打造人体曲线".
_RESULT_HEAD_ZH = re.compile(r"(妆|妆容|妆感|妆效|肌|肤|肤色|气色|造型|发型|卷度|体验|氛围|氛围感|光泽|质感|美感|身材|毛孔|眼妆|唇妆|"
                             r"空间|风格|穿搭|生活|家|睡眠|笑容|美甲|眉形)$")


@lru_cache(maxsize=1)
def _en_lower_words() -> frozenset[str]:
    """Words the English corpus (real product copy) writes in lower case inside a sentence."""
    from tools.narrate.corpus import default_corpus

    texts = [ln.text for ln in default_corpus("en").lines]
    out: set[str] = set()
    for t in texts:
        for m in re.finditer(r"(?<=[a-z,;:] )([a-z][a-z\-]+)", t):
            out.add(m.group(1))
    return frozenset(out | set(EN_FUNCTION_WORDS))


def _en_common_word(word: str) -> bool:
    """Whether an English fact's first word is a common word (lower-cased mid-sentence), not a
    proper noun ("Yunnan", "Merino" keep their capital)."""
    return word.lower() in _en_lower_words()


def _corpus_slot_takes(slot: Slot, f: Fact) -> bool:
    """Whether a corpus slot (zh) may hold ``f``: the fact names the same kind of thing as the
    phrase it replaces (:func:`head_kind`: an ingredient for an ingredient, a price for a price);
    a noun phrase of no known kind, or a slot of a fragment, takes nothing ("里面添加了{神仙能}")."""
    if slot.cls == "x" or f.cls == "x":
        return False
    if slot.cls in ("vp", "ap", "event", "num", "res") or f.group == "pain":
        return True
    k = head_kind(slot.src)
    return bool(k) and k != "product" and head_kind(f.point) == k  # a product's nickname makes odd claims ("原来是水动力爆水瓶")


def fill_frame(frame: Frame, facts: Sequence[Fact], used: set[str], names: Sequence[str], language: Language,
               required: str | None = None, limit: int = 3, prefer_groups: Sequence[str] = (),
               full_name: str = "", src_sim: float = 1.0) -> list[Filled]:
    """Up to ``limit`` fillings of ``frame``: each fact slot takes an unused fact of its group and a
    compatible class (``required`` first when it fits, then the preferred groups, then salience);
    name slots take ``names`` in turn (the spoken name or a pronoun), ``full_name`` after a
    demonstrative ("这款<name>", "the <name>"). A corpus slot takes a fact of another product only
    when the source product is of a similar kind (``src_sim`` ≥ :data:`FILL_SIM`) or the fact
    shares a character (en: a word) with the phrase it replaces: "打造自然妆感" may become
    "打造精致妆容", never "打造口腔"."""
    slots = [p for p in frame.parts if isinstance(p, Slot) and p.kind == "fact"]
    literal = "".join(p for p in frame.parts if isinstance(p, str))
    # "用了之后，可以抗摔": what the user gets, never how the product lasts (seed 281)
    user_gain = bool(re.search(r"用了之后|帮你|帮助你", literal))
    # "{aud}也能放心使用" is said of a sensitive group, not of "色斑肌肤", "细致肌肤", "深层肤质" (seeds 281/283)
    safe_for = "放心使用" in literal
    # "Built to last, with a reflective heel tab": only what makes it last follows (seed 293)
    built_to_last = "Built to last" in literal
    # "It gives you a reflective heel tab", "It gives you a storage drawer" (seeds 293/311): a part is had, not given
    gives = language == "en" and bool(re.search(r"gives you|^Enjoy", literal))
    rank = {g: i for i, g in enumerate(prefer_groups)}
    options: list[list[Fact]] = []
    for s in slots:
        cands = [f for f in facts if f.point not in used
                 and (f.group == s.group or (frame.template and language == "zh" and _group_fits(s.group, f)))
                 and (s.cls in ("", "item") or ((f.sure or s.cls in ("prob", "aud")) and slot_takes(s.cls, f.cls)))
                 and (s.cls != "item" or f.sure or count_words(f.point, language) >= 3)
                 and (s.cls not in ("ap1", "apf1") or _one_word(f.point, language))
                 and (s.cls != "apq" or not re.match(r"[无不没零免]", f.point))  # "它无尺码，品质经得起考验" is a non sequitur
                 and (s.cls != "apq" or bool(_LASTING_ZH.search(f.point)))  # "它清爽，品质经得起考验": 品质 is how it lasts
                 and (s.cls not in ("apf", "apf1") or not (_LASTING_ZH.search(f.point) or re.match(r"[无不没零免]", f.point)))  # how it feels ("用了它，感觉很耐用" is no feeling)
                 and (s.cls != "vp" or f.point not in _BARE_TRANSITIVE_ZH)  # "另外，它还能舒缓。":舒缓 what?
                 and (s.cls != "ing" or (head_kind(f.point) == "ingredient" and not _LIST_ZH.search(f.point)
                                         and not (_NOT_INGREDIENT_ZH.search(f.point) or "的" in f.point)))
                 and (s.cls != "mat" or (head_kind(f.point) in ("ingredient", "material", "tech") and not _LIST_ZH.search(f.point)))
                 and (s.cls != "matl" or (head_kind(f.point) in ("ingredient", "material") and not _LIST_ZH.search(f.point)))
                 and (s.cls not in ("ing", "mat", "matl", "matq", "tech") or not (_NOT_TOUTED_ZH.search(f.point) or starts_with_verb(f.point)))
                 and (s.cls != "res" or _names_a_result(f.point))
                 and (s.cls != "aud" or head_kind(f.point) == "audience")
                 and (s.cls != "aud" or not safe_for or bool(_SAFE_FOR_ZH.search(f.point)))
                 and (s.cls != "vp" or not user_gain or not _LASTING_ZH.search(f.point))
                 # "它能安心护肤" (seed 293): 安心/放心 is how the user does it, said only of the user's gain
                 and (s.cls != "vp" or user_gain or not _USER_MANNER_ZH.match(f.point))
                 # "而且它白皙透亮" (seed 293): how the skin looks after use is not how the product is
                 and (s.cls not in ("ap", "ap1") or not _SKIN_STATE_ZH.search(f.point))
                 # "它原木黄，真的很不错" (seed 311): a colour's name is no predicate ("外观上，它…" neither)
                 and (language != "zh" or not s.cls.startswith("ap") or not _COLOUR_NAME_ZH.search(f.point))
                 and (not built_to_last or bool(_LASTING_EN.search(f.point)))
                 and (not gives or (re.findall(r"[a-z]+", f.point.lower()) or [""])[-1] not in _EN_THING_HEADS)
                 and (s.group != "service" or not re.match(r"(不包含|不含|不支持|不提供|没有|无法|不能|仅|只)", f.point))
                 and (s.cls != "crt" or (head_kind(f.point) == "cert" and not re.search(r"(检测|测试|质检|鉴定)$", f.point)))
                 and (s.cls != "crtx" or head_kind(f.point) == "cert")  # "CQC，用着更安心" names no certificate
                 and (s.cls != "pass" or re.search(r"(认证|检测|测试|质检|鉴定|评级|考验|[A-Z]级)$", f.point))
                 and (s.cls != "tech" or (head_kind(f.point) == "tech" and not re.search(r"(结构|系统|设计|芯片|电路|模式)$", f.point)))
                 and (s.cls != "matq" or head_kind(f.point) in ("material", "tech"))
                 and (frame.template or language != "zh" or _corpus_slot_takes(s, f))
                 and (s.cls != "design" or (bool(_DESIGN_ZH.search(f.point)) and not re.search(r"[不无没]", f.point)))
                 and (s.cls != "res" or not _NOT_RESULT_ZH.search(f.point))
                 and (s.cls != "gift" or (head_kind(f.point) == "gift" and not re.search(r"\d|元|价|折|活动|大促|进行|链接|点击|购物车|的|们$|[人男女友妈爸]$", f.point)))
                 and (s.cls != "probn" or not re.match(r"(容易|易|总|会|不|经常|老是)", f.point))
                 and (s.cls not in ("prob", "probn") or "痛点" in f.aspect or not re.match(r"(不|无|零|免|告别|防|抗)", f.point))
                 and (s.cls not in ("prob", "probn") or (f.cls != "x" and not re.match(r"(直击|针对|解决|对抗|改善|告别|击退|抵御|预防|防止|减少|淡化|修护|修复|舒缓|缓解|远离)", f.point) and bool(_PROBLEM_ZH.search(f.point) or _PROBLEM_ANY_ZH.search(f.point))
                                          and not _PROBLEM_SOLVED_ZH.search(f.point)))
                 and (frame.template or src_sim >= FILL_SIM or _related(s.src, f.point, language))]
        cands.sort(key=lambda f: (f.point != required, rank.get(f.group, 99), -f.salience))
        if not cands:
            return []
        options.append(cands)
    # a fact never repeats a word of the frame around it ("它质地{不粘腻的质地}", "{侧面塑形效果}，效果真的很明显")
    literals = [p for p in frame.parts if isinstance(p, str) and len(p) >= 2] if language == "zh" else []
    if language == "zh" and not frame.template:
        for i in range(len(frame.parts) - 2):
            a, mid, b = frame.parts[i:i + 3]
            if isinstance(a, Slot) and isinstance(b, Slot) and a.kind == b.kind == "fact" and isinstance(mid, str) and mid.strip() in ("是", "就是"):
                return []  # "它里面添加的有效{X}是{Y}": any other pair of facts becomes a false identity
        for i, p in enumerate(frame.parts):
            if isinstance(p, Slot) and p.kind == "fact" and i and isinstance(frame.parts[i - 1], str):
                prev = [t for t in tokens(frame.parts[i - 1], "zh") if t.strip()]
                if prev and prev[-1] in ("各种", "各类", "多种"):
                    return []  # "还有各种{橄榄叶}": one ingredient is no kind of many
                if prev and (prev[-1][-1] in "不没无别" or prev[-1] in ("不会", "不用", "没有")):
                    return []  # "遮瑕不{脱妆}": another phrase after the negation says the opposite ("遮瑕不非常好用")
                if prev and not is_punct(prev[-1]) and zh_pos(prev[-1])[:1] == "n" and prev[-1] not in _TAKES_NP_ZH:
                    return []  # "里面的成分{玻尿酸}": a noun glued to the slot makes a compound of any fill
            if isinstance(p, Slot) and p.kind == "fact" and i + 1 < len(frame.parts) and isinstance(frame.parts[i + 1], str) \
                    and re.match(r"(不够|不行|不好|不足|太差|太少|没用|有问题|出问题|系列)", frame.parts[i + 1]):
                return []  # "玩游戏{16G内存}不够用？": the source's problem; "{200克}系列": no fact names a series
    # variants: vary the first slot's fact (lengths differ), later slots take the next unused ones
    out: list[Filled] = []
    first_opts = options[0][:limit] if options else [None]
    for first in first_opts:
        chosen: list[Fact] = []
        ok = True
        for k, opts in enumerate(options):
            pick = first if k == 0 else next((f for f in opts if f not in chosen
                                              and not any(_shares_word(f.point, c.point) for c in chosen)), None)
            if pick is None or pick in chosen:
                ok = False
                break
            chosen.append(pick)
        if not ok:
            continue
        if any(_shares_word(c.point, lit) for c in chosen for lit in literals):
            continue
        if language == "zh" and re.search(r"购买|下单", "".join(q for q in frame.parts if isinstance(q, str))) \
                and any(re.match(r"下单|购买", c.point) for c in chosen):
            continue  # "现在购买还能下单送券": the frame has bought already
        if language == "zh" and any(isinstance(q, str) and re.search(r"(能|可以|还)$", q) and isinstance(r, Slot)
                                    for q, r in zip(frame.parts, frame.parts[1:])) \
                and any(re.match(r"(买|拍下?)[就即]", c.point) for c in chosen):
            continue  # "现在购买还能买就送弹力带" buys twice ("现在下单，买就送…", "还能买一送一" do not)
        if frame.has_name and names and any(len(c.point) >= 2 and c.point in names[0] for c in chosen):
            continue  # "欧诗漫珍珠白美白，美白": the name already says it
        if language == "en" and re.search(r"\bmade (from|with)\b", "".join(q for q in frame.parts if isinstance(q, str))) \
                and any((re.findall(r"[a-z]+", c.point.lower()) or [""])[-1] in _EN_PART_HEADS for c in chosen):
            continue
        text_parts: list[str] = []
        fills: list[tuple[str, str]] = []
        k = n_names = 0
        for p in frame.parts:
            if isinstance(p, str):
                text_parts.append(p)
            elif p.kind == "name":
                nm = names[min(n_names, len(names) - 1)] if names else ""
                prev = text_parts[-1] if text_parts else ""
                if language == "zh" and prev.endswith(("好", "其他", "其它")):
                    ok = False  # "遇到好<name>就买了吧" reads as a garbled adjective, not a name
                    break
                if nm in ("它", "it", "this one") and (re.search(r"(这|那)[款个只支瓶套件双台盒罐把]$|我们的$|the $|this $|our $|your $", prev)):
                    nm = full_name or names[0]
                elif nm == "它" and not _pronoun_fits(prev, frame.parts, p):
                    nm = full_name or names[0]
                if language == "en" and not prev.strip() and nm in ("it",):
                    nm = "It"
                text_parts.append(nm)
                n_names += 1
            else:
                f = chosen[k]
                k += 1
                val = f.point
                if language == "en" and val[:2].isalpha() and not val[:2].isupper() and val[1:2].islower() \
                        and _en_common_word(re.match(r"[A-Za-z]+", val).group(0)):
                    val = val[0].lower() + val[1:]  # "Water resistant nylon" → "…made from water resistant nylon"; "Yunnan" stays
                if language == "en":
                    if p.article and f.cls == "np_s":
                        val = _article(val)
                text_parts.append(val)
                fills.append((p.cls, f.cls))
        if not ok:
            continue
        text = "".join(text_parts)
        if language == "en":
            text = re.sub(r"\s+", " ", text).strip()
            text = text[0].upper() + text[1:] if text else text
        out.append(Filled(frame=frame, text=text, facts=tuple(f.point for f in chosen), names=n_names,
                          fills=tuple(fills), length=count_words(text, language)))
        if not options:
            break
    return out
