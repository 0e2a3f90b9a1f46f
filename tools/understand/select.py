"""A job's materials with their scores, in order, and which are near-duplicates.

Near-duplicate photos are marked, keeping the best copy of each group (survey §4.1.1: duplicate
removal keeping the better one; ``assess_quality``) — the hero photo, when the user marked one,
is always the copy kept. Marked copies stay in the list with their reason: the storyline leaves
them out while better material can fill the video and takes them back (before off-topic
material) when it cannot. Every photo and clip gets its cognitive property scores (survey
§4.3.2, ``score_materials``); the order is the retrieval order when the brief stresses something
(emphasised material first), otherwise most persuasive first. The scores are written back to
the product library so that later jobs and searches see them.
"""

from __future__ import annotations

from pathlib import Path

from tools.core.models import Material, Model
from tools.core.paths import WorkspaceRoot
from tools.core.registry import register


class SelectMaterialsInput(Model):
    """A job's visual materials, in retrieval order."""

    workspace: WorkspaceRoot
    """Workspace root (material paths are relative to it)."""
    product_id: str
    """Library whose stored scores are updated."""
    materials: list[Material]
    """Photos and clips of the job, in retrieval order."""
    keep_order: bool = False
    """Keep the given (retrieval) order instead of sorting by persuasiveness."""
    hero_id: str | None = None
    """The photo the user marked as the hero: the copy kept in its duplicate group."""


class SelectMaterialsOutput(Model):
    """The materials that go forward."""

    materials: list[Material]
    """All materials in order, with quality and ``cpa_*`` scores in ``quality``."""
    left_out: dict[str, str]
    """Material id → why it should be left out (a near-duplicate of a better copy)."""
    notes: list[str]
    """What the user should know."""


@register("select_materials")
def select_materials(inp: SelectMaterialsInput) -> SelectMaterialsOutput:
    """Leave out near-duplicate photos (keeping the best copy), score the rest, order them, store the scores."""
    from tools.core.workspace import Workspace
    from tools.understand.cpa import ScoreMaterialsInput, score_materials
    from tools.understand.ingest import load_library, save_library
    from tools.understand.quality import AssessQualityInput, assess_quality

    ws = Workspace(Path(inp.workspace))
    mats, notes, left_out = list(inp.materials), [], {}
    imgs = {str(ws.abs(m.path)): m for m in mats if m.kind == "image"}
    qual: dict[str, dict[str, float]] = {}
    if len(imgs) > 1:
        q = assess_quality(AssessQualityInput(paths=list(imgs)))
        qual = {imgs[x.path].id: {k: float(v) for k, v in x.metrics.model_dump().items() if isinstance(v, (int, float))}
                for x in q.images if x.path in imgs}
        for g in q.duplicates:
            group = [imgs[k] for k in (g.keep, *g.drop) if k in imgs]
            keep = next((m for m in group if m.id == inp.hero_id), imgs.get(g.keep))
            for m in group:
                if keep is not None and m.id != keep.id:
                    left_out[m.id] = f"near-duplicate of '{keep.original_name}'"
        if left_out:
            notes.append(f"{len(left_out)} near-duplicate photo(s): "
                         + ", ".join(m.original_name for m in mats if m.id in left_out))
    items = [{"id": m.id, "path": str(ws.abs(m.path)), **({"start_s": 0.0, "end_s": m.duration_s} if m.kind == "video" else {})}
             for m in mats]
    sc = {x.id: x.scores for x in score_materials(ScoreMaterialsInput.model_validate({"items": items})).items}
    order = mats if inp.keep_order else sorted(mats, key=lambda m: -sc.get(m.id, {}).get("persuasiveness", 0.0))
    scored = [m.model_copy(update={"quality": {**(m.quality or {}), **qual.get(m.id, {}),
                                               **{f"cpa_{k}": round(v, 4) for k, v in sc.get(m.id, {}).items()}}})
              for m in order]
    by_id = {m.id: m.quality for m in scored}
    with ws.product_lock(inp.product_id):
        lib = load_library(ws, inp.product_id)
        save_library(ws, inp.product_id, [m.model_copy(update={"quality": by_id.get(m.id, m.quality)}) for m in lib])
    return SelectMaterialsOutput(materials=scored, left_out=left_out, notes=notes)
