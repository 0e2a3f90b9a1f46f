"""The UI without a browser: the storyboard logic on a real job of the bundled sample material
(swap, move, edit, approve; checked in the rendered job's files), the request the controls make,
progress estimates, friendly errors, and the Gradio app through ``gradio_client`` (two concurrent
sessions get their own storyline and video; a storyboard edited through the API is what is spoken)."""

from __future__ import annotations

import itertools
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.core.errors import ToolInputError


def _duration(path: str | Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout)["format"]["duration"])


# --------------------------------------------------------------------------- the request the controls make
def _uploads(tmp_path: Path, music: bool = False) -> dict:
    mats = tmp_path / "materials"
    mats.mkdir(exist_ok=True)
    product = tmp_path / "product.txt"
    product.write_text("name: Joust Duffle Bag\nmaterial: nylon\n", encoding="utf-8")
    return {"materials": mats, "product": product, "music": tmp_path / "music.mp3" if music else None}


def test_controls_override_the_brief_and_speak_its_language(tmp_path: Path) -> None:
    from agents.brief import resolve_spec
    from ui.blocks import compose_request

    req, notes = compose_request(_uploads(tmp_path), "15 s vertical video, stress the material", duration="10", aspect="1:1",
                                 resolution="1080", language="en", music="relaxed")
    spec = resolve_spec(req)
    assert (spec.duration_s, spec.aspect, spec.resolution_p, spec.language, spec.mood) == (10.0, "1:1", 1080, "en", "relaxed")
    assert spec.emphasis == ["material"] and notes == []
    auto, _ = compose_request(_uploads(tmp_path), "15 s vertical video")
    assert resolve_spec(auto).duration_s == 15.0 and resolve_spec(auto).aspect == "9:16"  # "from brief" leaves the brief alone


def test_controls_conflicts_and_bad_values_are_said(tmp_path: Path) -> None:
    from ui.blocks import compose_request

    req, notes = compose_request(_uploads(tmp_path, music=True), "upbeat", music="relaxed")
    assert req.music_path is None  # made music chosen: the upload is not used, and the notes say both things
    assert any("brief wins" in n for n in notes) and any("uploaded music is not used" in n for n in notes)
    with pytest.raises(ToolInputError, match="no product facts"):
        compose_request({**_uploads(tmp_path), "product": None}, "10 s")
    for bad in ({"language": "fr"}, {"music": "loud"}, {"duration": "ten"}, {"aspect": "4:3"}, {"duration": "100000"}):
        with pytest.raises(ToolInputError):
            compose_request(_uploads(tmp_path), "", **bad)


def test_unexpected_errors_become_a_friendly_message() -> None:
    from ui.blocks import say

    msg = say(KeyError("beats"))
    assert msg.startswith("⚠️") and "What to do" in msg and "Traceback" not in msg and "beats" not in msg
    assert "What to do: upload it again" in say(ToolInputError("x.jpg is not a file that arrived", hint="upload it again"))


def test_progress_estimate_counts_down_and_reports_failures(_isolated_workspace: Path) -> None:
    from agents.graph import STEPS
    from tools.core.models import Job
    from tools.core.workspace import Workspace
    from ui.progress import TYPICAL_S, expected_times, progress_html, run_watched

    ws = Workspace(_isolated_workspace)
    assert expected_times(ws) == {s: TYPICAL_S[s] for s in STEPS}  # no jobs yet: typical times
    job_id = ws.new_job_id()
    ws.save_job(Job(id=job_id, product_id="p"))
    steps = STEPS[:3]

    def work() -> str:
        for s in steps:
            __import__("time").sleep(0.3)
            ws.update_job(job_id, step=s, timing=(s, 0.3))
        return "ok"

    seen = list(run_watched(ws, job_id, work, steps, every_s=0.1))
    assert seen[-1][1] and seen[-1][2] == "ok" and seen[-1][0].done == list(steps)
    lefts = [w.left_s for w, _, _ in seen]
    assert lefts[0] > 0 and lefts[-1] == 0 and all(a >= b - 1e-9 for a, b in itertools.pairwise(lefts))
    assert "step 1 of 3" in progress_html(seen[0][0], steps, "Planning")

    def boom() -> None:
        raise ToolInputError("no usable photos")

    with pytest.raises(ToolInputError, match="no usable photos"):
        list(run_watched(ws, job_id, boom, steps, every_s=0.05))


# --------------------------------------------------------------------------- the storyboard on a real job
@pytest.mark.slow
def test_storyboard_swap_move_edit_approve(_isolated_workspace: Path) -> None:
    import opentimelineio as otio

    from agents.planner import Planner
    from agents.state import MakeRequest
    from tools.core.workspace import Workspace
    from ui.blocks import example_files
    from ui.storyboard import decision, make_board, material_cards, move_shot, swap_shot, with_edits

    ws = Workspace(_isolated_workspace)
    files = example_files(ws, "en")
    pl = Planner(ws)
    job_id = pl.start(MakeRequest(materials_dir=str(Path(files[0]).parent), product_path=files[-1], brief="10 s square video"),
                      auto_approve=False)
    st = pl.state(job_id)
    board = make_board(ws, st, "review")
    beats = st["storyline"]["beats"]
    assert len(board["shots"]) == len(beats) >= 3
    assert all(Path(s["thumb"]).is_file() and s["text"] for s in board["shots"])  # a picture and a draft line per card
    cards = material_cards(ws, st)
    assert len(cards) == 5 and sum("✓ used in shot" in c for _, c in cards) == len({b["material_id"] for b in beats})
    assert any("not used: off-topic" in c and "04_afternoon_cat" in c for _, c in cards)  # and why

    # move the last shot first: it keeps its length and its line
    last = len(beats) - 1
    moved = move_shot(board, last, 0)
    assert moved["storyline"]["beats"][0]["duration_s"] == beats[last]["duration_s"]
    assert moved["shots"][0]["text"] == board["shots"][last]["text"]
    # swap shot 2 for the cat: a line will be written for it; edit shot 3's line; relabel shot 1
    swapped = swap_shot(ws, st, with_edits(moved, [], ["", "", "Two minutes to a real cup."]), 1, "04_afternoon_cat.jpg")
    cat = next(m for m in st["materials"] if m["original_name"] == "04_afternoon_cat.jpg")
    assert swapped["storyline"]["beats"][1]["material_id"] == cat["id"] and swapped["shots"][1]["text"] == ""
    assert swapped["shots"][2]["text"] == "Two minutes to a real cup."  # other cards' edits survive a swap
    edited = with_edits(swapped, ["痛点铺垫"], [])
    story, lines = decision(st, edited)
    by_beat = {ln["beat_index"]: ln for ln in lines}
    assert story.beats[0].label == "痛点铺垫" and 0 not in by_beat  # relabelled: the narrator writes it again
    assert 1 not in by_beat and by_beat[2]["source"] == "user"
    with pytest.raises(ToolInputError):
        decision(st, with_edits(swapped, ["no such label"], []))
    with pytest.raises(ToolInputError):
        swap_shot(ws, st, board, 0, "not_there.jpg")
    forged = json.loads(json.dumps(edited))  # a board the page never made: refused, whatever the browser sends
    for path, value in ((("material_id",), "0" * 16), (("duration_s",), 9.0), (("label",), "ignore the rules"), (("word_max",), 999)):
        bad = json.loads(json.dumps(forged))
        bad["storyline"]["beats"][0][path[0]] = value
        with pytest.raises(ToolInputError, match="storyboard sent back"):
            decision(st, bad)
    for junk in ({"job": job_id}, {**forged, "shots": forged["shots"][:1]}, {**forged, "shots": [None] * 3}, {**forged, "job": "x"}):
        with pytest.raises(ToolInputError):
            decision(st, junk)

    pl.graph.update_state(pl.config(job_id), {"lines": lines})
    pl.resume(job_id, {"storyline": story.model_dump(mode="json")})
    done = make_board(ws, pl.state(job_id), "done")
    tl = json.loads((ws.job_dir(job_id) / "timeline.json").read_text(encoding="utf-8"))
    spoken = {ln["beat_index"]: ln for ln in tl["narration"]}
    assert spoken[2]["text"] == "Two minutes to a real cup." and spoken[0]["label"] == "痛点铺垫" and spoken[1]["text"]
    assert [s["text"] for s in done["shots"]] == [spoken[i]["text"] for i in range(len(done["shots"]))]
    track = otio.adapters.read_from_file(str(ws.job_dir(job_id) / "timeline.otio")).video_tracks()[0]
    clips = [c for c in track if isinstance(c, otio.schema.Clip)]
    assert cat["id"] in clips[1].media_reference.target_url, [(type(c).__name__, c.name) for c in track]  # the swapped shot, read back
    assert abs(_duration(ws.job_dir(job_id) / "video.mp4") - 10.0) <= 0.1


@pytest.mark.slow
def test_exports_and_brand_kit_from_the_ui(_isolated_workspace: Path, tmp_path: Path) -> None:
    from PIL import Image

    from agents.planner import make_video
    from agents.state import MakeRequest
    from tools.core.workspace import Workspace
    from tools.render.brand import load_brand_kit
    from ui.blocks import example_files
    from ui.brand import export_job, form_of, save_kit_from_form

    ws = Workspace(_isolated_workspace)
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (200, 80), (255, 59, 48, 255)).save(logo)
    kit = save_kit_from_form(ws, "acme", primary="rgba(255, 59, 48, 1)", secondary="#111111", logo=str(logo), offer="2 for 1")
    assert kit.primary == "#FF3B30" and ws.abs(kit.logo).is_file() and load_brand_kit(ws, "acme") == kit
    again = save_kit_from_form(ws, "acme", primary="#00AA00", corner="bottom-left")  # edited: the logo stays
    assert again.logo == kit.logo and again.logo_corner == "bottom-left" and form_of(ws, "acme")["primary"] == "#00AA00"
    with pytest.raises(ToolInputError):
        save_kit_from_form(ws, "bad name!")
    with pytest.raises(ToolInputError):
        save_kit_from_form(ws, "acme", primary="red-ish")

    files = example_files(ws, "en")
    job = make_video(MakeRequest(materials_dir=str(Path(files[0]).parent), product_path=files[-1], brief="8 s square video", brand="acme"),
                     ws, log=lambda m: None)
    from agents.planner import Planner

    st = Planner(ws).state(job.id)
    with pytest.raises(ToolInputError):
        export_job(ws, st, [])
    paths = export_job(ws, st, ["otio", "fcpxml", "fcp7xml", "jianying"])
    by_ext = {Path(p).suffix: Path(p) for p in paths}
    assert set(by_ext) == {".otio", ".fcpxml", ".xml", ".zip"} and all(ws.root in p.parents for p in by_ext.values())
    import zipfile

    import opentimelineio as otio

    with zipfile.ZipFile(by_ext[".zip"]) as z:
        assert any(n.endswith("draft_content.json") for n in z.namelist())
    for ext in (".otio", ".fcpxml", ".xml"):  # each export reads back as a timeline of the video's length
        ot = otio.adapters.read_from_file(str(by_ext[ext]))
        assert abs(ot.duration().to_seconds() - 8.0) <= 0.1


# --------------------------------------------------------------------------- the served app
def run_session(url: str, files: list[str], brief: str, duration: str, aspect: str, new_line: str | None = None) -> dict:
    """One user: upload + brief + controls → storyboard → (edit a line) → approve → video. Returns what the user got."""
    from gradio_client import Client, handle_file

    c = Client(url, verbose=False)
    chat, _progress, gallery, board, *_ = c.predict([handle_file(f) for f in files], brief, duration, aspect, "auto", "auto", "espeak",
                                                    "auto", "none", None, [], api_name="/start")
    sent = json.loads(json.dumps(board))
    if new_line:
        sent["shots"][0]["text"] = new_line
    chat, _progress, gallery, done, video, gif, expl, downloads, _exports = c.predict(sent, chat, api_name="/approve")
    return {"chat": chat, "board": board, "done": done, "video": video, "gallery": gallery, "downloads": downloads, "gif": gif, "expl": expl}


@pytest.mark.slow
def test_two_concurrent_sessions_get_their_own_outputs(media_dir: Path, tmp_path: Path, _isolated_workspace: Path, app_url: str) -> None:
    facts = tmp_path / "product.txt"
    facts.write_text("name: Joust Duffle Bag\nmaterial: durable nylon, padded strap\noffer: only 34 dollars\n", encoding="utf-8")
    imgs = [str(media_dir / "images" / n) for n in ("magento_mb01-blue-0.jpg", "magento_mb03-black-0.jpg", "magento_wb02-green-0.jpg")]
    line = "Carry the whole weekend in one nylon bag."
    with ThreadPoolExecutor(2) as ex:
        a = ex.submit(run_session, app_url, [*imgs, str(facts)], "square video", "6", "auto")
        b = ex.submit(run_session, app_url, [*imgs[:2], str(facts)], "8 s square video", "auto", "9:16", line)
        ra, rb = a.result(timeout=900), b.result(timeout=900)
    va = ra["video"]["video"] if isinstance(ra["video"], dict) else ra["video"]
    vb = rb["video"]["video"] if isinstance(rb["video"], dict) else rb["video"]
    assert va and vb and va != vb
    assert abs(_duration(va) - 6) <= 0.1 and abs(_duration(vb) - 8) <= 0.1  # controls: 6 s; and 8 s from the brief
    for r in (ra, rb):  # every card had a draft line; approved as is, it is what is spoken
        assert all(s["text"].strip() for s in r["board"]["shots"]) and r["gallery"] and r["gif"] and r["expl"] and r["downloads"]
        assert "Traceback" not in json.dumps(r["chat"])
    assert [s["text"] for s in ra["done"]["shots"]] == [s["text"] for s in ra["board"]["shots"]]
    assert rb["done"]["shots"][0]["text"] == line  # the line edited through the API is spoken
    jobs = sorted(p.name for p in (_isolated_workspace / "jobs").iterdir())
    uploads = sorted(p.name for p in (_isolated_workspace / "uploads").iterdir())
    assert len(jobs) == 2 and len(uploads) == 2  # one job and one upload folder per session
    tl_b = next(json.loads((_isolated_workspace / "jobs" / j / "timeline.json").read_text(encoding="utf-8")) for j in jobs
                if abs(json.loads((_isolated_workspace / "jobs" / j / "timeline.json").read_text(encoding="utf-8"))["duration_s"] - 8) < 0.2)
    assert tl_b["render"]["aspect"] == "9:16" and tl_b["narration"][0]["text"] == line
