"""Health checks for OpenAI-compatible model servers (vLLM); errors name the start command."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tools.core.errors import BackendUnavailable

START_HINT = "start one with `serving/start_vllm_cpu.sh` (CPU, tests) or see serving/README.md (GPU), or set ADREEL_NARRATOR=embedded"


def check_server(base_url: str, timeout_s: float = 3.0) -> list[str]:
    """Model ids served at ``base_url`` (…/v1); BackendUnavailable if it does not answer."""
    url = base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:  # noqa: S310 - URL comes from settings
            data = json.loads(r.read().decode("utf-8"))
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as e:
        raise BackendUnavailable(f"no model server answers at {base_url} ({e})", hint=START_HINT) from e
    return [m["id"] for m in data.get("data", [])]
