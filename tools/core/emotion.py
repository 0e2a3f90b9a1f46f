"""The EaMD emotion space (montage §3.2): six classes on the valence–arousal plane, one mapping.

Montage §3.2 follows Pandeya & Lee [32]: emotions of music and pictures are measured together on
the 2-D valence–arousal plane, which is divided into six categories — excited, fearful, neutral,
relaxed, sad and tense. The paper gives no boundaries, so AdReel places them where the class
names sit on Russell's (1980) circumplex of affect, the standard reading of that plane. With
valence v and arousal a in [0, 1] and centred coordinates (v − 0.5, a − 0.5):

* radius < :data:`NEUTRAL_RADIUS` (0.08) → neutral (the centre of the plane: no pull either way);
* else by angle, counter-clockwise from the positive-valence axis (:data:`EMOTION_ANGLES_DEG`):
  excited [0°, 80°), tense [80°, 105°), fearful [105°, 160°), sad [160°, 260°),
  relaxed [260°, 360°).

Russell places "excited" at ≈ 49°, "tense" ≈ 93°, "afraid" ≈ 117°, "sad" ≈ 208° and
"relaxed"/"calm" ≈ 316°. The boundaries sit between neighbours so that his other terms fall
with their kin: "aroused"/"astonished" (≈ 70–74°) with excited, "alarmed"/"angry" (≈ 97–99°)
with tense, "annoyed"/"distressed"/"frustrated" (≈ 123–142°) with fearful (montage §4.1: its
fear class covers fearfulness, disgust and terror), "miserable"/"droopy" with sad and
"tired"/"sleepy" (≈ 268–272°) with relaxed. So, by quadrant: pleasant–aroused is excited (tense
only next to the arousal axis); unpleasant–aroused is tense near the arousal axis and fearful
further out (sad when arousal is barely raised); unpleasant–calm is sad; pleasant–calm is
relaxed. Every AdReel user of the six classes (music emotion, material scores, the excitement
explainer) calls :func:`va_to_class` or :func:`va_class_probs`; there is no second mapping.
"""

from __future__ import annotations

import math
from typing import get_args

from tools.core.models import EmotionClass

#: The six EaMD classes, in the order of :data:`tools.core.models.EmotionClass`.
EMOTIONS: tuple[EmotionClass, ...] = get_args(EmotionClass)

#: Upper angle bound (degrees, counter-clockwise from +valence) of each class's sector, in order.
EMOTION_ANGLES_DEG: tuple[tuple[float, EmotionClass], ...] = (
    (80.0, "excited"),
    (105.0, "tense"),
    (160.0, "fearful"),
    (260.0, "sad"),
    (360.0, "relaxed"),
)
#: Radius of the neutral disc round (0.5, 0.5): a (v, a) this close to the centre pulls nowhere.
NEUTRAL_RADIUS = 0.08

#: A typical (valence, arousal) of each class, well inside its region (reported for generated
#: music of that mood; each maps back to its own class).
EMOTION_VA: dict[EmotionClass, tuple[float, float]] = {
    "excited": (0.8, 0.8),
    "relaxed": (0.75, 0.25),
    "neutral": (0.5, 0.5),
    "sad": (0.2, 0.2),
    "tense": (0.48, 0.85),
    "fearful": (0.15, 0.9),
}


def va_to_class(valence: float, arousal: float) -> EmotionClass:
    """Map (valence, arousal) ∈ [0, 1]² to its EaMD class (montage §3.2) on Russell's circumplex."""
    dv, da = valence - 0.5, arousal - 0.5
    if math.hypot(dv, da) < NEUTRAL_RADIUS:
        return "neutral"
    ang = math.degrees(math.atan2(da, dv)) % 360.0
    for upper, name in EMOTION_ANGLES_DEG:
        if ang < upper:
            return name
    return "relaxed"  # only reached by rounding at 360°


def _distance_to_region(dv: float, da: float, name: EmotionClass) -> float:
    """Euclidean distance from the centred point (dv, da) to the region of class ``name``."""
    r = math.hypot(dv, da)
    if name == "neutral":
        return max(0.0, r - NEUTRAL_RADIUS)
    lower = 0.0
    for upper, n in EMOTION_ANGLES_DEG:
        if n == name:
            break
        lower = upper
    ang = math.degrees(math.atan2(da, dv)) % 360.0
    if lower <= ang < upper:
        return max(0.0, NEUTRAL_RADIUS - r)
    # outside the sector (each is < 180° wide): the nearest point lies on one of its two edges,
    # rays that start on the neutral circle
    best = math.inf
    for edge in (lower, upper):
        ux, uy = math.cos(math.radians(edge)), math.sin(math.radians(edge))
        t = max(NEUTRAL_RADIUS, dv * ux + da * uy)
        best = min(best, math.hypot(dv - t * ux, da - t * uy))
    return best


#: Temperature of :func:`va_class_probs`: 2σ² with σ ≈ 0.03, the uncertainty of a heuristic
#: (valence, arousal) point — under half the neutral radius, so the centre of the plane is still
#: clearly neutral (p ≈ 0.83) while a point within ~0.03 of a boundary shares its mass.
VA_PROBS_TEMPERATURE = 0.002


def va_class_probs(valence: float, arousal: float,
                   temperature: float = VA_PROBS_TEMPERATURE) -> dict[EmotionClass, float]:
    """Soft version of :func:`va_to_class`: softmax of −d²/``temperature`` over the six classes,
    d the distance from (valence, arousal) to each class's region.

    The class containing the point has d = 0, so the most probable class is always
    ``va_to_class(valence, arousal)`` (ties only on a boundary); near a boundary the neighbour
    shares the mass. Keys in the order of :data:`EMOTIONS`, values summing to 1.
    """
    dv, da = valence - 0.5, arousal - 0.5
    logits = {e: -(_distance_to_region(dv, da, e) ** 2) / temperature for e in EMOTIONS}
    top = max(logits.values())
    w = {e: math.exp(v - top) for e, v in logits.items()}
    z = sum(w.values())
    return {e: w[e] / z for e in EMOTIONS}
