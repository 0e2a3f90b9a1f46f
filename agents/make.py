"""The job runner behind `python app.py make`: brief → ingest → storyline → narration → TTS →
timeline → render, every step through the tool registry, every result saved in the job folder.

Each finished step is recorded in job.json, so a failure leaves everything done so far on disk
and the error says which step failed and why.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ValidationError

from agents.brief import parse_brief
from tools._template_narrator import narrate as template_narrate
from tools.errors import AdReelError, InfeasibleError, ToolInputError
from tools.models import BriefSpec, Job, Material, MusicClip, NarrationLine, ProductInfo, RenderSpec, Storyline, Timeline, VideoClip, VoiceClip
from tools.product import load_product
from tools.registry import run_tool
from tools.settings import get_settings
from tools.subtitles import cues_for_line
from tools.tts import TAIL_S
from tools.workspace import Workspace, atomic_write_model, product_id_for

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


def resolve_spec(req: MakeRequest) -> BriefSpec:
    """Brief text first, explicit flags override it."""
    spec = parse_brief(req.brief)
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
                   materials: dict[str, Material], language: str, music_path: str | None, music_gain_db: float = -14.0) -> Timeline:
    """Place shots, voice lines and subtitles on the timeline."""
    video, voice, subs, t = [], [], [], 0.0
    k_still = 0
    for beat, line, sp in zip(story.beats, lines, speech):
        m = materials[beat.material_id]
        still = m.kind == "image"
        motion = STILL_MOTIONS[k_still % len(STILL_MOTIONS)] if still else "none"
        k_still += still
        video.append(VideoClip(beat_index=beat.index, material_id=m.id, source_path=m.path, is_still=still,
                               source_aspect=(m.width_px / m.height_px) if m.width_px and m.height_px else None,
                               in_s=0.0 if still else beat.in_s, start_s=round(t, 6), duration_s=beat.duration_s, motion=motion))
        lead = min(VOICE_LEAD_S, max(0.0, beat.duration_s - TAIL_S - sp["duration_s"]))
        v_start = round(t + lead, 4)
        voice.append(VoiceClip(beat_index=beat.index, audio_path=sp["path"], start_s=v_start, duration_s=sp["duration_s"]))
        subs += cues_for_line(line.text, line.language, spec.aspect, v_start, v_start + sp["duration_s"])
        t += beat.duration_s
    duration = round(sum(b.duration_s for b in story.beats), 6)
    music = [MusicClip(path=music_path, duration_s=duration, gain_db=music_gain_db)] if music_path else []
    return Timeline(job_id=job_id, duration_s=duration, render=spec, language=language, video=video, voice=voice,  # type: ignore[arg-type]
                    music=music, subtitles=subs, narration=lines)


class JobRunner:
    """Runs one job, recording each step in job.json."""

    def __init__(self, ws: Workspace, job: Job, log: Callable[[str], None] = print) -> None:
        self.ws, self.job, self.log = ws, job, log
        self.dir = ws.job_dir(job.id)
        self.save()

    def save(self) -> None:
        atomic_write_model(self.dir / "job.json", self.job)

    def step(self, name: str, fn: Callable[[], object]) -> object:
        self.log(f"[{self.job.id}] {name} …")
        try:
            out = fn()
        except AdReelError as e:
            self.job.status, self.job.error = "failed", f"step {name}: {e}"
            self.save()
            raise
        self.job.steps_done.append(name)
        self.save()
        return out

    def warn(self, msg: str) -> None:
        self.job.warnings.append(msg)
        self.log(f"warning: {msg}")
        self.save()


def make_video(req: MakeRequest, ws: Workspace | None = None, log: Callable[[str], None] = print) -> Job:
    """Run a whole job on the embedded default; returns the finished Job (artifacts inside)."""
    ws = ws or Workspace(get_settings().workspace)
    product: ProductInfo = load_product(req.product_path)
    spec = resolve_spec(req)
    language = spec.language or product.language
    pid = product_id_for(product.name)
    atomic_write_model(ws.product_dir(pid) / "product.json", product)
    job = Job(id=ws.new_job_id(), product_id=pid, brief=spec)
    run = JobRunner(ws, job, log)
    render_spec = RenderSpec(aspect=spec.aspect, resolution_p=spec.resolution_p)

    ing = run.step("ingest", lambda: run_tool("ingest_materials", {"product_id": pid, "paths": [req.materials_dir], "workspace": str(ws.root)}))
    for sk in ing.skipped:
        run.warn(f"skipped {sk.name}: {sk.reason}")
    by_id = {m.id: m for m in ing.materials}
    visual = [by_id[i] for i in ing.taken if by_id[i].kind in ("image", "video")]
    if not visual:
        raise InfeasibleError(f"no usable photos or clips in {req.materials_dir}",
                              hint="add JPEG/PNG/WebP photos or MP4/MOV/MKV/WebM clips" + (" (the other files were skipped, see warnings)" if ing.skipped else ""))
    music_path = None
    if req.music_path:
        mus = run.step("music", lambda: run_tool("ingest_materials", {"product_id": pid, "paths": [req.music_path], "workspace": str(ws.root)}))
        if mus.skipped or not mus.taken or {m.id: m for m in mus.materials}[mus.taken[0]].kind != "audio":
            reason = mus.skipped[0].reason if mus.skipped else "not an audio file"
            run.warn(f"music not used: {reason}")
        else:
            music_path = {m.id: m for m in mus.materials}[mus.taken[0]].path

    story: Storyline = run.step("storyline", lambda: run_tool("plan_storyline", {  # type: ignore[assignment]
        "materials": [m.model_dump() for m in visual], "product": product.model_dump(), "duration_s": spec.duration_s,
        "fps": render_spec.fps, "language": language}))
    atomic_write_model(run.dir / "storyline.json", story)

    lines: list[NarrationLine] = run.step("narrate", lambda: template_narrate(product, story.beats, language))  # type: ignore[assignment]
    speech = run.step("tts", lambda: run_tool("synthesize_speech", {
        "lines": [ln.model_dump() for ln in lines], "max_durations_s": [max(0.3, b.duration_s - TAIL_S - VOICE_LEAD_S) for b in story.beats],
        "out_dir": str(run.dir / "voice")}))
    sp = [{"path": ws.rel(c.path), "duration_s": c.duration_s} for c in speech.clips]  # type: ignore[attr-defined]

    tl = build_timeline(job.id, story, lines, sp, render_spec, by_id, language, music_path)
    atomic_write_model(run.dir / f"timeline.v{tl.version}.json", tl)
    atomic_write_model(run.dir / "timeline.json", tl)
    job.artifacts.timeline = ws.rel(run.dir / "timeline.json")

    out = run.step("render", lambda: run_tool("render_timeline", {"timeline": tl.model_dump(), "workspace": str(ws.root), "out_dir": str(run.dir)}))
    job.artifacts.video = ws.rel(out.video_path)  # type: ignore[attr-defined]
    job.artifacts.subtitles_srt = ws.rel(out.srt_path)  # type: ignore[attr-defined]
    if req.out_path:
        dst = Path(req.out_path).expanduser()
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out.video_path, dst)  # type: ignore[attr-defined]
    job.status = "done"
    run.save()
    return job
