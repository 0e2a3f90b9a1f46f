"""End to end: `python app.py make` on real media from ../shared, checked with ffprobe, decoded
frames and OCR of the burned subtitles; plus each error path of the walking skeleton."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tools.core.models import Timeline

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], capture_output=True, text=True, timeout=600, cwd=ROOT)


def _probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _assert_cuts_on_bars(job: Path, tl: Timeline) -> None:
    """Every cut of the video track lies within one frame of a bar boundary of the music used."""
    from tools.core.models import MusicAnalysis

    ma = MusicAnalysis.model_validate_json((job / "music.json").read_text(encoding="utf-8"))
    off = tl.music[0].offset_s
    bars = [b - off for b in ma.bars_s]
    frame = 1 / tl.render.fps
    for c in tl.video[1:]:
        assert min(abs(c.start_s - b) for b in bars) <= frame + 1e-6, (c.start_s, bars)


def _frame(path: Path, t: float) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    info = next(s for s in _probe(path)["streams"] if s["codec_type"] == "video")
    return np.frombuffer(raw, np.uint8).reshape(info["height"], info["width"], 3)


def _ocr_band(img: np.ndarray) -> str:
    from rapidocr_onnxruntime import RapidOCR

    h = img.shape[0]
    band = img[int(h * 0.70): int(h * 0.93)]  # subtitles sit bottom-centre above a 12 % margin
    result, _ = RapidOCR()(band)
    return "".join(r[1] for r in (result or []))


def _overlap(said: str, seen: str) -> float:
    a = [c for c in said.lower() if c.isalnum()]
    pool = list(seen.lower())
    hit = 0
    for c in a:
        if c in pool:
            pool.remove(c)
            hit += 1
    return hit / max(1, len(a))


@pytest.fixture(scope="module")
def bag_case(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("bag")
    mats = d / "materials"
    mats.mkdir()
    for name in ("magento_mb01-blue-0.jpg", "magento_mb03-black-0.jpg", "magento_wb02-green-0.jpg", "magento_wysiwyg-gear-main.jpg"):
        shutil.copy(media_dir / "images" / name, mats / name)
    shutil.copy(media_dir / "video" / "hikers_peter_stevens_ccby.mp4", mats / "hikers.mp4")
    (mats / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (mats / "notes.txt").write_text("not media", encoding="utf-8")
    rec = next(json.loads(ln) for ln in (media_dir / "text" / "magento_luma_products_en.jsonl").read_text(encoding="utf-8").splitlines() if '"24-MB01"' in ln)
    sentences = [s.strip() for s in rec["description"].replace("\n", ". ").split(".") if 3 < len(s.strip()) < 120]
    facts = d / "product.txt"
    facts.write_text(f"name: {rec['name']}\nfeatures: {', '.join(s.replace(',', '') for s in sentences[:4])}\n"
                     f"design: dual top handles, adjustable shoulder strap, full-length zipper\noffer: only {rec['price']} dollars\n", encoding="utf-8")
    return mats, facts


def test_make_en_vertical_with_music(bag_case: tuple[Path, Path], media_dir: Path, tmp_path: Path, _isolated_workspace: Path) -> None:
    mats, facts = bag_case
    out = tmp_path / "out.mp4"
    r = _cli("make", "--materials", str(mats), "--product", str(facts), "--music", str(media_dir / "music" / "vibe_ace_kevin_macleod.ogg"),
             "--brief", "upbeat video for Black Friday", "--duration", "15", "--aspect", "9:16", "--out", str(out))
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    # bad files are reported by name and skipped; the rest is used
    assert any("broken.jpg" in w for w in res["warnings"]) and any("notes.txt" in w for w in res["warnings"])

    info = _probe(out)
    v = next(s for s in info["streams"] if s["codec_type"] == "video")
    a = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert abs(float(info["format"]["duration"]) - 15.0) <= 0.1
    assert (v["width"], v["height"]) == (720, 1280) and v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p"
    assert a and a[0]["codec_name"] == "aac"

    job = Path(res["artifacts"]["video"]).parent
    tl = Timeline.model_validate_json((job / "timeline.json").read_text(encoding="utf-8"))
    assert (job / "subtitles.srt").read_text(encoding="utf-8").count("-->") == len(tl.subtitles) > 0
    assert tl.music and tl.language == "en"
    _assert_cuts_on_bars(job, tl)
    # the hikers clip says nothing about a bag: it is left out with its reason, the bag photos carry the video
    assert "off-topic" in res["left_out"]["hikers.mp4"] and tl.video and all(c.is_still for c in tl.video)
    # printed text on every photo used was read, so that subtitles can move off it
    assert all((_isolated_workspace / "cache" / "ocr" / f"{c.material_id}.v2.json").is_file() for c in tl.video if c.is_still)
    for line, beat_clip, voice in zip(tl.narration, tl.video, tl.voice):
        assert line.in_range, line
        assert voice.start_s >= beat_clip.start_s and voice.start_s + voice.duration_s <= beat_clip.start_s + beat_clip.duration_s + 1e-3
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in line.text) and sum(c.isascii() and c.isalpha() for c in line.text) >= 3  # en narration

    # every frame decodes; frames have content; subtitles are on screen while each line is spoken
    dec = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(out), "-f", "null", "-"], capture_output=True, text=True)
    assert dec.returncode == 0 and not dec.stderr.strip()
    seen_ok = 0
    for voice, line in zip(tl.voice, tl.narration):
        cue = next(c for c in tl.subtitles if c.start_s <= voice.start_s + 0.05 < c.end_s)
        img = _frame(out, (cue.start_s + cue.end_s) / 2)
        assert img.mean() > 15 and img.std() > 10  # not black, not flat
        seen_ok += _overlap(cue.text, _ocr_band(img)) >= 0.6
    assert seen_ok >= len(tl.voice) - 1, "burned subtitles should be readable (OCR) while lines are spoken"


def test_demo_zh_runs_without_shared(tmp_path: Path) -> None:
    out = tmp_path / "demo.mp4"
    r = _cli("demo", "--lang", "zh", "--out", str(out))
    assert r.returncode == 0, r.stderr
    info = _probe(out)
    assert abs(float(info["format"]["duration"]) - 15.0) <= 0.1
    job = Path(json.loads(r.stdout)["artifacts"]["timeline"]).parent
    tl = Timeline.model_validate_json((job / "timeline.json").read_text(encoding="utf-8"))
    assert tl.language == "zh" and all(ln.in_range for ln in tl.narration)
    assert tl.music and "/music/" in tl.music[0].path  # generated: the embedded default always has a beat grid
    _assert_cuts_on_bars(job, tl)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in ln.text) for ln in tl.narration)
    mid = tl.subtitles[0]
    seen = _ocr_band(_frame(out, (mid.start_s + mid.end_s) / 2))
    assert _overlap(mid.text, seen) >= 0.6, (mid.text, seen)


def test_empty_folder_says_what_to_do(tmp_path: Path, bag_case: tuple[Path, Path]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _cli("make", "--materials", str(empty), "--product", str(bag_case[1]), "--duration", "10")
    assert r.returncode == 2 and "no files found" in r.stderr and "what to do" in r.stderr


def test_only_bad_files_says_what_to_do(tmp_path: Path, bag_case: tuple[Path, Path]) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "a.png").write_bytes(b"")
    (d / "b.mp4").write_bytes(b"\x00" * 1000)
    r = _cli("make", "--materials", str(d), "--product", str(bag_case[1]), "--duration", "10")
    assert r.returncode == 2 and "a.png" in r.stderr and "b.mp4" in r.stderr and "no usable photos or clips" in r.stderr


def test_duration_the_material_cannot_fill(tmp_path: Path, bag_case: tuple[Path, Path], media_dir: Path) -> None:
    d = tmp_path / "one"
    d.mkdir()
    shutil.copy(media_dir / "images" / "magento_mb01-blue-0.jpg", d)
    r = _cli("make", "--materials", str(d), "--product", str(bag_case[1]), "--duration", "60")
    assert r.returncode == 2 and "fill at most 6.0 s" in r.stderr and "add more photos or clips" in r.stderr
    r = _cli("make", "--materials", str(d), "--product", str(bag_case[1]), "--duration", "100000")
    assert r.returncode == 2 and "duration_s" in r.stderr


def test_unparseable_product_names_the_line(tmp_path: Path, bag_case: tuple[Path, Path]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("name: Bag\nmaterial: canvas\nthis line has no colon\n", encoding="utf-8")
    r = _cli("make", "--materials", str(bag_case[0]), "--product", str(bad), "--duration", "10")
    assert r.returncode == 2 and "line 3" in r.stderr


def test_multi_shot_clip_is_cut_at_its_shots(media_dir: Path, tmp_path: Path) -> None:
    """montage_gt.mp4 has hard cuts at frames 75, 175, 275 and 375 (ground truth by construction):
    make splits it into its shots and no beat of the video spans one of those cuts."""
    mats = tmp_path / "materials"
    mats.mkdir()
    shutil.copy(media_dir / "video" / "montage_gt.mp4", mats / "montage.mp4")
    gt = json.loads((media_dir / "video" / "montage_gt.cuts.json").read_text(encoding="utf-8"))
    cuts_s = [f / 25.0 for f in (gt.get("cut_frames") or gt.get("cuts") or [75, 175, 275, 375])]
    facts = tmp_path / "p.txt"
    facts.write_text("name: Trail Day Pack\nfeatures: light frame, rain cover\noffer: free shipping\n", encoding="utf-8")
    r = _cli("make", "--materials", str(mats), "--product", str(facts), "--duration", "12", "--aspect", "16:9", "--out", str(tmp_path / "o.mp4"))
    assert r.returncode == 0, r.stderr
    job = Path(json.loads(r.stdout)["artifacts"]["video"]).parent
    tl = Timeline.model_validate_json((job / "timeline.json").read_text(encoding="utf-8"))
    assert len(tl.video) >= 3  # one 19 s clip gives several beats, one per shot
    for c in tl.video:
        a, b = c.in_s, c.in_s + c.duration_s
        assert not any(a + 0.02 < t < b - 0.02 for t in cuts_s), f"beat {c.beat_index} [{a:.2f}, {b:.2f}] spans a cut of the source"
