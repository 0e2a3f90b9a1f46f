"""Chat edits of a finished job, rule-based (zh and en), each a new timeline version.

Every edit changes the planner state and re-runs only the steps that read what it changed
(``Planner.rerun_with`` over the steps' declared reads): a new aspect re-renders, a new length
re-cuts the storyline without re-ingesting or re-scoring, a moved shot keeps its narration, a
new label re-writes one line. ``undo`` restores the previous version's state, timeline and video.
"""

from __future__ import annotations

import json
import re
import shutil
from typing import Any, Literal

from agents.planner import Planner
from tools.core.errors import ToolInputError
from tools.core.models import DEFAULT_MUSIC_GAIN_DB, SCRIPT_LABELS, Model, Storyline
from tools.core.workspace import atomic_write_json
from tools.story.labels import label_for_aspect, label_from_words

EditKind = Literal["duration", "aspect", "move_first", "relabel", "mood", "undo", "brand", "end_card"]

_ORDINAL_ZH = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


class Edit(Model):
    """One parsed chat edit."""

    kind: EditKind
    value: Any = None
    index: int | None = None


_BRAND_OFF = re.compile(r"\b(?:no|remove(?: the)?|without(?: the)?|drop(?: the)?) brand(?: kit)?\b|去掉品牌|不要品牌|取消品牌")
_BRAND_ON = re.compile(r"(?:use|apply|with|switch to)(?: the)? brand(?: kit)? ([A-Za-z0-9][A-Za-z0-9_-]{0,39})\b"
                       r"|(?:use|apply)(?: the)? ([A-Za-z0-9][A-Za-z0-9_-]{0,39}) brand\b"
                       r"|(?:用|使用|换成|套用)\s*([A-Za-z0-9][A-Za-z0-9_-]{0,39})\s*(?:的)?品牌|品牌(?:改成|换成|用|设为)\s*([A-Za-z0-9][A-Za-z0-9_-]{0,39})",
                       re.IGNORECASE)
_OFFER = re.compile(r"(?:end[- ]card )?offer(?: text)?\s*(?:to|:|：|=)\s*(.+)|(?:结尾|尾卡|片尾)?优惠(?:信息|文字)?(?:改成|改为|换成|设为|：|:)\s*(.+)", re.IGNORECASE)
_CTA = re.compile(r"(?:call to action|cta)\s*(?:to|:|：|=)\s*(.+)|(?:行动号召|号召语|按钮文字)(?:改成|改为|换成|设为|：|:)\s*(.+)", re.IGNORECASE)


def parse_edit(text: str) -> Edit | None:
    """Recognise an edit request; None when the text is not one."""
    t = text.strip().lower()
    if re.search(r"\bundo\b|撤销|恢复上一|回到上一", t):
        return Edit(kind="undo")
    raw = text.strip()
    for pat, key in ((_OFFER, "offer"), (_CTA, "cta")):  # the seller's words, as written (checked first: they may hold numbers)
        m = pat.search(raw)
        if m:
            words = next(g for g in m.groups() if g).strip().strip("\"'“”「」")
            return Edit(kind="end_card", value={key: words[:60]})
    if _BRAND_OFF.search(t):
        return Edit(kind="brand", value=None)
    m = _BRAND_ON.search(raw)
    if m:
        return Edit(kind="brand", value=next(g for g in m.groups() if g))
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:s\b|sec|second|seconds|秒)", t)
    if m and re.search(r"make it|change|改成|改为|变成|缩短到|延长到|length|duration|时长", t):
        return Edit(kind="duration", value=float(m.group(1)))
    if re.search(r"shorter|短一点|缩短|短些", t):
        return Edit(kind="duration", value="shorter")
    if re.search(r"longer|长一点|延长|长些", t):
        return Edit(kind="duration", value="longer")
    for pat, asp in ((r"square|1\s*:\s*1|方形|正方", "1:1"), (r"vertical|portrait|9\s*:\s*16|竖屏|竖版", "9:16"), (r"horizontal|landscape|16\s*:\s*9|横屏|横版", "16:9")):
        if re.search(pat, t):
            return Edit(kind="aspect", value=asp)
    if re.search(r"calm|quiet|soft|舒缓|安静|柔和|轻一点", t):
        return Edit(kind="mood", value="relaxed")
    if re.search(r"upbeat|energetic|louder|欢快|动感|激情|热闹", t):
        return Edit(kind="mood", value="excited")
    m = re.search(r"line\s*(\d+)|第\s*(\d+|[一二两三四五六七八九十])\s*(?:句|行|条)", t)
    if m:
        raw = m.group(1) or m.group(2)
        idx = int(raw) if raw.isdigit() else _ORDINAL_ZH[raw]
        label = label_from_words(t[m.end():]) or label_from_words(t)
        if label:
            return Edit(kind="relabel", index=idx - 1, value=label)
    m = re.search(r"put (?:the )?(.+?) (?:shot|clip|photo|image) first|把(.+?)(?:镜头|画面|照片)?放(?:到|在)?(?:第一个|最前|开头)", t)
    if m:
        return Edit(kind="move_first", value=(m.group(1) or m.group(2)).strip())
    return None


def snapshot(planner: Planner, job_id: str) -> None:
    """Save the state behind the current timeline version (for undo)."""
    st = planner.state(job_id)
    tl = st.get("timeline")
    if tl:
        keep = {k: st.get(k) for k in ("spec", "storyline", "lines", "speech", "timeline", "artifacts", "music_gain_db", "music",
                                       "music_path", "music_offset_s", "brand", "end_card")}
        atomic_write_json(planner.ws.job_dir(job_id) / f"state.v{tl['version']}.json", keep)


def _reindex(story: Storyline, order: list[int]) -> Storyline:
    beats = [story.beats[i].model_copy(update={"index": k}) for k, i in enumerate(order)]
    return Storyline(beats=beats)


def apply_edit(planner: Planner, job_id: str, edit: Edit) -> str:
    """Apply ``edit`` to a finished job; returns a message for the user. Two edits of one job at
    once run one after the other (the job's lock), each on the version the other left."""
    with planner.ws.job_lock(job_id):
        return _apply_edit(planner, job_id, edit)


def _apply_edit(planner: Planner, job_id: str, edit: Edit) -> str:
    st = planner.state(job_id)
    if not st.get("timeline"):
        raise ToolInputError("this job has no video yet", hint="wait for the first render, or approve the storyline first")
    snapshot(planner, job_id)
    spec = dict(st["spec"])
    story = Storyline.model_validate(st["storyline"])
    if edit.kind == "undo":
        return undo(planner, job_id)
    if edit.kind == "duration":
        cur = float(spec["duration_s"])
        new = cur * 0.8 if edit.value == "shorter" else cur * 1.25 if edit.value == "longer" else float(edit.value)
        spec["duration_s"] = round(min(600.0, max(1.0, new)), 2)
        planner.rerun_with(job_id, {"spec": spec, "auto_approve": True, "lines": None})
        return f"length changed from {cur:g} s to {spec['duration_s']:g} s"
    if edit.kind == "aspect":
        spec["aspect"] = edit.value
        planner.rerun_with(job_id, {"spec": spec})
        return f"re-rendered at {edit.value}"
    if edit.kind == "mood" and (st.get("music") or {}).get("source") == "generated":
        spec["mood"], spec["tempo_bpm"] = edit.value, None
        planner.rerun_with(job_id, {"spec": spec, "auto_approve": True, "lines": None})
        return f"new {'calmer' if edit.value == 'relaxed' else 'livelier'} music; shots re-cut to its bars"
    if edit.kind == "mood":
        # the user's own track: only its level changes (the bar grid, the cuts and the lines stay)
        gain = float(st.get("music_gain_db") or DEFAULT_MUSIC_GAIN_DB) + (-6.0 if edit.value == "relaxed" else 4.0)
        planner.rerun_with(job_id, {"music_gain_db": max(-30.0, min(-6.0, gain))})
        return f"music set {'calmer and quieter' if edit.value == 'relaxed' else 'livelier and louder'} (music level {gain:.0f} dB)"
    if edit.kind == "relabel":
        i = edit.index if edit.index is not None else -1
        if not 0 <= i < len(story.beats):
            raise ToolInputError(f"there is no line {i + 1}; the video has {len(story.beats)} lines", hint=f"say a line number from 1 to {len(story.beats)}")
        if edit.value not in SCRIPT_LABELS:
            raise ToolInputError(f"unknown label {edit.value!r}", hint=f"labels: {', '.join(SCRIPT_LABELS)}")
        beats = list(story.beats)
        beats[i] = beats[i].model_copy(update={"label": edit.value})
        lines = [ln for ln in st["lines"] if ln["beat_index"] != i]
        planner.rerun_with(job_id, {"storyline": Storyline(beats=beats).model_dump(mode="json"), "lines": lines, "auto_approve": True})
        return f"line {i + 1} rewritten as {edit.value}"
    if edit.kind == "brand":
        from tools.render.brand import require_brand_kit

        name = edit.value
        if name:
            require_brand_kit(planner.ws, str(name))  # a clear error naming the kits there are
        planner.rerun_with(job_id, {"brand": name, "auto_approve": True})
        return f"brand kit {name} applied (logo, colours, end card)" if name else "brand kit removed"
    if edit.kind == "end_card":
        from agents.graph import brand_name

        if not brand_name(st):
            raise ToolInputError("this video has no brand kit, so it has no end card", hint="say 'use brand NAME' first")
        words = {k: v for k, v in dict(edit.value or {}).items() if k in ("offer", "cta")}
        planner.rerun_with(job_id, {"end_card": {**(st.get("end_card") or {}), **words}})
        return "end card: " + ", ".join(f"{'offer' if k == 'offer' else 'call to action'} “{v}”" for k, v in words.items())
    if edit.kind == "move_first":
        want = str(edit.value)
        label = label_from_words(want) or label_for_aspect(want)
        hits = [b.index for b in story.beats if want in (b.aspect or "").lower() or want in b.reason.lower() or b.label == label]
        if not hits:
            raise ToolInputError(f"no shot matches {want!r}", hint="name a shot by its label or product aspect, e.g. 'put the texture shot first'")
        j = hits[0]
        order = [j] + [k for k in range(len(story.beats)) if k != j]
        new_story = _reindex(story, order)
        # durations move with their shots, so word ranges stay valid; lines follow their beats
        lines = []
        for k, old in enumerate(order):
            ln = next((x for x in st["lines"] if x["beat_index"] == old), None)
            if ln:
                lines.append({**ln, "beat_index": k})
        planner.rerun_with(job_id, {"storyline": new_story.model_dump(mode="json"), "lines": lines, "auto_approve": True})
        return f"moved shot {j + 1} to the front"
    raise ToolInputError(f"cannot apply edit {edit.kind!r}")


def undo(planner: Planner, job_id: str) -> str:
    """Return to the previous timeline version (state, timeline.json and video)."""
    st = planner.state(job_id)
    ver = st["timeline"]["version"]
    jd = planner.ws.job_dir(job_id)
    prev = next((v for v in range(ver - 1, 0, -1) if (jd / f"state.v{v}.json").is_file()), None)
    if prev is None:
        raise ToolInputError("nothing to undo: this is the first version", hint="make an edit first")
    snap = json.loads((jd / f"state.v{prev}.json").read_text(encoding="utf-8"))
    shutil.copyfile(jd / f"timeline.v{prev}.json", jd / "timeline.json")
    shutil.copyfile(jd / f"video.v{prev}.mp4", jd / "video.mp4")
    # the restored version becomes the newest, so a later edit continues from it
    snap["timeline"] = {**snap["timeline"], "version": ver + 1}
    shutil.copyfile(jd / f"timeline.v{prev}.json", jd / f"timeline.v{ver + 1}.json")
    shutil.copyfile(jd / f"video.v{prev}.mp4", jd / f"video.v{ver + 1}.mp4")
    atomic_write_json(jd / f"state.v{ver + 1}.json", snap)
    planner.restore(job_id, snap)
    if "brand" in snap:  # the exports of the restored timeline carry its brand
        from tools.render.brand import brand_style, load_brand_kit, record_job_brand

        kit = load_brand_kit(planner.ws, snap["brand"]) if snap["brand"] else None
        record_job_brand(jd, brand_style(planner.ws, kit) if kit else None)
    return f"restored version {prev}"
