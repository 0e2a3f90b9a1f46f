"""Reading the brief: the rule-based parser (the embedded planner's front end, zh and en), the
brief-parser protocol the planner model also implements, and the merge of brief and flags.

"15 s vertical video for Double 11, stress the texture, upbeat" →
BriefSpec(duration_s=15, aspect="9:16", occasion="Double 11", emphasis=["texture"], mood="excited").
The brief is data: it is matched against patterns, never executed or used as a path.
"""

from __future__ import annotations

import re
from typing import Protocol

from pydantic import ValidationError

from agents.state import MakeRequest
from tools.core.errors import ToolInputError
from tools.core.models import BriefSpec


class BriefParser(Protocol):
    """Reads a brief into a BriefSpec. Raises BackendUnavailable when it cannot run (a server down)."""

    name: str

    def parse(self, text: str) -> tuple[BriefSpec, str | None]:
        """The spec, and a note for the user (fixes a model needed) or None."""
        ...


class RuleBriefParser:
    """The embedded default: patterns in zh and en (:func:`parse_brief`)."""

    name = "rules"

    def parse(self, text: str) -> tuple[BriefSpec, str | None]:
        return parse_brief(text), None

_ASPECTS = [
    (r"9\s*[:：x×/]\s*16|vertical|portrait|竖屏|竖版|竖", "9:16"),
    (r"1\s*[:：x×/]\s*1|square|方形|方屏|正方", "1:1"),
    (r"16\s*[:：x×/]\s*9|horizontal|landscape|widescreen|横屏|横版|横", "16:9"),
]
_MOODS = [
    (r"upbeat|energetic|exciting|lively|dynamic|欢快|激情|动感|活力|燃|热闹|兴奋", "excited"),
    (r"calm|relax|gentle|soft|soothing|peaceful|舒缓|安静|温柔|轻松|治愈|平静", "relaxed"),
    (r"tense|suspense|紧张|悬念", "tense"),
    (r"\bsad\b|melanchol|伤感|悲伤", "sad"),
]
_OCCASIONS = [
    (r"double\s*11|11\.11|singles'? day|双\s*11|双十一", "Double 11"),
    (r"(?<!\d)618(?!\d)|6\.18", "618"),
    (r"double\s*12|双\s*12|双十二", "Double 12"),
    (r"black\s*friday|黑五", "Black Friday"),
    (r"christmas|圣诞", "Christmas"),
    (r"new\s*year|新年|春节|年货", "New Year"),
]
_EMPH_EN = re.compile(r"(?:stress|emphasi[sz]e|highlight|focus on|show off|feature)\s+(?:the\s+|its\s+|their\s+)?([a-z][a-z \-]{1,30}?)(?=[,.;!]|\s+and\b|$)", re.I)
_EMPH_ZH = re.compile(r"(?:突出|强调|重点|展示|主打)([\u4e00-\u9fffA-Za-z]{1,8}?)(?=[，,。；;！!、和]|$)")


def parse_brief(text: str) -> BriefSpec:
    """Parse a chat brief in zh or en into a BriefSpec; unknown parts keep their defaults."""
    raw = (text or "")[:2000]
    t = raw.lower()
    spec: dict[str, object] = {"raw": raw}
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:s\b|sec|secs|second|seconds|秒)", t)
    if m:
        spec["duration_s"] = float(m.group(1))
    else:
        m = re.search(r"(\d+(?:\.\d+)?)\s*(?:min|minute|minutes|分钟)", t)
        if m:
            spec["duration_s"] = float(m.group(1)) * 60
    for pat, val in _ASPECTS:
        if re.search(pat, t):
            spec["aspect"] = val
            break
    if re.search(r"1080|full\s*hd|高清|超清", t):
        spec["resolution_p"] = 1080
    for pat, val in _MOODS:
        if re.search(pat, t):
            spec["mood"] = val
            break
    m = re.search(r"(\d{2,3})\s*bpm", t)
    if m and 30 < float(m.group(1)) <= 240:
        spec["tempo_bpm"] = float(m.group(1))
    for pat, val in _OCCASIONS:
        if re.search(pat, t):
            spec["occasion"] = val
            break
    if re.search(r"\bin english\b|english narration|英文|英语", t):
        spec["language"] = "en"
    elif re.search(r"\bin chinese\b|mandarin|中文|普通话|汉语", t):
        spec["language"] = "zh"
    emph = [e.strip() for e in _EMPH_EN.findall(raw)] + _EMPH_ZH.findall(raw)
    spec["emphasis"] = list(dict.fromkeys(e for e in emph if e))[:5]
    try:
        return BriefSpec.model_validate(spec)
    except ValidationError as e:  # "a 1000000000 second video": the brief asks for what cannot be made
        raise _spec_error(e, "the brief asks for") from e


def _spec_error(e: ValidationError, what: str) -> ToolInputError:
    err = e.errors()[0]
    field = ".".join(str(x) for x in err["loc"])
    return ToolInputError(f"{what} {field} = {err.get('input')!r}: {err['msg']}",
                          hint="ask for a duration between 1 and 600 seconds, aspect 9:16, 1:1 or 16:9, resolution 720 or 1080")


def resolve_spec(req: MakeRequest, parsed: BriefSpec | None = None) -> BriefSpec:
    """Brief text first (``parsed`` when a planner model already read it), explicit flags override it."""
    spec = parsed or parse_brief(req.brief)
    upd: dict[str, object] = {}
    if req.duration_s is not None:
        upd["duration_s"] = req.duration_s
    if req.aspect is not None:
        upd["aspect"] = req.aspect
    if req.resolution_p is not None:
        upd["resolution_p"] = req.resolution_p
    try:
        return BriefSpec.model_validate({**spec.model_dump(), **upd})
    except ValidationError as e:
        raise _spec_error(e, "the request's") from e
