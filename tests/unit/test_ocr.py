"""OCR (PP-OCRv4 via rapidocr): text and boxes on a rendered image and on a real photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from tools.understand.ocr import get_engine, ocr_image
from tools.core.registry import run_tool

CJK_FONTS = ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"]


def test_rendered_text_and_boxes(tmp_path: Path) -> None:
    font_path = next((f for f in CJK_FONTS if Path(f).is_file()), None)
    if font_path is None:
        pytest.skip("no CJK font (apt-get install fonts-noto-cjk)")
    img = Image.new("RGB", (640, 240), (250, 250, 245))
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(font_path, 48)
    drawn = d.textbbox((40, 30), "SUMMER SALE 50%", font=font)  # the ink's box (the font's ascent sits above it)
    d.text((40, 30), "SUMMER SALE 50%", fill=(20, 20, 20), font=font)
    d.text((40, 130), "夏日清凉特惠", fill=(200, 30, 30), font=font)
    p = tmp_path / "sign.png"
    img.save(p)
    res = ocr_image(p)
    text = res.text.replace(" ", "").upper()
    assert "SUMMERSALE" in text and "夏日清凉特惠" in text
    first = res.lines[0]
    # the first line's box sits where it was drawn: every edge within 5 px of the ink's box
    assert all(abs(got - want) <= 5 for got, want in zip(first.bbox_px, drawn)), (first.bbox_px, drawn)
    assert 0 < res.text_area_ratio() < 0.5
    assert get_engine() is get_engine()  # singleton


def test_real_photo_text(media_dir: Path) -> None:
    out = run_tool("ocr_images", {"paths": [str(media_dir / "images" / "openmpf_police_cars_andre_stumpf.jpg")]})
    assert "POLICE" in out.results[0].text.upper()


def test_blank_image_has_no_text() -> None:
    assert ocr_image(np.full((200, 300, 3), 255, np.uint8)).lines == []


def test_text_boxes_for_render_are_normalised_and_cached(media_dir: Path, _isolated_workspace: Path, monkeypatch) -> None:
    """make/render feed OCR boxes of the photos a video uses to the renderer; OCR runs once per photo."""
    import tools.understand.ocr
    from tools.core.registry import call
    from tools.core.workspace import Workspace
    from tools.understand.ingest import ingest
    from tools.understand.ocr import read_text_boxes

    ws = Workspace(_isolated_workspace)
    out = ingest(ws, "p1", [str(media_dir / "images" / n) for n in ("openmpf_police_cars_andre_stumpf.jpg", "skimage_coffee.png")])
    photos = [{"id": m.id, "path": m.path} for m in out.materials]

    def text_boxes_for(refs: list[dict]) -> dict:
        return call(read_text_boxes, {"workspace": str(ws.root), "photos": refs}).boxes

    boxes = text_boxes_for(photos + photos)
    police = next(m.id for m in out.materials if "police" in m.original_name)
    assert police in boxes and all(0 <= b.x0 < b.x1 <= 1 and 0 <= b.y0 < b.y1 <= 1 for b in boxes[police])

    def no_ocr(*a, **k):
        raise AssertionError("OCR ran again for a cached photo")

    monkeypatch.setattr(tools.understand.ocr, "ocr_image", no_ocr)
    assert text_boxes_for(photos) == boxes
