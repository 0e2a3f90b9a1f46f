"""Animated GIF thumbnails: three disjoint one-second shots, start–develop–end (GIF paper).

Two scorers pick the shots:

* ``heuristic`` (default, needs no training): in the spirit of the paper's BeautThumb and Hecate
  baselines, each one-second shot gets a unary score (visual quality, aesthetics, arousal, a
  penalty for shots that straddle a cut and for the first/last few per cent where fades and
  credits live) and the triplet maximises unary + gist coverage (facility location over the
  video's per-second features) + diversity, searched exhaustively over candidate triplets.
* ``gevaden``: the learned GEVADEN model of :mod:`tools.explain.gevaden` (GIF paper, "Model").

The GIF is written by ffmpeg with a generated palette (palettegen/paletteuse), looping forever,
and re-encoded on a ladder of lower fps / fewer colours / narrower width until it fits the byte
budget.
"""

from __future__ import annotations

import itertools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from tools.core.errors import InfeasibleError, MediaError, ToolInputError
from tools.core.models import Model
from tools.core.paths import FileName, ReadPath, WritePath, check_export, export, scratch_dir
from tools.core.registry import register

Role = Literal["start", "develop", "end"]


class ThumbnailInput(Model):
    """Make a looping 3-shot GIF thumbnail of a video."""

    video_path: ReadPath
    """The video to summarise."""
    out_dir: WritePath
    """Folder the GIF is written to (created if missing)."""
    file_name: FileName = "thumb.gif"
    """Name of the GIF inside ``out_dir``."""
    budget_bytes: int = Field(2_000_000, ge=20_000)
    """Largest allowed GIF size in bytes (web default 2 MB)."""
    width_px: int = Field(320, ge=64, le=1280)
    """Width of the GIF; may be lowered to meet the budget."""
    scorer: Literal["heuristic", "gevaden"] = "heuristic"
    """Shot scorer: the training-free heuristic or a trained GEVADEN model."""
    model_path: ReadPath | None = None
    """GEVADEN checkpoint (from `train_gevaden_cli`); required when scorer is 'gevaden'."""
    shot_s: float = Field(1.0, gt=0.2, le=5.0)
    """Length of each shot; shortened to duration/3 for videos shorter than three shots."""
    seed: int = 0
    """Seed for GEVADEN's Monte-Carlo sampling (the heuristic is deterministic)."""


class ThumbnailShot(Model):
    """One shot of the GIF, in playing order."""

    start_s: float
    """Start of the shot in the source video."""
    end_s: float
    """End of the shot in the source video."""
    role: Role
    """Its place in the start–develop–end story."""
    arousal: float
    """Arousal proxy of the shot in [0, 1]."""


class ThumbnailOutput(Model):
    """The written GIF and the chosen shots."""

    gif_path: str
    """Path of the GIF."""
    size_bytes: int
    """Size of the GIF file."""
    budget_bytes: int
    """The budget it was fitted into."""
    width_px: int
    """Final width of the GIF."""
    fps: float
    """Final frame rate of the GIF."""
    colours: int
    """Palette size of the GIF."""
    shots: list[ThumbnailShot]
    """The three shots in playing order."""
    starts_s: list[float]
    """Start times of the shots in playing order (the paper's Ŷ)."""
    scorer: str
    """Scorer that chose the shots."""


# --------------------------------------------------------------------------- heuristic scorer


@dataclass(frozen=True)
class HeuristicWeights:
    """Weights of the heuristic triplet objective (hand-set priors, not fitted to data)."""

    quality: float = 1.0
    aesthetics: float = 1.0
    arousal: float = 1.0
    cut_penalty: float = 1.0
    edge_penalty: float = 0.3
    coverage: float = 1.5
    diversity: float = 0.5


def _standardise(M: np.ndarray) -> np.ndarray:
    return (M - M.mean(0)) / (M.std(0) + 1e-6)


def unary_scores(sf, w: HeuristicWeights = HeuristicWeights()) -> dict[str, np.ndarray]:
    """Per-shot score components in roughly [0, 1] (BeautThumb-style quality/aesthetics + arousal)."""
    exposure_ok = np.clip(1.0 - sf.col("dark_ratio") - sf.col("bright_ratio"), 0, 1)
    # mid-grey exposure is best; very dark or very bright frames make poor thumbnails
    exposure_ok = exposure_ok * (1.0 - np.abs(sf.col("brightness") - 0.5))
    quality = 0.6 * sf.col("sharpness") + 0.4 * exposure_ok
    aesthetics = 0.5 * sf.col("colourfulness") + 0.3 * sf.col("contrast") + 0.2 * sf.col("hue_entropy")
    arousal = sf.arousal
    # last two columns: std of motion and of brightness inside the shot; a jump in brightness
    # inside one second almost always means a cut or a fade, which looks glitchy in a GIF
    cut = np.clip(6.0 * sf.matrix[:, -1] + 1.5 * sf.matrix[:, -2], 0, 1)
    n = len(sf.starts_s)
    edge = np.zeros(n)
    if sf.info.duration_s > 8.0:  # fades and credits: like the paper's annotation, avoid the ends
        k = max(1, int(round(0.05 * n)))
        edge[:k] = 1.0
        edge[-k:] = 1.0
    total = (w.quality * quality + w.aesthetics * aesthetics + w.arousal * arousal
             - w.cut_penalty * cut - w.edge_penalty * edge)
    # black, blown-out or featureless seconds are unusable in a thumbnail, however they score otherwise
    usable = np.clip(exposure_ok * 2.5, 0, 1) * np.clip(sf.col("contrast") * 8, 0, 1)
    total = total - 2.0 * (1.0 - usable)
    return {"quality": quality, "aesthetics": aesthetics, "arousal": arousal, "cut": cut, "edge": edge,
            "usable": usable, "total": total}


def choose_heuristic(sf, w: HeuristicWeights = HeuristicWeights(), max_candidates: int = 40) -> list[int]:
    """Indices of three disjoint shots maximising unary + coverage + diversity, in story order.

    Coverage is facility location over standardised per-second features (how well the three
    shots represent every usable second of the video: the "gist"), each second weighted by its
    usability (exposure and contrast); diversity is the smallest pairwise
    distance of the three, relative to the median distance. Candidates are all shots for videos
    up to ``max_candidates`` seconds, else the best ``max_candidates`` by unary + representativeness;
    the search over triplets is exhaustive and vectorised.
    """
    n = len(sf.starts_s)
    if n < 3:
        raise InfeasibleError(f"need at least 3 shots, the video has {n}")
    parts = unary_scores(sf, w)
    u = parts["total"]
    # coverage counts the seconds worth showing: black or blank stretches need no representative
    wt = parts["usable"] + 1e-3
    wt = wt / wt.sum()
    Z = _standardise(sf.matrix.astype(np.float64))
    D = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    med = float(np.median(D[np.triu_indices(n, 1)])) or 1.0
    S = np.exp(-(D ** 2) / (2 * med ** 2))
    rep = S.mean(1)
    cand = np.arange(n)
    if n > max_candidates:
        cand = np.sort(np.argsort(-(u + w.coverage * rep))[:max_candidates])
    T = np.array(list(itertools.combinations(cand, 3)))
    cov = np.maximum(np.maximum(S[T[:, 0]], S[T[:, 1]]), S[T[:, 2]]) @ wt
    div = np.minimum(np.minimum(D[T[:, 0], T[:, 1]], D[T[:, 0], T[:, 2]]), D[T[:, 1], T[:, 2]]) / med
    J = u[T].mean(1) + w.coverage * cov + w.diversity * np.minimum(div, 1.0)
    best = T[int(np.argmax(J))]
    return story_order(best, rep, sf.arousal)


def story_order(idx, representativeness: np.ndarray, arousal: np.ndarray) -> list[int]:
    """Start–develop–end: open on the most representative shot (sets the scene), end on the most
    arousing of the rest (a climax makes viewers want more), develop with the remaining one."""
    idx = [int(i) for i in idx]
    start = max(idx, key=lambda i: (representativeness[i], -i))
    rest = [i for i in idx if i != start]
    end = max(rest, key=lambda i: (arousal[i], i))
    develop = next(i for i in rest if i != end)
    return [start, develop, end]


# --------------------------------------------------------------------------- GIF writer


#: (fps, colours, width factor) tried in order until the GIF fits the budget
_LADDER: tuple[tuple[float, int, float], ...] = (
    (12, 256, 1.0), (10, 256, 1.0), (10, 128, 1.0), (8, 128, 1.0), (8, 64, 1.0),
    (8, 64, 0.8), (6, 64, 0.8), (6, 32, 0.64), (5, 32, 0.5), (4, 16, 0.4),
)


def write_gif(video: str, starts_s: list[float], shot_s: float, out_path: Path, budget_bytes: int,
              width_px: int) -> tuple[int, float, int, int]:
    """Write the shots as one looping, palette-optimised GIF within ``budget_bytes``.

    Returns (size_bytes, fps, colours, width_px) of the version kept.
    Raises InfeasibleError if even the smallest rung of the ladder exceeds the budget.
    """
    from tools.core.media import ffmpeg_exe

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part.gif")
    last = None
    for k, (fps, colours, f) in enumerate(_LADDER):
        w = max(32, int(width_px * f) // 2 * 2)
        if last is not None and k < len(_LADDER) - 1:
            # GIF size grows about with fps × area × bits per pixel: skip rungs that cannot fit
            size0, fps0, col0, w0 = last
            guess = size0 * (fps / fps0) * (w / w0) ** 2 * (np.log2(colours) / np.log2(col0))
            if guess > 1.6 * budget_bytes:
                continue
        cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
        for s in starts_s:
            cmd += ["-ss", f"{s:.3f}", "-t", f"{shot_s:.3f}", "-i", video]
        chains = "".join(f"[{i}:v]fps={fps},scale={w}:-2:flags=lanczos,setsar=1[v{i}];" for i in range(len(starts_s)))
        graph = (chains + "".join(f"[v{i}]" for i in range(len(starts_s)))
                 + f"concat=n={len(starts_s)}:v=1:a=0,split[a][b];"
                 + f"[a]palettegen=max_colors={colours}:stats_mode=full[p];"
                 + "[b][p]paletteuse=dither=bayer:bayer_scale=3:diff_mode=rectangle")
        cmd += ["-filter_complex", graph, "-loop", "0", "-f", "gif", str(tmp)]
        r = subprocess.run(cmd, capture_output=True, timeout=300)
        if r.returncode != 0 or not tmp.is_file():
            raise MediaError(f"ffmpeg failed writing the GIF: {r.stderr.decode(errors='replace')[-300:].strip()}",
                             hint="check that the video decodes: `ffmpeg -i VIDEO -f null -`")
        size = tmp.stat().st_size
        last = (size, fps, colours, w)
        if size <= budget_bytes:
            tmp.replace(out_path)
            return last
    tmp.unlink(missing_ok=True)
    raise InfeasibleError(
        f"the smallest GIF ({last[0]} bytes at {last[3]} px, {last[1]} fps, {last[2]} colours) exceeds "
        f"the budget of {budget_bytes} bytes",
        hint="raise budget_bytes or lower width_px / shot_s",
    )


# --------------------------------------------------------------------------- tool


def effective_shot_s(duration_s: float, shot_s: float) -> float:
    """Shot length that lets three disjoint shots fit the video."""
    if duration_s >= 3 * shot_s:
        return shot_s
    s = np.floor(duration_s / 3 * 10) / 10
    if s < 0.3:
        raise InfeasibleError(
            f"video is {duration_s:.2f} s long; three disjoint shots need at least 0.9 s",
            hint="use a longer video for a GIF thumbnail",
        )
    return float(s)


@register("make_gif_thumbnail")
def make_gif_thumbnail(inp: ThumbnailInput) -> ThumbnailOutput:
    """Pick three disjoint one-second shots (start–develop–end) and write a looping GIF within a byte budget."""
    from tools.understand.video_features import per_second_features, probe_video

    info = probe_video(inp.video_path)
    shot_s = effective_shot_s(info.duration_s, inp.shot_s)
    sf = per_second_features(inp.video_path, fps=4.0, width_px=160, shot_s=shot_s)
    # every shot must end inside the video; drop a trailing partial shot
    n_full = int(np.floor(info.duration_s / shot_s + 1e-6))
    if n_full < 3:
        raise InfeasibleError(f"video is {info.duration_s:.2f} s long: fewer than 3 shots of {shot_s} s")
    if inp.scorer == "heuristic":
        idx = choose_heuristic(_truncate(sf, n_full))
    else:
        if not inp.model_path:
            raise ToolInputError("scorer 'gevaden' needs model_path",
                                 hint="train one with `train_gevaden_cli` or use scorer='heuristic'")
        from tools.explain.gevaden import load_gevaden, predict_triplet

        model = load_gevaden(inp.model_path)
        idx = predict_triplet(model, _truncate(sf, n_full).matrix, seed=inp.seed)
    if len(set(idx)) != 3:
        raise ToolInputError(f"scorer returned overlapping shots {idx}")
    starts = [float(sf.starts_s[i]) for i in idx]
    out = Path(inp.out_dir) / inp.file_name
    size, fps, colours, w = write_gif(inp.video_path, starts, shot_s, out, inp.budget_bytes, inp.width_px)
    roles: tuple[Role, ...] = ("start", "develop", "end")
    shots = [ThumbnailShot(start_s=s, end_s=round(s + shot_s, 6), role=r, arousal=round(float(sf.arousal[i]), 4))
             for s, r, i in zip(starts, roles, idx)]
    return ThumbnailOutput(gif_path=str(out), size_bytes=size, budget_bytes=inp.budget_bytes, width_px=w, fps=fps,
                           colours=colours, shots=shots, starts_s=starts, scorer=inp.scorer)


def _truncate(sf, n: int):
    from dataclasses import replace

    return replace(sf, starts_s=sf.starts_s[:n], matrix=sf.matrix[:n])


def make_thumbnail_cli(video: str, out: str, **kw) -> dict:
    """CLI entry: ``python app.py thumbnail VIDEO --out thumb.gif [--budget-bytes N --width-px W --scorer S]``.

    ``kw`` are any other :class:`ThumbnailInput` fields. Returns the output as a JSON-able dict.
    """
    dst = check_export(out, ".gif")
    inp = ThumbnailInput(video_path=video, out_dir=str(scratch_dir("thumbnail")), file_name="thumb.gif",
                         **{k: v for k, v in kw.items() if v is not None})
    res = make_gif_thumbnail(inp)
    return res.model_copy(update={"gif_path": str(export(res.gif_path, dst))}).model_dump(mode="json")
