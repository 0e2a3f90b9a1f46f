"""The persisted FAISS index: add/replace/remove, exact vs IVF, encoder guard, and the text-search
acceptance (find a photo by words printed on it, by its caption, by its file name)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools.core.paths import allow_inputs, use_workspace
from tools.understand.encoders import l2n
from tools.core.errors import ToolInputError
from tools.understand.index import MaterialIndex, VectorSpace, material_text
from tools.core.registry import run_tool


class FakeEncoder:
    """A deterministic stand-in with small dims (tests of the index, not of encoders)."""

    shared_space = False

    def __init__(self, name: str = "fake", dim: int = 16, text_dim: int = 8) -> None:
        self.name, self.dim, self.text_dim = name, dim, text_dim

    def encode_images(self, images):  # noqa: ANN001, ANN201
        return l2n(np.stack([np.resize(np.asarray(im, np.float32).ravel()[:: 7] + 1, self.dim) for im in images]))

    def encode_texts(self, texts):  # noqa: ANN001, ANN201
        return l2n(np.stack([np.resize(np.frombuffer(t.encode().ljust(self.text_dim, b"x"), np.uint8).astype(np.float32), self.text_dim) for t in texts]))


def _vecs(n: int, d: int, seed: int = 0) -> np.ndarray:
    return l2n(np.random.default_rng(seed).normal(size=(n, d)))


def test_flat_add_replace_remove() -> None:
    vs = VectorSpace(16)
    v = _vecs(5, 16)
    vs.add([f"m{i}" for i in range(5)], v)
    assert vs.search(v[2], 1)[0][0][0] == "m2"
    vs.add(["m2"], v[4:5])  # replace: same id, new vector, no duplicate entry
    assert len(vs) == 5 and vs.index.ntotal == 5
    assert np.allclose(vs.vector("m2"), v[4])
    assert vs.remove(["m2", "nope"]) == 1
    assert len(vs) == 4 and all(h[0] != "m2" for h in vs.search(v[4], 4)[0])


def test_switches_to_ivf_and_back_with_good_recall() -> None:
    """Clustered data (like real descriptors): IVF recall@10 vs Flat ≥ 0.9; removal still exact."""
    rng = np.random.default_rng(1)
    centres = _vecs(40, 32, seed=2)
    x = l2n(centres[rng.integers(0, 40, 3000)] + 0.25 * rng.normal(size=(3000, 32)) / np.sqrt(32))
    ids = [f"m{i}" for i in range(3000)]
    vs = VectorSpace(32, ann_min_vectors=2000)
    vs.add(ids[:1500], x[:1500])
    assert vs.kind == "flat"
    vs.add(ids[1500:], x[1500:])
    assert vs.kind == "ivf"
    q = x[:200] + 0.01
    exact = l2n(q) @ x.T
    truth = np.argsort(-exact, axis=1)[:, :10]
    got = vs.search(q, 10)
    recall = np.mean([len({f"m{j}" for j in t} & {h[0] for h in g}) / 10 for t, g in zip(truth, got)])
    assert recall >= 0.9, recall
    vs.remove(ids[:2500])
    assert vs.kind == "flat" and len(vs) == 500
    assert vs.search(x[2600], 1)[0][0][0] == "m2600"


def test_dimension_mismatch_is_refused() -> None:
    vs = VectorSpace(16)
    with pytest.raises(ToolInputError, match="dimension 16"):
        vs.add(["a"], _vecs(1, 32))
    with pytest.raises(ToolInputError, match="dimension"):
        vs.search(_vecs(1, 8))


def test_persist_reload_and_encoder_guard(tmp_path: Path) -> None:
    enc = FakeEncoder()
    idx = MaterialIndex.open(tmp_path / "ix", enc)
    imgs = [np.full((8, 8, 3), i * 20, np.uint8) + np.arange(64, dtype=np.uint8).reshape(8, 8, 1) * i for i in range(6)]
    idx.add_images([f"m{i}" for i in range(6)], imgs)
    idx.add_texts([f"m{i}" for i in range(6)], [f"text {i}" for i in range(6)])
    idx.save()
    meta = json.loads((tmp_path / "ix" / "meta.json").read_text())
    assert meta["encoder"] == {"name": "fake", "dim": 16, "text_dim": 8, "shared_space": False}
    again = MaterialIndex.open(tmp_path / "ix", enc)
    assert len(again.spaces["image"]) == 6
    assert again.search_image(imgs[3], 1)[0].id == "m3"
    assert "m3" not in [h.id for h in again.search_id("m3", 3)]
    with pytest.raises(ToolInputError, match="built by encoder 'fake'"):
        MaterialIndex.open(tmp_path / "ix", FakeEncoder(dim=32))
    with pytest.raises(ToolInputError, match="mixed encoders"):
        MaterialIndex.open(tmp_path / "ix", FakeEncoder(name="other"))
    # removal also drops shot entries "<id>:<n>"
    again.add_vectors("image", ["m1:0", "m1:1"], _vecs(2, 16))
    assert again.remove(["m1"]) == 4  # image m1, 2 shots, text m1
    again.save()
    assert len(MaterialIndex.open(tmp_path / "ix", enc).spaces["image"]) == 5


def test_material_text_uses_file_name_words() -> None:
    t = material_text(original_name="magento_mb01-blue-0.jpg", caption="Joust Duffle Bag", ocr_text="LUMA")
    assert "Joust Duffle Bag" in t and "LUMA" in t and "mb01 blue" in t


@pytest.fixture(scope="module")
def photo_library(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """All photos of ../shared/media/images indexed with the classic encoder, their OCR text, file
    name and, for Magento packshots, the product name + description from the catalogue JSONL."""
    from tools.understand.ocr import ocr_image

    products = [json.loads(x) for x in (media_dir / "text" / "magento_luma_products_en.jsonl").read_text().splitlines() if x.strip()]
    by_img = {Path(im).name: p for p in products for im in p.get("images", [])}
    folder = tmp_path_factory.mktemp("lib") / "index"
    items, names = [], {}
    for i, p in enumerate(sorted((media_dir / "images").iterdir())):
        mid = f"{i:016x}"
        names[p.name] = mid
        prod = by_img.get(p.name.removeprefix("magento_"))
        caption = f"{prod['name']}. {prod['description']}" if prod else ""
        # OCR only where the acceptance needs it, to keep the unit suite fast
        ocr = ocr_image(p).text if p.name in {"openmpf_police_cars_andre_stumpf.jpg", "magento_lt03.jpg"} else ""
        items.append({"id": mid, "image_path": str(p), "text": material_text(original_name=p.name, caption=caption, ocr_text=ocr)})
    with use_workspace(folder.parent), allow_inputs(media_dir):  # the library's own workspace, shared by the module's tests
        out = run_tool("index_materials", {"index_dir": str(folder), "items": items})
    assert out.image_vectors == len(items) and out.kind == "flat" and out.encoder == "classic"
    return folder, names


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("police reward", "openmpf_police_cars_andre_stumpf.jpg", id="ocr-en-printed"),
        pytest.param("yoga adventure DVD", "magento_lt03.jpg", id="ocr-dvd-cover"),
        pytest.param("Joust Duffle Bag", "magento_mb01-blue-0.jpg", id="caption"),
        pytest.param("a sporty bag for athletes", "magento_mb01-blue-0.jpg", id="caption-paraphrase"),
        pytest.param("ladybird", "mate_LadyBird.jpg", id="file-name"),
    ],
)
def test_text_search_acceptance(photo_library: tuple[Path, dict[str, str]], query: str, expected: str) -> None:
    folder, names = photo_library
    with allow_inputs(folder):
        hits = run_tool("search_materials", {"index_dir": str(folder), "text": query, "k": 3}).hits
    assert hits and hits[0].id == names[expected], (query, hits)


def test_search_by_image_file_and_id(photo_library: tuple[Path, dict[str, str]], media_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    folder, names = photo_library
    src = media_dir / "images" / "skimage_chelsea.png"
    q = tmp_path / "cat_small.jpg"
    Image.open(src).convert("RGB").resize((225, 150)).save(q, quality=50)
    with allow_inputs(folder):
        hits = run_tool("search_materials", {"index_dir": str(folder), "image_path": str(q), "k": 1}).hits
        assert hits[0].id == names["skimage_chelsea.png"]
        hits = run_tool("search_materials", {"index_dir": str(folder), "material_id": names["skimage_chelsea.png"], "k": 5}).hits
        assert len(hits) == 5 and names["skimage_chelsea.png"] not in {h.id for h in hits}
        with pytest.raises(ToolInputError, match="exactly one"):
            run_tool("search_materials", {"index_dir": str(folder), "text": "x", "material_id": "y"})
