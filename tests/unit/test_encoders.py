"""Encoders: the protocol, edit-robustness of the classic descriptor (issue 3 acceptance), text
features, and the CLIP family with tiny random models built here (no downloads, CPU)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tools.understand.encoders import (
    CLASSIC_IMAGE_DIM,
    CLASSIC_TEXT_DIM,
    ClassicEncoder,
    Encoder,
    clip_preprocess,
    get_encoder,
    lexical_tokens,
    lexical_vector,
)
from tools.core.errors import ToolInputError
from tools.core.images import load_image

sys.path.insert(0, str(Path(__file__).parent))
from _media_edits import EDIT_NAMES, edited_copies  # noqa: E402


@pytest.fixture(scope="module")
def classic() -> ClassicEncoder:
    return get_encoder("classic")  # type: ignore[return-value]


def _rng_image(seed: int, h: int = 120, w: int = 160) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    for _ in range(6):
        y, x = rng.integers(0, h - 20), rng.integers(0, w - 20)
        img[y : y + rng.integers(10, 60), x : x + rng.integers(10, 80)] = rng.integers(0, 255, 3)
    return img


def test_classic_follows_protocol(classic: ClassicEncoder) -> None:
    assert isinstance(classic, Encoder)
    v = classic.encode_images([_rng_image(0), _rng_image(1)])
    assert v.shape == (2, CLASSIC_IMAGE_DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    t = classic.encode_texts(["a blue duffle bag", "夏日清凉连衣裙", ""])
    assert t.shape == (3, CLASSIC_TEXT_DIM) and t.dtype == np.float32
    assert np.allclose(np.linalg.norm(t[:2], axis=1), 1, atol=1e-5)
    assert np.allclose(t[2], 0)  # empty text → zero vector, matches nothing
    assert classic.encode_images([]).shape == (0, CLASSIC_IMAGE_DIM)


def test_classic_is_deterministic_and_flip_invariant(classic: ClassicEncoder) -> None:
    img = _rng_image(3)
    a, b, c = classic.encode_images([img, img.copy(), np.ascontiguousarray(img[:, ::-1])])
    assert np.array_equal(a, b)
    assert float(a @ c) > 0.9999


def test_lexical_tokens_zh_and_en() -> None:
    zh = lexical_tokens("夏日清凉连衣裙")
    assert any(t.startswith("w:") for t in zh) and "b:连衣" in zh
    en = lexical_tokens("Joust Duffle-Bag")
    assert "w:joust" in en and "t:#jo" in en
    # same words, same vector; different words, near-orthogonal
    assert float(lexical_vector("连衣裙 夏日") @ lexical_vector("夏日 连衣裙")) > 0.99
    assert abs(float(lexical_vector("连衣裙") @ lexical_vector("automobile"))) < 0.2


def test_minilm_half_is_semantic(classic: ClassicEncoder) -> None:
    """Paraphrase beats an unrelated product even without shared words (MiniLM half)."""
    q, a, b = classic.encode_texts(["a sports bag for the gym", "Joust Duffle Bag, ideal for athletes", "yoga DVD for beginners"])
    assert float(q @ a) > float(q @ b)


def test_near_duplicate_retrieval_acceptance(classic: ClassicEncoder, media_dir: Path) -> None:
    """Issue 3: edited copies (crop 80 %, half size, JPEG q40, brightness ±20 %, flip) of every photo
    in ../shared/media/images find their original as top hit for ≥ 95 % of queries."""
    paths = sorted(p for p in (media_dir / "images").iterdir() if p.suffix.lower() in {".jpg", ".png", ".jpeg"})
    origs = [load_image(p, max_side=1024) for p in paths]
    index = classic.encode_images(origs)
    queries, truth, kinds = [], [], []
    for i, o in enumerate(origs):
        for k, e in edited_copies(o).items():
            queries.append(e)
            truth.append(i)
            kinds.append(k)
    top = (classic.encode_images(queries) @ index.T).argmax(1)
    hit = top == np.asarray(truth)
    per_edit = {k: float(hit[np.asarray(kinds) == k].mean()) for k in EDIT_NAMES}
    print(f"top-1 {hit.mean():.3f} over {len(hit)} queries; per edit {per_edit}")
    assert hit.mean() >= 0.95, per_edit


def test_clip_preprocess_shape_and_normalisation() -> None:
    x = clip_preprocess(np.full((50, 80, 3), 255, np.uint8), 32)
    assert x.shape == (3, 32, 32) and x.dtype == np.float32
    assert np.allclose(x[0], (1 - 0.48145466) / 0.26862954, atol=1e-4)


def test_unknown_encoder_is_clear() -> None:
    with pytest.raises(ToolInputError, match="unknown encoder"):
        get_encoder("resnet")
    with pytest.raises(ToolInputError, match="needs a model"):
        get_encoder("open_clip")


TINY_OPEN_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


@pytest.mark.slow
def test_open_clip_tiny_random_model(tmp_path: Path) -> None:
    """open_clip from a local config + checkpoint, on CPU, with no torchvision installed."""
    import importlib.util

    if importlib.util.find_spec("open_clip") is None:  # not importorskip: a bare import needs torchvision
        pytest.skip("open-clip-torch not installed (optional extra `clip`)")
    import torch

    from tools.understand.encoders import OpenClipEncoder

    cfg = tmp_path / "tiny-clip.json"
    cfg.write_text(json.dumps(TINY_OPEN_CLIP))
    enc = OpenClipEncoder(str(cfg))
    assert isinstance(enc, Encoder) and enc.shared_space and enc.dim == enc.text_dim == 32
    ckpt = tmp_path / "tiny.pt"
    torch.save(enc.model.state_dict(), ckpt)
    enc2 = OpenClipEncoder(str(cfg), ckpt)
    img = _rng_image(5)
    vi = enc2.encode_images([img, str(_save(img, tmp_path / "a.png"))])
    assert vi.shape == (2, 32) and np.allclose(np.linalg.norm(vi, axis=1), 1, atol=1e-5)
    assert np.allclose(vi[0], vi[1], atol=1e-4)  # array and file give the same vector
    assert np.allclose(enc.encode_texts(["red bag"]), enc2.encode_texts(["red bag"]), atol=1e-6)  # weights loaded
    if importlib.util.find_spec("torchvision") is None:
        assert "torchvision" not in sys.modules  # the import placeholder did not leak


def _save(img: np.ndarray, p: Path) -> Path:
    from PIL import Image

    Image.fromarray(img).save(p)
    return p


@pytest.mark.slow
def test_chinese_clip_tiny_random_model(tmp_path: Path) -> None:
    from transformers import BertTokenizerFast, ChineseCLIPConfig, ChineseCLIPModel

    from tools.understand.encoders import ChineseClipEncoder

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"夏日清凉连衣裙红色包abcdefghijklmnopqrstuvwxyz"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    cfg = ChineseCLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
        vision_config={"image_size": 32, "patch_size": 16, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64, "projection_dim": 16},
        projection_dim=16,
    )
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ChineseCLIPModel(cfg).save_pretrained(tmp_path / "cc")
    tok.save_pretrained(tmp_path / "cc")
    enc = ChineseClipEncoder(tmp_path / "cc")
    t = enc.encode_texts(["夏日连衣裙", "红色包"])
    i = enc.encode_images([_rng_image(7)])
    assert t.shape == (2, 16) and i.shape == (1, 16)
    assert np.allclose(np.linalg.norm(np.vstack([t, i]), axis=1), 1, atol=1e-5)
