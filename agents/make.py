"""Job requests and the pieces of the pipeline the planner graph (agents/graph.py) shares with
the CLI: the request model, brief + flag resolution, narration choice and timeline assembly.
`make_video` runs the whole graph with the storyline auto-approved.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from agents.brief import parse_brief
from tools.core.errors import ToolInputError
from tools.core.models import BriefSpec, Job, Material, MusicClip, NarrationLine, ProductInfo, RenderSpec, Storyline, Timeline, VideoClip, VoiceClip
from tools.core.settings import get_settings
from tools.render.subtitles import cues_for_line
from tools.narrate.tts import TAIL_S
from tools.core.workspace import Workspace, atomic_write_text

STILL_MOTIONS = ("zoom_in", "pan_right", "zoom_out", "pan_left", "pan_up", "pan_down")
#: Voice starts this long after its shot does, so the cut is seen before the line is heard.
VOICE_LEAD_S = 0.12


class MakeRequest(BaseModel):
    """Everything `make` needs."""

    materials_dir: str
    product_path: str
    music_path: str | None = None
    brief: str = ""
    duration_s: float | None = None
    aspect: str | None = None
    resolution_p: int | None = None
    out_path: str | None = None


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
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise ToolInputError(f"{field} = {err.get('input')!r}: {err['msg']}",
                             hint="ask for a duration between 1 and 600 seconds, aspect 9:16, 1:1 or 16:9, resolution 720 or 1080") from e


def build_timeline(job_id: str, story: Storyline, lines: list[NarrationLine], speech: list[dict], spec: RenderSpec,
                   materials: dict[str, Material], language: str, music_path: str | None, music_gain_db: float = -14.0,
                   music_offset_s: float = 0.0) -> Timeline:
    """Place shots, voice lines and subtitles on the timeline."""
    video, voice, subs, t = [], [], [], 0.0
    k_still, prev_still = 0, False
    for beat, line, sp in zip(story.beats, lines, speech):
        m = materials[beat.material_id]
        still = m.kind == "image"
        # photo to photo: a short crossfade that ends on the cut frame (the cut stays on its bar)
        transition = "crossfade" if still and prev_still else "cut"
        prev_still = still
        motion = STILL_MOTIONS[k_still % len(STILL_MOTIONS)] if still else "none"
        k_still += still
        video.append(VideoClip(beat_index=beat.index, material_id=m.id, source_path=m.path, is_still=still,
                               source_aspect=(m.width_px / m.height_px) if m.width_px and m.height_px else None,
                               in_s=0.0 if still else beat.in_s, start_s=round(t, 6), duration_s=beat.duration_s, motion=motion,
                               transition_in=transition))
        lead = min(VOICE_LEAD_S, max(0.0, beat.duration_s - TAIL_S - sp["duration_s"]))
        v_start = round(t + lead, 4)
        voice.append(VoiceClip(beat_index=beat.index, audio_path=sp["path"], start_s=v_start, duration_s=sp["duration_s"]))
        subs += cues_for_line(line.text, line.language, spec.aspect, v_start, v_start + sp["duration_s"])
        t += beat.duration_s
    duration = round(sum(b.duration_s for b in story.beats), 6)
    music = [MusicClip(path=music_path, offset_s=music_offset_s, duration_s=duration, gain_db=music_gain_db)] if music_path else []
    return Timeline(job_id=job_id, duration_s=duration, render=spec, language=language, video=video, voice=voice,  # type: ignore[arg-type]
                    music=music, subtitles=subs, narration=lines)


def narrate_lines(product: ProductInfo, story: Storyline, language: str, given: list[dict] | None = None,
                  keyframes: dict[int, list[str]] | None = None) -> tuple[list[NarrationLine], str | None]:
    """Narration for every beat; lines in ``given`` that still fit their beat (same label and range)
    and lines the user wrote (same label) are kept. The served narrator (``ADREEL_NARRATOR=vllm``) gets each beat's keyframes; when it
    fails, the embedded narrator writes the lines and the returned note says so."""
    keep: dict[int, NarrationLine] = {}
    for d in given or []:
        ln = NarrationLine.model_validate(d)
        if ln.beat_index < len(story.beats):
            b = story.beats[ln.beat_index]
            if (ln.label, ln.word_min, ln.word_max) == (b.label, b.word_min, b.word_max) and ln.in_range:
                keep[ln.beat_index] = ln
            elif ln.source == "user" and ln.label == b.label and ln.text.strip():
                keep[ln.beat_index] = ln  # the user's own words are kept; TTS fits its rate to the shot
    todo = [b for b in story.beats if b.index not in keep]
    note = None
    fresh: dict[int, NarrationLine] = {}
    if todo and get_settings().narrator == "vllm":
        from serving.narrator_client import ServedBeat, ServedNarrateInput, narrate_served

        n = len(story.beats)
        beats = [ServedBeat(label=b.label, word_min=b.word_min, word_max=b.word_max, aspect=b.aspect, rel_pos=b.index / max(1, n - 1),
                            keyframes=(keyframes or {}).get(b.index, [])) for b in todo]
        out = narrate_served(ServedNarrateInput(product=product, beats=beats, language=language))  # type: ignore[arg-type]
        fresh = {b.index: ln.model_copy(update={"beat_index": b.index}) for b, ln in zip(todo, out.lines)}
        if out.backend != "vllm":
            note = f"served narrator failed ({out.fallback_reason}); the embedded narrator wrote the lines"
    elif todo:
        from tools.narrate.narrator import narrate_story_beats

        fresh = dict(zip([b.index for b in todo], narrate_story_beats(product, todo, language)))  # type: ignore[arg-type]
    return [keep.get(b.index) or fresh[b.index] for b in story.beats], note


def text_boxes_for(materials: dict[str, Material], ids: list[str], ws: Workspace) -> dict[str, list[Any]]:
    """Boxes of printed text (normalised source coordinates) on the photos ``ids``, for the
    renderer (crops keep the text, subtitles move off it). OCR runs once per photo: results are
    cached by content id under ``cache/ocr/``. A photo OCR cannot read gets no boxes (logged by
    the caller as nothing more than a missed placement)."""
    from tools.understand.ocr import ocr_image
    from tools.render.reframe import Box

    out: dict[str, list[Any]] = {}
    cache_dir = ws.inside("cache/ocr")
    cache_dir.mkdir(parents=True, exist_ok=True)
    for mid in dict.fromkeys(ids):
        m = materials.get(mid)
        if m is None or m.kind != "image":
            continue
        f = cache_dir / f"{mid}.json"
        if f.is_file():
            boxes = [Box.model_validate(b) for b in json.loads(f.read_text(encoding="utf-8"))]
        else:
            res = ocr_image(ws.abs(m.path))
            w, h = max(1, res.width_px), max(1, res.height_px)
            boxes = []
            for ln in res.lines:
                x0, y0, x1, y1 = ln.bbox_px
                boxes.append(Box(x0=min(1, max(0, x0 / w)), y0=min(1, max(0, y0 / h)), x1=min(1, max(0, x1 / w)), y1=min(1, max(0, y1 / h))))
            atomic_write_text(f, json.dumps([b.model_dump() for b in boxes]))
        if boxes:
            out[mid] = boxes
    return out


def clip_shots_for(materials: list[Material], ws: Workspace) -> dict[str, list[tuple[float, float]]]:
    """Shots of every clip (PySceneDetect via ``detect_shots``), cached by content id under
    ``cache/shots/``, so that the storyline never puts a cut of the source inside a beat."""
    from tools.understand.shots import shots_for

    out: dict[str, list[tuple[float, float]]] = {}
    cache_dir = ws.inside("cache/shots")
    cache_dir.mkdir(parents=True, exist_ok=True)
    for m in materials:
        if m.kind != "video":
            continue
        f = cache_dir / f"{m.id}.json"
        if f.is_file():
            spans = [tuple(x) for x in json.loads(f.read_text(encoding="utf-8"))]
        else:
            res = shots_for(ws.abs(m.path))
            spans = [(round(sh.start_s, 6), round(sh.end_s, 6)) for sh in res.shots]
            atomic_write_text(f, json.dumps(spans))
        out[m.id] = spans  # type: ignore[assignment]
    return out


def make_video(req: MakeRequest, ws: Workspace | None = None, log: Callable[[str], None] = print) -> Job:
    """Run a whole job through the planner graph with the storyline auto-approved."""
    from agents.graph import Planner, load_job

    ws = ws or Workspace(get_settings().workspace)
    planner = Planner(ws, log)
    job_id = planner.start(req, auto_approve=True)
    return load_job(ws, job_id)
