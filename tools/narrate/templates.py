"""Hand-written frames by script label and fact type, and complete generic sentences.

Narrator §3.1 / App. A.4: each clip's narration carries one of the 12 script labels. Corpus
frames (:mod:`tools.narrate.frames`) give most lines their phrasing; these templates give every
label grammatical sentences for every kind of fact a seller lists, so that a product whose facts
fit no corpus frame (and every English product: the Luma catalogue is small) still gets fluent
lines. Each template is a complete sentence whose slot says what it takes:
``{fact:<group>:<class>}`` — a whole fact of an aspect group (:func:`~tools.narrate.frames.aspect_group`)
and phrase class (:func:`~tools.narrate.frames.fact_class`; ``any`` takes every class, en ``np*``
any noun phrase with a/an before a singular count one) — or ``{name}``.

:data:`GENERIC_SENTENCES` are fact-free complete sentences; with templates and corpus frames
they are the units a line's length is reached with (a second or third sentence), never bare
words appended to a line.
"""

from __future__ import annotations

from functools import lru_cache

from tools.core.models import Language
from tools.narrate.frames import Frame, parse_template

#: Aspect groups whose facts a line of each label states, best first.
LABEL_GROUPS: dict[str, tuple[str, ...]] = {
    "产品推荐": ("benefit", "texture", "material", "look"),
    "痛点铺垫": ("pain", "audience"),
    "引导购买": ("offer", "service"),
    "外观设计": ("look",),
    "质地/成分/材质": ("material", "texture"),
    "产品试用": ("use", "texture", "benefit"),
    "产品功效": ("benefit", "texture", "use"),
    "质量/特性介绍": ("benefit", "material", "cert", "service"),
    "鉴定展示": ("cert",),
    "安全认证": ("cert",),
    "生产过程": ("material",),
    "其他/通用卖点": ("benefit", "audience", "service", "look", "story"),
}

TEMPLATES: dict[str, dict[str, list[str]]] = {
    "zh": {
        "产品推荐": ["今天给大家推荐{name}。", "{name}，{fact:benefit:vp}，{fact:benefit:vp}。", "给大家推荐{name}，{fact:benefit:vp}又{fact:benefit:vp}。",
                 "这款{name}，{fact:texture:ap}，{fact:benefit:vp}。", "这款{name}，我真心推荐给大家。", "{name}，真的值得入手。",
                 "最近一直在用{name}，真的很不错。", "今天给大家推荐{name}，它能{fact:benefit:vp}。",
                 "今天要推荐的是{name}，{fact:texture:ap}，真的很不错。", "这款{name}，{fact:benefit:ap}，很不错。",
                 "{name}，真心推荐！", "推荐这款{name}。", "{name}，{fact:benefit:vp}。", "这就是{name}。"],
        "痛点铺垫": ["你是否也有{fact:pain:prob}的烦恼？", "很多人都有{fact:pain:prob}的困扰。", "是不是总被{fact:pain:probn}困扰？",
                 "别担心，今天就来帮你解决。", "其实解决起来并不难。"],
        "引导购买": ["现在下单，{fact:offer:vp}。", "趁着{fact:offer:event}，赶紧下单吧！", "现在购买还能{fact:offer:vp}，千万别错过！",
                 "{fact:offer:event}正在进行中，喜欢的话赶紧下单吧！", "现在下单，还有{fact:offer:gift}。", "喜欢的话赶紧下单吧！", "点击下方链接，马上带回家吧！",
                 "心动不如行动，快来下单吧！", "还在等什么，赶紧把{name}带回家吧！", "{fact:service:any}，买得放心。"],
        "外观设计": ["它采用了{fact:look:design}。", "{name}，{fact:look:ap}，{fact:look:ap}。", "{fact:look:ap}，{fact:look:ap}，颜值超高。", "外观上，它{fact:look:ap}。", "它的设计{fact:look:ap1}，非常好看。",
                 "它的外观设计很用心。"],
        "质地/成分/材质": ["它采用{fact:material:mat}。", "{name}采用{fact:material:mat}，{fact:texture:ap}。", "{name}采用{fact:material:mat}，{fact:benefit:vp}。", "里面含有{fact:material:ing}和{fact:material:ing}。",
                      "上手{fact:texture:ap}，{fact:texture:ap}。", "{fact:texture:ap1}又{fact:texture:ap1}，上手就爱了。", "里面含有{fact:material:ing}。", "{fact:material:matl}，用料很讲究。",
                      "用起来{fact:texture:ap}。", "用料非常讲究。"],
        "产品试用": ["只需{fact:use:vp}，就可以了。", "上手试一下，{fact:texture:ap}，{fact:benefit:vp}。", "上手试一下，真的很{fact:texture:ap1}。", "用起来{fact:texture:ap}，体验感超棒。",
                 "用了之后，可以{fact:benefit:vp}。", "我们来试用一下。", "一起来看看上手效果吧。"],
        "产品功效": ["它能{fact:benefit:vp}。", "{name}，{fact:benefit:vp}，{fact:benefit:vp}。", "{fact:benefit:vp}，{fact:benefit:vp}，效果看得见。", "它能{fact:benefit:vp}，还能{fact:benefit:vp}，{fact:benefit:vp}。",
                 "{fact:benefit:vp}、{fact:benefit:vp}，一次搞定。", "{name}帮你{fact:benefit:vp}。", "它可以{fact:benefit:vp}，效果看得见。", "不仅能{fact:benefit:vp}，还能{fact:benefit:vp}。",
                 "用了它，感觉很{fact:benefit:apf1}。", "效果很明显。"],
        "质量/特性介绍": ["它{fact:benefit:apq}，品质经得起考验。", "它{fact:benefit:apf}，真的很不错。", "它拥有{fact:cert:crt}，品质有保障。", "{fact:material:matq}，品质经得起考验。", "品质经得起考验。"],
        "鉴定展示": ["它通过了{fact:cert:pass}。", "{fact:cert:crtx}，品质看得见。", "品质看得见，用着更放心。"],
        "安全认证": ["它通过了{fact:cert:pass}。", "{fact:cert:crtx}，用着更安心。", "用着安心，大家放心使用。"],
        "生产过程": ["它采用{fact:material:tech}，每一步都很讲究。", "{fact:material:vp}，每一道工序都很用心。", "每一道工序都很用心。"],
        "其他/通用卖点": ["另外，它还能{fact:benefit:vp}。", "{name}，{fact:benefit:vp}，{fact:benefit:vp}。", "而且它{fact:benefit:ap}。", "而且它非常{fact:benefit:ap1}。",
                     "它特别适合{fact:audience:aud}。", "{fact:audience:aud}也能放心使用。", "{fact:service:any}，买得放心。",
                     "还有更多亮点等你发现。"],
    },
    "en": {
        "产品推荐": ["Meet the {name}.", "Say hello to the {name}.", "This is the {name}, and you are going to love it.",
                 "We recommend the {name}.", "Meet the {name}, with {fact:benefit:np*}.", "Meet the {name}: it {fact:benefit:vp3}.",
                 "Looking for a new favourite? Try the {name}."],
        "痛点铺垫": ["Tired of {fact:pain:np_p}?", "Sick of {fact:pain:np_p}? We have the answer.", "No more {fact:pain:np_p}.",
                 "Sound familiar?", "We have all been there."],
        "引导购买": ["Order now and get {fact:offer:np*}.", "Order today: {fact:offer:vp}.", "Right now you can {fact:offer:vp}.",
                 "Grab yours today.", "Order yours now.", "Get the {name} today.", "You also get {fact:service:np*}."],
        "外观设计": ["It comes in {fact:look:np*}.", "Just look at the design: {fact:look:np*}.", "The design is {fact:look:ap}.",
                 "It looks great."],
        "质地/成分/材质": ["It is made with {fact:material:np*}.", "It is made from {fact:material:np*}.", "It feels {fact:texture:ap}.",
                      "Quality materials throughout."],
        "产品试用": ["Just {fact:use:vp}.", "Simply {fact:use:vp}, and you are ready to go.", "It is {fact:use:ap}.",
                 "Try it and you will see.", "It is easy to use."],
        "产品功效": ["It {fact:benefit:vp3}.", "Enjoy {fact:benefit:np*}.", "It gives you {fact:benefit:np*}.", "It is {fact:benefit:ap}.",
                 "You get {fact:benefit:np*} and {fact:benefit:np*}.", "You will see the difference."],
        "质量/特性介绍": ["It has {fact:benefit:np*}.", "It features {fact:benefit:np*}.", "Built to last, with {fact:benefit:np*}.",
                     "It is {fact:cert:ap}.", "Built to last."],
        "鉴定展示": ["It carries {fact:cert:np*}.", "It is {fact:cert:ap}.", "Quality you can see."],
        "安全认证": ["It carries {fact:cert:np*}.", "It is {fact:cert:ap}.", "Use it with peace of mind."],
        "生产过程": ["It is made with {fact:material:np*}.", "Made with care."],
        "其他/通用卖点": ["Plus, it has {fact:benefit:np*}.", "On top of that, you get {fact:benefit:np*}.", "It is perfect for {fact:audience:np_p}.",
                     "You also get {fact:service:np*}.", "There is more to love."],
    },
}

#: Fact-free complete sentences (checked by the grounding test) that complete a line's length.
GENERIC_SENTENCES: dict[str, list[str]] = {
    "zh": ["真的很不错。", "值得拥有。", "真心推荐！", "快来试试吧！", "品质有保障。", "性价比很高。", "闭眼入就对了。",
           "谁用谁知道。", "入手绝对不亏。", "大家可以放心冲。", "推荐给大家。", "一用就爱上。", "口碑一直很好。", "每天都离不开它。",
           "颜值和实力并存。", "值得一试。", "越用越喜欢。", "安心又放心。", "好用不贵。", "日常必备。", "效果看得见。", "体验感超棒。",
           "非常实用。", "真香！", "很好用。", "一定要试试。", "用过的都说好。"],
    "en": ["You will love it.", "It is worth every penny.", "Made to last.", "It is easy to use.", "A real favourite.",
           "Built for everyday life.", "Love it.", "Try it today.", "Grab yours today.", "It really is that good.",
           "And it is great value.", "Quality you can feel.", "You have to see it."],
}


#: Sentences that state one given fact of any class (a fact printed on the shot must be said
#: even when no label template takes it); ``{F}`` becomes the fact's slot.
FACT_SENTENCES: dict[str, dict[str, list[str]]] = {
    "zh": {"*": ["{name}，{F}。", "你看，{F}。", "{F}，这一点真的很加分。", "{F}，一眼就能看出来。"]},
    # no "{name}" in English: the name slot may hold a pronoun, and "The it has …" is not English
    "en": {"np": ["Look at the {F}.", "Notice the {F}.", "It comes with {F*}."], "vp3": ["It {F}."], "vp": ["Just {F}."],
           "ap": ["It is {F}."], "*": ["Here is the best part: {F}."]},
}


#: More sentences for one fact, said only where a long shot would otherwise be filled with stock
#: praise ("值得拥有。一定要试试。性价比很高。…"): each says a fact in words no other one uses, so
#: several of them may share a line (one word per line is the rule, :func:`~tools.narrate.adapt._clash`).
#: No "also" (也是一大亮点): such a sentence may open a line (seed 233: "gum health…，也是一大亮点。" first).
LONG_SHOT_FACT_SENTENCES: dict[str, dict[str, list[str]]] = {
    "zh": {"ap": ["值得一提的是，它{F}。"], "*": ["{F}，是它的一大亮点。"]},
    "en": {"*": []},
}


def fact_frames(group: str, cls: str, language: Language, long_shot: bool = False) -> tuple[Frame, ...]:
    """The :data:`FACT_SENTENCES` (``long_shot``: :data:`LONG_SHOT_FACT_SENTENCES`) for a fact of
    ``group`` and class ``cls`` as frames."""
    table = (LONG_SHOT_FACT_SENTENCES if long_shot else FACT_SENTENCES)[language]
    key = cls if cls in table else ("np" if cls.startswith("np") and "np" in table else "*")
    tpls = table.get(key, []) + (table["*"] if key != "*" else [])
    slot_cls = "item" if key == "*" else cls
    out = []
    for i, t in enumerate(tpls):
        t = t.replace("{F*}", "{fact:%s:%s*}" % (group, slot_cls)).replace("{F}", "{fact:%s:%s}" % (group, slot_cls))
        out.append(parse_template(f"fact{'L' if long_shot else ''}:{key}:{i}", t, None, language))
    return tuple(out)


#: How a product of a kind is used, said in its demonstration shot (产品试用): true of any product of
#: that kind ("取适量，轻轻涂抹均匀。" of a face cream), so a product whose kind noun
#: (:func:`~tools.narrate.naming.kind_noun`) is listed may say them although its facts do not (the
#: grounding test takes them whole, :attr:`~tools.narrate.adapt.Target.kind_says`). Sellers show how it
#: is used: human 产品试用 lines of E-SyncVidStory dev say 使用/涂抹/均匀/轻轻 most, where the narrator said
#: "我们来试用一下。" Written from how each kind is used, not copied from the corpus; no claim of effect
#: (吸收, 显色 …).
_LEAVE_ON_ZH = ("取适量，轻轻涂抹均匀。", "取适量在掌心，均匀推开。")
KIND_DEMO_SENTENCES_ZH: dict[str, tuple[str, ...]] = {
    **{k: _LEAVE_ON_ZH for k in "面霜 晚霜 日霜 乳液 水乳 精华 精华液 精华乳 原液 安瓶 防晒霜 防晒乳 妆前乳 凝胶 凝露".split()},
    **{k: ("取适量，均匀涂抹全身。", "洗完澡后，轻轻涂抹全身。") for k in "身体乳 润肤乳 润肤露".split()},
    "眼霜": ("取适量，轻轻点涂在眼周。", "用指腹轻轻点涂在眼周。"),
    "护手霜": ("取适量，均匀涂抹双手。",),
    "面膜": ("取适量，均匀涂抹在脸上。",),
    **{k: ("取适量，轻拍在脸上。", "倒在掌心，轻拍全脸。") for k in "爽肤水 化妆水 柔肤水 护肤水 精华水".split()},
    **{k: ("取适量，加水揉出泡沫。", "用清水冲洗干净就可以了。") for k in "洗面奶 洁面乳 洁面".split()},
    **{k: ("取适量，在脸上轻轻打圈。", "用清水冲洗干净就可以了。") for k in "洁颜油 卸妆油 卸妆膏 卸妆乳".split()},
    **{k: ("打湿头发，取适量揉出泡沫。", "轻轻按摩头皮，再用清水冲洗干净。") for k in "洗发水 洗发露".split()},
    **{k: ("取适量，涂抹在发尾。", "停留几分钟后，用清水冲洗干净。") for k in "护发素 发膜".split()},
    **{k: ("取适量，揉出泡沫涂抹全身。", "用清水冲洗干净就可以了。") for k in "沐浴露 沐浴油 沐浴乳".split()},
    **{k: ("取适量，轻拍上脸。", "用粉扑轻轻拍开。") for k in "粉底液 粉底 粉霜 粉膏 遮瑕膏 隔离霜".split()},
    "气垫": ("用粉扑轻轻拍在脸上。",),
    **{k: ("用粉扑轻轻按压全脸。",) for k in "粉饼 蜜粉 散粉".split()},
    **{k: ("轻轻涂在嘴唇上。", "薄涂厚涂都可以。") for k in "口红 唇釉 唇泥".split()},
}


#: A problem every buyer of a kind has, said in a pain-point shot (痛点铺垫) of a product whose seller
#: listed no pain point: choosing one. Before, such a shot was stock praise ("推荐给大家。一定要试试。
#: 性价比很高。", 23 of 139 dev pain shots with given labels), which sets up nothing.
KIND_PAIN_SENTENCES_ZH = ("你是否也在为挑选{kind}而烦恼？", "挑{kind}总是踩雷，你是否也有这样的烦恼？")


def kind_pain_sentences(kind: str) -> tuple[str, ...]:
    """:data:`KIND_PAIN_SENTENCES_ZH` said of a kind noun ("你是否也在为挑选洗发水而烦恼？"); none without one."""
    return tuple(t.format(kind=kind) for t in KIND_PAIN_SENTENCES_ZH) if kind else ()


@lru_cache(maxsize=64)
def kind_pain_frames(kind: str) -> tuple[Frame, ...]:
    """:func:`kind_pain_sentences` as slot-free 痛点铺垫 frames (uid ``kindpain:<kind>:<i>``)."""
    return tuple(parse_template(f"kindpain:{kind}:{i}", t, "痛点铺垫", "zh") for i, t in enumerate(kind_pain_sentences(kind)))


@lru_cache(maxsize=64)
def kind_demo_frames(kind: str) -> tuple[Frame, ...]:
    """:data:`KIND_DEMO_SENTENCES_ZH` of a kind noun as slot-free 产品试用 frames (uid ``kind:<kind>:<i>``)."""
    return tuple(parse_template(f"kind:{kind}:{i}", t, "产品试用", "zh") for i, t in enumerate(KIND_DEMO_SENTENCES_ZH.get(kind, ())))


@lru_cache(maxsize=4)
def template_frames(language: Language) -> tuple[Frame, ...]:
    """Every template of ``language`` as a frame (uid ``tpl:<label>:<i>``)."""
    out = []
    for label, tpls in TEMPLATES[language].items():
        for i, t in enumerate(tpls):
            out.append(parse_template(f"tpl:{label}:{i}", t, label, language))
    return tuple(out)


@lru_cache(maxsize=4)
def generic_frames(language: Language) -> tuple[Frame, ...]:
    """The generic sentences as slot-free frames (uid ``gen:<i>``)."""
    return tuple(parse_template(f"gen:{i}", t, None, language) for i, t in enumerate(GENERIC_SENTENCES[language]))
