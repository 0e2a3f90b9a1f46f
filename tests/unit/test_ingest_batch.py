"""Ingest in a pool: the library takes the files in file order, a copy of a file is one material,
a corrupt file is skipped by name, and OCR of a batch gives each photo its own text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tools.core.workspace import Workspace
from tools.understand.ingest import ingest, library_path
from tools.understand.ocr import TextBoxesInput, read_text_boxes

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _photo(path: Path, word: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    im = Image.fromarray((rng.random((480, 640, 3)) * 60 + 180).astype(np.uint8))
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype(FONT, 72) if Path(FONT).is_file() else ImageFont.load_default(72)
    d.text((60, 180), word, fill=(10, 10, 10), font=font)
    im.save(path, quality=92)


def test_pooled_ingest_keeps_order_dedups_and_skips(tmp_path: Path, _isolated_workspace: Path) -> None:
    ws = Workspace(_isolated_workspace)
    src = tmp_path / "in"
    src.mkdir()
    words = ["NYLON", "ZIPPER", "POCKET", "STRAPS", "TRAVEL", "HIKING"]
    for i, w in enumerate(words):
        _photo(src / f"{i:02d}_{w.lower()}.jpg", w, i)
    shutil.copy(src / "02_pocket.jpg", src / "02b_copy.jpg")  # same bytes, another name
    (src / "03b_broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = ingest(ws, "p1", [str(src)])
    names = [next(m.original_name for m in out.materials if m.id == t) for t in out.taken]
    assert names == ["00_nylon.jpg", "01_zipper.jpg", "02_pocket.jpg", "03_straps.jpg", "04_travel.jpg", "05_hiking.jpg"]  # file order, copy folded in
    assert [s.name for s in out.skipped] == ["03b_broken.jpg"] and "not a readable image" in out.skipped[0].reason
    saved = json.loads(library_path(ws, "p1").read_text(encoding="utf-8"))
    assert [m["id"] for m in saved] == out.added == out.taken
    for m in out.materials:  # each stored file decodes to its own size
        with Image.open(ws.abs(m.path)) as im:
            assert im.size == (m.width_px, m.height_px)
    again = ingest(ws, "p1", [str(src)])  # idempotent: nothing new the second time
    assert again.added == [] and again.taken == out.taken

    texts = read_text_boxes(TextBoxesInput(workspace=str(ws.root), photos=[{"id": m.id, "path": m.path} for m in out.materials])).texts
    by_name = {m.original_name: texts.get(m.id, "") for m in out.materials}
    for i, w in enumerate(words):  # read in a pool, each photo keeps its own words
        assert w in by_name[f"{i:02d}_{w.lower()}.jpg"].upper().replace(" ", ""), by_name
