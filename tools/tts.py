"""Text to speech with measured durations and speaking-rate fitting.

Embedded engine: espeak-ng (``cmn`` voice for zh, ``en-us`` for en). Each line is spoken at
the base rate; if its measured audio would not end inside its shot, it is spoken again at a
proportionally higher rate, and if espeak's rate ceiling is reached, time-compressed with
ffmpeg ``atempo`` (pitch-preserving). The returned durations are measured from the audio.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Literal

from pydantic import Field

from tools.errors import BackendUnavailable, InternalError, ToolInputError
from tools.media import run_ffmpeg
from tools.models import Language, Model, NarrationLine
from tools.registry import register
from tools.settings import get_settings

VOICES: dict[str, str] = {"zh": "cmn", "en": "en-us"}
BASE_WPM: dict[str, int] = {"zh": 230, "en": 165}
#: espeak-ng stays intelligible up to about this rate; beyond it we time-stretch instead.
MAX_WPM = 420
#: Silence kept between the end of a line and the end of its shot.
TAIL_S = 0.15


def wav_duration_s(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / float(info.samplerate)


def speak(text: str, language: Language, out_wav: Path, wpm: int) -> float:
    """Speak ``text`` into ``out_wav`` at ``wpm``; returns the measured duration."""
    s = get_settings()
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    cmd = [s.espeak, "-v", VOICES[language], "-s", str(int(wpm)), "-w", str(out_wav), "--", text]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    except FileNotFoundError as e:
        raise BackendUnavailable("espeak-ng not found", hint="install it with `apt-get install espeak-ng` or set ADREEL_ESPEAK") from e
    if proc.returncode != 0 or not out_wav.is_file():
        raise InternalError(f"espeak-ng failed on a {language} line: {proc.stderr.decode('utf-8', 'replace')[-300:]}")
    return wav_duration_s(out_wav)


def speak_fitted(text: str, language: Language, out_wav: Path, max_s: float) -> tuple[float, int, float]:
    """Speak so the audio lasts at most ``max_s``; returns (duration_s, wpm, atempo factor)."""
    wpm = BASE_WPM[language]
    d = speak(text, language, out_wav, wpm)
    if d > max_s:
        wpm = min(MAX_WPM, math.ceil(wpm * d / max_s * 1.02))
        d = speak(text, language, out_wav, wpm)
    tempo = 1.0
    if d > max_s:
        tempo = d / max_s * 1.01
        if tempo > 4.0:
            raise ToolInputError(f"line of {len(text)} characters cannot be spoken in {max_s:.2f} s", hint="shorten the line or lengthen its shot")
        filters = []
        left = tempo
        while left > 2.0:  # atempo takes 0.5–2.0 per stage
            filters.append("atempo=2.0")
            left /= 2.0
        filters.append(f"atempo={left:.5f}")
        tmp = out_wav.with_name(out_wav.stem + ".fast.wav")
        run_ffmpeg(["-i", str(out_wav), "-filter:a", ",".join(filters), str(tmp)], what="time-compressing a voice line")
        tmp.replace(out_wav)
        d = wav_duration_s(out_wav)
    return d, wpm, tempo


class SpeechClip(Model):
    """One spoken line."""

    beat_index: int
    """Beat whose line it is."""
    path: str
    """WAV file written."""
    duration_s: float
    """Measured audio length."""
    wpm: int
    """espeak rate used."""
    tempo: float
    """Extra time compression applied (1.0 = none)."""


class SynthesizeInput(Model):
    """Lines to speak and how long each may last."""

    lines: list[NarrationLine] = Field(min_length=1)
    """Narration lines."""
    max_durations_s: list[float]
    """Longest each line may last (its shot minus a short tail)."""
    out_dir: str
    """Folder for the WAV files."""
    engine: Literal["espeak"] = "espeak"
    """TTS engine."""


class SynthesizeOutput(Model):
    """Spoken lines."""

    clips: list[SpeechClip]
    """One clip per line, same order."""


@register("synthesize_speech")
def synthesize_speech(inp: SynthesizeInput) -> SynthesizeOutput:
    """Speak each narration line with espeak-ng, fitting the rate so it ends inside its shot."""
    if len(inp.max_durations_s) != len(inp.lines):
        raise ToolInputError(f"{len(inp.lines)} lines but {len(inp.max_durations_s)} durations", hint="give one max duration per line")
    out = Path(inp.out_dir)
    clips = []
    for line, max_s in zip(inp.lines, inp.max_durations_s):
        wav = out / f"line_{line.beat_index:03d}.wav"
        d, wpm, tempo = speak_fitted(line.text, line.language, wav, max_s)
        clips.append(SpeechClip(beat_index=line.beat_index, path=str(wav), duration_s=round(d, 4), wpm=wpm, tempo=round(tempo, 4)))
    return SynthesizeOutput(clips=clips)
