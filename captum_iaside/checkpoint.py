r"""Checkpoints of a global run: written atomically, refused when the configuration differs."""

from __future__ import annotations

import json
import os
from typing import Any

import torch


def save_checkpoint(path: str, state: dict[str, Any]) -> None:
    r"""Write ``state`` to ``path`` atomically (a temporary file, then :func:`os.replace`)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    r"""
    The saved state at ``path`` (None if there is none).

    Raises:
        ValueError: if the checkpoint was written by a run with another configuration; the file
            is left as it is.
    """
    if not os.path.exists(path):
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say so rather than overwrite it
        raise ValueError(f"checkpoint {path!r} cannot be read ({exc.__class__.__name__}); move it away") from exc
    saved = state.get("fingerprint") if isinstance(state, dict) else None
    if saved != fingerprint:
        saved = saved or {}
        differ = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
        raise ValueError(
            f"checkpoint {path!r} was written by a different configuration (differs in: "
            f"{', '.join(differ)}; saved {json.dumps({k: saved.get(k) for k in differ})}); it was left "
            "untouched: pass another checkpoint path or delete it"
        )
    return state
