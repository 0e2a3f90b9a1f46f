"""Brand kits and editor exports for the UI, without gradio: a kit from the form's fields and
uploads (``tools.render.brand`` stores and checks it), the form's fields from a saved kit, and a
job's exports as files to download (``tools.render.exports``; the Jianying draft folder zipped)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agents.graph import brand_name
from tools.core.errors import ToolInputError
from tools.core.models import Timeline
from tools.core.workspace import Workspace
from tools.render.brand import BrandKit, brand_style, load_brand_kit, require_brand_kit, save_brand_kit
from tools.render.exports import write_exports, zip_draft

#: Export formats offered in the UI: (what the user reads, the format).
EXPORTS = [("OpenTimelineIO (.otio)", "otio"), ("Final Cut Pro X (.fcpxml)", "fcpxml"), ("Premiere / FCP 7 (.xml)", "fcp7xml"),
           ("剪映 Jianying draft (.zip)", "jianying")]
CORNERS = ["top-left", "top-right", "bottom-left", "bottom-right"]
_RGB = re.compile(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)")


def hex_colour(value: str | None, default: str) -> str:
    """A colour picker's value as ``#RRGGBB`` (browsers may send ``rgb(…)``/``rgba(…)``)."""
    v = (value or "").strip()
    m = _RGB.match(v)
    if m:
        return "#" + "".join(f"{max(0, min(255, round(float(x)))):02X}" for x in m.groups())
    return v or default


def _path(f: Any) -> Path | None:
    if f is None:
        return None
    return Path(f if isinstance(f, str) else getattr(f, "name", f["path"] if isinstance(f, dict) else str(f)))


def save_kit_from_form(ws: Workspace, name: str, *, corner: str = "top-right", primary: str | None = None, secondary: str | None = None,
                       font: str | None = None, end_card: bool = True, offer: str | None = None, cta: str | None = None,
                       logo: Any = None, intro: Any = None, outro: Any = None, font_file: Any = None) -> BrandKit:
    """Save the kit the form describes; files not uploaded again keep the saved kit's.

    Raises:
        ToolInputError: a bad name, colour or file (the message says which and what to do).
    """
    name = (name or "").strip()
    if not name:
        raise ToolInputError("the brand kit has no name", hint="type a name (letters, digits, '-' and '_'), e.g. acme")
    old = load_brand_kit(ws, name)
    try:
        kit = BrandKit(name=name, logo=old.logo if old else None, logo_corner=corner if corner in CORNERS else "top-right",
                       primary=hex_colour(primary, "#FFFFFF"), secondary=hex_colour(secondary, "#000000"),
                       subtitle_font=(font or "").strip() or (old.subtitle_font if old and old.subtitle_font and Path(old.subtitle_font).suffix else None),
                       intro=old.intro if old else None, outro=old.outro if old else None, end_card=bool(end_card),
                       offer=(offer or "").strip() or None, cta=(cta or "").strip() or None)
    except ValueError as e:
        err = e.errors()[0] if hasattr(e, "errors") else {"loc": ("kit",), "msg": str(e)}
        field = ".".join(str(x) for x in err["loc"])
        raise ToolInputError(f"brand kit {field}: {err['msg']}",
                             hint="name: letters, digits, '-' and '_' (at most 40); colours as #RRGGBB; offer ≤ 60 and call to action ≤ 40 characters") from e
    files = {role: p for role, p in (("logo", _path(logo)), ("intro", _path(intro)), ("outro", _path(outro)),
                                     ("subtitle_font", _path(font_file))) if p is not None}
    return save_brand_kit(ws, kit, files)


def form_of(ws: Workspace, name: str | None) -> dict[str, Any]:
    """The form's fields for the saved kit ``name`` (empty fields for none)."""
    kit = load_brand_kit(ws, name) if name and name != "none" else None
    if kit is None:
        return {"name": "", "corner": "top-right", "primary": "#FFFFFF", "secondary": "#000000", "font": "", "end_card": True,
                "offer": "", "cta": "", "logo": None}
    return {"name": kit.name, "corner": kit.logo_corner, "primary": kit.primary, "secondary": kit.secondary,
            "font": kit.subtitle_font or "", "end_card": kit.end_card, "offer": kit.offer or "", "cta": kit.cta or "",
            "logo": str(ws.abs(kit.logo)) if kit.logo and ws.abs(kit.logo).is_file() else None}


def export_job(ws: Workspace, st: Mapping[str, Any], formats: Iterable[str]) -> list[str]:
    """Write the job's editor exports into its ``exports/`` folder; the files to download (a
    Jianying draft as a zip).

    Raises:
        ToolInputError: no video yet, or no format chosen.
    """
    fmts = [f for f in formats or [] if f]
    if not st.get("timeline"):
        raise ToolInputError("there is no video to export yet", hint="approve the storyline first")
    if not fmts:
        raise ToolInputError("no export format chosen", hint="tick one or more formats, then press Export")
    tl = Timeline.model_validate(st["timeline"])
    name = brand_name(st)  # type: ignore[arg-type]  # a PlanState's values
    style = brand_style(ws, require_brand_kit(ws, name)) if name else None
    written = write_exports(tl, ws, ws.job_dir(st["job_id"]) / "exports", fmts, brand=style)
    return [str(zip_draft(p) if fmt == "jianying" else p) for fmt, p in written.items()]
