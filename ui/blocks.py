"""Gradio Blocks UI: examples, uploads, a brief with its controls, progress, the material
gallery, the storyboard (a strip of editable shot cards), the video, the GIF thumbnail, the
explanation image, downloads, and chat edits.

Each browser session has its own upload folder and job inside the workspace; uploaded files are
copied under sanitised names (never used as given). Jobs run in a thread while the page shows the
step and an estimate (``ui.progress``); the video is shown as soon as it is rendered, and the GIF
thumbnail and the explanation, which the planner makes after it in the background, when each is
ready. The storyboard logic lives in ``ui.storyboard``. Endpoints
are named (``start``, ``approve``, ``chat``) so ``gradio_client`` can drive them; ``approve`` takes
the storyboard that ``start`` returned, edited or not.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from agents.agent import chat_edit
from agents.brief import parse_brief, resolve_spec
from agents.deps import Deps, SpeechChoice, build_deps
from agents.graph import STEPS
from agents.planner import Planner
from agents.samples import write_samples
from agents.state import MakeRequest
from tools.core.errors import AdReelError, ToolInputError
from tools.core.media import AUDIO_EXT, IMAGE_EXT
from tools.core.settings import get_settings
from tools.core.workspace import Workspace, sanitize_filename
from tools.render.brand import list_brand_kits
from ui.brand import CORNERS, EXPORTS, export_job, form_of, save_kit_from_form
from ui.progress import done_html, progress_html, run_watched
from ui.storyboard import (
    decision,
    files_of,
    label_choices,
    label_en,
    make_board,
    material_cards,
    move_shot,
    swap_shot,
    with_edits,
)

_log = logging.getLogger(__name__)
MAX_FILES = 40
MAX_FILE_MB = 500
HELP = ("Edits I understand: 'shorter', 'make it 10 s', 'square version', 'put the texture shot first', "
        "'make line 2 a call to action', 'calmer music', 'undo' (and the same in Chinese: 缩短, 方形, 第2句改成引导购买, 撤销 …).")
PLAN_STEPS = STEPS[: STEPS.index("review")]
#: The steps a run waits for: up to the video. The GIF thumbnail and the explanation (EXTRAS) are
#: made after it in the background and appear when each is ready, so they never delay the video.
MAKE_STEPS = STEPS[STEPS.index("review"): STEPS.index("render") + 1]
EDIT_STEPS = STEPS[STEPS.index("storyline"): STEPS.index("render") + 1]
#: Output component per extra step, and the job artifact it shows.
EXTRA_OUTPUTS = {"thumbnail": ("thumbnail_gif", "gif"), "explain": ("explanation_png", "expl")}

DURATIONS = [("from brief", "auto"), *((f"{d} s", str(d)) for d in (6, 10, 15, 20, 30, 45, 60))]
ASPECTS = [("from brief", "auto"), ("9:16 vertical", "9:16"), ("1:1 square", "1:1"), ("16:9 horizontal", "16:9")]
RESOLUTIONS = [("from brief", "auto"), ("720p", "720"), ("1080p", "1080")]
LANGUAGES = [("as the facts", "auto"), ("中文 Chinese", "zh"), ("English", "en")]
MUSIC = [("auto", "auto"), ("upbeat (made)", "excited"), ("calm (made)", "relaxed"), ("tense (made)", "tense")]
#: Brief words the brief parser reads for a language or a mood (MakeRequest overrides only duration, aspect, resolution).
_LANGUAGE_WORDS = {"zh": "in Chinese", "en": "in English"}
_MOOD_WORDS = {"excited": "upbeat", "relaxed": "calm", "tense": "tense"}

EXAMPLES = {
    "zh": {"brief": "15 s vertical video for Double 11, stress the texture, upbeat", "duration": "auto", "aspect": "auto"},
    "en": {"brief": "10 s square video, stress the aroma, upbeat", "duration": "10", "aspect": "1:1"},
}

CSS = """
.adreel-progress { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 12px; }
.adreel-progress-title { font-size: 0.95em; margin-bottom: 6px; }
.adreel-progress-track { height: 8px; background: var(--background-fill-secondary); border-radius: 4px; overflow: hidden; }
.adreel-progress-bar { height: 100%; background: var(--color-accent); transition: width 0.6s ease; }
.adreel-progress-done .adreel-progress-title { margin-bottom: 0; }
#strip { flex-wrap: nowrap !important; overflow-x: auto; gap: 10px; padding-bottom: 6px; align-items: stretch; }
#strip > .adreel-card { flex: 0 0 210px !important; min-width: 210px !important; max-width: 230px; border: 1px solid var(--border-color-primary);
  border-radius: 8px; padding: 6px; gap: 4px; }
.adreel-card .adreel-shot-head p { margin: 0; font-weight: 600; }
.adreel-card .adreel-shot-line p { margin: 0; font-size: 0.92em; }
.adreel-card button.adreel-move { min-width: 0; padding: 2px 6px; }
#material-gallery .caption-label { white-space: pre-line !important; max-width: none !important; left: 0; right: 0 !important;
  bottom: 0 !important; border-radius: 0 0 6px 6px !important; opacity: 1 !important; font-size: 0.72em !important; line-height: 1.3;
  background: rgba(0, 0, 0, 0.62) !important; color: #fff !important; border: none !important; }
@media (max-width: 640px) { #material-gallery .grid-container { grid-template-columns: repeat(2, minmax(0, 1fr)) !important; } }
"""
EMPTY_BOARD = """The storyboard appears here.

1. **Try an example**, or upload photos and clips, a product-facts file (and music if you like), and write a brief.
2. Pick the duration, aspect, resolution, language, voice and music, or leave them to the brief.
3. **Make storyline**: each shot becomes a card with its picture, script label, length and voice-over line. Change a line or a
   label, swap a shot for another photo or clip, move shots; every photo and clip is listed with its scores and why it is used
   or left out.
4. **Approve**: the video, a GIF thumbnail and a "why it is exciting" picture appear as each is ready. Then edit by chat,
   download editor exports, or apply a brand kit."""

#: On a phone the progress bar is far below the button just pressed: bring it into view.
SHOW_PROGRESS_JS = "() => { if (window.innerWidth < 800) document.querySelector('#progress')?.scrollIntoView({behavior: 'smooth', block: 'start'}); }"


# --------------------------------------------------------------------------- pure helpers (tested without a browser)
def say(e: BaseException) -> str:
    """The chat message for a failure: what happened and what to do (details of a bug go to the log, never to the page)."""
    if isinstance(e, AdReelError):
        return f"⚠️ {e.message}" + (f"\n\nWhat to do: {e.hint}" if e.hint else "")
    if isinstance(e, OSError):
        return f"⚠️ A file could not be read or written ({e.strerror or e}).\n\nWhat to do: upload the files again; check free disk space."
    _log.error("unexpected error in the UI", exc_info=e)
    return (f"⚠️ Something went wrong inside AdReel ({type(e).__name__}); your uploads and the job so far are kept.\n\n"
            "What to do: try again; if it happens again, report it with the server log.")


def _src(f: Any) -> Path:
    return Path(f if isinstance(f, str) else getattr(f, "name", f["path"] if isinstance(f, dict) else str(f)))


def save_uploads(ws: Workspace, session: dict, files: list[Any] | None) -> dict[str, Any]:
    """Copy uploads into the session folder by kind; returns materials dir, product file, music file."""
    up = ws.inside("uploads", session["id"])
    mats = up / "materials"
    if mats.is_dir():  # a new storyline starts from what is uploaded now, not from an earlier job's files
        shutil.rmtree(mats)
    mats.mkdir(parents=True, exist_ok=True)
    product, music = None, None
    files = files or []
    if len(files) > MAX_FILES:
        raise ToolInputError(f"{len(files)} files uploaded", hint=f"upload at most {MAX_FILES} files per video")
    for f in files:
        src = _src(f)
        if not src.is_file():
            raise ToolInputError(f"{sanitize_filename(src.name)} is not a file that arrived", hint="upload it again")
        if src.stat().st_size > MAX_FILE_MB * 1024 * 1024:
            raise ToolInputError(f"{sanitize_filename(src.name)} is over {MAX_FILE_MB} MB", hint="trim or re-encode it")
        name = sanitize_filename(src.name)
        ext = Path(name).suffix.lower()
        if ext in (".txt", ".json"):
            product = up / f"product{ext}"
            shutil.copyfile(src, product)
        elif ext in AUDIO_EXT:
            music = up / f"music{ext}"
            shutil.copyfile(src, music)
        else:
            shutil.copyfile(src, mats / name)
    return {"materials": mats, "product": product, "music": music}


def compose_request(up: Mapping[str, Any], brief: str, *, duration: str = "auto", aspect: str = "auto", resolution: str = "auto",
                    language: str = "auto", music: str = "auto", hero: str | None = None,
                    brand: str | None = None) -> tuple[MakeRequest, list[str]]:
    """The job request from the uploads, the brief and the controls, and notes for the user.

    Duration, aspect and resolution override the brief (MakeRequest's flags); language and a mood
    for made music are said in the brief's own words, which the brief parser reads. A brief that
    already asks for another language or mood wins, and a note says so.

    Raises:
        ToolInputError: no product facts, or a control value the page does not offer.
    """
    if up.get("product") is None:
        raise ToolInputError("no product facts uploaded",
                             hint="upload a .txt (`名称：…` / `name: …` and `aspect：point、point` lines) or a ProductInfo .json, or try an example")
    words, notes = [], []
    language, music = language or "auto", music or "auto"  # not given (an API call): as the brief says
    if language not in ("auto", *_LANGUAGE_WORDS):
        raise ToolInputError(f"unknown language {language!r}", hint="choose 中文 or English")
    if music not in ("auto", *_MOOD_WORDS):
        raise ToolInputError(f"unknown music choice {music!r}", hint="choose one of the music options")
    if language != "auto":
        words.append(_LANGUAGE_WORDS[language])
    if music != "auto":
        words.append(_MOOD_WORDS[music])
    text = (brief or "").strip()
    full = "; ".join(x for x in (text, ", ".join(words)) if x)
    spec = parse_brief(full)
    if language != "auto" and spec.language != language:
        notes.append(f"your brief asks for another language than {dict(LANGUAGES)[language]!r}: the brief wins")
    if music != "auto" and spec.mood != music:
        notes.append(f"your brief asks for {spec.mood} music: the brief wins over the music choice")
    try:
        req = MakeRequest(materials_dir=str(up["materials"]), product_path=str(up["product"]),
                          music_path=str(up["music"]) if up.get("music") and music == "auto" else None,
                          hero_path=str(up["materials"] / sanitize_filename(hero)) if hero and (up["materials"] / sanitize_filename(hero)).is_file() else None,
                          brief=full, duration_s=None if duration in ("auto", None, "") else float(duration),
                          aspect=None if aspect in ("auto", None, "") else aspect,
                          resolution_p=None if resolution in ("auto", None, "") else int(resolution),
                          brand=None if brand in ("none", None, "") else brand)
    except (ValueError, TypeError) as e:
        raise ToolInputError(f"a control has a value the page does not offer ({e})", hint="reload the page and choose again") from e
    resolve_spec(req)  # a duration, aspect or resolution out of range: a clear error now, not after the upload is ingested
    if up.get("music") and music != "auto":
        notes.append("your uploaded music is not used: you chose music made for the video")
    return req, notes


def _photo_choices(files: list[Any] | None) -> Any:
    """The uploaded photos, for the hero choice (names as they will be stored)."""
    names = [sanitize_filename(_src(f).name) for f in files or [] if _src(f).suffix.lower() in IMAGE_EXT]
    return gr.Dropdown(choices=names, value=None)


def example_files(ws: Workspace, language: str) -> list[str]:
    """The bundled sample photos and product facts (agents.samples), written into the workspace."""
    photos, facts = write_samples(ws, language)
    return [*sorted(str(p) for p in photos.iterdir() if p.suffix.lower() in IMAGE_EXT), str(facts)]


# --------------------------------------------------------------------------- the app
def build_ui(ws: Workspace) -> gr.Blocks:
    planners: dict[str, Planner] = {}
    base: dict[str, Deps] = {}
    default_voice = get_settings().tts if get_settings().tts in ("espeak", "piper", "openai") else "espeak"
    voices = [("espeak-ng", "espeak"), ("Piper neural (en)", "piper")]
    if default_voice == "openai":
        voices.append(("speech endpoint", "openai"))

    def brand_choices() -> list[tuple[str, str]]:
        return [("none", "none"), *((k, k) for k in list_brand_kits(ws))]

    def planner(voice: str | None = None) -> Planner:
        """One planner per voice (its speech backend), all on the same workspace and checkpoints."""
        v = voice if voice in {b for _, b in voices} else default_voice
        if v not in planners:
            deps = base.setdefault("d", build_deps())
            if v != deps.speech.engine:
                s = get_settings()
                deps = replace(deps, speech=SpeechChoice("piper", voices=tuple(x.strip() for x in s.tts_voice.split(",") if x.strip())
                                                         if s.tts == "piper" else ()) if v == "piper" else SpeechChoice("espeak"))
            planners[v] = Planner(ws, deps=deps, extras_in_background=True)  # the video first, then the GIF and the explanation
        return planners[v]

    def new_session(session: dict | None) -> dict:
        return session if isinstance(session, dict) and session.get("id") else {"id": secrets.token_hex(8), "job": None, "voice": None}

    def view(pl: Planner, job_id: str, mode: str) -> dict[str, Any]:
        st = pl.state(job_id)
        f = files_of(ws, st)
        cards = material_cards(ws, st)
        return {"gallery": gr.Gallery(cards, visible=bool(cards)), "board": make_board(ws, st, mode), "video": f["video"],
                "gif": f["thumbnail_gif"], "expl": f["explanation_png"],
                "downloads": [x for x in (f["video"], f["subtitles_srt"], f["timeline"], f["otio"]) if x] or None,
                "results": gr.Column(visible=bool(f["video"]))}

    skip = gr.skip

    def out(history: list[dict], session: dict, progress: Any = None, v: Mapping[str, Any] | None = None) -> tuple:
        v = v or {}
        return (history, session, skip() if progress is None else progress,
                *(v[k] if k in v else skip() for k in ("gallery", "board", "video", "gif", "expl", "downloads", "results", "exports")))

    def start(files: list[Any] | None, brief: str, duration: str, aspect: str, resolution: str, language: str, voice: str, music: str,
              brand: str | None, hero: str | None, history: list[dict], session: dict | None) -> Iterator[tuple]:
        session = new_session(session)
        history = [*(history or []), {"role": "user", "content": brief or "(no brief)"}]
        yield out(history, session, done_html("Starting…"),
                  {"board": None, "gallery": gr.Gallery([], visible=False), "video": None, "gif": None, "expl": None, "downloads": None,
                   "results": gr.Column(visible=False), "exports": gr.File(None, visible=False)})
        try:
            up = save_uploads(ws, session, files)
            req, notes = compose_request(up, brief, duration=duration, aspect=aspect, resolution=resolution, language=language,
                                         music=music, hero=hero, brand=brand)
            pl = planner(voice)
            job_id = ws.new_job_id()
            session.update(job=job_id, voice=voice)
            for w, finished, _ in run_watched(ws, job_id, lambda: pl.start(req, auto_approve=False, job_id=job_id), PLAN_STEPS):
                if not finished:
                    yield out(history, session, progress_html(w, PLAN_STEPS, "Planning"))
            job = ws.load_job(job_id)
            msg = (f"Here is the storyline for a {job.brief.duration_s:g} s {job.brief.aspect} video: each card is a shot with its "
                   "label, length and a draft voice-over line. Change a line or a label, swap a shot for another photo or clip, move "
                   "shots with ◀ ▶, then press **Approve**. The gallery shows every photo and clip with its scores, and why it is "
                   "used or left out.")
            notes += job.warnings
            if notes:
                msg += "\n\n" + "\n".join(f"- {w}" for w in notes)
            history.append({"role": "assistant", "content": msg})
            yield out(history, session, done_html("Storyline ready: edit it below, then approve."), view(pl, job_id, "review"))
        except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
            history.append({"role": "assistant", "content": say(e)})
            yield out(history, session, "")

    def approve(board: Mapping[str, Any] | None, history: list[dict], session: dict | None) -> Iterator[tuple]:
        history = list(history or [])
        session = new_session(session)
        job_id = session.get("job")
        try:
            if not job_id:
                raise ToolInputError("there is no storyline to approve yet", hint="try an example, or upload material and product facts, write a brief and press Make storyline")
            pl = planner(session.get("voice"))
            if pl.waiting_for(job_id) != "review":
                raise ToolInputError("this storyline is already approved", hint="edit the video by chat, or press Make storyline for a new one")
            st = pl.state(job_id)
            if board is not None and not isinstance(board, dict):
                raise ToolInputError("the storyboard sent back is not one this page made", hint="reload the page and start again")
            story, lines = decision(st, board) if board else (None, None)

            def work() -> None:
                if story is None:
                    pl.resume(job_id, {"approve": True})
                    return
                pl.graph.update_state(pl.config(job_id), {"lines": lines})
                pl.resume(job_id, {"storyline": story.model_dump(mode="json")})

            history.append({"role": "assistant", "content": "Approved: making the video (the video, the GIF and the explanation appear as each is ready)."})
            yield from _watched(pl, job_id, work, MAKE_STEPS, "Making the video", history, session)
            history.append({"role": "assistant", "content": f"Done: version {pl.timeline(job_id).version} is ready. {HELP}"
                            + "".join(f"\n- {w}" for w in ws.load_job(job_id).warnings)})
            yield from _extras_when_ready(pl, job_id, history, session)
        except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
            history.append({"role": "assistant", "content": say(e)})
            yield out(history, session, "")

    def _watched(pl: Planner, job_id: str, work: Callable[[], Any], steps: tuple[str, ...], title: str, history: list[dict],
                 session: dict) -> Iterator[tuple]:
        """Run ``work`` with a progress bar; the video, GIF and explanation are shown as soon as each exists."""
        shown: dict[str, str] = {}
        yield out(history, session, done_html(f"{title}…"))
        for w, finished, _ in run_watched(ws, job_id, work, steps):
            if finished:
                return
            v: dict[str, Any] = {}
            made = [(key, comp) for key, comp, step in (("video", "video", "render"), ("thumbnail_gif", "gif", "thumbnail"),
                                                          ("explanation_png", "expl", "explain")) if step in w.done and comp not in shown]
            if made:  # each output as soon as the step that makes it has finished (an edit's old files are not shown)
                f = files_of(ws, pl.state(job_id))
                for key, comp in made:
                    if f[key]:
                        v[comp] = shown[comp] = f[key]
                        v["results"] = gr.Column(visible=True)
            yield out(history, session, progress_html(w, steps, title), v)

    def _extras_when_ready(pl: Planner, job_id: str, history: list[dict], session: dict) -> Iterator[tuple]:
        """After the video: the page shows it at once, then the GIF thumbnail and the explanation as
        each is made (the planner makes them in the background), then the whole result."""
        version = pl.timeline(job_id).version
        warned = len(ws.load_job(job_id).warnings)  # the run's own warnings are already in the chat
        shown: set[str] = set()
        first = True
        while True:
            finished = pl.wait_extras(job_id, timeout=0.0 if first else 0.7)
            steps = ws.load_job(job_id).steps_done
            since = len(steps) - steps[::-1].index("render") if "render" in steps else len(steps)  # after this run's render
            files = files_of(ws, pl.state(job_id))
            v: dict[str, Any] = view(pl, job_id, "done") if first else {}
            for step, (key, comp) in EXTRA_OUTPUTS.items():
                if comp in shown:
                    continue
                if step in steps[since:] and files[key]:
                    v[comp] = files[key]
                    shown.add(comp)
                elif first:
                    v[comp] = None  # an earlier version's GIF or explanation is not this video's
            if finished:
                break
            if v:
                yield out(history, session, done_html(f"Video ready (version {version}); making the GIF thumbnail and the explanation…")
                          if first else skip(), v)
            first = False
        late = ws.load_job(job_id).warnings[warned:]  # a GIF or an explanation that could not be made says why
        if late:
            history.append({"role": "assistant", "content": "\n".join(f"- {w}" for w in late)})
        yield out(history, session, done_html(f"Video ready (version {version})."), view(pl, job_id, "done"))

    def chat(message: str, history: list[dict], session: dict | None) -> Iterator[tuple]:
        history = [*(history or []), {"role": "user", "content": message}]
        session = new_session(session)
        job_id = session.get("job")
        try:
            pl = planner(session.get("voice"))
            if not job_id or pl.timeline(job_id) is None:
                reply = ("The storyline is waiting for your approval: edit the cards and press Approve."
                         if job_id and pl.waiting_for(job_id) == "review"
                         else "Try an example, or upload photos/clips and product facts, write a brief, then press Make storyline to start.")
                history.append({"role": "assistant", "content": reply})
                yield out(history, session)
                return
            box: dict[str, str] = {}

            def work() -> None:
                box["reply"] = chat_edit(pl, job_id, message or "")

            yield from _watched(pl, job_id, work, EDIT_STEPS, "Editing", history, session)
            reply = box.get("reply", "")
            reply += f" (version {pl.timeline(job_id).version})" if "did not recognise" not in reply else " " + HELP
            history.append({"role": "assistant", "content": reply})
            yield from _extras_when_ready(pl, job_id, history, session)
        except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
            history.append({"role": "assistant", "content": say(e)})
            yield out(history, session, "")

    def storyboard_edit(fn: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]) -> Callable[..., tuple]:
        """A card's swap or move: applied to the board with every card's current label and line."""

        def handler(board: dict, history: list[dict], session: dict | None, *values: Any) -> tuple:
            session = new_session(session)
            try:
                n = len(board.get("shots") or []) if isinstance(board, dict) else 0
                if not board or not session.get("job"):
                    raise ToolInputError("there is no storyline to edit yet", hint="press Make storyline or try an example first")
                edited = with_edits(board, values[:n], values[n:2 * n])
                st = planner(session.get("voice")).state(session["job"])
                new = fn(edited, st)
                gallery = material_cards(ws, {**st, "storyline": new["storyline"]})
                return new, history, gallery
            except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
                return skip(), [*(history or []), {"role": "assistant", "content": say(e)}], skip()

        return handler

    with gr.Blocks(title="AdReel") as demo:
        session = gr.State(None)
        gr.Markdown("## AdReel — promo videos from your own photos, clips and product facts\n"
                    "Try an example, or upload your material and product facts, pick the format and press **Make storyline**. "
                    "Review the shots, approve, then keep editing by chat.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=320):
                with gr.Row():
                    ex_zh = gr.Button("Example: drip coffee, 15 s vertical, 中文", size="sm", elem_id="example-zh")
                    ex_en = gr.Button("Example: drip coffee, 10 s square, English", size="sm", elem_id="example-en")
                files = gr.File(label="Photos, clips, music, product facts (.txt/.json)", file_count="multiple", elem_id="uploads", height=150)
                hero = gr.Dropdown(label="★ Hero photo: the one that shows the product best (optional)", choices=[], value=None,
                                   allow_custom_value=False, elem_id="hero")
                brief = gr.Textbox(label="Brief", placeholder="15 s vertical video for Double 11, stress the texture, upbeat", elem_id="brief", lines=2)
                with gr.Row():
                    duration = gr.Dropdown(DURATIONS, value="auto", label="Duration", elem_id="duration", min_width=140)
                    aspect = gr.Dropdown(ASPECTS, value="auto", label="Aspect", elem_id="aspect", min_width=140)
                    resolution = gr.Dropdown(RESOLUTIONS, value="auto", label="Resolution", elem_id="resolution", min_width=140)
                with gr.Row():
                    language = gr.Dropdown(LANGUAGES, value="auto", label="Language", elem_id="language", min_width=140)
                    voice = gr.Dropdown(voices, value=default_voice, label="Voice", elem_id="voice", min_width=140)
                    music = gr.Dropdown(MUSIC, value="auto", label="Music", elem_id="music", min_width=140)
                brand = gr.Dropdown(brand_choices(), value="none", label="Brand kit (logo, colours, font, intro/outro, end card)",
                                    elem_id="brand")
                with gr.Accordion("Create or edit a brand kit", open=False, elem_id="brand-editor"):
                    kit_name = gr.Textbox(label="Name", placeholder="acme", elem_id="kit-name")
                    with gr.Row():
                        kit_primary = gr.ColorPicker("#FFFFFF", label="Primary colour", elem_id="kit-primary", min_width=100)
                        kit_secondary = gr.ColorPicker("#000000", label="Accent colour", elem_id="kit-secondary", min_width=100)
                        kit_corner = gr.Dropdown(CORNERS, value="top-right", label="Logo corner", elem_id="kit-corner", min_width=120)
                    kit_font = gr.Textbox(label="Subtitle font: a family name, or upload a font file below", placeholder="Noto Sans CJK SC",
                                          elem_id="kit-font")
                    with gr.Row():
                        kit_logo = gr.File(label="Logo (PNG)", file_types=["image"], elem_id="kit-logo", height=120, min_width=140)
                        kit_font_file = gr.File(label="Font file", file_types=[".ttf", ".otf", ".ttc"], elem_id="kit-font-file",
                                                height=120, min_width=140)
                    with gr.Row():
                        kit_intro = gr.File(label="Intro clip", file_types=["video"], elem_id="kit-intro", height=120, min_width=140)
                        kit_outro = gr.File(label="Outro clip", file_types=["video"], elem_id="kit-outro", height=120, min_width=140)
                    with gr.Row():
                        kit_end = gr.Checkbox(True, label="End card", elem_id="kit-end-card", min_width=100)
                        kit_offer = gr.Textbox(label="End-card offer (blank: from the facts)", elem_id="kit-offer", min_width=140)
                        kit_cta = gr.Textbox(label="Call to action (blank: from the facts)", elem_id="kit-cta", min_width=140)
                    kit_save = gr.Button("Save brand kit", elem_id="kit-save")
                send = gr.Button("Make storyline", variant="primary", elem_id="send")
                chatbot = gr.Chatbot(label="Chat", height=380, elem_id="chat", buttons=["copy"])
                msg = gr.Textbox(label="Edit by chat (after the video is made)", elem_id="edit",
                                 placeholder="shorter · square version · make line 2 a call to action · calmer music · undo")
            with gr.Column(scale=7, min_width=320):
                progress = gr.HTML("", label="Progress", elem_id="progress")
                board = gr.JSON(None, label="Storyboard", visible=False, elem_id="board")
                gr.Markdown("### Storyboard", elem_id="storyboard-title")

                @gr.render(inputs=[board])
                def strip(b: dict | None) -> None:
                    shots = (b or {}).get("shots") or []
                    if not shots:
                        gr.Markdown(EMPTY_BOARD, elem_id="storyboard-empty")
                        return
                    review = b.get("mode") == "review"
                    beats = b["storyline"]["beats"]
                    names = b.get("names") or []
                    labels, texts, swaps, moves = [], [], [], []
                    with gr.Row(elem_id="strip", equal_height=False):
                        for i, s in enumerate(shots):
                            with gr.Column(elem_classes=["adreel-card"], min_width=210, elem_id=f"shot-{i + 1}"):
                                gr.Image(s.get("thumb"), show_label=False, height=130, interactive=False, buttons=[], container=False,
                                         elem_classes=["adreel-thumb"])
                                gr.Markdown(f"{i + 1} · {beats[i]['duration_s']:.1f} s · {s['name']}", elem_classes=["adreel-shot-head"])
                                if review:
                                    labels.append(gr.Dropdown(label_choices(), value=s["label"], label=f"Script label, shot {i + 1}", show_label=False, container=False,
                                                              interactive=True, elem_classes=["adreel-label"]))
                                    texts.append(gr.Textbox(s["text"], label=f"Voice-over line, shot {i + 1}", show_label=False, lines=3, max_lines=6, container=False, interactive=True,
                                                            placeholder="the narrator writes a new line for this shot (or type yours)",
                                                            elem_classes=["adreel-line"]))
                                    swaps.append(gr.Dropdown(names, value=s["name"], label=f"Photo or clip, shot {i + 1}", container=False, show_label=False,
                                                             interactive=True, elem_classes=["adreel-swap"]))
                                    with gr.Row():
                                        moves.append((gr.Button("◀", size="sm", elem_classes=["adreel-move"], interactive=i > 0),
                                                      gr.Button("▶", size="sm", elem_classes=["adreel-move"], interactive=i < len(shots) - 1)))
                                else:
                                    gr.Markdown(f"**{s['label']}** · {label_en(s['label'])}", elem_classes=["adreel-shot-line"])
                                    gr.Markdown(s["text"] or "—", elem_classes=["adreel-shot-line"])
                    if not review:
                        return
                    ins = [board, chatbot, session, *labels, *texts]
                    for i, dd in enumerate(swaps):
                        def swap_handler(bd: dict, history: list[dict], sess: dict | None, name: str, *values: Any, i: int = i) -> tuple:
                            return storyboard_edit(lambda e, st: swap_shot(ws, st, e, i, name))(bd, history, sess, *values)

                        dd.input(swap_handler, [board, chatbot, session, dd, *labels, *texts], [board, chatbot, gallery], show_progress="minimal")
                    for i, (left, right) in enumerate(moves):
                        left.click(storyboard_edit(lambda e, st, i=i: move_shot(e, i, i - 1)), ins, [board, chatbot, gallery], show_progress="minimal")
                        right.click(storyboard_edit(lambda e, st, i=i: move_shot(e, i, i + 1)), ins, [board, chatbot, gallery], show_progress="minimal")

                    def approve_cards(bd: dict, history: list[dict], sess: dict | None, *values: Any) -> Iterator[tuple]:
                        try:
                            n = len(bd.get("shots") or [])
                            edited = with_edits(bd, values[:n], values[n:2 * n])
                        except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
                            yield out([*(history or []), {"role": "assistant", "content": say(e)}], new_session(sess))
                            return
                        yield from approve(edited, history, sess)

                    approve_btn = gr.Button("Approve storyline and make the video", variant="primary", elem_id="approve")
                    approve_btn.click(approve_cards, ins, outs, show_progress="hidden")
                    approve_btn.click(None, None, None, js=SHOW_PROGRESS_JS)

                gallery = gr.Gallery(label="Your material: scores, and whether and why each is used", columns=3, height="auto",
                                     object_fit="cover", elem_id="material-gallery", allow_preview=True, visible=False)
                with gr.Column(visible=False, elem_id="results") as results:
                    video = gr.Video(label="Video", elem_id="video", height=460)
                    with gr.Row():
                        gif = gr.Image(label="GIF thumbnail", elem_id="gif", buttons=["download"], min_width=160)
                        expl = gr.Image(label="Why it is exciting", elem_id="explanation", buttons=["download", "fullscreen"], min_width=160)
                    downloads = gr.File(label="Downloads (MP4, SRT, timeline, OTIO)", file_count="multiple", elem_id="downloads")
                    export_fmts = gr.CheckboxGroup(EXPORTS, value=["fcpxml", "jianying"], label="Export for an editor",
                                                   elem_id="export-formats")
                    export_btn = gr.Button("Export for the editors ticked", elem_id="export")
                    exports = gr.File(label="Editor exports", file_count="multiple", elem_id="exports", visible=False)
        outs = [chatbot, session, progress, gallery, board, video, gif, expl, downloads, results, exports]
        ctl = [duration, aspect, resolution, language, voice, music, brand]
        start_ins = [files, brief, *ctl, hero, chatbot, session]
        files.change(_photo_choices, files, hero, api_visibility="undocumented")
        kit_form = [kit_name, kit_corner, kit_primary, kit_secondary, kit_font, kit_end, kit_offer, kit_cta, kit_logo]

        def load_kit(name: str | None) -> tuple:
            f = form_of(ws, name)
            return f["name"], f["corner"], f["primary"], f["secondary"], f["font"], f["end_card"], f["offer"], f["cta"], f["logo"]

        def save_kit(name: str, corner: str, primary: str, secondary: str, font: str, end_card: bool, offer: str, cta: str, logo: Any,
                     font_file: Any, intro: Any, outro: Any, history: list[dict]) -> tuple:
            try:
                kit = save_kit_from_form(ws, name, corner=corner, primary=primary, secondary=secondary, font=font, end_card=end_card,
                                         offer=offer, cta=cta, logo=logo, intro=intro, outro=outro, font_file=font_file)
                reply = (f"Brand kit **{kit.name}** saved. It is chosen for the next video; on a finished video say "
                         f"'use brand {kit.name}' (or 'no brand').")
                return gr.Dropdown(choices=brand_choices(), value=kit.name), [*(history or []), {"role": "assistant", "content": reply}]
            except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
                return skip(), [*(history or []), {"role": "assistant", "content": say(e)}]

        def export(formats: list[str], history: list[dict], session: dict | None) -> tuple:
            session = new_session(session)
            try:
                if not session.get("job"):
                    raise ToolInputError("there is no video to export yet", hint="make a video first")
                paths = export_job(ws, planner(session.get("voice")).state(session["job"]), formats)
                return gr.File(paths, visible=True), history
            except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
                return skip(), [*(history or []), {"role": "assistant", "content": say(e)}]

        brand.input(load_kit, brand, kit_form, api_visibility="undocumented")
        demo.load(lambda: gr.Dropdown(choices=brand_choices()), None, brand, api_visibility="undocumented", show_progress="hidden")  # kits saved since the app started (CLI, another tab)
        kit_save.click(save_kit, [*kit_form, kit_font_file, kit_intro, kit_outro, chatbot], [brand, chatbot], api_name="save_brand")
        export_btn.click(export, [export_fmts, chatbot, session], [exports, chatbot], api_name="export")
        send.click(start, start_ins, outs, api_name="start", show_progress="hidden")
        send.click(None, None, None, js=SHOW_PROGRESS_JS)
        approve_api = gr.Button("approve", visible=False, elem_id="approve-api")
        approve_api.click(approve, [board, chatbot, session], outs, api_name="approve", show_progress="hidden")
        msg.submit(chat, [msg, chatbot, session], outs, api_name="chat", show_progress="hidden").then(lambda: "", None, msg, api_visibility="undocumented")
        for btn, lang in ((ex_zh, "zh"), (ex_en, "en")):
            ex = EXAMPLES[lang]

            def fill(lang: str = lang, ex: Mapping[str, str] = ex) -> tuple:
                return example_files(ws, lang), ex["brief"], ex["duration"], ex["aspect"], "auto", lang, "auto"

            btn.click(fill, None, [files, brief, duration, aspect, resolution, language, music], api_name=f"example_{lang}").then(
                start, start_ins, outs, show_progress="hidden", api_visibility="undocumented")
            btn.click(None, None, None, js=SHOW_PROGRESS_JS)
    demo.queue(default_concurrency_limit=2)
    return demo


def launch(ws: Workspace, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    demo = build_ui(ws)
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, max_file_size=f"{MAX_FILE_MB}mb",
                allowed_paths=[str(ws.root / "jobs"), str(ws.root / "samples"), str(ws.root / "brand")], show_error=False, css=CSS)
    return demo
