"""Shared fixtures. Tests that need ../shared skip with a clear message when it is absent."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hyp_settings

# CI runs the same examples every time (a red run must be reproducible); locally, explore.
hyp_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hyp_settings.load_profile("ci" if os.environ.get("CI") else "default")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ADREEL_SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder beside the checkout (media, esync data, seeds)."""
    if not (SHARED / "media").is_dir():
        pytest.skip(f"../shared not found at {SHARED}: set ADREEL_SHARED_DIR or place shared/ beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def media_dir(shared_dir: Path) -> Path:
    """../shared/media: real test media with ground truth (see its MANIFEST.md)."""
    return shared_dir / "media"


@pytest.fixture(scope="session")
def esync_dev(shared_dir: Path) -> Path:
    """../shared/data/esync/dev.json: E-SyncVidStory development split."""
    p = shared_dir / "data" / "esync" / "dev.json"
    if not p.is_file():
        pytest.skip(f"{p} missing")
    return p


@pytest.fixture(autouse=True)
def _isolated_workspace(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own workspace; nothing is written to the user's real one."""
    ws = tmp_path_factory.mktemp("workspace")
    monkeypatch.setenv("ADREEL_WORKSPACE", str(ws))
    return ws


@pytest.fixture(autouse=True)
def _test_inputs(tmp_path: Path) -> Iterator[None]:
    """A test plays the user: the files it made in its tmp_path, the tests' own files and the media
    of ../shared are the inputs it names, the only files outside the workspace tools may read
    (``tools.core.paths``). Writes stay confined to the workspace, as for every caller."""
    from tools.core.paths import allow_inputs

    with allow_inputs(tmp_path, ROOT / "tests", SHARED):
        yield


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(workspace: Path, port: int) -> subprocess.Popen:
    """`python app.py ui` on loopback with its own workspace, waited for; the caller terminates it."""
    env = {**os.environ, "ADREEL_WORKSPACE": str(workspace)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "ui", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("app did not start within 120 s")


@pytest.fixture()
def app_url(_isolated_workspace: Path) -> Iterator[str]:
    """URL of the Gradio app running in a subprocess on this test's workspace."""
    port = free_port()
    proc = start_app(_isolated_workspace, port)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
