"""The fuzz suite's checks: the guarded sandbox of one test (:class:`Guard`), the tally, the in-process CLI."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _hostile import CANARY, SECRET

ROOT = Path(__file__).resolve().parents[2]
#: Peak resident memory allowed to any case (the pytest process holds torch, onnxruntime and the
#: models of the other tools already; the worst cases add little to it).
MEM_BOUND_BYTES = 3 * 1024**3

STATS: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter({"traceback": 0})
CHECKS: Counter[str] = Counter({"sandboxes checked": 0, "writes outside": 0, "inputs changed or deleted": 0, "secret read": 0})
PEAK: dict[str, Any] = {"bytes": 0, "case": ""}


def _vm_hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_hwm() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


@dataclass
class Guard:
    """The sandbox of one fuzz test and its checks."""

    ws: Path
    outside: Path
    inputs: Path
    tmp: Path
    category: str = "?"
    seen_secret: list[str] = field(default_factory=list)
    _before: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    _top: set[str] = field(default_factory=set)

    # ---- what the tools may and may not touch
    def snapshot(self) -> None:
        self._before = self._listing()
        self._top = set(os.listdir(self.ws.parent))

    def _listing(self) -> dict[str, tuple[int, int, str]]:
        out = {}
        for dirpath, dirs, files in os.walk(self.tmp):
            for name in files + [x for x in dirs if Path(dirpath, x).is_symlink()]:
                p = Path(dirpath, name)
                try:
                    st_ = p.lstat()
                except OSError:
                    continue
                digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else ""
                out[str(p)] = (st_.st_size, st_.st_mtime_ns, digest)
        return out

    def check_outside(self) -> None:
        """Nothing written outside the workspace, the user's inputs unchanged."""
        after = self._listing()
        new = sorted(set(after) - set(self._before))
        changed = sorted(k for k in self._before if k in after and after[k] != self._before[k])
        gone = sorted(set(self._before) - set(after))
        CHECKS["sandboxes checked"] += 1
        CHECKS["writes outside"] += len(new)
        CHECKS["inputs changed or deleted"] += len(changed) + len(gone)
        CHECKS["secret read"] += len(self.seen_secret)
        assert not new and not changed and not gone, f"outside the workspace: new {new[:5]}, changed {changed[:5]}, deleted {gone[:5]}"
        top = set(os.listdir(self.ws.parent)) - self._top
        # the only new neighbours of the workspace are pytest's own folders for later fixtures
        assert not [t for t in top if CANARY in t], f"written beside the workspace: {sorted(top)}"
        hits = []
        for root in {Path("/"), Path("/tmp"), Path.home(), ROOT, Path.cwd(), self.ws.parent, self.outside, self.tmp, Path(tempfile.gettempdir())}:
            with contextlib.suppress(OSError):
                hits += [str(root / n) for n in os.listdir(root) if CANARY in n]
        CHECKS["writes outside"] += len(hits)
        assert not hits, f"canary files outside the workspace: {hits}"
        assert not self.seen_secret, f"the secret outside the workspace was read: {self.seen_secret[:3]}"

    def look(self, text: str, case: str) -> None:
        """Remember when an output or a message carries the secret (it must never be read)."""
        if SECRET in text:
            self.seen_secret.append(case)

    # ---- one case
    def case(self, category: str, label: str, fn: Callable[[], Any]) -> tuple[str, Any]:
        """Run one hostile case: ("ok", output) or ("error", AdReelError); anything else fails the test."""
        from tools.core.errors import AdReelError

        STATS[category] += 1
        _reset_hwm()
        try:
            out = fn()
        except AdReelError as e:
            assert e.message.strip(), f"{label}: an error without a message"
            self.look(str(e), label)
            OUTCOMES["clear error"] += 1
            res: tuple[str, Any] = ("error", e)
        except Exception as e:
            OUTCOMES["traceback"] += 1
            raise AssertionError(f"{category} / {label}: {type(e).__name__}: {str(e)[:300]}") from e
        else:
            cli_failed = isinstance(out, tuple) and len(out) == 3 and isinstance(out[0], int) and out[0] != 0
            OUTCOMES["clear error" if cli_failed else "correct output"] += 1
            self.look(repr(out)[:200_000], label)
            res = ("ok", out)
        peak = _vm_hwm()
        if peak > PEAK["bytes"]:
            PEAK.update(bytes=peak, case=f"{category} / {label[:80]}")
        assert peak < MEM_BOUND_BYTES, f"{label}: peak memory {peak / 2**30:.2f} GiB"
        return res


def run_cli(argv: list[str], env: dict[str, str] | None = None, stdin: str = "") -> tuple[int, str, str]:
    """``app.main(argv)`` in this process (fast: no interpreter start), its exit status and output;
    the environment and temp folder it changes are restored afterwards."""
    import app

    saved_env, saved_tmp, saved_in = dict(os.environ), tempfile.tempdir, sys.stdin
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.update(env or {})
        sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = app.main(argv)
            except SystemExit as e:  # argparse: usage error, exit 2 with a message
                rc = int(e.code or 0)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        tempfile.tempdir = saved_tmp
        sys.stdin = saved_in
    return rc, out.getvalue(), err.getvalue()
