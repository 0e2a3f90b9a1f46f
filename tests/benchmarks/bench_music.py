"""Benchmark + evaluation of music analysis: time per minute of audio, mir_eval beat F-measure on
madmom's annotated sample and on generated tracks, librosa's octave error on the 90-bpm trumpet.

    OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_music.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/adreel_numba_cache")

from tools.story.music import GenerateMusicInput, analyze_music_full, evaluate_beats, generate_music  # noqa: E402

MUSIC = ROOT.parent / "shared" / "media" / "music"


def main() -> None:
    analyze_music_full(str(MUSIC / "trumpet_loop_90bpm_sorohanro.ogg"))  # warm numba
    tot_audio = tot_time = 0.0
    for f in sorted(MUSIC.glob("*.ogg")):
        t = time.perf_counter()
        ma, d = analyze_music_full(str(f))
        el = time.perf_counter() - t
        tot_audio += ma.duration_s
        tot_time += el
        print(json.dumps({"track": f.name, "duration_s": round(ma.duration_s, 1), "analysis_s": round(el, 2),
                          "raw_librosa_bpm": round(d["raw_tempo_bpm"], 1), "tempo_bpm": round(ma.tempo_bpm, 1),
                          "metre": ma.beats_per_bar, "sections": len(ma.sections_s), "valence": ma.valence,
                          "arousal": ma.arousal, "emotion": ma.emotion}, ensure_ascii=False), flush=True)
    print(json.dumps({"analysis_s_per_audio_minute": round(tot_time / (tot_audio / 60), 2)}))
    ref = np.loadtxt(MUSIC / "madmom_sample" / "sample.beats", comments="#")[:, 0]
    for hint in (None, 87.5):
        ma, d = analyze_music_full(str(MUSIC / "madmom_sample" / "sample.wav"), tempo_hint_bpm=hint)
        print(json.dumps({"madmom_sample": True, "tempo_hint_bpm": hint, "raw_librosa_bpm": round(d["raw_tempo_bpm"], 1),
                          "tempo_bpm": round(ma.tempo_bpm, 1), **{k: round(v, 3) for k, v in evaluate_beats(ref, ma.beats_s).items()}}))
    ma, d = analyze_music_full(str(MUSIC / "trumpet_loop_90bpm_sorohanro.ogg"))
    print(json.dumps({"trumpet_stated_bpm": 90, "raw_librosa_bpm": round(d["raw_tempo_bpm"], 1),
                      "octave_error_ratio": round(d["raw_tempo_bpm"] / 90, 3), "corrected_bpm": round(ma.tempo_bpm, 1)}))
    tmp = tempfile.mkdtemp(prefix="adreel_gen_")
    os.environ["ADREEL_WORKSPACE"] = tmp  # generate_music writes only inside the workspace: this folder is it
    fs, metre_ok, down_ok = [], 0, 0
    cases = [(m, b, tempo) for m in ("excited", "relaxed", "neutral", "sad", "tense", "fearful") for b in (4, 3) for tempo in (84, 124)]
    for mood, bpb, tempo in cases:
        g = generate_music(GenerateMusicInput(out_dir=tmp, tempo_bpm=tempo, mood=mood, duration_s=30, beats_per_bar=bpb))
        ma, _ = analyze_music_full(g.path)
        fs.append(evaluate_beats(g.beats_s, ma.beats_s)["f_measure"])
        metre_ok += ma.beats_per_bar == bpb
        down_ok += ma.beats_per_bar == bpb and all(min(abs(np.asarray(g.downbeats_s) - x)) < 0.07 for x in ma.downbeats_s)
    print(json.dumps({"generated_tracks": len(cases), "mean_f_measure": round(float(np.mean(fs)), 3),
                      "min_f_measure": round(float(np.min(fs)), 3), "metre_correct": metre_ok, "downbeats_correct": down_ok}))


if __name__ == "__main__":
    main()
