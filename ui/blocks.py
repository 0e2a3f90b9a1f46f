"""Gradio Blocks UI: chat, uploads, an editable storyline table, progress, the video, the GIF
thumbnail, the explanation image and downloads.

Each browser session has its own upload folder and job inside the workspace; uploaded files are
copied under sanitised names (never used as given). Endpoints are named (``start``, ``approve``,
``chat``) so ``gradio_client`` can drive them.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from agents.agent import chat_edit
from agents.graph import STEPS
from agents.planner import Planner
from agents.state import MakeRequest
from tools.core.errors import AdReelError, ToolInputError
from tools.core.media import AUDIO_EXT, IMAGE_EXT
from tools.core.models import SCRIPT_LABELS, NarrationLine, Storyline, count_words
from tools.core.workspace import Workspace, sanitize_filename

_log = logging.getLogger(__name__)
MAX_FILES = 40
MAX_FILE_MB = 500
HEADERS = ["#", "shot", "in_s", "out_s", "label", "narration", "why this shot"]
HELP = ("Edits I understand: 'shorter', 'make it 10 s', 'square version', 'put the texture shot first', "
        "'make line 2 a call to action', 'calmer music', 'undo' (and the same in Chinese: 缩短, 方形, 第2句改成引导购买, 撤销 …).")


def _rows(table: Any) -> list[list[Any]]:
    """The storyline table's rows as lists of at least 6 cells (anything else in the table is ignored)."""
    values = getattr(table, "values", None)
    rows = values.tolist() if hasattr(values, "tolist") else table if isinstance(table, list) else []
    return [list(r) for r in rows if isinstance(r, (list, tuple)) and len(r) >= 6]


def _say(e: Exception) -> str:
    """The chat message for a failure: what happened and what to do (details of a bug go to the log)."""
    if isinstance(e, AdReelError):
        return f"⚠️ {e.message}" + (f"\n\nWhat to do: {e.hint}" if e.hint else "")
    if isinstance(e, OSError):
        return f"⚠️ A file could not be read or written ({e.strerror or e}).\n\nWhat to do: upload the files again; check free disk space."
    _log.exception("unexpected error in the UI")
    return (f"⚠️ Something went wrong inside AdReel ({type(e).__name__}); your uploads and the job so far are kept.\n\n"
            "What to do: try again; if it happens again, report it with the server log.")


def _table(story: dict | None, lines: list[dict] | None) -> list[list[Any]]:
    if not story:
        return []
    text = {ln["beat_index"]: ln["text"] for ln in (lines or [])}
    return [[b["index"] + 1, b["reason"].split(", ")[0], round(b["in_s"], 2), round(b["out_s"], 2), b["label"], text.get(b["index"], ""),
             b["reason"].split(", ", 1)[-1]] for b in story["beats"]]


def _left_out(ws: Workspace, st: Mapping[str, Any]) -> list[str]:
    """One line per material the storyline does not use, with the reason."""
    from tools.understand.ingest import load_library

    left = (st.get("storyline") or {}).get("left_out") or {}
    if not left or not st.get("product_id"):
        return []
    names = {m.id: m.original_name for m in load_library(ws, st["product_id"])}
    return [f"not used: {names.get(k, k)} — {why}" for k, why in left.items()]


def _outputs(planner: Planner, job_id: str | None) -> tuple[Any, Any, Any, Any, list[str]]:
    if not job_id:
        return [], None, None, None, []
    st = planner.state(job_id)
    arts = st.get("artifacts") or {}
    ws = planner.ws

    def p(key: str) -> str | None:
        return str(ws.abs(arts[key])) if arts.get(key) else None

    downloads = [x for x in (p("video"), p("subtitles_srt"), p("timeline"), p("otio")) if x]
    return _table(st.get("storyline"), st.get("lines")), p("video"), p("thumbnail_gif"), p("explanation_png"), downloads


def _save_uploads(ws: Workspace, session: dict, files: list[Any] | None) -> dict[str, Any]:
    """Copy uploads into the session folder by kind; returns materials dir, product file, music file."""
    up = ws.inside("uploads", session["id"])
    mats = up / "materials"
    mats.mkdir(parents=True, exist_ok=True)
    product, music = None, None
    files = files or []
    if len(files) > MAX_FILES:
        raise ToolInputError(f"{len(files)} files uploaded", hint=f"upload at most {MAX_FILES} files per video")
    for f in files:
        src = Path(f if isinstance(f, str) else getattr(f, "name", f["path"] if isinstance(f, dict) else str(f)))
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


def _photo_choices(files: list[Any] | None) -> Any:
    """The uploaded photos, for the hero choice (names as they will be stored)."""
    names = []
    for f in files or []:
        src = Path(f if isinstance(f, str) else getattr(f, "name", f["path"] if isinstance(f, dict) else str(f)))
        if src.suffix.lower() in IMAGE_EXT:
            names.append(sanitize_filename(src.name))
    return gr.Dropdown(choices=names, value=None)


def build_ui(ws: Workspace) -> gr.Blocks:
    planner_box: dict[str, Planner] = {}

    def planner() -> Planner:
        if "p" not in planner_box:
            planner_box["p"] = Planner(ws)
        return planner_box["p"]

    def start(files: list[Any] | None, brief: str, history: list[dict], session: dict | None, hero: str | None = None,
              progress: gr.Progress = gr.Progress()):  # noqa: B008
        session = session or {"id": secrets.token_hex(8), "job": None}
        history = list(history or []) + [{"role": "user", "content": brief or "(no brief)"}]
        try:
            up = _save_uploads(ws, session, files)
            if up["product"] is None:
                raise ToolInputError("no product facts uploaded", hint="upload a .txt (`名称：…` / `name: …` and `aspect：point、point` lines) or a ProductInfo .json")
            hero_path = up["materials"] / sanitize_filename(hero) if hero else None
            req = MakeRequest(materials_dir=str(up["materials"]), product_path=str(up["product"]), music_path=str(up["music"]) if up["music"] else None,
                              hero_path=str(hero_path) if hero_path and hero_path.is_file() else None, brief=brief or "")
            pl = planner()
            progress(0.05, desc="planning")
            job_id = pl.start(req, auto_approve=False)
            session["job"] = job_id
            job = ws.load_job(job_id)
            msg = f"Here is the storyline for a {job.brief.duration_s:g} s {job.brief.aspect} video. Each shot has a draft voice-over line: edit labels or lines in the table, then press Approve."
            notes = job.warnings + _left_out(ws, pl.state(job_id))
            if notes:
                msg += "\n\n" + "\n".join(f"- {w}" for w in notes)
            history.append({"role": "assistant", "content": msg})
        except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
            history.append({"role": "assistant", "content": _say(e)})
        return (history, session, *_outputs(planner(), session.get("job")))

    def approve(table: Any, history: list[dict], session: dict | None, progress: gr.Progress = gr.Progress()):  # noqa: B008
        history = list(history or [])
        session = session or {"id": secrets.token_hex(8), "job": None}
        job_id = session.get("job")
        try:
            if not job_id:
                raise ToolInputError("there is no storyline to approve yet", hint="upload material and product facts, write a brief and press Send")
            pl = planner()
            st = pl.state(job_id)
            decision: dict[str, Any] = {"approve": True}
            rows = _rows(table)
            if rows and pl.waiting_for(job_id) == "review":
                story = Storyline.model_validate(st["storyline"])
                beats, user_lines = list(story.beats), []
                drafts = {d["beat_index"]: d for d in (st.get("lines") or [])}
                for row in rows:
                    try:
                        i = int(float(row[0])) - 1
                    except (TypeError, ValueError, IndexError, OverflowError):
                        continue  # not a row of the storyline table
                    if not 0 <= i < len(beats):
                        continue
                    label = str(row[4]).strip()
                    if label and label != beats[i].label:
                        if any(part not in SCRIPT_LABELS for part in label.split("+")):
                            raise ToolInputError(f"row {i + 1}: unknown label {label!r}", hint=f"use one of: {', '.join(SCRIPT_LABELS)}")
                        beats[i] = beats[i].model_copy(update={"label": label})
                    text = str(row[5] or "").strip()
                    draft = drafts.get(i)
                    if draft and text == draft["text"].strip():
                        if beats[i].label == draft["label"]:
                            user_lines.append(draft)  # the draft line, approved as it is
                        continue  # relabelled: the narrator re-writes it for the new label
                    if text:
                        b = beats[i]
                        user_lines.append(NarrationLine(beat_index=i, label=b.label, text=text, language=st["language"], word_min=b.word_min,
                                                        word_max=max(b.word_max, count_words(text, st["language"])), source="user").model_dump(mode="json"))
                decision = {"storyline": Storyline(beats=beats).model_dump(mode="json")}
                pl.graph.update_state(pl.config(job_id), {"lines": user_lines})
            progress(STEPS.index("narrate") / len(STEPS), desc="narrating, speaking, rendering")
            pl.resume(job_id, decision)
            job = ws.load_job(job_id)
            history.append({"role": "assistant", "content": f"Done: version {pl.timeline(job_id).version} is ready. " + HELP
                            + ("".join(f"\n- {w}" for w in job.warnings) if job.warnings else "")})
        except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
            history.append({"role": "assistant", "content": _say(e)})
        return (history, session, *_outputs(planner(), job_id))

    def chat(message: str, history: list[dict], session: dict | None, progress: gr.Progress = gr.Progress()):  # noqa: B008
        history = list(history or []) + [{"role": "user", "content": message}]
        session = session or {"id": secrets.token_hex(8), "job": None}
        job_id = session.get("job")
        try:
            if not job_id or planner().timeline(job_id) is None:
                reply = ("The storyline is waiting for your approval: edit the table and press Approve."
                         if job_id and planner().waiting_for(job_id) == "review"
                         else "Upload photos/clips and product facts, write a brief, then press Send to start.")
            else:
                progress(0.3, desc="editing")
                reply = chat_edit(planner(), job_id, message or "")
                reply += f" (version {planner().timeline(job_id).version})" if "did not recognise" not in reply else " " + HELP
        except Exception as e:  # noqa: BLE001 - every failure becomes a chat message, never a traceback
            reply = _say(e)
        history.append({"role": "assistant", "content": reply})
        return (history, session, *_outputs(planner(), job_id))

    with gr.Blocks(title="AdReel") as demo:
        session = gr.State(None)
        gr.Markdown("## AdReel — promo videos from your own photos, clips and product facts")
        with gr.Row():
            with gr.Column(scale=5):
                chatbot = gr.Chatbot(label="Chat", height=420, elem_id="chat")
                files = gr.File(label="Photos, clips, music, product facts (.txt/.json)", file_count="multiple", elem_id="uploads")
                hero = gr.Dropdown(label="★ Hero photo: the one that shows the product best (optional)", choices=[], value=None,
                                   allow_custom_value=False, elem_id="hero")
                brief = gr.Textbox(label="Brief", placeholder="15 s vertical video for Double 11, stress the texture, upbeat", elem_id="brief")
                send = gr.Button("Send", variant="primary", elem_id="send")
                msg = gr.Textbox(label="Edit by chat", placeholder="shorter · square version · make line 2 a call to action · undo", elem_id="edit")
            with gr.Column(scale=6):
                table = gr.Dataframe(headers=HEADERS, label="Storyline (edit label and narration, then Approve)", interactive=True, wrap=True, elem_id="storyline")
                approve_btn = gr.Button("Approve storyline", elem_id="approve")
                video = gr.Video(label="Video", elem_id="video")
                with gr.Row():
                    gif = gr.Image(label="GIF thumbnail", elem_id="gif")
                    expl = gr.Image(label="Why it is exciting", elem_id="explanation")
                downloads = gr.File(label="Downloads (MP4, SRT, timeline, OTIO)", file_count="multiple", elem_id="downloads")
        outs = [chatbot, session, table, video, gif, expl, downloads]
        files.change(_photo_choices, files, hero)
        send.click(start, [files, brief, chatbot, session, hero], outs, api_name="start")
        approve_btn.click(approve, [table, chatbot, session], outs, api_name="approve")
        msg.submit(chat, [msg, chatbot, session], outs, api_name="chat").then(lambda: "", None, msg)
    demo.queue(default_concurrency_limit=2)
    return demo


def launch(ws: Workspace, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    demo = build_ui(ws)
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, max_file_size=f"{MAX_FILE_MB}mb",
                allowed_paths=[str(ws.root / "jobs")], show_error=True)
    return demo
