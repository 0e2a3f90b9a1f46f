"""The storyboard behind the UI, without gradio: the material gallery (scores, used or not and
why), the storyline as editable shot cards, and the review decision made from them.

The board is a plain JSON dict (it travels through the browser and ``gradio_client``)::

    {"job": "<job id>", "mode": "review" | "done",
     "storyline": <Storyline dump, the working copy with swaps and moves applied>,
     "shots": [{"label", "text", "thumb", "name", "origin": <the beat it was drafted for> | None}, …],
     "names": [<the job's photos and clips, for a swap>]}

``shots[i]`` belongs to ``storyline.beats[i]``. The board comes back from the browser, so nothing in
it is trusted: the storyline must be one that swaps and moves of the job's own can make (the same
beat lengths and word ranges, the job's materials, known labels), and a draft line is taken from
the job's state (by ``origin``, only while the shot shows the material it was drafted for).

Swaps and moves go through the registry's ``edit_storyline`` tool (a swap keeps the beat's length,
a moved beat takes its length along, so cuts stay on their bars). A line the user left as drafted
is kept, a changed one is spoken as written, an emptied one (or the line of a swapped shot or a
relabelled beat) is written again by the narrator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agents.graph import render_spec
from tools.core.errors import ToolInputError
from tools.core.models import SCRIPT_LABELS, BriefSpec, Material, NarrationLine, Storyline, count_words
from tools.core.registry import call
from tools.core.workspace import Workspace
from tools.story.edits import edit_storyline
from tools.story.labels import vocabulary

#: Longest side of a thumbnail in pixels (enough for a 2× phone screen, small to send).
THUMB_PX = 480


def label_choices() -> list[tuple[str, str]]:
    """Dropdown choices: (the label in Chinese · in English, the label)."""
    voc = vocabulary().labels
    return [(f"{lab} · {voc[lab].en}" if lab in voc else lab, lab) for lab in SCRIPT_LABELS]


def label_en(label: str) -> str:
    voc = vocabulary().labels
    return " + ".join(voc[p].en if p in voc else p for p in label.split("+"))


# --------------------------------------------------------------------------- thumbnails
def thumbnail(ws: Workspace, job_id: str, m: Material, at_s: float | None = None) -> str | None:
    """A small JPEG of a photo, or of a clip's frame at ``at_s`` (its middle when None), in the
    job's ``ui/`` folder; None when it cannot be made (the card then shows no picture)."""
    from PIL import Image

    from tools.core.errors import AdReelError
    from tools.core.media import run_ffmpeg

    src = ws.abs(m.path)
    t = 0.0 if m.kind == "image" else float(at_s if at_s is not None else (m.duration_s or 0.0) / 2)
    out = ws.job_dir(job_id) / "ui" / f"{m.id}_{round(t * 1000)}.jpg"
    if out.is_file():
        return str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if m.kind == "image":
            with Image.open(src) as im:
                im = im.convert("RGB")
                im.thumbnail((THUMB_PX, THUMB_PX))
                im.save(out, quality=85)
        else:
            run_ffmpeg(["-ss", f"{t:.3f}", "-i", str(src), "-frames:v", "1", "-vf", f"scale={THUMB_PX}:-2", "-q:v", "4", str(out)],
                       what=f"taking a frame of {m.original_name}", timeout_s=60)
    except (AdReelError, OSError, ValueError):
        return None
    return str(out) if out.is_file() else None


# --------------------------------------------------------------------------- the material gallery
def material_cards(ws: Workspace, st: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(thumbnail, caption) per photo or clip of the job: its scores, and which shots use it or why it is left out."""
    story = st.get("storyline") or {}
    beats = story.get("beats") or []
    left = {**(st.get("left_out") or {}), **(story.get("left_out") or {})}
    spec = st.get("spec") or {}
    out = []
    for raw in st.get("materials") or []:
        m = Material.model_validate(raw)
        pic = thumbnail(ws, st["job_id"], m)
        if pic is None:
            continue
        q = m.quality
        used = [str(b["index"] + 1) for b in beats if b["material_id"] == m.id]
        if used:
            head = f"✓ used in shot {', '.join(used)}"
        elif m.id in left:
            head = f"✗ not used: {left[m.id]}"
        else:
            head = f"✗ not used: the {spec.get('duration_s', 0):g} s storyline was full with better shots"
        scores = [f"{name} {q[key]:.2f}" for key, name in (("relevance", "relevance"), ("quality", "quality"),
                                                           ("cpa_persuasiveness", "persuasive")) if key in q]
        kind = "clip" if m.kind == "video" else "photo"
        out.append((pic, f"{head}\n{m.original_name} ({kind}) · " + " · ".join(scores)))
    return out


# --------------------------------------------------------------------------- the board
def _materials(st: Mapping[str, Any]) -> dict[str, Material]:
    return {m["id"]: Material.model_validate(m) for m in st.get("materials") or []}


def _shot(ws: Workspace, job_id: str, mats: Mapping[str, Material], beat: Mapping[str, Any], text: str, origin: int | None) -> dict[str, Any]:
    m = mats.get(beat["material_id"])
    at = (beat["in_s"] + beat["out_s"]) / 2
    return {"label": beat["label"], "text": text, "origin": origin, "name": m.original_name if m else beat["material_id"],
            "thumb": thumbnail(ws, job_id, m, at) if m else None}


def make_board(ws: Workspace, st: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """The board of a job waiting for review (``mode="review"``: draft lines, editable) or of a finished one (``"done"``)."""
    story = st.get("storyline") or {"beats": []}
    mats = _materials(st)
    lines = {ln["beat_index"]: ln for ln in st.get("lines") or []}
    shots = [_shot(ws, st["job_id"], mats, b, lines[b["index"]]["text"] if b["index"] in lines else "", b["index"])
             for b in story["beats"]]
    names = [m.original_name for m in mats.values() if m.kind in ("image", "video")]
    return {"job": st["job_id"], "mode": mode, "storyline": story, "shots": shots, "names": names}


def with_edits(board: Mapping[str, Any], labels: Sequence[Any], texts: Sequence[Any]) -> dict[str, Any]:
    """The board with the cards' current labels and lines (what the browser shows)."""
    _check_board(board)
    shots = [dict(s) for s in board.get("shots") or []]
    for i, s in enumerate(shots):
        if i < len(labels) and labels[i]:
            s["label"] = str(labels[i])
        if i < len(texts) and texts[i] is not None:
            s["text"] = str(texts[i])
    return {**board, "shots": shots}


def _check_board(board: Any) -> tuple[Storyline, list[dict[str, Any]]]:
    try:
        story = Storyline.model_validate(board["storyline"])
        shots = [dict(s) for s in board["shots"]]
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ToolInputError("the storyboard sent back is not one this page made", hint="reload the page and start again") from e
    if len(shots) != len(story.beats):
        raise ToolInputError("the storyboard has a card too many or too few", hint="reload the page and start again")
    return story, shots


def _fits_job(st: Mapping[str, Any], story: Storyline) -> None:
    """Raise ToolInputError unless ``story`` is the job's storyline after swaps, moves and relabels."""
    mine = Storyline.model_validate(st["storyline"]).beats
    mats = _materials(st)
    slots = sorted((round(b.duration_s, 6), b.word_min, b.word_max) for b in mine)
    ok = len(story.beats) == len(mine) and sorted((round(b.duration_s, 6), b.word_min, b.word_max) for b in story.beats) == slots
    for b in story.beats if ok else []:
        m = mats.get(b.material_id)
        cap = (m.duration_s or 0.0) if m and m.kind == "video" else float("inf")
        ok = (m is not None and m.kind in ("image", "video") and abs(b.out_s - b.in_s - b.duration_s) < 1e-3 and b.out_s <= cap + 1e-3
              and all(part in SCRIPT_LABELS for part in b.label.split("+")))
        if not ok:
            break
    if not ok:
        raise ToolInputError("the storyboard sent back does not fit this job", hint="reload the page and edit the storyline again")


def _fps(st: Mapping[str, Any]) -> int:
    return render_spec(BriefSpec.model_validate(st["spec"])).fps


def swap_shot(ws: Workspace, st: Mapping[str, Any], board: Mapping[str, Any], beat: int, material_name: str) -> dict[str, Any]:
    """Show the photo or clip named ``material_name`` in ``beat``; its line is written again unless the user types one."""
    story, shots = _check_board(board)
    mats = _materials(st)
    m = next((x for x in mats.values() if x.original_name == material_name or x.id == material_name), None)
    if m is None:
        raise ToolInputError(f"there is no photo or clip called {material_name!r} in this job", hint="pick one from the list")
    if story.beats[beat].material_id == m.id:
        return dict(board)
    out = call(edit_storyline, {"storyline": story, "op": "swap", "beat": beat, "material": m, "fps": _fps(st)})
    new = out.storyline.model_dump(mode="json")
    b = new["beats"][beat]
    shots[beat] = {**_shot(ws, st["job_id"], mats, b, "", None), "label": shots[beat]["label"]}
    return {**board, "storyline": new, "shots": shots}


def move_shot(board: Mapping[str, Any], beat: int, to: int) -> dict[str, Any]:
    """Put ``beat`` at position ``to`` (it keeps its length, its label and its line)."""
    story, shots = _check_board(board)
    if not 0 <= to < len(shots) or to == beat:
        return dict(board)
    out = call(edit_storyline, {"storyline": story, "op": "move", "beat": beat, "to": to})
    order = sorted(out.moved, key=lambda old: out.moved[old])
    return {**board, "storyline": out.storyline.model_dump(mode="json"), "shots": [shots[old] for old in order]}


def decision(st: Mapping[str, Any], board: Mapping[str, Any]) -> tuple[Storyline, list[dict[str, Any]]]:
    """The reviewed storyline and the lines to keep or speak as written, from the board.

    Raises:
        ToolInputError: a label that is not one of the 12, or a board that does not fit the job.
    """
    story, shots = _check_board(board)
    if board.get("job") != st.get("job_id"):
        raise ToolInputError("this storyboard belongs to another job", hint="reload the page")
    _fits_job(st, story)
    language = st["language"]
    drafted = {b["index"]: b["material_id"] for b in (st.get("storyline") or {}).get("beats") or []}
    drafts = {ln["beat_index"]: ln for ln in st.get("lines") or []}
    beats, lines = list(story.beats), []
    for i, s in enumerate(shots):
        label = str(s.get("label") or beats[i].label).strip()
        if label != beats[i].label:
            if any(part not in SCRIPT_LABELS for part in label.split("+")):
                raise ToolInputError(f"shot {i + 1}: unknown label {label!r}", hint=f"use one of: {', '.join(SCRIPT_LABELS)}")
            beats[i] = call(edit_storyline, {"storyline": Storyline(beats=beats, left_out=story.left_out), "op": "relabel", "beat": i,
                                             "label": label}).storyline.beats[i]
        text = str(s.get("text") or "").strip()
        origin = s.get("origin")
        draft = drafts.get(origin) if isinstance(origin, int) and drafted.get(origin) == beats[i].material_id else None
        if draft and text == str(draft["text"]).strip():
            if beats[i].label == draft["label"]:
                lines.append({**draft, "beat_index": i})  # the draft line, approved as it is
            continue  # relabelled: the narrator writes it again for the new label
        if text:
            b = beats[i]
            lines.append(NarrationLine(beat_index=i, label=b.label, text=text, language=language, word_min=b.word_min,
                                       word_max=max(b.word_max, count_words(text, language)), source="user").model_dump(mode="json"))
    return Storyline(beats=beats, left_out=story.left_out, notes=story.notes), lines


def files_of(ws: Workspace, st: Mapping[str, Any]) -> dict[str, str | None]:
    """Absolute paths of the job's outputs that exist so far (video, GIF, explanation, SRT, timeline, OTIO)."""
    arts = st.get("artifacts") or {}
    out: dict[str, str | None] = {}
    for key in ("video", "thumbnail_gif", "explanation_png", "subtitles_srt", "timeline", "otio"):
        p = arts.get(key)
        out[key] = str(ws.abs(p)) if p and Path(ws.abs(p)).is_file() else None
    return out
