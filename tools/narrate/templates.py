"""Template lines per script label: the last resort when no retrieved line can be adapted.

Narrator §3.1 / App. A.4: each clip's narration carries one of the 12 script labels. When
retrieval and adaptation give no grounded candidate, :func:`template_line` fills a label's
template with an unused fact of this product (or says the label's fact-free generic line); the
result is then length-fitted like any other line.
"""

from __future__ import annotations

from tools.core.models import Language, ProductInfo
from tools.narrate.adapt import StoryState, fact_extras

#: Per language and label: a template with a {fact} slot (and {name}), and a fact-free fallback.
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "zh": {
        "产品推荐": ["今天给大家推荐{name}", "{name}真的值得入手"],
        "痛点铺垫": ["是不是总在为{fact}发愁", "你是否也遇到过这样的烦恼"],
        "引导购买": ["现在下单更划算，{fact}", "喜欢的话赶紧下单吧"],
        "外观设计": ["外观上，{fact}", "它的设计很用心"],
        "质地/成分/材质": ["它采用{fact}", "用料很讲究"],
        "产品试用": ["上手试一下，{fact}", "用起来非常方便"],
        "产品功效": ["{fact}，效果看得见", "效果真的很明显"],
        "质量/特性介绍": ["品质方面，{fact}", "品质经得起考验"],
        "鉴定展示": ["{fact}，实力有目共睹", "品质看得见，用着更放心"],
        "安全认证": ["{fact}，用着更安心", "用着安心，大家放心使用"],
        "生产过程": ["生产工艺上，{fact}", "每一个细节都很用心"],
        "其他/通用卖点": ["{fact}，亮点满满", "还有更多亮点等你发现"],
    },
    "en": {
        "产品推荐": ["Meet the {name}", "We recommend the {name}"],
        "痛点铺垫": ["Tired of problems like {fact}?", "Sound familiar?"],
        "引导购买": ["Order now: {fact}", "Grab yours today"],
        "外观设计": ["Look at the design: {fact}", "It looks great"],
        "质地/成分/材质": ["Made with {fact}", "Quality materials throughout"],
        "产品试用": ["Try it yourself: {fact}", "It is easy to use"],
        "产品功效": ["It delivers: {fact}", "You will see the difference"],
        "质量/特性介绍": ["Built for quality: {fact}", "Built to last"],
        "鉴定展示": ["Recognised: {fact}", "Quality you can see"],
        "安全认证": ["Certified safe: {fact}", "Use it with peace of mind"],
        "生产过程": ["How it is made: {fact}", "Made with care"],
        "其他/通用卖点": ["Plus: {fact}", "There is more to love"],
    },
}


def template_line(label: str, product: ProductInfo, state: StoryState, hint: str | None, language: Language, sname: str) -> tuple[str, list[str]]:
    """The template line of ``label``'s first part with this product's most fitting unused fact
    (or its fact-free fallback), and the facts it states."""
    lab = label.split("+")[0]
    facts = fact_extras(product, state, label, hint, [])
    tpl = TEMPLATES[language][lab]
    if facts:
        return tpl[0].replace("{fact}", facts[0]).replace("{name}", sname), [facts[0]]
    return tpl[1].replace("{name}", sname) if "{fact}" not in tpl[1] else tpl[1], []
