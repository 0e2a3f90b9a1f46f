"""The one tool registry and the CLI that reads it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from tools.core.errors import ToolInputError
from tools.core.registry import all_tools, describe, openai_tool_specs, run_tool

ROOT = Path(__file__).resolve().parents[2]
CORE = {"ingest_materials", "parse_product", "plan_storyline", "synthesize_speech", "render_timeline"}


def test_registry_has_core_tools_with_schemas() -> None:
    tools = all_tools()
    assert CORE <= set(tools)
    for t in tools.values():
        assert t.description and "\n" not in t.description
        assert issubclass(t.input_model, BaseModel) and issubclass(t.output_model, BaseModel)
        assert t.input_schema()["type"] == "object"
    names = [s["function"]["name"] for s in openai_tool_specs()]
    assert names == sorted(names) and set(names) == set(tools)


def test_bad_input_is_a_fixable_error_naming_the_field() -> None:
    with pytest.raises(ToolInputError, match="duration_s"):
        run_tool("plan_storyline", {"materials": [], "product": {"name": "x"}, "duration_s": -1})
    with pytest.raises(ToolInputError, match="unknown tool"):
        run_tool("no_such_tool", {})


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], capture_output=True, text=True, input=stdin, timeout=120, cwd=ROOT)


def test_cli_tools_lists_every_tool_with_schemas() -> None:
    out = _cli("tools", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert {d["name"] for d in listed} == set(all_tools())
    assert all("properties" in d["input_schema"] and d["output_schema"] for d in listed)
    assert describe("parse_product")[0]["name"] == "parse_product"


def test_cli_tool_runs_one_tool(tmp_path: Path) -> None:
    facts = tmp_path / "p.txt"
    facts.write_text("name: Trail Bag\nmaterial: canvas, leather trim\n", encoding="utf-8")
    inp = tmp_path / "in.json"
    inp.write_text(json.dumps({"path": str(facts)}), encoding="utf-8")
    refused = _cli("tool", "parse_product", "--input", str(inp))  # a file outside the workspace the user did not name
    assert refused.returncode == 2 and "neither in the workspace nor one of the inputs" in refused.stderr, refused.stderr
    out = _cli("tool", "parse_product", "--input", str(inp), "--allow", str(facts))
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got == {"name": "Trail Bag", "language": "en", "aspects": [{"aspect": "material", "points": ["canvas", "leather trim"]}]}
    bad = _cli("tool", "parse_product", "--input", "-", stdin='{"pth": 1}')
    assert bad.returncode == 2 and "path" in bad.stderr and "what to do" in bad.stderr
