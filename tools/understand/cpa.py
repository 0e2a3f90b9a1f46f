"""Cognitive property assessment (survey §3.2, §6.2; persuasion §4.3.2; EaMD emotion classes, montage §3.2).

Every score lies in [0, 1]. They are hand-made, training-free proxies — no labelled aesthetics
or emotion set with images ships with AdReel (../shared/media/MANIFEST.md: none is openly
licensed) — and are meant to *rank* materials of one library, not to be compared with human
ratings. Trained heads (e.g. on CLIP features) plug in by producing the same keys.

Stills (an RGB image, or the keyframe of a shot):

* ``colourfulness`` — Hasler & Süsstrunk (2003) M (:func:`tools.core.images.colourfulness`);
  score M / (M + 45). Their "moderately colourful" M ≈ 33 maps to 0.42, "highly colourful"
  M ≈ 59 to 0.57, grey to 0.
* ``contrast`` — RMS contrast: 2 × standard deviation of luma in [0, 1], clipped (a half-black,
  half-white frame scores 1).
* ``sharpness`` — s / (s + 150), s the variance of the Laplacian at 512 px (tools/understand/quality.py).
* ``composition`` — where the saliency (:func:`tools.core.images.saliency_map`: spectral residual of
  Hou & Zhang 2007 plus Lab colour contrast, as a distribution of mass) puts its mass: with
  c the saliency centroid in unit coordinates, d₃ its distance to the nearest rule-of-thirds
  point and d₀ to the centre, composition = max(exp(−d₃²/2·0.1²), 0.8·exp(−d₀²/2·0.1²)) — the
  centre term keeps centred packshots (the norm in product photography) reasonable.
* ``aesthetics`` — 0.3·colourfulness + 0.25·contrast + 0.25·sharpness + 0.2·composition.
* ``valence``, ``arousal`` — Valdez & Mehrabian (1994) colour–emotion regressions on mean
  brightness B and saturation S (HSV, [0, 1]): pleasure = 0.69B + 0.22S, arousal = −0.31B + 0.60S,
  rescaled from their attainable ranges ([0, 0.91] and [−0.31, 0.60]) to [0, 1]. Stills'
  arousal is blended 0.7 / 0.3 with contrast (high-contrast pictures read as more arousing).
* ``memorability`` — a proxy: 0.5·saliency concentration (share of saliency mass in the top 10 %
  of pixels, rescaled from [0.1, 0.8]: 0.1 is a uniform map; on the 29 photos of
  ../shared/media/images the share spans 0.32–0.78) + 0.25·colourfulness + 0.25·distinctiveness
  (1 − the highest cosine to the other materials scored with it; 0.5 when scored alone). Isola et al. found
  one clear subject memorable and generic scenery forgettable; this encodes only that.
* ``informativeness`` — survey §4.3.2 (Liu et al. [73]): dissimilarity to the other visual
  materials (1 − highest classic-descriptor cosine), so a material that repeats what another
  shows adds little information; alone, the normalised grey-level entropy.
* ``persuasiveness`` — the Learnable Wundt Curve (:class:`WundtCurve`) fusing informativeness,
  attractiveness (= aesthetics) and arousal.

Clips (a shot of a video) add ``motion`` — mean Farneback optical-flow magnitude between frames
sampled at 5 fps, in frame-diagonals per second, m / (m + 0.15) — and their arousal is
0.5·(still arousal of the frames) + 0.5·motion (motion energy drives felt arousal in film:
Hanjalic & Xu 2005).

EaMD emotion: (valence, arousal) is mapped to the six classes of montage §3.2 (excited, fearful,
neutral, relaxed, sad, tense) by :func:`tools.core.emotion.va_to_class` (Russell's circumplex;
the one mapping every stage uses).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from pydantic import Field, model_validator

from tools.core.emotion import va_to_class
from tools.core.environment import map_in_threads
from tools.core.errors import ToolInputError
from tools.core.images import colourfulness, load_image, resize_long, saliency_map
from tools.core.models import EmotionClass, Model
from tools.core.paths import ReadPath
from tools.core.registry import register

if TYPE_CHECKING:
    import numpy as np
    import torch

#: Colourfulness score = M / (M + 45) (Hasler–Süsstrunk M, :func:`tools.core.images.colourfulness`):
#: their "moderately colourful" M ≈ 33 maps to 0.42, "highly colourful" M ≈ 59 to 0.57, grey to 0.
COLOURFULNESS_HALF_M = 45.0


# =========================================================================== still features


def saliency_mass(rgb: np.ndarray) -> np.ndarray:
    """:func:`tools.core.images.saliency_map` as a distribution: sums to 1 (uniform for a featureless image)."""
    import numpy as np

    sal = saliency_map(rgb).astype(np.float64)
    total = float(sal.sum())
    return sal / total if total > 0 else np.full(sal.shape, 1.0 / sal.size)


def composition_score(sal: np.ndarray) -> float:
    """Rule-of-thirds / centre placement of the saliency centroid (module docstring)."""
    import numpy as np

    h, w = sal.shape
    ys, xs = np.mgrid[0:h, 0:w]
    cy, cx = float((sal * (ys + 0.5)).sum() / h), float((sal * (xs + 0.5)).sum() / w)
    d3 = min(math.hypot(cx - tx, cy - ty) for tx in (1 / 3, 2 / 3) for ty in (1 / 3, 2 / 3))
    d0 = math.hypot(cx - 0.5, cy - 0.5)
    s = 2 * 0.1**2
    return max(math.exp(-(d3**2) / s), 0.8 * math.exp(-(d0**2) / s))


def saliency_concentration(sal: np.ndarray) -> float:
    """Share of saliency mass in the top 10 % of pixels, rescaled from [0.1, 0.8] to [0, 1] (module docstring)."""
    import numpy as np

    flat = np.sort(sal.ravel())[::-1]
    top = float(flat[: max(1, flat.size // 10)].sum() / max(float(flat.sum()), 1e-12))
    return float(np.clip((top - 0.1) / 0.7, 0, 1))


def valence_arousal_colour(rgb: np.ndarray) -> tuple[float, float]:
    """Valdez & Mehrabian (1994) pleasure and arousal from mean HSV brightness and saturation, in [0, 1]."""
    import cv2

    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    b = float(hsv[..., 2].mean()) / 255.0
    s = float(hsv[..., 1].mean()) / 255.0
    pleasure = (0.69 * b + 0.22 * s) / 0.91
    arousal = (-0.31 * b + 0.60 * s + 0.31) / 0.91
    return min(1.0, max(0.0, pleasure)), min(1.0, max(0.0, arousal))


def grey_entropy(rgb: np.ndarray) -> float:
    """Shannon entropy of the 256-bin grey histogram / 8 bits."""
    import cv2
    import numpy as np

    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h = np.bincount(g.ravel(), minlength=256).astype(np.float64)
    p = h[h > 0] / h.sum()
    return float(-(p * np.log2(p)).sum() / 8.0)


def still_scores(rgb: np.ndarray) -> dict[str, float]:
    """All per-image scores that need no other material (module docstring), each in [0, 1]."""
    import cv2

    small = resize_long(rgb, 512)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    sharp = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    sal = saliency_mass(small)
    m = colourfulness(small)
    col = m / (m + COLOURFULNESS_HALF_M)
    con = min(1.0, 2.0 * float(grey.std()) / 255.0)
    shp = sharp / (sharp + 150.0)
    comp = composition_score(sal)
    val, aro = valence_arousal_colour(small)
    return {
        "colourfulness": col,
        "contrast": con,
        "sharpness": shp,
        "composition": comp,
        "aesthetics": 0.3 * col + 0.25 * con + 0.25 * shp + 0.2 * comp,
        "valence": val,
        "arousal": 0.7 * aro + 0.3 * con,
        "saliency_concentration": saliency_concentration(sal),
        "entropy": grey_entropy(small),
    }


def motion_energy(path: str | Path, start_s: float, end_s: float, sample_fps: float = 5.0) -> tuple[float, list[np.ndarray]]:
    """Mean Farneback optical-flow magnitude (frame diagonals per second) over ``[start_s, end_s)``,
    and the RGB frames sampled (at 160 px wide for flow, full size returned for scoring)."""
    import cv2
    import numpy as np

    from tools.core.errors import MediaError

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MediaError(f"cannot open video {Path(path).name!r}", hint="check the file (detect_shots gives a precise error)")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 25.0)
    first, last = int(round(start_s * fps)), max(int(round(start_s * fps)) + 1, int(round(end_s * fps)))
    step = max(1, int(round(fps / sample_fps)))
    idxs = list(range(first, last, step))[:40]
    frames, greys = [], []
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    pos = first
    for fi in idxs:
        while pos < fi:
            cap.grab()
            pos += 1
        ok, bgr = cap.read()
        pos += 1
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        frames.append(rgb)
        h, w = rgb.shape[:2]
        greys.append(cv2.cvtColor(cv2.resize(rgb, (160, max(1, 160 * h // w))), cv2.COLOR_RGB2GRAY))
    cap.release()
    if not frames:
        raise MediaError(f"no frames decoded from {Path(path).name!r} in [{start_s}, {end_s}) s", hint="check the shot times")
    mags = []
    for a, b in zip(greys, greys[1:]):
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        mags.append(float(np.linalg.norm(flow, axis=2).mean()))
    diag = math.hypot(*greys[0].shape)
    per_s = (float(np.mean(mags)) / diag) * (fps / step) if mags else 0.0
    return per_s, frames


# =========================================================================== Learnable Wundt Curve


def _torch() -> Any:
    import torch

    return torch


class WundtCurve:
    """Factory for the Learnable Wundt Curve module (survey §4.3.2, Liu et al. [73]).

    For each stimulus i ∈ (informativeness, attractiveness, arousal) the curve is the difference
    of two sigmoids — a reward that rises early and a punishment that rises later (Berlyne's
    reading of the Wundt curve):

        W_i(x) = σ(a_i (x − b_i)) − σ(c_i (x − b_i − g_i)),   a_i, c_i, g_i > 0 (softplus)

    so persuasiveness first grows with stimulation and then falls with over-stimulation. Each
    W_i is divided by its peak on [0, 1] (so it reaches 1), and the three are fused with
    softmax weights: P = clamp(Σ_i w_i W_i(x_i) / max W_i, 0, 1).

    Default parameters (documented guesses, not fitted — no labelled data ships with AdReel):
    informativeness a=8, b=0.15, c=8, g=0.8 (more information keeps helping almost to the
    end); attractiveness a=10, b=0.3, c=10, g=0.65 (very high scores are rare and fine);
    arousal a=10, b=0.25, c=12, g=0.5 (peaks near 0.55: over-stimulation hurts, §4.3.2);
    weights 0.4 / 0.35 / 0.25. ``train_wundt`` fits all of them.
    """

    STIMULI = ("informativeness", "attractiveness", "arousal")
    DEFAULTS = {
        "a": (8.0, 10.0, 10.0),
        "b": (0.15, 0.3, 0.25),
        "c": (8.0, 10.0, 12.0),
        "g": (0.8, 0.65, 0.5),
        "w": (0.4, 0.35, 0.25),
    }

    @staticmethod
    def build() -> torch.nn.Module:
        torch = _torch()
        nn = torch.nn

        def inv_softplus(x: tuple[float, ...]) -> Any:
            t = torch.tensor(x, dtype=torch.float32)
            return torch.log(torch.expm1(t))

        class _LWC(nn.Module):
            """Learnable Wundt Curve over (informativeness, attractiveness, arousal) ∈ [0, 1]³ → [0, 1]."""

            def __init__(self) -> None:
                super().__init__()
                d = WundtCurve.DEFAULTS
                self.a_raw = nn.Parameter(inv_softplus(d["a"]))
                self.b = nn.Parameter(torch.tensor(d["b"], dtype=torch.float32))
                self.c_raw = nn.Parameter(inv_softplus(d["c"]))
                self.g_raw = nn.Parameter(inv_softplus(d["g"]))
                self.w_logit = nn.Parameter(torch.log(torch.tensor(d["w"], dtype=torch.float32)))
                self.register_buffer("grid", torch.linspace(0, 1, 101).unsqueeze(1))

            def curves(self, x: Any) -> Any:
                sp = nn.functional.softplus
                a, c, g = sp(self.a_raw), sp(self.c_raw), sp(self.g_raw)
                return torch.sigmoid(a * (x - self.b)) - torch.sigmoid(c * (x - self.b - g))

            def forward(self, x: Any) -> Any:  # x: (n, 3)
                peak = self.curves(self.grid).amax(0).clamp(min=1e-6)
                w = torch.softmax(self.w_logit, 0)
                return ((self.curves(x) / peak) * w).sum(-1).clamp(0, 1)

        return _LWC()


_LWC_CACHE: dict[str, Any] = {}


def load_wundt(path: str | Path | None = None) -> Any:
    """The default LWC, or one saved by :func:`train_wundt` (a ``state_dict`` file)."""
    key = str(path or "")
    if key not in _LWC_CACHE:
        m = WundtCurve.build()
        if path:
            p = Path(path)
            if not p.is_file():
                raise ToolInputError(f"Wundt curve weights {str(p)!r} not found", hint="train with tools.understand.cpa.train_wundt or omit the path")
            m.load_state_dict(_torch().load(p, map_location="cpu", weights_only=True))
        _LWC_CACHE[key] = m.eval()
    return _LWC_CACHE[key]


def persuasiveness(informativeness: float, attractiveness: float, arousal: float, model: Any = None) -> float:
    """LWC persuasiveness in [0, 1] (survey §4.3.2)."""
    torch = _torch()
    m = model or load_wundt()
    with torch.no_grad():
        return float(m(torch.tensor([[informativeness, attractiveness, arousal]], dtype=torch.float32))[0])


def train_wundt(
    features: Sequence[Sequence[float]],
    targets: Sequence[float] | None = None,
    *,
    pairs: Sequence[tuple[int, int]] | None = None,
    epochs: int = 300,
    lr: float = 0.05,
    seed: int = 0,
    save_to: str | Path | None = None,
) -> tuple[Any, list[float]]:
    """Fit the LWC (survey §4.3.2: key parameters learned by back-propagation).

    Args:
        features: (n, 3) rows of (informativeness, attractiveness, arousal) in [0, 1].
        targets: persuasiveness ratings in [0, 1] (MSE loss), and/or
        pairs: (i, j) meaning item i was preferred over item j (margin ranking loss, margin 0.05) —
            the pairwise-comparison labels of survey §3.2.2 / Fig. 2.
        save_to: write the fitted ``state_dict`` here (load with :func:`load_wundt`).

    Returns:
        The fitted module and the loss per epoch.
    """
    torch = _torch()
    x = torch.tensor(features, dtype=torch.float32)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ToolInputError(f"features must have shape (n, 3), got {tuple(x.shape)}", hint="one (informativeness, attractiveness, arousal) row per item")
    if targets is None and not pairs:
        raise ToolInputError("train_wundt needs targets or pairs", hint="give ratings in [0, 1] or preference pairs (i, j)")
    y = torch.tensor(targets, dtype=torch.float32) if targets is not None else None
    if y is not None and len(y) != len(x):
        raise ToolInputError(f"{len(y)} targets for {len(x)} feature rows", hint="one target per row")
    torch.manual_seed(seed)
    m = WundtCurve.build()
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    pi = torch.tensor([p[0] for p in pairs or []], dtype=torch.long)
    pj = torch.tensor([p[1] for p in pairs or []], dtype=torch.long)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        out = m(x)
        loss = torch.zeros(())
        if y is not None:
            loss = loss + torch.mean((out - y) ** 2)
        if len(pi):
            loss = loss + torch.nn.functional.margin_ranking_loss(out[pi], out[pj], torch.ones(len(pi)), margin=0.05)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    m.eval()
    if save_to:
        Path(save_to).parent.mkdir(parents=True, exist_ok=True)
        torch.save(m.state_dict(), save_to)
        _LWC_CACHE.pop(str(save_to), None)
    return m, losses


# =========================================================================== set-level scoring


class ScoreItem(Model):
    """A photo, or a shot of a clip, to score."""

    id: str = Field(min_length=1)
    """Material or shot id."""
    path: ReadPath
    """Image file, or video file when ``end_s`` is set."""
    start_s: float = Field(default=0.0, ge=0)
    """Shot start inside the video."""
    end_s: float | None = Field(default=None, gt=0)
    """Shot end inside the video; None for photos."""

    @model_validator(mode="after")
    def _span(self) -> ScoreItem:
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"item {self.id}: end_s {self.end_s} must exceed start_s {self.start_s}")
        return self


class ScoreMaterialsInput(Model):
    """Materials to score together (informativeness and distinctiveness are relative to the set)."""

    items: list[ScoreItem] = Field(min_length=1)
    """Photos and shots."""
    wundt_path: ReadPath | None = None
    """Fitted LWC weights (train_wundt); None uses the documented defaults."""


class MaterialScores(Model):
    """Scores of one item, every value in [0, 1] (definitions in tools/understand/cpa.py)."""

    id: str
    """Material or shot id."""
    scores: dict[str, float]
    """aesthetics, colourfulness, contrast, sharpness, composition, valence, arousal, motion,
    memorability, informativeness, persuasiveness."""
    emotion: EmotionClass
    """EaMD class from (valence, arousal)."""


class ScoreMaterialsOutput(Model):
    """Scores per item, in input order."""

    items: list[MaterialScores]
    """One per input item."""


def score_items(items: Sequence[ScoreItem], wundt_path: str | None = None) -> list[MaterialScores]:
    """Score photos and shots together (module docstring)."""
    import numpy as np

    from tools.understand.encoders import get_encoder

    def one(it: ScoreItem) -> tuple[dict[str, float], np.ndarray]:
        if it.end_s is None:
            rgb = load_image(it.path, max_side=1024)
            s = still_scores(rgb)
            s["motion"] = 0.0
        else:
            m_per_s, frames = motion_energy(it.path, it.start_s, it.end_s)
            picks = frames[:: max(1, len(frames) // 3)][:3]
            ss = [still_scores(f) for f in picks]
            s = {k: float(np.mean([x[k] for x in ss])) for k in ss[0]}
            motion = m_per_s / (m_per_s + 0.15)
            s["motion"] = motion
            s["arousal"] = 0.5 * s["arousal"] + 0.5 * motion
            rgb = picks[len(picks) // 2]
        return s, rgb

    scored = map_in_threads(one, list(items))  # one item per core: decoding and OpenCV run without the GIL
    per = [s for s, _ in scored]
    keyframes = [rgb for _, rgb in scored]
    vecs = get_encoder("classic").encode_images(keyframes)
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -1.0)
    lwc = load_wundt(wundt_path)
    out = []
    for i, (it, s) in enumerate(zip(items, per)):
        if len(items) > 1:
            distinct = float(np.clip(1.0 - sims[i].max(), 0, 1))
            informativeness = distinct
        else:
            distinct, informativeness = 0.5, s["entropy"]
        mem = 0.5 * s["saliency_concentration"] + 0.25 * s["colourfulness"] + 0.25 * distinct
        scores = {
            "aesthetics": s["aesthetics"],
            "colourfulness": s["colourfulness"],
            "contrast": s["contrast"],
            "sharpness": s["sharpness"],
            "composition": s["composition"],
            "valence": s["valence"],
            "arousal": s["arousal"],
            "motion": s["motion"],
            "memorability": mem,
            "informativeness": informativeness,
        }
        scores["persuasiveness"] = persuasiveness(informativeness, s["aesthetics"], s["arousal"], lwc)
        scores = {k: float(min(1.0, max(0.0, v))) for k, v in scores.items()}
        out.append(MaterialScores(id=it.id, scores=scores, emotion=va_to_class(scores["valence"], scores["arousal"])))
    return out


@register("score_materials")
def score_materials(inp: ScoreMaterialsInput) -> ScoreMaterialsOutput:
    """Score photos and shots: aesthetics, valence/arousal → EaMD emotion, memorability, persuasiveness (LWC)."""
    return ScoreMaterialsOutput(items=score_items(inp.items, inp.wundt_path))
