"""The house's rules, checked on the code itself (ast, nothing imported): no import cycles, no
layer importing a higher one, no private name taken from another module, every tool module
listed once in the registry.

Layers, lowest first: ``tools.core`` < ``tools.understand`` < ``tools.story`` < ``tools.narrate``
< ``tools.render`` < ``tools.explain``; above the tools: ``prompts`` (data, reads tools.core),
``serving`` (model servers' clients), ``agents`` (the planner), ``ui``, ``app``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tools", "agents", "serving", "ui", "prompts")
TOOL_STAGES = ("core", "understand", "story", "narrate", "render", "explain")
#: Which top-level parts each part may import (besides itself and third-party packages).
MAY_IMPORT = {
    "tools": {"tools", "prompts"},
    "prompts": {"tools"},
    "serving": {"tools", "prompts", "serving"},
    "agents": {"tools", "prompts", "serving", "agents"},
    "ui": {"tools", "agents", "ui"},
    "app": {"tools", "agents", "serving", "ui", "prompts"},
}
#: Third-party packages that belong to the layers above the tools only.
NOT_IN_TOOLS = ("langgraph", "gradio", "agents", "ui", "serving", "app")


def _modules() -> dict[str, Path]:
    mods = {"app": ROOT / "app.py"}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = p
    return mods


MODULES = _modules()


def _imports(mod: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in the file, lazy ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [a.name for a in node.names]
            # `from tools.core import models` imports the module tools.core.models
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            out += [(s, [], node.lineno) for s in subs] or [(base, names, node.lineno)]
    return out


def _own(name: str) -> str | None:
    """The project module ``name`` refers to (longest known prefix), or None for third-party."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in MODULES:
            return cand
    return None


GRAPH = {m: {o for name, _, _ in _imports(m, p) if (o := _own(name)) and o != m} for m, p in MODULES.items()}


def _part(mod: str) -> str:
    return mod.split(".")[0]


def _stage(mod: str) -> int | None:
    parts = mod.split(".")
    if parts[0] == "tools" and len(parts) > 1 and parts[1] in TOOL_STAGES:
        return TOOL_STAGES.index(parts[1])
    return None


def test_the_project_has_its_parts() -> None:
    for stage in TOOL_STAGES:
        init = ROOT / "tools" / stage / "__init__.py"
        assert init.is_file(), f"tools/{stage}/ is not a package"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.split()) >= 25 and "import" in doc, f"tools/{stage}/__init__.py must say what it owns and what it may import"
    flat = [p.name for p in (ROOT / "tools").glob("*.py") if p.name != "__init__.py"]
    assert not flat, f"tool modules belong in a stage package, not flat in tools/: {flat}"


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over every import (lazy ones too)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_part_imports_a_higher_one() -> None:
    bad = []
    for m, deps in GRAPH.items():
        for d in deps:
            if _part(d) != _part(m) and _part(d) not in MAY_IMPORT[_part(m)]:
                bad.append(f"{m} -> {d}")
            sm, sd = _stage(m), _stage(d)
            if sm is not None and sd is not None and sd > sm:
                bad.append(f"{m} -> {d} (tools.{TOOL_STAGES[sd]} is above tools.{TOOL_STAGES[sm]})")
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(bad))


def test_tools_import_no_agent_ui_or_framework() -> None:
    bad = [f"{m} imports {name} (line {ln})" for m, p in MODULES.items() if _part(m) == "tools"
           for name, _, ln in _imports(m, p) if name.split(".")[0] in NOT_IN_TOOLS]
    assert not bad, "\n".join(bad)


def test_no_private_name_of_another_module() -> None:
    bad = [f"{m} takes {n} from {name} (line {ln})" for m, p in MODULES.items() for name, names, ln in _imports(m, p)
           if _own(name) and _own(name) != m for n in names if n.startswith("_") and n != "__future__"]
    assert not bad, "\n".join(bad)


def test_every_tool_module_is_listed_once() -> None:
    from tools.core.registry import TOOL_MODULES

    registering = {m for m, p in MODULES.items() if "@register(" in p.read_text(encoding="utf-8") and m != "tools.core.registry"}
    assert len(TOOL_MODULES) == len(set(TOOL_MODULES))
    assert set(TOOL_MODULES) == registering, f"listed but not registering: {set(TOOL_MODULES) - registering}; " \
                                             f"registering but not listed: {registering - set(TOOL_MODULES)}"


@pytest.mark.parametrize("bad_edge", [("tools.core.models", "agents.graph"), ("tools.core.models", "tools.render.engine")])
def test_the_checks_can_fail(bad_edge: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The layering check is not vacuous: an upward import is reported."""
    monkeypatch.setitem(GRAPH, bad_edge[0], GRAPH[bad_edge[0]] | {bad_edge[1]})
    with pytest.raises(AssertionError):
        test_no_part_imports_a_higher_one()
