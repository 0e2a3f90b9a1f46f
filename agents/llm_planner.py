"""The LLM planner front end: the brief goes to an OpenAI-compatible model (vLLM) as a tool call
whose JSON schema is BriefSpec's, so the server's structured decoding constrains the arguments.

Errors the model can fix (arguments that fail validation, a reply without the call) go back to
it as the tool result, up to ``max_fixes`` times; after that, or when the server is down, the
parser raises BackendUnavailable and the one fallback rule (``tools.core.backends``) hands the
brief to the rule-based parser, with a note that says so.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from agents.brief import RuleBriefParser
from tools.core.backends import with_fallback
from tools.core.errors import BackendUnavailable, ModelReplyError
from tools.core.models import BriefSpec

SYSTEM = ("You plan short promotional videos. Read the seller's brief and call plan_video with the video's length in seconds, "
          "aspect (9:16 vertical, 1:1 square, 16:9 horizontal), resolution, narration language, mood, tempo, occasion, "
          "what to stress and wanted script labels. Only use what the brief says; leave the rest out.")


def plan_video_tool() -> dict[str, Any]:
    """The one tool the planner model must call: its parameters are BriefSpec's JSON schema."""
    schema = BriefSpec.model_json_schema()
    schema["properties"].pop("raw", None)
    return {"type": "function", "function": {"name": "plan_video", "description": "Set the plan for the video from the brief.", "parameters": schema}}


class LLMBriefParser:
    """Brief parsing by a served model (``ADREEL_PLANNER=llm``)."""

    name = "llm"

    def __init__(self, client: Any, max_fixes: int = 2) -> None:
        self.client = client
        self.max_fixes = max_fixes

    def parse(self, text: str) -> tuple[BriefSpec, str | None]:
        """BriefSpec from the model, and a note when it needed fixes. Raises BackendUnavailable when
        the server fails or gives no valid plan within ``max_fixes`` fixes."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text[:2000]}]
        tool = plan_video_tool()
        last_error = None
        for attempt in range(self.max_fixes + 1):
            try:
                calls = self.client.chat_tools(messages, [tool], tool_choice="plan_video", max_tokens=512)
            except ModelReplyError as e:
                last_error = e.message
                continue
            call = next((c for c in calls if c.name == "plan_video"), None)
            if call is None:
                last_error = "no plan_video call in the reply"
                continue
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
        raise BackendUnavailable(f"no valid plan after {self.max_fixes + 1} tries ({last_error})",
                                 hint="use a model that supports tool calls, or ADREEL_PLANNER=rules")


def parse_brief_llm(text: str, client: Any, max_fixes: int = 2) -> tuple[BriefSpec, str | None]:
    """BriefSpec from the model with the rule-based fallback; returns (spec, note) where the note
    reports fixes or the fallback."""
    (spec, note), fb = with_fallback("planner", "llm", lambda: LLMBriefParser(client, max_fixes).parse(text),
                                     lambda: RuleBriefParser().parse(text))
    return spec, fb or note
