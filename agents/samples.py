"""Sample material for a fresh machine without ../shared: real CC0 photos shipped inside the
scikit-image wheel (coffee by R. Michetti, Chelsea the cat by S. van der Walt) plus product
facts in Chinese and English. Crops of the coffee photo stand in for a seller's close-ups."""

from __future__ import annotations

from pathlib import Path

from tools.core.workspace import Workspace, atomic_write_text

FACTS = {
    "zh": "名称：晨光手冲挂耳咖啡\n痛点：早上没精神、速溶咖啡口感差\n外观：独立挂耳包装、简约牛皮纸袋\n"
    "质地：云南小粒咖啡豆、中度烘焙、坚果与焦糖香\n功效：提神醒脑、香气浓郁、回甘明显\n"
    "使用：撕开挂耳、注入热水、三分钟即享\n活动优惠：双十一买二送一、满99包邮\n",
    "en": "name: Morning Light Drip Coffee\npain point: sleepy mornings, flat instant coffee\n"
    "appearance: single-serve drip bags, simple kraft paper pouch\n"
    "material: Yunnan arabica beans, medium roast, notes of nuts and caramel\n"
    "effect: wakes you up, rich aroma, smooth sweet finish\nusage: tear open, pour hot water, ready in three minutes\n"
    "offer: buy two get one free for Double 11, free shipping over 30 dollars\n",
}


def write_samples(ws: Workspace, language: str) -> tuple[Path, Path]:
    """Write sample photos and facts under the workspace; returns (materials dir, product file)."""
    from PIL import Image
    from skimage import data

    root = ws.inside("samples", language)
    photos = root / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    coffee = Image.fromarray(data.coffee())  # 600×400
    cat = Image.fromarray(data.chelsea())
    w, h = coffee.size
    shots = {
        "01_coffee_wide.jpg": coffee,
        "02_cup_closeup.jpg": coffee.crop((int(w * 0.18), int(h * 0.05), int(w * 0.78), int(h * 0.95))),
        "03_crema_detail.jpg": coffee.crop((int(w * 0.3), int(h * 0.12), int(w * 0.66), int(h * 0.6))),
        "04_afternoon_cat.jpg": cat,
        "05_saucer_detail.jpg": coffee.crop((0, int(h * 0.35), int(w * 0.6), h)),
    }
    for name, im in shots.items():
        if not (photos / name).exists():
            im.convert("RGB").save(photos / name, quality=92)
    facts = root / "product.txt"
    atomic_write_text(facts, FACTS[language])
    return photos, facts
