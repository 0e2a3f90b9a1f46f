"""Why is this video exciting? A two-stage explanation (explainer paper, §3).

Classifier (explainer §3.1): per-frame features → a model → P(exciting) and the six emotion
classes of AdReel (excited, fearful, neutral, relaxed, sad, tense). Two models share one protocol:

* :class:`ArousalExcitement` — the embedded default. It needs no training data: it *is* AdReel's
  own arousal-based excitement score (the arousal proxy of :mod:`tools.understand.video_features`, pooled over
  frames with a soft maximum), and its emotion is the class of its (valence, arousal) point on
  the EaMD plane (:func:`tools.core.emotion.va_class_probs`, the soft form of the one mapping).
  Explaining it tells a user which part of the video drives AdReel's excitement score.
* :class:`ExcitementLSTM` — per-frame features → LSTM → exciting logit + six emotion logits,
  trained with :func:`train_excitement_classifier` / :func:`train_excitement_cli`.

Stage 1 (explainer §3.2): ~15 key frames where structural similarity (SSIM) drops most, a
context window of frames similar to each key frame (SSIM ≥ τ), then leave-one-section-out
through the classifier ranks the sections (§3.2.2).

Stage 2 (explainer §3.3): LIME (``lime_image.LimeImageExplainer``) over SLIC superpixels of the
top section's key frame with a ridge surrogate; switching a superpixel off greys that region in
every frame of the section, whose features are then recomputed. LIME is run several times with
seeds derived from ``seed``; weights are averaged and the mean pairwise Jaccard overlap of the
runs' top-segment sets is reported as the stability score.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import Field

from tools.core.emotion import EMOTIONS, va_class_probs
from tools.core.errors import InfeasibleError, ToolInputError
from tools.core.models import EmotionClass, Model
from tools.core.paths import ReadPath, WritePath, check_export, export, scratch_dir
from tools.core.registry import register

# --------------------------------------------------------------------------- classifiers


class ExcitementModel(Protocol):
    """What the explainer needs from a classifier: per-frame feature rows in, scores out."""

    name: str

    def p_exciting(self, sequences: list[np.ndarray]) -> np.ndarray:
        """P(exciting) for each feature sequence [T, D]."""
        ...

    def emotion_probs(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities of the six emotion classes (order of EMOTIONS) for one sequence."""
        ...


@dataclass(frozen=True)
class ArousalExcitement:
    """AdReel's arousal-based excitement score as a classifier (no training data needed).

    P(exciting) = τ·log mean_t exp(a_t / τ), the soft maximum of the per-frame arousal a_t with
    temperature τ = 0.1: a video is as exciting as its most exciting stretch, smoothly, so that
    removing that stretch lowers the score and removing calm frames does not.
    """

    temperature: float = 0.1
    name: str = "default-arousal"

    def p_exciting(self, sequences: list[np.ndarray]) -> np.ndarray:
        from tools.understand.video_features import column

        out = np.empty(len(sequences))
        for i, rows in enumerate(sequences):
            a = column(rows, "arousal").astype(np.float64)
            m = a.max()
            out[i] = m + self.temperature * np.log(np.mean(np.exp((a - m) / self.temperature)))
        return np.clip(out, 0.0, 1.0)

    def emotion_probs(self, rows: np.ndarray) -> np.ndarray:
        from tools.understand.video_features import column

        arousal = float(self.p_exciting([rows])[0])
        hue = rows[:, [i for i, n in enumerate(_feature_names()) if n.startswith("hue_")]].mean(0)
        warm = float((hue[0] + hue[1] + hue[7]) / (hue.sum() + 1e-6))  # reds, oranges, magentas
        valence = float(np.clip(0.4 * column(rows, "brightness").mean() + 0.3 * min(1.0, 2 * column(rows, "saturation").mean())
                                + 0.3 * warm, 0, 1))
        probs = va_class_probs(valence, arousal)
        return np.array([probs[e] for e in EMOTIONS])


def _feature_names() -> tuple[str, ...]:
    from tools.understand.video_features import FRAME_FEATURES

    return FRAME_FEATURES


def _build_lstm(n_features: int, hidden: int):
    import torch
    from torch import nn

    class _Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(n_features, hidden, num_layers=1, batch_first=True)
            self.head = nn.Linear(hidden, 1 + len(EMOTIONS))

        def forward(self, x, lengths):  # x [B, T, D]
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, padding_value=-1e4)
            # max over time: an ad is exciting if some stretch of it is (the last state forgets bursts)
            return self.head(out.max(1).values)

    torch.manual_seed(0)
    return _Net()


class ExcitementLSTM:
    """Per-frame features → LSTM → (exciting logit, six emotion logits) (explainer §3.1)."""

    def __init__(self, net, n_features: int, hidden: int, name: str = "lstm") -> None:
        self.net = net.eval()
        self.n_features = n_features
        self.hidden = hidden
        self.name = name

    def _logits(self, sequences: list[np.ndarray]):
        import torch

        lengths = torch.tensor([len(s) for s in sequences])
        x = torch.zeros(len(sequences), int(lengths.max()), self.n_features)
        for i, s in enumerate(sequences):
            x[i, : len(s)] = torch.from_numpy(np.asarray(s, np.float32))
        with torch.no_grad():
            return self.net(x, lengths)

    def p_exciting(self, sequences: list[np.ndarray]) -> np.ndarray:
        import torch

        return torch.sigmoid(self._logits(sequences)[:, 0]).numpy().astype(np.float64)

    def emotion_probs(self, rows: np.ndarray) -> np.ndarray:
        import torch

        return torch.softmax(self._logits([rows])[0, 1:], 0).numpy().astype(np.float64)

    def save(self, path: str | Path) -> None:
        import torch

        torch.save({"kind": "excitement-lstm", "n_features": self.n_features, "hidden": self.hidden,
                    "state_dict": self.net.state_dict()}, str(path))


def load_excitement_model(path: str | Path) -> ExcitementLSTM:
    """Load a classifier saved by :func:`train_excitement_cli`."""
    from tools.explain.gevaden import load_checkpoint

    p = Path(path)
    ck = load_checkpoint(p, "excitement-lstm", "excitement model",
                         hint="train one with `train_excitement_cli` or leave model_path empty for the default")
    net = _build_lstm(ck["n_features"], ck["hidden"])
    net.load_state_dict(ck["state_dict"])
    return ExcitementLSTM(net, ck["n_features"], ck["hidden"], name=f"lstm:{p.name}")


def train_excitement_classifier(
    sequences: list[np.ndarray], exciting: list[int], emotions: list[int | None] | None = None,
    epochs: int = 60, seed: int = 0, hidden: int = 32, lr: float = 1e-2,
) -> tuple[ExcitementLSTM, list[float]]:
    """Fit the LSTM classifier on feature sequences; returns the model and the loss per epoch.

    Loss: binary cross-entropy on exciting + cross-entropy on the emotion class where given.
    """
    import torch
    from torch import nn

    if not sequences or len(sequences) != len(exciting):
        raise ToolInputError(f"need one label per sequence, got {len(sequences)} sequences, {len(exciting)} labels")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    d = sequences[0].shape[1]
    net = _build_lstm(d, hidden)
    torch.manual_seed(seed)
    for p_ in net.parameters():  # seed-dependent init
        if p_.dim() > 1:
            nn.init.xavier_uniform_(p_)
    model = ExcitementLSTM(net, d, hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    y = torch.tensor(exciting, dtype=torch.float32)
    emo = torch.tensor([-100 if e is None else e for e in (emotions or [None] * len(sequences))])
    losses = []
    for _ in range(epochs):
        net.train()
        order = rng.permutation(len(sequences))
        tot = 0.0
        for b in range(0, len(order), 16):
            idx = order[b: b + 16]
            seqs = [sequences[i] for i in idx]
            lengths = torch.tensor([len(s) for s in seqs])
            x = torch.zeros(len(seqs), int(lengths.max()), d)
            for i, s in enumerate(seqs):
                x[i, : len(s)] = torch.from_numpy(np.asarray(s, np.float32))
            out = net(x, lengths)
            loss = nn.functional.binary_cross_entropy_with_logits(out[:, 0], y[idx])
            e = emo[idx]
            if (e >= 0).any():
                loss = loss + nn.functional.cross_entropy(out[:, 1:], e, ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
        losses.append(tot / len(sequences))
    net.eval()
    return model, losses


def train_excitement_cli(annotations: str, out: str, epochs: int = 60, seed: int = 0) -> dict:
    """Train the LSTM classifier from ``{"video.mp4": {"exciting": true, "emotion": "excited"}, …}``.

    Features are computed at 8 fps, 160 px (as at explanation time). Writes a checkpoint to ``out``.
    """
    from tools.understand.video_features import frame_feature_matrix, read_frames

    ann = _load_json(annotations)
    seqs, ys, emos = [], [], []
    for video, lab in ann.items():
        if not isinstance(lab, dict) or "exciting" not in lab:
            raise ToolInputError(f"annotation of {video!r} must be an object with 'exciting' (bool)",
                                 hint='e.g. {"ad.mp4": {"exciting": true, "emotion": "excited"}}')
        em = lab.get("emotion")
        if em is not None and em not in EMOTIONS:
            raise ToolInputError(f"unknown emotion {em!r} for {video!r}", hint=f"use one of {', '.join(EMOTIONS)}")
        frames, _ = read_frames(_resolve(video, annotations), fps=8.0, width_px=160)
        seqs.append(frame_feature_matrix(frames))
        ys.append(int(bool(lab["exciting"])))
        emos.append(None if em is None else EMOTIONS.index(em))
    model, losses = train_excitement_classifier(seqs, ys, emos, epochs=epochs, seed=seed)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return {"model_path": out, "videos": len(seqs), "epochs": epochs, "loss_first": losses[0], "loss_last": losses[-1]}


def _load_json(path: str) -> dict:
    from tools.explain.gevaden import load_annotations

    return load_annotations(path, "video path → annotation")


def _resolve(video: str, annotations: str) -> str:
    p = Path(video)
    return str(p if p.is_absolute() or p.exists() else Path(annotations).parent / p)


# --------------------------------------------------------------------------- stage 1


@dataclass
class Section:
    """A key frame and the contiguous frames similar to it (indices into the analysis frames)."""

    key: int
    start: int
    end: int  # exclusive
    importance: float = 0.0


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, data_range=255.0))


def key_frame_sections(gray: np.ndarray, n_key: int = 15, context_ssim: float = 0.5,
                       max_context: int = 20) -> list[Section]:
    """Key frames by SSIM and a context window around each (explainer §3.2.1–3.2.2).

    The video is cut into ``n_key`` segments of equal "length" where the length of a frame step
    is its SSIM drop plus the mean drop: fast-changing stretches get more, shorter segments (key
    frames that differ from each other, as in the paper) while calm stretches still get their
    share (so the key frames stay representative of the whole video). Each boundary is then
    snapped to the largest SSIM drop nearby, which puts it on a cut when there is one. A
    segment's key frame is its medoid (highest mean SSIM to the segment). The section of a key
    frame grows left and right inside its segment while SSIM to the key frame stays
    ≥ ``context_ssim``, up to ``max_context`` frames (the paper's ≈20-frame sections).
    """
    n = len(gray)
    if n < 2:
        return [Section(0, 0, n)]
    n_key = max(1, min(n_key, n // 2))
    d = np.array([1.0 - _ssim(gray[t - 1], gray[t]) for t in range(1, n)])  # drop before frame t
    pos = np.concatenate([[0.0], np.cumsum(d + d.mean() + 1e-9)])
    r = max(1, n // (4 * n_key))
    cuts: list[int] = []
    for k in range(1, n_key):
        t = int(np.searchsorted(pos, pos[-1] * k / n_key))
        lo, hi = max(cuts[-1] + 1 if cuts else 1, t - r), min(n - 1, t + r)
        if lo > hi:
            continue
        cuts.append(int(lo + np.argmax(d[lo - 1: hi])))
    bounds = [0, *sorted(cuts), n]
    sections = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = np.arange(a, b)
        if len(idx) > 2:
            sub = idx[:: max(1, len(idx) // 8)]  # medoid over ≤ ~8 candidates keeps this cheap
            key = max(sub, key=lambda k: np.mean([_ssim(gray[k], gray[j]) for j in sub if j != k]))
        else:
            key = idx[len(idx) // 2]
        lo = hi = int(key)
        while lo - 1 >= a and hi - lo + 1 < max_context and _ssim(gray[lo - 1], gray[key]) >= context_ssim:
            lo -= 1
        while hi + 1 < b and hi - lo + 1 < max_context and _ssim(gray[hi + 1], gray[key]) >= context_ssim:
            hi += 1
        sections.append(Section(int(key), lo, hi + 1))
    return sections


def rank_sections(model: ExcitementModel, rows: np.ndarray, sections: list[Section]) -> float:
    """Leave-one-section-out (explainer §3.2.2): importance = P(all) − P(without the section).

    Sets ``importance`` on each section, returns P(exciting) of the whole video.
    """
    full = float(model.p_exciting([rows])[0])
    seqs = []
    for s in sections:
        keep = np.ones(len(rows), bool)
        keep[s.start: s.end] = False
        seqs.append(rows[keep] if keep.any() else rows[:1] * 0)
    ps = model.p_exciting(seqs)
    for s, p in zip(sections, ps):
        s.importance = full - float(p)
    return full


# --------------------------------------------------------------------------- stage 2


def _segments(image01: np.ndarray, n_segments: int) -> np.ndarray:
    from skimage.segmentation import slic

    seg = slic(image01, n_segments=n_segments, compactness=10, sigma=1, start_label=0, channel_axis=-1)
    _, inv = np.unique(seg, return_inverse=True)  # LIME needs labels 0..k-1
    return inv.reshape(seg.shape)


def lime_key_pixels(model: ExcitementModel, frames: np.ndarray, rows: np.ndarray, section: Section,
                    n_segments: int = 40, num_samples: int = 150, runs: int = 3, seed: int = 0,
                    max_frames: int = 8, rel_threshold: float = 0.3, max_top: int = 10) -> dict:
    """LIME over SLIC superpixels of the section's key frame (explainer §3.3).

    A perturbed sample switches superpixels off; off pixels become grey (the frame's mean luma)
    in every frame of the section (up to ``max_frames`` evenly spaced ones), the section's feature
    rows are recomputed (motion included) and the classifier re-scores the whole video. LIME's
    default surrogate is a ridge regression (sklearn ``Ridge(alpha=1)``) on the binary superpixel
    indicators. The top segments are those with positive mean weight ≥ ``rel_threshold`` × the
    largest, at most ``max_top``.
    """
    from lime import lime_image

    from tools.understand.video_features import frame_feature_matrix, luma

    key_img = frames[section.key].astype(np.float64) / 255.0
    segments = _segments(key_img, n_segments)
    # contiguous frames around the key frame, so unmasked motion equals the original rows'
    lo = max(section.start, min(section.key - max_frames // 2, section.end - max_frames))
    pick = np.arange(lo, min(section.end, lo + max_frames))
    sec_frames = frames[pick]
    prev = frames[pick[0] - 1] if pick[0] > 0 else None
    greys = [float(luma(f).mean()) for f in sec_frames]
    HIDE = -1.0  # impossible pixel value: marks switched-off superpixels in LIME's samples

    def classify(imgs: np.ndarray) -> np.ndarray:
        seqs = []
        for img in imgs:
            off = img[..., 0] == HIDE
            fr = sec_frames.copy()
            for k in range(len(fr)):
                fr[k][off] = np.uint8(round(greys[k]))
            pv = None
            if prev is not None:
                pv = prev.copy()
                pv[off] = np.uint8(round(greys[0]))
            sec_rows = frame_feature_matrix(fr, pv)
            new = rows.copy()
            new[pick] = sec_rows
            seqs.append(new)
        p = model.p_exciting(seqs)
        return np.stack([1.0 - p, p], 1)

    n_seg = int(segments.max()) + 1
    weights = np.zeros((runs, n_seg))
    tops = []
    for r in range(runs):
        explainer = lime_image.LimeImageExplainer(kernel_width=0.25, random_state=seed * 7919 + r)
        with contextlib.redirect_stderr(io.StringIO()):  # lime draws a tqdm bar
            exp = explainer.explain_instance(key_img, classify, labels=(1,), top_labels=None, hide_color=HIDE,
                                             num_samples=num_samples, batch_size=25,
                                             segmentation_fn=lambda _img: segments, random_seed=seed + r)
        for s, w in exp.local_exp[1]:
            weights[r, s] = w
        tops.append(_top_segments(weights[r], rel_threshold, max_top))
    mean_w = weights.mean(0)
    top = _top_segments(mean_w, rel_threshold, max_top)
    if runs > 1:
        jac = [len(tops[i] & tops[j]) / max(1, len(tops[i] | tops[j]))
               for i in range(runs) for j in range(i + 1, runs)]
        stability = float(np.mean(jac))
    else:
        stability = float("nan")
    mask = np.isin(segments, sorted(top))
    return {"segments": segments, "weights": mean_w, "weights_runs": weights, "top": sorted(top), "mask": mask,
            "stability": stability}


def _top_segments(w: np.ndarray, rel: float, max_top: int) -> set[int]:
    if w.max() <= 0:
        return set()
    order = np.argsort(-w)
    return {int(s) for s in order[:max_top] if w[s] > 0 and w[s] >= rel * w.max()}


# --------------------------------------------------------------------------- tool


class SectionImportance(Model):
    """One stage-1 section and how much P(exciting) drops without it."""

    rank: int
    """1 = most important."""
    key_frame_s: float
    """Time of the key frame."""
    start_s: float
    """Start of the section."""
    end_s: float
    """End of the section."""
    importance: float
    """P(exciting) of the video minus P(exciting) with the section removed."""


class ExplainInput(Model):
    """Explain why a video is (or is not) predicted exciting."""

    video_path: ReadPath
    """The video to explain."""
    out_dir: WritePath
    """Folder for explanation.png and explanation.json (created if missing)."""
    seed: int = 0
    """Seed of LIME's sampling; the same seed gives the same explanation."""
    model_path: ReadPath | None = None
    """A classifier from `train_excitement_cli`; empty = AdReel's arousal-based score."""
    n_key_frames: int = Field(15, ge=2, le=60)
    """Number of key frames / sections (the paper's n ≈ 15)."""
    analysis_fps: float = Field(8.0, gt=0, le=30)
    """Frames per second analysed (lowered for long videos to keep ≤ 600 frames)."""
    analysis_width_px: int = Field(160, ge=64, le=640)
    """Width frames are analysed at."""
    context_ssim: float = Field(0.5, ge=0, le=1)
    """A frame joins a key frame's section while its SSIM to the key frame is at least this."""
    lime_samples: int = Field(300, ge=20, le=5000)
    """Perturbed samples per LIME run."""
    lime_runs: int = Field(3, ge=1, le=20)
    """LIME runs averaged (their agreement is the stability score)."""
    n_segments: int = Field(100, ge=4, le=400)
    """SLIC superpixels on the key frame."""


class ExplainOutput(Model):
    """The explanation and where it was written."""

    png_path: str
    """Key frame with highlighted regions and a section timeline."""
    json_path: str
    """All numbers of the explanation."""
    model: str
    """Classifier explained."""
    exciting: bool
    """P(exciting) ≥ 0.5."""
    p_exciting: float
    """The classifier's P(exciting) for the whole video."""
    emotion: EmotionClass
    """Most probable of the six emotion classes."""
    emotion_probs: dict[str, float]
    """Probability of each emotion class."""
    sections: list[SectionImportance]
    """Stage-1 sections, most important first."""
    key_frame_s: float
    """Time of the explained key frame (the top section's)."""
    top_segments: list[int]
    """Superpixel ids highlighted on the key frame."""
    top_region_bbox_px: list[int]
    """x0, y0, x1, y1 of the highlighted region at analysis resolution (empty if none)."""
    top_region_fraction: float
    """Share of the key frame the highlighted region covers."""
    stability: float
    """Mean pairwise Jaccard overlap of the top segments of the LIME runs (1 = identical; NaN for one run)."""
    analysis_size_px: list[int]
    """Width and height frames were analysed at (the mask's resolution)."""


def explain_video(inp: ExplainInput) -> tuple[ExplainOutput, dict]:
    """Run both stages; returns the output model and the arrays (frames, mask …) for rendering/tests."""
    from tools.understand.video_features import frame_feature_matrix, luma, probe_video, read_frames

    info = probe_video(inp.video_path)
    fps = min(inp.analysis_fps, 600.0 / max(info.duration_s, 1e-3))
    frames, times = read_frames(inp.video_path, fps=fps, width_px=inp.analysis_width_px, info=info)
    if len(frames) < 4:
        raise InfeasibleError(f"video {inp.video_path!r} yields only {len(frames)} frames at {fps:.1f} fps",
                              hint="explanations need a video of at least about half a second")
    model: ExcitementModel = load_excitement_model(inp.model_path) if inp.model_path else ArousalExcitement()
    rows = frame_feature_matrix(frames)
    gray = np.stack([luma(f) for f in frames])
    sections = key_frame_sections(gray, inp.n_key_frames, inp.context_ssim)
    p_full = rank_sections(model, rows, sections)
    ranked = sorted(sections, key=lambda s: -s.importance)
    top = ranked[0]
    lime = lime_key_pixels(model, frames, rows, top, n_segments=inp.n_segments, num_samples=inp.lime_samples,
                           runs=inp.lime_runs, seed=inp.seed)
    emo = model.emotion_probs(rows)
    mask = lime["mask"]
    ys, xs = np.nonzero(mask)
    bbox = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if len(xs) else []
    dt = 1.0 / fps
    secs = [SectionImportance(rank=i + 1, key_frame_s=round(float(times[s.key]), 3),
                              start_s=round(float(times[s.start]), 3), end_s=round(float(times[s.end - 1]) + dt, 3),
                              importance=round(s.importance, 6)) for i, s in enumerate(ranked)]
    out_dir = Path(inp.out_dir)
    out = ExplainOutput(
        png_path=str(out_dir / "explanation.png"), json_path=str(out_dir / "explanation.json"), model=model.name,
        exciting=p_full >= 0.5, p_exciting=round(p_full, 6), emotion=EMOTIONS[int(np.argmax(emo))],
        emotion_probs={e: round(float(p), 4) for e, p in zip(EMOTIONS, emo)}, sections=secs,
        key_frame_s=secs[0].key_frame_s, top_segments=lime["top"], top_region_bbox_px=bbox,
        top_region_fraction=round(float(mask.mean()), 4), stability=round(lime["stability"], 4),
        analysis_size_px=[int(frames.shape[2]), int(frames.shape[1])],
    )
    return out, {"frames": frames, "times": times, "top": top, "lime": lime, "duration_s": info.duration_s}


def render_explanation(out: ExplainOutput, arrays: dict, path: Path, width_px: int = 640) -> None:
    """Key frame (non-highlighted regions dimmed, highlighted ones outlined) above a timeline strip."""
    import cv2
    from skimage.segmentation import find_boundaries

    frame = arrays["frames"][arrays["top"].key]
    lime = arrays["lime"]
    h, w = frame.shape[:2]
    H = int(round(width_px * h / w))
    big = cv2.resize(frame, (width_px, H), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    mask = cv2.resize(lime["mask"].astype(np.uint8), (width_px, H), interpolation=cv2.INTER_NEAREST).astype(bool)
    if mask.any():
        big[~mask] *= 0.35
        edge = find_boundaries(mask, mode="inner")
        edge = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        big[edge] = (255, 220, 0)
    img = big.clip(0, 255).astype(np.uint8)
    strip_h, text_h = 46, 44
    canvas = np.full((text_h + H + strip_h, width_px, 3), 24, np.uint8)
    canvas[text_h: text_h + H] = img
    dur = max(arrays["duration_s"], 1e-3)
    y0, y1 = text_h + H + 8, text_h + H + strip_h - 14
    cv2.rectangle(canvas, (0, y0), (width_px - 1, y1), (70, 70, 70), -1)
    imp = np.array([s.importance for s in out.sections])
    scale = max(1e-9, float(np.abs(imp).max()))
    for s in out.sections:
        x0, x1 = int(s.start_s / dur * width_px), max(int(s.start_s / dur * width_px) + 2, int(s.end_s / dur * width_px))
        v = s.importance / scale
        col = (int(80 + 175 * max(v, 0)), 80, int(80 + 175 * max(-v, 0)))  # red = raises excitement, blue = lowers
        cv2.rectangle(canvas, (x0, y0), (x1, y1), col, -1)
        if s.rank == 1:
            cv2.rectangle(canvas, (x0, y0 - 3), (x1, y1 + 3), (255, 255, 255), 2)
    kx = int(out.key_frame_s / dur * width_px)
    cv2.line(canvas, (kx, y0 - 6), (kx, y1 + 6), (255, 220, 0), 2)
    cv2.putText(canvas, "0s", (2, y1 + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (200, 200, 200), 1)
    cv2.putText(canvas, f"{dur:.1f}s", (width_px - 40, y1 + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (200, 200, 200), 1)
    top = out.sections[0]
    line1 = f"{'EXCITING' if out.exciting else 'not exciting'}  p={out.p_exciting:.2f}  emotion={out.emotion}  [{out.model}]"
    line2 = f"key frame {out.key_frame_s:.2f}s, top section {top.start_s:.1f}-{top.end_s:.1f}s, stability {out.stability:.2f}"
    cv2.putText(canvas, line1, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(canvas, line2, (6, 36), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 220, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR)):
        raise ToolInputError(f"cannot write {str(path)!r}", hint="check that out_dir is writable")


@register("explain_excitement")
def explain_excitement(inp: ExplainInput) -> ExplainOutput:
    """Explain why a video reads as exciting: rank key-frame sections, then LIME the top one's key pixels."""
    out, arrays = explain_video(inp)
    render_explanation(out, arrays, Path(out.png_path))
    payload = out.model_dump(mode="json")
    payload.update({"video_path": inp.video_path, "seed": inp.seed, "lime_runs": inp.lime_runs,
                    "lime_samples": inp.lime_samples,
                    "segment_weights": [round(float(w), 6) for w in arrays["lime"]["weights"]]})
    Path(out.json_path).write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    return out


def explain_cli(video: str, out_dir: str, seed: int = 0) -> dict:
    """CLI entry: ``python app.py explain VIDEO --out DIR [--seed N]``; returns the output as a dict."""
    folder = Path(out_dir).expanduser()
    png, js = check_export(folder / "explanation.png", ".png"), check_export(folder / "explanation.json", ".json")
    res = explain_excitement(ExplainInput(video_path=video, out_dir=str(scratch_dir("explain")), seed=seed))
    return res.model_copy(update={"png_path": str(export(res.png_path, png)), "json_path": str(export(res.json_path, js))}).model_dump(mode="json")
