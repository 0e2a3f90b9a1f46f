"""GEVADEN: Generative Variational Dual-Encoder for GIF thumbnails (GIF paper, "Model").

* Prior encoder (eq. 1): 2-layer LSTM over the per-second features X → s_x → 2-layer MLP (ReLU)
  → N(μ_prior, σ_prior).
* Posterior encoder (eq. 2): the same shape over the ground-truth triplet's features X_Y → s_y →
  N(μ_post, σ_post).
* GIF generator (eq. 3): a 2-layer LSTM whose initial hidden state is (a projection of) s_x and
  whose input at step i is [z, g_{i−1}] (g_0 = 0); it emits three shot features g_1..g_3.
* Closest matching under the disjointness constraint (eq. 4) is an assignment problem solved
  exactly with the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``).
* Loss (eq. 5–7): L2 regression of g to X_Y (the Gaussian −log p_φ up to constants) averaged over
  4 posterior samples (re-parameterisation), + β·KL(Q‖P), + λ·‖ŝ_y − s_y‖₂ where ŝ_y re-embeds g
  with the posterior encoder *without* gradient to its parameters ω (eq. 6).
* Inference (eq. 10): L latent samples from the prior; each proposes the Hungarian match of its
  g; the proposal with the highest average likelihood over all L samples wins.

The paper feeds 2048-d 3D-ResNet features; AdReel's embedded default feeds the classic per-second
features of :mod:`tools.understand.video_features`, standardised per video (so matching is relative to the
video at hand). Dimensions are scaled down accordingly (hidden 64, GIF space 32, z 10 as in the
paper).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tools.core.errors import ToolInputError


@dataclass(frozen=True)
class GevadenConfig:
    """Sizes and loss weights."""

    n_features: int
    hidden: int = 64  # video semantic space (paper: 512)
    gif_hidden: int = 32  # GIF semantic space (paper: 128)
    z_dim: int = 10  # latent Gaussian (paper: 10)
    beta: float = 0.1  # weight of KL(Q‖P), eq. 5
    lam: float = 0.1  # weight of the perceptual re-embedding loss, eq. 7 (paper's λ* = 0.1)
    posterior_samples: int = 4  # samples of z per input to estimate the expectation (paper: 4)
    shots: int = 3


def standardise(M: np.ndarray) -> np.ndarray:
    """Per-video z-score of each feature column (constant columns become 0)."""
    M = np.asarray(M, np.float32)
    return (M - M.mean(0)) / (M.std(0) + 1e-6)


def _build(cfg: GevadenConfig):
    import torch
    from torch import nn

    class Gevaden(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            D, H, Hy, Z = cfg.n_features, cfg.hidden, cfg.gif_hidden, cfg.z_dim
            self.prior_lstm = nn.LSTM(D, H, num_layers=2, batch_first=True)
            self.prior_mlp = nn.Sequential(nn.Linear(H, H), nn.ReLU(), nn.Linear(H, 2 * Z))
            self.post_lstm = nn.LSTM(D, Hy, num_layers=2, batch_first=True)
            self.post_mlp = nn.Sequential(nn.Linear(Hy, Hy), nn.ReLU(), nn.Linear(Hy, 2 * Z))
            self.gen_init = nn.Linear(H, 2 * H)
            self.gen_lstm = nn.LSTM(Z + D, H, num_layers=2, batch_first=True)
            self.gen_out = nn.Linear(H, D)

        def encode_prior(self, X, lengths):
            """Eq. 1: s_x and the video-dependent prior N(μ, σ) (as log-variance)."""
            packed = nn.utils.rnn.pack_padded_sequence(X, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, (h, _) = self.prior_lstm(packed)
            s_x = h[-1]
            mu, logvar = self.prior_mlp(s_x).chunk(2, -1)
            return s_x, mu, logvar.clamp(-8, 8)

        def encode_post(self, XY, params=None):
            """Eq. 2: s_y and the posterior N(μ, σ); ``params`` = detached weights for eq. 6."""
            if params is None:
                _, (h, _) = self.post_lstm(XY)
                s_y = h[-1]
                mu, logvar = self.post_mlp(s_y).chunk(2, -1)
                return s_y, mu, logvar.clamp(-8, 8)
            from torch.func import functional_call

            _, (h, _) = functional_call(self.post_lstm, params["lstm"], (XY,))
            return h[-1]

        def generate(self, s_x, z):
            """Eq. 3: g_i = G(H_{i−1}, z, g_{i−1}) with H_0 = s_x, g_0 = 0."""
            B = z.shape[0]
            h0 = torch.tanh(self.gen_init(s_x)).view(B, 2, -1).transpose(0, 1).contiguous()
            state = (h0, torch.zeros_like(h0))
            g_prev = torch.zeros(B, cfg.n_features, device=z.device)
            out = []
            for _ in range(cfg.shots):
                o, state = self.gen_lstm(torch.cat([z, g_prev], -1).unsqueeze(1), state)
                g_prev = self.gen_out(o[:, 0])
                out.append(g_prev)
            return torch.stack(out, 1)

    return Gevaden()


class GevadenModel:
    """A trained GEVADEN network with its config."""

    def __init__(self, net, cfg: GevadenConfig) -> None:
        self.net = net
        self.cfg = cfg

    def save(self, path: str | Path) -> None:
        import torch

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"kind": "gevaden", "config": asdict(self.cfg), "state_dict": self.net.state_dict()}, str(path))


def load_annotations(path: str | Path, shape: str, hint: str | None = None) -> dict:
    """A training annotation file: a non-empty JSON object keyed by video path (``shape`` says what
    each value is). A missing file, bad JSON or another shape is a ToolInputError."""
    p = Path(path)
    if not p.is_file():
        raise ToolInputError(f"annotation file not found: {str(path)!r}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ToolInputError(f"annotation file {str(path)!r} is not valid JSON: {str(e)[:200]}",
                             hint="write the annotations as one JSON object keyed by video path") from e
    if not isinstance(data, dict) or not data:
        raise ToolInputError(f"annotation file {str(path)!r} must be a non-empty JSON object: {shape}", hint=hint)
    return data


def load_checkpoint(path: str | Path, kind: str, what: str, hint: str) -> dict:
    """A checkpoint AdReel saved (a dict whose ``kind`` names the model), loaded on the CPU with
    ``weights_only`` (no code runs). A missing file or another kind is a ToolInputError."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise ToolInputError(f"{what} not found: {str(path)!r}", hint=hint)
    ck = torch.load(str(p), map_location="cpu", weights_only=True)
    if not isinstance(ck, dict) or ck.get("kind") != kind:
        raise ToolInputError(f"{str(path)!r} is not an AdReel {what} checkpoint", hint=hint)
    return ck


def load_gevaden(path: str | Path) -> GevadenModel:
    """Load a checkpoint written by :func:`train_gevaden` / :func:`train_gevaden_cli`."""
    ck = load_checkpoint(path, "gevaden", "GEVADEN model", hint="train one with `train_gevaden_cli` or use scorer='heuristic'")
    cfg = GevadenConfig(**ck["config"])
    net = _build(cfg)
    net.load_state_dict(ck["state_dict"])
    return GevadenModel(net.eval(), cfg)


def closest_matching(g: np.ndarray, X: np.ndarray) -> list[int]:
    """Eq. 4: argmin Σ_i ‖g_i − x_{ŷ_i}‖ over pairwise-distinct ŷ, solved exactly (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    if len(X) < len(g):
        raise ToolInputError(f"need at least {len(g)} shots to match, the video has {len(X)}")
    cost = np.sqrt(((g[:, None, :] - X[None]) ** 2).sum(-1))
    rows, cols = linear_sum_assignment(cost)
    return [int(c) for _, c in sorted(zip(rows, cols))]


def _kl(mu_q, lv_q, mu_p, lv_p):
    """KL(N(μq, σq²) ‖ N(μp, σp²)) summed over latent dimensions."""
    return 0.5 * (lv_p - lv_q + (lv_q.exp() + (mu_q - mu_p) ** 2) / lv_p.exp() - 1).sum(-1)


def train_gevaden(
    videos: list[np.ndarray], triplets: list[list[list[int]]], epochs: int = 200, seed: int = 0,
    cfg: GevadenConfig | None = None, lr: float = 3e-3, batch_videos: int = 32,
) -> tuple[GevadenModel, list[float]]:
    """Fit GEVADEN on per-second feature matrices and their ground-truth triplets (indices).

    Every (video, triplet) pair is one training example (one-to-many, as in the paper). Returns
    the model and the mean mixed loss (eq. 7) per epoch. ``videos`` are raw per-second matrices;
    they are standardised per video here.
    """
    import torch

    if not videos or len(videos) != len(triplets):
        raise ToolInputError(f"need one triplet list per video, got {len(videos)} videos and {len(triplets)} lists")
    Xs = [standardise(v) for v in videos]
    cfg = cfg or GevadenConfig(n_features=Xs[0].shape[1])
    pairs = []
    for vi, (X, ts) in enumerate(zip(Xs, triplets)):
        for t in ts:
            if len(t) != cfg.shots or len(set(t)) != cfg.shots or min(t) < 0 or max(t) >= len(X):
                raise ToolInputError(f"video {vi}: triplet {t} must be {cfg.shots} distinct shots in 0..{len(X) - 1}")
            pairs.append((vi, list(t)))
    if not pairs:
        raise ToolInputError("no ground-truth triplet to train on")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = _build(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    K = cfg.posterior_samples
    losses = []
    for _ in range(epochs):
        net.train()
        order = rng.permutation(len(pairs))
        tot = 0.0
        for b in range(0, len(order), batch_videos):
            batch = [pairs[i] for i in order[b: b + batch_videos]]
            lengths = torch.tensor([len(Xs[vi]) for vi, _ in batch])
            X = torch.zeros(len(batch), int(lengths.max()), cfg.n_features)
            for i, (vi, _) in enumerate(batch):
                X[i, : len(Xs[vi])] = torch.from_numpy(Xs[vi])
            XY = torch.stack([torch.from_numpy(Xs[vi][t]) for vi, t in batch])  # [B, 3, D]
            s_x, mu_p, lv_p = net.encode_prior(X, lengths)
            s_y, mu_q, lv_q = net.encode_post(XY)
            # K posterior samples per example (re-parameterisation trick)
            eps = torch.randn(K, *mu_q.shape)
            z = (mu_q + (0.5 * lv_q).exp() * eps).reshape(-1, cfg.z_dim)
            g = net.generate(s_x.repeat(K, 1), z)  # [K·B, 3, D]
            target = XY.repeat(K, 1, 1)
            reg = ((g - target) ** 2).sum(-1).sum(-1).mean()
            kl = _kl(mu_q, lv_q, mu_p, lv_p).mean()
            frozen = {"lstm": {k: v.detach() for k, v in net.post_lstm.named_parameters()}}
            s_hat = net.encode_post(g, params=frozen)
            percept = (s_hat - s_y.detach().repeat(K, 1)).norm(dim=-1).mean()
            loss = reg + cfg.beta * kl + cfg.lam * percept
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            tot += float(loss.detach()) * len(batch)
        losses.append(tot / len(pairs))
    net.eval()
    return GevadenModel(net, cfg), losses


def generate_candidates(model: GevadenModel, matrix: np.ndarray, seed: int = 0, samples: int = 64):
    """Draw ``samples`` z from the prior; returns (standardised X, g [L, 3, D], matched triplets)."""
    import torch

    X = standardise(matrix)
    if X.shape[1] != model.cfg.n_features:
        raise ToolInputError(f"model expects {model.cfg.n_features} features per second, got {X.shape[1]}",
                             hint="retrain the model with the current feature extractor")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        xt = torch.from_numpy(X)[None]
        s_x, mu, lv = model.net.encode_prior(xt, torch.tensor([len(X)]))
        eps = torch.randn(samples, model.cfg.z_dim, generator=gen)
        z = mu + (0.5 * lv).exp() * eps
        g = model.net.generate(s_x.repeat(samples, 1), z).numpy()
    return X, g, [closest_matching(gi, X) for gi in g]


def predict_triplet(model: GevadenModel, matrix: np.ndarray, seed: int = 0, samples: int = 64) -> list[int]:
    """Eq. 10: Ŷ* = argmax_Ŷ (1/L) Σ_l p_φ(Ŷ | X, z_l), over the L proposals' matches.

    p_φ is the Gaussian likelihood of the regression term, exp(−½ Σ_i ‖g_i^(l) − x_{ŷ_i}‖²).
    """
    X, g, cands = generate_candidates(model, matrix, seed, samples)
    uniq = sorted({tuple(c) for c in cands})
    best, best_score = None, -np.inf
    for c in uniq:
        d2 = ((g - X[list(c)][None]) ** 2).sum(-1).sum(-1)  # [L]
        m = (-0.5 * d2).max()
        score = m + np.log(np.mean(np.exp(-0.5 * d2 - m)))
        if score > best_score:
            best, best_score = list(c), score
    return best


def train_gevaden_cli(annotations: str, out: str, epochs: int = 200, seed: int = 0) -> dict:
    """Train GEVADEN from ``{"video.mp4": [[s1, s2, s3], …], …}`` (start seconds of 1-s shots).

    Paths are absolute or relative to the annotation file. Writes the checkpoint to ``out``.
    """
    from tools.understand.video_features import per_second_features

    p = Path(annotations)
    ann = load_annotations(annotations, "video path → list of [s1, s2, s3] start seconds",
                           hint='e.g. {"clip.mp4": [[3, 10, 7], [4, 12, 15]]}')
    videos, trips = [], []
    for video, ts in ann.items():
        vp = Path(video) if Path(video).is_absolute() else p.parent / video
        if not isinstance(ts, list) or not all(isinstance(t, list) and len(t) == 3 for t in ts):
            raise ToolInputError(f"{video!r}: expected a list of triplets [s1, s2, s3], got {ts!r}")
        sf = per_second_features(vp if vp.exists() else video)
        idx = [[int(round(float(s))) for s in t] for t in ts]
        for t, raw in zip(idx, ts):
            if len(set(t)) != 3 or min(t) < 0 or max(t) >= len(sf.starts_s):
                raise ToolInputError(f"{video!r}: triplet {raw} must be 3 distinct start seconds in "
                                     f"[0, {len(sf.starts_s) - 1}] (the video has {len(sf.starts_s)} full seconds)")
        videos.append(sf.matrix)
        trips.append(idx)
    model, losses = train_gevaden(videos, trips, epochs=epochs, seed=seed)
    model.save(out)
    return {"model_path": out, "videos": len(videos), "triplets": sum(map(len, trips)), "epochs": epochs,
            "loss_first": round(losses[0], 4), "loss_last": round(losses[-1], 4)}
