"""A FAISS index of a product library's materials, persisted next to the library.

Layout of an index folder (``products/<product_id>/index/`` when wired into the workspace)::

    meta.json      encoder name, dims, id ↔ label maps, index kind per space
    image.faiss    visual vectors (one per material, or per shot keyframe: any string id)
    text.faiss     text vectors of each material's words (OCR text, caption, file metadata)

Two spaces, because the embedded ``classic`` encoder's text and image vectors are not
comparable; with a CLIP encoder (``shared_space``) a text query also searches the image space
and the two result lists are fused by best score.

Index kinds (inner product on L2-normalised vectors = cosine):

* below ``ANN_MIN_VECTORS`` (50 000) — exact ``IndexFlatIP`` inside ``IndexIDMap2``: a query on
  50k × 512 takes ≈ 4 ms on one core, so approximate search buys nothing at library scale.
* at or above it — ``IndexIVFFlat`` with nlist = 4·√n (clamped to [64, 16384]) trained on up
  to 64·nlist vectors (faiss wants ≥ 39 per centroid), ``nprobe`` = max(16, nlist/32); IVF keeps ``remove_ids``, which
  HNSW lacks, so incremental removal stays exact. Recall@10 against Flat is measured by
  tests/benchmarks/bench_faiss.py. The IVF is retrained when the collection has grown 4× since
  its last training.

Adding an id that is already present replaces its vector (idempotent re-ingest). The index
records the encoder (name + dims) that built it and refuses vectors of another dimension, or
an encoder of another name, with a clear error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence

from pydantic import Field

from tools.core.errors import InternalError, ToolInputError
from tools.core.models import Model
from tools.core.paths import ReadPath, WritePath
from tools.core.registry import register

if TYPE_CHECKING:
    import numpy as np

    from tools.understand.encoders import Encoder

ANN_MIN_VECTORS = 50_000
IVF_RETRAIN_GROWTH = 4.0
META_VERSION = 1
Space = Literal["image", "text"]


def _faiss() -> Any:
    import faiss

    return faiss


def ivf_params(n: int) -> tuple[int, int]:
    """(nlist, nprobe) for ``n`` vectors."""
    nlist = int(min(16384, max(64, 4 * math.sqrt(max(n, 1)))))
    return nlist, max(16, nlist // 32)


class VectorSpace:
    """One FAISS index over string ids, with exact/approximate switching and removal."""

    def __init__(self, dim: int, ann_min_vectors: int = ANN_MIN_VECTORS) -> None:
        self.dim = dim
        self.ann_min_vectors = ann_min_vectors
        self.id_to_label: dict[str, int] = {}
        self.label_to_id: dict[int, str] = {}
        self.next_label = 0
        self.kind: Literal["flat", "ivf"] = "flat"
        self.trained_at = 0
        self.nprobe = 0
        self.index = self._new_flat()

    # ------------------------------------------------------------------ construction
    def _new_flat(self) -> Any:
        f = _faiss()
        return f.IndexIDMap2(f.IndexFlatIP(self.dim))

    def _all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        labels = np.fromiter(self.label_to_id.keys(), dtype=np.int64, count=len(self.label_to_id))
        if labels.size == 0:
            return labels, np.zeros((0, self.dim), np.float32)
        vecs = np.vstack([self.index.reconstruct(int(lb)) for lb in labels]).astype(np.float32)
        return labels, vecs

    def _build_ivf(self, labels: np.ndarray, vecs: np.ndarray, seed: int = 0) -> None:
        import numpy as np

        f = _faiss()
        n = len(labels)
        nlist, nprobe = ivf_params(n)
        quant = f.IndexFlatIP(self.dim)
        ivf = f.IndexIVFFlat(quant, self.dim, nlist, f.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = vecs if n <= 64 * nlist else vecs[rng.choice(n, 64 * nlist, replace=False)]
        ivf.cp.seed = seed
        ivf.train(np.ascontiguousarray(sample))
        ivf.set_direct_map_type(f.DirectMap.Hashtable)  # reconstruct() after remove_ids()
        ivf.add_with_ids(np.ascontiguousarray(vecs), labels)
        ivf.nprobe = nprobe
        self.index, self.kind, self.trained_at, self.nprobe = ivf, "ivf", n, nprobe

    def _maybe_switch(self) -> None:
        n = len(self.id_to_label)
        if self.kind == "flat" and n >= self.ann_min_vectors:
            self._build_ivf(*self._all_vectors())
        elif self.kind == "ivf" and n >= self.trained_at * IVF_RETRAIN_GROWTH:
            self._build_ivf(*self._all_vectors())
        elif self.kind == "ivf" and n < self.ann_min_vectors // 2:
            labels, vecs = self._all_vectors()
            self.index, self.kind, self.trained_at, self.nprobe = self._new_flat(), "flat", 0, 0
            if len(labels):
                self.index.add_with_ids(vecs, labels)

    # ------------------------------------------------------------------ mutation
    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        import numpy as np

        vecs = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if vecs.ndim != 2 or vecs.shape[1] != self.dim:
            raise ToolInputError(
                f"vectors of shape {tuple(vecs.shape)} cannot go into an index of dimension {self.dim}",
                hint="the index was built by another encoder; rebuild it (index_materials with rebuild=true) or use the same encoder",
            )
        if len(ids) != len(vecs):
            raise ToolInputError(f"{len(ids)} ids for {len(vecs)} vectors", hint="pass one id per vector")
        if len(set(ids)) != len(ids):
            raise ToolInputError("duplicate ids in one add() call", hint="pass each id once")
        if not np.isfinite(vecs).all():
            raise ToolInputError("vectors contain NaN or inf", hint="check the encoder output")
        self.remove([i for i in ids if i in self.id_to_label])
        labels = np.arange(self.next_label, self.next_label + len(ids), dtype=np.int64)
        self.next_label += len(ids)
        for i, lb in zip(ids, labels):
            self.id_to_label[i] = int(lb)
            self.label_to_id[int(lb)] = i
        if len(ids):
            self.index.add_with_ids(vecs, labels)
        self._maybe_switch()

    def remove(self, ids: Sequence[str]) -> int:
        import numpy as np

        labels = [self.id_to_label.pop(i) for i in ids if i in self.id_to_label]
        for lb in labels:
            self.label_to_id.pop(lb, None)
        if labels:
            removed = self.index.remove_ids(_faiss().IDSelectorArray(np.asarray(labels, dtype=np.int64)))
            if removed != len(labels):
                raise InternalError(f"faiss removed {removed} of {len(labels)} vectors")
            self._maybe_switch()
        return len(labels)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.id_to_label)

    def __contains__(self, item: str) -> bool:
        return item in self.id_to_label

    def vector(self, id_: str) -> np.ndarray:
        if id_ not in self.id_to_label:
            raise ToolInputError(f"id {id_!r} is not in the index", hint="index the material first (index_materials)")
        return self.index.reconstruct(self.id_to_label[id_]).astype("float32")

    def search(self, queries: np.ndarray, k: int = 10) -> list[list[tuple[str, float]]]:
        import numpy as np

        q = np.ascontiguousarray(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
        if q.shape[1] != self.dim:
            raise ToolInputError(
                f"query vector has dimension {q.shape[1]}, the index has {self.dim}",
                hint="query with the encoder that built the index",
            )
        if len(self) == 0:
            return [[] for _ in range(len(q))]
        scores, labels = self.index.search(q, min(k, len(self)))
        return [
            [(self.label_to_id[int(lb)], float(s)) for s, lb in zip(srow, lrow) if lb >= 0 and int(lb) in self.label_to_id]
            for srow, lrow in zip(scores, labels)
        ]

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "kind": self.kind,
            "trained_at": self.trained_at,
            "nprobe": self.nprobe,
            "next_label": self.next_label,
            "ann_min_vectors": self.ann_min_vectors,
            "ids": {i: lb for i, lb in self.id_to_label.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], index: Any) -> VectorSpace:
        vs = cls(int(state["dim"]), int(state.get("ann_min_vectors", ANN_MIN_VECTORS)))
        vs.kind = state["kind"]
        vs.trained_at = int(state["trained_at"])
        vs.nprobe = int(state["nprobe"])
        vs.next_label = int(state["next_label"])
        vs.id_to_label = {i: int(lb) for i, lb in state["ids"].items()}
        vs.label_to_id = {lb: i for i, lb in vs.id_to_label.items()}
        vs.index = index
        if vs.kind == "ivf":
            _faiss().extract_index_ivf(index).nprobe = vs.nprobe
        if index.ntotal != len(vs.id_to_label):
            raise InternalError(f"index holds {index.ntotal} vectors but its metadata lists {len(vs.id_to_label)} ids")
        return vs


class Hit(Model):
    """One search result."""

    id: str
    """Material (or shot) id."""
    score: float
    """Cosine similarity (higher is closer)."""
    space: Space
    """Which space matched: image vectors or material text."""


class MaterialIndex:
    """The persisted index of one product library (see the module docstring)."""

    def __init__(self, folder: str | Path, encoder: Encoder, ann_min_vectors: int = ANN_MIN_VECTORS) -> None:
        self.folder = Path(folder)
        self.encoder = encoder
        self.spaces: dict[Space, VectorSpace] = {
            "image": VectorSpace(encoder.dim, ann_min_vectors),
            "text": VectorSpace(encoder.text_dim, ann_min_vectors),
        }

    # ------------------------------------------------------------------ persistence
    @classmethod
    def open(cls, folder: str | Path, encoder: Encoder, ann_min_vectors: int = ANN_MIN_VECTORS) -> MaterialIndex:
        """Load the index in ``folder`` (or start an empty one), checking it was built by ``encoder``.

        Raises:
            ToolInputError: the folder's index was built by another encoder or dimension.
        """
        idx = cls(folder, encoder, ann_min_vectors)
        meta_p = idx.folder / "meta.json"
        if not meta_p.is_file():
            return idx
        meta = json.loads(meta_p.read_text(encoding="utf-8"))
        want = {"name": encoder.name, "dim": encoder.dim, "text_dim": encoder.text_dim}
        have = {k: meta["encoder"].get(k) for k in want}
        if have != want:
            raise ToolInputError(
                f"the index in {str(idx.folder)!r} was built by encoder {have['name']!r} (image dim {have['dim']}, "
                f"text dim {have['text_dim']}), not {want['name']!r} (image dim {want['dim']}, text dim {want['text_dim']})",
                hint="mixed encoders cannot share an index: query with the encoder that built it, or rebuild (index_materials with rebuild=true)",
            )
        f = _faiss()
        for sp in ("image", "text"):
            st = meta["spaces"][sp]
            p = idx.folder / f"{sp}.faiss"
            index = f.read_index(str(p)) if p.is_file() else None
            if index is None:
                raise InternalError(f"index file {p} is missing although meta.json lists it")
            idx.spaces[sp] = VectorSpace.from_state(st, index)  # type: ignore[index]
        return idx

    def save(self) -> None:
        """Write the FAISS files then meta.json, each atomically (temp name + rename)."""
        import os

        from tools.core.workspace import atomic_write_json

        f = _faiss()
        self.folder.mkdir(parents=True, exist_ok=True)
        for sp, vs in self.spaces.items():
            tmp = self.folder / f".{sp}.faiss.tmp"
            f.write_index(vs.index, str(tmp))
            os.replace(tmp, self.folder / f"{sp}.faiss")
        meta = {
            "version": META_VERSION,
            "encoder": {"name": self.encoder.name, "dim": self.encoder.dim, "text_dim": self.encoder.text_dim,
                        "shared_space": self.encoder.shared_space},
            "spaces": {sp: vs.state() for sp, vs in self.spaces.items()},
        }
        atomic_write_json(self.folder / "meta.json", meta)

    # ------------------------------------------------------------------ mutation
    def add_images(self, ids: Sequence[str], images: Sequence[Any]) -> None:
        """Encode and add images (paths or RGB arrays) under ``ids``."""
        self.spaces["image"].add(list(ids), self.encoder.encode_images(list(images)))

    def add_texts(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Encode and add the text of materials; empty texts are skipped."""
        pairs = [(i, t) for i, t in zip(ids, texts) if t and t.strip()]
        if pairs:
            self.spaces["text"].add([p[0] for p in pairs], self.encoder.encode_texts([p[1] for p in pairs]))

    def add_vectors(self, space: Space, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add precomputed vectors (refused with a clear error when their dimension differs)."""
        self.spaces[space].add(list(ids), vectors)

    def remove(self, ids: Sequence[str]) -> int:
        """Remove ids (and their ``<id>:<n>`` shot entries) from both spaces; returns how many vectors went."""
        ids = list(ids)
        n = 0
        for vs in self.spaces.values():
            shots = [k for k in vs.id_to_label if ":" in k and k.split(":", 1)[0] in set(ids)]
            n += vs.remove(ids + shots)
        return n

    # ------------------------------------------------------------------ search
    def _merge(self, lists: list[tuple[Space, list[tuple[str, float]]]], k: int, exclude: set[str] = frozenset()) -> list[Hit]:  # type: ignore[assignment]
        best: dict[str, Hit] = {}
        for sp, hits in lists:
            for i, s in hits:
                if i in exclude:
                    continue
                if i not in best or s > best[i].score:
                    best[i] = Hit(id=i, score=s, space=sp)
        return sorted(best.values(), key=lambda h: (-h.score, h.id))[:k]

    def search_text(self, query: str, k: int = 10) -> list[Hit]:
        """Materials whose text (OCR, caption, metadata) — or, with a CLIP encoder, whose picture — matches ``query``."""
        if not query.strip():
            raise ToolInputError("empty text query", hint="type some words to search for")
        q = self.encoder.encode_texts([query])
        lists: list[tuple[Space, list[tuple[str, float]]]] = [("text", self.spaces["text"].search(q, k)[0])]
        if self.encoder.shared_space:
            lists.append(("image", self.spaces["image"].search(q, k)[0]))
        return self._merge(lists, k)

    def search_image(self, image: Any, k: int = 10) -> list[Hit]:
        """Materials that look like ``image`` (a path or an RGB array)."""
        q = self.encoder.encode_images([image])
        return self._merge([("image", self.spaces["image"].search(q, k)[0])], k)

    def search_id(self, material_id: str, k: int = 10) -> list[Hit]:
        """Materials that look like material ``material_id`` (itself excluded)."""
        v = self.spaces["image"].vector(material_id)
        return self._merge([("image", self.spaces["image"].search(v[None, :], k + 1)[0])], k, exclude={material_id})


def material_text(*, original_name: str = "", caption: str = "", ocr_text: str = "", extra: Sequence[str] = ()) -> str:
    """The words a material is found by: caption, OCR text, and its file name split into words
    (``magento_mb01-blue-0.jpg`` → ``magento mb01 blue 0``)."""
    import re

    stem = Path(original_name).stem if original_name else ""
    name_words = " ".join(w for w in re.split(r"[\W_]+", stem) if w)
    return "\n".join(t for t in (caption.strip(), ocr_text.strip(), name_words, *extra) if t)


# =========================================================================== registry tools


class EncoderChoice(Model):
    """Which encoder to use (Settings.encoder picks the default)."""

    name: Literal["classic", "open_clip", "chinese_clip"] = "classic"
    """Encoder name."""
    model: str | None = None
    """open_clip architecture or config JSON; Chinese-CLIP model folder."""
    checkpoint: str | None = None
    """Local open_clip weights file."""

    def build(self) -> Encoder:
        from tools.understand.encoders import get_encoder

        return get_encoder(self.name, model=self.model, checkpoint=self.checkpoint)


class IndexItem(Model):
    """A material (or shot keyframe) to index."""

    id: str = Field(min_length=1)
    """Material id (or ``<material_id>:<shot>``)."""
    image_path: ReadPath | None = None
    """Photo or keyframe to embed; None indexes the text only."""
    text: str = ""
    """Words to find it by (see ``material_text``: caption, OCR text, file-name words)."""


class IndexMaterialsInput(Model):
    """Materials to add to (or remove from) a library's index."""

    index_dir: WritePath
    """Folder of the index (created when missing); the only place this tool writes."""
    items: list[IndexItem] = Field(default_factory=list)
    """Materials to add or replace."""
    remove_ids: list[str] = Field(default_factory=list)
    """Materials to remove."""
    encoder: EncoderChoice = Field(default_factory=EncoderChoice)
    """Encoder; must match the one that built an existing index unless ``rebuild``."""
    rebuild: bool = False
    """Discard the existing index first (to change encoder)."""


class IndexMaterialsOutput(Model):
    """State of the index after the change."""

    encoder: str
    """Encoder that built the index."""
    image_vectors: int = Field(ge=0)
    """Vectors in the image space."""
    text_vectors: int = Field(ge=0)
    """Vectors in the text space."""
    kind: str
    """Index kind of the image space: flat (exact) or ivf (approximate)."""
    removed: int = Field(ge=0)
    """Vectors removed."""


@register("index_materials")
def index_materials(inp: IndexMaterialsInput) -> IndexMaterialsOutput:
    """Add, replace or remove materials in a product library's FAISS index (persisted)."""
    import shutil

    enc = inp.encoder.build()
    folder = Path(inp.index_dir)
    if inp.rebuild and folder.is_dir():
        shutil.rmtree(folder)
    idx = MaterialIndex.open(folder, enc)
    removed = idx.remove(inp.remove_ids)
    with_img = [it for it in inp.items if it.image_path]
    if with_img:
        idx.add_images([it.id for it in with_img], [it.image_path for it in with_img])
    idx.add_texts([it.id for it in inp.items], [it.text for it in inp.items])
    idx.save()
    return IndexMaterialsOutput(
        encoder=enc.name,
        image_vectors=len(idx.spaces["image"]),
        text_vectors=len(idx.spaces["text"]),
        kind=idx.spaces["image"].kind,
        removed=removed,
    )


class SearchMaterialsInput(Model):
    """A search over a library's index: exactly one of text, image_path, material_id."""

    index_dir: ReadPath
    """Folder of the index (in the workspace)."""
    text: str | None = None
    """Words (printed on the photo, in its caption or file name; with CLIP also what it shows)."""
    image_path: ReadPath | None = None
    """Find materials that look like this picture."""
    material_id: str | None = None
    """Find materials that look like this indexed material."""
    k: int = Field(default=10, ge=1, le=1000)
    """How many results."""
    encoder: EncoderChoice = Field(default_factory=EncoderChoice)
    """Encoder; must be the one that built the index."""


class SearchMaterialsOutput(Model):
    """Best matches first."""

    hits: list[Hit]
    """Results, best first."""


@register("search_materials")
def search_materials(inp: SearchMaterialsInput) -> SearchMaterialsOutput:
    """Search a product library by text, by example picture or by material id."""
    given = [x for x in (inp.text, inp.image_path, inp.material_id) if x]
    if len(given) != 1:
        raise ToolInputError("give exactly one of text, image_path, material_id", hint=f"got {len(given)}")
    folder = Path(inp.index_dir)
    if not (folder / "meta.json").is_file():
        raise ToolInputError(f"no index in {str(folder)!r}", hint="build it first with index_materials")
    idx = MaterialIndex.open(folder, inp.encoder.build())
    if inp.text:
        hits = idx.search_text(inp.text, inp.k)
    elif inp.image_path:
        hits = idx.search_image(inp.image_path, inp.k)
    else:
        hits = idx.search_id(inp.material_id or "", inp.k)
    return SearchMaterialsOutput(hits=hits)
