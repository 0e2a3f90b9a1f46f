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
from tools.narrate.text import ALNUM_RE, DANGLING_ZH, is_punct, tokens, zh_pos

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


#: One-character effect verbs a title's claim starts with ("科颜氏祛痘控" of 控油): never the end of a name.
_EFFECT_VERB_CHARS_ZH = frozenset("控 去 防 抗 祛 补 护 修 淡 美".split())
#: jieba's tags of person and other proper names (a brand's transliteration: 迈克/达威).
_PERSON_NAME_POS = frozenset({"nr", "nrt", "nrfg", "nz"})

#: Audience words of listing titles; the spoken name stops before them.
_AUDIENCE_WORDS = frozenset("女 男 女士 男士 女款 男款 女生 男生 男女 女式 男式 儿童 成人 宝宝 婴儿 学生 孕妇 中老年".split())


def _title_words(name: str) -> list[str]:
    """jieba words of a cleaned zh title, cut chunk by chunk at its spaces: a space ends the name's
    phrase ("海蒂诗柜门反弹器 免拉手…" is not "…反弹器免"), so after a chunk longer than a bare
    brand ("美禾 假发…", "大将作M 儿童桌椅…" go on) a "，" marks the end."""
    out: list[str] = []
    chunks = clean_name(name).split()
    for i, chunk in enumerate(chunks):
        out += [t for t in tokens(chunk, "zh") if t.strip()]
        if i + 1 < len(chunks) and len(re.sub(r"\s+", "", "".join(chunks[:i + 1]))) > 4:
            out.append("，")
    return out


def _name_tokens(name: str) -> list[str]:
    """jieba words of the cleaned name (:func:`_title_words`), with hyphenated model codes kept
    whole ("SK-II", not "SK")."""
    toks = _title_words(name)
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
    elif len(kept) >= 2 and re.fullmatch(r"[A-Za-z]{3,}", kept[-2]) and re.fullmatch(r"[\u4e00-\u9fff]+", kept[-1]) \
            and re.fullmatch(r"[\u4e00-\u9fff]+", nxt) and zh_pos(kept[-1]) in _PERSON_NAME_POS and zh_pos(nxt) in _PERSON_NAME_POS:
        kept.pop()  # "McDavid迈克" of 迈克达威: a transliteration goes on past the name's length
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
    while len(kept) > 1 and ((kept[-1] in _NOT_CATEGORY_ZH | {"淡斑", "抗皱", "焕白", "修护", "舒缓", "油水", "冷热"}
                              and len("".join(kept[:-1])) >= 3) or kept[-1] in _EFFECT_VERB_CHARS_ZH):
        kept.pop()  # a claim of the title ends no name ("欧诗漫珍珠白美白", "雪肌精套装补水", "科颜氏祛痘控", "…水龙头冷热")
    return "".join(kept) or clean_name(name)[:max_chars]


#: Last characters of zh product-category nouns (面霜, 洗发水, 眼影盘, 床垫, 染发剂 …) and whole
#: category words that end otherwise; a spoken short name is a brand and such a noun.
_CATEGORY_END_ZH = frozenset("霜水乳液油膏露盘釉垫机柜椅桌衣衫裤裙鞋包罩刷笔粉饼膜器灯杯壶锅表镜帽袜枕被箱架夹剂胶素片茶蜡泥棒仪扇锁奶车沙")
_CATEGORY_WORDS_ZH = frozenset("龙头 水龙头 哑铃 玩具 积木 精华 口红 面膜 眼影 键盘 鼠标 耳机 手机 电脑 主机 吊带 背心 内衣 文胸 洁面 礼盒 睫毛夹 跑步机 拓展坞 "
                               "发蜡 发泥 香水 牙刷 沙发 床垫 外套 衬衫 连衣裙 卫衣 毛衣 帐篷 书桌 台灯 音箱 相机 手表".split())
#: Effect words that end like a category noun (补水, 控油) but name none.
_NOT_CATEGORY_ZH = frozenset("补水 节水 控油 防水 保湿 吸油 油水 卸妆 去油 锁水 喝水 洗衣 防晒 美白 祛痘 淡纹 紧致 提亮".split())
#: Places that open listing titles (韩国…, 日本…) but are no brand: a name never starts with one alone.
_PLACES_ZH = frozenset("韩国 日本 法国 美国 德国 意大利 英国 泰国 澳洲 澳大利亚 新西兰 瑞士 新加坡 进口 国产 原装 原装进口".split())


def _is_category_word(t: str) -> bool:
    """A jieba word that names a kind of product (面霜, 湿巾, 床垫, "现水乳" ending in 水乳), not an effect (补水)."""
    if t in _NOT_CATEGORY_ZH:
        return False
    if t in _CATEGORY_WORDS_ZH or t in KIND_NOUNS_ZH or any(t.endswith(w) for w in KIND_NOUNS_ZH if len(w) >= 2):
        return True
    return len(t) >= 2 and t[-1] in _CATEGORY_END_ZH and zh_pos(t)[:1] == "n"


def _first_phrase(name: str) -> list[str]:
    """jieba words of a listing title's first phrase (a space ends it), no punctuation, no leading place."""
    toks = _title_words(name)
    if "，" in toks:
        toks = toks[:toks.index("，")]
    toks = [t for t in toks if not is_punct(t)]
    while toks and toks[0] in _PLACES_ZH and len(toks) > 2:
        toks = toks[1:]
    return toks


#: One-character words that make a category noun before them the first half of a longer one
#: ("文胸贴", "洗衣机龙头" is 龙头 … "眼膜贴").
_CATEGORY_GOES_ON_ZH = frozenset("贴衣柜灯架袋盒罩头池")
#: Category words a title puts after the product to say it is a set (套装水乳 is no 套装水).
_SET_WORDS_ZH = frozenset({"套装", "礼盒"})


def _category_ends(toks: list[str]) -> list[int]:
    """Indices of the words that end a category noun in title order: a category word (never the
    first word, which is the brand), a one-character category end jieba split off the word before
    ("大白" + "饼", "磁力" + "片", "bb" + "霜"), taken on through a one-character continuation
    ("文胸" + "贴", "洁面" + "液"); a category the title goes on from ("洗衣机龙头", "维生素CE精华",
    "牛奶水乳") ends nothing."""
    out: list[int] = []
    for k, t in enumerate(toks):
        if k == 0 or ALNUM_RE.fullmatch(t):
            continue
        if len(t) == 1:
            prev = toks[k - 1]
            if t not in _CATEGORY_END_ZH or (_is_category_word(prev) and prev + t not in KIND_NOUNS_ZH):
                continue
        elif not _is_category_word(t) or (k == 1 and re.fullmatch(r"[A-Za-z]+", toks[0]) and t not in KIND_NOUNS_ZH
                                          and t not in _CATEGORY_WORDS_ZH):
            continue  # "OLAY玉兰油", "KUB可优比": a Latin brand's Chinese name, however it ends
        end = k
        nxt = toks[k + 1] if k + 1 < len(toks) else ""
        if nxt in _CATEGORY_GOES_ON_ZH or (nxt in _CATEGORY_END_ZH and t not in _SET_WORDS_ZH):
            end += 1
        elif t not in _SET_WORDS_ZH and _KIND_CONTINUES_ZH.match("".join(toks[k + 1:])):
            continue
        out.append(end)
    return out


def _category_name(name: str, max_chars: int) -> str | None:
    """Brand + category noun of a zh listing title: the title's start through its first category
    noun (:func:`_category_ends`) when that is at most ``max_chars`` long ("完美日记动物眼影盘",
    "全棉时代婴儿湿巾", "九牧洗衣机龙头", "修丽可维生素CE精华"), else None.

    Sellers say the title's leading words (brand, series) more than brand + category: on dev.json
    the composed form (brand + category, the series dropped) lowered CIDEr-D of the narration by
    2.6 (26.6 → 24.0, every third video), so spoken names keep the title's words; a category within
    the first ``max_chars`` characters completes the name ("植村秀琥珀臻萃洁颜油", not "…臻萃洁")."""
    toks = _first_phrase(name)
    ends = _category_ends(toks)
    if not ends:
        return None
    head = "".join(toks[:ends[0] + 1])
    return head if len(head) <= max_chars else None


def _with_kind(lead: str, name: str, max_chars: int) -> str:
    """Leading words of a title said with what the product is: cut after a kind noun they hold
    ("欧舒丹沐浴油", not "欧舒丹沐浴油甜"), else with the title's first kind noun after them when that
    fits ("McDavid护膝", "OLAY玉兰油精华液", "雅诗兰黛冻龄白面霜"; blind raters rejected bare brands
    and series: "Fresh馥蕾诗玫瑰", "修丽可维生素", "hegen新生")."""
    inner = [lead.rfind(w) + len(w) for w in KIND_NOUNS_ZH if len(w) >= 2 and lead.rfind(w) > 0]
    if any(lead[:-1].endswith(w) for w in KIND_NOUNS_ZH) and lead[-1:] in _CATEGORY_END_ZH:
        return lead  # "HFP果酸洁面液": a category noun jieba does not know
    if inner:
        return lead[:max(inner)] if max(inner) >= 4 else lead
    toks = _first_phrase(name)
    for end in _category_ends(toks):
        start = end
        while start > 0 and len(toks[start]) == 1 and toks[start] in _CATEGORY_END_ZH | _CATEGORY_GOES_ON_ZH:
            start -= 1  # the word a split-off character belongs to ("大白" of 大白饼)
        kind = "".join(toks[start:end + 1])
        if kind in lead:
            continue
        return lead + kind if len(lead + kind) <= max_chars else lead
    return lead


def _typed_name(product: ProductInfo) -> str:
    """The whole (cleaned) zh name when a seller typed it (≤ 12 characters, no spaces), not a listing
    title: said whole, short or long ("Luma加厚防爆瑜伽球", not "Luma加厚防爆"); else ""."""
    whole = clean_name(product.name)
    return whole if len(whole) <= LONG_NAME_CHARS + 2 and not re.search(r"\s", whole) else ""


def short_name(product: ProductInfo, language: Language) -> str:
    """A speakable short form of the product name: zh, the brand and category noun when the title
    has one (:func:`_category_name`), else its leading tokens up to ~8 characters."""
    if language == "en":
        return " ".join(clean_name(product.name).split()[:4])
    # a title whose category noun comes later than the short form's length is said to its category
    # ("虎牌现代轻奢实木床头柜", not "虎牌现代轻奢实木"; "欧莱雅第二代紫熨斗眼霜", not "欧莱雅第二代紫"): leading
    # words cut inside a series name say no product
    return (_typed_name(product) or _category_name(product.name, 10) or _category_name(product.name, LONG_NAME_CHARS + 2)
            or _with_kind(_leading_tokens(product.name, 8, stop_at_code=True), product.name, LONG_NAME_CHARS + 2))


#: Characters of the name said where the script introduces the product (产品推荐). Humans say
#: the fuller name there: on E-SyncVidStory dev 82 % of 产品推荐 lines contain a word of the
#: product name, and the leading tokens are the ones said (brand, series, category noun).
#: Tuned on dev.json (CIDEr of 产品推荐 lines 8 → 10 → 12 characters: 55 / 64 / 72).
LONG_NAME_CHARS = 10


def long_name(product: ProductInfo, language: Language) -> str:
    """The fuller spoken name used when the product is introduced or recommended."""
    if language == "en":
        return " ".join(clean_name(product.name).split()[:6])
    typed = _typed_name(product) or _category_name(product.name, LONG_NAME_CHARS + 2)
    if typed:
        return typed
    lead = _leading_tokens(product.name, LONG_NAME_CHARS, stop_at_code=False)
    named = _with_kind(lead, product.name, LONG_NAME_CHARS + 5)  # "笑容加usmile电动牙刷", "Nursery娜斯丽卸妆乳"
    if named == lead:
        short = short_name(product, language)
        if short != _leading_tokens(product.name, 8, stop_at_code=True):
            return short  # "everbab睫毛夹", not "everbab艾蓓拉": the fuller name says no more if it says not what it is
    return named


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


#: Nouns that name what kind of product a listing is (the head a seller says after 这款: "这款面霜",
#: "这款床垫"). Written from general e-commerce categories (beauty, personal care, clothing, home,
#: electronics, sport, baby, food), not from any product of the corpus; longest match wins.
KIND_NOUNS_ZH: frozenset[str] = frozenset("""
面霜 晚霜 日霜 眼霜 乳液 水乳 精华 精华液 精华水 精华油 精华乳 原液 安瓶 面膜 眼膜 睡眠面膜 防晒霜 防晒乳 防晒喷雾 隔离霜 妆前乳
粉底液 粉底 粉饼 气垫 粉霜 粉膏 遮瑕膏 蜜粉 散粉 定妆喷雾 定妆粉 腮红 口红 唇釉 唇膏 唇泥 润唇膏 眉笔 眉粉 眼线笔
眼影 眼影盘 睫毛膏 睫毛夹 卸妆油 卸妆水 卸妆膏 卸妆乳 洁颜油 洗面奶 洁面乳 洁面 爽肤水 化妆水 柔肤水 护肤水 喷雾 凝胶 凝露 护手霜 身体乳 润肤乳
润肤露 沐浴露 沐浴油 沐浴乳 香皂 洗发水 洗发露 护发素 发膜 护发精油 精油 发蜡 发胶 染发剂 染发膏 香水 牙膏 牙刷 电动牙刷 冲牙器
漱口水 剃须刀 吹风机 卷发棒 直发器 假发 护肤品 彩妆 套装
连衣裙 半身裙 裙子 衬衫 T恤 卫衣 毛衣 针织衫 外套 夹克 风衣 大衣 羽绒服 西装 裤子 牛仔裤 短裤 打底裤 瑜伽裤 运动裤 泳衣 泳裤
游泳裤 内衣 文胸 内裤 凉席 睡衣 袜子 丝袜 鞋子 童鞋 运动鞋 跑鞋 板鞋 帆布鞋 皮鞋 拖鞋 凉鞋 靴子 帽子 围巾 手套 护膝 护腕 背包 双肩包
手提包 挎包 行李箱 钱包 手表 项链 耳环 戒指 眼镜 太阳镜
床垫 枕头 被子 四件套 床 婴儿床 儿童床 上下床 沙发 椅子 桌子 书桌 餐桌 桌椅 餐桌椅 衣柜 鞋柜 书架 收纳盒 收纳箱 马桶 花洒 水龙头
洗衣机 冰箱 空调 电视 吸尘器 扫地机器人 拖把 净水器 热水器 电饭煲 空气炸锅 破壁机 榨汁机 咖啡机 电热水壶 台灯 风扇 加湿器
充电器 充电宝 数据线 耳机 音箱 手机 手机壳 平板 电脑 笔记本 显示器 键盘 鼠标 路由器 相机 手环
硬盘 固态硬盘 移动硬盘 打印机 投影仪 移动电源 户外电源 拓展坞
跑步机 瑜伽垫 瑜伽球 健身球 哑铃 健身器 球拍 羽毛球拍 篮球 足球 自行车 帐篷
奶瓶 奶粉 纸尿裤 尿不湿 湿巾 安全座椅 婴儿车 推车 玩具 积木 爬行垫 水枪 扭扭车 磁力片
咖啡 挂耳咖啡 茶叶 零食 坚果 牛奶 酸奶 蜂蜜 维生素 钙片 益生菌 保健品
""".split())


#: What may follow a kind noun in the title when it is only the first half of a compound
#: ("洗衣机龙头", "床头灯", "防晒衣", "文胸贴", "牛奶水乳", "维生素CE精华"): then it is not the kind.
_KIND_CONTINUES_ZH = re.compile(r"^(龙头|水|" + "|".join(sorted(_CATEGORY_GOES_ON_ZH)) + r"|[A-Za-z]{1,2}(?![A-Za-z0-9]))")


def kind_noun(product: ProductInfo, language: Language = "zh") -> str:
    """The noun of what kind of product this is ("面霜" for "…黑绷带抗老面霜"), or "" when unsure.

    Read from the end of the spoken name (:func:`long_name`, then :func:`short_name`), where a
    listing title puts its category: the longest word of :data:`KIND_NOUNS_ZH` the name ends
    with, else the last such word inside the long name ("兰蔻塑颜面霜紧致轮廓" → 面霜), always a
    whole word of the name (not the 床 of 床头灯) and never the first half of a compound the title
    goes on with (洗衣机 of "九牧洗衣机龙头"). Never from the rest of the title (a title lists
    related products: 衣柜 of a bunk bed)."""
    if language != "zh":
        return ""
    title = clean_name(product.name)
    for nm in (long_name(product, language), short_name(product, language)):
        toks = [t for t in tokens(nm, "zh")]
        cuts, at = {0}, 0
        for t in toks:
            at += len(t)
            cuts.add(at)
        found = []
        for w in KIND_NOUNS_ZH:
            i = nm.rfind(w)
            while i > 0 and not (i in cuts and i + len(w) in cuts):
                i = nm.rfind(w, 0, i + len(w) - 1)
            if i > 0:
                found.append((i + len(w), len(w), w))
        for end, _n, w in sorted(found, reverse=True):
            k = title.find(nm[:end])
            after = title[k + end:] if k >= 0 else nm[end:]
            if not _KIND_CONTINUES_ZH.match(after.lstrip()):
                return w
    return ""
