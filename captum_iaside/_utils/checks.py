r"""Argument checks, written once and used by every entry point.

Each check raises :class:`TypeError` for a value of the wrong type and :class:`ValueError` for a
value out of range, naming the argument and what was expected, and returns the value it accepted.
PyTorch is imported by the checks of tensors, dtypes and devices only, so that the command line's
parser checks its numbers with the same functions without importing it.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import Tensor


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    r"""``value`` as an int (a bool is not one), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_seed(value: Any, name: str = "seed") -> int:
    r"""``value`` as a seed: an int of at least 0 (what NumPy's and PyTorch's generators both take)."""
    return check_int(value, name, minimum=0)


def check_positive_int(value: Any, name: str) -> int:
    r"""``value`` as an int of at least 1."""
    return check_int(value, name, minimum=1)


def check_steps(value: Any, count: int, name: str) -> list[int]:
    r"""
    ``value`` as the training steps of ``count`` models of one run: a sequence of ``count`` distinct ints of 0 or
    more, ``count`` at least 2 (one step has no change to show).
    """
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of ints, one per model, got {type(value).__name__}")
    steps = [check_int(step, name, minimum=0) for step in value]
    if count < 2:
        raise ValueError(f"{name} reads models as the steps of one training run: give at least two models")
    if len(steps) != count:
        raise ValueError(f"{name} gives {len(steps)} step(s) for {count} models; give one step per model, in order")
    for i, step in enumerate(steps):
        if step in steps[:i]:
            raise ValueError(f"{name}: step {step} is given twice; each model is one step")
    return steps


def check_real(value: Any, name: str) -> float:
    r"""``value`` as a finite real number (a bool or a string is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    r"""``value`` as a finite number above zero."""
    value = check_real(value, name)
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def check_open_unit(value: Any, name: str) -> float:
    r"""``value`` as a number strictly between 0 and 1 (a confidence level)."""
    value = check_real(value, name)
    if not 0 < value < 1:
        raise ValueError(f"{name} must lie in (0, 1), got {value}")
    return value


def check_callable(value: Any, name: str) -> Any:
    r"""``value`` if it can be called (a model or a forward function)."""
    if not callable(value):
        raise TypeError(f"{name} must be callable (a model or forward function), got {type(value).__name__}")
    return value


def check_images(x: object, name: str) -> Tensor:
    r"""``x`` if it is a 4-D floating-point tensor ``(B, C, H, W)`` holding at least one image."""
    from torch import Tensor

    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must be 4-D (B, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point, got dtype {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} holds no image (batch size 0)")
    if x.is_meta:
        raise ValueError(f"{name} is a meta tensor (a shape without data); give real images")
    return x


def check_dtype(value: Any, name: str) -> torch.dtype | None:
    r"""``value`` if it is None or a :class:`torch.dtype`."""
    import torch

    if value is not None and not isinstance(value, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype (e.g. torch.bfloat16) or None, got {type(value).__name__}")
    return value


def check_device(value: Any, name: str) -> torch.device | None:
    r"""``value`` as a :class:`torch.device` that exists on this machine (None stays None)."""
    import torch

    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, torch.device)):
        raise TypeError(f"{name} must be a str, an int (a CUDA index) or a torch.device, got {type(value).__name__}")
    try:
        device = torch.device(value)
    except RuntimeError as exc:
        raise ValueError(f"{name}={value!r} is not a device PyTorch knows (e.g. 'cpu', 'cuda', 'cuda:1')") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={value!r}, but no CUDA device is available here; use 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"{name}={value!r}, but only {torch.cuda.device_count()} CUDA device(s) are visible")
    if device.type == "meta":
        raise ValueError(f"{name}='meta' holds no data; use 'cpu' or 'cuda'")
    return device


def check_writable_file(value: Any, name: str) -> str | None:
    r"""
    ``value`` as the path of a file that can be written (None stays None): not empty, not a folder, and
    proven writable before any work — a file is created there (an existing file is opened for appending,
    unchanged), which a permission check alone cannot prove (a pseudo file system such as ``/proc`` passes
    ``os.access`` and takes no new file). Folders made for the proof are removed with it: nothing stays.
    """
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got {type(value).__name__}")
    path = os.fspath(value)
    if not path:
        raise ValueError(f"{name} is an empty path; give a file name such as 'run.ckpt'")
    if os.path.isdir(path):
        raise ValueError(
            f"{name}={path!r} is a folder; give a file inside it, such as {os.path.join(path, 'run.ckpt')!r}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{name}={path!r} lies under {existing!r}, which is a file, not a folder")
    probe = path if os.path.exists(path) else f"{path}.tmp-{os.getpid()}"  # the name a checkpoint's save uses
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, "ab"):
            pass
    except OSError as exc:
        raise ValueError(f"{name}={path!r} cannot be written ({exc.strerror or type(exc).__name__})") from exc
    finally:
        if probe != path and os.path.exists(probe):
            os.remove(probe)
        while folder != existing and os.path.isdir(folder):  # the folders made for the proof, innermost first
            os.rmdir(folder)
            folder = os.path.dirname(folder)
    return path
