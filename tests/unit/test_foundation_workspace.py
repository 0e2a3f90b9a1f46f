"""Workspace: nothing escapes it, names are sanitised, writes are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.core.errors import ToolInputError
from tools.core.models import Job
from tools.core.workspace import Workspace, atomic_write_model, atomic_write_text, product_id_for, sanitize_filename


def test_paths_cannot_escape(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    assert ws.inside("jobs", "x") == ws.root / "jobs" / "x"
    for bad in (["..", "etc"], ["/etc/passwd"], ["jobs", "../../x"]):
        with pytest.raises(ToolInputError, match="outside the workspace"):
            ws.inside(*bad)
    (tmp_path / "outside").mkdir()
    (ws.root / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ToolInputError):
        ws.inside("link", "f")
    with pytest.raises(ToolInputError):
        ws.job_dir("../../etc")
    with pytest.raises(ToolInputError):
        ws.product_dir("../x")


@pytest.mark.parametrize(("raw", "want"), [("../../etc/passwd", "passwd"), ("C:\\a\\b.jpg", "b.jpg"), (".hidden", "hidden"), ("a\x00b;rm -rf.png", "ab_rm -rf.png"), ("", "file")])
def test_sanitize_filename(raw: str, want: str) -> None:
    assert sanitize_filename(raw) == want


def test_atomic_writes_and_ids(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    jid = ws.new_job_id()
    d = ws.job_dir(jid)
    atomic_write_text(d / "a.txt", "one")
    atomic_write_text(d / "a.txt", "two")
    assert (d / "a.txt").read_text() == "two"
    assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]
    job = Job(id=jid, product_id=product_id_for("晨光咖啡"))
    atomic_write_model(d / "job.json", job)
    assert Job.model_validate_json((d / "job.json").read_text()) == job
    assert ws.list_jobs() == [jid]
    assert product_id_for("晨光咖啡") == product_id_for("晨光咖啡") != product_id_for("晨光咖啡2")


def test_product_lock_serialises_threads(tmp_path: Path) -> None:
    import threading
    import time

    ws = Workspace(tmp_path)
    inside, overlaps = [0], [0]

    def work() -> None:
        with ws.product_lock("bag-1"):
            inside[0] += 1
            overlaps[0] = max(overlaps[0], inside[0])
            time.sleep(0.05)
            inside[0] -= 1

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert overlaps[0] == 1
