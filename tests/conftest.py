"""Shared fixtures. Tests that need ../shared skip with a clear message when it is absent."""

from __future__ import annotations

import os
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
