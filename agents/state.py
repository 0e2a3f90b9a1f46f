"""The job request and the planner's state.

The state holds plain JSON values (model dumps) so that the SQLite checkpointer can persist it;
each key says which model it holds. Nodes read it through the typed accessors of
``agents.graph`` and return partial updates.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

from tools.core.errors import ToolInputError
from tools.core.models import Model


class MakeRequest(Model):
    """Everything a job needs from the user (the CLI's flags, the UI's uploads and brief)."""

    materials_dir: str
    """Folder of photos and clips (a user-supplied input path)."""
    product_path: str
    """Product facts: ProductInfo JSON or ``aspect：facts`` text."""
    music_path: str | None = None
    """Background music, or None for generated music."""
    hero_path: str | None = None
    """The photo that shows the product best (it opens the video and is the reference for relevance)."""
    brief: str = ""
    """The chat brief ("15 s vertical video for Double 11, stress the texture, upbeat")."""
    duration_s: float | None = None
    """Overrides the brief's duration."""
    aspect: str | None = None
    """Overrides the brief's aspect."""
    resolution_p: int | None = None
    """Overrides the brief's resolution."""
    out_path: str | None = None
    """Where to copy the finished MP4 (besides the job folder)."""


def check_out_path(req: MakeRequest, workspace: Path) -> None:
    """``--out`` must be a new or replaceable ``.mp4`` outside the workspace that is none of the
    user's inputs: checked before any work starts, so a typo never costs a render or a photo.

    Raises:
        ToolInputError: the path is a folder, not .mp4, inside the workspace or one of the inputs.
    """
    if not req.out_path:
        return
    out = Path(req.out_path).expanduser().resolve()
    if out.suffix.lower() != ".mp4":
        raise ToolInputError(f"--out {req.out_path!r} must end in .mp4", hint="name the video file, e.g. --out my-video.mp4")
    if out.is_dir():
        raise ToolInputError(f"--out {req.out_path!r} is a folder", hint="name a file inside it, e.g. --out folder/video.mp4")
    ws = workspace.resolve()
    if out == ws or ws in out.parents:
        raise ToolInputError(f"--out {req.out_path!r} is inside the workspace {ws}", hint="write the video somewhere outside the workspace")
    inputs = [Path(x).expanduser().resolve() for x in (req.product_path, req.music_path, req.hero_path) if x]
    mats = Path(req.materials_dir).expanduser().resolve()
    if out in inputs or (mats.is_dir() and mats in out.parents and out.exists()):
        raise ToolInputError(f"--out {req.out_path!r} would overwrite one of your input files", hint="choose a new file name")


def _merge(a: dict[str, str] | None, b: dict[str, str] | None) -> dict[str, str]:
    return {**(a or {}), **(b or {})}


class PlanState(TypedDict, total=False):
    """One job's state as it moves through the graph (models are stored as their JSON dumps)."""

    job_id: str
    request: dict[str, Any]        # MakeRequest
    spec: dict[str, Any]           # BriefSpec
    product: dict[str, Any]        # ProductInfo
    product_id: str
    language: str
    materials: list[dict[str, Any]]  # visual Materials chosen for this job
    hero_id: str | None            # the material the user marked as the hero
    left_out: dict[str, str]       # material id → why it is not used (near-duplicate, blurred, off-topic …)
    clip_shots: dict[str, list[list[float]]]  # material id → shots [start_s, end_s] of each clip
    music_path: str | None
    music: dict[str, Any] | None   # MusicAnalysis when available
    music_gain_db: float           # music level before ducking (chat: "calmer music")
    music_offset_s: float          # where the first bar starts in the music file (timeline 0 = a downbeat)
    storyline: dict[str, Any]      # Storyline
    auto_approve: bool
    lines: list[dict[str, Any]] | None   # NarrationLine
    speech: list[dict[str, Any]]   # SpokenLine {path, duration_s}
    timeline: dict[str, Any]       # Timeline (current version)
    artifacts: dict[str, Any]      # JobArtifacts
    backends: Annotated[dict[str, str], _merge]   # role → who did the work (job.json shows it)
    notes: Annotated[list[str], operator.add]     # user-facing progress and warnings
    steps_done: Annotated[list[str], operator.add]
