"""Music analysis (beats, bars, metre, tempo, sections, valence/arousal → EaMD class) and
procedural background music with an exact beat grid.

Montage §3.3 uses the *mean bar duration* as the discrete time unit; §3.2 maps music to the
six EaMD emotion classes (excited, fearful, neutral, relaxed, sad, tense) of the 2-D
valence–arousal plane (the mapping: :func:`tools.core.emotion.va_to_class`). This module
provides both for :mod:`tools.story.montage`.

Beat tracking is librosa's dynamic-programming tracker (Ellis 2007). Its tempo estimate is
prone to *metrical-level* errors: on the trumpet loop whose author states 90 bpm it returns
184.6 bpm (an octave error, ×2.05), and on madmom's annotated sample (87.5 bpm) 117.5 bpm (a
4:3 error). **Octave correction** (:func:`correct_tempo`): a tempo outside the plausible range
[``min_bpm``, ``max_bpm``] (default 60–160 bpm, where most popular music lies) is halved or
doubled until it falls inside; with a user ``tempo_hint_bpm`` the metrical level among
{½, ⅔, ¾, 1, 4⁄3, 3⁄2, 2}× closest to the hint is taken instead. Beats are then re-tracked with
the tempo fixed to the corrected value. Non-octave (4:3) errors are only fixed by a hint.

Downbeats (bar phase) and metre: beat-synchronous *accent* = z(low-frequency onset strength
< 200 Hz) + z(harmonic change, chroma cosine distance) + ½·z(RMS). For metre m ∈ {3, 4} and
phase φ the contrast is mean accent on beats ≡ φ (mod m) minus mean accent elsewhere; the best
(m, φ) wins, with 4/4 preferred unless 3/4's contrast is clearly larger.

Heavy imports (librosa, soundfile, scipy) live inside functions so the registry stays fast.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from tools.core.bounds import MAX_MUSIC_ANALYSED_S
from tools.core.emotion import EMOTION_VA, va_to_class
from tools.core.errors import BackendUnavailable, MediaError, ToolInputError
from tools.core.media import ffmpeg_exe
from tools.core.models import EmotionClass, Model, MusicAnalysis
from tools.core.paths import ReadPath, WritePath
from tools.core.registry import register

ANALYSIS_SR = 22050
HOP = 512
#: metrical ratios considered when a tempo hint is given
_LEVELS = (0.5, 2 / 3, 0.75, 1.0, 4 / 3, 1.5, 2.0)
#: 3/4 must beat 4/4's downbeat contrast by this factor (4/4 is the default metre)
_METRE_MARGIN = 1.25


class AnalyzeMusicInput(Model):
    """Input of ``analyze_music``."""

    path: ReadPath = Field(min_length=1)
    """Audio file (wav, ogg, flac, mp3, m4a … anything ffmpeg decodes)."""
    beats_per_bar: int | None = Field(default=None, ge=2, le=12)
    """Metre if known (4 for 4/4, 3 for 3/4); None detects 3 vs 4."""
    tempo_hint_bpm: float | None = Field(default=None, gt=20, le=320)
    """Tempo the user knows (e.g. from the track's author); picks the matching metrical level."""
    min_bpm: float = Field(default=60.0, gt=20, le=200)
    """Lower end of the plausible tempo range used by octave correction."""
    max_bpm: float = Field(default=160.0, gt=40, le=320)
    """Upper end of the plausible tempo range used by octave correction."""


class GenerateMusicInput(Model):
    """Input of ``generate_music``."""

    out_dir: WritePath = Field(min_length=1)
    """Folder the WAV is written to (created if missing)."""
    tempo_bpm: float = Field(default=110.0, ge=40, le=220)
    """Tempo of the track; beats fall exactly at k·60/tempo_bpm seconds."""
    mood: EmotionClass = "excited"
    """EaMD emotion class the track should convey."""
    duration_s: float = Field(default=30.0, gt=0.5, le=1800)
    """Length of the file."""
    beats_per_bar: int = Field(default=4, ge=2, le=7)
    """Metre (4 for 4/4, 3 for 3/4)."""
    seed: int = 0
    """Random seed (melody choices, noise)."""
    sample_rate_hz: int = Field(default=44100, ge=8000, le=96000)
    """Output sample rate."""


# --------------------------------------------------------------------------- audio loading


def load_audio(path: str | Path, sr: int = ANALYSIS_SR, max_s: float = MAX_MUSIC_ANALYSED_S) -> np.ndarray:
    """Mono float32 samples at ``sr`` of the first ``max_s`` seconds (memory stays bounded for any
    file length); soundfile first, ffmpeg as the fallback decoder."""
    p = Path(path)
    if not p.is_file():
        raise ToolInputError(f"music file not found: {str(p)!r}", hint="pass the path of an audio file")
    if p.stat().st_size == 0:
        raise MediaError(f"music file {p.name!r} is empty", hint="re-export the track")
    try:
        import librosa
        import soundfile as sf

        file_sr = sf.info(str(p)).samplerate
        data, file_sr = sf.read(str(p), frames=int(max_s * file_sr), dtype="float32", always_2d=True)
        y = data.mean(axis=1)
        if file_sr != sr:
            y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq")
    except Exception:  # noqa: BLE001 - any decoder failure falls back to ffmpeg
        try:
            ffmpeg = ffmpeg_exe()
        except BackendUnavailable:
            raise BackendUnavailable(f"cannot decode {p.name!r} with soundfile and ffmpeg is missing",
                                     hint="install ffmpeg (`apt-get install ffmpeg`)") from None
        proc = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(p), "-vn", "-ac", "1", "-ar", str(sr),
                               "-t", f"{max_s:g}", "-f", "f32le", "-"], capture_output=True, timeout=600, check=False)
        if proc.returncode != 0 or not proc.stdout:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no audio stream"]
            raise MediaError(f"cannot decode audio in {p.name!r}: {tail[0]}", hint="is it an audio file? re-export it as WAV or MP3") from None
        y = np.frombuffer(proc.stdout, dtype=np.float32).copy()
    if y.size < sr // 2:
        raise MediaError(f"{p.name!r} has {y.size / sr:.2f} s of audio; at least 0.5 s is needed", hint="use a longer track")
    if not np.all(np.isfinite(y)):
        raise MediaError(f"{p.name!r} decodes to non-finite samples", hint="re-export the track")
    return y.astype(np.float32)


# --------------------------------------------------------------------------- tempo and beats


def correct_tempo(tempo_bpm: float, min_bpm: float = 60.0, max_bpm: float = 160.0,
                  hint_bpm: float | None = None) -> float:
    """Octave-error correction (see module docstring): fold into [min_bpm, max_bpm] by factors of
    2; with a hint, the metrical level (½, ⅔, ¾, 1, 4⁄3, 3⁄2, 2 ×) nearest to it in log-tempo."""
    if min_bpm * 2 > max_bpm + 1e-9:
        raise ToolInputError(f"tempo range [{min_bpm}, {max_bpm}] bpm must span at least an octave",
                             hint="use e.g. min_bpm=60, max_bpm=160")
    t = float(tempo_bpm)
    if hint_bpm is not None:
        return min((t * r for r in _LEVELS), key=lambda c: abs(math.log(c / hint_bpm)))
    while t > max_bpm:
        t /= 2.0
    while t < min_bpm:
        t *= 2.0
    return t


def _zscore(x: np.ndarray) -> np.ndarray:
    s = x.std()
    return (x - x.mean()) / s if s > 1e-12 else np.zeros_like(x)


def _beat_values(curve: np.ndarray, beat_frames: np.ndarray, radius: int = 2) -> np.ndarray:
    out = np.empty(len(beat_frames))
    for n, f in enumerate(beat_frames):
        lo, hi = max(0, f - radius), min(len(curve), f + radius + 1)
        out[n] = curve[lo:hi].max() if hi > lo else 0.0
    return out


def bar_phase(accent: np.ndarray, beats_per_bar: int | None) -> tuple[int, int, dict[int, float]]:
    """(beats_per_bar, phase, contrast per metre): the metre and downbeat phase whose beats carry
    the most accent relative to the others (module docstring)."""
    metres = [beats_per_bar] if beats_per_bar else [4, 3]
    best: dict[int, tuple[float, int]] = {}
    for m in metres:
        if len(accent) < m:
            best[m] = (0.0, 0)
            continue
        scores = []
        for phi in range(m):
            mask = (np.arange(len(accent)) % m) == phi
            rest = accent[~mask]
            scores.append(float(accent[mask].mean() - (rest.mean() if rest.size else 0.0)))
        phi = int(np.argmax(scores))
        best[m] = (scores[phi], phi)
    if beats_per_bar:
        m = beats_per_bar
    else:
        c4, c3 = best[4][0], best[3][0]
        m = 3 if (c3 > 0 and c3 > _METRE_MARGIN * max(c4, 0.0)) else 4
    return m, best[m][1], {k: v[0] for k, v in best.items()}


# --------------------------------------------------------------------------- emotion

_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

def music_emotion(y: np.ndarray, sr: int, tempo_bpm: float, onset_env: np.ndarray,
                  chroma: np.ndarray) -> tuple[float, float, dict[str, float]]:
    """Heuristic valence/arousal from tempo, mode, energy and timbre (uncalibrated: no labelled
    music emotion data is available here; weights are hand-set, not fitted).

    arousal = 0.35·tempo + 0.25·loudness + 0.2·brightness + 0.2·onset density;
    valence = 0.5 + 0.3·mode + 0.1·(tempo − ½) + 0.1·(brightness − ½), where mode ∈ [−1, 1] is the
    Krumhansl–Kessler major-minus-minor key-profile correlation of the mean chroma."""
    import librosa

    tempo_n = float(np.clip((tempo_bpm - 60.0) / 120.0, 0, 1))
    rms = librosa.feature.rms(y=y, hop_length=HOP)[0]
    loud_db = 20 * np.log10(np.sqrt(np.mean(rms**2)) + 1e-9)
    loud_n = float(np.clip((loud_db + 40.0) / 30.0, 0, 1))
    cent = float(np.mean(librosa.feature.spectral_centroid(y=y, sr=sr, hop_length=HOP)))
    bright_n = float(np.clip((cent - 500.0) / 3000.0, 0, 1))
    onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sr, hop_length=HOP)
    dens_n = float(np.clip(len(onsets) / (len(y) / sr) / 8.0, 0, 1))
    cm = chroma.mean(axis=1)
    r_maj = max(np.corrcoef(cm, np.roll(_MAJOR, k))[0, 1] for k in range(12))
    r_min = max(np.corrcoef(cm, np.roll(_MINOR, k))[0, 1] for k in range(12))
    mode = float(np.clip((r_maj - r_min) * 4.0, -1, 1)) if np.isfinite(r_maj - r_min) else 0.0
    arousal = float(np.clip(0.35 * tempo_n + 0.25 * loud_n + 0.2 * bright_n + 0.2 * dens_n, 0, 1))
    valence = float(np.clip(0.5 + 0.3 * mode + 0.1 * (tempo_n - 0.5) + 0.1 * (bright_n - 0.5), 0, 1))
    feats = {"tempo_n": tempo_n, "loudness_n": loud_n, "brightness_n": bright_n, "onset_density_n": dens_n, "mode": mode}
    return valence, arousal, feats


# --------------------------------------------------------------------------- analysis


def analyze_music_full(path: str, beats_per_bar: int | None = None, tempo_hint_bpm: float | None = None,
                       min_bpm: float = 60.0, max_bpm: float = 160.0) -> tuple[MusicAnalysis, dict[str, Any]]:
    """Analyse ``path``; returns the MusicAnalysis plus diagnostics (raw librosa tempo, metre
    contrasts, emotion features) for evaluation and benchmarks."""
    import librosa

    y = load_audio(path)
    sr = ANALYSIS_SR
    duration = len(y) / sr
    onset_env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP, aggregate=np.median)
    if float(onset_env.max()) <= 1e-8:
        raise MediaError(f"{Path(path).name!r} has no onsets (silence?)", hint="use a track with audible rhythm")
    raw_tempo, _ = librosa.beat.beat_track(onset_envelope=onset_env, sr=sr, hop_length=HOP)
    raw_tempo = float(np.atleast_1d(raw_tempo)[0])
    tempo = correct_tempo(raw_tempo, min_bpm, max_bpm, tempo_hint_bpm)
    _, beat_frames = librosa.beat.beat_track(onset_envelope=onset_env, sr=sr, hop_length=HOP, bpm=tempo, trim=False)
    beat_frames = np.asarray(beat_frames, dtype=int)
    if len(beat_frames) < 2:
        raise MediaError(f"{Path(path).name!r}: fewer than two beats found", hint="use a track with a steady beat")
    beats = librosa.frames_to_time(beat_frames, sr=sr, hop_length=HOP)
    ibi = float(np.median(np.diff(beats)))

    # accents for the bar phase
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP))
    mel = librosa.feature.melspectrogram(S=S**2, sr=sr, n_mels=64, fmax=sr / 2)
    mel_f = librosa.mel_frequencies(n_mels=64, fmax=sr / 2)
    low = librosa.power_to_db(mel[mel_f < 200])
    low_onset = np.maximum(0, np.diff(low, axis=1, prepend=low[:, :1])).mean(axis=0)
    chroma = librosa.feature.chroma_stft(S=S**2, sr=sr, hop_length=HOP)
    # beat-synchronous chroma: median over [beat n, beat n + 1) (the last beat: one median IBI)
    ibi_f = max(1, int(round(ibi * sr / HOP)))
    edges = np.append(beat_frames, beat_frames[-1] + ibi_f)
    bsync = np.stack([np.median(chroma[:, a : max(a + 1, min(b, chroma.shape[1]))], axis=1)
                      if a < chroma.shape[1] else chroma[:, -1] for a, b in zip(edges[:-1], edges[1:])], axis=1)
    norm = np.linalg.norm(bsync, axis=0) + 1e-9
    cos = np.sum(bsync[:, 1:] * bsync[:, :-1], axis=0) / (norm[1:] * norm[:-1])
    hchange = np.concatenate([[np.mean(1 - cos) if cos.size else 0.0], 1 - cos])
    rms = librosa.feature.rms(S=S, hop_length=HOP)[0]
    accent = (_zscore(_beat_values(low_onset, beat_frames)) + _zscore(hchange)
              + 0.5 * _zscore(_beat_values(rms, beat_frames)))
    m, phase, contrasts = bar_phase(accent, beats_per_bar)
    downbeats = beats[phase::m]
    bars = [float(b) for b in downbeats]
    # close the last bar: the beat after it, or one bar of median beats if it fits in the track
    last_end_idx = phase + m * len(downbeats)
    if last_end_idx < len(beats):
        bars.append(float(beats[last_end_idx]))
    elif bars and bars[-1] + m * ibi <= duration + 1e-6:
        bars.append(bars[-1] + m * ibi)
    else:
        bars = bars  # the last bar runs past the end of the track: it is not a complete bar

    sections = _sections(y, sr, beat_frames, chroma, np.asarray(bars), duration)
    valence, arousal, efeats = music_emotion(y, sr, tempo, onset_env, chroma)
    # tempo from a least-squares line through the beat times (finer than the 23-ms frame grid)
    slope = float(np.polyfit(np.arange(len(beats)), beats, 1)[0]) if len(beats) >= 8 else 60.0 / tempo
    tempo_est = 60.0 / slope
    ma = MusicAnalysis(
        path=str(path), duration_s=round(duration, 6), tempo_bpm=round(tempo_est, 3), beats_per_bar=m,
        beats_s=[round(float(b), 4) for b in beats], downbeats_s=[round(float(b), 4) for b in downbeats],
        bars_s=[round(b, 4) for b in bars], sections_s=sections,
        valence=round(valence, 4), arousal=round(arousal, 4), emotion=va_to_class(valence, arousal), source="user",
    )
    diag = {"raw_tempo_bpm": raw_tempo, "corrected_tempo_bpm": tempo, "metre_contrast": contrasts,
            "bar_phase": phase, "emotion_features": efeats}
    return ma, diag


def _sections(y: np.ndarray, sr: int, beat_frames: np.ndarray, chroma: np.ndarray, bars: np.ndarray,
              duration: float) -> list[float]:
    """Section boundaries: agglomerative clustering (librosa.segment.agglomerative) of
    beat-synchronous chroma + MFCC, one section per ≈20 s (2–8), snapped to the nearest bar."""
    import librosa

    if duration < 30 or len(beat_frames) < 16:
        return []
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, hop_length=HOP)
    feats = np.vstack([_zscore_rows(librosa.util.sync(chroma, beat_frames)),
                       _zscore_rows(librosa.util.sync(mfcc, beat_frames))])
    k = int(np.clip(round(duration / 20.0), 2, 8))
    idx = librosa.segment.agglomerative(feats, k)
    frames = np.concatenate([[0], beat_frames])
    times = librosa.frames_to_time(frames[np.clip(idx, 0, len(frames) - 1)], sr=sr, hop_length=HOP)
    out: list[float] = []
    for t in times[1:]:
        if len(bars):
            t = float(bars[np.argmin(np.abs(bars - t))])
        if 0 < t < duration and (not out or t - out[-1] > 1e-6):
            out.append(round(t, 4))
    return out


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-9)


@register("analyze_music")
def analyze_music(inp: AnalyzeMusicInput) -> MusicAnalysis:
    """Beats, bars (metre 4/4 or 3/4), tempo with octave correction, sections and music emotion of an audio file."""
    if inp.min_bpm >= inp.max_bpm:
        raise ToolInputError(f"min_bpm {inp.min_bpm} must be below max_bpm {inp.max_bpm}", hint="e.g. 60 and 160")
    ma, _ = analyze_music_full(inp.path, inp.beats_per_bar, inp.tempo_hint_bpm, inp.min_bpm, inp.max_bpm)
    return ma


# --------------------------------------------------------------------------- evaluation


def evaluate_beats(reference_s: list[float] | np.ndarray, estimated_s: list[float] | np.ndarray,
                   window_s: float = 0.07) -> dict[str, float]:
    """mir_eval beat scores without mir_eval's 5-s trimming (the annotated sample is 2.8 s long):
    F-measure (±70 ms), Cemgil accuracy, P-score, and the tempo ratio est/ref of median IBIs."""
    import mir_eval

    ref = np.asarray(reference_s, dtype=float)
    est = np.asarray(estimated_s, dtype=float)
    out = {
        "f_measure": float(mir_eval.beat.f_measure(ref, est, f_measure_threshold=window_s)),
        "cemgil": float(mir_eval.beat.cemgil(ref, est)[0]),
        "p_score": float(mir_eval.beat.p_score(ref, est)),
    }
    if len(ref) > 1 and len(est) > 1:
        out["tempo_ratio"] = float(np.median(np.diff(ref)) / np.median(np.diff(est)))
    return out


# --------------------------------------------------------------------------- generation

_MOOD_STYLE: dict[str, dict[str, Any]] = {
    # minor: use the natural minor scale; drums: which parts play; bright: pad brightness 0..1
    "excited": {"minor": False, "kick": "four", "snare": True, "hats": 8, "bright": 0.9, "gain": 0.9, "prog": [0, 7, 9, 5]},
    "relaxed": {"minor": False, "kick": "one", "snare": False, "hats": 4, "bright": 0.3, "gain": 0.45, "prog": [0, 5, 9, 7]},
    "neutral": {"minor": False, "kick": "two", "snare": True, "hats": 4, "bright": 0.5, "gain": 0.65, "prog": [0, 5, 7, 5]},
    "sad": {"minor": True, "kick": "one", "snare": False, "hats": 4, "bright": 0.2, "gain": 0.4, "prog": [0, 8, 3, 10]},
    "tense": {"minor": True, "kick": "four", "snare": True, "hats": 8, "bright": 0.6, "gain": 0.8, "prog": [0, 1, 0, 8]},
    "fearful": {"minor": True, "kick": "four", "snare": True, "hats": 16, "bright": 0.75, "gain": 0.95, "prog": [0, 6, 1, 6]},
}


def _env(n: int, sr: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(n) / sr
    a = np.clip(t / max(attack_s, 1e-4), 0, 1)
    return a * np.exp(-t / max(decay_s, 1e-4))


def _add(buf: np.ndarray, start: int, sig: np.ndarray) -> None:
    if start >= len(buf):
        return
    end = min(len(buf), start + len(sig))
    buf[start:end] += sig[: end - start]


def synth_track(tempo_bpm: float, mood: str, duration_s: float, beats_per_bar: int, seed: int, sr: int) -> np.ndarray:
    """Render the procedural track (numpy only): drums on the exact grid, bass on downbeats, a pad
    with the mood's chord progression (major or minor), an arpeggio on eighths."""
    rng = np.random.default_rng(seed)
    st = _MOOD_STYLE[mood]
    n = int(round(duration_s * sr))
    drums = np.zeros(n)
    tonal = np.zeros(n)
    beat = 60.0 / tempo_bpm
    n_beats = int(math.floor(duration_s / beat + 1e-9)) + 1
    root = 57 if not st["minor"] else 52  # A3 / E3 (MIDI)
    scale = [0, 2, 3, 5, 7, 8, 10] if st["minor"] else [0, 2, 4, 5, 7, 9, 11]

    def hz(midi: float) -> float:
        return 440.0 * 2 ** ((midi - 69) / 12)

    kick_len = int(0.35 * sr)
    tk = np.arange(kick_len) / sr
    kick = np.sin(2 * np.pi * (45 * tk + (120 - 45) * 0.04 * (1 - np.exp(-tk / 0.04)))) * _env(kick_len, sr, 0.002, 0.12)
    sn_len = int(0.2 * sr)
    hat_len = int(0.05 * sr)
    for b in range(n_beats):
        s = int(round(b * beat * sr))
        pos = b % beats_per_bar
        down = pos == 0
        play_kick = {"four": True, "two": pos in (0, beats_per_bar // 2) if beats_per_bar % 2 == 0 else down,
                     "one": down}[st["kick"]]
        if play_kick:
            _add(drums, s, kick * (1.0 if down else 0.6))
        else:  # a soft tick keeps every beat audible, so the grid is perceptible in calm moods too
            _add(drums, s, 0.3 * kick)
        if st["snare"] and not down and (beats_per_bar == 3 or pos % 2 == 1):
            noise = rng.standard_normal(sn_len)
            _add(drums, s, 0.35 * noise * _env(sn_len, sr, 0.001, 0.05))
        if st["hats"]:
            per = st["hats"] // 4
            for h in range(per):
                hs = int(round((b + h / per) * beat * sr))
                noise = np.diff(rng.standard_normal(hat_len + 1))
                # a broadband tick on every beat (kicks alone barely move a median-aggregated onset curve)
                _add(drums, hs, (0.08 if h == 0 else 0.05) * noise * _env(hat_len, sr, 0.001, 0.012))
    # tonal parts, bar by bar
    bar = beat * beats_per_bar
    n_bars = int(math.ceil(duration_s / bar))
    for k in range(n_bars):
        s = int(round(k * bar * sr))
        deg = st["prog"][k % len(st["prog"])]
        chord_root = root + deg
        third = 3 if st["minor"] else 4
        if st["prog"] == _MOOD_STYLE["fearful"]["prog"]:
            third = 3
        chord = [chord_root, chord_root + third, chord_root + 7]
        L = int(round(bar * sr))
        t = np.arange(L) / sr
        pad = np.zeros(L)
        for note in chord:
            f = hz(note + 12)
            pad += np.sin(2 * np.pi * f * t) + st["bright"] * 0.3 * np.sin(2 * np.pi * 2 * f * t) + st["bright"] * 0.15 * np.sin(2 * np.pi * 3 * f * t)
        pad *= np.clip(t / 0.05, 0, 1) * np.clip((bar - t) / 0.05, 0, 1) * 0.06
        _add(tonal, s, pad)
        bass_len = int(min(bar, 1.5) * sr)
        tb = np.arange(bass_len) / sr
        _add(tonal, s, 0.25 * np.sin(2 * np.pi * hz(chord_root - 12) * tb) * _env(bass_len, sr, 0.005, 0.5))
        # arpeggio on eighths (skip the downbeat so the accent stays with the drums)
        if st["bright"] >= 0.4:
            for e in range(1, 2 * beats_per_bar):
                if rng.random() < 0.3:
                    continue
                es = s + int(round(e * beat / 2 * sr))
                note = chord_root + 12 + scale[int(rng.integers(0, len(scale)))]
                el = int(beat / 2 * sr)
                te = np.arange(el) / sr
                _add(tonal, es, 0.05 * np.sin(2 * np.pi * hz(note) * te) * _env(el, sr, 0.003, 0.08))
    y = st["gain"] * (drums + tonal)
    fade = min(int(0.05 * sr), n // 4)
    if fade > 0:
        y[-fade:] *= np.linspace(1, 0, fade)
    peak = float(np.max(np.abs(y))) or 1.0
    return (y / peak * 0.89 * st["gain"]).astype(np.float32)


@register("generate_music")
def generate_music(inp: GenerateMusicInput) -> MusicAnalysis:
    """Write a procedural background track (WAV) for a tempo, mood and length; its beat grid is exact by construction."""
    import soundfile as sf

    out_dir = Path(inp.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ToolInputError(f"cannot create out_dir {str(out_dir)!r}: {e.strerror}", hint="pass a writable folder") from e
    y = synth_track(inp.tempo_bpm, inp.mood, inp.duration_s, inp.beats_per_bar, inp.seed, inp.sample_rate_hz)
    name = f"bgm_{inp.mood}_{inp.tempo_bpm:g}bpm_{inp.beats_per_bar}_{inp.duration_s:g}s_seed{inp.seed}.wav"
    path = out_dir / name
    sf.write(str(path), y, inp.sample_rate_hz, subtype="PCM_16")
    beat = 60.0 / inp.tempo_bpm
    duration = len(y) / inp.sample_rate_hz
    n_beats = int(math.floor(duration / beat + 1e-9)) + 1
    beats = [round(k * beat, 6) for k in range(n_beats) if k * beat < duration]
    bar = beat * inp.beats_per_bar
    n_full = int(math.floor(duration / bar + 1e-9))
    bars = [round(k * bar, 6) for k in range(n_full + 1)]
    v, a = EMOTION_VA[inp.mood]
    return MusicAnalysis(
        path=str(path), duration_s=round(duration, 6), tempo_bpm=float(inp.tempo_bpm), beats_per_bar=inp.beats_per_bar,
        beats_s=beats, downbeats_s=beats[:: inp.beats_per_bar], bars_s=bars,
        sections_s=[round(k * 8 * bar, 6) for k in range(1, n_full // 8 + 1) if k * 8 * bar < duration],
        valence=v, arousal=a, emotion=inp.mood, source="generated",
    )


# --------------------------------------------------------------------------- warm-up


def warm_up(folder: Path | None = None) -> float:
    """Analyse a short generated track once, so that numba compiles librosa's kernels into its
    cache (``NUMBA_CACHE_DIR``, in the workspace's ``cache/numba``) at set-up time and no user job
    pays the compile (≈ 20 s on 2 cores). Returns the seconds it took (small once cached)."""
    import shutil
    import tempfile
    import time

    from tools.core.settings import get_settings
    from tools.core.workspace import Workspace

    t0 = time.perf_counter()
    base = folder or Workspace(get_settings().workspace).inside("cache")
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="music-warmup-", dir=base))
    try:
        for bpb in (4, 3):  # both metres: bar_phase's paths
            ma = generate_music(GenerateMusicInput(out_dir=str(tmp), tempo_bpm=120, duration_s=12.0, beats_per_bar=bpb))
            analyze_music_full(ma.path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return time.perf_counter() - t0


if __name__ == "__main__":  # python -m tools.story.music: the set-up warm-up (see run.sh)
    import os
    import sys

    from tools.core.environment import confine_third_party_state
    from tools.core.settings import get_settings

    confine_third_party_state(get_settings().workspace)  # numba's cache in the workspace, as app.py has it
    print(f"[adreel] music analysis warmed up in {warm_up():.1f} s (numba cache: {os.environ['NUMBA_CACHE_DIR']})", file=sys.stderr)
