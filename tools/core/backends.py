"""Backends: which implementation plays each role, and the one fallback rule.

Every heavy role (narrator, speech engine, brief parser, image/text encoder) has an embedded
default that always exists offline and optional served or GPU backends chosen by settings
(PySceneDetect's ``backends/`` with a fallback that is always there). The table
:data:`BACKENDS` names them; ``agents.deps.build_deps`` picks one per role, once per process.

The fallback rule, in one place (:func:`with_fallback`): when the chosen backend raises
:class:`~tools.core.errors.BackendUnavailable` (a server down, a package or file missing, a
request refused), the embedded default does the work and the caller gets a note that says
which backend failed, why, and who did the work instead. Any other error is not a reason to
fall back: it propagates (a bad input stays the caller's to fix).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tools.core.errors import BackendUnavailable, ToolInputError

T = TypeVar("T")

#: role → backend name → how a user reads it (the first name of each role is its embedded default).
BACKENDS: dict[str, dict[str, str]] = {
    "narrator": {"embedded": "the embedded narrator", "vllm": "the served narrator (vLLM)"},
    "speech": {"espeak": "espeak-ng", "piper": "the neural voice (Piper/VITS)", "openai": "the speech endpoint"},
    "planner": {"rules": "the rule-based planner", "llm": "the planner model"},
    "encoder": {"classic": "the classic encoder", "open_clip": "the open_clip encoder", "chinese_clip": "the Chinese-CLIP encoder"},
}


def default_backend(role: str) -> str:
    """The embedded default of ``role`` (always available offline)."""
    return next(iter(_role(role)))


def describe_backend(role: str, name: str) -> str:
    """How the user reads backend ``name`` of ``role`` in notes and warnings."""
    return _role(role).get(name, name)


def check_backend(role: str, name: str) -> str:
    """``name`` if it is a backend of ``role``; a clear error naming the choices otherwise."""
    if name not in _role(role):
        raise ToolInputError(f"unknown {role} backend {name!r}", hint=f"choose one of: {', '.join(_role(role))}")
    return name


def fallback_note(role: str, chosen: str, error: BackendUnavailable) -> str:
    """The one wording of a fallback: which backend failed, why, and who did the work."""
    return (f"{describe_backend(role, chosen)} failed ({error.message}); "
            f"{describe_backend(role, default_backend(role))} was used instead")


def with_fallback(role: str, chosen: str, run_chosen: Callable[[], T], run_default: Callable[[], T]) -> tuple[T, str | None]:
    """Run the chosen backend of ``role``; on BackendUnavailable run the embedded default.

    Returns ``(result, note)`` where ``note`` is None unless the default stood in.
    """
    if chosen == default_backend(role):
        return run_default(), None
    try:
        return run_chosen(), None
    except BackendUnavailable as e:
        return run_default(), fallback_note(role, chosen, e)


def _role(role: str) -> dict[str, str]:
    try:
        return BACKENDS[role]
    except KeyError:
        raise ToolInputError(f"unknown backend role {role!r}", hint=f"roles: {', '.join(BACKENDS)}") from None
