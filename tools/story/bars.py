"""The music's bar grid as the storyline sees it.

Montage §3.3: shot durations are whole bars, so every cut lands on a bar line. The timeline
starts on the music's first downbeat (``offset_s`` into the file); the grid is every later bar
line relative to it. Generated music takes its tempo from the wanted mood (faster for higher
arousal, the EaMD emotion classes of montage §3.2).
"""

from __future__ import annotations

from tools.core.models import MusicAnalysis

#: Tempo of generated background music by wanted mood (EaMD classes): faster for higher arousal.
MOOD_TEMPO_BPM: dict[str, float] = {"excited": 124.0, "tense": 112.0, "neutral": 100.0, "fearful": 96.0, "relaxed": 84.0,
                                    "sad": 72.0}


def tempo_for_mood(mood: str | None, tempo_bpm: float | None = None) -> float:
    """Tempo of generated music: the brief's tempo when given, else the mood's (100 bpm when unknown)."""
    return float(tempo_bpm) if tempo_bpm else MOOD_TEMPO_BPM.get(mood or "excited", 100.0)


def bar_grid(music: MusicAnalysis | None) -> tuple[float, list[float]]:
    """``(offset_s, grid_s)``: where the first bar starts in the file, and every later bar line in
    timeline seconds (the timeline's 0 is that first bar). No music: ``(0, [])``."""
    bars = list(music.bars_s) if music else []
    if not bars:
        return 0.0, []
    return bars[0], [round(b - bars[0], 6) for b in bars[1:]]
