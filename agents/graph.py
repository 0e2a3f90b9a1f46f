"""The planner graph (LangGraph StateGraph): nodes that call registered tools, and routing.

    brief → ingest → retrieve → score → music → storyline → draft → review ⏸ → narrate → tts
          → render → thumbnail → explain

Every node reads the state, calls tools through the registry (``call``: validated input, typed
output) or a backend of ``agents.deps``, and returns a partial state update; every rule about
media, timing or text lives in a tool. ``draft`` writes the narration before the review, so the
user sees and can edit every line with its shot; ``review`` is a human-in-the-loop interrupt
(skipped when ``auto_approve``); ``narrate`` then keeps every line that still fits its beat.

Each step declares the state keys it reads (:data:`STEP_READS`); a chat edit names the keys it
changes and :func:`first_step_reading` says where the graph must start again, so that a
"shorter" edit re-cuts the storyline without re-ingesting or re-scoring the library. Job
bookkeeping (job.json, checkpoints) lives in ``agents.planner``.
"""

from __future__ import annotations

import contextvars
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from agents.brief import RuleBriefParser, resolve_spec
from agents.deps import Deps
from agents.state import MakeRequest, PlanState
from tools.core.backends import default_backend, with_fallback
from tools.core.errors import AdReelError, InfeasibleError, MediaError, ToolInputError
from tools.core.models import (
    BriefSpec,
    Language,
    Material,
    MusicAnalysis,
    NarrationLine,
    ProductInfo,
    RenderSpec,
    Storyline,
)
from tools.core.paths import allow_inputs, check_export, export, use_workspace
from tools.core.registry import call
from tools.core.settings import get_settings
from tools.core.workspace import Workspace, atomic_write_model, product_id_for
from tools.explain.excitement import explain_excitement
from tools.explain.thumbnail import make_gif_thumbnail
from tools.narrate.lines import narrate_beats, shorter_beats
from tools.narrate.tts import synthesize_speech
from tools.render.brand import (
    BrandKit,
    brand_extra_s,
    brand_style,
    brand_timeline,
    record_job_brand,
    require_brand_kit,
    unbranded_ocr_photos,
)
from tools.render.engine import render_timeline
from tools.render.timeline import build_timeline, max_voice_s
from tools.story.bars import bar_grid, tempo_for_mood
from tools.story.music import analyze_music, generate_music
from tools.story.storyline import plan_storyline
from tools.understand.index import index_materials, material_text, search_materials
from tools.understand.ingest import ingest_materials
from tools.understand.ocr import read_text_boxes
from tools.understand.product import load_product
from tools.understand.relevance import rate_relevance
from tools.understand.select import select_materials
from tools.understand.shots import split_clips

Step = Literal["brief", "ingest", "retrieve", "score", "music", "storyline", "draft", "review", "narrate", "tts", "render",
               "thumbnail", "explain"]
STEPS: tuple[Step, ...] = ("brief", "ingest", "retrieve", "score", "music", "storyline", "draft", "review", "narrate", "tts",
                           "render", "thumbnail", "explain")

#: What each step reads: a state key, or ``spec.<field>`` for one field of the brief.
STEP_READS: dict[Step, frozenset[str]] = {
    "brief": frozenset({"request"}),
    "ingest": frozenset({"request", "product_id"}),
    "retrieve": frozenset({"materials", "spec.emphasis"}),
    "score": frozenset({"materials", "product", "hero_id", "spec.emphasis"}),
    "music": frozenset({"music_path", "spec.duration_s", "spec.mood", "spec.tempo_bpm"}),
    "storyline": frozenset({"materials", "clip_shots", "music", "product", "language", "hero_id", "left_out", "spec.duration_s", "brand",
                            "spec.resolution_p", "spec.emphasis"}),
    "draft": frozenset({"storyline", "product", "language", "lines"}),
    "review": frozenset({"storyline", "lines", "auto_approve"}),
    "narrate": frozenset({"storyline", "product", "language", "lines"}),
    "tts": frozenset({"lines", "storyline", "product", "language"}),
    "render": frozenset({"storyline", "lines", "speech", "materials", "music_path", "music_gain_db", "music_offset_s", "brand", "end_card",
                         "spec.aspect", "spec.resolution_p"}),
    "thumbnail": frozenset({"artifacts"}),
    "explain": frozenset({"artifacts"}),
}


#: Photos whose printed text the score step reads (the best-scored ones; a 15–60 s storyline
#: uses 4–20): OCR is the slowest per-photo feature, so a 500-photo library is not read before
#: the first video. Photos beyond it are read when a render uses them.
OCR_EAGER_PHOTOS = 24


def first_step_reading(changed: Iterable[str]) -> Step:
    """The earliest step that reads any of ``changed`` (keys, or ``spec.<field>``; ``spec`` alone
    means every field): the graph must run again from there."""
    ch = set(changed)
    for s in STEPS:
        reads = STEP_READS[s]
        if ch & reads or ("spec" in ch and any(r.startswith("spec.") for r in reads)):
            return s
    raise ValueError(f"no step reads {sorted(ch)}")


def who_did(role: str, chosen: str, fallback_note: str | None) -> str:
    """The job record's line for a role: the backend that did the work, or the default and why."""
    if fallback_note:
        return f"{default_backend(role)} (fallback: {fallback_note})"
    return chosen


def render_spec(spec: BriefSpec) -> RenderSpec:
    """The job's output format, from its brief (one place: storyline frames and render agree)."""
    return RenderSpec(aspect=spec.aspect, resolution_p=spec.resolution_p)


# --------------------------------------------------------------------------- typed state access
def _spec(st: PlanState) -> BriefSpec:
    return BriefSpec.model_validate(st["spec"])


def _product(st: PlanState) -> ProductInfo:
    return ProductInfo.model_validate(st["product"])


def _materials(st: PlanState) -> list[Material]:
    return [Material.model_validate(m) for m in st["materials"]]


def _story(st: PlanState) -> Storyline:
    return Storyline.model_validate(st["storyline"])


def _user_music_va(st: PlanState) -> tuple[float, float] | None:
    """Valence and arousal of the seller's own music (None for generated music or none)."""
    ma = st.get("music") or {}
    if ma.get("source") != "user" or ma.get("valence") is None or ma.get("arousal") is None:
        return None
    return float(ma["valence"]), float(ma["arousal"])


def _lines(st: PlanState) -> list[NarrationLine]:
    return [NarrationLine.model_validate(x) for x in st.get("lines") or []]


def brand_name(st: PlanState) -> str | None:
    """The job's brand kit name: the state's (chat edits change it), else the request's."""
    return st["brand"] if "brand" in st else MakeRequest.model_validate(st["request"]).brand


def _brand_kit(ws: Workspace, st: PlanState) -> BrandKit | None:
    """The job's brand kit, or None."""
    name = brand_name(st)
    return require_brand_kit(ws, name) if name else None


def _language(st: PlanState) -> Language:
    return "en" if st["language"] == "en" else "zh"


Node = Callable[[PlanState], dict[str, Any]]
Recorder = Callable[[str, str], None]   # (job id, warning)


def _confined(ws: Workspace, fn: Node) -> Node:
    """Run a node with ``ws`` as the tools' workspace and the job's request paths as the only
    outside files they may read (``tools.core.paths``): whatever a tool input says, it stays there."""

    def node(st: PlanState) -> dict[str, Any]:
        req = st.get("request")
        inputs = MakeRequest.model_validate(req).inputs() if req else []
        with use_workspace(ws.root), allow_inputs(*inputs, replace=True):
            return fn(st)

    return node


def build_graph(ws: Workspace, deps: Deps, warn: Recorder, checkpointer: Any = None, wrap: Callable[[Step, Node], Node] | None = None):  # noqa: ANN201 - CompiledStateGraph
    """Compile the planner graph over workspace ``ws`` with backends ``deps``; ``warn`` records a
    warning in the job, ``wrap`` decorates each node (the planner's bookkeeping)."""

    def note(st: PlanState, text: str) -> str:
        warn(st["job_id"], text)
        return text

    def brief(st: PlanState) -> dict[str, Any]:
        req = MakeRequest.model_validate(st["request"])
        product = load_product(req.product_path)
        notes = []
        parsed, fb = None, None
        if req.brief:
            (parsed, fixes), fb = with_fallback("planner", deps.brief_parser.name, lambda: deps.brief_parser.parse(req.brief),
                                                lambda: RuleBriefParser().parse(req.brief))
            notes += [note(st, n) for n in (fb, fixes) if n]
        who = {"planner": who_did("planner", deps.brief_parser.name, fb if req.brief else None)}
        spec = resolve_spec(req, parsed)
        pid = product_id_for(product.name)
        atomic_write_model(ws.product_dir(pid) / "product.json", product)
        return {"spec": spec.model_dump(mode="json"), "product": product.model_dump(mode="json"), "product_id": pid,
                "language": spec.language or product.language, "notes": notes, "backends": who, "brand": req.brand}

    def ingest(st: PlanState) -> dict[str, Any]:
        req = MakeRequest.model_validate(st["request"])
        pid = st["product_id"]
        with ws.product_lock(pid):
            ing = call(ingest_materials, {"product_id": pid, "paths": [req.materials_dir], "workspace": str(ws.root)})
        notes = [note(st, f"skipped {sk.name}: {sk.reason}") for sk in ing.skipped]
        by_id = {m.id: m for m in ing.materials}
        visual = [by_id[i] for i in ing.taken if by_id[i].kind in ("image", "video")]
        if not visual:
            skipped = "; ".join(f"{sk.name} ({sk.reason.split(' — ')[0]})" for sk in ing.skipped)
            raise InfeasibleError(f"no usable photos or clips in {req.materials_dir}" + (f"; skipped: {skipped}" if skipped else ""),
                                  hint="add JPEG/PNG/WebP photos or MP4/MOV/MKV/WebM clips"
                                  + (" (the other files were skipped, see warnings)" if ing.skipped else ""))
        hero_id = None
        if req.hero_path:
            with ws.product_lock(pid):
                her = call(ingest_materials, {"product_id": pid, "paths": [req.hero_path], "workspace": str(ws.root)})
            hero = next((m for m in her.materials if her.taken and m.id == her.taken[0] and m.kind == "image"), None)
            if hero is None:
                notes.append(note(st, f"hero photo not used: {her.skipped[0].reason if her.skipped else 'not a photo'}"))
            else:
                hero_id = hero.id
                if hero.id not in {m.id for m in visual}:
                    visual.insert(0, hero)
        music_path = None
        if req.music_path:
            with ws.product_lock(pid):
                mus = call(ingest_materials, {"product_id": pid, "paths": [req.music_path], "workspace": str(ws.root)})
            got = {m.id: m for m in mus.materials}
            if mus.skipped or not mus.taken or got[mus.taken[0]].kind != "audio":
                notes.append(note(st, f"music not used: {mus.skipped[0].reason if mus.skipped else 'not an audio file'}"))
            else:
                music_path = got[mus.taken[0]].path
        return {"materials": [m.model_dump(mode="json") for m in visual], "music_path": music_path, "hero_id": hero_id, "notes": notes}

    def retrieve(st: PlanState) -> dict[str, Any]:
        """Index the library's photos and put what the brief stresses first."""
        mats = _materials(st)
        index_dir = str(ws.product_dir(st["product_id"]) / "index")
        items = [{"id": m.id, "image_path": str(ws.abs(m.path)),
                  "text": material_text(original_name=m.original_name, caption=m.caption, ocr_text=m.ocr_text)}
                 for m in mats if m.kind == "image"]
        notes: list[str] = []
        if items:
            with ws.product_lock(st["product_id"]):
                _, fb = with_fallback("encoder", deps.encoder.name,
                                      lambda: call(index_materials, {"index_dir": index_dir, "items": items, "encoder": deps.encoder}),
                                      lambda: call(index_materials, {"index_dir": index_dir, "items": items, "rebuild": True}))
            if fb:
                notes.append(note(st, fb))
        emphasis = [e for e in _spec(st).emphasis or [] if e]
        if not emphasis or not items:
            return {"notes": notes}
        with ws.product_lock(st["product_id"]):
            hits = call(search_materials, {"index_dir": index_dir, "text": " ".join(emphasis), "k": len(items)}).hits
        top = [h.id for h in hits if h.score > 0]
        ranked = sorted(mats, key=lambda m: top.index(m.id) if m.id in top else len(top))
        return {"materials": [m.model_dump(mode="json") for m in ranked], "notes": notes + [f"materials ranked for: {', '.join(emphasis)}"]}

    def score(st: PlanState) -> dict[str, Any]:
        """Near-duplicates out, scores in (``select_materials``); printed text read and relevance to the
        product rated (``read_text_boxes``, ``rate_relevance``); clips split into shots."""
        every_photo = [{"id": m.id, "path": m.path} for m in _materials(st) if m.kind == "image"]
        ocr_on = bool(every_photo) and get_settings().subtitle_ocr

        def read_texts(photos: list[dict[str, str]]) -> tuple[dict[str, str], str | None]:
            try:
                return call(read_text_boxes, {"workspace": str(ws.root), "photos": photos}).texts, None
            except AdReelError as e:  # no OCR engine: relevance from names and pictures only
                return {}, f"printed text not read ({e})"

        with ThreadPoolExecutor(1) as side:
            # when every photo is read anyway (a library up to OCR_EAGER_PHOTOS), the printed text is
            # read while the photos are scored: OCR's pool and the scoring share the cores instead of
            # taking turns (the texts do not depend on the scores; nothing reads them before relevance)
            early = side.submit(contextvars.copy_context().run, read_texts, every_photo) \
                if ocr_on and len(every_photo) <= OCR_EAGER_PHOTOS else None
            sel = call(select_materials, {"workspace": str(ws.root), "product_id": st["product_id"], "materials": st["materials"],
                                          "keep_order": bool(_spec(st).emphasis), "hero_id": st.get("hero_id")})
            notes = list(sel.notes)
            mats = list(sel.materials)
            texts: dict[str, str] = {}
            why_not = None
            if early is not None:
                texts, why_not = early.result()
            elif ocr_on:
                # a large library: the printed text of the photos a storyline can use, the best-scored
                # first (and the hero); the rest is read when a render uses it (its cache is per photo)
                # (a near-duplicate is read too: the copy with a selling point printed on it beats its twin)
                photos = sorted(({"id": m.id, "path": m.path} for m in mats if m.kind == "image"),
                                key=lambda p: (p["id"] != st.get("hero_id"), p["id"] in sel.left_out))[:OCR_EAGER_PHOTOS]
                texts, why_not = read_texts(photos)
        if why_not:
            notes.append(note(st, why_not))
        mats = [m.model_copy(update={"ocr_text": texts.get(m.id, m.ocr_text)}) for m in mats]
        clips = [{"id": m.id, "path": m.path} for m in mats if m.kind == "video"]
        shots: dict[str, list[tuple[float, float]]] = {}
        if clips:
            try:
                shots = call(split_clips, {"workspace": str(ws.root), "clips": clips}).shots
            except AdReelError as e:  # a clip the detector cannot read is still usable whole
                notes.append(f"clips not split into shots: {e}")
        split = sum(len(v) > 1 for v in shots.values())
        if split:
            notes.append(f"{split} clip(s) split into their shots")
        items = [{"id": m.id, "path": str(ws.abs(m.path)), "at_s": None if m.kind == "image" else round((m.duration_s or 0.0) / 2, 3),
                  "text": material_text(original_name=m.original_name, caption=m.caption, ocr_text=m.ocr_text)} for m in mats]
        payload = {"product": st["product"], "items": items, "hero_id": st.get("hero_id")}
        rel, fb = with_fallback("encoder", deps.encoder.name, lambda: call(rate_relevance, {**payload, "encoder": deps.encoder}),
                                lambda: call(rate_relevance, payload))
        if fb:
            notes.append(note(st, fb))
        by_id = {r.id: r for r in rel.items}
        who = {"encoder": who_did("encoder", deps.encoder.name, fb)}
        mats = [m.model_copy(update={"quality": {**m.quality, "relevance": by_id[m.id].relevance, "reference": by_id[m.id].reference,
                                                 "text_match": by_id[m.id].text, "packshot": by_id[m.id].packshot,
                                                 "shot_size": by_id[m.id].shot_size},
                                     "shows_facts": by_id[m.id].facts}) for m in mats]
        if rel.reference_id:
            ref = next(m.original_name for m in mats if m.id == rel.reference_id)
            notes.append(f"relevance measured against '{ref}' ({rel.reference_why})")
        return {"materials": [m.model_dump(mode="json") for m in mats], "left_out": dict(sel.left_out),
                "clip_shots": {k: [list(x) for x in v] for k, v in shots.items()}, "notes": notes, "backends": who}

    def music(st: PlanState) -> dict[str, Any]:
        """Analyse the user's track, or generate one for the wanted mood: either way a bar grid."""
        spec, notes = _spec(st), []
        path = st.get("music_path")
        ma = None
        if path:
            try:
                ma = call(analyze_music, {"path": str(ws.abs(path)), "tempo_hint_bpm": spec.tempo_bpm})
            except (MediaError, ToolInputError) as e:  # no onsets, no beat: like corrupt music, fall back to generated music
                mine = MakeRequest.model_validate(st["request"]).music_path or path
                why = e.message.replace(path.rsplit("/", 1)[-1], mine.replace("\\", "/").rsplit("/", 1)[-1])  # the user's file name, not the library id
                notes.append(note(st, f"your music was not used ({why}); generated music instead"))
        if ma is None:
            mood = spec.mood or "excited"
            tempo = tempo_for_mood(mood, spec.tempo_bpm)
            ma = call(generate_music, {"out_dir": str(ws.job_dir(st["job_id"]) / "music"), "tempo_bpm": tempo, "mood": mood,
                                       "duration_s": spec.duration_s + 1.0})
            path = ws.rel(ma.path)
            notes.append(f"generated {mood} background music at {tempo:g} bpm")
        atomic_write_model(ws.job_dir(st["job_id"]) / "music.json", ma)
        return {"music": ma.model_dump(mode="json"), "music_path": path, "notes": notes}

    def storyline(st: PlanState) -> dict[str, Any]:
        spec, notes = _spec(st), []
        offset, grid = bar_grid(MusicAnalysis.model_validate(st["music"]) if st.get("music") else None)
        fps = render_spec(spec).fps
        kit = _brand_kit(ws, st)  # intro, outro and end card take their seconds from the story
        story_s = round(spec.duration_s - brand_extra_s(ws, kit, fps, spec.duration_s), 6) if kit else spec.duration_s
        story = call(plan_storyline, {"materials": st["materials"], "product": st["product"], "duration_s": story_s,
                                      "fps": fps, "language": st["language"], "cut_grid_s": grid,
                                      "clip_shots": st.get("clip_shots") or {}, "hero_id": st.get("hero_id"),
                                      "emphasis": spec.emphasis, "left_out": st.get("left_out") or {},
                                      "music_va": _user_music_va(st)})
        notes += [note(st, n) for n in story.notes]  # the storyline says when cuts leave the bars
        atomic_write_model(ws.job_dir(st["job_id"]) / "storyline.json", story)
        return {"storyline": story.model_dump(mode="json"), "music_offset_s": offset, "notes": notes}

    def review(st: PlanState) -> dict[str, Any]:
        if st.get("auto_approve"):
            return {}
        decision = interrupt({"kind": "review_storyline", "storyline": st["storyline"], "lines": st.get("lines")})
        if isinstance(decision, dict) and decision.get("storyline"):
            story = Storyline.model_validate(decision["storyline"])
            atomic_write_model(ws.job_dir(st["job_id"]) / "storyline.json", story)
            return {"storyline": story.model_dump(mode="json"), "notes": ["storyline edited by the user"]}
        return {"notes": ["storyline approved"]}

    def narrate(st: PlanState) -> dict[str, Any]:
        story, mats = _story(st), {m.id: m for m in _materials(st)}
        keyframes = {b.index: [str(ws.abs(mats[b.material_id].path))] for b in story.beats if mats[b.material_id].kind == "image"}
        lines, fb = narrate_beats(deps.narrator, _product(st), story, _language(st), given=st.get("lines"), keyframes=keyframes)
        sources = sorted({ln.source for ln in lines})
        return {"lines": [ln.model_dump(mode="json") for ln in lines], "notes": [note(st, fb)] if fb else [],
                "backends": {"narrator": ", ".join(sources) + (f" — {fb}" if fb else "")}}

    def tts(st: PlanState) -> dict[str, Any]:
        """Speak every line; a line too long to speak at a natural rate is written again shorter
        (once, the narrator's lines only: the user's own words are kept and compressed)."""
        story, lines = _story(st), _lines(st)

        def speak(ls: list[NarrationLine]):  # noqa: ANN202 - SynthesizeOutput
            return call(synthesize_speech, {"lines": ls, "out_dir": str(ws.job_dir(st["job_id"]) / "voice"),
                                            "max_durations_s": [max_voice_s(b.duration_s) for b in story.beats],
                                            "engine": deps.speech.engine, "endpoint": deps.speech.endpoint,
                                            "voices": list(deps.speech.voices)})

        out = speak(lines)
        notes = [note(st, out.fallback_reason)] if out.fallback_reason else []
        redo = [i for i in out.over_rate_beats if lines[i].source != "user"]
        if redo:
            shorter = shorter_beats(story, lines, {c.beat_index: c.tempo for c in out.clips}, redo)
            fresh, fb = narrate_beats(deps.narrator, _product(st), shorter, _language(st),
                                      given=[ln for ln in lines if ln.beat_index not in redo])
            if fb:
                notes.append(note(st, fb))
            lines = [fresh[i] if i in redo else ln for i, ln in enumerate(lines)]
            out = speak(lines)
            notes.append(f"line(s) {', '.join(str(i + 1) for i in redo)} were too long to speak naturally and were written shorter")
        return {"speech": [{"path": ws.rel(c.path), "duration_s": c.duration_s} for c in out.clips], "notes": notes,
                "lines": [ln.model_dump(mode="json") for ln in lines],
                "backends": {"speech": who_did("speech", deps.speech.engine, out.fallback_reason)}}

    def render(st: PlanState) -> dict[str, Any]:
        jd = ws.job_dir(st["job_id"])
        spec = _spec(st)
        prev = st.get("timeline")
        version = (prev["version"] + 1) if prev else 1
        tl = call(build_timeline, {"job_id": st["job_id"], "storyline": st["storyline"], "lines": st["lines"], "speech": st["speech"],
                                   "materials": {m["id"]: m for m in st["materials"]}, "render": render_spec(spec),
                                   "language": st["language"], "music_path": st.get("music_path"),
                                   **({"music_gain_db": st["music_gain_db"]} if st.get("music_gain_db") is not None else {}),
                                   "music_offset_s": float(st.get("music_offset_s") or 0.0), "version": version})
        kit = _brand_kit(ws, st)
        if kit:
            tl = brand_timeline(tl, ws, kit, _product(st), _materials(st), st.get("hero_id"), jd, get_settings().subtitle_font,
                                **(st.get("end_card") or {}))
        atomic_write_model(jd / f"timeline.v{version}.json", tl)
        atomic_write_model(jd / "timeline.json", tl)
        boxes: dict[str, Any] = {}
        if get_settings().subtitle_ocr:
            photos = unbranded_ocr_photos(tl)
            try:
                boxes = call(read_text_boxes, {"workspace": str(ws.root), "photos": photos}).boxes if photos else {}
            except AdReelError as e:  # no OCR engine: render anyway, subtitles at the bottom
                note(st, f"printed text not read ({e}); subtitles stay at the bottom")
        style = brand_style(ws, kit) if kit else None
        out = call(render_timeline, {"timeline": tl, "workspace": str(ws.root), "out_dir": str(jd), "text_boxes": boxes,
                                     "brand": style.model_dump() if style else None})
        record_job_brand(jd, style)  # the exports of this timeline carry its logo and colours
        shutil.copyfile(out.video_path, jd / f"video.v{version}.mp4")
        arts = dict(st.get("artifacts") or {})
        arts.update(video=ws.rel(out.video_path), timeline=ws.rel(jd / "timeline.json"), subtitles_srt=ws.rel(out.srt_path))
        if out.otio_path:
            arts["otio"] = ws.rel(out.otio_path)
        notes = [f"rendered {out.segments_rendered} of {out.segments_total} segments (the rest from cache)"] if version > 1 else []
        req = MakeRequest.model_validate(st["request"])
        if req.out_path:
            dst = check_export(req.out_path, ".mp4", workspace=ws.root, inputs=req.inputs())  # again: it may have changed since
            try:
                export(out.video_path, dst)
            except OSError as e:
                raise ToolInputError(f"--out {req.out_path!r} could not be written ({e.strerror or e})",
                                     hint=f"free some space or choose another file; the video is in {jd}") from e
        return {"timeline": tl.model_dump(mode="json"), "artifacts": arts, "notes": notes}

    def thumbnail(st: PlanState) -> dict[str, Any]:
        return _optional(st, make_gif_thumbnail, "thumbnail_gif", "gif_path")

    def explain(st: PlanState) -> dict[str, Any]:
        return _optional(st, explain_excitement, "explanation_png", "png_path")

    def _optional(st: PlanState, tool: Callable[..., Any], art_key: str, out_field: str) -> dict[str, Any]:
        """A tool whose failure must not lose the video: a warning instead of a failed job."""
        jd = ws.job_dir(st["job_id"])
        try:
            out = call(tool, {"video_path": str(ws.abs(st["artifacts"]["video"])), "out_dir": str(jd)}).model_dump()
        except AdReelError as e:
            return {"notes": [note(st, f"{tool.__name__} failed: {e}")]}
        arts = dict(st["artifacts"])
        if out.get(out_field):
            arts[art_key] = ws.rel(out[out_field])
        return {"artifacts": arts}

    nodes: dict[Step, Node] = {"brief": brief, "ingest": ingest, "retrieve": retrieve, "score": score, "music": music,
                               "storyline": storyline, "draft": narrate, "review": review, "narrate": narrate, "tts": tts,
                               "render": render, "thumbnail": thumbnail, "explain": explain}
    assert set(nodes) == set(STEPS)
    g = StateGraph(PlanState)
    for name in STEPS:
        fn = _confined(ws, nodes[name])
        g.add_node(name, wrap(name, fn) if wrap else fn)
    g.add_edge(START, STEPS[0])
    for a, b in zip(STEPS, STEPS[1:]):
        g.add_edge(a, b)
    g.add_edge(STEPS[-1], END)
    return g.compile(checkpointer=checkpointer)
