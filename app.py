"""AdReel entry point: the Gradio chat UI (`python app.py`, default) and the CLI
(`python app.py make|demo|batch|tools|tool|jobs|resume|montage|thumbnail|explain|narrate-bench|train|ui`).

Every command goes through the one tool registry in tools/core/registry.py. Errors print what
happened and what to do, and exit non-zero (2: fix the input, 3: media problem, 4: missing
backend, 1: internal; `batch`: 5 when some of its videos failed, see its report); `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.core.workspace import Workspace

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

EXIT = {"fixable": 2, "infeasible": 2, "model_reply": 2, "media": 3, "unsupported": 3, "backend": 4, "rejected": 4,
        "no_images": 4, "internal": 1}
#: What a media-making command needs from the environment, checked before it starts.
MEDIA = ("workspace", "ffmpeg", "ffprobe", "espeak", "font")


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def cmd_tools(a: argparse.Namespace) -> int:
    from tools.core.registry import all_tools, describe

    if a.name or a.json:
        _print_json(describe(a.name))
    else:
        for t in all_tools().values():
            print(f"{t.name:24s} {t.description}")
            print(f"{'':24s} in:  {json.dumps(t.input_schema(), ensure_ascii=False)}")
            print(f"{'':24s} out: {json.dumps(t.output_schema(), ensure_ascii=False)}")
    return 0


def cmd_tool(a: argparse.Namespace) -> int:
    from tools.core.errors import ToolInputError
    from tools.core.registry import dumps, run_tool

    if a.input == "-":
        payload = sys.stdin.read()
    else:
        p = Path(a.input)
        if not p.is_file():
            raise ToolInputError(f"input file {a.input!r} does not exist", hint="pass --input FILE.json or --input - for stdin")
        try:
            payload = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ToolInputError(f"input file {a.input!r} is not UTF-8 text", hint="write the tool input as JSON") from e
    print(dumps(run_tool(a.name, payload)))
    return 0


def _export_formats(value: str | None) -> list[str]:
    """``--export fcpxml,jianying`` as a list, checked before any work."""
    from tools.core.errors import ToolInputError
    from tools.render.exports import EXPORT_FORMATS

    fmts = [f.strip().lower() for f in (value or "").split(",") if f.strip()]
    bad = [f for f in fmts if f not in EXPORT_FORMATS]
    if bad:
        raise ToolInputError(f"unknown export format(s): {', '.join(bad)}", hint=f"choose from {','.join(EXPORT_FORMATS)}")
    return fmts


def _check_brand(name: str | None) -> None:
    """``--brand NAME`` must name a saved kit: checked before any work."""
    if name:
        from tools.core.settings import get_settings
        from tools.core.workspace import Workspace
        from tools.render.brand import require_brand_kit

        require_brand_kit(Workspace(get_settings().workspace), name)


def _make(req: object, exports: list[str] | None = None) -> int:
    from agents.planner import make_video
    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace

    t0 = time.perf_counter()
    ws = Workspace(get_settings().workspace)
    job = make_video(req, ws, log=lambda m: print(m, file=sys.stderr))  # type: ignore[arg-type]
    art = {k: (str(ws.root / v) if v else None) for k, v in job.artifacts.model_dump().items()}
    if exports and job.artifacts.timeline:
        from tools.core.models import Timeline
        from tools.render.exports import write_exports

        tl = Timeline.model_validate_json((ws.root / job.artifacts.timeline).read_text(encoding="utf-8"))
        written = write_exports(tl, ws, ws.job_dir(job.id) / "exports", exports)
        art.update({f"export_{k}": str(v) for k, v in written.items()})
    beats, left_out = _storyline_summary(ws, job.id)
    for line in beats + [f"left out {n}: {why}" for n, why in left_out.items()]:
        print(line, file=sys.stderr)
    _print_json({"job": job.id, "status": job.status, "out": getattr(req, "out_path", None), "artifacts": art,
                 "storyline": beats, "left_out": left_out, "warnings": job.warnings, "wall_s": round(time.perf_counter() - t0, 2)})
    return 0


def _storyline_summary(ws: Workspace, job_id: str) -> tuple[list[str], dict[str, str]]:
    """One line per beat (what it shows, for how long, why, what it says) and the left-out files."""
    from tools.core.models import Storyline
    from tools.understand.ingest import load_library

    path = ws.job_dir(job_id, create=False) / "storyline.json"
    if not path.is_file():
        return [], {}
    story = Storyline.model_validate_json(path.read_text(encoding="utf-8"))
    job = ws.load_job(job_id)
    names = {m.id: m.original_name for m in load_library(ws, job.product_id)} if job.product_id != "pending" else {}
    return [f"beat {b.index + 1}: {b.reason}" for b in story.beats], {names.get(k, k): v for k, v in story.left_out.items()}


def cmd_make(a: argparse.Namespace) -> int:
    from agents.state import MakeRequest

    exports = _export_formats(a.export)
    _check_brand(a.brand)
    return _make(MakeRequest(materials_dir=a.materials, product_path=a.product, music_path=a.music, hero_path=a.hero,
                             brief=a.brief or "", duration_s=a.duration, aspect=a.aspect, resolution_p=a.resolution, out_path=a.out,
                             brand=a.brand), exports)


def cmd_demo(a: argparse.Namespace) -> int:
    from agents.samples import write_samples
    from agents.state import MakeRequest
    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace

    exports = _export_formats(a.export)
    _check_brand(a.brand)
    photos, facts = write_samples(Workspace(get_settings().workspace), a.lang)
    brief = a.brief or ("15秒竖屏视频，双十一，突出质地，欢快" if a.lang == "zh" else "15 s vertical video for Double 11, stress the texture, upbeat")
    return _make(MakeRequest(materials_dir=str(photos), product_path=str(facts), brief=brief, out_path=a.out, brand=a.brand), exports)


def cmd_brand(a: argparse.Namespace) -> int:
    """Create or update a brand kit (``brand create``), show one (``brand show``) or list them (``brand list``)."""
    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace
    from tools.render.brand import BrandKit, list_brand_kits, load_brand_kit, require_brand_kit, save_brand_kit

    ws = Workspace(get_settings().workspace)
    if a.action == "list":
        _print_json(list_brand_kits(ws))
        return 0
    if a.action == "show":
        _print_json(require_brand_kit(ws, a.name).model_dump(mode="json"))
        return 0
    old = load_brand_kit(ws, a.name)
    fields = {k: getattr(a, k) for k in ("logo_corner", "primary", "secondary", "offer", "cta") if getattr(a, k) is not None}
    if a.font and Path(a.font).suffix.lower() not in (".ttf", ".otf", ".ttc", ".otc"):
        fields["subtitle_font"] = a.font  # a family name; a font file is copied below
    if a.no_end_card:
        fields["end_card"] = False
    for role in ("intro", "outro"):
        if getattr(a, f"no_{role}"):
            fields[role] = None
    base = old.model_dump() if old else {"name": a.name}
    kit = BrandKit.model_validate({**base, **fields})
    files = {role: Path(v) for role, v in (("logo", a.logo), ("intro", a.intro), ("outro", a.outro)) if v}
    if a.font and Path(a.font).suffix.lower() in (".ttf", ".otf", ".ttc", ".otc"):
        files["subtitle_font"] = Path(a.font)
    _print_json(save_brand_kit(ws, kit, files).model_dump(mode="json"))
    return 0


def cmd_jobs(a: argparse.Namespace) -> int:
    from tools.core.errors import AdReelError
    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace

    ws = Workspace(get_settings().workspace)
    for jid in ws.list_jobs():
        try:
            j = ws.load_job(jid)
        except (OSError, ValueError, AdReelError) as e:  # one broken job.json must not hide the others
            print(f"{jid}  unreadable job.json ({type(e).__name__}): inspect or delete {ws.root / 'jobs' / jid}")
            continue
        print(f"{jid}  {j.status:8s} {','.join(j.steps_done)}")
    return 0


def cmd_ui(a: argparse.Namespace) -> int:
    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace
    from ui.blocks import launch

    launch(Workspace(get_settings().workspace), host=a.host, port=a.port)
    return 0


def cmd_resume(a: argparse.Namespace) -> int:
    from agents.planner import Planner
    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace

    ws = Workspace(get_settings().workspace)
    Planner(ws, log=lambda m: print(m, file=sys.stderr)).resume(a.job_id)
    _print_json(ws.load_job(a.job_id).model_dump(mode="json"))
    return 0


def cmd_batch(a: argparse.Namespace) -> int:
    from agents.batch import Defaults, make_backend, run_batch
    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace

    address = a.ray_address or os.environ.get("ADREEL_RAY_ADDRESS") or None
    kind = a.backend or ("ray" if a.ray or address else "in-process")
    defaults = Defaults(brief=a.brief or "", music=a.music, duration_s=a.duration, aspect=a.aspect, resolution_p=a.resolution)
    report = run_batch(a.manifest, Workspace(get_settings().workspace), make_backend(kind, a.workers, address), defaults=defaults,
                       name=a.name)
    _print_json(report.model_dump(mode="json", exclude={"tasks"}) | {"report": str(Path(get_settings().workspace).resolve() / "batches" /
                                                                                  report.batch / "report.csv")})
    return 0 if report.failed == 0 else 5


def _job_scratch(kind: str) -> str:
    """A fresh folder inside the workspace for a one-off command's intermediate files."""
    from tools.core.paths import scratch_dir

    return str(scratch_dir(kind))


def cmd_montage(a: argparse.Namespace) -> int:
    from tools.core.paths import check_export
    from tools.story.montage import make_music_montage

    out = check_export(a.out, ".mp4")  # before any work: never an input, never the workspace
    res = make_music_montage(a.video, a.music, str(out), _job_scratch("montage"), max_scenes=a.max_scenes, mode=a.mode)
    _print_json({k: v for k, v in res.items() if k in ("cut_times_s", "n_bars", "fps", "timings_s")} | {"out": a.out})
    return 0


def cmd_thumbnail(a: argparse.Namespace) -> int:
    from tools.core.errors import ToolInputError
    from tools.explain.thumbnail import make_thumbnail_cli

    if not 0.02 <= a.max_mb <= 100:  # also refuses NaN
        raise ToolInputError(f"--max-mb {a.max_mb:g} is outside 0.02 … 100", hint="give the GIF's byte budget in MB, e.g. --max-mb 2")
    kw = {"scorer": a.scorer, "budget_bytes": int(a.max_mb * 1024 * 1024), "width_px": a.width, "seed": a.seed}
    if a.model:
        kw["model_path"] = a.model
    _print_json(make_thumbnail_cli(a.video, a.out, **kw))
    return 0


def cmd_explain(a: argparse.Namespace) -> int:
    from tools.explain.excitement import explain_cli

    _print_json(explain_cli(a.video, a.out, seed=a.seed))
    return 0


def cmd_narrate_bench(a: argparse.Namespace) -> int:
    from tools.core.paths import check_export
    from tools.narrate.bench import format_report, narrate_bench

    check_export(a.out, ".json")  # before any work: never an input, never the workspace
    res = narrate_bench(a.esync, a.out, labels=a.labels, seed=a.seed)
    print(format_report(res))
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    if a.what == "gevaden":
        from tools.explain.gevaden import train_gevaden_cli as train
    else:
        from tools.explain.excitement import train_excitement_cli as train
    from tools.core.paths import check_export

    check_export(a.out, None, inputs=[a.annotations])  # before any work: never the annotations, never the workspace
    _print_json(train(a.annotations, a.out, epochs=a.epochs, seed=a.seed))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="app.py", description="AdReel: persuasive promo videos from your own photos, clips and product facts.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="cmd")

    s = sub.add_parser("tools", help="list every tool with its JSON schemas")
    s.add_argument("--name", help="only this tool")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(fn=cmd_tools)

    s = sub.add_parser("tool", help="run one tool on a JSON input and print its output")
    s.add_argument("name")
    s.add_argument("--input", required=True, help="JSON file with the tool input, or - for stdin")
    s.add_argument("--allow", action="append", default=[], metavar="PATH",
                   help="a file or folder outside the workspace the tool may read (repeatable)")
    s.set_defaults(fn=cmd_tool, inputs=("allow",))

    s = sub.add_parser("make", help="make a video from a folder of material and product facts")
    s.add_argument("--materials", required=True, help="folder of photos and clips")
    s.add_argument("--product", required=True, help="ProductInfo JSON or `aspect：point、point` text")
    s.add_argument("--music", help="background music file")
    s.add_argument("--hero", help="the photo that shows the product best: it opens the video and anchors relevance")
    s.add_argument("--brief", help='what you want, e.g. "15 s vertical video for Double 11, upbeat"')
    s.add_argument("--duration", type=float, help="length in seconds (overrides the brief)")
    s.add_argument("--aspect", choices=["9:16", "1:1", "16:9"], help="frame aspect (overrides the brief)")
    s.add_argument("--resolution", type=int, choices=[720, 1080], help="short side in pixels")
    s.add_argument("--out", help="where to copy the final MP4")
    s.add_argument("--brand", help="brand kit to apply (see `brand create`): logo, colours, font, intro/outro, end card")
    s.add_argument("--export", help="editable exports written to the job's exports/ folder, comma-separated: "
                                    "otio,fcpxml,fcp7xml,jianying,srt,json")
    s.set_defaults(fn=cmd_make, needs=MEDIA, inputs=("materials", "product", "music", "hero"))

    s = sub.add_parser("demo", help="make a sample video from bundled sample material (no ../shared needed)")
    s.add_argument("--lang", choices=["zh", "en"], default="zh")
    s.add_argument("--brief")
    s.add_argument("--out", default="adreel-demo.mp4")
    s.add_argument("--brand", help="brand kit to apply")
    s.add_argument("--export", help="editable exports, comma-separated: otio,fcpxml,fcp7xml,jianying,srt,json")
    s.set_defaults(fn=cmd_demo, needs=MEDIA)

    s = sub.add_parser("brand", help="brand kits: create/update, show or list (logo, colours, font, intro/outro, end card)")
    s.add_argument("action", choices=["create", "show", "list"])
    s.add_argument("name", nargs="?", default="", help="kit name (letters, digits, - and _)")
    s.add_argument("--logo", help="logo image (PNG with transparency is best)")
    s.add_argument("--logo-corner", choices=["top-left", "top-right", "bottom-left", "bottom-right"])
    s.add_argument("--primary", help="main colour, hex #RRGGBB (end-card background, subtitle text)")
    s.add_argument("--secondary", help="accent colour, hex (offer ribbon, subtitle outline)")
    s.add_argument("--font", help="subtitle and end-card font: a family name (fc-list) or a font file")
    s.add_argument("--intro", help="intro clip (its first 3 s)")
    s.add_argument("--outro", help="outro clip (its first 3 s)")
    s.add_argument("--no-intro", action="store_true", help="remove the intro")
    s.add_argument("--no-outro", action="store_true", help="remove the outro")
    s.add_argument("--no-end-card", action="store_true", help="no generated end card")
    s.add_argument("--offer", help="end-card offer (default: from the product facts)")
    s.add_argument("--cta", help="end-card call to action (default: from the facts, or 立即抢购 / Shop now)")
    s.set_defaults(fn=cmd_brand, needs=("workspace",), inputs=("logo", "intro", "outro", "font"))

    s = sub.add_parser("batch", help="one video per product of a manifest (CSV/JSONL); in-process, a process pool or Ray")
    s.add_argument("manifest", help="CSV (with a header) or JSONL: product, materials, [id, music, hero, brief, duration, aspect, "
                                    "resolution, durations, aspects, languages]")
    s.add_argument("--name", help="the batch's folder in the workspace (default: the manifest's name)")
    s.add_argument("--backend", choices=["in-process", "pool", "ray"], help="where the tasks run (default: in-process, or ray with "
                                                                            "--ray / ADREEL_RAY_ADDRESS)")
    s.add_argument("--workers", type=int, default=2, help="videos made at once by the pool, or CPUs of a local Ray cluster")
    s.add_argument("--ray", action="store_true", help="run on Ray: the cluster at ADREEL_RAY_ADDRESS, else a local one")
    s.add_argument("--ray-address", help="address of a running Ray cluster (overrides ADREEL_RAY_ADDRESS)")
    s.add_argument("--brief", help="brief for rows without one")
    s.add_argument("--music", help="music for rows without any")
    s.add_argument("--duration", type=float, help="length for rows without one")
    s.add_argument("--aspect", choices=["9:16", "1:1", "16:9"], help="aspect for rows without one")
    s.add_argument("--resolution", type=int, choices=[720, 1080], help="short side for rows without one")
    s.set_defaults(fn=cmd_batch, needs=MEDIA, inputs=("manifest", "music"))

    s = sub.add_parser("jobs", help="list jobs in the workspace")
    s.set_defaults(fn=cmd_jobs)

    s = sub.add_parser("resume", help="resume a job from its last finished step (after a crash or kill)")
    s.add_argument("job_id")
    s.set_defaults(fn=cmd_resume, needs=MEDIA)

    s = sub.add_parser("montage", help="music-driven montage of a long video, every cut on a bar (montage paper, Algorithm 1)")
    s.add_argument("--video", required=True)
    s.add_argument("--music", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--max-scenes", type=int, default=5, help="hard constraint: at most this many distinct scenes")
    s.add_argument("--mode", choices=["hard", "soft"], default="hard")
    s.set_defaults(fn=cmd_montage, needs=("workspace", "ffmpeg", "ffprobe"), inputs=("video", "music"))

    s = sub.add_parser("thumbnail", help="3-shot animated GIF thumbnail (start–develop–end)")
    s.add_argument("video")
    s.add_argument("--out", required=True, help="output .gif")
    s.add_argument("--scorer", choices=["heuristic", "gevaden"], default="heuristic")
    s.add_argument("--model", help="trained GEVADEN checkpoint (for --scorer gevaden)")
    s.add_argument("--max-mb", type=float, default=2.0, help="byte budget in MB")
    s.add_argument("--width", type=int, default=320)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_thumbnail, needs=("workspace", "ffmpeg", "ffprobe"), inputs=("video", "model"))

    s = sub.add_parser("explain", help="why the video reads as exciting: key sections, then key regions (two-stage LIME)")
    s.add_argument("video")
    s.add_argument("--out", required=True, help="output folder (explanation.png, explanation.json)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_explain, needs=("workspace", "ffmpeg", "ffprobe"), inputs=("video",))

    s = sub.add_parser("narrate-bench", help="narrate an E-SyncVidStory file and score it against two baselines")
    s.add_argument("--esync", required=True, help="a file in the format of E-SyncVidStory dev.json")
    s.add_argument("--out", required=True, help="predictions JSON")
    s.add_argument("--labels", choices=["given", "predicted"], default="given")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_narrate_bench, inputs=("esync",))

    s = sub.add_parser("train", help="train GEVADEN (thumbnails) or the excitement classifier (explanations)")
    s.add_argument("what", choices=["gevaden", "excitement"])
    s.add_argument("--annotations", required=True, help="JSON annotations (see the module docstrings)")
    s.add_argument("--out", required=True, help="checkpoint path")
    s.add_argument("--epochs", type=int, default=100)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_train, inputs=("annotations",))

    s = sub.add_parser("ui", help="the Gradio chat UI (default when no command is given)")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    s.add_argument("--port", type=int, default=7860)
    s.set_defaults(fn=cmd_ui, needs=MEDIA)
    return p


def _user_inputs(a: argparse.Namespace) -> list[str]:
    """The paths the user named on the command line: the only files outside the workspace tools may read."""
    out: list[str] = []
    for name in getattr(a, "inputs", ()):
        v = getattr(a, name, None)
        out += [str(x) for x in (v if isinstance(v, list) else [v]) if x]
    if getattr(a, "annotations", None):  # the videos a training file lists sit beside it
        out.append(str(Path(a.annotations).expanduser().resolve().parent))
    return out


def _run(a: argparse.Namespace) -> int:
    """Check the environment, confine third-party state and tools to the workspace, run the command."""
    from tools.core.environment import check_environment, confine_third_party_state
    from tools.core.paths import allow_inputs, use_workspace

    settings = check_environment(getattr(a, "needs", ("workspace",)))
    confine_third_party_state(settings.workspace)
    with use_workspace(settings.workspace), allow_inputs(*_user_inputs(a)):
        return a.fn(a)


def _report(e: Exception) -> int:
    """Print what happened and what to do; the exit status of its kind."""
    from tools.core.errors import AdReelError

    if isinstance(e, AdReelError):
        message, hint, code = e.message, e.hint, EXIT.get(e.kind, 1)
    elif type(e).__name__ == "ValidationError" and hasattr(e, "errors"):  # a command's value outside its documented range
        err = e.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ())) or "a value"
        message, hint, code = f"{where} = {str(err.get('input'))[:80]!r}: {err.get('msg')}", "see `python app.py COMMAND --help`", 2
    elif isinstance(e, OSError):  # a file the user named cannot be read or written (disk full, permissions …)
        where = f" {e.filename!r}" if e.filename else ""
        message, hint, code = f"cannot read or write{where}: {e.strerror or e}", "check the path, its permissions and free disk space", 2
    elif isinstance(e, RecursionError):  # a JSON file nested thousands of levels deep
        message, hint, code = "a file you gave is nested too deeply to read", "check the JSON files you named", 2
    elif isinstance(e, MemoryError):
        message, hint, code = "out of memory", "use fewer or smaller files, or a shorter video", 1
    else:
        message, hint, code = f"internal error ({type(e).__name__}: {e})", "this is a bug in AdReel: run again with --debug and report the traceback", 1
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"  what to do: {hint}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if not getattr(a, "fn", None):
        a = parser.parse_args(["ui", *(argv or sys.argv[1:])])
    try:
        return _run(a)
    except KeyboardInterrupt:
        print("interrupted; everything finished so far is kept in the workspace", file=sys.stderr)
        return 130
    except Exception as e:  # the top level: every failure becomes a message (--debug shows the traceback)
        if a.debug:
            raise
        return _report(e)


if __name__ == "__main__":
    sys.exit(main())
