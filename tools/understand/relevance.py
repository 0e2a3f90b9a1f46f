"""How much a photo or clip shows *this* product, and which of its facts it shows.

Three signals, each in [0, 1], combined into one relevance score (survey §4.1: material that is
off-topic is filtered before selection; §3.1: retrieval by image and by text):

* **reference match** — the share of the reference photo's SIFT keypoints (Lowe 2004; free
  in OpenCV since the patent expired) that find a geometrically consistent match in the material
  (Lowe's ratio test, then a RANSAC homography): the same product survives crops, zoom, another
  background, darkening and mild blur, another object does not. SIFT rather than ORB because a
  product at half size on a busy table kept 19 % of the reference's keypoints with SIFT and
  none with ORB (measured on tests/benchmarks/bench_storyline.py's folders). The reference is
  the photo the user marked as the hero (``--hero``, a star in the
  UI); without one, the fallback is the photo with the best text match to the product, or else
  the most "packshot-like" photo (plain bright border, one central object), since a seller's
  packshot shows the product by definition. Without a semantic image model (no CLIP weights
  ship offline, see PLATFORM.md) global descriptors cannot tell a bag from a camera: local
  feature matching to a reference is the honest offline signal.
* **text match** — lexical overlap between the product's name and facts and what is known of the
  material: printed text (OCR), caption, and the words of its file name.
* **packshot** — plain, bright border with the salient mass in the middle.
* **image–text match** (only with a CLIP-like encoder configured, ``ADREEL_ENCODER=open_clip``
  or ``chinese_clip`` with local weights): the cosine between the frame and the product's name
  and facts in the shared space, mapped linearly from :data:`CLIP_ZERO` (0) to :data:`CLIP_FULL` (1).

``relevance = max(reference, text, image–text, w·packshot)``: any one strong signal suffices. A packshot that
does not match the reference is probably another product: with a hero the user marked, it counts
little (w = 0.2, below the off-topic line); with a reference chosen automatically it is half-way
relevant (w = 0.5), since the automatic choice may have picked the wrong one. :func:`facts_shown` says which facts the
printed text on a material states (the storyline then has that beat say that fact).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from pydantic import Field

from tools.core.environment import map_in_threads
from tools.core.images import as_rgb
from tools.core.models import Model, ProductInfo
from tools.core.paths import ReadPath
from tools.core.registry import register
from tools.understand.index import EncoderChoice

#: Side the images are reduced to before SIFT (enough keypoints on a product, 20–60 ms on a CPU).
MATCH_SIDE_PX = 640
#: Lowe's ratio test threshold.
RATIO = 0.75
#: Matched keypoints needed before a homography is tried, and inliers needed to count (fewer is noise).
MIN_MATCHES = 8
#: Inliers per reference keypoint at which the reference match saturates at 1: the same product
#: measured 0.07 (darkened to 12 %), 0.09 (a 2.4× close-up), 0.19 (half size on a busy table),
#: 0.3–0.5 (another background, mirrored); other products and scenes 0.00.
MATCH_FULL = 0.08
#: A printed text states a fact when at least this share of the fact's words (en) or
#: character bigrams (zh) appear in it.
FACT_SHOWN = 0.6
#: CLIP image–text cosines mapped to 0 and 1: with ViT-B/32 a caption that names what is shown
#: typically scores about 0.28–0.33 and an unrelated one 0.12–0.20 (Radford et al. 2021, zero-shot
#: scores); not measured here, as no CLIP weights can be installed offline (PLATFORM.md).
CLIP_ZERO, CLIP_FULL = 0.18, 0.30
#: Below this relevance a material is called off-topic (when better material can fill the video).
OFF_TOPIC = 0.25


# --------------------------------------------------------------------------- signals
def _grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    g = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    # equalise so a darkened copy keeps its keypoints
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(g)


def keypoints(rgb: np.ndarray) -> tuple[list, np.ndarray | None]:
    """SIFT keypoints and descriptors of an RGB image."""
    import cv2

    kp, des = cv2.SIFT_create().detectAndCompute(_grey(rgb), None)
    return list(kp or []), des


def reference_match(ref: tuple[list, np.ndarray | None], other: tuple[list, np.ndarray | None]) -> float:
    """Geometrically verified keypoint matches of ``other`` to ``ref``, as a share of ``ref``'s
    keypoints scaled by :data:`MATCH_FULL` and clipped to [0, 1]."""
    import cv2

    (kp_a, des_a), (kp_b, des_b) = ref, other
    if des_a is None or des_b is None or len(kp_a) < MIN_MATCHES or len(kp_b) < 2:
        return 0.0
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    good = [m for m, n in (p for p in matcher.knnMatch(des_a, des_b, k=2) if len(p) == 2) if m.distance < RATIO * n.distance]
    if len(good) < MIN_MATCHES:
        return 0.0
    src = np.float32([kp_a[m.queryIdx].pt for m in good]).reshape(-1, 1, 2)
    dst = np.float32([kp_b[m.trainIdx].pt for m in good]).reshape(-1, 1, 2)
    _, mask = cv2.findHomography(src, dst, cv2.RANSAC, 8.0)
    inliers = int(mask.sum()) if mask is not None else 0
    if inliers < MIN_MATCHES:
        return 0.0
    return float(min(1.0, inliers / len(kp_a) / MATCH_FULL))


def packshot_score(rgb: np.ndarray) -> float:
    """How much a frame looks like a packshot: a plain, bright border (most border pixels within
    15 grey levels of the border's median, which is bright) around a central object. 1 for a
    product on white (a product may touch the border), near 0 for a scene."""
    g = rgb.astype(np.float32).mean(axis=2)
    h, w = g.shape
    bh, bw = max(1, h // 12), max(1, w // 12)
    border = np.concatenate([g[:bh].ravel(), g[-bh:].ravel(), g[:, :bw].ravel(), g[:, -bw:].ravel()])
    med = float(np.median(border))
    plain = float(np.clip((np.mean(np.abs(border - med) < 15.0) - 0.5) / 0.4, 0, 1))
    bright = float(np.clip((med - 150.0) / 80.0, 0, 1))
    centre = g[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    has_object = float(np.clip(abs(float(centre.mean()) - med) / 40.0 + centre.std() / 60.0, 0, 1))
    return round(plain * (0.5 + 0.5 * bright) * has_object, 4)


def shot_size(rgb: np.ndarray) -> float:
    """Framing from 0 (wide: the salient region is small in the frame) to 1 (close-up: it fills
    the frame): the share of the frame whose saliency exceeds half its maximum, 5 % → 0, 50 % → 1."""
    from tools.core.images import saliency_map

    sal = saliency_map(rgb)
    area = float((sal > 0.5 * float(sal.max())).mean()) if sal.size and float(sal.max()) > 0 else 0.0
    return round(float(np.clip((area - 0.05) / 0.45, 0, 1)), 4)


def content_words(text: str) -> set[str]:
    """en: lower-case words (hyphens split); zh: character bigrams (single characters for 1-char runs)."""
    t = text.lower()
    out = set(re.findall(r"[a-z0-9]+", t))
    for run in re.findall(r"[\u3400-\u9fff]+", t):
        out |= {run[i : i + 2] for i in range(len(run) - 1)} if len(run) > 1 else {run}
    return out


_STOP = {"the", "a", "an", "and", "of", "for", "with", "to", "in", "on", "is", "it", "jpg", "png", "jpeg", "webp", "mp4", "img", "dsc"}


def text_match(product: ProductInfo, text: str) -> float:
    """Lexical overlap between the product (name and facts) and ``text``: the share of the text's
    content words found in the product's, in [0, 1]."""
    got = content_words(text) - _STOP
    got = {w for w in got if not w.isdigit()}
    if not got:
        return 0.0
    ref = content_words(" ".join([product.name, *(p for _, p in product.points())])) - _STOP
    return round(len(got & ref) / len(got), 4)


def words_found(want: set[str], text: str) -> set[str]:
    """The words of ``want`` that ``text`` holds: as words, or (three letters or more) inside the
    text read without its spaces, since OCR often joins a printed caption's words
    ("SHOECOMPARTMENT")."""
    got = content_words(text)
    joined = "".join(text.lower().split())
    return {w for w in want if w in got or (len(w) >= 3 and w.lower() in joined)}


def facts_shown(product: ProductInfo, text: str) -> list[tuple[str, str, float]]:
    """Facts ``(aspect, point, share)`` whose words the printed ``text`` states, best first."""
    out = []
    for aspect, point in product.points():
        want = content_words(point) - _STOP
        if not want:
            continue
        share = len(words_found(want, text)) / len(want)
        if share >= FACT_SHOWN:
            out.append((aspect, point, round(share, 3)))
    return sorted(out, key=lambda x: -x[2])


def image_text_match(encoder: EncoderChoice, product: ProductInfo, frames: list[np.ndarray]) -> np.ndarray:
    """Per frame, the CLIP-space match between the frame and the product's name and facts, in
    [0, 1]; zeros when the encoder has no shared image–text space (the classic default).

    Raises:
        BackendUnavailable: the configured encoder cannot be loaded (the caller falls back).
    """
    if encoder.name == "classic" or not frames:
        return np.zeros(len(frames))
    enc = encoder.build()
    if not enc.shared_space:
        return np.zeros(len(frames))
    text = ", ".join([product.name, *(p for _, p in product.points())])[:300]
    cos = enc.encode_images(frames) @ enc.encode_texts([text])[0]
    return np.clip((cos - CLIP_ZERO) / (CLIP_FULL - CLIP_ZERO), 0.0, 1.0)


def name_words(original_name: str) -> str:
    """The words of a file name (``magento_mb01-blue-0.jpg`` → ``magento mb01 blue 0``)."""
    return " ".join(w for w in re.split(r"[\W_]+", Path(original_name).stem) if w)


# --------------------------------------------------------------------------- the tool
class RelevanceItem(Model):
    """A photo or clip of the job."""

    id: str
    """Material id."""
    path: ReadPath
    """Image file, or a frame of the clip (its middle) as an image file or the clip itself."""
    text: str = ""
    """What is known of it in words: OCR text, caption, file name."""
    at_s: float | None = Field(default=None, ge=0)
    """For a clip: the time of the frame to look at (None: a photo)."""


class RateRelevanceInput(Model):
    """A job's materials and its product."""

    product: ProductInfo
    """The product and its facts."""
    items: list[RelevanceItem] = Field(min_length=1)
    """Photos and clips."""
    hero_id: str | None = None
    """The material the user marked as showing the product (the reference)."""
    encoder: EncoderChoice = Field(default_factory=EncoderChoice)
    """Image/text encoder: a CLIP-like one (shared space) adds the image–text match; classic adds nothing."""


class Relevance(Model):
    """Relevance of one material."""

    id: str
    """Material id."""
    reference: float = Field(ge=0, le=1)
    """Verified keypoint match to the reference photo."""
    text: float = Field(ge=0, le=1)
    """Word overlap with the product's name and facts."""
    packshot: float = Field(ge=0, le=1)
    """Plain bright border around a central object."""
    shot_size: float = Field(ge=0, le=1)
    """Framing: 0 wide, 1 close-up."""
    image_text: float = Field(default=0.0, ge=0, le=1)
    """Image–text match to the product in a CLIP space (0 without such an encoder)."""
    relevance: float = Field(ge=0, le=1)
    """max(reference, text, w·packshot) (module docstring)."""
    facts: list[str] = Field(default_factory=list)
    """Facts (``aspect：point``) its printed text states, best first."""


class RateRelevanceOutput(Model):
    """Relevance of every material."""

    items: list[Relevance]
    """Same order as the input."""
    reference_id: str | None
    """The material used as the reference."""
    reference_why: str
    """Why that one: marked by the user, best text match, or most packshot-like."""


def _frame(item: RelevanceItem) -> np.ndarray:
    if item.at_s is None:
        return as_rgb(item.path, max_side=MATCH_SIDE_PX)
    from tools.core.images import read_frame, resize_long

    return resize_long(read_frame(item.path, item.at_s), MATCH_SIDE_PX)


def _look(item: RelevanceItem) -> tuple[np.ndarray, float, float, tuple[list, np.ndarray | None]]:
    """What is measured on one picture alone: (frame, packshot score, shot size, SIFT keypoints)."""
    f = _frame(item)
    return f, packshot_score(f), shot_size(f), keypoints(f)


@register("rate_relevance")
def rate_relevance(inp: RateRelevanceInput) -> RateRelevanceOutput:
    """How much each photo or clip shows the product (match to a reference photo, text, packshot), and which facts its printed text states."""
    # per picture, in a pool (decoding, SIFT and saliency run without the GIL): the frame, its
    # packshot look, its framing and its keypoints
    looked = map_in_threads(_look, inp.items)
    frames = {it.id: x[0] for it, x in zip(inp.items, looked)}
    packs = {it.id: x[1] for it, x in zip(inp.items, looked)}
    sizes = {it.id: x[2] for it, x in zip(inp.items, looked)}
    feats = {it.id: x[3] for it, x in zip(inp.items, looked)}
    texts = {it.id: text_match(inp.product, it.text) for it in inp.items}
    photos = [it.id for it in inp.items if it.at_s is None]
    ref_id, why = None, "no photo to compare with"
    if inp.hero_id and inp.hero_id in frames:
        ref_id, why = inp.hero_id, "marked by the user as the hero"
    elif photos:
        best_text = max(photos, key=lambda i: (texts[i], packs[i]))
        if texts[best_text] >= 0.5:
            ref_id, why = best_text, "the photo whose words best match the product"
        else:
            ref_id = max(photos, key=lambda i: packs[i])
            why = "the most packshot-like photo (no hero marked)"
    clip = image_text_match(inp.encoder, inp.product, [frames[it.id] for it in inp.items])
    clip_of = {it.id: float(c) for it, c in zip(inp.items, clip)}
    # SIFT is not mirror-invariant: a mirrored copy of the product is matched against a mirrored reference
    refs = [feats[ref_id], keypoints(np.ascontiguousarray(frames[ref_id][:, ::-1]))] if ref_id else []
    matched = map_in_threads(lambda it: 1.0 if it.id == ref_id else max((reference_match(r, feats[it.id]) for r in refs), default=0.0),
                             inp.items)
    out = []
    for it, ref in zip(inp.items, matched):
        rel = max(ref, texts[it.id], clip_of[it.id], (0.2 if why.startswith("marked") else 0.5) * packs[it.id])
        facts = [f"{a}：{p}" for a, p, _ in facts_shown(inp.product, it.text)]
        out.append(Relevance(id=it.id, reference=round(ref, 4), text=texts[it.id], packshot=packs[it.id], relevance=round(rel, 4),
                             shot_size=sizes[it.id], image_text=round(clip_of[it.id], 4), facts=facts))
    return RateRelevanceOutput(items=out, reference_id=ref_id, reference_why=why)
