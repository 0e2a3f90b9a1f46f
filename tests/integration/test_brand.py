"""Brand kits: stored and checked in the workspace, applied to the timeline (intro, outro, end card,
frame-exact) and by the renderer (logo watermark in its corner, subtitle colours), checked on the
MP4's decoded frames; a whole branded job through the CLI with exports, and chat edits of the
brand and the end-card offer."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from agents.edits import Edit, parse_edit
from tools.core.errors import MediaError, ToolInputError
from tools.core.models import AspectPoints, ProductInfo, RenderSpec, SubtitleCue, Timeline, VideoClip, VoiceClip
from tools.core.workspace import Workspace
from tools.render.brand import (
    END_CARD_ID,
    INTRO_ID,
    LOGO_MARGIN,
    LOGO_WIDTH,
    BrandKit,
    apply_brand,
    brand_extra_s,
    brand_frames,
    brand_style,
    end_card_text,
    list_brand_kits,
    load_brand_kit,
    make_end_card,
    require_brand_kit,
    save_brand_kit,
)

FPS = 30
GREY = (90, 90, 90)
LOGO_RGB = (40, 220, 60)
PRIMARY, SECONDARY = "#FF3B30", "#FFD60A"


@pytest.fixture()
def ws(_isolated_workspace: Path) -> Workspace:
    return Workspace(_isolated_workspace)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    """A logo (opaque green block), an intro clip (blue, 1.5 s), a grey still, a voice line."""
    import cv2

    logo = np.zeros((100, 250, 4), np.uint8)
    logo[..., :3] = LOGO_RGB[::-1]
    logo[..., 3] = 255
    cv2.imwrite(str(tmp_path / "logo.png"), logo)
    still = np.zeros((1280, 720, 3), np.uint8)
    still[:] = GREY
    cv2.imwrite(str(tmp_path / "grey.png"), still)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0x1e3cdc:s=360x640:r=30:d=1.5", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(tmp_path / "intro.mp4")], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000:duration=1.2",
                    str(tmp_path / "voice.wav")], check=True)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    return {p.stem: p for p in tmp_path.iterdir()}


def _kit(ws: Workspace, files: dict[str, Path], **kw: object) -> BrandKit:
    return save_brand_kit(ws, BrandKit(name="acme", primary=PRIMARY, secondary=SECONDARY, logo_corner="top-left", **kw),  # type: ignore[arg-type]
                          {"logo": files["logo"], "intro": files["intro"]})


def test_kit_is_stored_checked_and_listed(ws: Workspace, files: dict[str, Path]) -> None:
    kit = _kit(ws, files, subtitle_font="WenQuanYi Micro Hei")
    assert kit.logo == "brand/acme/logo.png" and kit.intro == "brand/acme/intro.mp4"
    assert ws.abs(kit.logo).read_bytes() == files["logo"].read_bytes()  # a copy inside the workspace
    assert load_brand_kit(ws, "acme") == kit and list_brand_kits(ws) == ["acme"]
    assert load_brand_kit(ws, "other") is None
    with pytest.raises(ToolInputError, match="no brand kit 'other'") as e:
        require_brand_kit(ws, "other")
    assert "acme" in (e.value.hint or "") and "brand create" in (e.value.hint or "")
    with pytest.raises(ValidationError, match="hex #RRGGBB"):
        BrandKit(name="x", primary="red")
    assert BrandKit(name="x", primary="ff3b30").primary == "#FF3B30"
    with pytest.raises(ValidationError):
        BrandKit(name="../escape")
    with pytest.raises(ToolInputError, match="bad brand name"):
        load_brand_kit(ws, "../../etc")
    with pytest.raises(MediaError, match="cannot be read as an image"):
        save_brand_kit(ws, BrandKit(name="bad"), {"logo": files["broken"]})
    with pytest.raises(ToolInputError, match="not an MP4"):
        save_brand_kit(ws, BrandKit(name="bad"), {"intro": files["logo"]})


def test_end_card_words_come_from_the_facts_unless_given() -> None:
    p = ProductInfo(name="晨光挂耳咖啡", language="zh", aspects=[AspectPoints(aspect="质地", points=["中度烘焙"]),
                                                             AspectPoints(aspect="活动优惠", points=["双十一买二送一", "满99包邮"])])
    assert end_card_text(p, "zh").model_dump() == {"name": "晨光挂耳咖啡", "offer": "双十一买二送一", "cta": "立即抢购"}
    t = end_card_text(p, "zh", offer="今日半价", cta="马上下单")
    assert (t.offer, t.cta) == ("今日半价", "马上下单")
    en = ProductInfo(name="Duffle Bag", language="en", aspects=[AspectPoints(aspect="material", points=["nylon"])])
    assert end_card_text(en, "en").model_dump() == {"name": "Duffle Bag", "offer": None, "cta": "Shop now"}
    # facts are data: markup does not reach the card
    assert end_card_text(en, "en", offer="{\\fs200}50% off <b>today</b>").offer == "50% off today"


def _story(ws: Workspace, files: dict[str, Path]) -> Timeline:
    mat = ws.inside("mat")
    mat.mkdir(exist_ok=True)
    for k in ("grey", "voice"):
        (mat / files[k].name).write_bytes(files[k].read_bytes())
    video = [VideoClip(beat_index=0, material_id="a" * 16, source_path="mat/grey.png", is_still=True, in_s=0, start_s=0, duration_s=1.7,
                       motion="zoom_in"),
             VideoClip(beat_index=1, material_id="b" * 16, source_path="mat/grey.png", is_still=True, in_s=0, start_s=1.7, duration_s=1.3,
                       motion="none", transition_in="crossfade")]
    return Timeline(job_id="20260101-000000-abcdef", duration_s=3.0, render=RenderSpec(aspect="9:16", resolution_p=720), language="zh",
                    video=video, voice=[VoiceClip(beat_index=0, audio_path="mat/voice.wav", start_s=0.2, duration_s=1.2)],
                    subtitles=[SubtitleCue(start_s=0.2, end_s=1.4, text="香气浓郁 真的很不错")])


def test_apply_brand_is_frame_exact_and_keeps_the_length(ws: Workspace, files: dict[str, Path]) -> None:
    kit = _kit(ws, files)
    intro, outro, card = brand_frames(ws, kit, FPS)
    assert (intro, outro, card) == (44, 0, 75)  # 1.5 s clip: one frame short of its end; 2.5 s card
    assert brand_extra_s(ws, kit, FPS, 15.0) == pytest.approx(119 / FPS)
    with pytest.raises(ToolInputError, match="leaving less than") as e:
        brand_extra_s(ws, kit, FPS, 6.0)
    assert "longer" in (e.value.hint or "")
    tl = apply_brand(_story(ws, files), ws, kit, "mat/grey.png")
    assert [c.material_id for c in tl.video] == [INTRO_ID, "a" * 16, "b" * 16, END_CARD_ID]
    starts = [round(c.start_s * FPS) for c in tl.video]
    assert starts == [0, 44, 44 + 51, 44 + 90]
    assert all(abs(c.start_s * FPS - f) < 1e-3 and abs(c.duration_s * FPS - round(c.duration_s * FPS)) < 1e-3 for c, f in zip(tl.video, starts))
    assert round(tl.duration_s * FPS) == 44 + 90 + 75
    assert tl.voice[0].start_s == pytest.approx(0.2 + 44 / FPS, abs=1e-4) and tl.subtitles[0].start_s == pytest.approx(0.2 + 44 / FPS, abs=1e-3)


def _decode(path: Path, at_s: float) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{at_s:.3f}", "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(1280, 720, 3).astype(np.float32)


def test_branded_render_shows_logo_end_card_and_colours(ws: Workspace, files: dict[str, Path]) -> None:
    from tools.core.paths import use_workspace
    from tools.render.engine import render

    kit = _kit(ws, files)
    spec = RenderSpec(aspect="9:16", resolution_p=720)
    product = ProductInfo(name="晨光挂耳咖啡", aspects=[AspectPoints(aspect="活动优惠", points=["双十一买二送一"])])
    card = make_end_card(ws, kit, end_card_text(product, "zh"), files["grey"], spec,
                         ws.inside("jobs", "x", "end_card.png"), "Noto Sans CJK SC")
    tl = apply_brand(_story(ws, files), ws, kit, ws.rel(card))
    with use_workspace(ws.root):
        out = render(tl, ws, ws.inside("jobs", "x"), brand=brand_style(ws, kit))
    assert out.frames == round(tl.duration_s * FPS) == 209 and abs(out.duration_s - 209 / FPS) < 0.04
    video = Path(out.video_path)
    # the logo's box in the top-left corner (kit corner), LOGO_WIDTH of the frame wide
    m = round(720 * LOGO_MARGIN)
    w, h = round(720 * LOGO_WIDTH), round(720 * LOGO_WIDTH * 100 / 250)
    story = _decode(video, 44 / FPS + 1.6)  # inside the story, off the subtitle
    box = story[m + 4:m + h - 4, m + 4:m + w - 4].reshape(-1, 3).mean(0)
    assert np.abs(box - LOGO_RGB).max() < 25, box
    assert np.abs(story[m + 4:m + h - 4, 720 - m - w + 4:720 - m - 4].reshape(-1, 3).mean(0) - GREY).max() < 15  # not top-right
    # no logo on the intro (blue clip) nor on the end card (the drawn card itself)
    intro = _decode(video, 0.5)
    assert np.abs(intro[m + 4:m + h - 4, m + 4:m + w - 4].reshape(-1, 3).mean(0) - (30, 60, 220)).max() < 25
    end = _decode(video, (209 - 10) / FPS)
    drawn = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(card).convert("RGB"), np.float32)
    assert np.abs(end - drawn).mean() < 6  # the end card, whole and untouched
    # subtitles: text in the primary colour with a secondary outline, over the grey still
    sub = _decode(video, 44 / FPS + 0.8)
    band = sub[int(1280 * 0.7):int(1280 * 0.9)].reshape(-1, 3)
    red = np.abs(band - (0xFF, 0x3B, 0x30)).max(1) < 60
    yellow = np.abs(band - (0xFF, 0xD6, 0x0A)).max(1) < 60
    assert red.sum() > 500 and yellow.sum() > 200, (red.sum(), yellow.sum())
    assert (np.abs(story[int(1280 * 0.7):int(1280 * 0.9)].reshape(-1, 3) - (0xFF, 0x3B, 0x30)).max(1) < 60).sum() == 0  # gone after the cue
    ass = (ws.inside("jobs", "x") / "subtitles.ass").read_text(encoding="utf-8")
    assert "&H00303BFF,&H00303BFF,&H000AD6FF" in ass  # ASS colours are &HAABBGGRR


@pytest.mark.parametrize(("text", "edit"), [
    ("use brand acme", Edit(kind="brand", value="acme")), ("用acme品牌", Edit(kind="brand", value="acme")),
    ("remove the brand", Edit(kind="brand", value=None)), ("去掉品牌", Edit(kind="brand", value=None)),
    ("offer: Buy 2 get 1 free", Edit(kind="end_card", value={"offer": "Buy 2 get 1 free"})),
    ("优惠改成满99减10", Edit(kind="end_card", value={"offer": "满99减10"})),
    ("cta: Order now", Edit(kind="end_card", value={"cta": "Order now"})),
    ("make line 2 a call to action", Edit(kind="relabel", value="引导购买", index=1)),
])
def test_parse_brand_edits(text: str, edit: Edit) -> None:
    assert parse_edit(text) == edit


@pytest.mark.slow
def test_branded_job_with_exports_and_chat_edits(ws: Workspace, files: dict[str, Path], tmp_path: Path) -> None:
    """The acceptance path: `brand create`, then `make --brand --export`, then chat edits of the offer and the brand."""
    import app
    from agents.edits import apply_edit
    from agents.planner import Planner
    from agents.samples import write_samples

    assert app.main(["brand", "create", "acme", "--logo", str(files["logo"]), "--primary", PRIMARY, "--secondary", SECONDARY]) == 0
    photos, facts = write_samples(ws, "zh")
    assert app.main(["make", "--materials", str(photos), "--product", str(facts), "--brief", "10秒竖屏视频", "--brand", "nope"]) == 2
    rc = app.main(["make", "--materials", str(photos), "--product", str(facts), "--brief", "10秒竖屏视频，双十一，突出质地，欢快", "--brand", "acme",
                   "--export", "fcpxml,fcp7xml,jianying", "--out", str(tmp_path / "out.mp4")])
    assert rc == 0
    (jid,) = ws.list_jobs()
    tl = Timeline.model_validate_json((ws.job_dir(jid) / "timeline.json").read_text(encoding="utf-8"))
    assert round(tl.duration_s * FPS) == 300 and tl.video[-1].material_id == END_CARD_ID  # the asked length, end card included
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=nb_frames,codec_type", "-of", "json",
                                      str(tmp_path / "out.mp4")], capture_output=True, check=True, text=True).stdout)
    assert int(next(s for s in info["streams"] if s["codec_type"] == "video")["nb_frames"]) == 300
    ex = ws.job_dir(jid) / "exports"
    assert (ex / "timeline.fcpxml").is_file() and (ex / "timeline.xml").is_file()
    draft = json.loads(next((ex / "jianying").glob("*/draft_content.json")).read_text(encoding="utf-8"))
    assert {t["name"] for t in draft["tracks"]} >= {"V1 shots", "V2 logo", "A1 voice", "A2 music", "T1 subtitles"}

    p = Planner(ws)
    card = ws.job_dir(jid) / "end_card.png"
    before = card.read_bytes()
    msg = apply_edit(p, jid, parse_edit("offer: 今日第二件半价"))  # type: ignore[arg-type]
    assert "今日第二件半价" in msg and card.read_bytes() != before and p.timeline(jid).version == 2  # type: ignore[union-attr]
    with pytest.raises(ToolInputError, match="no brand kit 'other'"):
        apply_edit(p, jid, parse_edit("use brand other"))  # type: ignore[arg-type]
    apply_edit(p, jid, parse_edit("remove the brand"))  # type: ignore[arg-type]
    plain = p.timeline(jid)
    assert plain is not None and all(not c.material_id.startswith("brand:") for c in plain.video) and round(plain.duration_s * FPS) == 300


def test_agent_offers_brand_tools() -> None:
    from agents.agent import TOOLS, tool_specs

    assert {"set_brand", "set_end_card"} <= {s["function"]["name"] for s in tool_specs()}
    assert TOOLS["set_brand"].model_validate({"name": "acme"}).name == "acme"  # type: ignore[attr-defined]
    assert TOOLS["set_brand"].model_validate({"name": None}).name is None  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        TOOLS["set_brand"].model_validate({"name": "../etc"})
    with pytest.raises(ValidationError):
        TOOLS["set_end_card"].model_validate({"offer": "x" * 61})
