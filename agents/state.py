"""The job request and the planner's state.

The state holds plain JSON values (model dumps) so that the SQLite checkpointer can persist it;
each key says which model it holds. Nodes read it through the typed accessors of
``agents.graph`` and return partial updates.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

from pydantic import Field

from tools.core.models import Model
from tools.core.paths import check_export


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
    brand: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
    """Brand kit applied to the video (``workspace/brand/<name>/``: logo, colours, font, intro/outro, end card)."""

    def inputs(self) -> list[str]:
        """The paths the user named: the only files outside the workspace a job's tools may read."""
        return [p for p in (self.materials_dir, self.product_path, self.music_path, self.hero_path) if p]


def check_out_path(req: MakeRequest, workspace: Path) -> None:
    """``--out`` must be a new or replaceable ``.mp4`` outside the workspace that is none of the
    user's inputs, in a folder that can be written: checked before any work starts, so a typo
    never costs a render or a photo.

    Raises:
        ToolInputError: the path is a folder, not .mp4, inside the workspace, one of the inputs, not writable.
    """
    if req.out_path:
        check_export(req.out_path, ".mp4", workspace=workspace, inputs=req.inputs())


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
    brand: str | None              # brand kit name (chat edits change it; starts as the request's)
    end_card: dict[str, str | None]  # this job's end-card words {"offer", "cta"} over the kit's and the facts'
    artifacts: dict[str, Any]      # JobArtifacts
    backends: Annotated[dict[str, str], _merge]   # role → who did the work (job.json shows it)
    notes: Annotated[list[str], operator.add]     # user-facing progress and warnings
    steps_done: Annotated[list[str], operator.add]
