"""Material ingest into a product library: probe, validate, normalise, store by content id.

Incremental (a file already in the library is recognised by its SHA-256 and not redone) and
idempotent (same bytes → same id). Bad files are reported by name and skipped; nothing already
ingested is lost. Shot detection, quality, OCR and embeddings are added by the
material-understanding tools on top of this.
"""

from __future__ import annotations

import contextvars
import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import Field

from tools.core.bounds import MAX_FILES_PER_JOB, MAX_FRAME_SIDE_PX, MAX_MEDIA_S, MIN_CLIP_S, MIN_IMAGE_SIDE_PX
from tools.core.environment import usable_cores
from tools.core.errors import AdReelError, InfeasibleError, MediaError, ToolInputError, UnsupportedMediaError
from tools.core.media import AUDIO_EXT, IMAGE_EXT, VIDEO_EXT, display_size, ffprobe, run_ffmpeg
from tools.core.models import Material, Model
from tools.core.paths import ReadPath, WorkspaceRoot, workspace_root
from tools.core.registry import register
from tools.core.settings import get_settings
from tools.core.workspace import Workspace, atomic_write_text, file_sha256, sanitize_filename


class SkippedFile(Model):
    """A file ingest did not take, and why."""

    name: str
    """Sanitised file name."""
    reason: str
    """What was wrong and what to do."""


class IngestInput(Model):
    """Files to add to a product library."""

    product_id: str
    """Library to add to (see tools.core.workspace.product_id_for)."""
    paths: list[ReadPath] = Field(min_length=1)
    """Files or folders (folders are read recursively; hidden files ignored)."""
    workspace: WorkspaceRoot | None = None
    """Workspace root (default: the current one)."""


class IngestOutput(Model):
    """The library after ingest."""

    materials: list[Material]
    """Every material of the library, including earlier ones."""
    added: list[str]
    """Ids added by this call."""
    taken: list[str]
    """Ids of the given files that were taken (new or already known), in file order."""
    skipped: list[SkippedFile]
    """Files that were not taken."""


def library_path(ws: Workspace, product_id: str) -> Path:
    return ws.product_dir(product_id) / "library.json"


def load_library(ws: Workspace, product_id: str) -> list[Material]:
    p = library_path(ws, product_id)
    if not p.is_file():
        return []
    return [Material.model_validate(m) for m in json.loads(p.read_text(encoding="utf-8"))]


def save_library(ws: Workspace, product_id: str, materials: list[Material]) -> None:
    atomic_write_text(library_path(ws, product_id), json.dumps([m.model_dump(mode="json") for m in materials], ensure_ascii=False, indent=1))


def _ingest_image(src: Path, dst_dir: Path, mid: str, ws: Workspace) -> Material:
    from PIL import Image, ImageOps, UnidentifiedImageError

    s = get_settings()
    Image.MAX_IMAGE_PIXELS = None  # we check the size ourselves, before decoding
    try:
        with Image.open(src) as im:
            w, h = im.size
            if w * h > s.max_image_pixels:
                raise MediaError(
                    f"{src.name!r} is {w}×{h} = {w * h / 1e6:.0f} MP, over the {s.max_image_pixels / 1e6:.0f} MP limit",
                    hint="resize the photo (a 4K long side is plenty) or raise ADREEL_MAX_IMAGE_PIXELS",
                )
            if min(w, h) < MIN_IMAGE_SIDE_PX:
                raise MediaError(f"{src.name!r} is only {w}×{h} px, too small to show (at least {MIN_IMAGE_SIDE_PX} px a side)",
                                 hint="use the full-size photo")
            im.verify()
        with Image.open(src) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "P"):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            im = im.convert("RGB")
            im.thumbnail((s.library_image_max_side_px, s.library_image_max_side_px), Image.Resampling.LANCZOS)
            dst = dst_dir / f"{mid}.jpg"
            tmp = dst.with_suffix(".tmp.jpg")
            im.save(tmp, "JPEG", quality=92)
            tmp.replace(dst)
            w, h = im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise MediaError(f"{src.name!r} is not a readable image ({e})", hint="re-export it as JPEG or PNG") from e
    return Material(id=mid, kind="image", original_name=sanitize_filename(src.name), path=ws.rel(dst),
                    size_bytes=src.stat().st_size, width_px=w, height_px=h)


def _ingest_av(src: Path, dst_dir: Path, mid: str, ws: Workspace, want: str) -> Material:
    info = ffprobe(src)
    streams = info.get("streams", [])
    video = [st for st in streams if st.get("codec_type") == "video" and st.get("disposition", {}).get("attached_pic", 0) == 0]
    audio = [st for st in streams if st.get("codec_type") == "audio"]
    stream_dur = (video or audio or [{}])[0].get("duration")
    try:
        dur = float(info.get("format", {}).get("duration") or stream_dur or 0)
    except (TypeError, ValueError):
        dur = 0.0
    if want == "video":
        if not video:
            raise UnsupportedMediaError(f"{src.name!r} has no video stream", hint="upload clips with video, or music as audio")
        if dur < MIN_CLIP_S:
            raise MediaError(f"{src.name!r} is only {dur:.2f} s long, too short for a shot (at least {MIN_CLIP_S:g} s)",
                             hint="use a longer clip, or a photo")
        if dur > MAX_MEDIA_S:
            raise MediaError(f"{src.name!r} is {dur / 3600:.1f} h long, over the {MAX_MEDIA_S / 3600:g} h limit", hint="trim it to the part you want")
        vw, vh = display_size(video[0])
        if max(vw, vh) > MAX_FRAME_SIDE_PX or min(vw, vh) < MIN_IMAGE_SIDE_PX:
            raise MediaError(f"{src.name!r} has {vw}×{vh} px frames, outside {MIN_IMAGE_SIDE_PX}…{MAX_FRAME_SIDE_PX} px a side",
                             hint="re-export it at 720p, 1080p or 4K")
        # Decode a frame near the start and near the end: catches truncated files and codecs ffmpeg lacks.
        for t in (min(0.2, dur / 3), max(0.0, dur - 0.3)):
            run_ffmpeg(["-ss", f"{t:.3f}", "-i", str(src), "-frames:v", "1", "-f", "null", "-"], what=f"decoding {src.name!r} at {t:.1f} s", timeout_s=60)
        v = video[0]
        num, _, den = str(v.get("avg_frame_rate") or v.get("r_frame_rate") or "0/1").partition("/")
        fps = float(num) / float(den or 1) if float(den or 1) else 0.0
        w, h = display_size(v)
        kind = "video"
    else:
        if not audio:
            raise UnsupportedMediaError(f"{src.name!r} has no audio stream", hint="upload music as mp3, ogg, wav, m4a or flac")
        if dur <= 0.5:
            raise MediaError(f"{src.name!r} is only {dur:.2f} s long", hint="upload a longer music track")
        if dur > MAX_MEDIA_S:
            raise MediaError(f"{src.name!r} is {dur / 3600:.1f} h long, over the {MAX_MEDIA_S / 3600:g} h limit", hint="trim the track")
        fps, w, h, kind = None, None, None, "audio"
    dst = dst_dir / f"{mid}{src.suffix.lower()}"
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)
    return Material(id=mid, kind=kind, original_name=sanitize_filename(src.name), path=ws.rel(dst), size_bytes=src.stat().st_size,
                    width_px=w, height_px=h, duration_s=round(dur, 3), fps=fps, has_audio=bool(audio))


def ingest_file(ws: Workspace, product_id: str, src: Path, known: dict[str, Material]) -> Material:
    """Ingest one file (or return the existing material with the same bytes)."""
    s = get_settings()
    if not src.is_file():
        raise ToolInputError(f"{src.name!r} is not a file")
    size = src.stat().st_size
    if size == 0:
        raise MediaError(f"{src.name!r} is empty (0 bytes)", hint="upload the file again")
    if size > s.max_upload_bytes:
        raise MediaError(f"{src.name!r} is {size / 1e9:.1f} GB, over the {s.max_upload_bytes / 1e9:.1f} GB limit", hint="trim or re-encode it")
    mid = file_sha256(src)[:16]
    if mid in known:
        return known[mid]
    ext = src.suffix.lower()
    dst_dir = ws.product_dir(product_id) / "materials"
    with _same_file_lock(dst_dir / mid):  # two copies of one file in a batch: one writes at a time
        return _ingest_new(ws, src, ext, dst_dir, mid)


_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _same_file_lock(key: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _ingest_new(ws: Workspace, src: Path, ext: str, dst_dir: Path, mid: str) -> Material:
    if ext in IMAGE_EXT:
        return _ingest_image(src, dst_dir, mid, ws)
    if ext in VIDEO_EXT:
        return _ingest_av(src, dst_dir, mid, ws, "video")
    if ext in AUDIO_EXT:
        return _ingest_av(src, dst_dir, mid, ws, "audio")
    raise UnsupportedMediaError(
        f"{src.name!r} is not a supported photo, clip or music file",
        hint=f"supported: {', '.join(sorted(IMAGE_EXT | VIDEO_EXT | AUDIO_EXT))}",
    )


def _not_taken(f: Path, root: Path) -> str | None:
    """Why an entry of a materials folder is not read (None: it is a file to ingest)."""
    if f.is_symlink():
        if f.is_dir():
            return "a link to a folder: links to folders are not followed — copy the files into the folder instead"
        if not f.exists():
            return "a broken link"
        if root not in f.resolve().parents:
            return "a link to a file outside the folder — copy the file into the folder instead"
    if f.is_file():
        return None
    return "not a regular file (a FIFO, socket or device) — only photos, clips and music files are read"


def collect_files(paths: list[str]) -> tuple[list[Path], list[SkippedFile]]:
    """Files named, and files inside folders named (recursively, sorted, hidden ones skipped);
    entries that are not read (links out of the folder, FIFOs, devices) with the reason.

    Raises:
        ToolInputError: a path does not exist or is not a file or folder; more than
            MAX_FILES_PER_JOB files.
    """
    out: list[Path] = []
    skipped: list[SkippedFile] = []
    for p in map(Path, paths):
        if p.is_dir():
            root = p.resolve()
            for d, dirs, files in os.walk(p):
                dirs[:] = sorted(x for x in dirs if not x.startswith("."))
                for name in sorted(files) + [x for x in dirs if Path(d, x).is_symlink()]:
                    if name.startswith("."):
                        continue
                    f = Path(d, name)
                    why = _not_taken(f, root)
                    if why:
                        skipped.append(SkippedFile(name=sanitize_filename(name), reason=why))
                    else:
                        out.append(f)
                    if len(out) > MAX_FILES_PER_JOB:
                        raise ToolInputError(f"{str(p)!r} holds more than {MAX_FILES_PER_JOB} files",
                                             hint=f"choose at most {MAX_FILES_PER_JOB} photos and clips for one video")
        elif p.is_file():
            out.append(p)
        elif p.exists():
            raise ToolInputError(f"{str(p)!r} is not a regular file or folder", hint="name a folder of photos and clips")
        else:
            raise ToolInputError(f"{str(p)!r} does not exist", hint="check the path you gave (--materials, --music or --hero)")
    return sorted(out), skipped


def ingest(ws: Workspace, product_id: str, paths: list[str]) -> IngestOutput:
    """Add files to the library; bad files are skipped with a reason, good ones kept."""
    files, skipped = collect_files(paths)
    if not files:
        why = "; ".join(f"{sk.name}: {sk.reason}" for sk in skipped[:5])
        raise InfeasibleError(f"no files found in {', '.join(paths)}" + (f" (not read: {why})" if why else ""),
                              hint="put photos (jpg, png, webp) or clips (mp4, mov, mkv, webm) in the folder")
    library = load_library(ws, product_id)
    known = {m.id: m for m in library}
    added, taken = [], []

    def one(f: Path) -> Material | AdReelError:
        try:
            return ingest_file(ws, product_id, f, known)
        except (MediaError, ToolInputError) as e:
            return e

    # files are decoded, checked and re-encoded in a pool, one per core (PIL and ffmpeg work
    # without the GIL); the library takes them in file order, as before
    cores = usable_cores()
    with ThreadPoolExecutor(max(1, min(cores, len(files)))) as ex:
        results = [ex.submit(contextvars.copy_context().run, one, f) for f in files]
        for f, fut in zip(files, results):
            m = fut.result()
            if isinstance(m, AdReelError):
                skipped.append(SkippedFile(name=sanitize_filename(f.name), reason=str(m)))
                continue
            if m.id not in taken:
                taken.append(m.id)
            if m.id not in known:
                known[m.id] = m
                library.append(m)
                added.append(m.id)
                save_library(ws, product_id, library)  # after every file: a crash loses nothing done
    return IngestOutput(materials=library, added=added, taken=taken, skipped=skipped)



@register("ingest_materials")
def ingest_materials(inp: IngestInput) -> IngestOutput:
    """Add photos, clips and music to a product library (validated, deduplicated by content)."""
    ws = Workspace(inp.workspace or workspace_root())
    return ingest(ws, inp.product_id, inp.paths)
