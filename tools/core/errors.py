"""AdReel's error tree. Every message says what happened, the value that caused it and what to do.

    AdReelError
    ├── ToolInputError        the caller (often the planner LLM) can fix it: bad tool input
    │   ├── InfeasibleError   the request cannot be met with this input (budget, duration, constraint)
    │   └── ModelReplyError   a model's reply is not what was asked (not JSON, wrong keys, no tool call)
    ├── MediaError            a file cannot be opened, decoded, or is not a supported media type
    │   └── UnsupportedMediaError
    ├── BackendUnavailable    an optional backend/package/server is missing or down; names the exact fix
    │   └── RequestRejected   the server refused the request itself (HTTP 400: schema, tools, content)
    │       └── ImagesUnsupported  the served model takes no images (text-only model)
    └── InternalError         a bug or a broken invariant inside AdReel

Who falls back on what (one rule, ``tools.core.backends``): a backend that raises
BackendUnavailable is replaced by the embedded default, with a warning; a ModelReplyError goes
back to the model as the tool result while retries last, then counts as unavailable.

Third-party errors are translated at the boundary with ``raise ... from e``.
"""

from __future__ import annotations


class AdReelError(Exception):
    """Base of every error AdReel raises on purpose."""

    #: short machine-readable kind, used by the CLI and the planner to route errors
    kind: str = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} — {hint}")

    def to_dict(self) -> dict[str, str]:
        """A JSON-friendly form for the CLI and the planner."""
        out = {"kind": self.kind, "error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class ToolInputError(AdReelError):
    """Bad tool input the caller can fix (wrong value, missing field, unparseable file)."""

    kind = "fixable"


class InfeasibleError(ToolInputError):
    """The request cannot be met with this input (e.g. not enough material for the duration)."""

    kind = "infeasible"


class ModelReplyError(ToolInputError):
    """A model's reply is unusable as it stands (not JSON, a key missing, no tool call): ask again."""

    kind = "model_reply"


class MediaError(AdReelError):
    """A media file cannot be opened or decoded (corrupt, truncated, empty)."""

    kind = "media"


class UnsupportedMediaError(MediaError):
    """A file is of a type or codec AdReel does not handle."""

    kind = "unsupported"


class BackendUnavailable(AdReelError):
    """An optional backend (package, model, server) is not available; the hint names the fix."""

    kind = "backend"


class RequestRejected(BackendUnavailable):
    """The model server refused the request itself (HTTP 400): its schema, tools or content."""

    kind = "rejected"


class ImagesUnsupported(RequestRejected):
    """The served model takes no images: send text only."""

    kind = "no_images"


class InternalError(AdReelError):
    """A broken invariant inside AdReel: a bug to report, not something the user can fix."""

    kind = "internal"
