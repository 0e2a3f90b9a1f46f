"""The planner's state: plain JSON-able values so the SQLite checkpointer can persist it."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class PlanState(TypedDict, total=False):
    """One job's state as it moves through the graph (models are stored as their JSON dumps)."""

    job_id: str
    request: dict[str, Any]        # MakeRequest
    spec: dict[str, Any]           # BriefSpec
    product: dict[str, Any]        # ProductInfo
    product_id: str
    language: str
    materials: list[dict[str, Any]]  # visual Materials chosen for this job
    clip_shots: dict[str, list[list[float]]]  # material id → shots [start_s, end_s] of each clip
    music_path: str | None
    music: dict[str, Any] | None   # MusicAnalysis when available
    music_gain_db: float           # music level before ducking (chat: "calmer music")
    music_offset_s: float          # where the first bar starts in the music file (timeline 0 = a downbeat)
    storyline: dict[str, Any]      # Storyline
    auto_approve: bool
    lines: list[dict[str, Any]]    # NarrationLine
    speech: list[dict[str, Any]]   # {path, duration_s}
    timeline: dict[str, Any]       # Timeline (current version)
    artifacts: dict[str, Any]      # JobArtifacts
    notes: Annotated[list[str], operator.add]     # user-facing progress and warnings
    steps_done: Annotated[list[str], operator.add]
