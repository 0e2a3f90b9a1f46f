"""The one tool registry: verb name → (pure function, input model, output model, description).

The CLI (`python app.py tools|tool`), the planner's tool binding and the Gradio UI all read
this registry. A tool is a typed function ``def verb(inp: VerbInput) -> VerbOutput`` with a
one-line docstring, registered with :func:`register`. The modules that define tools are listed
once, in :data:`TOOL_MODULES`, and imported on first use; heavy imports (torch, cv2, librosa …)
belong inside the tool functions so that listing tools stays fast.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from pydantic import BaseModel, ValidationError

from tools.core.errors import InternalError, ToolInputError


@dataclass(frozen=True)
class Tool:
    """One registered tool."""

    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    fn: Callable[[BaseModel], BaseModel]

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output_model.model_json_schema()

    def __call__(self, payload: BaseModel | dict[str, Any] | str) -> BaseModel:
        """Validate ``payload`` (model, dict or JSON text), run the tool, validate its output."""
        try:
            if isinstance(payload, self.input_model):
                inp = payload
            elif isinstance(payload, (str, bytes)):
                inp = self.input_model.model_validate_json(payload)
            elif isinstance(payload, BaseModel):
                inp = self.input_model.model_validate(payload.model_dump())
            else:
                inp = self.input_model.model_validate(payload)
        except ValidationError as e:
            raise ToolInputError(
                f"invalid input for tool {self.name!r}: {_short_validation(e)}",
                hint=f"see the input schema with `python app.py tools --name {self.name}`",
            ) from e
        bad = _unreasonable_number(inp)
        if bad:
            raise ToolInputError(f"invalid input for tool {self.name!r}: {bad} is not a finite number of sensible size",
                                 hint="NaN, infinity and integers beyond ±2^53 are never valid tool inputs; give a number")
        out = self.fn(inp)
        if not isinstance(out, self.output_model):
            raise InternalError(f"tool {self.name!r} returned {type(out).__name__}, not {self.output_model.__name__}")
        return out


#: Integers beyond this are not exact as JSON numbers (doubles) and overflow C libraries (int64).
MAX_INT = 2**53


def _unreasonable_number(value: object, where: str = "") -> str | None:
    """The location of the first NaN, infinity or integer beyond ±2^53 in a validated input (None:
    there is none): no tool is handed one, whatever its fields' own constraints say."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_INT else (where or "<root>")
    if isinstance(value, float):
        return None if math.isfinite(value) else (where or "<root>")
    if isinstance(value, BaseModel):
        items: Iterable[tuple[object, object]] = ((k, getattr(value, k)) for k in type(value).model_fields)
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for k, v in items:
        found = _unreasonable_number(v, f"{where}.{k}" if where else str(k))
        if found:
            return found
    return None


def _short_validation(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ())) or "<root>"
        parts.append(f"{loc}: {err.get('msg')}")
    return "; ".join(parts)


_REGISTRY: dict[str, Tool] = {}
_BY_FN: dict[Callable[..., BaseModel], Tool] = {}
_DISCOVERED = False
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


def register(name: str) -> Callable[[Callable[..., BaseModel]], Callable[..., BaseModel]]:
    """Register ``fn`` under verb ``name``; input/output models come from its type hints."""

    def deco(fn: Callable[..., BaseModel]) -> Callable[..., BaseModel]:
        hints = typing.get_type_hints(fn)
        params = list(inspect.signature(fn).parameters)
        if len(params) != 1:
            raise InternalError(f"tool {name!r} must take exactly one input model, got {params}")
        in_model = hints.get(params[0])
        out_model = hints.get("return")
        for m in (in_model, out_model):
            if not (isinstance(m, type) and issubclass(m, BaseModel)):
                raise InternalError(f"tool {name!r}: input and return must be pydantic models, got {m!r}")
        doc = (inspect.getdoc(fn) or "").strip().splitlines()
        if not doc:
            raise InternalError(f"tool {name!r} needs a one-line docstring")
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise InternalError(f"tool name {name!r} registered twice")
        _REGISTRY[name] = _BY_FN[fn] = Tool(name, doc[0], in_model, out_model, fn)
        return fn

    return deco


#: Every module that defines registered tools, by pipeline stage: the one list of AdReel's tools.
TOOL_MODULES: tuple[str, ...] = (
    "tools.understand.product",
    "tools.understand.ingest",
    "tools.understand.shots",
    "tools.understand.quality",
    "tools.understand.ocr",
    "tools.understand.index",
    "tools.understand.cpa",
    "tools.understand.select",
    "tools.understand.relevance",
    "tools.story.music",
    "tools.story.storyline",
    "tools.story.solver",
    "tools.story.montage",
    "tools.story.edits",
    "tools.narrate.narrator",
    "tools.narrate.tts",
    "tools.render.timeline",
    "tools.render.reframe",
    "tools.render.engine",
    "tools.explain.thumbnail",
    "tools.explain.excitement",
)


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    for name in TOOL_MODULES:
        importlib.import_module(name)
    _DISCOVERED = True


def all_tools() -> dict[str, Tool]:
    """Every registered tool, by name (sorted)."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def get_tool(name: str) -> Tool:
    """The tool called ``name``; a clear error listing the known names otherwise."""
    tools_ = all_tools()
    if name not in tools_:
        raise ToolInputError(f"unknown tool {name!r}", hint=f"known tools: {', '.join(tools_)}")
    return tools_[name]


def run_tool(name: str, payload: BaseModel | dict[str, Any] | str) -> BaseModel:
    """Validate, run and return the output model of tool ``name``."""
    return get_tool(name)(payload)


def call(fn: Callable[[In], Out], payload: In | dict[str, Any] | str) -> Out:
    """Run registered tool ``fn`` through the registry (its input validated, its output checked),
    typed: ``call(ingest_materials, {...})`` returns an ``IngestOutput``. The planner graph's nodes
    call tools this way."""
    tool = _BY_FN.get(fn)
    if tool is None:
        raise InternalError(f"{getattr(fn, '__name__', fn)!r} is not a registered tool")
    return tool(payload)  # type: ignore[return-value]  # Tool.__call__ checked it is an instance of the output model


def describe(name: str | None = None) -> list[dict[str, Any]]:
    """Name, description and JSON schemas of every tool (or one)."""
    items = [get_tool(name)] if name else list(all_tools().values())
    return [
        {
            "name": t.name,
            "description": t.description,
            "input_schema": t.input_schema(),
            "output_schema": t.output_schema(),
        }
        for t in items
    ]


def openai_tool_specs() -> list[dict[str, Any]]:
    """The registry as OpenAI-compatible ``tools=[...]`` function specs (for the LLM planner)."""
    return [
        {"type": "function", "function": {"name": d["name"], "description": d["description"], "parameters": d["input_schema"]}}
        for d in describe()
    ]


def dumps(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), ensure_ascii=False, indent=2)
