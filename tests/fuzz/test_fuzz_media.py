"""Fuzz ingest and the media tools with corrupt and adversarial files: truncated and random bytes,
decompression bombs, files whose extension lies, degenerate sizes and lengths, NaN audio, a
2-hour silent track, links out of the folder, hostile names.

Each file goes through ``ingest_materials`` as a user's input; a file that is taken then goes
through the tools that read its kind. Every step is a correct output or an AdReel error, peak
memory stays bounded (the 2-hour track is analysed over its first 10 minutes), and nothing is
written outside the workspace.
"""

from __future__ import annotations

import struct
import subprocess
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest
from _guard import PEAK, Guard
from PIL import Image

from tools.core.registry import run_tool


def _png_header(path: Path, w: int, h: int) -> None:
    """A PNG that claims ``w``×``h`` pixels but holds almost no data (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _ff(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="session")
def hostile_media(tmp_path_factory: pytest.TempPathFactory, media: Path) -> Path:
    d = tmp_path_factory.mktemp("hostile-media")
    good = (media / "photo0.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (d / "random.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (d / "zero.png").write_bytes(b"")
    _png_header(d / "bomb_100k.png", 100_000, 100_000)
    _png_header(d / "bomb_20k.png", 20_000, 20_000)
    Image.new("RGB", (1, 1), (255, 0, 0)).save(d / "one_pixel.png")
    Image.new("RGB", (4000, 16), (0, 128, 255)).save(d / "thin_strip.png")
    Image.new("RGB", (16, 3000), (0, 200, 50)).save(d / "tall_strip.png")
    Image.new("RGB", (6000, 6000), (10, 20, 30)).save(d / "big_36mp.png")
    Image.new("CMYK", (320, 240), (0, 80, 160, 0)).save(d / "cmyk.jpg")
    Image.fromarray(np.full((240, 320), 40000, np.uint16)).save(d / "sixteen_bit.png")
    Image.new("P", (320, 240)).save(d / "palette.png", transparency=0)
    Image.new("LA", (320, 240), (128, 0)).save(d / "transparent.png")
    im = Image.open(media / "photo0.jpg")
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(d / "rotated_exif.jpg", exif=exif)
    frames = [Image.new("RGB", (64, 64), c) for c in [(255, 0, 0), (0, 255, 0)]]
    frames[0].save(d / "animated_gif.png", format="GIF", save_all=True, append_images=frames[1:])
    (d / "clip_as.jpg").write_bytes((media / "clip.mp4").read_bytes())
    (d / "photo_as.mp4").write_bytes(good)
    (d / "html_as.jpg").write_bytes(b"<html><script>alert(1)</script></html>")
    (d / "svg_as.png").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg' width='99999' height='99999'/>")
    _ff("-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=0.2", "-pix_fmt", "yuv420p", str(d / "short_0.2s.mp4"))
    _ff("-f", "lavfi", "-i", "testsrc=s=8200x16:r=5:d=1", "-pix_fmt", "yuv420p", "-c:v", "libx264", str(d / "wide_8200.mp4"))
    _ff("-f", "lavfi", "-i", "sine=d=2", str(d / "audio_only.mp4"))
    _ff("-f", "lavfi", "-i", "testsrc=s=320x240:r=1:d=3", "-pix_fmt", "yuv420p", str(d / "one_fps.mp4"))
    (d / "truncated.mp4").write_bytes((media / "clip.mp4").read_bytes()[:3000])
    _ff("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "7000", "-c:a", "libmp3lame", "-b:a", "8k", str(d / "silent_2h.mp3"))
    (d / "text_as.mp3").write_text("not music at all", encoding="utf-8")
    with wave.open(str(d / "tone_1s.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes((np.sin(np.arange(22050) * 0.1) * 8000).astype(np.int16).tobytes())
    import soundfile as sf

    y = np.zeros(44100 * 2, np.float32)
    y[::100] = np.nan
    sf.write(str(d / "nan_samples.wav"), y, 44100, subtype="FLOAT")
    (d / ("long name " + "é" * 100 + ".jpg")).write_bytes(good)
    (d / "link_out.jpg").symlink_to("/etc/passwd")
    return d


MEDIA_NAMES = ["truncated.jpg", "random.jpg", "zero.png", "bomb_100k.png", "bomb_20k.png", "one_pixel.png", "thin_strip.png",
               "tall_strip.png", "big_36mp.png", "cmyk.jpg", "sixteen_bit.png", "palette.png", "transparent.png", "rotated_exif.jpg",
               "animated_gif.png", "clip_as.jpg", "photo_as.mp4", "html_as.jpg", "svg_as.png", "short_0.2s.mp4", "wide_8200.mp4",
               "audio_only.mp4", "one_fps.mp4", "truncated.mp4", "silent_2h.mp3", "text_as.mp3", "tone_1s.wav", "nan_samples.wav",
               "long name " + "é" * 100 + ".jpg", "link_out.jpg"]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", MEDIA_NAMES, ids=[n[:24] for n in MEDIA_NAMES])
def test_adversarial_file(guard: Guard, hostile_media: Path, name: str) -> None:
    from tools.core.paths import allow_inputs

    src = hostile_media / name
    folder = guard.outside / "mine"
    folder.mkdir()
    dst = folder / name
    if src.is_symlink():
        dst.symlink_to(src.readlink())
    else:
        dst.hardlink_to(src)  # the user's file (not copied: a 2-hour track stays cheap)
    guard.snapshot()
    with allow_inputs(folder):
        kind, out = guard.case("corrupt and adversarial media", f"ingest {name[:30]}",
                               lambda: run_tool("ingest_materials", {"product_id": "fuzz-media", "paths": [str(folder)]}))
        if kind == "error":
            return
        assert out.taken or out.skipped, out
        for sk in out.skipped:
            assert sk.reason.strip() and "—" in sk.reason or sk.reason, sk  # every skip says why
        by_id = {m.id: m for m in out.materials}
        for mid in out.taken:
            m = by_id[mid]
            path = str(guard.ws / m.path)
            steps = {"image": [("assess_quality", {"paths": [path]}), ("reframe_shot", {"path": path, "target_aspect": 0.5625}),
                               ("score_materials", {"items": [{"id": "a", "path": path}]})],
                     "video": [("detect_shots", {"path": path, "out_dir": str(guard.ws / "shots")}),
                               ("reframe_shot", {"path": path, "target_aspect": 1.0, "at_s": 0.1})],
                     "audio": [("analyze_music", {"path": path})]}[m.kind]
            for tool, payload in steps:
                guard.case("corrupt and adversarial media", f"{tool} {name[:30]}", lambda t=tool, p=payload: run_tool(t, p))
    assert PEAK["bytes"] < 3 * 1024**3


WORST_CASES = {
    "analyze a 2-hour silent track": 'run_tool("analyze_music", {"path": MEDIA + "/silent_2h.mp3"})',
    "ingest a 36 MP photo and a 400 MP bomb header": 'run_tool("ingest_materials", {"product_id": "w", "paths": [MEDIA + "/big_36mp.png", MEDIA + "/bomb_20k.png"]})',
    "storyline solver at its bound (500 shots, 600 s at 0.1 s)": (
        'run_tool("solve_storyline", {"shots": [{"id": f"s{i}", "cluster": i, "duration_s": 2.0 + i % 3, "persuasiveness": (i % 7) / 7} '
        'for i in range(500)], "budget_s": 600, "resolution_s": 0.1})'),
    "montage solver near its bound (200 shots x 2000 bars x 100 scenes = 40 M states)": (
        'run_tool("solve_montage", {"shots": [{"id": f"s{i}", "scene": i // 2, "duration_s": 12.0, "score": (i % 5) / 5} '
        'for i in range(200)], "bar_s": 1.0, "n_bars": 1992, "max_scenes": 100})'),
}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_worst_cases_stay_within_memory(guard: Guard, hostile_media: Path) -> None:
    """Each input at the edge of its documented range, in its own process: peak resident memory
    of that process stays under 2 GiB; the numbers are printed for the record.

    The peak is the child's own VmHWM (/proc/self/status), read as it exits. Not ru_maxrss from
    wait4: Linux carries the parent's high-water mark into a child across fork+exec, so under a
    pytest process that has grown past 2 GiB every child would read as 2 GiB+ whatever it did."""
    import os
    import sys

    from _guard import STATS

    rows = []
    for label, call in WORST_CASES.items():
        code = ("import os; from tools.core.paths import use_workspace, allow_inputs; from tools.core.registry import run_tool\n"
                "from tools.core.errors import AdReelError\n"
                f"MEDIA = {str(hostile_media)!r}\n"
                f"with use_workspace({str(guard.ws)!r}), allow_inputs(MEDIA):\n"
                f"    try:\n        {call}\n    except AdReelError as e:\n        print('clear error:', e.message[:120])\n"
                "import re\nprint('VmHWM', re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))\n")
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                                env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out_b, err_b = proc.communicate()
        out, err = out_b.decode(), err_b.decode()
        STATS["worst-case memory"] += 1
        assert proc.returncode == 0 and "Traceback" not in err, (label, err[-2000:])
        hwm = [ln for ln in out.splitlines() if ln.startswith("VmHWM ")]
        assert hwm, (label, out[-500:])
        said = "\n".join(ln for ln in out.splitlines() if not ln.startswith("VmHWM ")).strip()
        rows.append((label, int(hwm[-1].split()[1]) * 1024, said))
    print("\n" + "\n".join(f"  {mb / 2**20:7.0f} MiB  {label}  {out}" for label, mb, out in rows), file=sys.stderr)
    assert all(mb < 2 * 1024**3 for _, mb, _ in rows), rows
