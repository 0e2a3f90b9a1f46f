"""AdReel's domain models (pydantic v2). Units live in field names; every field has a docstring.

Paths inside models are strings. Paths of workspace content are *relative to the workspace
root* (see :mod:`tools.core.workspace`) so that a job folder can be moved; paths a user passes in
(materials, music, product files) are absolute or relative to the current directory.

The :class:`Timeline` is the central artifact: an edit decision list with a video track, a
voice-over track, a music track and a subtitle track. Rendering is a pure function of it.
Every model round-trips losslessly through JSON (``model_validate_json(m.model_dump_json())``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from tools.core.bounds import MAX_VIDEO_S, MIN_VIDEO_S

Language = Literal["zh", "en"]
Aspect = Literal["9:16", "1:1", "16:9"]
MediaKind = Literal["image", "video", "audio"]
Motion = Literal["none", "zoom_in", "zoom_out", "pan_left", "pan_right", "pan_up", "pan_down"]
Transition = Literal["cut", "crossfade", "slide"]
EmotionClass = Literal["excited", "fearful", "neutral", "relaxed", "sad", "tense"]

#: The 12 script labels of E-SyncVidStory (narrator §3; ../shared/data/esync/label_definition.txt).
SCRIPT_LABELS: tuple[str, ...] = (
    "产品推荐",
    "痛点铺垫",
    "引导购买",
    "外观设计",
    "质地/成分/材质",
    "产品试用",
    "产品功效",
    "质量/特性介绍",
    "鉴定展示",
    "安全认证",
    "生产过程",
    "其他/通用卖点",
)


def check_label(label: str) -> str:
    """``label`` when every '+'-joined part is one of the 12 labels; else ValueError (a field validator)."""
    parts = label.split("+")
    bad = [p for p in parts if p not in SCRIPT_LABELS]
    if bad:
        raise ValueError(f"unknown script label(s) {bad}; known: {', '.join(SCRIPT_LABELS)}")
    return label


#: Background music level before ducking (dB relative to full scale): one default for every job.
DEFAULT_MUSIC_GAIN_DB = -14.0


class Model(BaseModel):
    """Base: forbid unknown fields so typos in tool input fail loudly."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: object) -> object:
        """Computed fields are serialised for readers but derived again on input."""
        names = cls.model_computed_fields
        if names and isinstance(data, dict) and any(k in data for k in names):
            data = {k: v for k, v in data.items() if k not in names}
        return data


# --------------------------------------------------------------------------- product


class AspectPoints(Model):
    """Knowledge points of one product aspect (e.g. 外观 / appearance)."""

    aspect: str = Field(min_length=1, max_length=64)
    """Aspect name as the seller wrote it (功效, material, 活动优惠 …)."""
    points: list[str] = Field(default_factory=list)
    """Short facts about that aspect, in the seller's words."""


class ProductInfo(Model):
    """A product and its facts, grouped by aspect (the `p_info` format of E-SyncVidStory)."""

    name: str = Field(min_length=1, max_length=200)
    """Product name, used verbatim in narration."""
    language: Language = "zh"
    """Language of the facts and therefore of the narration."""
    aspects: list[AspectPoints] = Field(default_factory=list)
    """Knowledge points grouped by aspect, in the seller's order."""

    def points(self) -> list[tuple[str, str]]:
        """All (aspect, point) pairs in order."""
        return [(a.aspect, p) for a in self.aspects for p in a.points]


# --------------------------------------------------------------------------- materials


class Material(Model):
    """One ingested photo, clip or music file in a product library."""

    id: str = Field(pattern=r"^[0-9a-f]{16}$")
    """Content id: the first 16 hex digits of the SHA-256 of the original bytes (same bytes, same id)."""
    kind: MediaKind
    """image, video or audio."""
    original_name: str
    """The uploaded file name, for display only; never used as a path."""
    path: str
    """Library copy, relative to the workspace root."""
    size_bytes: int = Field(ge=0)
    """Size of the original file."""
    width_px: int | None = None
    """Frame width of images and video (after EXIF orientation)."""
    height_px: int | None = None
    """Frame height of images and video (after EXIF orientation)."""
    duration_s: float | None = None
    """Length of clips and audio; None for stills."""
    fps: float | None = None
    """Frame rate of clips."""
    has_audio: bool = False
    """Whether a clip carries an audio stream."""
    quality: dict[str, float] = Field(default_factory=dict)
    """Scores of the material: quality metrics (sharpness, dark_ratio, is_blurry …), cognitive
    property scores (``cpa_*``) and relevance to the product (relevance, reference, packshot, shot_size)."""
    ocr_text: str = ""
    """Text printed on the image or keyframes (OCR)."""
    shows_facts: list[str] = Field(default_factory=list)
    """Product facts (``aspect：point``) its printed text states, best first."""
    caption: str = ""
    """Free text describing the material (user caption or file metadata)."""


class Shot(Model):
    """A continuous span of one material: a whole still, or one shot of a clip."""

    id: str
    """Shot id, ``<material_id>:<index>``."""
    material_id: str
    """The material it comes from."""
    start_s: float = Field(ge=0)
    """Start inside the material (0 for stills)."""
    end_s: float = Field(gt=0)
    """End inside the material; for stills, the longest it may be shown."""
    is_still: bool = False
    """True for photos (shown with synthetic motion)."""
    keyframe_path: str | None = None
    """A representative frame, relative to the workspace root."""
    scores: dict[str, float] = Field(default_factory=dict)
    """Cognitive-property scores in [0, 1] (aesthetics, arousal, valence, memorability, persuasiveness …)."""
    scene: int = 0
    """Scene (cluster of adjacent similar shots) index inside its material."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_s(self) -> float:
        """Length of the shot."""
        return round(self.end_s - self.start_s, 6)

    @model_validator(mode="after")
    def _ordered(self) -> Shot:
        if self.end_s <= self.start_s:
            raise ValueError(f"shot {self.id}: end_s {self.end_s} must exceed start_s {self.start_s}")
        return self


# --------------------------------------------------------------------------- music


class MusicAnalysis(Model):
    """Beat grid and character of a music track (montage §3.3: bar duration = mean bar)."""

    path: str
    """The audio file analysed (or generated)."""
    duration_s: float = Field(gt=0)
    """Length of the track."""
    tempo_bpm: float = Field(gt=0)
    """Global tempo."""
    beats_per_bar: int = Field(default=4, ge=2, le=12)
    """Metre: 4 for 4/4, 3 for 3/4."""
    beats_s: list[float] = Field(default_factory=list)
    """Beat times."""
    downbeats_s: list[float] = Field(default_factory=list)
    """Downbeat times (first beat of each bar)."""
    bars_s: list[float] = Field(default_factory=list)
    """Bar boundary times (bar starts, plus the end of the last bar)."""
    sections_s: list[float] = Field(default_factory=list)
    """Section boundary times (verse/chorus changes), if estimated."""
    valence: float | None = Field(default=None, ge=0, le=1)
    """Music valence in [0, 1]."""
    arousal: float | None = Field(default=None, ge=0, le=1)
    """Music arousal in [0, 1]."""
    emotion: EmotionClass | None = None
    """Valence/arousal mapped to one of the six EaMD classes."""
    source: Literal["user", "generated"] = "user"
    """Whether the user gave the track or AdReel generated it."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def bar_s(self) -> float:
        """Mean bar duration (montage §3.3)."""
        if len(self.bars_s) >= 2:
            return (self.bars_s[-1] - self.bars_s[0]) / (len(self.bars_s) - 1)
        return 60.0 / self.tempo_bpm * self.beats_per_bar


# --------------------------------------------------------------------------- storyline


class StoryBeat(Model):
    """One shot of the storyline with its role and narration budget."""

    index: int = Field(ge=0)
    """Position in the video (0-based)."""
    shot_id: str
    """The shot shown."""
    material_id: str
    """The material the shot comes from."""
    in_s: float = Field(ge=0)
    """In point inside the material."""
    out_s: float = Field(gt=0)
    """Out point inside the material (for stills: in_s + shown duration)."""
    duration_s: float = Field(gt=0)
    """Time the beat occupies on the timeline."""
    label: str
    """Script label (one of the 12, or two joined with '+')."""
    word_min: int = Field(ge=0)
    """Lowest narration length for this beat (characters without whitespace for zh, words for en)."""
    word_max: int = Field(ge=0)
    """Highest narration length for this beat."""
    aspect: str | None = None
    """Product aspect this beat should talk about, if chosen."""
    fact: str | None = None
    """The fact this beat must state (printed on its shot), if any."""
    scores: dict[str, float] = Field(default_factory=dict)
    """Scores behind the pick (relevance, persuasiveness, quality, value)."""
    reason: str = ""
    """Why this shot was picked here (shown to the user)."""

    @field_validator("label")
    @classmethod
    def _label_known(cls, v: str) -> str:
        return check_label(v)


class Storyline(Model):
    """Ordered beats that fill the requested duration."""

    beats: list[StoryBeat]
    """The beats in playing order."""
    left_out: dict[str, str] = Field(default_factory=dict)
    """Materials not used, by id, with the reason (blurred, too dark, near-duplicate, off-topic, not needed)."""
    notes: list[str] = Field(default_factory=list)
    """What the planner had to compromise on (material taken back, cuts off the bars, the mode chosen)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_s(self) -> float:
        """Total length of the beats."""
        return round(sum(b.duration_s for b in self.beats), 6)


class NarrationLine(Model):
    """One voice-over line for one beat."""

    beat_index: int = Field(ge=0)
    """The beat it belongs to."""
    label: str
    """Script label carried by the line."""
    text: str = Field(min_length=1)
    """The narration."""
    language: Language
    """Language of the text."""
    word_min: int = Field(ge=0)
    """Lowest allowed length."""
    word_max: int = Field(ge=0)
    """Highest allowed length."""
    source: str = "embedded"
    """Which narrator wrote it (embedded, vllm:<model>, user)."""

    @field_validator("label")
    @classmethod
    def _label_known(cls, v: str) -> str:
        return check_label(v)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def word_count(self) -> int:
        """Length by the narrator rule: characters without whitespace (zh), tokens (en)."""
        return count_words(self.text, self.language)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def in_range(self) -> bool:
        """Whether word_count lies in [word_min, word_max]."""
        return self.word_min <= self.word_count <= self.word_max


def count_words(text: str, language: Language) -> int:
    """Narration length (narrator §3.1): zh counts characters without whitespace (punctuation
    included; reproduces 99.98 % of E-SyncVidStory), en counts whitespace-separated tokens."""
    if language == "zh":
        return len(re.sub(r"\s+", "", text))
    return len(text.split())


# --------------------------------------------------------------------------- render + timeline


class Box(Model):
    """An axis-aligned box in normalised source coordinates (0..1)."""

    x0: float = Field(ge=0, le=1)
    """Left edge, share of the width."""
    y0: float = Field(ge=0, le=1)
    """Top edge, share of the height."""
    x1: float = Field(ge=0, le=1)
    """Right edge, share of the width."""
    y1: float = Field(ge=0, le=1)
    """Bottom edge, share of the height."""

    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    def overlap(self, o: Box) -> float:
        """Area of the intersection with ``o``."""
        return max(0.0, min(self.x1, o.x1) - max(self.x0, o.x0)) * max(0.0, min(self.y1, o.y1) - max(self.y0, o.y0))




class RenderSpec(Model):
    """Output format."""

    aspect: Aspect = "9:16"
    """Frame aspect ratio."""
    resolution_p: Literal[720, 1080] = 720
    """Short side in pixels (720p: 720×1280 at 9:16, 720×720 at 1:1, 1280×720 at 16:9)."""
    fps: int = Field(default=30, ge=12, le=60)
    """Frames per second."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def width_px(self) -> int:
        """Frame width."""
        short = self.resolution_p
        return {"9:16": short, "1:1": short, "16:9": short * 16 // 9}[self.aspect]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def height_px(self) -> int:
        """Frame height."""
        short = self.resolution_p
        return {"9:16": short * 16 // 9, "1:1": short, "16:9": short}[self.aspect]


class VideoClip(Model):
    """A span of a material placed on the video track."""

    beat_index: int = Field(ge=0)
    """Storyline beat this clip shows."""
    material_id: str
    """Source material."""
    source_path: str
    """Source file, relative to the workspace root."""
    is_still: bool
    """Photo (shown with motion) or clip."""
    in_s: float = Field(ge=0)
    """In point inside the source (0 for stills)."""
    start_s: float = Field(ge=0)
    """Start on the timeline."""
    duration_s: float = Field(gt=0)
    """Length on the timeline."""
    source_aspect: float | None = Field(default=None, gt=0)
    """Width/height of the source frame (decides crop versus blurred-background fit)."""
    motion: Motion = "none"
    """Synthetic camera motion for stills (Ken Burns)."""
    transition_in: Transition = "cut"
    """Transition from the previous clip."""


class VoiceClip(Model):
    """A spoken narration line on the voice-over track."""

    beat_index: int = Field(ge=0)
    """Beat whose line this is."""
    audio_path: str
    """WAV file, relative to the workspace root."""
    start_s: float = Field(ge=0)
    """Start on the timeline."""
    duration_s: float = Field(gt=0)
    """Measured length of the audio."""


class MusicClip(Model):
    """Background music on the music track."""

    path: str
    """Audio file (absolute, or relative to the workspace root)."""
    start_s: float = Field(default=0, ge=0)
    """Start on the timeline."""
    offset_s: float = Field(default=0, ge=0)
    """Where to start reading inside the file."""
    duration_s: float = Field(gt=0)
    """Length on the timeline (looped if the file is shorter)."""
    gain_db: float = DEFAULT_MUSIC_GAIN_DB
    """Music level relative to full scale before ducking."""
    duck: bool = True
    """Duck the music under the voice-over."""


class SubtitleCue(Model):
    """One subtitle shown on screen."""

    start_s: float = Field(ge=0)
    """Appears at."""
    end_s: float = Field(gt=0)
    """Disappears at."""
    text: str
    """Text, possibly with line breaks."""


class Timeline(Model):
    """The edit decision list: the central, versioned artifact of a job."""

    job_id: str
    """Job it belongs to."""
    version: int = Field(default=1, ge=1)
    """Version number inside the job (each edit makes a new one)."""
    duration_s: float = Field(gt=0, le=MAX_VIDEO_S)
    """Total length (at most 600 s, ``tools.core.bounds``)."""
    render: RenderSpec = Field(default_factory=RenderSpec)
    """Output format."""
    language: Language = "zh"
    """Language of narration and subtitles."""
    video: list[VideoClip] = Field(default_factory=list)
    """Video track, in order, contiguous."""
    voice: list[VoiceClip] = Field(default_factory=list)
    """Voice-over track."""
    music: list[MusicClip] = Field(default_factory=list)
    """Music track."""
    subtitles: list[SubtitleCue] = Field(default_factory=list)
    """Subtitle track."""
    narration: list[NarrationLine] = Field(default_factory=list)
    """The narration lines behind the voice and subtitle tracks."""

    @model_validator(mode="after")
    def _contiguous(self) -> Timeline:
        t = 0.0
        for c in self.video:
            if abs(c.start_s - t) > 1e-3:
                raise ValueError(f"video track gap/overlap at beat {c.beat_index}: starts {c.start_s}, expected {t:.3f}")
            t = c.start_s + c.duration_s
        if self.video and abs(t - self.duration_s) > 1e-3:
            raise ValueError(f"video track lasts {t:.3f} s but timeline duration_s is {self.duration_s}")
        return self


# --------------------------------------------------------------------------- jobs


class BriefSpec(Model):
    """What the seller asked for, parsed from the chat brief."""

    duration_s: float = Field(default=15.0, ge=MIN_VIDEO_S, le=MAX_VIDEO_S)
    """Requested video length (1 to 600 s, see ``tools.core.bounds``)."""
    aspect: Aspect = "9:16"
    """Requested frame aspect."""
    resolution_p: Literal[720, 1080] = 720
    """Requested short side."""
    language: Language | None = None
    """Narration language; None means the product's language."""
    mood: EmotionClass | None = None
    """Wanted emotion (upbeat → excited, calm → relaxed …)."""
    tempo_bpm: float | None = Field(default=None, gt=30, le=240)
    """Wanted music tempo."""
    occasion: str | None = None
    """Sales occasion (Double 11, 618 …)."""
    emphasis: list[str] = Field(default_factory=list)
    """Facts or aspects to stress (texture, price …)."""
    labels: list[str] = Field(default_factory=list)
    """Script labels the storyline should include."""
    raw: str = ""
    """The brief as written."""


class JobArtifacts(Model):
    """Files a job produced, relative to the workspace root."""

    video: str | None = None
    """Rendered MP4."""
    timeline: str | None = None
    """Current timeline JSON."""
    subtitles_srt: str | None = None
    """Subtitle file."""
    thumbnail_gif: str | None = None
    """Animated thumbnail."""
    explanation_png: str | None = None
    """Explanation image."""
    otio: str | None = None
    """OpenTimelineIO export."""


class Job(Model):
    """One video-making job inside the workspace."""

    id: str = Field(pattern=r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
    """Job id: UTC date-time plus 6 random hex digits."""
    product_id: str
    """Library the job draws material from."""
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    """Creation time (UTC)."""
    brief: BriefSpec = Field(default_factory=BriefSpec)
    """What was asked."""
    steps_done: list[str] = Field(default_factory=list)
    """Pipeline steps already finished, in order (a resumed job skips them)."""
    status: Literal["running", "done", "failed"] = "running"
    """Overall state."""
    warnings: list[str] = Field(default_factory=list)
    """Things the user should know (skipped files, fallbacks taken)."""
    step_times_s: dict[str, float] = Field(default_factory=dict)
    """Wall time of the last run of each step."""
    error: str | None = None
    """Why the job failed, if it did."""
    artifacts: JobArtifacts = Field(default_factory=JobArtifacts)
    """What it produced."""
    backends: dict[str, str] = Field(default_factory=dict)
    """Who did each role's work in this job (planner, narrator, speech, encoder), e.g.
    ``{"narrator": "served (vllm:qwen2.5-vl-7b)"}`` or the embedded default with why it stood in."""
