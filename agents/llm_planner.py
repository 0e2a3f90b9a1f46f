"""The LLM planner front end: the brief goes to an OpenAI-compatible model (vLLM) as a tool call
whose JSON schema is BriefSpec's, so the server's structured decoding constrains the arguments.

Errors the model can fix (arguments that fail validation) go back to it as the tool result,
up to ``max_fixes`` times. A server that is down is not fixable by the model: the embedded
rule-based parser takes over and the returned note says so.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from agents.brief import parse_brief
from tools.core.errors import BackendUnavailable
from tools.core.models import BriefSpec

SYSTEM = ("You plan short promotional videos. Read the seller's brief and call plan_video with the video's length in seconds, "
          "aspect (9:16 vertical, 1:1 square, 16:9 horizontal), resolution, narration language, mood, tempo, occasion, "
          "what to stress and wanted script labels. Only use what the brief says; leave the rest out.")


def plan_video_tool() -> dict[str, Any]:
    """The one tool the planner model must call: its parameters are BriefSpec's JSON schema."""
    schema = BriefSpec.model_json_schema()
    schema["properties"].pop("raw", None)
    return {"type": "function", "function": {"name": "plan_video", "description": "Set the plan for the video from the brief.", "parameters": schema}}


def parse_brief_llm(text: str, client: Any, max_fixes: int = 2) -> tuple[BriefSpec, str | None]:
    """BriefSpec from the model; returns (spec, note) where the note reports fixes or a fallback."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text[:2000]}]
    tool = plan_video_tool()
    last_error = None
    for attempt in range(max_fixes + 1):
        try:
            calls = client.chat_tools(messages, [tool], tool_choice="plan_video", max_tokens=512)
        except BackendUnavailable as e:
            return parse_brief(text), f"planner model unavailable ({e.message}); used the rule-based planner"
        call = next((c for c in calls if c.name == "plan_video"), None)
        if call is None:
            last_error = "no plan_video call in the reply"
        else:
            try:
                spec = BriefSpec.model_validate({**call.arguments, "raw": text[:2000]})
                return spec, (f"planner model needed {attempt} fix(es)" if attempt else None)
            except ValidationError as e:
                last_error = "; ".join(f"{'.'.join(map(str, er['loc']))}: {er['msg']}" for er in e.errors()[:5])
                messages += [
                    {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function",
                                                                             "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]},
                    {"role": "tool", "tool_call_id": call.id, "content": f"invalid arguments: {last_error}. Call plan_video again with valid values."},
                ]
    return parse_brief(text), f"planner model gave no valid plan after {max_fixes + 1} tries ({last_error}); used the rule-based planner"
