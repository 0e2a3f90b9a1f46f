"""The ground floor: what every stage shares and nothing else.

Owns the domain models (pydantic, units in field names), the error tree, the settings, the one
tool registry, the workspace (paths confined to it, atomic writes, job records), the backend
table with its one fallback rule, and media and image I/O helpers (ffmpeg/ffprobe paths,
``load_image``, ``as_rgb``, ``resize_long``). It may import only the standard library and
third-party packages: no other AdReel package.
"""
