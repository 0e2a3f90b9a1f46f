"""``--out`` is checked before any work: it never overwrites an input, never lands in the
workspace, is a .mp4 file (issue: a user's photo was replaced by the MP4, exit 0)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from agents.state import MakeRequest, check_out_path
from tools.core.errors import ToolInputError

ROOT = Path(__file__).resolve().parents[2]


def _req(tmp_path: Path, out: Path) -> MakeRequest:
    mats = tmp_path / "photos"
    mats.mkdir(exist_ok=True)
    (mats / "a.jpg").write_bytes(b"\xff\xd8 not really a photo")
    facts = tmp_path / "facts.txt"
    facts.write_text("name: Cup\n", encoding="utf-8")
    return MakeRequest(materials_dir=str(mats), product_path=str(facts), out_path=str(out))


@pytest.mark.parametrize(("target", "why"), [("photos/a.jpg", "must end in .mp4"), ("facts.txt", "must end in .mp4"),
                                             ("photos", "must end in .mp4"), ("ws/v.mp4", "inside the workspace"),
                                             ("dir.mp4", "is a folder")])
def test_bad_out_paths_are_refused(tmp_path: Path, target: str, why: str) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(ToolInputError, match=why):
        check_out_path(_req(tmp_path, tmp_path / target), tmp_path / "ws")


def test_an_input_named_like_a_video_is_not_overwritten(tmp_path: Path) -> None:
    req = _req(tmp_path, tmp_path / "photos" / "clip.mp4")
    (tmp_path / "photos" / "clip.mp4").write_bytes(b"the seller's clip")
    with pytest.raises(ToolInputError, match="overwrite one of your input files"):
        check_out_path(req, tmp_path / "ws")
    check_out_path(_req(tmp_path, tmp_path / "new.mp4"), tmp_path / "ws")  # a new file outside is fine


def test_cli_refuses_before_any_work(tmp_path: Path, _isolated_workspace: Path) -> None:
    req = _req(tmp_path, tmp_path / "x")
    photo = Path(req.materials_dir) / "a.jpg"
    before = hashlib.sha256(photo.read_bytes()).hexdigest()
    r = subprocess.run([sys.executable, str(ROOT / "app.py"), "make", "--materials", req.materials_dir, "--product", req.product_path,
                        "--out", str(photo)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2 and "must end in .mp4" in r.stderr and "Traceback" not in r.stderr
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == before
    assert not (_isolated_workspace / "jobs").exists() or not any((_isolated_workspace / "jobs").iterdir())
