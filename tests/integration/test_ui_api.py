"""The Gradio app through gradio_client: two concurrent sessions get their own storyline and video."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def run_session(url: str, files: list[str], brief: str) -> dict:
    """One user: upload + brief → storyline → approve → video. Returns what the user got."""
    from gradio_client import Client, handle_file

    c = Client(url, verbose=False)
    chat, draft, *_ = c.predict([handle_file(f) for f in files], brief, [], api_name="/start")
    chat, table, video, gif, expl, downloads = c.predict(draft, chat, api_name="/approve")
    return {"chat": chat, "draft": draft, "table": table, "video": video, "downloads": downloads}


def _duration(path: str) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path], capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout)["format"]["duration"])


def test_two_concurrent_sessions_get_their_own_outputs(media_dir: Path, tmp_path: Path, _isolated_workspace: Path, app_url: str) -> None:
    facts = tmp_path / "product.txt"
    facts.write_text("name: Joust Duffle Bag\nmaterial: durable nylon, padded strap\noffer: only 34 dollars\n", encoding="utf-8")
    imgs = [str(media_dir / "images" / n) for n in ("magento_mb01-blue-0.jpg", "magento_mb03-black-0.jpg", "magento_wb02-green-0.jpg")]
    with ThreadPoolExecutor(2) as ex:
        a = ex.submit(run_session, app_url, [*imgs, str(facts)], "6 s square video")
        b = ex.submit(run_session, app_url, [*imgs[:2], str(facts)], "8 s vertical video")
        ra, rb = a.result(timeout=900), b.result(timeout=900)
    assert ra["video"] and rb["video"] and ra["video"] != rb["video"]
    assert abs(_duration(ra["video"]["video"] if isinstance(ra["video"], dict) else ra["video"]) - 6) <= 0.1
    assert abs(_duration(rb["video"]["video"] if isinstance(rb["video"], dict) else rb["video"]) - 8) <= 0.1
    assert len(ra["table"]["data"]) != len(rb["table"]["data"]) or ra["table"]["data"] != rb["table"]["data"]
    for r in (ra, rb):  # the review table already shows a line per shot; approved as is, it is what is spoken
        assert all(str(row[5]).strip() for row in r["draft"]["data"])
        assert [row[5] for row in r["table"]["data"]] == [row[5] for row in r["draft"]["data"]]
    jobs = sorted(p.name for p in (_isolated_workspace / "jobs").iterdir())
    uploads = sorted(p.name for p in (_isolated_workspace / "uploads").iterdir())
    assert len(jobs) == 2 and len(uploads) == 2  # one job and one upload folder per session
