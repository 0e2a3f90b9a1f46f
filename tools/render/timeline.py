"""Timeline assembly: shots, voice lines, subtitles and music placed on the edit decision list.

The Timeline (DESIGN.md, "The flow") is a pure function of the storyline, the narration, the
measured speech and the render spec; rendering is then a pure function of the Timeline. The
voice budget of a shot (how long after the cut a line starts, how long it may last) lives here,
in :func:`voice_window`, and nowhere else: the speech step asks it for each line's longest
duration and the timeline uses it to place the line.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from tools.core.models import (
    DEFAULT_MUSIC_GAIN_DB,
    Language,
    Material,
    Model,
    MusicClip,
    NarrationLine,
    RenderSpec,
    Storyline,
    Timeline,
    VideoClip,
    VoiceClip,
)
from tools.core.registry import register
from tools.render.subtitles import cues_for_line

#: Ken Burns moves given to photos in turn, so that consecutive stills never move alike.
STILL_MOTIONS = ("zoom_in", "pan_right", "zoom_out", "pan_left", "pan_up", "pan_down")
#: Voice starts this long after its shot does, so the cut is seen before the line is heard.
VOICE_LEAD_S = 0.12
#: Silence kept between the end of a line and the end of its shot.
VOICE_TAIL_S = 0.15
#: Shortest time any line may be given, however short its shot (a word or two).
MIN_VOICE_S = 0.3


def max_voice_s(shot_s: float) -> float:
    """Longest a line spoken over a shot of ``shot_s`` seconds may last (lead and tail kept free)."""
    return max(MIN_VOICE_S, shot_s - VOICE_TAIL_S - VOICE_LEAD_S)


def voice_lead_s(shot_s: float, speech_s: float) -> float:
    """Where a line of ``speech_s`` seconds starts inside its shot: after the lead when it fits,
    earlier when the line needs the room (it always ends before the tail)."""
    return min(VOICE_LEAD_S, max(0.0, shot_s - VOICE_TAIL_S - speech_s))


class SpokenLine(Model):
    """Measured speech of one narration line."""

    path: str
    """Audio file, relative to the workspace root."""
    duration_s: float = Field(gt=0)
    """Measured length."""


class BuildTimelineInput(Model):
    """Everything the timeline is assembled from."""

    job_id: str
    """Job the timeline belongs to."""
    storyline: Storyline
    """Ordered beats."""
    lines: list[NarrationLine]
    """One narration line per beat, same order."""
    speech: list[SpokenLine]
    """Measured speech per beat, same order."""
    materials: dict[str, Material]
    """Materials by id (at least every beat's)."""
    render: RenderSpec
    """Output format (aspect, resolution, fps) of the job."""
    language: Language
    """Language of narration and subtitles."""
    music_path: str | None = None
    """Background music (relative to the workspace), or none."""
    music_gain_db: float = DEFAULT_MUSIC_GAIN_DB
    """Music level before ducking."""
    music_offset_s: float = Field(default=0.0, ge=0)
    """Where the first bar starts in the music file (timeline 0 = a downbeat)."""
    version: int = Field(default=1, ge=1)
    """Version number of the timeline inside its job."""

    @model_validator(mode="after")
    def _aligned(self) -> BuildTimelineInput:
        n = len(self.storyline.beats)
        if len(self.lines) != n or len(self.speech) != n:
            raise ValueError(f"{n} beats but {len(self.lines)} lines and {len(self.speech)} spoken lines: give one of each per beat")
        missing = [b.material_id for b in self.storyline.beats if b.material_id not in self.materials]
        if missing:
            raise ValueError(f"beats use materials not given: {', '.join(sorted(set(missing)))}")
        return self


@register("build_timeline")
def build_timeline(inp: BuildTimelineInput) -> Timeline:
    """Place shots, voice lines, subtitles and music on the timeline (the edit decision list)."""
    video, voice, subs, t = [], [], [], 0.0
    k_still, prev_still = 0, False
    for beat, line, sp in zip(inp.storyline.beats, inp.lines, inp.speech):
        m = inp.materials[beat.material_id]
        still = m.kind == "image"
        # photo to photo: a short crossfade that ends on the cut frame (the cut stays on its bar)
        transition = "crossfade" if still and prev_still else "cut"
        prev_still = still
        motion = STILL_MOTIONS[k_still % len(STILL_MOTIONS)] if still else "none"
        k_still += still
        video.append(VideoClip(beat_index=beat.index, material_id=m.id, source_path=m.path, is_still=still,
                               source_aspect=(m.width_px / m.height_px) if m.width_px and m.height_px else None,
                               in_s=0.0 if still else beat.in_s, start_s=round(t, 6), duration_s=beat.duration_s, motion=motion,
                               transition_in=transition))
        v_start = round(t + voice_lead_s(beat.duration_s, sp.duration_s), 4)
        voice.append(VoiceClip(beat_index=beat.index, audio_path=sp.path, start_s=v_start, duration_s=sp.duration_s))
        subs += cues_for_line(line.text, line.language, inp.render.aspect, v_start, v_start + sp.duration_s)
        t += beat.duration_s
    duration = round(sum(b.duration_s for b in inp.storyline.beats), 6)
    music = ([MusicClip(path=inp.music_path, offset_s=inp.music_offset_s, duration_s=duration, gain_db=inp.music_gain_db)]
             if inp.music_path else [])
    return Timeline(job_id=inp.job_id, version=inp.version, duration_s=duration, render=inp.render, language=inp.language,
                    video=video, voice=voice, music=music, subtitles=subs, narration=inp.lines)
