"""Path confinement at the tool boundary: the one mechanism that keeps every tool inside the workspace.

A tool's input model types each path field with one of these annotated types; pydantic checks
the value whenever the model is built (through the registry, by the planner, or directly), so
no tool can be talked into writing or reading elsewhere, whatever an LLM, a brief or a product
fact puts in its input::

    WritePath      a file or folder the tool writes: resolved (``~``, ``..``, symlinks) and inside
                   the workspace; a relative path is taken inside the workspace
    ReadPath       a file the tool reads: inside the workspace, or one of the inputs the user
                   named explicitly (the CLI's --materials / --product / --music / --hero …)
    WorkspaceRoot  a ``workspace`` field: must be the current workspace itself
    FileName       a bare file name (no folder part, no ``..``)
    ContentId      a material's content id, used as a cache file name (16 hex digits)

The current workspace is the one the planner or the CLI activated (:func:`use_workspace`), else
``Settings.workspace``. The user's explicit inputs are declared with :func:`allow_inputs` by the
CLI (from its flags), by the planner (from the job's request) and by tests (their fixtures);
nothing an agent writes into a tool input can add to them. A violation is a
:class:`~tools.core.errors.ToolInputError` (CLI exit status 2) that names the field and the path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo

from tools.core.errors import ToolInputError

_ROOT: ContextVar[Path | None] = ContextVar("adreel_workspace_root", default=None)
_INPUTS: ContextVar[tuple[Path, ...]] = ContextVar("adreel_user_inputs", default=())

#: Longest path string accepted (PATH_MAX on Linux): longer ones are refused before touching the disk.
MAX_PATH_CHARS = 4096


def _resolve(raw: str | os.PathLike[str], base: Path | None = None, what: str = "path") -> Path:
    """``raw`` made absolute (relative to ``base`` or the current folder), ``~`` expanded, ``..``
    and symlinks resolved; a clear error for strings that are no path at all."""
    s = os.fspath(raw)
    if not s or not s.strip():
        raise ToolInputError(f"{what} is empty", hint="give a file or folder path")
    if "\x00" in s or len(s) > MAX_PATH_CHARS:
        raise ToolInputError(f"{what} {s[:80]!r} is not a valid path (a NUL byte, or over {MAX_PATH_CHARS} characters)",
                             hint="give an ordinary file or folder path")
    p = Path(s).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    try:
        return p.resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop, a component that is not a folder …
        raise ToolInputError(f"{what} {s[:200]!r} cannot be resolved ({e})", hint="give an ordinary file or folder path") from e


def _within(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def workspace_root() -> Path:
    """The current workspace root (resolved): the activated one, else ``Settings.workspace``."""
    root = _ROOT.get()
    if root is not None:
        return root
    from tools.core.settings import get_settings

    return _resolve(get_settings().workspace, what="ADREEL_WORKSPACE")


def user_inputs() -> tuple[Path, ...]:
    """Files and folders outside the workspace the user named explicitly (resolved)."""
    return _INPUTS.get()


@contextmanager
def use_workspace(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Make ``root`` the current workspace for the tools called inside the block."""
    token = _ROOT.set(_resolve(root, what="workspace"))
    try:
        yield _ROOT.get()  # type: ignore[misc]  # set just above
    finally:
        _ROOT.reset(token)


@contextmanager
def allow_inputs(*paths: str | os.PathLike[str] | None, replace: bool = False) -> Iterator[tuple[Path, ...]]:
    """Let tools read ``paths`` (files, or folders and everything inside them) inside the block:
    the inputs the user named. ``replace`` drops the ones allowed by enclosing blocks."""
    new = tuple(_resolve(p, what="input") for p in paths if p)
    token = _INPUTS.set(new if replace else _INPUTS.get() + new)
    try:
        yield _INPUTS.get()
    finally:
        _INPUTS.reset(token)


def _field(info: ValidationInfo | None) -> str:
    return f"field {info.field_name!r}" if info is not None and info.field_name else "path"


def confine_write(path: str | os.PathLike[str], info: ValidationInfo | None = None) -> str:
    """``path`` resolved inside the workspace (a relative path is taken inside it), as a string.

    Raises:
        ToolInputError: the path leaves the workspace (``..``, an absolute path, a symlink).
    """
    root = workspace_root()
    p = _resolve(path, base=root, what=_field(info))
    if not _within(p, root):
        raise ToolInputError(f"{_field(info)}: {os.fspath(path)[:200]!r} is outside the workspace {root}",
                             hint="tools write only inside the workspace; give a folder inside it (or a relative one)")
    return str(p)


def confine_read(path: str | os.PathLike[str], info: ValidationInfo | None = None) -> str:
    """``path`` (``~`` expanded; its name kept, so a linked file keeps its extension) when what it
    resolves to is inside the workspace or one of the user's named inputs.

    Raises:
        ToolInputError: anything else (a path made up by an agent, ``/etc/passwd``, ``../..``).
    """
    p = _resolve(path, what=_field(info))
    if _within(p, workspace_root()) or any(_within(p, q) for q in user_inputs()):
        return str(Path(os.fspath(path)).expanduser())
    raise ToolInputError(f"{_field(info)}: {os.fspath(path)[:200]!r} is neither in the workspace nor one of the inputs you named",
                         hint="tools read only the workspace and the files given on the command line (--materials, --product, "
                              "--music, --hero, or `tool --allow PATH`)")


def check_root(path: str | os.PathLike[str], info: ValidationInfo | None = None) -> str:
    """``path`` when it is the current workspace itself (a tool's ``workspace`` field)."""
    root = workspace_root()
    p = _resolve(path, what=_field(info))
    if p != root:
        raise ToolInputError(f"{_field(info)}: {os.fspath(path)[:200]!r} is not the current workspace {root}",
                             hint="leave the workspace as the planner set it (ADREEL_WORKSPACE)")
    return str(p)


def check_file_name(name: str, info: ValidationInfo | None = None) -> str:
    """``name`` when it is a bare file name: no folder part, not ``.``/``..``, no control characters."""
    if (not name or name in (".", "..") or "/" in name or "\\" in name or len(name) > 255
            or any(ord(c) < 32 or c == "\x7f" for c in name)):
        raise ToolInputError(f"{_field(info)}: {name[:80]!r} is not a bare file name",
                             hint="give a name like thumb.gif, without folders or '..'")
    return name


def check_export(path: str | os.PathLike[str], suffix: str | None, *, flag: str = "--out", workspace: str | os.PathLike[str] | None = None,
                 inputs: Iterable[str | os.PathLike[str]] | None = None) -> Path:
    """A command's output file outside the workspace (``--out``), checked before any work: a new or
    replaceable regular file with ``suffix`` that is neither in the workspace nor one of the user's
    inputs (nor inside an input folder, when it exists), in a folder that can be written.

    Raises:
        ToolInputError: what is wrong with it, and what to do.
    """
    raw = os.fspath(path)
    if not raw.strip() or "\x00" in raw or len(raw) > MAX_PATH_CHARS:
        raise ToolInputError(f"{flag} {raw[:80]!r} is not a file name", hint=f"name the file, e.g. {flag} result{suffix or ''}")
    out = _resolve(raw, what=flag)
    if suffix is not None and out.suffix.lower() != suffix:
        raise ToolInputError(f"{flag} {raw!r} must end in {suffix}", hint=f"name the file, e.g. {flag} result{suffix}")
    if out.is_dir():
        raise ToolInputError(f"{flag} {raw!r} is a folder", hint=f"name a file inside it, e.g. {flag} folder/result{suffix or ''}")
    if out.exists() and not out.is_file():
        raise ToolInputError(f"{flag} {raw!r} is not a regular file (a device or a pipe)", hint="name a new file")
    ws = _resolve(workspace, what="workspace") if workspace is not None else workspace_root()
    if _within(out, ws):
        raise ToolInputError(f"{flag} {raw!r} is inside the workspace {ws}", hint="write it somewhere outside the workspace")
    named = [_resolve(x, what="input") for x in inputs] if inputs is not None else list(user_inputs())
    if any(out == q or (q.is_dir() and q in out.parents and out.exists()) for q in named):
        raise ToolInputError(f"{flag} {raw!r} would overwrite one of your input files", hint="choose a new file name")
    parent = next((q for q in out.parents if q.exists()), Path("/"))
    if not parent.is_dir() or not _can_create_in(parent) or (out.exists() and not os.access(out, os.W_OK)):
        raise ToolInputError(f"{flag} {raw!r} cannot be written (a file cannot be created in {parent})",
                             hint="choose a folder you can write to")
    return out


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried, then removed: permission bits say
    nothing for root, read-only mounts or /proc)."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".adreel-write-check-")
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return True


def export(src: str | os.PathLike[str], dst: Path) -> Path:
    """Copy a file of the workspace to an output the user named (checked with :func:`check_export`),
    atomically: a failure leaves no half-written file behind."""
    import shutil
    import tempfile

    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dst


def scratch_dir(kind: str) -> Path:
    """A fresh folder inside the workspace for a one-off command's files (``runs/<kind>-<random>``)."""
    import secrets

    d = workspace_root() / "runs" / f"{kind}-{secrets.token_hex(4)}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def inside(path: str | os.PathLike[str], folders: Iterable[Path]) -> bool:
    """Whether ``path`` (resolved) lies inside one of ``folders`` (resolved)."""
    p = _resolve(path)
    return any(_within(p, f) for f in folders)


def _write(v: str, info: ValidationInfo) -> str:
    return confine_write(v, info)


def _read(v: str, info: ValidationInfo) -> str:
    return confine_read(v, info)


def _root(v: str, info: ValidationInfo) -> str:
    return check_root(v, info)


def _name(v: str, info: ValidationInfo) -> str:
    return check_file_name(v, info)


#: A material's content id (16 hex digits): safe as a cache file name (no folder part, no ``..``).
ContentId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
WritePath = Annotated[str, AfterValidator(_write)]
ReadPath = Annotated[str, AfterValidator(_read)]
WorkspaceRoot = Annotated[str, AfterValidator(_root)]
FileName = Annotated[str, AfterValidator(_name)]
#: The validator behind each confinement type, by kind (tests find every typed field through it).
PATH_VALIDATORS: dict[str, object] = {"write": _write, "read": _read, "root": _root, "file_name": _name}
