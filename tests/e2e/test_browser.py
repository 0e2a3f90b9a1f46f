"""A real browser (Debian's chromium, headless, driven by playwright) uploads ../shared media,
sends a brief, approves the storyline, waits for the video and the GIF and saves a screenshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture()
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: run.sh installs it (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return CHROMIUM


def test_browser_upload_brief_video_gif(chromium: str, app_url: str, media_dir: Path, tmp_path: Path, _isolated_workspace: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    facts = tmp_path / "product.txt"
    facts.write_text("name: Joust Duffle Bag\nmaterial: durable nylon, padded shoulder strap\ndesign: dual top handles, full-length zipper\n"
                     "offer: only 34 dollars this week\n", encoding="utf-8")
    files = [str(media_dir / "images" / n) for n in ("magento_mb01-blue-0.jpg", "magento_mb03-black-0.jpg", "magento_wb02-green-0.jpg")]
    files += [str(media_dir / "video" / "event_aaron_tang_ccby.mp4"), str(facts)]
    shot = _isolated_workspace / "browser.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(app_url, wait_until="load", timeout=120_000)
        expect(page.locator("#send")).to_be_visible(timeout=120_000)
        page.locator("#uploads input[type=file]").set_input_files(files)
        expect(page.locator("#uploads")).to_contain_text("event_aaron_tang_ccby", timeout=60_000)
        page.locator("#brief textarea").fill("10 s square video, stress the material, upbeat")
        page.locator("#send").click()
        expect(page.locator("#chat")).to_contain_text("Here is the storyline", timeout=180_000)
        expect(page.locator("#storyline")).to_contain_text("产品推荐", timeout=30_000)
        page.locator("#approve").click()
        expect(page.locator("#chat")).to_contain_text("is ready", timeout=600_000)
        video = page.locator("#video video")
        expect(video).to_have_attribute("src", __import__("re").compile(r"video\.mp4"), timeout=60_000)
        expect(page.locator("#gif img")).to_be_visible(timeout=60_000)
        page.wait_for_function("() => { const v = document.querySelector('#video video'); return v && v.readyState >= 1 && v.duration > 9.5 && v.duration < 10.5; }", timeout=60_000)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 50_000
    keep = ROOT / "workspace" / "test-artifacts"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, keep / "browser.png")  # for a person to look at after the run
