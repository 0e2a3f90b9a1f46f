"""Catalogue mode (``app.py batch``): a manifest of six products, zh and en, real photos (the
bundled samples and ../shared/media packshots), one row with a corrupt materials folder and one
with an impossible duration, through every backend: in-process, a local process pool and Ray
(a local cluster of 2 CPUs). Every good video is checked with ffprobe (H.264 + AAC, the asked
length and frame), every failure by its reason; a re-run makes nothing again; a batch killed
inside a job resumes that job from the step it was killed in."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agents.batch import Defaults, make_backend, run_batch
from agents.batch.manifest import load_manifest
from agents.samples import write_samples
from tools.core.errors import ToolInputError
from tools.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

#: Frame size of each aspect at 720p.
FRAME = {"9:16": (720, 1280), "1:1": (720, 720), "16:9": (1280, 720)}
#: The six rows: id → (language, aspect(s), duration); broken and too-long must fail.
GOOD = {"coffee-zh/9x16": ("zh", "9:16", 4.0), "coffee-zh/1x1": ("zh", "1:1", 4.0), "coffee-en": ("en", "16:9", 4.0),
        "bag-en": ("en", "1:1", 4.0), "watch-zh": ("zh", "9:16", 4.0)}


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height:format=duration",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _magento_facts(media: Path, sku: str) -> str:
    for line in (media / "text" / "magento_luma_products_en.jsonl").read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        if p["sku"] == sku:
            parts = [s.strip() for s in p["description"].replace("\n", ". ").split(".") if len(s.strip()) > 3]
            return (f"name: {p['name']}\neffect: {parts[0]}\nusage: {parts[1] if len(parts) > 1 else parts[0]}\n"
                    f"offer: only {p['price']} dollars\n")
    raise AssertionError(f"{sku} not in the products file")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Path:
    """The manifest and its material, outside any workspace (the seller's own folders)."""
    import shutil

    d = tmp_path_factory.mktemp("catalogue")
    ws = Workspace(d / "samples-ws")
    for lang in ("zh", "en"):
        photos, facts = write_samples(ws, lang)
        shutil.copytree(photos, d / f"coffee-{lang}", dirs_exist_ok=True)
        shutil.copy(facts, d / f"coffee-{lang}.txt")
    (d / "bag").mkdir()
    for name in ("magento_mb01-blue-0.jpg", "magento_mb03-black-0.jpg", "magento_wysiwyg-gear-main.jpg"):
        shutil.copy(media_dir / "images" / name, d / "bag" / name)
    (d / "bag.txt").write_text(_magento_facts(media_dir, "24-MB01"), encoding="utf-8")
    (d / "watch").mkdir()
    for name in ("magento_mg01-bk-0.jpg", "magento_mg04-bk-0.jpg"):
        shutil.copy(media_dir / "images" / name, d / "watch" / name)
    (d / "watch.txt").write_text("名称：经典黑色运动腕表\n外观：黑色表盘、硅胶表带\n功效：防水五十米、计时精准\n活动优惠：双十一立减五十元\n",
                                 encoding="utf-8")
    (d / "broken").mkdir()  # a truncated photo and a "clip" that is not one
    (d / "broken" / "truncated.jpg").write_bytes((media_dir / "images" / "magento_mg01-bk-0.jpg").read_bytes()[:1500])
    (d / "broken" / "clip.mp4").write_bytes(b"this is not a video\n" * 50)
    rows = [
        {"id": "coffee-zh", "product": "coffee-zh.txt", "materials": "coffee-zh", "brief": "欢快", "duration": "4", "aspects": "9:16;1:1"},
        {"id": "coffee-en", "product": "coffee-en.txt", "materials": "coffee-en", "brief": "upbeat, stress the aroma", "duration": "4",
         "aspect": "16:9"},
        {"id": "bag-en", "product": "bag.txt", "materials": "bag", "duration": "4", "aspect": "1:1"},
        {"id": "watch-zh", "product": "watch.txt", "materials": "watch", "music": str(media_dir / "music" / "vibe_ace_kevin_macleod.ogg"),
         "duration": "4"},
        {"id": "broken", "product": "bag.txt", "materials": "broken", "duration": "4"},
        {"id": "too-long", "product": "coffee-en.txt", "materials": "coffee-en", "duration": "900"},
    ]
    with open(d / "catalogue.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "product", "materials", "music", "brief", "duration", "aspect", "aspects"])
        w.writeheader()
        w.writerows(rows)
    return d / "catalogue.csv"


def _check(ws: Path, report_dir: Path) -> list[dict[str, str]]:
    """The report (read back from its CSV) and every video in it, checked by ffprobe."""
    with open(report_dir / "report.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by = {r["row"] if r["variant"] == "main" else f"{r['row']}/{r['variant']}": r for r in rows}
    assert set(by) == set(GOOD) | {"broken", "too-long"}, sorted(by)
    for key, (_lang, aspect, duration) in GOOD.items():
        r = by[key]
        assert r["status"] in ("done", "skipped"), (key, r["error"], r["hint"])
        video = ws / r["video"]
        assert video.parent == report_dir / key, video  # one folder per row (and variant)
        for artifact in ("timeline.json", "subtitles.srt", "job.json"):
            assert (video.parent / artifact).is_file(), (key, artifact)
        info = _ffprobe(video)
        kinds = {s["codec_type"]: s for s in info["streams"]}
        assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac", (key, info)
        assert (kinds["video"]["width"], kinds["video"]["height"]) == FRAME[aspect], (key, kinds["video"])
        assert abs(float(info["format"]["duration"]) - duration) <= 0.25, (key, info["format"])
    broken, too_long = by["broken"], by["too-long"]
    assert broken["status"] == "failed" and broken["step"] == "ingest", broken
    assert "no usable photos or clips" in broken["error"] and "truncated.jpg" in broken["error"] and "clip.mp4" in broken["error"]
    assert broken["hint"], broken
    assert too_long["status"] == "failed" and "900" in too_long["error"] and "600" in too_long["error"], too_long
    assert not too_long["job_id"], "an impossible duration is refused before any job starts"
    for r in rows:  # reasons are messages for people, never tracebacks
        assert "Traceback" not in r["error"] and 'File "' not in r["error"], r["error"]
    return rows


@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", ["in-process", "pool", "ray"])
def test_catalogue_on_every_backend(kind: str, catalogue: Path, _isolated_workspace: Path) -> None:
    ws = Workspace(_isolated_workspace)
    lines: list[str] = []
    report = run_batch(catalogue, ws, make_backend(kind, 2), log=lines.append)
    out = ws.root / "batches" / "catalogue"
    rows = _check(ws.root, out)
    assert (report.done, report.skipped, report.failed) == (len(GOOD), 0, 2), lines
    assert report.backend == kind and report.state == "finished"
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["failed"] == 2
    assert sum(line.startswith("[") for line in lines) == len(GOOD) + 1, lines  # one progress line per task run
    made = [t for t in report.tasks if t.status == "done"]
    assert all(set(t.stage_times_s) == {"ingest", "plan", "narration", "tts", "render", "extras"} for t in made)
    assert all(t.stage_times_s["render"] > 0 for t in made)
    workers = {t.worker for t in made}
    # heavy state is built once per worker process: exactly one task of each worker paid for it
    assert sum(t.worker_setup_s > 0 for t in made) == len(workers), [(t.worker, t.worker_setup_s) for t in made]
    if kind == "in-process":
        assert workers == {f"{os.uname().nodename}:{os.getpid()}"}
    else:
        assert os.getpid() not in {int(w.rsplit(":", 1)[1]) for w in workers}
    if kind == "pool":
        assert len(workers) <= 2
    if kind == "in-process":  # a re-run makes nothing again: every good video is checked and skipped
        again = run_batch(catalogue, ws, make_backend(kind, 1), log=lines.append)
        assert (again.done, again.skipped, again.failed) == (0, len(GOOD), 2)
        assert {r["job_id"] for r in _check(ws.root, out) if r["job_id"]} == {r["job_id"] for r in rows if r["job_id"]}


def test_a_killed_batch_resumes_where_it_stopped(tmp_path: Path, _isolated_workspace: Path) -> None:
    """`app.py batch` killed (SIGKILL) inside the first video's render: the re-run resumes that
    job at the render step (ingest, narration and speech are not redone) and makes the rest."""
    ws = Workspace(_isolated_workspace)
    photos, facts = write_samples(ws, "en")
    import shutil

    shutil.copytree(photos, tmp_path / "photos")
    shutil.copy(facts, tmp_path / "facts.txt")
    (tmp_path / "m.jsonl").write_text(json.dumps({"id": "one", "product": "facts.txt", "materials": "photos", "duration": 3}) + "\n"
                                      + json.dumps({"id": "two", "product": "facts.txt", "materials": "photos", "durations": [3],
                                                    "aspects": ["1:1"]}) + "\n", encoding="utf-8")
    env = {**os.environ, "ADREEL_WORKSPACE": str(ws.root), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, str(ROOT / "app.py"), "batch", str(tmp_path / "m.jsonl")]
    r = subprocess.run(argv, env={**env, "ADREEL_FAULT_KILL_AT": "render"}, cwd=ROOT, capture_output=True, text=True, timeout=600,
                       check=False)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    task = json.loads((ws.root / "batches" / "m" / "one" / "task.json").read_text(encoding="utf-8"))
    assert task["status"] == "running" and task["job_id"], task
    log = ws.root / "batches" / "m" / "one" / "job.log"
    before = log.read_text(encoding="utf-8")
    r = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    rerun = log.read_text(encoding="utf-8")[len(before):]
    steps = [line.split("] ", 1)[1].rstrip(" …") for line in rerun.splitlines() if line.startswith(f"[{task['job_id']}] ")]
    assert steps[0] == "render" and "ingest" not in steps and "tts" not in steps, steps
    report = json.loads((ws.root / "batches" / "m" / "report.json").read_text(encoding="utf-8"))
    by = {t["row_id"]: t for t in report["tasks"]}
    assert by["one"]["resumed"] and by["one"]["job_id"] == task["job_id"] and by["one"]["status"] == "done"
    assert by["two"]["status"] == "done" and not by["two"]["resumed"]
    assert abs(float(_ffprobe(ws.root / by["one"]["video"])["format"]["duration"]) - 3) <= 0.25


@pytest.mark.parametrize("text, suffix, fragment", [
    ("", ".csv", "has no rows"),
    ("id,product,materials,colour\na,b,c,red\n", ".csv", "unknown column(s) 'colour'"),
    ('{"id": "a", "product": "p", "materials": "m"}\n{"id": "a", "product": "p", "materials": "m"}\n', ".jsonl", "share the id"),
    ("not json\n", ".jsonl", "line 1 is not JSON"),
    ("x", ".xlsx", "neither .csv nor .jsonl"),
], ids=["empty", "unknown-column", "duplicate-id", "bad-jsonl", "wrong-type"])
def test_an_unusable_manifest_is_refused_whole(tmp_path: Path, text: str, suffix: str, fragment: str) -> None:
    p = tmp_path / f"rows{suffix}"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ToolInputError) as e:
        load_manifest(p, Defaults(), "batches/rows")
    assert fragment in e.value.message and e.value.hint


def test_rows_expand_into_variants_and_defaults_fill_empty_cells(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "f.txt").write_text("name: x\n", encoding="utf-8")
    (tmp_path / "rows.csv").write_text("id,product,materials,durations,aspects,languages,resolution\n"
                                       "a,f.txt,m,6;10,9:16|1:1,zh;en,1080\n"
                                       "b,f.txt,m,,,,\n"
                                       "c,missing.txt,m,,,,\n"
                                       "d,f.txt,m,abc,,,\n", encoding="utf-8")
    tasks = load_manifest(tmp_path / "rows.csv", Defaults(brief="upbeat", duration_s=8, aspect="16:9"), "batches/rows")
    a = [t for t in tasks if t.row_id == "a"]
    assert len(a) == 8 and len({t.variant for t in a}) == 8 and len({t.out_rel for t in a}) == 8
    first = a[0].request
    assert first is not None and first.resolution_p == 1080 and first.duration_s == 6 and first.aspect == "9:16"
    assert "中文" in first.brief and "upbeat" in first.brief and "English" in a[1].request.brief  # type: ignore[union-attr]
    assert a[0].resources.memory_mb < next(t for t in a if t.request and t.request.duration_s == 10).resources.memory_mb
    b = next(t for t in tasks if t.row_id == "b")
    assert b.variant == "main" and b.out_rel == "batches/rows/b" and b.request is not None
    assert (b.request.duration_s, b.request.aspect, b.request.brief) == (8, "16:9", "upbeat")
    c = next(t for t in tasks if t.row_id == "c")
    assert c.request is None and "missing.txt" in (c.problem or "") and "relative to the manifest" in (c.hint or "")
    d = next(t for t in tasks if t.row_id == "d")
    assert d.request is None and "not a number" in (d.problem or "")


def test_an_unreachable_ray_cluster_is_a_clear_error(tmp_path: Path) -> None:
    """A wrong ADREEL_RAY_ADDRESS fails at once with what to check (ray.init alone retries for minutes)."""
    from agents.batch.manifest import BatchTask
    from agents.batch.worker import WorkerContext
    from agents.state import MakeRequest
    from serving.vllm_server import free_port
    from tools.core.errors import BackendUnavailable

    task = BatchTask(row_id="a", out_rel="batches/x/a", request=MakeRequest(materials_dir=str(tmp_path), product_path=str(tmp_path)))
    backend = make_backend("ray", 1, f"127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable) as e:
        list(backend.run([task], WorkerContext(workspace=str(tmp_path))))
    assert "cannot reach the Ray cluster" in e.value.message and "ADREEL_RAY_ADDRESS" in (e.value.hint or "")
