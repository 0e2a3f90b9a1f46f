"""Render scaling with the core count, on a machine without ffmpeg or the project's environment.

Two halves:

``record`` (here, with the project's .venv): compiles the 30 s benchmark timeline of
``bench_render.py`` (12 shots, photos and clips, transitions, burned subtitles) at 720p and 1080p
into the renderer's segment jobs — exactly the ffmpeg inputs, filter graphs, subtitle files and
x264 settings :func:`tools.render.engine.render` would run — and writes them into a bundle folder
with relative paths: the photos, the clips trimmed to the spans the jobs read (re-encoded once,
intra-friendly, so the bundle stays small; the jobs' seek points are shifted to match), a small
Latin font for the subtitles (the ASS files are rewritten to name it), a manifest, and the static
ffmpeg of ``imageio-ffmpeg`` compressed with xz (≈ 48 MB; reused when already there). The bundle
stays under ~55 MiB; it is git-ignored (``tests/benchmarks/cores_bundle/``).

``replay`` (there, plain Python ≥ 3.10, standard library only): unpacks ffmpeg, then for each
resolution and each pool size in ``--workers`` renders every segment job with that many jobs at
once and ``threads = max(1, cores // workers)`` x264/filter threads per job — the rule of
``tools.render.cache.SegmentCache.ensure`` — and prints JSON: output seconds per wall second per
pool size (segments only: the audio mix and the output checks are serial and do not scale), plus a
serial baseline of 1 worker.

    # here
    .venv/bin/python tests/benchmarks/render_cores_remote.py record [--bundle tests/benchmarks/cores_bundle]
    .venv/bin/python tests/benchmarks/render_cores_remote.py replay --workers 1 2   # test the replay here
    # there (16 cores)
    python3 tests/benchmarks/render_cores_remote.py replay --workers 1 2 4 8 16
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUNDLE = HERE / "cores_bundle"
FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_NAME = "DejaVu Sans"


def threads_per_job(cores: int, workers: int) -> int:
    """x264/filter threads per segment job: the rule of ``SegmentCache.ensure`` (kept in step by a unit test)."""
    return max(1, cores // max(1, workers))


# --------------------------------------------------------------------------- record (project venv)


def _ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def record(bundle: Path, resolutions: list[int], with_ffmpeg: bool = True) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import bench_render as br

    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace
    from tools.render import engine
    from tools.render.cache import SegmentCache

    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / ".gitignore").write_text("*\n", encoding="utf-8")  # the bundle is never committed
    (bundle / "inputs").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cores_record_"))
    ws = Workspace(tmp / "ws")
    os.environ["ADREEL_WORKSPACE"] = str(ws.root)
    br.setup(ws)
    font = get_settings().subtitle_font
    manifest: dict[str, object] = {"fps": 30, "sets": {}}
    spans: dict[str, list[float]] = {}  # clip file → [first second read, last second read]
    sets: dict[str, list[dict[str, object]]] = {}
    try:
        for res in resolutions:
            tl = br.timeline(ws, 12, 2.5, res)
            cues = [c.model_copy(update={"text": engine.drawable_text(c.text, font)}) for c in tl.subtitles]
            tl = tl.model_copy(update={"subtitles": [c for c in cues if c.text]})
            enc = engine.choose_encoding("final")
            cache = SegmentCache(tmp / f"cache{res}", 21, str(enc["preset"]), tl.render.fps, x264_params=str(enc["x264_params"]))
            shots = engine._plan(tl, ws, 0.4, {}, cache.root)
            placements = engine.place_subtitles(tl, shots, {})
            jobs = engine._segments(shots, tl, placements, font, cache)
            rows = []
            for j in jobs:
                args = list(j.inputs)
                for i, a in enumerate(args):
                    if i and args[i - 1] == "-i":
                        src = Path(a)
                        args[i] = f"@{src.name}"
                        if i >= 5 and args[i - 5] == "-ss" and args[i - 3] == "-t":  # a clip: -ss T -t D -i SRC
                            ss, tt = float(args[i - 4]), float(args[i - 2])
                            lo, hi = spans.get(src.name, [ss, ss + tt])
                            spans[src.name] = [min(lo, ss), max(hi, ss + tt)]
                        elif not (bundle / "inputs" / src.name).is_file():
                            shutil.copy(src, bundle / "inputs" / src.name)
                files = {n: re.sub(r"^(Style: [^,]+),[^,]+,", rf"\1,{FONT_NAME},", t, flags=re.MULTILINE) for n, t in j.files.items()}
                graph = j.graph.replace("ass=filename=seg.ass", "ass=filename=seg.ass:fontsdir=FONTSDIR")
                rows.append({"label": j.label, "frames": j.frames, "inputs": args, "graph": graph, "files": files,
                             "cover": j.cover_local >= 0})
            sets[f"{res}p"] = rows
            manifest["sets"][f"{res}p"] = {"output_s": tl.duration_s, "frames": round(tl.duration_s * tl.render.fps),  # type: ignore[index]
                                           "encoder": cache.encoder_settings(), "segments": len(rows)}
        # clips: trimmed to what the jobs read (plus a quarter second each side), keyframe at the start
        exe = _ffmpeg_exe()
        starts: dict[str, float] = {}
        for name, (lo, hi) in spans.items():
            start = max(0.0, lo - 0.25)
            starts[name] = start
            out = bundle / "inputs" / f"{Path(name).stem}.trim.mp4"
            subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{start:.4f}", "-t", f"{hi - start + 0.25:.4f}",
                            "-i", str(ws.inside("mat", name)), "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                            "-pix_fmt", "yuv420p", str(out)], check=True)
        for rows in sets.values():
            for r in rows:
                args = r["inputs"]  # type: ignore[assignment]
                for i, a in enumerate(args):
                    if a.startswith("@") and a[1:] in starts:
                        name = a[1:]
                        args[i] = f"@{Path(name).stem}.trim.mp4"
                        args[i - 4] = f"{float(args[i - 4]) - starts[name]:.4f}"  # the -ss value
        manifest["jobs"] = sets
        (bundle / "fonts").mkdir(exist_ok=True)  # its own folder: libass loads every file of fontsdir
        shutil.copy(FONT_FILE, bundle / "fonts" / FONT_FILE.name)
        (bundle / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        xz = bundle / "ffmpeg.xz"
        if with_ffmpeg and not xz.is_file():
            print("compressing ffmpeg with xz -9 (a few minutes, once) …", file=sys.stderr)
            with open(exe, "rb") as f, lzma.open(xz.with_suffix(".xz.tmp"), "wb", preset=9) as g:
                shutil.copyfileobj(f, g, 1 << 20)
            xz.with_suffix(".xz.tmp").replace(xz)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    print(json.dumps({"bundle": str(bundle), "mib": round(total / 2**20, 1)}))


# --------------------------------------------------------------------------- replay (standard library only)


def _unpack_ffmpeg(bundle: Path, work: Path) -> str:
    exe = work / "ffmpeg"
    with lzma.open(bundle / "ffmpeg.xz", "rb") as f, open(exe, "wb") as g:
        shutil.copyfileobj(f, g, 1 << 20)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def _script_option(exe: str) -> list[str]:
    """How this ffmpeg reads a filter graph from a file: ``-/filter_complex FILE`` from ffmpeg 7 on
    (the static build is 9.x), ``-filter_complex_script FILE`` before (the renderer's, on Debian)."""
    out = subprocess.run([exe, "-hide_banner", "-h", "full"], capture_output=True, text=True, check=False).stdout
    return ["-filter_complex_script"] if "-filter_complex_script" in out else ["-/filter_complex"]


def _run_job(exe: str, bundle: Path, work: Path, enc: dict[str, object], job: dict[str, object], n: int, threads: int,
             script: tuple[str, ...] = ("-/filter_complex",)) -> float:
    d = work / f"job{n}"
    d.mkdir(parents=True, exist_ok=True)
    inputs = bundle.resolve() / "inputs"
    for name, text in job["files"].items():  # type: ignore[union-attr]
        (d / name).write_text(text, encoding="utf-8")
    fonts = bundle.resolve() / "fonts"
    (d / "graph.txt").write_text(str(job["graph"]).replace("FONTSDIR", str(fonts)), encoding="utf-8")
    args = [str(inputs / a[1:]) if a.startswith("@") else a for a in job["inputs"]]  # type: ignore[union-attr]
    fps = int(enc["fps"])  # type: ignore[arg-type]
    cmd = [exe, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args, *script, "graph.txt", "-map", "[vout]",
           "-frames:v", str(job["frames"]), "-c:v", "libx264", "-preset", str(enc["preset"]),
           *(["-x264-params", str(enc["x264_params"])] if enc.get("x264_params") else []), "-crf", str(enc["crf"]), "-pix_fmt", "yuv420p",
           "-threads", str(threads), "-r", str(fps), "-video_track_timescale", str(fps * 512), "-an", "-movflags", "+faststart", "seg.mp4"]
    if job.get("cover"):
        cmd += ["-map", "[cov]", "-frames:v", "1", "-q:v", "2", "cover.jpg"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=d, capture_output=True, timeout=600, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"segment {job['label']} failed: {p.stderr.decode('utf-8', 'replace')[-600:]}")
    return time.perf_counter() - t0


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _probe_frames(exe: str, path: Path) -> int:
    p = subprocess.run([exe, "-hide_banner", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "null", "-"], capture_output=True, text=True, check=False)
    m = re.findall(r"frame=\s*(\d+)", p.stderr)
    return int(m[-1]) if m else -1


def replay(bundle: Path, workers: list[int], sets: list[str] | None, repeats: int, ffmpeg: str | None = None) -> dict[str, object]:
    man = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    # the cores this process may use (taskset limits them): the engine's rule, not the machine's total
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    work = Path(tempfile.mkdtemp(prefix="cores_replay_"))
    report: dict[str, object] = {"cores": cores, "load_before": os.getloadavg(), "rule": "threads per job = max(1, cores // workers)"}
    try:
        exe = ffmpeg or _unpack_ffmpeg(bundle, work)
        script = tuple(_script_option(exe))
        conf = work / "fonts.conf"  # the bundle's font only, whatever the machine has (or lacks)
        conf.write_text(f'<?xml version="1.0"?>\n<fontconfig><dir>{bundle.resolve() / "fonts"}</dir>'
                        f'<cachedir>{work / "fc-cache"}</cachedir></fontconfig>\n', encoding="utf-8")
        os.environ["FONTCONFIG_FILE"] = str(conf)
        report["ffmpeg"] = subprocess.run([exe, "-version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
        for name in sets or list(man["sets"]):
            meta, jobs = man["sets"][name], man["jobs"][name]
            rows = {}
            for w in workers:
                thr = threads_per_job(cores, w)
                walls, cpus = [], []
                for r in range(repeats):
                    c0 = _children_cpu()
                    run_dir = work / f"{name}-w{w}-r{r}"
                    t0 = time.perf_counter()
                    with ThreadPoolExecutor(w) as ex:
                        futs = [ex.submit(_run_job, exe, bundle, run_dir, meta["encoder"], j, n, thr, script) for n, j in enumerate(jobs)]
                        seg_s = [f.result() for f in futs]
                    walls.append(time.perf_counter() - t0)
                    cpus.append(_children_cpu() - c0)
                    frames = sum(_probe_frames(exe, run_dir / f"job{n}" / "seg.mp4") for n in range(len(jobs)))
                    if frames != meta["frames"]:
                        raise RuntimeError(f"{name} with {w} workers made {frames} frames, expected {meta['frames']}")
                    shutil.rmtree(run_dir, ignore_errors=True)
                wall = sorted(walls)[len(walls) // 2]
                rows[str(w)] = {"threads_per_job": thr, "wall_s": round(wall, 2), "walls_s": [round(x, 2) for x in walls],
                                "output_s_per_wall_s": round(meta["output_s"] / wall, 2), "slowest_segment_s": round(max(seg_s), 2),
                                "cpu_s": round(sorted(cpus)[len(cpus) // 2], 2)}
                print(json.dumps({name: {str(w): rows[str(w)]}}), flush=True)
            base = rows.get("1") or rows[str(min(workers))]
            for r in rows.values():
                r["speedup_vs_first"] = round(base["wall_s"] / r["wall_s"], 2)
            report[name] = {"output_s": meta["output_s"], "segments": meta["segments"], "encoder": meta["encoder"], "by_workers": rows}
        report["load_after"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--bundle", default=str(BUNDLE))
    r.add_argument("--res", type=int, nargs="+", default=[720, 1080])
    r.add_argument("--no-ffmpeg", action="store_true", help="leave out ffmpeg.xz (replay then needs --ffmpeg)")
    p = sub.add_parser("replay")
    p.add_argument("--bundle", default=str(BUNDLE))
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    p.add_argument("--sets", nargs="+", default=None, help="720p and/or 1080p (default: both)")
    p.add_argument("--repeats", type=int, default=1, help="runs per pool size (the median is reported)")
    p.add_argument("--out", default=None)
    p.add_argument("--ffmpeg", default=None, help="an ffmpeg to use instead of the bundle's")
    a = ap.parse_args()
    if a.cmd == "record":
        record(Path(a.bundle), a.res, with_ffmpeg=not a.no_ffmpeg)
        return
    rep = replay(Path(a.bundle), a.workers, a.sets, a.repeats, a.ffmpeg)
    print(json.dumps(rep, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(rep, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
