"""TTS through an OpenAI-compatible speech endpoint (``ADREEL_TTS=openai``), with fallback.

No real speech model can run here, so the endpoint is a small local HTTP server speaking the
OpenAI ``POST /v1/audio/speech`` protocol that synthesises with espeak-ng (rate × ``speed``) at
24 kHz. The client side is the real one (openai SDK, ffmpeg normalisation, rate fitting,
fallback); what is faked is only the voice model behind the URL.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from serving.vllm_server import free_port
from tools.core.models import NarrationLine, count_words
from tools.narrate.tts import SpeechEndpoint, SynthesizeInput, synthesize_speech, wav_duration_s


class _SpeechHandler(BaseHTTPRequestHandler):
    requests: list[dict] = []
    fail_with: int | None = None

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if self.path.rstrip("/") != "/v1/audio/speech" or type(self).fail_with:
            self.send_response(type(self).fail_with or 404)
            self.end_headers()
            self.wfile.write(b'{"error": "nope"}')
            return
        voice = "cmn" if any("\u4e00" <= ch <= "\u9fff" for ch in body["input"]) else "en-us"
        with tempfile.TemporaryDirectory() as d:
            raw, wav = Path(d) / "a.wav", Path(d) / "b.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(int(175 * float(body.get("speed", 1.0)))), "-w", str(raw), "--", body["input"]],
                           check=True, capture_output=True)
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-ar", "24000", str(wav)], check=True)
            data = wav.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def speech_server():
    _SpeechHandler.requests, _SpeechHandler.fail_with = [], None
    port = free_port()
    srv = ThreadingHTTPServer(("127.0.0.1", port), _SpeechHandler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{port}/v1"
    srv.shutdown()


LINES = [("这款挂耳咖啡香气浓郁，回甘明显，每天早上来一杯。", 1.6), ("Rich aroma and a smooth sweet finish, every single morning.", 2.2)]


def _inp(tmp_path: Path, **kw) -> SynthesizeInput:
    lines = [NarrationLine(beat_index=i, label="产品功效", text=t, language="zh" if i == 0 else "en",
                           word_min=1, word_max=max(2, count_words(t, "zh" if i == 0 else "en"))) for i, (t, _) in enumerate(LINES)]
    return SynthesizeInput(lines=lines, max_durations_s=[m for _, m in LINES], out_dir=f"{tmp_path.name}/voice", **kw)  # relative: inside the workspace


def test_endpoint_speaks_every_line_inside_its_shot(speech_server: str, tmp_path: Path) -> None:
    out = synthesize_speech(_inp(tmp_path, engine="openai", endpoint=SpeechEndpoint(base_url=speech_server, voice="nova")))
    assert out.engine == "openai" and out.fallback_reason is None
    for clip, (_, max_s) in zip(out.clips, LINES):
        assert clip.duration_s <= max_s + 1e-3 and abs(wav_duration_s(Path(clip.path)) - clip.duration_s) < 1e-3
    reqs = _SpeechHandler.requests
    assert all(r["path"] == "/v1/audio/speech" and r["voice"] == "nova" and r["response_format"] == "wav" for r in reqs)
    assert any(r["speed"] > 1.0 for r in reqs)  # a line too long at speed 1 was asked again, faster


@pytest.mark.parametrize("status", [None, 500])
def test_endpoint_down_or_failing_falls_back_to_espeak(speech_server: str, tmp_path: Path, status) -> None:
    if status is None:
        url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    else:
        _SpeechHandler.fail_with = status
        url = speech_server
    out = synthesize_speech(_inp(tmp_path, engine="openai", endpoint=SpeechEndpoint(base_url=url, timeout_s=5)))
    assert out.engine == "espeak" and out.fallback_reason and "speech endpoint" in out.fallback_reason
    assert all(c.duration_s <= m + 1e-3 for c, (_, m) in zip(out.clips, LINES))


def test_bad_endpoint_url_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    from tools.core.errors import ToolInputError
    from tools.narrate.tts import speak_openai

    with pytest.raises(ToolInputError, match="must start with http"):
        speak_openai("hi", tmp_path / "x.wav", endpoint=SpeechEndpoint(base_url="localhost:8880"))


def test_engine_comes_from_the_input_not_the_environment(speech_server: str, tmp_path: Path, monkeypatch) -> None:
    """A tool's output depends only on its input: ADREEL_TTS alone does not switch the engine
    (agents.deps reads the settings once and puts the engine into the input)."""
    monkeypatch.setenv("ADREEL_TTS", "openai")
    monkeypatch.setenv("ADREEL_TTS_BASE_URL", speech_server)
    _SpeechHandler.requests.clear()
    out = synthesize_speech(_inp(tmp_path))
    assert out.engine == "espeak" and out.fallback_reason is None and not _SpeechHandler.requests
