"""Backends chosen once: :func:`build_deps` reads the settings and picks who plays each role.

    role        embedded default (always there)       served / optional
    narrator    embedded knowledge-grounded narrator   vLLM (serving/narrator_client.py)
    speech      espeak-ng                              neural Piper voice (onnxruntime), OpenAI-compatible endpoint
    planner     rule-based brief parser                planner model over vLLM (tool call)
    encoder     classic descriptors + lexical text     open_clip / Chinese-CLIP (local weights)

The app, the CLI, the UI and the tests each call :func:`build_deps` once (tests may build a
``Deps`` with fakes) and hand it to the planner graph; nodes pass what a tool needs into its
input, so no tool reads a backend choice from the environment. Which names exist, how they read
and the one fallback rule live in ``tools.core.backends``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from agents.brief import BriefParser, RuleBriefParser
from tools.core.backends import check_backend
from tools.core.models import ProductInfo, StoryBeat
from tools.core.settings import Settings, get_settings
from tools.narrate.lines import EmbeddedNarratorBackend, Narrator
from tools.narrate.tts import SpeechEndpoint
from tools.understand.index import EncoderChoice


@dataclass(frozen=True)
class SpeechChoice:
    """The speech engine; for the endpoint, where it is (the key stays in the environment); for
    the neural voice, the voice files (none: the packaged English voice)."""

    engine: str = "espeak"
    endpoint: SpeechEndpoint | None = None
    voices: tuple[str, ...] = ()


_PREFETCHED: set[tuple[str, str | None, str | None]] = set()
_PREFETCH_LOCK = threading.Lock()


@dataclass(frozen=True)
class Deps:
    """What the planner graph's nodes use besides the registry's tools."""

    narrator: Narrator = field(default_factory=EmbeddedNarratorBackend)
    brief_parser: BriefParser = field(default_factory=RuleBriefParser)
    speech: SpeechChoice = field(default_factory=SpeechChoice)
    encoder: EncoderChoice = field(default_factory=EncoderChoice)
    editor_client: Any = None
    """Chat client of the planner model for chat edits by tool calls (None: the rule-based editor)."""

    def prefetch(self, text_model: bool = True, product: ProductInfo | None = None) -> threading.Thread | None:
        """Load models a job will need in one background thread, each once per process (None when
        there is nothing left to load). A failure is left for the step that needs it to meet (and
        fall back from).

        * ``text_model``: the encoder's text model, which the retrieve step (photos only) needs
          (≈ 3.5 s cold): it loads while ingest waits on files and ffprobe.
        * ``product``: the embedded narrator's corpus models for the product's language (≈ 1.1 s
          cold: character n-gram TF-IDF over the corpus products, frames, language model), which
          the draft step would otherwise pay after scoring. After the text model, not beside it:
          both are Python-bound, and the retrieve step waits for the text model first. A served
          narrator has nothing to load here.
        """
        todo: list[Any] = []
        with _PREFETCH_LOCK:
            key = (self.encoder.name, self.encoder.model, self.encoder.checkpoint)
            if text_model and key not in _PREFETCHED:
                _PREFETCHED.add(key)
                todo.append(lambda: self.encoder.build().encode_texts(["warm up"]))
            nkey = ("narrator", product.language if product else None, None)
            if product is not None and self.narrator.name == "embedded" and nkey not in _PREFETCHED:
                _PREFETCHED.add(nkey)
                # one short line about the product: what a draft does first (the line is thrown away)
                beat = StoryBeat(index=0, shot_id="warm-up", material_id="warm-up", in_s=0.0, out_s=2.0, duration_s=2.0,
                                 label="产品推荐", word_min=7, word_max=13)
                todo.append(lambda: self.narrator.narrate(product, [beat], product.language, 1, {}))
        if not todo:
            return None

        def load() -> None:
            for fn in todo:
                try:
                    fn()
                except Exception:  # noqa: BLE001, S112 - the step that needs the model reports its failure
                    continue

        t = threading.Thread(target=load, name="adreel-prefetch", daemon=True)
        t.start()
        return t

    def describe(self) -> dict[str, str]:
        """Role → backend name, for the job's notes."""
        return {"narrator": self.narrator.name, "planner": self.brief_parser.name, "speech": self.speech.engine,
                "encoder": self.encoder.name}


def build_deps(settings: Settings | None = None) -> Deps:
    """Pick every backend from ``settings`` (the environment when None). Served backends are built
    lazily: nothing connects to a server here, so a server that is down costs nothing until used,
    and then the embedded default stands in with a warning."""
    s = settings or get_settings()
    narrator: Narrator = EmbeddedNarratorBackend()
    if check_backend("narrator", s.narrator) == "vllm":
        from serving.narrator_client import ServedNarratorBackend

        narrator = ServedNarratorBackend()
    parser: BriefParser = RuleBriefParser()
    editor_client = None
    if check_backend("planner", s.planner) == "llm":
        from agents.llm_planner import LLMBriefParser
        from serving.client import ChatClient

        editor_client = ChatClient.from_settings(s)
        parser = LLMBriefParser(editor_client)
    speech = SpeechChoice()
    if check_backend("speech", s.tts) == "openai":
        speech = SpeechChoice("openai", SpeechEndpoint(base_url=s.tts_base_url, model=s.tts_model, voice=s.tts_voice or "alloy",
                                                       timeout_s=s.tts_timeout_s))
    elif s.tts == "piper":
        speech = SpeechChoice("piper", voices=tuple(v.strip() for v in s.tts_voice.split(",") if v.strip()))
    encoder = EncoderChoice(name=check_backend("encoder", s.encoder), model=s.encoder_model,  # type: ignore[arg-type]
                            checkpoint=s.encoder_checkpoint)
    return Deps(narrator=narrator, brief_parser=parser, speech=speech, encoder=encoder, editor_client=editor_client)
