"""The batch manifest: one product per row (CSV or JSONL), expanded into one task per video.

Columns (CSV header or JSONL keys; paths are relative to the manifest's folder)::

    id          the row's name: its output folder (default: row-<n>)
    product     product facts (ProductInfo JSON or ``aspect：facts`` text)      required
    materials   folder of photos and clips                                   required
    music       background music file                                        optional
    hero        the photo that shows the product best                        optional
    brief       what the seller wants ("15 s vertical, upbeat")              optional
    duration    length in seconds; aspect (9:16, 1:1, 16:9); resolution (720, 1080)
    durations, aspects, languages
                variants: one video per combination (CSV: values separated by ``;`` or ``|``;
                JSONL: a list or such a string); a language variant asks for narration in zh or en

Shared defaults (``app.py batch --brief/--music/--duration/--aspect/--resolution``) fill empty
cells. A row that cannot be read (a missing file, a bad number) becomes one failed task with the
reason, so one bad row never stops the others; a manifest that is not CSV/JSONL at all, has
unknown columns or two rows with the same id is refused as a whole (nothing runs).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field

from agents.state import MakeRequest
from tools.core.bounds import MAX_VIDEO_S, MIN_VIDEO_S
from tools.core.errors import ToolInputError
from tools.core.models import Aspect, Language, Model

COLUMNS = ("id", "product", "materials", "music", "hero", "brief", "duration", "aspect", "resolution", "durations", "aspects",
           "languages")
#: Most videos one manifest may ask for (rows × variants): bounds the report and the planning.
MAX_TASKS = 100_000
#: How a language variant is said in the brief (the brief parser and the planner model both read it).
LANGUAGE_PHRASE: dict[str, str] = {"en": "English narration", "zh": "中文旁白"}


class Defaults(Model):
    """Values for empty cells (the batch command's flags)."""

    brief: str = ""
    music: str | None = None
    duration_s: float | None = None
    aspect: Aspect | None = None
    resolution_p: Literal[720, 1080] | None = None


class TaskHint(Model):
    """What one task needs from a worker (Ray schedules on it; the pool and in-process run ignore it)."""

    num_cpus: float = 1.0
    """Cores: the steps are single-threaded Python plus ffmpeg, which uses what it is given."""
    memory_mb: int = 1500
    """Resident memory: the loaded models (≈1 GB) plus frame buffers that grow with length and size."""


class BatchTask(Model):
    """One video of a batch: a row of the manifest in one variant."""

    row_id: str
    variant: str = "main"
    """``main`` for a row without variants, else e.g. ``15s-1x1-en``."""
    out_rel: str
    """The task's output folder, relative to the workspace (batches/<batch>/<row>[/<variant>])."""
    request: MakeRequest | None = None
    """None when the row could not be read (``problem`` says why)."""
    problem: str | None = None
    hint: str | None = None
    resources: TaskHint = Field(default_factory=TaskHint)

    @property
    def key(self) -> str:
        return self.row_id if self.variant == "main" else f"{self.row_id}/{self.variant}"

    def fingerprint(self) -> str:
        """What the video depends on: a changed row starts a new job instead of resuming the old one."""
        body = self.request.model_dump_json() if self.request else ""
        return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80]


def _listed(v: Any) -> list[str]:
    if v is None or v == "":
        return []
    if isinstance(v, list):
        return [str(x).strip() for x in v if str(x).strip()]
    return [x.strip() for x in re.split(r"[;|]", str(v)) if x.strip()]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The manifest's rows as dicts (CSV with a header, or JSONL: one object per line).

    Raises:
        ToolInputError: the file is missing, not UTF-8, not CSV/JSONL, empty, or has unknown columns.
    """
    if not path.is_file():
        raise ToolInputError(f"manifest {str(path)!r} does not exist", hint="give a .csv or .jsonl file, one product per row")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ToolInputError(f"manifest {path.name!r} is not UTF-8 text", hint="save it as UTF-8 CSV or JSONL") from e
    rows: list[dict[str, Any]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ToolInputError(f"manifest {path.name!r} line {n} is not JSON ({e.msg})",
                                     hint="write one JSON object per line, e.g. {\"product\": \"a.txt\", \"materials\": \"a/\"}") from e
            if not isinstance(obj, dict):
                raise ToolInputError(f"manifest {path.name!r} line {n} is not a JSON object", hint="one object per line")
            rows.append(obj)
    elif path.suffix.lower() in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in reader]
        if reader.fieldnames is None:
            rows = []
    else:
        raise ToolInputError(f"manifest {path.name!r} is neither .csv nor .jsonl", hint="name it rows.csv (with a header) or rows.jsonl")
    if not rows:
        raise ToolInputError(f"manifest {path.name!r} has no rows", hint=f"add a header and one row per product; columns: {', '.join(COLUMNS)}")
    unknown = sorted({k for r in rows for k in r} - set(COLUMNS))
    if unknown:
        raise ToolInputError(f"manifest {path.name!r} has unknown column(s) {', '.join(map(repr, unknown))}",
                             hint=f"the columns are: {', '.join(COLUMNS)}")
    return rows


def _path(base: Path, v: Any, column: str, want: Literal["file", "dir"]) -> str:
    p = Path(str(v)).expanduser()
    p = p if p.is_absolute() else base / p
    ok = p.is_file() if want == "file" else p.is_dir()
    if not ok:
        what = "file" if want == "file" else "folder"
        raise ToolInputError(f"{column} {what} {str(v)!r} does not exist",
                             hint=f"fix the {column} column (paths are relative to the manifest's folder)")
    return str(p.resolve())


def _number(v: Any, column: str) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ToolInputError(f"{column} {v!r} is not a number", hint="give seconds, e.g. 15") from None
    if not MIN_VIDEO_S <= x <= MAX_VIDEO_S:  # also refuses NaN and infinity
        raise ToolInputError(f"{column} {v!r} is outside {MIN_VIDEO_S:g} … {MAX_VIDEO_S:g} s",
                             hint=f"ask for a length between {MIN_VIDEO_S:g} and {MAX_VIDEO_S:g} seconds")
    return x


def _choice(v: Any, column: str, allowed: tuple[str, ...]) -> str:
    s = str(v).strip()
    if s not in allowed:
        raise ToolInputError(f"{column} {s!r} is not one of {', '.join(allowed)}", hint=f"fix the {column} column")
    return s


def _resolution(v: Any) -> Literal[720, 1080]:
    r = _choice(str(v).removesuffix("p"), "resolution", ("720", "1080"))
    return 720 if r == "720" else 1080


def hint_for(duration_s: float, resolution_p: int) -> TaskHint:
    """Resources one video needs: 1.5 GB for the process and its models, plus frame buffers and
    segment files that grow with length (≈3 MB/s at 720p, ≈7 MB/s at 1080p: measured peaks)."""
    per_s = 7 if resolution_p == 1080 else 3
    return TaskHint(num_cpus=1.0, memory_mb=int(1500 + per_s * duration_s))


def expand_row(row: dict[str, Any], n: int, base: Path, defaults: Defaults, batch_rel: str) -> list[BatchTask]:
    """The tasks of one row: one per variant, or one failed task carrying the row's problem."""
    row_id = slug(str(row.get("id") or "")) or f"row-{n}"
    out = f"{batch_rel}/{row_id}"
    try:
        product = _path(base, row.get("product") or _missing("product"), "product", "file")
        materials = _path(base, row.get("materials") or _missing("materials"), "materials", "dir")
        music = row.get("music") or defaults.music
        music = _path(base, music, "music", "file") if music else None
        hero = _path(base, row["hero"], "hero", "file") if row.get("hero") else None
        brief = str(row.get("brief") or defaults.brief or "")
        durations = [_number(x, "durations") for x in _listed(row.get("durations"))] or \
                    [_number(row["duration"], "duration") if row.get("duration") not in (None, "") else defaults.duration_s]
        aspects = [_choice(x, "aspects", get_args(Aspect)) for x in _listed(row.get("aspects"))] or \
                  [_choice(row["aspect"], "aspect", get_args(Aspect)) if row.get("aspect") else defaults.aspect]
        languages = [_choice(x, "languages", get_args(Language)) for x in _listed(row.get("languages"))] or [None]
        res = _resolution(row["resolution"]) if row.get("resolution") not in (None, "") else defaults.resolution_p
    except ToolInputError as e:
        return [BatchTask(row_id=row_id, out_rel=out, problem=e.message, hint=e.hint)]
    combos = list(itertools.product(durations, aspects, languages))
    tasks = []
    for d, a, lang in combos:
        variant = "main"
        if len(combos) > 1:
            parts = [f"{d:g}s" if len(durations) > 1 else "", a.replace(":", "x") if a and len(aspects) > 1 else "",
                     lang if lang and len(languages) > 1 else ""]
            variant = "-".join(p for p in parts if p)
        text = f"{brief} {LANGUAGE_PHRASE[lang]}".strip() if lang else brief
        req = MakeRequest(materials_dir=materials, product_path=product, music_path=music, hero_path=hero, brief=text,
                          duration_s=d, aspect=a, resolution_p=res)
        tasks.append(BatchTask(row_id=row_id, variant=variant, out_rel=out if variant == "main" else f"{out}/{variant}", request=req,
                               resources=hint_for(d or 15.0, res or 720)))
    return tasks


def _missing(column: str) -> str:
    raise ToolInputError(f"the row has no {column}", hint=f"fill the {column} column")


def load_manifest(path: str | Path, defaults: Defaults, batch_rel: str) -> list[BatchTask]:
    """Every task of the manifest at ``path``, in row order.

    Raises:
        ToolInputError: the manifest as a whole cannot be used (see :func:`read_rows`), two rows
            share an id, or it asks for more than :data:`MAX_TASKS` videos.
    """
    p = Path(path).expanduser().resolve()
    rows = read_rows(p)
    tasks = [t for n, row in enumerate(rows, 1) for t in expand_row(row, n, p.parent, defaults, batch_rel)]
    seen: dict[str, int] = {}
    for t in tasks:
        seen[t.key] = seen.get(t.key, 0) + 1
    dup = sorted(k for k, c in seen.items() if c > 1)
    if dup:
        raise ToolInputError(f"manifest {p.name!r}: rows share the id(s) {', '.join(dup[:5])}",
                             hint="give every row its own id (it names the row's output folder)")
    if len(tasks) > MAX_TASKS:
        raise ToolInputError(f"manifest {p.name!r} asks for {len(tasks)} videos (at most {MAX_TASKS})", hint="split it into several batches")
    return tasks
