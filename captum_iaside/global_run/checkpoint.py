r"""Checkpoints of a global run: written atomically, refused when anything behind the result differs.

A checkpoint's fingerprint holds every option that changes the result, a digest of each model's
parameters and buffers (TorchScript modules included) and the data's identity (its length where
known and a digest of the first batch), so a checkpoint never hands back a result computed for
another model or other data.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from captum_iaside import __version__
from captum_iaside._utils.digest import update_digest
from captum_iaside.global_run.batches import known_images, split_batch


def model_digest(forward_func: Callable[..., Any]) -> str:
    r"""
    A SHA-256 digest of a model's class, parameters and buffers (an ``nn.Module``, TorchScript
    included); for a plain function, of its qualified name.
    """
    h = hashlib.sha256()
    module = forward_func if isinstance(forward_func, nn.Module) else getattr(forward_func, "__self__", None)
    if isinstance(module, nn.Module):
        h.update(type(module).__qualname__.encode())
        state = list(module.state_dict(keep_vars=False).items())
        update_digest(h, state)
    else:
        h.update(f"{getattr(forward_func, '__module__', '')}.{getattr(forward_func, '__qualname__', '')}".encode())
    return h.hexdigest()[:16]


def batch_digest(images: Tensor, targets: Any = None) -> str:
    r"""A SHA-256 digest of a batch of images (and targets): the data's identity in a fingerprint."""
    h = hashlib.sha256()
    update_digest(h, [("images", images)])
    if isinstance(targets, Tensor):
        update_digest(h, [("targets", targets)])
    elif targets is not None:
        h.update(repr(targets).encode())
    return h.hexdigest()[:16]


#: The layout of a checkpoint's state; a checkpoint of another format is refused in one sentence.
CHECKPOINT_FORMAT = 6


def save_checkpoint(path: str, state: dict[str, Any]) -> None:
    r"""
    Write ``state`` to ``path`` atomically: into ``PATH.tmp-PID``, then :func:`os.replace`. A save killed
    half-way leaves that file behind; :func:`load_checkpoint` removes the ones of processes no longer running.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    torch.save({"format": CHECKPOINT_FORMAT, "captum_iaside_version": __version__, **state}, tmp)
    os.replace(tmp, path)


def _remove_leftovers(path: str) -> None:
    r"""Remove ``PATH.tmp-PID`` files of saves that were killed (their process is gone), never a live one's."""
    for leftover in glob.glob(glob.escape(path) + ".tmp-*"):
        pid = leftover.rsplit("-", 1)[1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            os.remove(leftover)
        except PermissionError:  # it exists, under another user
            continue


def load_checkpoint(path: str, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    r"""
    The saved state at ``path`` (None if there is none).

    Raises:
        ValueError: if the checkpoint was written for another configuration, model or data,
            naming what differs; the file is left as it is.
    """
    _remove_leftovers(path)
    if not os.path.exists(path):
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say so rather than overwrite it
        raise ValueError(f"checkpoint {path!r} cannot be read ({exc.__class__.__name__}); move it away") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        written = state.get("captum_iaside_version", "before 0.3") if isinstance(state, dict) else "unknown"
        raise ValueError(
            f"checkpoint {path!r} was written by another version of captum-iaside ({written}; this is "
            f"{__version__}) and cannot be resumed; it was left untouched: delete it or pass another path"
        )
    saved = state.get("fingerprint")
    if saved != fingerprint:
        saved = saved or {}
        differ = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
        raise ValueError(
            f"checkpoint {path!r} was written for a different run (differs in: "
            f"{', '.join(differ)}; saved {json.dumps({k: saved.get(k) for k in differ}, default=str)}); it was "
            "left untouched: pass another checkpoint path or delete it"
        )
    return state


def run_fingerprint(
    config: dict[str, Any],
    design: dict[str, Any],
    world_size: int,
    models: dict[str, Callable[..., Any]],
    data: Any,
    first: dict[str, Any] | None,
) -> dict[str, Any]:
    r"""
    What a checkpoint must match to be resumed: the run's configuration and options (``config``), its design, the
    number of ranks, the models' digests, and the data's size (where known) and first batch.
    """
    fp = dict(config)
    fp["design"] = design
    fp["world_size"] = world_size
    fp["models"] = {n: model_digest(f) for n, f in models.items()}
    fp["data"] = {
        "images": known_images(data),
        "first_batch": None if first is None else {n: batch_digest(*split_batch(b)) for n, b in first.items()},
    }
    return fp
