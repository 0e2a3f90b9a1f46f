"""Text to speech with measured durations, speaking-rate fitting and levelled loudness.

Engines (``SynthesizeInput.engine``; ``agents.deps`` picks it once from ``ADREEL_TTS``):

    espeak   espeak-ng, always there (the fallback of the others). English with ``en-us``;
             Chinese as tone-numbered pinyin with ``cmn-latn-pinyin`` (Debian's espeak-ng 1.51
             ``cmn`` voice reads the tone digits of every character in English), Latin words
             inside Chinese lines with ``en-us``.
    piper    a neural Piper/VITS voice file run with onnxruntime (``tools.narrate.voices``): the
             packaged English voice, or the files the input names (zh voices included).
    openai   any OpenAI-compatible speech endpoint (``POST {base_url}/audio/speech``), asked for
             WAV; its bearer token comes from the environment only (``ADREEL_TTS_API_KEY``).

Every line is first turned into the words a person says (``speech_text.spoken_form``: numbers,
prices, units, dates, model codes); the subtitle keeps the written line. Each line is spoken at
the engine's base rate, its silent edges trimmed and its duration measured; if it would not end
inside its shot it is spoken again faster, by at most :data:`MAX_SPEEDUP` (beyond that speech
stops sounding natural). A line that still does not fit is time-compressed as a last resort so
that it still ends inside its shot, and its clip says ``over_rate``: the narrator should write it
shorter. Finally every line is brought to the same loudness (:data:`LINE_LUFS`), so that the mix
(``tools.render.engine``: music ducked under the voice, −14 LUFS overall) hears lines alike.

When the chosen engine is unavailable (endpoint down, voice file missing or corrupt, no voice
for the language), espeak-ng speaks every line instead and the output says so (the fallback rule
of ``tools.core.backends``).
"""

from __future__ import annotations

import logging
import math
import re
import subprocess
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from tools.core.backends import default_backend, with_fallback
from tools.core.bounds import Seconds
from tools.core.errors import AdReelError, BackendUnavailable, InternalError, ToolInputError
from tools.core.media import ffmpeg_exe, run_ffmpeg
from tools.core.models import Language, Model, NarrationLine
from tools.core.paths import WritePath
from tools.core.registry import register
from tools.core.settings import get_settings
from tools.narrate.speech_text import script_runs, spoken_form, to_pinyin
from tools.narrate.voices import DEFAULT_THREADS, load_voice, voice_for

log = logging.getLogger(__name__)

Engine = Literal["espeak", "piper", "openai"]
VOICES: dict[str, str] = {"zh": "cmn-latn-pinyin", "en": "en-us"}
BASE_WPM: dict[str, int] = {"zh": 230, "en": 165}
#: How much faster than its base rate an engine may speak a line and still sound natural
#: (≈1.4× is where listeners start to hear a voice hurry; espeak-ng at 165 wpm → 240 wpm).
MAX_SPEEDUP: dict[str, float] = {"espeak": 1.45, "piper": 1.4, "openai": 1.4}
#: Speeding a VITS voice up by x shortens a line by less than x (pauses and stops keep part of
#: their length: 1.2× → 0.9 of the duration, measured on the packaged voice), so its next try
#: asks for (needed ratio)^1.5.
RATE_EXPONENT: dict[str, float] = {"piper": 1.5}
#: Loudness every line is levelled to (EBU R128 integrated) before the mix; the mix itself is
#: normalised to −14 LUFS later, so this only has to be the same for every line.
LINE_LUFS = -24.0
#: Peak ceiling of a levelled line (dBFS).
LINE_PEAK_DB = -1.0
#: Silence kept before and after the voice when a clip's silent edges are trimmed.
EDGE_KEEP_S = 0.03


def wav_duration_s(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / float(info.samplerate)


def _espeak_run(text: str, voice: str, wpm: int, out_wav: Path) -> None:
    s = get_settings()
    cmd = [s.espeak, "-v", voice, "-s", str(int(wpm)), "-w", str(out_wav), "--", text]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    except FileNotFoundError as e:
        raise BackendUnavailable("espeak-ng not found", hint="install it with `apt-get install espeak-ng` or set ADREEL_ESPEAK") from e
    if proc.returncode != 0 or not out_wav.is_file():
        raise InternalError(f"espeak-ng ({voice}) failed on a line: {proc.stderr.decode('utf-8', 'replace')[-300:]}")


def speak(text: str, language: Language, out_wav: Path, wpm: int) -> float:
    """Speak ``text`` (already in spoken form) into ``out_wav`` at ``wpm`` with espeak-ng; returns
    the measured duration. A Chinese line is spoken run by run: Chinese as pinyin, Latin words
    with the English voice, joined with a short gap."""
    import soundfile as sf

    out_wav.parent.mkdir(parents=True, exist_ok=True)
    if language != "zh":
        _espeak_run(text, VOICES[language], wpm, out_wav)
        return wav_duration_s(out_wav)
    parts: list[np.ndarray] = []
    rate = 22050
    for j, (lang, run) in enumerate(script_runs(text) or [("zh", text)]):
        seg = out_wav.with_name(f"{out_wav.stem}.part{j}.wav")
        _espeak_run(to_pinyin(run) if lang == "zh" else run, VOICES[lang], wpm, seg)
        audio, rate = sf.read(str(seg), dtype="float32")
        seg.unlink(missing_ok=True)
        parts.append(_trim(audio, rate, keep_s=0.04))  # runs joined with ≈80 ms between them
    sf.write(str(out_wav), np.concatenate(parts) if parts else np.zeros(rate // 10, np.float32), rate, subtype="PCM_16")
    return wav_duration_s(out_wav)


def speak_piper(text: str, language: Language, out_wav: Path, speed: float, voice_path: str,
                threads: int = DEFAULT_THREADS) -> float:
    """Speak ``text`` with the Piper voice at ``voice_path``, ``speed`` times its natural rate;
    returns the measured duration. Raises BackendUnavailable when the voice cannot be used."""
    import soundfile as sf

    voice = load_voice(voice_path, threads)
    audio = voice.synthesize(text, length_scale=voice.info.length_scale / max(0.25, speed))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 1.0:
        audio = audio / peak
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out_wav), audio, voice.info.sample_rate, subtype="PCM_16")
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
                 endpoint: SpeechEndpoint | None = None, voice_path: str | None = None) -> tuple[float, int, float]:
    """Speak ``text`` (in spoken form) so the audio lasts at most ``max_s``, its silent edges trimmed
    and its loudness levelled; returns (duration_s, wpm or speed×100, atempo factor). A factor
    above 1 means the line needed more than :data:`MAX_SPEEDUP` and was time-compressed.
    """
    limit = MAX_SPEEDUP.get(engine, 1.4)

    def say(speed: float) -> float:
        if engine == "openai":
            speak_openai(text, out_wav, speed, endpoint)
        elif engine == "piper":
            if not voice_path:
                raise InternalError("engine piper needs a voice file")
            speak_piper(text, language, out_wav, speed, voice_path)
        else:
            speak(text, language, out_wav, round(BASE_WPM[language] * speed))
        return trim_silence(out_wav)

    speed = 1.0
    d = say(speed)
    for _ in range(4):  # later tries correct a rate that does not scale the duration exactly
        if d <= max_s or speed >= limit:
            break
        speed = min(limit, speed * (d / max_s) ** RATE_EXPONENT.get(engine, 1.0) * 1.02)
        d = say(speed)
    rate = round(BASE_WPM[language] * speed) if engine == "espeak" else round(speed * 100)
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
        d = trim_silence(out_wav)
        if d > max_s:  # atempo's output can run a few ms over: cut them, with a 10 ms fade
            d = cut_to(out_wav, max_s)
    level_loudness(out_wav)
    return d, rate, tempo


def _trim(audio: np.ndarray, rate: int, keep_s: float = EDGE_KEEP_S, floor_db: float = -40.0) -> np.ndarray:
    """``audio`` without the silence before its first and after its last sound (samples quieter
    than ``floor_db`` below the peak, in 10 ms frames), ``keep_s`` kept on each side."""
    if audio.size == 0:
        return audio
    hop = max(1, rate // 100)
    n = len(audio) // hop
    if n == 0:
        return audio
    env = np.abs(audio[: n * hop]).reshape(n, hop).max(axis=1)
    loud = np.flatnonzero(env > env.max() * 10 ** (floor_db / 20)) if env.max() > 0 else np.array([], int)
    if loud.size == 0:
        return audio
    keep = int(keep_s * rate)
    return audio[max(0, loud[0] * hop - keep): min(len(audio), (loud[-1] + 1) * hop + keep)]


def trim_silence(wav: Path) -> float:
    """Trim the silent edges of ``wav`` in place; returns its new duration."""
    import soundfile as sf

    audio, rate = sf.read(str(wav), dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    sf.write(str(wav), _trim(audio, rate), rate, subtype="PCM_16")
    return wav_duration_s(wav)


def cut_to(wav: Path, max_s: float) -> float:
    """Cut ``wav`` in place to at most ``max_s`` seconds, fading out its last 10 ms; returns the duration."""
    import soundfile as sf

    audio, rate = sf.read(str(wav), dtype="float32")
    n = min(len(audio), int(max_s * rate))
    audio = audio[:n].copy()
    fade = min(n, rate // 100)
    if fade:
        audio[n - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    sf.write(str(wav), audio, rate, subtype="PCM_16")
    return wav_duration_s(wav)


def measure_lufs(wav: Path) -> float | None:
    """Integrated loudness of ``wav`` (EBU R128, ffmpeg's ebur128 meter); None when the line is
    too short or too quiet for the meter's 400 ms gate."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-i", str(wav), "-af",
                           "aresample=48000,ebur128", "-f", "null", "-"], capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        return None
    m = re.findall(r"I:\s+(-?[\d.]+|-inf) LUFS", proc.stderr.decode("utf-8", "replace"))
    if not m or m[-1] == "-inf" or float(m[-1]) <= -69.0:
        return None
    return float(m[-1])


def level_loudness(wav: Path, target_lufs: float = LINE_LUFS) -> float:
    """Scale ``wav`` in place to ``target_lufs`` (peaks held at :data:`LINE_PEAK_DB`); returns the
    gain applied in dB. A line too short to measure is levelled by the RMS of its loud part."""
    import soundfile as sf

    audio, rate = sf.read(str(wav), dtype="float32")
    if audio.size == 0 or not np.any(audio):
        return 0.0
    lufs = measure_lufs(wav)
    if lufs is None:  # short line: speech RMS in dBFS sits ≈3 dB above its LUFS for these voices
        frames = audio[: len(audio) // 441 * 441].reshape(-1, 441) if len(audio) >= 441 else audio.reshape(1, -1)
        rms = np.sqrt((frames**2).mean(axis=1))
        loud = rms[rms > rms.max() * 0.1]
        lufs = 20 * math.log10(float(np.sqrt((loud**2).mean())) + 1e-9) - 3.0
    gain_db = target_lufs - lufs
    peak_db = 20 * math.log10(float(np.max(np.abs(audio))) + 1e-9)
    gain_db = min(gain_db, LINE_PEAK_DB - peak_db)
    sf.write(str(wav), np.clip(audio * 10 ** (gain_db / 20), -1.0, 1.0), rate, subtype="PCM_16")
    return gain_db


class SpeechClip(Model):
    """One spoken line."""

    beat_index: int
    """Beat whose line it is."""
    path: str
    """WAV file written."""
    duration_s: float
    """Measured audio length."""
    wpm: int
    """espeak rate used (words per minute); for the neural voice and the endpoint, speed × 100."""
    tempo: float
    """Extra time compression applied (1.0 = none; above 1 the line was too long to speak naturally)."""
    spoken: str = ""
    """What the voice said (numbers, units, codes in words); the subtitle keeps the written line."""
    over_rate: bool = False
    """True when even the fastest natural rate did not fit the shot and the line was compressed:
    the narrator should write it shorter."""


class SynthesizeInput(Model):
    """Lines to speak and how long each may last."""

    lines: list[NarrationLine] = Field(min_length=1)
    """Narration lines."""
    max_durations_s: list[Seconds]
    """Longest each line may last (its shot minus a short tail)."""
    out_dir: WritePath
    """Folder for the WAV files."""
    engine: Engine = "espeak"
    """Speech engine (``agents.deps`` picks it from ``ADREEL_TTS``)."""
    endpoint: SpeechEndpoint | None = None
    """The speech endpoint for ``engine="openai"`` (None: its defaults)."""
    voices: list[str] = Field(default_factory=list)
    """Piper voice files (``.onnx``) for ``engine="piper"``; the one whose config names the lines'
    language speaks (empty, or none for English: the packaged English voice)."""


class SynthesizeOutput(Model):
    """Spoken lines."""

    clips: list[SpeechClip]
    """One clip per line, same order."""
    engine: str = "espeak"
    """Engine that spoke the lines."""
    voice: str | None = None
    """Voice file that spoke them (``engine="piper"``)."""
    fallback_reason: str | None = None
    """Why the chosen engine was not used, and who spoke the lines instead."""

    @property
    def over_rate_beats(self) -> list[int]:
        """Beats whose line was too long to speak at a natural rate (write them shorter)."""
        return [c.beat_index for c in self.clips if c.over_rate]


@register("synthesize_speech")
def synthesize_speech(inp: SynthesizeInput) -> SynthesizeOutput:
    """Speak each narration line (espeak-ng, a neural Piper voice, or an OpenAI-compatible speech endpoint), numbers and codes in words, the rate fitted so it ends inside its shot."""
    if len(inp.max_durations_s) != len(inp.lines):
        raise ToolInputError(f"{len(inp.lines)} lines but {len(inp.max_durations_s)} durations", hint="give one max duration per line")
    out = Path(inp.out_dir)
    spoken = [spoken_form(line.text, line.language) or line.text for line in inp.lines]

    def run(eng: str) -> SynthesizeOutput:
        voices: dict[str, str] = {}
        if eng == "piper":  # find and load every voice before speaking, so a bad file falls back whole
            for lang in sorted({line.language for line in inp.lines}):
                voices[lang] = str(voice_for(inp.voices, lang))  # type: ignore[arg-type]
                load_voice(voices[lang])
        clips = []
        for line, text, max_s in zip(inp.lines, spoken, inp.max_durations_s):
            wav = out / f"line_{line.beat_index:03d}.wav"
            d, wpm, tempo = speak_fitted(text, line.language, wav, max_s, eng, inp.endpoint, voices.get(line.language))
            clips.append(SpeechClip(beat_index=line.beat_index, path=str(wav), duration_s=round(d, 4), wpm=wpm,
                                    tempo=round(tempo, 4), spoken=text, over_rate=tempo > 1.0))
        return SynthesizeOutput(clips=clips, engine=eng, voice=", ".join(sorted(set(voices.values()))) or None)

    res, note = with_fallback("speech", inp.engine, lambda: run(inp.engine), lambda: run(default_backend("speech")))
    if note:
        log.warning("speech: %s", note)
        return res.model_copy(update={"fallback_reason": note})
    return res
