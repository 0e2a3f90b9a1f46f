"""Prompt templates and label vocabularies as data files (zh and en), read with importlib.resources.

* ``labels.yaml`` — the 12 E-SyncVidStory script labels: zh name, English gloss, zh and en definitions,
  aspect keywords and chat words (zh and en); the label tables of :mod:`tools.story.labels` are built on it.
* ``narrator_zh.yaml`` / ``narrator_en.yaml`` — the served narrator's prompt (narrator §4.2,
  Figures 6 and 13): system role, instruction with the label definitions, product facts, one
  query per clip with its word range and relative position, and the answer form "label, then
  narration".

:func:`render_narrator_messages` turns a product and clip list into chat messages, so a served
narrator and tests share one rendering.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from tools.core.errors import InternalError, ToolInputError
from tools.core.models import SCRIPT_LABELS, ProductInfo


def _read(name: str) -> dict[str, Any]:
    try:
        text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InternalError(f"prompt file {name!r} is missing from the prompts package") from e
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise InternalError(f"prompt file {name!r} must hold a mapping")
    return data


@lru_cache(maxsize=1)
def load_label_file() -> dict[str, Any]:
    """``labels.yaml`` as written — the only reader of that file: ``labels`` (the 12 labels in
    SCRIPT_LABELS order) and the match orders ``aspect_cue_order`` / ``word_order``.

    Checked against :data:`tools.core.models.SCRIPT_LABELS`; :mod:`tools.story.labels` builds the
    typed vocabulary (aspect keywords, chat words, label tables) on it.
    """
    data = _read("labels.yaml")
    names = tuple(lab["zh"] for lab in data["labels"])
    if names != SCRIPT_LABELS:
        raise InternalError(f"prompts/labels.yaml labels {names} differ from tools.core.models.SCRIPT_LABELS")
    for key in ("aspect_cue_order", "word_order"):
        unknown = [lab for lab in data.get(key, []) if lab not in SCRIPT_LABELS]
        if unknown:
            raise InternalError(f"prompts/labels.yaml {key} names unknown labels {unknown}")
    return data


def load_labels() -> list[dict[str, Any]]:
    """The 12 labels as dicts (keys zh, en, definition, definition_en, aspects, aspect_cues, words …),
    in SCRIPT_LABELS order."""
    return load_label_file()["labels"]


@lru_cache(maxsize=2)
def load_narrator_prompt(language: str) -> dict[str, Any]:
    """The narrator prompt template for ``language`` ("zh" or "en")."""
    if language not in ("zh", "en"):
        raise ToolInputError(f"no narrator prompt for language {language!r}", hint="use 'zh' or 'en'")
    return _read(f"narrator_{language}.yaml")


def labels_block(language: str) -> str:
    """The label list with definitions, one per line, as the prompt shows it."""
    tpl = load_narrator_prompt(language)["label_line"]
    return "\n".join(tpl.format(**lab) for lab in load_labels())


def facts_block(product: ProductInfo) -> str:
    """``aspect：point、point`` lines (zh) or ``aspect: point; point`` (en), as in E-SyncVidStory p_info."""
    if product.language == "zh":
        return "\n".join(f"{a.aspect}：{'、'.join(a.points)}" for a in product.aspects if a.points)
    return "\n".join(f"{a.aspect}: {'; '.join(a.points)}" for a in product.aspects if a.points)


def render_narrator_messages(
    product: ProductInfo,
    clips: list[dict[str, Any]],
    index: int,
    previous: list[tuple[str, str]] | None = None,
    language: str | None = None,
) -> list[dict[str, str]]:
    """Chat messages asking for clip ``index`` (0-based) of ``clips``.

    Each clip is a dict with ``word_min``, ``word_max`` and optionally ``label``. ``previous`` holds
    (label, text) of the clips before ``index``; they become earlier query/answer turns as in
    Figure 6, so the model stays coherent with them.
    """
    lang = language or product.language
    p = load_narrator_prompt(lang)
    n = len(clips)
    if not 0 <= index < n:
        raise ToolInputError(f"clip index {index} outside 0..{n - 1}")
    system = p["system"] + "\n\n" + p["instruction"].format(labels_block=labels_block(lang))
    product_msg = p["product"].format(name=product.name, facts=facts_block(product))

    def query(i: int) -> str:
        c = clips[i]
        lab = c.get("label")
        clause = p["label_given"].format(label=lab) if lab else p["label_free"]
        pos = round(100 * i / (n - 1)) if n > 1 else 0
        return p["query"].format(index=i + 1, n_clips=n, position=pos, word_min=c["word_min"], word_max=c["word_max"],
                                 label_clause=clause)

    msgs = [{"role": "system", "content": system}, {"role": "user", "content": product_msg + "\n\n" + query(0)}]
    prev = previous or []
    if len(prev) < index:
        raise ToolInputError(f"clip {index} needs the {index} previous lines, got {len(prev)}")
    for i in range(index):
        lab, text = prev[i]
        msgs.append({"role": "assistant", "content": p["answer"].format(label=lab, text=text)})
        msgs.append({"role": "user", "content": query(i + 1)})
    return msgs
