"""A real browser (Debian's chromium, headless, driven by playwright) against ``app.py ui``.

- The storyboard flow on the bundled sample material (no ../shared needed): one-click example →
  progress → storyline cards with thumbnails and the material gallery → edit one line and swap one
  shot → approve → video, GIF and explanation; the edits are checked in the job's files (timeline
  JSON, the OTIO export read back with OpenTimelineIO, ffprobe). Screenshots at 1400×1000 and at a
  phone's 390×844 go to ``$ADREEL_SCREENSHOTS`` (default: the test's temporary folder), never the repo.
- Uploading ../shared media by hand, with a brief and the controls.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}


@pytest.fixture()
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: run.sh installs it (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture()
def shots_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("ADREEL_SCREENSHOTS") or tmp_path / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {d}")
    return d


def _shoot(page, shots: Path, name: str, focus: str | None = None) -> None:
    """A screenshot of the viewport (scrolled to ``focus``) and of the whole page, at desktop and at phone width."""
    for size, tag in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        page.wait_for_timeout(600)
        if focus:
            page.locator(focus).first.scroll_into_view_if_needed()
            page.locator(focus).first.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(300)
        page.screenshot(path=str(shots / f"{name}-{tag}.png"))
        page.screenshot(path=str(shots / f"{name}-{tag}-full.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.wait_for_timeout(400)


def _duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)], capture_output=True,
                         text=True, check=True)
    return float(json.loads(out.stdout)["format"]["duration"])


def test_browser_storyboard_flow(chromium: str, app_url: str, shots_dir: Path, _isolated_workspace: Path) -> None:
    import opentimelineio as otio
    from playwright.sync_api import expect, sync_playwright

    new_line = "Two minutes from bag to a real cup of coffee."
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport=DESKTOP)
        page.goto(app_url, wait_until="load", timeout=120_000)
        expect(page.locator("#example-en")).to_be_visible(timeout=120_000)
        for ctl in ("#duration", "#aspect", "#resolution", "#language", "#voice", "#music", "#brand"):
            expect(page.locator(ctl)).to_be_visible()
        expect(page.locator("#storyboard-empty")).to_be_visible(timeout=30_000)
        _shoot(page, shots_dir, "0-start")

        page.locator("#send").click()  # nothing uploaded: a friendly message in the chat, never a traceback
        expect(page.locator("#chat")).to_contain_text("no product facts uploaded", timeout=60_000)
        expect(page.locator("#chat")).to_contain_text("What to do")
        expect(page.locator("#chat")).not_to_contain_text("Traceback")

        page.locator("#example-en").click()  # one click: sample photos and facts, brief and controls filled, planning starts
        expect(page.locator("#progress")).to_contain_text(re.compile(r"step \d of 7 · .* left"), timeout=60_000)
        page.screenshot(path=str(shots_dir / "1-progress-desktop.png"))
        expect(page.locator("#chat")).to_contain_text("Here is the storyline", timeout=240_000)
        cards = page.locator("#strip .adreel-card")
        expect(cards).to_have_count(3, timeout=30_000)  # 10 s from the bundled photos: 3 shots (also asserted below from the job)
        n = cards.count()
        for i in range(n):  # every card: a thumbnail that loaded, a label, a length, a line
            card = page.locator(f"#shot-{i + 1}")
            expect(card.locator("img")).to_have_js_property("complete", True, timeout=30_000)
            assert card.locator("img").evaluate("img => img.naturalWidth") > 100
            expect(card).to_contain_text(re.compile(r"\d+\.\d s"))
            assert card.locator("textarea").input_value().strip()
        expect(page.locator("#material-gallery")).to_contain_text("not used: off-topic", timeout=30_000)  # the cat, and why
        expect(page.locator("#material-gallery")).to_contain_text("used in shot 1")
        _shoot(page, shots_dir, "2-storyline", focus="#progress")

        page.locator("#shot-2 textarea").fill(new_line)  # edit one line …
        page.locator("#shot-3 .adreel-swap input").click()  # … and swap one shot for the photo the planner left out
        page.get_by_role("option", name="04_afternoon_cat.jpg").click()
        expect(page.locator("#shot-3")).to_contain_text("04_afternoon_cat.jpg", timeout=30_000)
        expect(page.locator("#shot-2 textarea")).to_have_value(new_line)  # the edit survives the swap
        expect(page.locator("#material-gallery")).to_contain_text("used in shot 3", timeout=30_000)
        _shoot(page, shots_dir, "3-edited", focus="#strip")

        page.locator("#approve").click()
        expect(page.locator("#progress")).to_contain_text(re.compile(r"Making the video: step \d+ of 4"), timeout=60_000)  # up to the video; GIF and explanation follow
        page.screenshot(path=str(shots_dir / "4-making-desktop.png"))
        expect(page.locator("#video video")).to_have_attribute("src", re.compile(r"video\.mp4"), timeout=400_000)
        expect(page.locator("#chat")).to_contain_text("Done: version 1 is ready", timeout=400_000)
        expect(page.locator("#gif img")).to_be_visible(timeout=60_000)
        expect(page.locator("#explanation img")).to_be_visible(timeout=60_000)
        page.wait_for_function("() => { const v = document.querySelector('#video video'); return v && v.readyState >= 1 && v.duration > 9.5 && v.duration < 10.5; }",
                               timeout=60_000)
        expect(page.locator("#shot-2")).to_contain_text(new_line)  # the finished storyboard shows what is spoken
        expect(page.locator("#chat")).not_to_contain_text("Traceback")
        _shoot(page, shots_dir, "5-video", focus="#results")

        page.locator("#edit textarea").fill("vertical version")  # the chat edits stay: a new version, with progress
        page.locator("#edit textarea").press("Enter")
        expect(page.locator("#chat")).to_contain_text("(version 2)", timeout=400_000)
        page.wait_for_function("() => { const v = document.querySelector('#video video'); return v && v.readyState >= 1 && v.videoHeight > v.videoWidth; }",
                               timeout=60_000)
        expect(page.locator("#shot-2")).to_contain_text(new_line)  # an aspect change keeps every line

        page.locator("#export").click()  # the editor exports, each a download
        expect(page.locator("#exports")).to_contain_text(re.compile(r"timeline\s*\.fcpxml"), timeout=120_000)
        expect(page.locator("#exports")).to_contain_text(re.compile(r"\.zip"))  # the Jianying draft, zipped
        page.locator("#brand-editor").get_by_text("Create or edit a brand kit").click()  # a brand kit, made in the page
        page.locator("#kit-name textarea, #kit-name input").first.fill("acme")
        page.locator("#kit-offer textarea, #kit-offer input").first.fill("2 for 1 this week")
        page.locator("#kit-save").click()
        expect(page.locator("#chat")).to_contain_text("Brand kit acme saved", timeout=60_000)
        expect(page.locator("#brand input")).to_have_value("acme", timeout=30_000)
        _shoot(page, shots_dir, "6-exports-brand", focus="#export-formats")
        browser.close()

    jobs = sorted((_isolated_workspace / "jobs").iterdir())
    assert len(jobs) == 1
    jd = jobs[0]
    tl = json.loads((jd / "timeline.json").read_text(encoding="utf-8"))
    lines = {ln["beat_index"]: ln for ln in tl["narration"]}
    assert lines[1]["text"] == new_line and lines[1]["source"] == "user"
    story = json.loads((jd / "storyline.json").read_text(encoding="utf-8"))
    lib = json.loads(next((_isolated_workspace / "products").glob("*/library.json")).read_text(encoding="utf-8"))
    cat = next(m for m in (lib["materials"] if isinstance(lib, dict) else lib) if m["original_name"] == "04_afternoon_cat.jpg")
    assert story["beats"][2]["material_id"] == cat["id"]
    # the OTIO export, read back by OpenTimelineIO: the third clip on the video track is the cat photo
    ot = otio.adapters.read_from_file(str(jd / "timeline.otio"))
    clips = [c for c in ot.video_tracks()[0] if isinstance(c, otio.schema.Clip)]
    assert cat["id"] in clips[2].media_reference.target_url
    assert abs(_duration(jd / "video.mp4") - 10.0) <= 0.1
    assert tl["version"] == 2 and tl["render"]["aspect"] == "9:16"
    ot = otio.adapters.read_from_file(str(jd / "exports" / "timeline.fcpxml"))  # the downloaded FCPXML reads back: the same 10 s
    assert abs(ot.duration().to_seconds() - 10.0) <= 0.1
    kit = json.loads((_isolated_workspace / "brand" / "acme" / "kit.json").read_text(encoding="utf-8"))
    assert kit["offer"] == "2 for 1 this week"
    assert all((shots_dir / f"{n}-{t}.png").stat().st_size > 20_000 for n in ("2-storyline", "5-video") for t in ("desktop", "phone"))


def test_browser_upload_brief_video_gif(chromium: str, app_url: str, media_dir: Path, tmp_path: Path, shots_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    facts = tmp_path / "product.txt"
    facts.write_text("name: Joust Duffle Bag\nmaterial: durable nylon, padded shoulder strap\ndesign: dual top handles, full-length zipper\n"
                     "offer: only 34 dollars this week\n", encoding="utf-8")
    files = [str(media_dir / "images" / n) for n in ("magento_mb01-blue-0.jpg", "magento_mb03-black-0.jpg", "magento_wb02-green-0.jpg")]
    files += [str(media_dir / "video" / "event_aaron_tang_ccby.mp4"), str(facts)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport=DESKTOP)
        page.goto(app_url, wait_until="load", timeout=120_000)
        expect(page.locator("#send")).to_be_visible(timeout=120_000)
        page.locator("#uploads input[type=file]").set_input_files(files)
        expect(page.locator("#uploads")).to_contain_text("event_aaron_tang_ccby", timeout=60_000)
        page.locator("#brief textarea").fill("stress the material, upbeat")
        page.locator("#duration input").click()
        page.get_by_role("option", name="10 s").click()
        page.locator("#aspect input").click()
        page.get_by_role("option", name="1:1 square").click()
        page.locator("#send").click()
        expect(page.locator("#chat")).to_contain_text("Here is the storyline for a 10 s 1:1 video", timeout=240_000)
        expect(page.locator("#shot-1 .adreel-label input")).to_have_value(re.compile("产品推荐"), timeout=30_000)
        page.locator("#approve").click()
        expect(page.locator("#chat")).to_contain_text("Done: version 1 is ready", timeout=600_000)
        expect(page.locator("#video video")).to_have_attribute("src", re.compile(r"video\.mp4"), timeout=60_000)
        expect(page.locator("#gif img")).to_be_visible(timeout=60_000)
        page.wait_for_function("() => { const v = document.querySelector('#video video'); return v && v.readyState >= 1 && v.duration > 9.5 && v.duration < 10.5; }",
                               timeout=60_000)
        page.screenshot(path=str(shots_dir / "upload-desktop-full.png"), full_page=True)
        browser.close()
    assert (shots_dir / "upload-desktop-full.png").stat().st_size > 50_000
