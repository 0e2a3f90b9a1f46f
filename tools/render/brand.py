"""Brand kits: a shop's own look on every video (logo, colours, subtitle font, intro/outro, end card).

A kit lives in ``workspace/brand/<name>/kit.json`` beside the files it names (logo, intro and
outro clips, a font file), copied there by :func:`save_brand_kit`. A job with a kit
(``MakeRequest.brand``, ``--brand NAME``, or a chat edit) is changed in two places only:

* **the timeline** (:func:`apply_brand`): the intro clip first, the outro clip and a generated
  end card last, as ordinary video items (material ids ``brand:intro``, ``brand:outro``,
  ``brand:end_card``), voice, subtitles and music moved behind the intro. The story is planned
  :func:`brand_extra_s` shorter, so the video keeps the length the brief asked for. The end card
  (:func:`make_end_card`, Pillow) shows the packshot, the product name, the offer and a call to
  action taken from the facts (a job may override offer and call to action), in the kit's colours
  and font, with the logo.
* **the renderer** (:class:`BrandStyle`, used by ``tools.render.engine``): the logo is overlaid on
  every segment that shows no brand item, in the kit's corner, at :data:`LOGO_WIDTH` of the
  frame width; subtitles are set in the kit's font, filled with the primary colour and outlined
  in the secondary colour.

Colours: ``primary`` is the brand's main colour (end-card background, subtitle text), ``secondary``
its accent (offer and call-to-action button, subtitle outline).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from tools.core.errors import MediaError, ToolInputError
from tools.core.models import (
    Language,
    Material,
    Model,
    MusicClip,
    ProductInfo,
    RenderSpec,
    SubtitleCue,
    Timeline,
    VideoClip,
)
from tools.core.workspace import Workspace, atomic_write_model

Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
_HEX = re.compile(r"^#?([0-9A-Fa-f]{6})$")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"

#: Length of the generated end card.
END_CARD_S = 2.5
#: Longest intro or outro clip used (a longer clip is cut at this length).
CLIP_MAX_S = 3.0
#: Shortest story left once intro, outro and end card are taken from the asked length.
MIN_STORY_S = 4.0
#: Logo width as a share of the frame width, and its margin from the frame edges (share of the short side).
LOGO_WIDTH = 0.18
LOGO_MARGIN = 0.035
#: Material ids of the brand items on the video track.
BRAND_PREFIX = "brand:"
INTRO_ID, OUTRO_ID, END_CARD_ID = "brand:intro", "brand:outro", "brand:end_card"

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".webp"}
_VIDEO_EXT = {".mp4", ".mov", ".mkv", ".webm"}
_FONT_EXT = {".ttf", ".otf", ".ttc", ".otc"}


class BrandKit(Model):
    """A shop's or a product's look: logo, colours, subtitle font, intro/outro clips, end card."""

    name: str = Field(pattern=_NAME)
    """Kit name (letters, digits, ``-`` and ``_``; the folder ``workspace/brand/<name>/``)."""
    logo: str | None = None
    """Logo image (PNG with transparency is best), relative to the workspace."""
    logo_corner: Corner = "top-right"
    """Where the logo watermark sits."""
    primary: str = "#FFFFFF"
    """Main brand colour, hex ``#RRGGBB``: end-card background and subtitle text."""
    secondary: str = "#000000"
    """Accent colour, hex: offer and call-to-action button on the end card, subtitle outline."""
    subtitle_font: str | None = None
    """Subtitle and end-card font: a family name fontconfig knows, or a font file relative to the workspace."""
    intro: str | None = None
    """Clip shown first (at most CLIP_MAX_S of it), relative to the workspace."""
    outro: str | None = None
    """Clip shown before the end card (at most CLIP_MAX_S of it), relative to the workspace."""
    end_card: bool = True
    """Close with a generated end card (packshot, product name, offer, call to action)."""
    offer: str | None = Field(default=None, max_length=60)
    """End-card offer; None takes it from the product facts (活动优惠, offer, price …)."""
    cta: str | None = Field(default=None, max_length=40)
    """End-card call to action; None takes it from the facts or says 立即抢购 / Shop now."""

    @field_validator("primary", "secondary")
    @classmethod
    def _hex(cls, v: str) -> str:
        m = _HEX.match(v.strip())
        if not m:
            raise ValueError(f"{v!r} is not a colour: write it as hex #RRGGBB, e.g. #FF3B30")
        return "#" + m.group(1).upper()


# --------------------------------------------------------------------------- storage


def brand_dir(ws: Workspace, name: str) -> Path:
    """The kit's folder ``workspace/brand/<name>/`` (not created)."""
    if not re.match(_NAME, name or ""):
        raise ToolInputError(f"bad brand name {name!r}", hint="use letters, digits, '-' and '_' (at most 40), e.g. acme or acme-tea")
    return ws.inside("brand", name)


def list_brand_kits(ws: Workspace) -> list[str]:
    """Names of the kits saved in the workspace."""
    root = ws.inside("brand")
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/kit.json"))


def load_brand_kit(ws: Workspace, name: str) -> BrandKit | None:
    """The kit called ``name``, or None when there is none."""
    p = brand_dir(ws, name) / "kit.json"
    if not p.is_file():
        return None
    try:
        return BrandKit.model_validate_json(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ToolInputError(f"brand kit {name!r} is damaged ({str(e)[:200]})", hint=f"save the kit again, or delete {p.parent}") from e


def require_brand_kit(ws: Workspace, name: str) -> BrandKit:
    """The kit called ``name``; a clear error naming the kits there are when it is missing."""
    kit = load_brand_kit(ws, name)
    if kit is None:
        have = list_brand_kits(ws)
        raise ToolInputError(f"there is no brand kit {name!r}",
                             hint=(f"kits in this workspace: {', '.join(have)}; " if have else "")
                             + f"create it with `app.py brand create {name} --logo logo.png --primary '#FF3B30'`")
    return kit


def _check_file(role: str, path: Path) -> str:
    """Validate an uploaded kit file by what it is; return the suffix to store it under."""
    if not path.is_file():
        raise ToolInputError(f"{role} file {str(path)!r} not found", hint=f"give an existing file for the {role}")
    ext = path.suffix.lower()
    if role == "logo":
        if ext not in _IMAGE_EXT:
            raise ToolInputError(f"logo {path.name!r} is not a PNG, JPEG or WebP image", hint="use a PNG logo (transparent background is best)")
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                im.verify()
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise MediaError(f"logo {path.name!r} cannot be read as an image ({e})", hint="export the logo again as PNG") from e
    elif role in ("intro", "outro"):
        if ext not in _VIDEO_EXT:
            raise ToolInputError(f"{role} {path.name!r} is not an MP4, MOV, MKV or WebM clip", hint=f"give a video clip for the {role}")
        from tools.core.media import ffprobe

        info = ffprobe(path)
        if not any(s.get("codec_type") == "video" for s in info.get("streams", [])):
            raise MediaError(f"{role} {path.name!r} has no picture", hint=f"give a video clip for the {role}")
    elif role == "subtitle_font":
        if ext not in _FONT_EXT:
            raise ToolInputError(f"font {path.name!r} is not a TTF, OTF or TTC file", hint="give a font file or a font family name")
        try:
            from fontTools.ttLib import TTFont

            with TTFont(path, fontNumber=0, lazy=True) as f:
                f.getBestCmap()
        except Exception as e:
            raise MediaError(f"font {path.name!r} cannot be read ({e})", hint="give another font file") from e
    else:
        raise ToolInputError(f"unknown brand file {role!r}", hint="files: logo, intro, outro, subtitle_font")
    return ext


def save_brand_kit(ws: Workspace, kit: BrandKit, files: dict[str, Path] | None = None) -> BrandKit:
    """Store ``kit`` in ``workspace/brand/<name>/``; ``files`` (role → uploaded file: ``logo``,
    ``intro``, ``outro``, ``subtitle_font``) are checked and copied there and the kit points to
    the copies. Paths the kit already holds must lie in the workspace. Returns the stored kit."""
    d = brand_dir(ws, kit.name)
    d.mkdir(parents=True, exist_ok=True)
    upd: dict[str, str] = {}
    for role, src in (files or {}).items():
        if src is None:
            continue
        ext = _check_file(role, Path(src))
        dst = d / f"{role}{ext}"
        for old in d.glob(f"{role}.*"):  # a replaced logo of another type must not linger
            if old != dst:
                old.unlink(missing_ok=True)
        if Path(src).resolve() != dst.resolve():
            tmp = d / f".{role}.tmp{ext}"
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
        upd[role] = ws.rel(dst)
    kit = kit.model_copy(update=upd)
    for role in ("logo", "intro", "outro"):
        rel = getattr(kit, role)
        if rel and not ws.abs(rel).is_file():
            raise ToolInputError(f"brand kit {kit.name!r}: {role} {rel!r} is not a file in the workspace",
                                 hint=f"upload the {role} file with the kit")
    if kit.subtitle_font and Path(kit.subtitle_font).suffix.lower() in _FONT_EXT and not ws.abs(kit.subtitle_font).is_file():
        raise ToolInputError(f"brand kit {kit.name!r}: font file {kit.subtitle_font!r} not found", hint="upload the font file or give a family name")
    atomic_write_model(d / "kit.json", kit)
    return kit


# --------------------------------------------------------------------------- fonts and colours


def rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _luminance(c: tuple[int, int, int]) -> float:
    """WCAG relative luminance."""
    def ch(v: int) -> float:
        x = v / 255
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4
    r, g, b = (ch(v) for v in c)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def readable_on(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    """White or near-black, whichever contrasts more with ``bg``."""
    lum = _luminance(bg)
    return (255, 255, 255) if (1.05 / (lum + 0.05)) >= ((lum + 0.05) / 0.0625) else (17, 17, 17)


def font_file(ws: Workspace, family_or_file: str | None, default_family: str) -> tuple[str, int, str]:
    """(font file, face index, family name) of a kit's font: a workspace font file, or what
    fontconfig picks for the family (the default family when the kit names none)."""
    name = family_or_file or default_family
    if Path(name).suffix.lower() in _FONT_EXT:
        p = ws.abs(name)
        if not p.is_file():
            raise ToolInputError(f"font file {name!r} not found in the workspace", hint="upload the font with the brand kit")
        from fontTools.ttLib import TTFont

        with TTFont(p, fontNumber=0, lazy=True) as f:
            fam = f["name"].getBestFamilyName() or p.stem
        return str(p), 0, fam
    fc = shutil.which("fc-match")
    if fc is None:
        raise ToolInputError("fontconfig (fc-match) is not installed", hint="install fontconfig, or give the kit a font file")
    out = subprocess.run([fc, "-f", "%{file}|%{index}|%{family[0]}", name], capture_output=True, text=True, timeout=10, check=False).stdout
    path, _, rest = out.partition("|")
    idx, _, fam = rest.partition("|")
    if not path or not Path(path).is_file():
        raise ToolInputError(f"no font found for {name!r}", hint="name a family from `fc-list : family`, or give a font file")
    return path, int(idx or 0), fam or name


# --------------------------------------------------------------------------- what the renderer needs


class BrandStyle(Model):
    """What the renderer applies of a kit (resolved paths, workspace-relative)."""

    logo_path: str | None = None
    """Logo image, relative to the workspace."""
    logo_corner: Corner = "top-right"
    """Corner of the logo."""
    subtitle_colour: str = "#FFFFFF"
    """Subtitle fill (hex)."""
    outline_colour: str = "#000000"
    """Subtitle outline (hex)."""
    subtitle_font: str | None = None
    """Subtitle font family (None: the settings' font)."""
    fonts_dir: str | None = None
    """Folder of a kit's font file (libass looks there), relative to the workspace."""


def brand_style(ws: Workspace, kit: BrandKit) -> BrandStyle:
    """The renderer's view of ``kit``."""
    family, fonts_dir = None, None
    if kit.subtitle_font:
        if Path(kit.subtitle_font).suffix.lower() in _FONT_EXT:
            _, _, family = font_file(ws, kit.subtitle_font, kit.subtitle_font)
            fonts_dir = ws.rel(ws.abs(kit.subtitle_font).parent)
        else:
            family = kit.subtitle_font
    return BrandStyle(logo_path=kit.logo, logo_corner=kit.logo_corner, subtitle_colour=kit.primary, outline_colour=kit.secondary,
                      subtitle_font=family, fonts_dir=fonts_dir)


def is_brand_clip(c: VideoClip) -> bool:
    """Whether a video item is a brand item (intro, outro, end card)."""
    return c.material_id.startswith(BRAND_PREFIX)


def ass_colours(style: BrandStyle | None) -> tuple[str, str] | None:
    """(fill, outline) for the subtitle style, or None for the default white on black."""
    return (style.subtitle_colour, style.outline_colour) if style else None


def _ff_value(s: str) -> str:
    """``s`` escaped as a filter option value inside a filtergraph script (both escaping levels)."""
    v = s.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    return "".join("\\" + ch if ch in "\\'[],;" else ch for ch in v)


def prepared_logo(ws: Workspace, style: BrandStyle, spec: RenderSpec, cache_root: Path) -> tuple[Path, int, int] | None:
    """The logo scaled for ``spec`` (RGBA PNG in the render cache) and its (x, y) on the frame."""
    if not style.logo_path:
        return None
    from PIL import Image

    from tools.render.cache import content_id

    src = ws.abs(style.logo_path)
    if not src.is_file():
        raise ToolInputError(f"brand logo {style.logo_path!r} not found", hint="upload the logo to the brand kit again")
    lw = max(16, round(spec.width_px * LOGO_WIDTH))
    out = cache_root / f"logo-{content_id(src)}-{spec.width_px}x{spec.height_px}.png"
    if not out.is_file():
        with Image.open(src) as im:
            im = im.convert("RGBA")
            lh = max(8, round(im.height * lw / im.width))
            if lh > spec.height_px // 4:  # a tall logo: at most a quarter of the frame's height
                lh = spec.height_px // 4
                lw = max(8, round(im.width * lh / im.height))
            tmp = out.with_suffix(".tmp.png")
            im.resize((lw, lh), Image.LANCZOS).save(tmp)
            tmp.replace(out)
    with Image.open(out) as im:
        lw, lh = im.size
    m = round(min(spec.width_px, spec.height_px) * LOGO_MARGIN)
    x = m if style.logo_corner.endswith("left") else spec.width_px - lw - m
    y = m if style.logo_corner.startswith("top") else spec.height_px - lh - m
    return out, x, y


def brand_segment(inputs: list[str], graph: str, fonts_dir: Path | None, logo: tuple[Path, int, int] | None,
                  with_logo: bool) -> tuple[list[str], str]:
    """A segment's ffmpeg inputs and filter graph with the kit applied: the kit's font folder for
    libass, and the logo overlaid on the frames (when ``with_logo``), before the graph's [vout]."""
    if fonts_dir is not None:
        graph = graph.replace("ass=filename=seg.ass", f"ass=filename=seg.ass:fontsdir={_ff_value(str(fonts_dir))}")
    if not (with_logo and logo):
        return inputs, graph
    path, x, y = logo
    n = sum(1 for a in inputs if a == "-i")
    head, sep, tail = graph.partition("[vout]")
    if not sep:
        return inputs, graph
    graph = f"{head}[vbr0]{tail};[{n}:v]format=rgba[lgo];[vbr0][lgo]overlay=x={x}:y={y}:format=auto:eof_action=repeat,format=yuv420p[vout]"
    return [*inputs, "-i", str(path)], graph


# --------------------------------------------------------------------------- end card


class EndCardText(Model):
    """The words on the end card."""

    name: str
    """Product name."""
    offer: str | None = None
    """The offer (None: no offer line)."""
    cta: str
    """Call to action."""


_OFFER_ASPECT = re.compile(r"优惠|活动|促销|折扣|赠|价格|价|offer|promo|deal|discount|sale|price|coupon", re.IGNORECASE)
_CTA_ASPECT = re.compile(r"call to action|cta|行动|号召|购买方式|下单", re.IGNORECASE)


def end_card_text(product: ProductInfo, language: Language, offer: str | None = None, cta: str | None = None,
                  font_family: str = "Noto Sans CJK SC") -> EndCardText:
    """Name, offer and call to action of the end card: the kit's or job's words when given, else
    from the facts (the first point of an offer/price aspect; a call-to-action aspect), else a
    plain call to action in the video's language."""
    from tools.render.glyphs import drawable_text

    if offer is None:
        offer = next((p for a in product.aspects if _OFFER_ASPECT.search(a.aspect) for p in a.points if p.strip()), None)
    if cta is None:
        cta = next((p for a in product.aspects if _CTA_ASPECT.search(a.aspect) for p in a.points if p.strip()), None)
    cta = cta or ("立即抢购" if language == "zh" else "Shop now")

    def clean(s: str | None, n: int) -> str | None:
        t = re.sub(r"\s+", " ", drawable_text(s, font_family)) if s else ""
        return t[:n] or None

    return EndCardText(name=clean(product.name, 40) or product.name[:40], offer=clean(offer, 40), cta=clean(cta, 24) or cta[:24])


def pick_packshot(materials: Iterable[Material], hero_id: str | None = None) -> Material | None:
    """The photo that shows the product best: the hero, else the highest packshot score, else the first photo."""
    photos = [m for m in materials if m.kind == "image"]
    if not photos:
        return None
    hero = next((m for m in photos if m.id == hero_id), None)
    if hero:
        return hero
    return max(photos, key=lambda m: float((m.quality or {}).get("packshot", 0.0) or 0.0))


def _fit_text(draw, text: str, font_path: str, index: int, max_w: int, size: int, min_size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    while True:
        f = ImageFont.truetype(font_path, size, index=index)
        x0, _, x1, _ = draw.textbbox((0, 0), text, font=f)
        if x1 - x0 <= max_w or size <= min_size:
            return f
        size = max(min_size, int(size * 0.9))


def _wrap(draw, text: str, font, max_w: int, max_lines: int = 2) -> list[str]:  # type: ignore[no-untyped-def]
    """Greedy wrap by words (en) or characters (zh) into at most ``max_lines`` rows."""
    tokens = re.findall(r"[A-Za-z0-9%$.,'!?&+/-]+ ?|\S ?", text)
    rows, cur = [], ""
    for t in tokens:
        if cur and draw.textlength(cur + t, font=font) > max_w:
            rows.append(cur.rstrip())
            cur = t
        else:
            cur += t
    if cur:
        rows.append(cur.rstrip())
    if len(rows) > max_lines:
        rows = rows[: max_lines - 1] + ["".join(rows[max_lines - 1:])]
    return rows


def make_end_card(ws: Workspace, kit: BrandKit, text: EndCardText, packshot: Path | None, spec: RenderSpec, out_path: Path,
                  default_font: str) -> Path:
    """Draw the end card (a PNG of the frame's size): the packshot on a light panel, the logo, the
    product name, the offer on an accent ribbon and the call to action on a button, on the kit's
    primary colour. Laid out in a column (9:16, 1:1) or two columns (16:9)."""
    from PIL import Image, ImageDraw, ImageOps

    from tools.core.images import load_image

    W, H = spec.width_px, spec.height_px
    prim, sec = rgb(kit.primary), rgb(kit.secondary)
    ink = readable_on(prim)
    ink_sec = readable_on(sec)
    fpath, fidx, _ = font_file(ws, kit.subtitle_font, default_font)
    card = Image.new("RGB", (W, H), prim)
    # a soft vertical gradient toward a darker shade keeps a flat colour from looking empty
    shade = Image.linear_gradient("L").resize((W, H))
    dark = Image.new("RGB", (W, H), tuple(int(c * 0.72) for c in prim))
    card = Image.composite(dark, card, shade.point(lambda v: int(v * 0.6)))
    draw = ImageDraw.Draw(card)
    short = min(W, H)
    wide = W > H * 1.2
    # regions: picture box and text column
    if wide:
        pic_box = (int(W * 0.06), int(H * 0.12), int(W * 0.48), int(H * 0.88))
        tx0, tx1, ty = int(W * 0.54), int(W * 0.95), int(H * 0.16)
    else:
        pic_box = (int(W * 0.12), int(H * (0.17 if H > W else 0.14)), int(W * 0.88), int(H * (0.56 if H > W else 0.55)))
        tx0, tx1, ty = int(W * 0.07), int(W * 0.93), pic_box[3] + int(H * 0.035)
    photo = None
    if packshot is not None and packshot.is_file():
        try:
            photo = Image.fromarray(load_image(packshot, max_side=2048))
        except (OSError, ValueError, MediaError, ToolInputError):  # an unreadable packshot: the card without it
            photo = None
    # logo, top centre of the text column (or of the card); without a packshot it takes the picture's place
    if kit.logo and photo is None:
        with Image.open(ws.abs(kit.logo)) as lg:
            lg = ImageOps.contain(lg.convert("RGBA"), (int((pic_box[2] - pic_box[0]) * 0.8), int((pic_box[3] - pic_box[1]) * 0.8)),
                                  Image.LANCZOS)
            card.paste(lg, ((pic_box[0] + pic_box[2] - lg.width) // 2, (pic_box[1] + pic_box[3] - lg.height) // 2), lg)
    elif kit.logo:
        with Image.open(ws.abs(kit.logo)) as lg:
            lg = lg.convert("RGBA")
            lw = int((tx1 - tx0) * 0.42) if wide else int(W * 0.34)
            lh = max(1, round(lg.height * lw / lg.width))
            lh_max = int(H * (0.16 if wide else 0.1))
            if lh > lh_max:
                lw, lh = max(1, round(lw * lh_max / lh)), lh_max
            lg = lg.resize((lw, lh), Image.LANCZOS)
            lx = (tx0 + tx1 - lw) // 2 if wide else (W - lw) // 2
            ly = ty if wide else max(int(H * 0.03), (pic_box[1] - lh) // 2)
            card.paste(lg, (lx, ly), lg)
            if wide:
                ty = ly + lh + int(H * 0.05)
    # packshot on a rounded light panel
    px0, py0, px1, py1 = pic_box
    if photo is not None:
        draw.rounded_rectangle(pic_box, radius=int(short * 0.04), fill=(250, 250, 250))
        pad = int(short * 0.025)
        photo = ImageOps.contain(photo, (px1 - px0 - 2 * pad, py1 - py0 - 2 * pad), Image.LANCZOS)
        card.paste(photo, (px0 + (px1 - px0 - photo.width) // 2, py0 + (py1 - py0 - photo.height) // 2))
    col_w = tx1 - tx0
    cx = (tx0 + tx1) // 2
    # product name
    f_name = _fit_text(draw, text.name, fpath, fidx, col_w, int(short * 0.075), int(short * 0.04))
    for row in _wrap(draw, text.name, f_name, col_w):
        draw.text((cx, ty), row, font=f_name, fill=ink, anchor="ma")
        ty += int(f_name.size * 1.25)
    ty += int(short * 0.025)
    # offer on an accent ribbon
    if text.offer:
        f_off = _fit_text(draw, text.offer, fpath, fidx, int(col_w * 0.92), int(short * 0.07), int(short * 0.038))
        rows = _wrap(draw, text.offer, f_off, int(col_w * 0.92))
        rh = int(f_off.size * 1.3) * len(rows) + int(short * 0.03)
        draw.rounded_rectangle((tx0, ty, tx1, ty + rh), radius=int(short * 0.02), fill=sec)
        y = ty + int(short * 0.015)
        for row in rows:
            draw.text((cx, y), row, font=f_off, fill=ink_sec, anchor="ma")
            y += int(f_off.size * 1.3)
        ty += rh + int(short * 0.035)
    # call to action: a button in the text colour with the primary colour inside
    f_cta = _fit_text(draw, text.cta, fpath, fidx, int(col_w * 0.7), int(short * 0.06), int(short * 0.035))
    bw = int(draw.textlength(text.cta, font=f_cta)) + int(short * 0.12)
    bh = int(f_cta.size * 1.7)
    draw.rounded_rectangle((cx - bw // 2, ty, cx + bw // 2, ty + bh), radius=bh // 2, fill=ink)
    draw.text((cx, ty + bh // 2), text.cta, font=f_cta, fill=prim, anchor="mm")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.png")
    card.save(tmp, optimize=True)
    tmp.replace(out_path)
    return out_path


# --------------------------------------------------------------------------- timeline


def _clip_frames(ws: Workspace, rel: str, fps: int) -> int:
    from tools.core.media import ffprobe

    p = ws.abs(rel)
    if not p.is_file():
        raise ToolInputError(f"brand clip {rel!r} not found", hint="upload the intro/outro clip to the brand kit again")
    info = ffprobe(p)
    v = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)
    dur = float(info.get("format", {}).get("duration") or (v or {}).get("duration") or 0)
    n = int(min(dur, CLIP_MAX_S) * fps + 1e-6) - 1  # one frame short of the end: never a frozen tail
    if v is None or n < 1:
        raise MediaError(f"brand clip {rel!r} has no usable picture", hint="give the kit another intro/outro clip")
    return n


def brand_frames(ws: Workspace, kit: BrandKit, fps: int) -> tuple[int, int, int]:
    """(intro, outro, end card) lengths in frames at ``fps``."""
    intro = _clip_frames(ws, kit.intro, fps) if kit.intro else 0
    outro = _clip_frames(ws, kit.outro, fps) if kit.outro else 0
    card = round(END_CARD_S * fps) if kit.end_card else 0
    return intro, outro, card


def brand_extra_s(ws: Workspace, kit: BrandKit, fps: int, total_s: float) -> float:
    """Seconds the kit adds (intro + outro + end card): the story is planned this much shorter.

    Raises:
        ToolInputError: less than MIN_STORY_S would be left for the story.
    """
    extra = sum(brand_frames(ws, kit, fps)) / fps
    if total_s - extra < MIN_STORY_S:
        raise ToolInputError(f"brand kit {kit.name!r} takes {extra:.1f} s (intro, outro, end card) of a {total_s:g} s video, "
                             f"leaving less than {MIN_STORY_S:g} s for the product",
                             hint="make the video longer, or use shorter intro/outro clips or no end card")
    return extra


def apply_brand(tl: Timeline, ws: Workspace, kit: BrandKit, end_card_png: str | None) -> Timeline:
    """``tl`` with the kit's intro first and outro and end card last, everything else moved behind the intro.

    The music keeps its bar alignment with the story (it starts earlier in the file by the
    intro's length, or later on the timeline when the file has no earlier music).
    """
    fps = tl.render.fps
    n_intro, n_outro, n_card = brand_frames(ws, kit, fps)
    if not kit.end_card:
        n_card = 0
    story_f = round(tl.duration_s * fps)
    shift = n_intro / fps
    video: list[VideoClip] = []
    last_beat = max((c.beat_index for c in tl.video), default=0)
    if n_intro:
        video.append(VideoClip(beat_index=0, material_id=INTRO_ID, source_path=kit.intro or "", is_still=False, in_s=0.0, start_s=0.0,
                               duration_s=n_intro / fps))
    starts = [round(c.start_s * fps) for c in tl.video]
    for c, f in zip(tl.video, starts):
        video.append(c.model_copy(update={"start_s": round((f + n_intro) / fps, 6)}))
    f = n_intro + story_f
    if n_outro:
        video.append(VideoClip(beat_index=last_beat + 1, material_id=OUTRO_ID, source_path=kit.outro or "", is_still=False, in_s=0.0,
                               start_s=round(f / fps, 6), duration_s=n_outro / fps))
        f += n_outro
    if n_card and end_card_png:
        video.append(VideoClip(beat_index=last_beat + 1, material_id=END_CARD_ID, source_path=end_card_png, is_still=True, in_s=0.0,
                               start_s=round(f / fps, 6), duration_s=n_card / fps, source_aspect=tl.render.width_px / tl.render.height_px,
                               motion="none", transition_in="crossfade" if not n_outro else "cut"))
        f += n_card
    total = round(f / fps, 6)
    # durations: exact frame counts (start_s values come from frames, so the track stays contiguous)
    fixed = []
    for k, c in enumerate(video):
        end = video[k + 1].start_s if k + 1 < len(video) else total
        fixed.append(c.model_copy(update={"duration_s": round(end - c.start_s, 6)}))
    voice = [v.model_copy(update={"start_s": round(v.start_s + shift, 4)}) for v in tl.voice]
    subs = [SubtitleCue(start_s=round(s.start_s + shift, 3), end_s=round(s.end_s + shift, 3), text=s.text) for s in tl.subtitles]
    music: list[MusicClip] = []
    for m in tl.music:
        off = m.offset_s - shift
        start = 0.0 if off >= 0 else -off
        music.append(m.model_copy(update={"offset_s": round(max(0.0, off), 4), "start_s": round(start, 4),
                                          "duration_s": round(total - start, 6)}))
    return tl.model_copy(update={"video": fixed, "voice": voice, "subtitles": subs, "music": music, "duration_s": total})


def brand_timeline(tl: Timeline, ws: Workspace, kit: BrandKit, product: ProductInfo, materials: Iterable[Material], hero_id: str | None,
                   out_dir: Path, default_font: str, offer: str | None = None, cta: str | None = None) -> Timeline:
    """Draw the end card for this job (in ``out_dir``) and apply the kit to ``tl``.

    ``offer``/``cta`` (a chat edit of this job) win over the kit's, which win over the facts."""
    png = None
    if kit.end_card:
        _, _, family = font_file(ws, kit.subtitle_font, default_font)
        text = end_card_text(product, tl.language, offer if offer is not None else kit.offer, cta if cta is not None else kit.cta, family)
        pack = pick_packshot(materials, hero_id)
        png = ws.rel(make_end_card(ws, kit, text, ws.abs(pack.path) if pack else None, tl.render, out_dir / "end_card.png", default_font))
    return apply_brand(tl, ws, kit, png)


def unbranded_ocr_photos(tl: Timeline) -> list[dict[str, str]]:
    """The photos of ``tl`` whose printed text matters for subtitle placement (brand items excluded)."""
    return [{"id": c.material_id, "path": c.source_path} for c in tl.video if c.is_still and not is_brand_clip(c)]



def brand_jobs(jobs: list, brand_ranges: list[tuple[int, int]], style: BrandStyle, ws: Workspace, spec: RenderSpec,  # type: ignore[type-arg]
               cache_root: Path) -> list:  # type: ignore[type-arg]
    """The renderer's segment jobs (``tools.render.cache.SegmentJob``) with the kit applied: the
    logo on every segment that shows none of the ``brand_ranges`` (timeline frames [start, end) of
    intro, outro and end card, their transitions included), the kit's font folder for libass.
    Each job's cache key changes with the logo's content, place and the font folder."""
    import dataclasses

    from tools.render.cache import content_id, key_of

    logo = prepared_logo(ws, style, spec, cache_root)
    fonts = ws.abs(style.fonts_dir) if style.fonts_dir else None
    recipe = {"logo": content_id(logo[0]) if logo else None, "xy": list(logo[1:]) if logo else None, "fonts": style.fonts_dir}
    out = []
    for j in jobs:
        a, b = j.start_frame, j.start_frame + j.frames
        with_logo = logo is not None and not any(a < e and s < b for s, e in brand_ranges)
        inputs, graph = brand_segment(j.inputs, j.graph, fonts, logo, with_logo)
        out.append(dataclasses.replace(j, key=key_of({"base": j.key, "brand": recipe, "logo": with_logo}), inputs=inputs, graph=graph))
    return out


#: The brand style of a job's current timeline, beside it (the exports read it).
JOB_BRAND_FILE = "brand.json"


def record_job_brand(job_dir: Path, style: BrandStyle | None) -> None:
    """Keep ``job_dir/brand.json`` in step with the job's current timeline (removed without a kit)."""
    p = job_dir / JOB_BRAND_FILE
    if style is None:
        p.unlink(missing_ok=True)
    else:
        atomic_write_model(p, style)


def job_brand(ws: Workspace, job_id: str) -> BrandStyle | None:
    """The brand style recorded for a job's current timeline, or None."""
    try:
        p = ws.inside("jobs", job_id, JOB_BRAND_FILE)
    except ToolInputError:
        return None
    if not p.is_file():
        return None
    try:
        return BrandStyle.model_validate_json(p.read_text(encoding="utf-8"))
    except ValueError:
        return None
