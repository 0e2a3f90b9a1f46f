"""Text to speech with measured durations and speaking-rate fitting.

Embedded engine: espeak-ng (``cmn`` voice for zh, ``en-us`` for en). Each line is spoken at
the base rate; if its measured audio would not end inside its shot, it is spoken again at a
proportionally higher rate, and if espeak's rate ceiling is reached, time-compressed with
ffmpeg ``atempo`` (pitch-preserving). The returned durations are measured from the audio.

Optional engine (``engine="openai"``, chosen once from ``ADREEL_TTS`` by ``agents.deps``): any
OpenAI-compatible speech endpoint (``POST {endpoint.base_url}/audio/speech``, e.g. a self-hosted
Kokoro/CosyVoice server), asked for WAV; the rate is fitted with the request's ``speed`` (0.25–4),
then ``atempo``. When the endpoint is down or fails, every line is spoken by espeak-ng instead
and the output says so (the fallback rule of ``tools.core.backends``). The endpoint's bearer
token comes from the environment only (``ADREEL_TTS_API_KEY``), never from a tool input.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Literal

from pydantic import Field

from tools.core.backends import default_backend, with_fallback
from tools.core.errors import AdReelError, BackendUnavailable, InternalError, ToolInputError
from tools.core.media import run_ffmpeg
from tools.core.models import Language, Model, NarrationLine
from tools.core.registry import register
from tools.core.settings import get_settings

VOICES: dict[str, str] = {"zh": "cmn", "en": "en-us"}
BASE_WPM: dict[str, int] = {"zh": 230, "en": 165}
#: espeak-ng stays intelligible up to about this rate; beyond it we time-stretch instead.
MAX_WPM = 420


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


class SpeechEndpoint(Model):
    """An OpenAI-compatible speech endpoint (``POST {base_url}/audio/speech``)."""

    base_url: str = "http://127.0.0.1:8880/v1"
    """Base URL, http:// or https://."""
    model: str = "tts-1"
    """Speech model name sent to the endpoint."""
    voice: str = "alloy"
    """Voice name sent to the endpoint."""
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    """Per-line request timeout."""


def speak_openai(text: str, out_wav: Path, speed: float = 1.0, endpoint: SpeechEndpoint | None = None) -> float:
    """Speak ``text`` through the OpenAI-compatible speech endpoint into ``out_wav`` (WAV, any
    sample rate); returns the measured duration. Raises BackendUnavailable when the endpoint is
    unreachable or fails."""
    import openai
    from openai import OpenAI

    ep = endpoint or SpeechEndpoint()
    base = ep.base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ToolInputError(f"speech endpoint URL must start with http:// or https://, got {base!r}",
                             hint="set ADREEL_TTS_BASE_URL=http://HOST:PORT/v1")
    client = OpenAI(base_url=base, api_key=get_settings().tts_api_key or "EMPTY", timeout=ep.timeout_s, max_retries=1)
    hint = "start the speech server, fix ADREEL_TTS_BASE_URL, or unset ADREEL_TTS to use espeak-ng"
    try:
        resp = client.audio.speech.create(model=ep.model, voice=ep.voice, input=text,
                                          response_format="wav", speed=round(min(4.0, max(0.25, speed)), 3))
        data = resp.content
    except openai.APIStatusError as e:
        raise BackendUnavailable(f"speech endpoint at {base} failed with HTTP {e.status_code}: {str(e)[:200]}", hint=hint) from e
    except openai.APIError as e:
        raise BackendUnavailable(f"speech endpoint at {base} is unreachable ({e})", hint=hint) from e
    if not data:
        raise BackendUnavailable(f"speech endpoint at {base} returned no audio", hint=hint)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    raw = out_wav.with_name(out_wav.stem + ".raw")
    raw.write_bytes(data)
    try:  # normalise whatever came back (WAV of any rate, or another container) to 16-bit mono WAV
        run_ffmpeg(["-i", str(raw), "-ac", "1", "-c:a", "pcm_s16le", str(out_wav)], what="reading the speech endpoint's audio")
    except AdReelError as e:
        raise BackendUnavailable(f"speech endpoint at {base} returned audio ffmpeg cannot read ({e})", hint=hint) from e
    finally:
        raw.unlink(missing_ok=True)
    return wav_duration_s(out_wav)


def speak_fitted(text: str, language: Language, out_wav: Path, max_s: float, engine: str = "espeak",
                 endpoint: SpeechEndpoint | None = None) -> tuple[float, int, float]:
    """Speak so the audio lasts at most ``max_s``; returns (duration_s, wpm or speed×100, atempo factor)."""
    if engine == "openai":
        speed = 1.0
        d = speak_openai(text, out_wav, speed, endpoint)
        if d > max_s:
            speed = min(4.0, d / max_s * 1.02)
            d = speak_openai(text, out_wav, speed, endpoint)
        wpm = round(speed * 100)
    else:
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
    """espeak rate used (words per minute); for the speech endpoint, its ``speed`` × 100."""
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
    engine: Literal["espeak", "openai"] = "espeak"
    """Speech engine (``agents.deps`` picks it from ``ADREEL_TTS``)."""
    endpoint: SpeechEndpoint | None = None
    """The speech endpoint for ``engine="openai"`` (None: its defaults)."""


class SynthesizeOutput(Model):
    """Spoken lines."""

    clips: list[SpeechClip]
    """One clip per line, same order."""
    engine: str = "espeak"
    """Engine that spoke the lines."""
    fallback_reason: str | None = None
    """Why the chosen engine was not used, and who spoke the lines instead."""


@register("synthesize_speech")
def synthesize_speech(inp: SynthesizeInput) -> SynthesizeOutput:
    """Speak each narration line (espeak-ng, or an OpenAI-compatible speech endpoint), fitting the rate so it ends inside its shot."""
    if len(inp.max_durations_s) != len(inp.lines):
        raise ToolInputError(f"{len(inp.lines)} lines but {len(inp.max_durations_s)} durations", hint="give one max duration per line")
    out = Path(inp.out_dir)

    def run(eng: str) -> SynthesizeOutput:
        clips = []
        for line, max_s in zip(inp.lines, inp.max_durations_s):
            wav = out / f"line_{line.beat_index:03d}.wav"
            d, wpm, tempo = speak_fitted(line.text, line.language, wav, max_s, eng, inp.endpoint)
            clips.append(SpeechClip(beat_index=line.beat_index, path=str(wav), duration_s=round(d, 4), wpm=wpm, tempo=round(tempo, 4)))
        return SynthesizeOutput(clips=clips, engine=eng)

    res, note = with_fallback("speech", inp.engine, lambda: run(inp.engine), lambda: run(default_backend("speech")))
    return res.model_copy(update={"fallback_reason": note}) if note else res
