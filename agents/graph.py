"""The planner graph (LangGraph StateGraph, SQLite checkpointer).

    brief → ingest → retrieve → score → music → storyline → draft → review ⏸ → narrate → tts
          → render → thumbnail → explain

Every node calls tools through the registry and records its step in the job's job.json; the
graph state is checkpointed after every node, so a killed job resumes from its last finished
step (``resume_job``). ``draft`` writes the narration before the review, so the user sees and
can edit every line with its shot; ``review`` is a human-in-the-loop interrupt: the user
approves or edits labels and lines (skipped when ``auto_approve``); ``narrate`` then keeps every
line that still fits its beat and re-writes only relabelled or re-timed ones. Nodes hold no
algorithms.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from agents.make import VOICE_LEAD_S, MakeRequest, build_timeline, clip_shots_for, narrate_lines, resolve_spec, text_boxes_for
from agents.state import PlanState
from tools.core.errors import AdReelError, InfeasibleError, ToolInputError
from tools.understand.ingest import load_library, save_library
from tools.core.models import Job, JobArtifacts, Material, NarrationLine, ProductInfo, RenderSpec, Storyline, Timeline
from tools.understand.product import load_product
from tools.core.registry import all_tools, run_tool
from tools.core.settings import get_settings
from tools.narrate.tts import TAIL_S
from tools.core.workspace import Workspace, atomic_write_model, product_id_for

STEPS = ("brief", "ingest", "retrieve", "score", "music", "storyline", "draft", "review", "narrate", "tts", "render", "thumbnail", "explain")
#: Tempo of generated background music by wanted mood (EaMD classes): faster for higher arousal.
MOOD_TEMPO_BPM = {"excited": 124.0, "tense": 112.0, "neutral": 100.0, "fearful": 96.0, "relaxed": 84.0, "sad": 72.0}
Log = Callable[[str], None]


def _job_path(ws: Workspace, job_id: str) -> Path:
    return ws.job_dir(job_id) / "job.json"


def load_job(ws: Workspace, job_id: str) -> Job:
    return Job.model_validate_json(_job_path(ws, job_id).read_text(encoding="utf-8"))


def _update_job(ws: Workspace, job_id: str, **changes: Any) -> Job:
    job = load_job(ws, job_id)
    for k, v in changes.items():
        if k == "step":
            job.steps_done.append(v)
        elif k == "warning":
            job.warnings.append(v)
        elif k == "timing":
            job.step_times_s[v[0]] = round(v[1], 3)
        else:
            setattr(job, k, v)
    atomic_write_model(_job_path(ws, job_id), job)
    return job


def build_graph(ws: Workspace, checkpointer: Any = None, log: Log = lambda m: None):  # noqa: ANN201 - CompiledStateGraph
    """Compile the planner graph over workspace ``ws``."""

    def step(name: str, fn: Callable[[PlanState], dict[str, Any]]) -> Callable[[PlanState], dict[str, Any]]:
        def node(state: PlanState) -> dict[str, Any]:
            log(f"[{state['job_id']}] {name} …")
            t0 = time.perf_counter()
            try:
                out = fn(state)
            except AdReelError as e:
                _update_job(ws, state["job_id"], status="failed", error=f"step {name}: {e}")
                raise
            _update_job(ws, state["job_id"], step=name, status="running", error=None, timing=(name, time.perf_counter() - t0))
            out.setdefault("steps_done", [name])
            return out

        return node

    def brief(state: PlanState) -> dict[str, Any]:
        req = MakeRequest.model_validate(state["request"])
        product = load_product(req.product_path)
        parsed, notes = None, []
        if get_settings().planner == "llm" and req.brief:
            from agents.llm_planner import parse_brief_llm
            from serving.client import ChatClient

            parsed, note = parse_brief_llm(req.brief, ChatClient.from_settings())
            if note:
                notes.append(note)
                _update_job(ws, state["job_id"], warning=note)
        spec = resolve_spec(req, parsed)
        pid = product_id_for(product.name)
        atomic_write_model(ws.product_dir(pid) / "product.json", product)
        _update_job(ws, state["job_id"], product_id=pid, brief=spec)
        return {"spec": spec.model_dump(mode="json"), "product": product.model_dump(mode="json"), "product_id": pid,
                "language": spec.language or product.language, "notes": notes}

    def ingest(state: PlanState) -> dict[str, Any]:
        with ws.product_lock(state["product_id"]):
            return _ingest(state)

    def _ingest(state: PlanState) -> dict[str, Any]:
        req = MakeRequest.model_validate(state["request"])
        pid, notes = state["product_id"], []
        ing = run_tool("ingest_materials", {"product_id": pid, "paths": [req.materials_dir], "workspace": str(ws.root)})
        for sk in ing.skipped:  # type: ignore[attr-defined]
            notes.append(f"skipped {sk.name}: {sk.reason}")
            log(f"warning: {notes[-1]}")
            _update_job(ws, state["job_id"], warning=notes[-1])
        by_id = {m.id: m for m in ing.materials}  # type: ignore[attr-defined]
        visual = [by_id[i] for i in ing.taken if by_id[i].kind in ("image", "video")]  # type: ignore[attr-defined]
        if not visual:
            skipped = "; ".join(f"{sk.name} ({sk.reason.split(' — ')[0]})" for sk in ing.skipped)  # type: ignore[attr-defined]
            raise InfeasibleError(f"no usable photos or clips in {req.materials_dir}" + (f"; skipped: {skipped}" if skipped else ""),
                                  hint="add JPEG/PNG/WebP photos or MP4/MOV/MKV/WebM clips" + (" (the other files were skipped, see warnings)" if ing.skipped else ""))  # type: ignore[attr-defined]
        music_path = None
        if req.music_path:
            mus = run_tool("ingest_materials", {"product_id": pid, "paths": [req.music_path], "workspace": str(ws.root)})
            got = {m.id: m for m in mus.materials}  # type: ignore[attr-defined]
            if mus.skipped or not mus.taken or got[mus.taken[0]].kind != "audio":  # type: ignore[attr-defined]
                notes.append(f"music not used: {mus.skipped[0].reason if mus.skipped else 'not an audio file'}")  # type: ignore[attr-defined]
                _update_job(ws, state["job_id"], warning=notes[-1])
            else:
                music_path = got[mus.taken[0]].path  # type: ignore[attr-defined]
        return {"materials": [m.model_dump(mode="json") for m in visual], "music_path": music_path, "notes": notes}

    def retrieve(state: PlanState) -> dict[str, Any]:
        with ws.product_lock(state["product_id"]):
            return _retrieve(state)

    def _retrieve(state: PlanState) -> dict[str, Any]:
        """Index the library (classic encoder, FAISS) and put what the brief stresses first."""
        mats = state["materials"]
        index_dir = str(ws.product_dir(state["product_id"]) / "index")
        items = [{"id": m["id"], "image_path": str(ws.abs(m["path"])), "text": f"{m['original_name']} {m.get('caption', '')} {m.get('ocr_text', '')}"}
                 for m in mats if m["kind"] == "image"]
        if items:
            run_tool("index_materials", {"index_dir": index_dir, "items": items})
        emphasis = [e for e in state["spec"].get("emphasis") or [] if e]
        if not emphasis or not items:
            return {}
        hits = run_tool("search_materials", {"index_dir": index_dir, "text": " ".join(emphasis), "k": len(items)}).hits  # type: ignore[attr-defined]
        top = [h.id for h in hits if h.score > 0]
        ranked = sorted(mats, key=lambda m: top.index(m["id"]) if m["id"] in top else len(top))
        return {"materials": ranked, "notes": [f"materials ranked for: {', '.join(emphasis)}"]}

    def score(state: PlanState) -> dict[str, Any]:
        with ws.product_lock(state["product_id"]):
            return _score(state)

    def _score(state: PlanState) -> dict[str, Any]:
        """Quality (drop near-duplicates, keep the best copy), then cognitive-property scores."""
        mats, notes = list(state["materials"]), []
        imgs = {str(ws.abs(m["path"])): m for m in mats if m["kind"] == "image"}
        if len(imgs) > 1:
            q = run_tool("assess_quality", {"paths": list(imgs)})
            drop = {imgs[d]["id"] for g in q.duplicates for d in g.drop if d in imgs}  # type: ignore[attr-defined]
            if drop:
                notes.append(f"left out {len(drop)} near-duplicate photo(s): " + ", ".join(m["original_name"] for m in mats if m["id"] in drop))
                mats = [m for m in mats if m["id"] not in drop]
        items = [{"id": m["id"], "path": str(ws.abs(m["path"])), **({"start_s": 0.0, "end_s": m["duration_s"]} if m["kind"] == "video" else {})}
                 for m in mats]
        sc = {x.id: x.scores for x in run_tool("score_materials", {"items": items}).items}  # type: ignore[attr-defined]
        emph = bool(state["spec"].get("emphasis"))
        # keep the retrieval order for emphasised material; otherwise most persuasive first
        order = mats if emph else sorted(mats, key=lambda m: -sc.get(m["id"], {}).get("persuasiveness", 0.0))
        qual = {imgs[x.path]["id"]: x.metrics.model_dump() for x in q.images} if len(imgs) > 1 else {}  # type: ignore[attr-defined]
        scored = [{**m, "quality": {**(m.get("quality") or {}), **{k: float(v) for k, v in qual.get(m["id"], {}).items() if isinstance(v, (int, float))},
                                    **{f"cpa_{k}": round(v, 4) for k, v in sc.get(m["id"], {}).items()}}} for m in order]
        # store the values on the library's materials too, so later jobs and searches see them
        lib = load_library(ws, state["product_id"])
        by_id = {m["id"]: m["quality"] for m in scored}
        save_library(ws, state["product_id"], [m.model_copy(update={"quality": by_id.get(m.id, m.quality)}) for m in lib])
        try:
            shots = clip_shots_for([Material.model_validate(m) for m in scored], ws)
        except AdReelError as e:  # a clip the detector cannot read is still usable whole
            shots = {}
            notes.append(f"clips not split into shots: {e}")
        split = sum(len(v) > 1 for v in shots.values())
        if split:
            notes.append(f"{split} clip(s) split into their shots")
        return {"materials": scored, "clip_shots": {k: [list(x) for x in v] for k, v in shots.items()}, "notes": notes}

    def music(state: PlanState) -> dict[str, Any]:
        """Analyse the user's track, or generate one for the wanted mood: either way a bar grid."""
        spec, notes = state["spec"], []
        if state.get("music_path"):
            ma = run_tool("analyze_music", {"path": str(ws.abs(state["music_path"])), "tempo_hint_bpm": spec.get("tempo_bpm")})
            path = state["music_path"]
        else:
            mood = spec.get("mood") or "excited"
            tempo = spec.get("tempo_bpm") or MOOD_TEMPO_BPM.get(mood, 100.0)
            ma = run_tool("generate_music", {"out_dir": str(ws.job_dir(state["job_id"]) / "music"), "tempo_bpm": tempo, "mood": mood,
                                             "duration_s": float(spec["duration_s"]) + 1.0})
            path = ws.rel(ma.path)  # type: ignore[attr-defined]
            notes.append(f"generated {mood} background music at {tempo:g} bpm")
        atomic_write_model(ws.job_dir(state["job_id"]) / "music.json", ma)
        return {"music": ma.model_dump(mode="json"), "music_path": path, "notes": notes}

    def storyline(state: PlanState) -> dict[str, Any]:
        spec, notes = state["spec"], []
        ma = state.get("music") or {}
        bars = ma.get("bars_s") or []
        offset = bars[0] if bars else 0.0
        grid = [round(b - offset, 6) for b in bars[1:]]
        story = run_tool("plan_storyline", {"materials": state["materials"], "product": state["product"], "duration_s": spec["duration_s"],
                                            "fps": RenderSpec().fps, "language": state["language"], "cut_grid_s": grid,
                                            "clip_shots": state.get("clip_shots") or {}})
        fps = RenderSpec().fps
        cuts = [round(sum(b.duration_s for b in story.beats[: i + 1]) * fps) for i in range(len(story.beats) - 1)]  # type: ignore[attr-defined]
        grid_f = {round(g * fps) for g in grid}
        if grid and not all(c in grid_f for c in cuts):
            notes.append("the material could not be cut on the music's bars everywhere; some cuts fall between bars")
        atomic_write_model(ws.job_dir(state["job_id"]) / "storyline.json", story)
        return {"storyline": story.model_dump(mode="json"), "music_offset_s": offset, "notes": notes}

    def review(state: PlanState) -> dict[str, Any]:
        if state.get("auto_approve"):
            return {}
        decision = interrupt({"kind": "review_storyline", "storyline": state["storyline"], "lines": state.get("lines")})
        if isinstance(decision, dict) and decision.get("storyline"):
            story = Storyline.model_validate(decision["storyline"])
            atomic_write_model(ws.job_dir(state["job_id"]) / "storyline.json", story)
            return {"storyline": story.model_dump(mode="json"), "notes": ["storyline edited by the user"]}
        return {"notes": ["storyline approved"]}

    def narrate(state: PlanState) -> dict[str, Any]:
        story = Storyline.model_validate(state["storyline"])
        product = ProductInfo.model_validate(state["product"])
        mats = {m["id"]: m for m in state["materials"]}
        keyframes = {b.index: [str(ws.abs(mats[b.material_id]["path"]))] for b in story.beats if mats[b.material_id]["kind"] == "image"}
        lines, note = narrate_lines(product, story, state["language"], given=state.get("lines"), keyframes=keyframes)  # type: ignore[arg-type]
        if note:
            _update_job(ws, state["job_id"], warning=note)
        return {"lines": [ln.model_dump(mode="json") for ln in lines], "notes": [note] if note else []}

    def draft(state: PlanState) -> dict[str, Any]:
        return narrate(state)

    def tts(state: PlanState) -> dict[str, Any]:
        story = Storyline.model_validate(state["storyline"])
        out = run_tool("synthesize_speech", {"lines": state["lines"], "out_dir": str(ws.job_dir(state["job_id"]) / "voice"),
                                              "max_durations_s": [max(0.3, b.duration_s - TAIL_S - VOICE_LEAD_S) for b in story.beats]})
        notes = []
        if out.fallback_reason:  # type: ignore[attr-defined]
            notes.append(f"speech endpoint failed ({out.fallback_reason}); espeak-ng spoke the lines")  # type: ignore[attr-defined]
            _update_job(ws, state["job_id"], warning=notes[-1])
        return {"speech": [{"path": ws.rel(c.path), "duration_s": c.duration_s} for c in out.clips], "notes": notes}  # type: ignore[attr-defined]

    def render(state: PlanState) -> dict[str, Any]:
        jd = ws.job_dir(state["job_id"])
        spec = state["spec"]
        story = Storyline.model_validate(state["storyline"])
        lines = [NarrationLine.model_validate(x) for x in state["lines"]]
        mats = {m["id"]: Material.model_validate(m) for m in state["materials"]}
        prev = state.get("timeline")
        version = (prev["version"] + 1) if prev else 1
        tl = build_timeline(state["job_id"], story, lines, state["speech"], RenderSpec(aspect=spec["aspect"], resolution_p=spec["resolution_p"]),
                            mats, state["language"], state.get("music_path"), float(state.get("music_gain_db") or -14.0),
                            music_offset_s=float(state.get("music_offset_s") or 0.0))
        tl = tl.model_copy(update={"version": version})
        atomic_write_model(jd / f"timeline.v{version}.json", tl)
        atomic_write_model(jd / "timeline.json", tl)
        boxes: dict[str, Any] = {}
        if get_settings().subtitle_ocr:
            try:
                boxes = text_boxes_for(mats, [c.material_id for c in tl.video], ws)
            except AdReelError as e:  # no OCR engine: render anyway, subtitles at the bottom
                _update_job(ws, state["job_id"], warning=f"printed text not read ({e}); subtitles stay at the bottom")
        out = run_tool("render_timeline", {"timeline": tl.model_dump(), "workspace": str(ws.root), "out_dir": str(jd),
                                           "text_boxes": {k: [b.model_dump() for b in v] for k, v in boxes.items()}})
        shutil.copyfile(out.video_path, jd / f"video.v{version}.mp4")  # type: ignore[attr-defined]
        arts = dict(state.get("artifacts") or {})
        arts.update(video=ws.rel(out.video_path), timeline=ws.rel(jd / "timeline.json"), subtitles_srt=ws.rel(out.srt_path))  # type: ignore[attr-defined]
        if out.otio_path:  # type: ignore[attr-defined]
            arts["otio"] = ws.rel(out.otio_path)  # type: ignore[attr-defined]
        notes = [f"rendered {out.segments_rendered} of {out.segments_total} segments (the rest from cache)"] if version > 1 else []  # type: ignore[attr-defined]
        req = MakeRequest.model_validate(state["request"])
        if req.out_path:
            dst = Path(req.out_path).expanduser()
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out.video_path, dst)  # type: ignore[attr-defined]
        return {"timeline": tl.model_dump(mode="json"), "artifacts": arts, "notes": notes}

    def thumbnail(state: PlanState) -> dict[str, Any]:
        return _optional_tool(state, "make_gif_thumbnail", "thumbnail_gif", "gif_path")

    def explain(state: PlanState) -> dict[str, Any]:
        return _optional_tool(state, "explain_excitement", "explanation_png", "png_path")

    def _optional_tool(state: PlanState, tool: str, art_key: str, out_field: str) -> dict[str, Any]:
        if tool not in all_tools():
            return {}
        jd = ws.job_dir(state["job_id"])
        video = str(ws.abs(state["artifacts"]["video"]))
        try:
            out = run_tool(tool, {"video_path": video, "out_dir": str(jd)}).model_dump()
        except AdReelError as e:  # a thumbnail or explanation failing must not lose the video
            _update_job(ws, state["job_id"], warning=f"{tool} failed: {e}")
            return {"notes": [f"{tool} failed: {e}"]}
        path = out.get(out_field)
        arts = dict(state["artifacts"])
        if path:
            arts[art_key] = ws.rel(path)
        return {"artifacts": arts}

    g = StateGraph(PlanState)
    for name, fn in [("brief", brief), ("ingest", ingest), ("retrieve", retrieve), ("score", score), ("music", music), ("storyline", storyline), ("draft", draft), ("review", review),
                     ("narrate", narrate),
                     ("tts", tts), ("render", render), ("thumbnail", thumbnail), ("explain", explain)]:
        g.add_node(name, step(name, fn))
    g.add_edge(START, "brief")
    for a, b in zip(STEPS, STEPS[1:]):
        g.add_edge(a, b)
    g.add_edge("explain", END)
    return g.compile(checkpointer=checkpointer)


def open_checkpointer(ws: Workspace) -> SqliteSaver:
    """The SQLite checkpointer in the workspace (one file, shared by all jobs; thread = job id)."""
    conn = sqlite3.connect(str(ws.inside("checkpoints.sqlite")), check_same_thread=False)
    return SqliteSaver(conn)


class Planner:
    """Start, resume, review and edit jobs on one workspace (used by the CLI and the UI)."""

    def __init__(self, ws: Workspace, log: Log = lambda m: None) -> None:
        self.ws = ws
        self.saver = open_checkpointer(ws)
        self.graph = build_graph(ws, self.saver, log)

    @staticmethod
    def config(job_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": job_id}}

    def start(self, req: MakeRequest, auto_approve: bool = True, job_id: str | None = None) -> str:
        """Create a job and run it until it finishes or waits for review; returns the job id."""
        job_id = job_id or self.ws.new_job_id()
        atomic_write_model(self.ws.job_dir(job_id) / "job.json", Job(id=job_id, product_id="pending"))
        self.graph.invoke({"job_id": job_id, "request": req.model_dump(), "auto_approve": auto_approve, "notes": [], "steps_done": []},
                          self.config(job_id))
        self._finish_if_done(job_id)
        return job_id

    def state(self, job_id: str) -> PlanState:
        return self.graph.get_state(self.config(job_id)).values  # type: ignore[return-value]

    def waiting_for(self, job_id: str) -> str | None:
        """Name of the node the job is paused before or inside (None when finished)."""
        snap = self.graph.get_state(self.config(job_id))
        return snap.next[0] if snap.next else None

    def resume(self, job_id: str, decision: dict[str, Any] | None = None) -> None:
        """Continue a job: after a review decision, or from its last checkpoint after a crash."""
        self.ws.job_dir(job_id, create=False)  # a bad or unknown id is a clear ToolInputError
        if not self.graph.get_state(self.config(job_id)).values:
            raise ToolInputError(f"job {job_id!r} has no saved progress to resume", hint="start it again with `python app.py make …`")
        if self.waiting_for(job_id) is None:
            return  # already finished: nothing to redo
        if self.waiting_for(job_id) == "review" and decision is not None:
            self.graph.invoke(Command(resume=decision), self.config(job_id))
        else:
            self.graph.invoke(None, self.config(job_id))
        self._finish_if_done(job_id)

    def rerun_from(self, job_id: str, as_node: str, values: dict[str, Any]) -> None:
        """Apply ``values`` as if node ``as_node`` had produced them, then run the rest of the graph."""
        self.graph.update_state(self.config(job_id), values, as_node=as_node)
        self.graph.invoke(None, self.config(job_id))
        self._finish_if_done(job_id)

    def _finish_if_done(self, job_id: str) -> None:
        if self.waiting_for(job_id) is None:
            st = self.state(job_id)
            _update_job(self.ws, job_id, status="done", artifacts=JobArtifacts.model_validate(st.get("artifacts") or {}))

    def timeline(self, job_id: str) -> Timeline | None:
        tl = self.state(job_id).get("timeline")
        return Timeline.model_validate(tl) if tl else None
