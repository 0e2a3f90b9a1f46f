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
"""

from __future__ import annotations

from pathlib import Path

from tools.core.errors import BackendUnavailable
from tools.core.models import Timeline
from tools.core.workspace import Workspace


def _otio():  # type: ignore[no-untyped-def]
    try:
        import opentimelineio as otio
    except ImportError as e:  # pragma: no cover - listed in requirements
        raise BackendUnavailable("opentimelineio is not installed", hint="pip install opentimelineio") from e
    return otio


def to_otio(tl: Timeline, ws: Workspace, transition_frames: dict[int, int] | None = None):  # type: ignore[no-untyped-def]
    """Build an ``otio.schema.Timeline`` for ``tl``; ``transition_frames[k]`` = overlap into shot k (frames)."""
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
        if k > 0 and c.transition_in != "cut" and pre > 0:
            kind = otio.schema.TransitionTypes.SMPTE_Dissolve if c.transition_in == "crossfade" else otio.schema.TransitionTypes.Custom
            v1.append(otio.schema.Transition(name=c.transition_in, transition_type=kind, in_offset=rt(pre), out_offset=rt(0),
                                             metadata={"adreel": {"type": c.transition_in, "ends_on_cut": True}}))
        in_f = round(c.in_s * fps)
        avail = tr(0, max(total, in_f + n) + pre) if c.is_still else None
        ref = otio.schema.ExternalReference(target_url=path_of(c.source_path), available_range=avail)
        v1.append(otio.schema.Clip(name=f"beat {c.beat_index}: {Path(c.source_path).name}", media_reference=ref,
                                   source_range=tr(in_f + (pre if c.is_still else 0), n),
                                   metadata={"adreel": {"material_id": c.material_id, "is_still": c.is_still, "motion": c.motion,
                                                        "beat_index": c.beat_index}}))
    for cue in tl.subtitles:
        s = round(cue.start_s * fps)
        v1.markers.append(otio.schema.Marker(name=cue.text, marked_range=tr(s, max(1, round(cue.end_s * fps) - s)),
                                             metadata={"adreel": {"kind": "subtitle"}}))
    out.tracks.append(v1)

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
                                   media_reference=otio.schema.ExternalReference(target_url=path_of(vc.audio_path))))
        t = s + d
    out.tracks.append(a1)
    if tl.music:
        a2 = otio.schema.Track(name="A2 music", kind=otio.schema.TrackKind.Audio)
        for m in tl.music:
            s = round(m.start_s * fps)
            if s > 0:
                a2.append(otio.schema.Gap(source_range=tr(0, s)))
            a2.append(otio.schema.Clip(name=Path(m.path).name, source_range=tr(round(m.offset_s * fps), round(m.duration_s * fps)),
                                       media_reference=otio.schema.ExternalReference(target_url=path_of(m.path)),
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
