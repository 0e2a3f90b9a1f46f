"""OpenTimelineIO export of a Timeline, so editing applications (DaVinci Resolve, Premiere via
adapters, OpenRV, Kdenlive's OTIO import) can open AdReel's edit.

Mapping (at the timeline's frame rate, all times in whole frames):

* video track "V1": one Clip per VideoClip with an ExternalReference to the source file and
  ``source_range`` = (in point, length); stills get an available range as long as the timeline
  and the metadata ``adreel.motion``. A crossfade/slide into shot k becomes an OTIO Transition
  (SMPTE_Dissolve, or Custom "slide") *before* shot k with ``in_offset`` = the overlap and
  ``out_offset`` = 0: AdReel's transitions end on the cut frame (see tools.render.engine), the
  incoming clip uses a pre-roll handle of that length.
* audio track "A1 voice": one Clip per voice line, Gaps between them.
* audio track "A2 music": the music clip, with gain and ducking in metadata.
* subtitles: markers on the video track named by the cue text (editors show them as notes);
  the SRT beside the MP4 is the portable subtitle file.

:func:`write_exports` writes the editable exports a seller takes to an editor, each with clips,
stills (with their motion where the format has a place for it), voice-over, music and subtitles
on separate tracks, all times in whole frames of the timeline's rate:

* ``otio``: the OTIO JSON above.
* ``fcpxml`` (Final Cut Pro X, through ``otio-fcpx-xml-adapter``): the same timeline; that adapter
  writes neither transitions (they become cuts) nor text, so subtitles stay markers.
* ``fcp7xml`` (Premiere Pro / Final Cut 7 XML, through ``otio-fcp-adapter``): plus a track
  ``T1 subtitles`` of Text generators (one per cue) and each still's Ken Burns move as a Basic
  Motion filter with scale/centre keyframes.
* ``jianying``: a Jianying (剪映) / CapCut draft folder written with pyJianYingDraft in the
  plaintext ``draft_content.json`` format Jianying up to 5.9 reads (later versions and CapCut
  open such drafts too): main video track, a logo track when the video has a brand kit, voice and
  music audio tracks, a text track of subtitles; stills move with scale/position keyframes,
  crossfades become 叠化 transitions. The media are linked into the draft's ``media/`` folder so
  the zipped draft (:func:`zip_draft`) carries them (relink to that folder after unzipping).
* ``srt`` and ``json``: the subtitles and the timeline JSON.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

from tools.core.errors import BackendUnavailable, ToolInputError
from tools.core.models import Timeline
from tools.core.workspace import Workspace


def _otio():  # type: ignore[no-untyped-def]
    try:
        import opentimelineio as otio
    except ImportError as e:  # pragma: no cover - listed in requirements
        raise BackendUnavailable("opentimelineio is not installed", hint="pip install opentimelineio") from e
    return otio


def to_otio(tl: Timeline, ws: Workspace, transition_frames: dict[int, int] | None = None, *, editor: str | None = None):  # type: ignore[no-untyped-def]
    """Build an ``otio.schema.Timeline`` for ``tl``; ``transition_frames[k]`` = overlap into shot k (frames).

    ``editor="fcp7"`` adds what FCP 7 XML can carry besides (a Text-generator subtitle track, Basic
    Motion keyframes on stills); ``editor="fcpx"`` leaves out transitions, which its adapter cannot write.
    """
    otio = _otio()
    fps = float(tl.render.fps)
    tf = transition_frames or {}

    def rt(frames: int) -> object:
        return otio.opentime.RationalTime(frames, fps)

    def tr(start_f: int, dur_f: int) -> object:
        return otio.opentime.TimeRange(rt(start_f), rt(dur_f))

    def path_of(p: str) -> str:
        q = Path(p)
        return str(q if q.is_absolute() else ws.abs(p))

    total = round(tl.duration_s * fps)
    out = otio.schema.Timeline(name=f"{tl.job_id} v{tl.version}")
    out.global_start_time = rt(0)
    out.metadata["adreel"] = {"job_id": tl.job_id, "version": tl.version, "aspect": tl.render.aspect,
                              "width_px": tl.render.width_px, "height_px": tl.render.height_px, "language": tl.language}
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    starts = [round(c.start_s * fps) for c in tl.video] + [total]
    for k, c in enumerate(tl.video):
        n = starts[k + 1] - starts[k]
        pre = tf.get(k, 0)
        if k > 0 and c.transition_in != "cut" and pre > 0 and editor != "fcpx":
            kind = otio.schema.TransitionTypes.SMPTE_Dissolve if c.transition_in == "crossfade" else otio.schema.TransitionTypes.Custom
            v1.append(otio.schema.Transition(name=c.transition_in, transition_type=kind, in_offset=rt(pre), out_offset=rt(0),
                                             metadata={"adreel": {"type": c.transition_in, "ends_on_cut": True}}))
        in_f = round(c.in_s * fps)
        if editor == "fcpx" and pre > 0:  # no transition: the pre-roll is not shown
            pre = 0
        avail = tr(0, max(total, in_f + n) + pre) if c.is_still else (tr(0, in_f + n) if editor else None)
        ref = otio.schema.ExternalReference(target_url=path_of(c.source_path), available_range=avail)
        md: dict = {"adreel": {"material_id": c.material_id, "is_still": c.is_still, "motion": c.motion, "beat_index": c.beat_index}}
        if editor == "fcp7" and c.is_still and c.motion != "none":
            md["fcp_xml"] = {"filter": {"effect": _fcp7_motion(c.motion, in_f + pre, n)}}
        v1.append(otio.schema.Clip(name=f"beat {c.beat_index}: {Path(c.source_path).name}", media_reference=ref,
                                   source_range=tr(in_f + (pre if c.is_still else 0), n), metadata=md))
    clips = [i for i in v1 if isinstance(i, otio.schema.Clip)]
    for cue in tl.subtitles:
        s = round(cue.start_s * fps)
        mk = otio.schema.Marker(name=cue.text, marked_range=tr(s, max(1, round(cue.end_s * fps) - s)), metadata={"adreel": {"kind": "subtitle"}})
        if editor == "fcpx":  # FCP X keeps markers on clips only, in the clip's source time
            k = max(0, min(len(clips) - 1, next((j for j in range(len(clips)) if starts[j + 1] > s), len(clips) - 1)))
            mk.marked_range = tr(clips[k].source_range.start_time.to_frames() + s - starts[k], mk.marked_range.duration.to_frames())
            clips[k].markers.append(mk)
        else:
            v1.markers.append(mk)
    out.tracks.append(v1)
    if editor == "fcp7" and tl.subtitles:  # one Text generator per cue on its own track
        t1 = otio.schema.Track(name="T1 subtitles", kind=otio.schema.TrackKind.Video)
        t = 0
        for cue in tl.subtitles:
            s, e = round(cue.start_s * fps), round(cue.end_s * fps)
            s = max(s, t)
            if e <= s:
                continue
            if s > t:
                t1.append(otio.schema.Gap(source_range=tr(0, s - t)))
            gen = otio.schema.GeneratorReference(name="Text", generator_kind="Text", available_range=tr(0, e - s),
                                                 metadata={"fcp_xml": {"effectcategory": "Text", "effecttype": "generator",
                                                                       "mediatype": "video",
                                                                       "parameter": {"parameterid": "str", "name": "Text",
                                                                                     "value": cue.text}}})
            t1.append(otio.schema.Clip(name=cue.text.replace("\n", " "), media_reference=gen, source_range=tr(0, e - s)))
            t = e
        out.tracks.append(t1)

    a1 = otio.schema.Track(name="A1 voice", kind=otio.schema.TrackKind.Audio)
    t = 0
    for vc in sorted(tl.voice, key=lambda v: v.start_s):
        s, d = round(vc.start_s * fps), max(1, round(vc.duration_s * fps))
        if s > t:
            a1.append(otio.schema.Gap(source_range=tr(0, s - t)))
        elif s < t:  # overlapping lines: trim the start into the previous line's end
            d -= t - s
            s = t
        if d <= 0:
            continue
        a1.append(otio.schema.Clip(name=f"voice beat {vc.beat_index}", source_range=tr(0, d),
                                   media_reference=otio.schema.ExternalReference(target_url=path_of(vc.audio_path),
                                                                                 available_range=tr(0, d) if editor else None)))
        t = s + d
    out.tracks.append(a1)
    if tl.music:
        a2 = otio.schema.Track(name="A2 music", kind=otio.schema.TrackKind.Audio)
        for m in tl.music:
            s = round(m.start_s * fps)
            if s > 0:
                a2.append(otio.schema.Gap(source_range=tr(0, s)))
            m_in, m_n = round(m.offset_s * fps), round(m.duration_s * fps)
            a2.append(otio.schema.Clip(name=Path(m.path).name, source_range=tr(m_in, m_n),
                                       media_reference=otio.schema.ExternalReference(target_url=path_of(m.path),
                                                                                     available_range=tr(0, m_in + m_n) if editor else None),
                                       metadata={"adreel": {"gain_db": m.gain_db, "duck": m.duck, "looped_if_short": True}}))
        out.tracks.append(a2)
    return out


def write_otio(tl: Timeline, ws: Workspace, path: Path, transition_frames: dict[int, int] | None = None) -> Path:
    """Write ``tl`` as an .otio JSON file at ``path``."""
    otio = _otio()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.otio")
    otio.adapters.write_to_file(to_otio(tl, ws, transition_frames), str(tmp))
    tmp.replace(path)
    return path


#: Formats of :func:`write_exports`.
EXPORT_FORMATS = ("otio", "fcpxml", "fcp7xml", "jianying", "srt", "json")
#: Crossfade/slide length the renderer uses by default (``RenderInput.transition_s``).
DEFAULT_TRANSITION_S = 0.4


def transition_frames_for(tl: Timeline, transition_s: float = DEFAULT_TRANSITION_S) -> dict[int, int]:
    """Overlap (frames) of the transition into each shot, by the renderer's rule (tools.render.engine):
    ``transition_s × fps``, at most the previous shot's length − 1; 0 for a cut."""
    fps = tl.render.fps
    starts = [round(c.start_s * fps) for c in tl.video] + [round(tl.duration_s * fps)]
    out: dict[int, int] = {}
    for k, c in enumerate(tl.video):
        if k > 0 and c.transition_in != "cut":
            out[k] = max(0, min(round(transition_s * fps), starts[k] - starts[k - 1] - 1))
    return out


def _fcp7_motion(motion: str, in_f: int, n: int) -> dict:
    """FCP 7 Basic Motion filter with keyframes (source frames) for a still's Ken Burns move."""
    hr = 15.0  # percent of headroom, as the renderer's MOTION_HEADROOM
    a, b = in_f, in_f + max(1, n - 1)
    scale = {"zoom_in": (100.0, 100.0 + hr), "zoom_out": (100.0 + hr, 100.0)}.get(motion, (100.0 + hr, 100.0 + hr))
    d = hr / 200  # the centre may move half the headroom either way (share of the frame)
    cx = {"pan_left": (d, -d), "pan_right": (-d, d)}.get(motion, (0.0, 0.0))
    cy = {"pan_up": (d, -d), "pan_down": (-d, d)}.get(motion, (0.0, 0.0))
    return {"name": "Basic Motion", "effectid": "basic", "effectcategory": "motion", "effecttype": "motion", "mediatype": "video",
            "parameter": [
                {"parameterid": "scale", "name": "Scale", "valuemin": "0", "valuemax": "1000", "value": f"{scale[0]:g}",
                 "keyframe": [{"when": str(a), "value": f"{scale[0]:g}"}, {"when": str(b), "value": f"{scale[1]:g}"}]},
                {"parameterid": "center", "name": "Center", "value": {"horiz": f"{cx[0]:g}", "vert": f"{cy[0]:g}"},
                 "keyframe": [{"when": str(a), "value": {"horiz": f"{cx[0]:g}", "vert": f"{cy[0]:g}"}},
                              {"when": str(b), "value": {"horiz": f"{cx[1]:g}", "vert": f"{cy[1]:g}"}}]}]}


def _write_adapter(tl: Timeline, ws: Workspace, path: Path, adapter: str, editor: str, tf: dict[int, int]) -> Path:
    otio = _otio()
    if adapter not in otio.adapters.available_adapter_names():
        pkg = {"fcpx_xml": "otio-fcpx-xml-adapter", "fcp_xml": "otio-fcp-adapter"}[adapter]
        raise BackendUnavailable(f"the OpenTimelineIO adapter {adapter!r} is not installed", hint=f"pip install {pkg}")
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    otio.adapters.write_to_file(to_otio(tl, ws, tf, editor=editor), str(tmp), adapter_name=adapter)
    tmp.replace(path)
    return path


def _link_media(src: Path, media: Path, k: int) -> Path:
    """``src`` inside the draft's media folder (a hard link where the disk allows, else a copy)."""
    dst = media / f"{k:03d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', src.name)[-80:]}"
    if not dst.exists():
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
    return dst


def _unit_rgb(hex_colour: str) -> tuple[float, float, float]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255


def write_jianying(tl: Timeline, ws: Workspace, out_dir: Path, tf: dict[int, int] | None = None, brand: object | None = None) -> Path:
    """A Jianying/CapCut draft folder ``out_dir/<name>/`` (draft_content.json, draft_meta_info.json,
    media/) for ``tl``; ``brand`` (a ``tools.render.brand.BrandStyle``) adds the logo track and
    the subtitle colours. Returns the draft folder."""
    try:
        import pyJianYingDraft as jy
    except ImportError as e:  # pragma: no cover - listed in requirements
        raise BackendUnavailable("pyJianYingDraft is not installed", hint="pip install pyJianYingDraft") from e
    fps = tl.render.fps
    W, H = tl.render.width_px, tl.render.height_px
    tf = tf if tf is not None else transition_frames_for(tl)

    def us(f: int) -> int:
        return round(f * 1_000_000 / fps)

    def span(f0: int, n: int):  # type: ignore[no-untyped-def]
        return jy.Timerange(us(f0), us(f0 + n) - us(f0))

    name = f"adreel_{tl.job_id}_v{tl.version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    script = jy.DraftFolder(str(out_dir)).create_draft(name, W, H, fps, allow_replace=True)
    media = out_dir / name / "media"
    media.mkdir(parents=True, exist_ok=True)
    linked: dict[str, Path] = {}

    def local(rel: str) -> str:
        if rel not in linked:
            q = Path(rel)
            linked[rel] = _link_media(q if q.is_absolute() else ws.abs(rel), media, len(linked))
        return str(linked[rel])

    total = round(tl.duration_s * fps)
    starts = [round(c.start_s * fps) for c in tl.video] + [total]
    v1 = script.append_track(jy.TrackSpec(jy.TrackType.video, "V1 shots"))
    segs = []
    for k, c in enumerate(tl.video):
        f0, n = starts[k], starts[k + 1] - starts[k]
        mat = jy.VideoMaterial(local(c.source_path))
        src = span(0, n) if c.is_still else span(round(c.in_s * fps), n)
        seg = jy.VideoSegment(mat, span(f0, n), source_timerange=src)
        seg.add_background_filling("blur", 0.375)
        if c.is_still and c.motion != "none":
            end = us(n) - 1
            if c.motion in ("zoom_in", "zoom_out"):
                a, b = (1.0, 1.15) if c.motion == "zoom_in" else (1.15, 1.0)
                seg.add_keyframe(jy.KeyframeProperty.uniform_scale, 0, a)
                seg.add_keyframe(jy.KeyframeProperty.uniform_scale, end, b)
            else:
                seg.add_keyframe(jy.KeyframeProperty.uniform_scale, 0, 1.15)
                seg.add_keyframe(jy.KeyframeProperty.uniform_scale, end, 1.15)
                prop = jy.KeyframeProperty.position_x if c.motion in ("pan_left", "pan_right") else jy.KeyframeProperty.position_y
                a, b = {"pan_left": (0.15, -0.15), "pan_right": (-0.15, 0.15), "pan_up": (-0.15, 0.15), "pan_down": (0.15, -0.15)}[c.motion]
                seg.add_keyframe(prop, 0, a)
                seg.add_keyframe(prop, end, b)
        segs.append(seg)
    for k, seg in enumerate(segs):  # a transition sits on the segment before the cut
        if k + 1 < len(segs) and tf.get(k + 1, 0) > 0:
            seg.add_transition(jy.TransitionType.叠化, duration=us(tf[k + 1]))
        script.add_segment(seg, v1)
    logo = getattr(brand, "logo_path", None)
    if logo:
        from tools.render.brand import LOGO_MARGIN, LOGO_WIDTH, is_brand_clip

        lt = script.append_track(jy.TrackSpec(jy.TrackType.video, "V2 logo"))
        lmat = jy.VideoMaterial(local(logo))
        # Jianying first fits a picture to the canvas; scale is relative to that fit, and the
        # position is the centre's offset in half-canvas units (y up)
        fit = min(W / max(1, lmat.width), H / max(1, lmat.height))
        scale = LOGO_WIDTH * W / (max(1, lmat.width) * fit)
        lh = lmat.height * fit * scale / H
        m = LOGO_MARGIN * min(W, H)
        corner = str(getattr(brand, "logo_corner", "top-right"))
        tx = (1 - 2 * m / W - LOGO_WIDTH) * (1 if corner.endswith("right") else -1)
        ty = (1 - 2 * m / H - lh) * (1 if corner.startswith("top") else -1)
        story = [(starts[k], starts[k + 1]) for k, c in enumerate(tl.video) if not is_brand_clip(c)]
        if story:
            f0, f1 = story[0][0], story[-1][1]
            script.add_segment(jy.VideoSegment(lmat, span(f0, f1 - f0), source_timerange=span(0, f1 - f0),
                                               clip_settings=jy.ClipSettings(scale_x=scale, scale_y=scale, transform_x=tx, transform_y=ty)), lt)
    a1 = script.append_track(jy.TrackSpec(jy.TrackType.audio, "A1 voice"))
    t = 0
    for vc in sorted(tl.voice, key=lambda v: v.start_s):
        s, d = round(vc.start_s * fps), max(1, round(vc.duration_s * fps))
        if s < t:
            d -= t - s
            s = t
        amat = jy.AudioMaterial(local(vc.audio_path))
        d = min(d, int(amat.duration * fps / 1_000_000))  # never past the end of the file
        if d <= 0:
            continue
        script.add_segment(jy.AudioSegment(amat, span(s, d), source_timerange=span(0, d)), a1)
        t = s + d
    if tl.music:
        a2 = script.append_track(jy.TrackSpec(jy.TrackType.audio, "A2 music"))
        for m in tl.music:
            mmat = jy.AudioMaterial(local(m.path))
            avail = int(mmat.duration * fps / 1_000_000)
            s, left, off = round(m.start_s * fps), round(m.duration_s * fps), round(m.offset_s * fps)
            vol = 10 ** (m.gain_db / 20)
            while left > 0 and avail - off > 0:  # the music loops when the file is shorter than the video
                n = min(left, avail - off)
                script.add_segment(jy.AudioSegment(mmat, span(s, n), source_timerange=span(off, n), volume=vol), a2)
                s, left, off = s + n, left - n, 0
    if tl.subtitles:
        t1 = script.append_track(jy.TrackSpec(jy.TrackType.text, "T1 subtitles"))
        fill = _unit_rgb(getattr(brand, "subtitle_colour", "#FFFFFF"))
        line = _unit_rgb(getattr(brand, "outline_colour", "#000000"))
        t = 0
        for cue in tl.subtitles:
            s, e = max(round(cue.start_s * fps), t), round(cue.end_s * fps)
            if e <= s:
                continue
            script.add_segment(jy.TextSegment(cue.text, span(s, e - s), style=jy.TextStyle(size=7.0, bold=True, color=fill, align=1,
                                                                                          auto_wrapping=True),
                                              border=jy.TextBorder(color=line, width=40.0),
                                              clip_settings=jy.ClipSettings(transform_y=-0.72)), t1)
            t = e
    script.save()
    return out_dir / name


def zip_draft(path: Path) -> Path:
    """The draft folder ``path`` as ``<path>.zip`` beside it (for a download), the draft folder at the top."""
    path = Path(path)
    if not (path / "draft_content.json").is_file():
        raise ToolInputError(f"{path} is not a Jianying draft folder", hint="export the job with the jianying format first")
    out = path.with_suffix(".zip")
    tmp = path.with_suffix(".tmp.zip")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(path.rglob("*")):
            if f.is_file():
                z.write(f, f"{path.name}/{f.relative_to(path).as_posix()}")
    tmp.replace(out)
    return out


def write_exports(tl: Timeline, ws: Workspace, out_dir: Path, formats: Iterable[str], *, transition_frames: dict[int, int] | None = None,
                  brand: object | None = None) -> dict[str, Path]:
    """Write the editable exports of ``tl`` named in ``formats`` (see :data:`EXPORT_FORMATS`) into
    ``out_dir`` (inside the workspace); returns format → file (the draft folder for ``jianying``).

    ``transition_frames`` are the renderer's overlaps (default: its rule at its default length);
    ``brand`` (a ``tools.render.brand.BrandStyle``; default: the one recorded for the job's
    current timeline) puts the logo and subtitle colours into the Jianying draft.
    """
    fmts = list(dict.fromkeys(f.strip().lower() for f in formats if f and f.strip()))
    bad = [f for f in fmts if f not in EXPORT_FORMATS]
    if bad:
        raise ToolInputError(f"unknown export format(s): {', '.join(bad)}", hint=f"choose from {', '.join(EXPORT_FORMATS)}")
    out_dir = Path(out_dir).resolve()
    if out_dir != ws.root and ws.root not in out_dir.parents:
        raise ToolInputError(f"exports go inside the workspace, not {out_dir}", hint="write them to the job's folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    tf = transition_frames if transition_frames is not None else transition_frames_for(tl)
    if brand is None:
        from tools.render.brand import job_brand

        brand = job_brand(ws, tl.job_id)
    done: dict[str, Path] = {}
    for f in fmts:
        if f == "otio":
            done[f] = write_otio(tl, ws, out_dir / "timeline.otio", tf)
        elif f == "fcpxml":
            done[f] = _write_adapter(tl, ws, out_dir / "timeline.fcpxml", "fcpx_xml", "fcpx", tf)
        elif f == "fcp7xml":
            done[f] = _write_adapter(tl, ws, out_dir / "timeline.xml", "fcp_xml", "fcp7", tf)
        elif f == "jianying":
            done[f] = write_jianying(tl, ws, out_dir / "jianying", tf, brand)
        elif f == "srt":
            from tools.render.subtitles import to_srt

            p = out_dir / "subtitles.srt"
            p.write_text(to_srt(tl.subtitles), encoding="utf-8")
            done[f] = p
        elif f == "json":
            p = out_dir / "timeline.json"
            p.write_text(json.dumps(tl.model_dump(mode="json"), ensure_ascii=False, indent=1), encoding="utf-8")
            done[f] = p
    return done
