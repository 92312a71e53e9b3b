r"""What the plots share: labels, band ticks and Captum's HWC image layout."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from captum_iaside.game.partition import FourierPartition
from captum_iaside.results.importance import SpectralImportance


def result_label(res: SpectralImportance, i: int) -> str:
    return str(res.config.get("model", f"model {i}"))


def band_ticks(bands: FourierPartition) -> list[str]:
    r"""A tick label per player: its number over its label (a band's radii)."""
    return [f"{i}\n{label}" for i, label in enumerate(bands.labels())]


def to_hwc(image: Tensor | np.ndarray, name: str = "image") -> np.ndarray:
    r"""
    An image or map as the HWC NumPy array Captum's visualisation needs.

    A torch tensor is read as CHW (PyTorch's layout) and transposed; a NumPy array must already
    be HWC, and one that looks CHW (``(1|3, H, W)`` with a wide last axis) is refused rather than
    drawn wrong.

    Args:
        image (Tensor or ndarray): ``(C, H, W)`` tensor, or ``(H, W, C)`` / ``(H, W)`` array.
        name (str, optional): Argument name used in error messages.
                    Default: ``"image"``

    Returns:
        *ndarray* ``(H, W, C)`` of float64.
    """
    if isinstance(image, Tensor):
        t = image.detach().to("cpu", torch.float64)
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3:
            raise ValueError(f"{name} as a tensor must be CHW (C, H, W), got shape {tuple(image.shape)}")
        return t.permute(1, 2, 0).numpy()
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 2:
        return arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"{name} must be an HWC array, got shape {arr.shape}")
    if arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{name} looks like a CHW array {arr.shape}; Captum's visualisation needs HWC: pass "
            f"{name}.transpose(1, 2, 0) or the torch tensor"
        )
    return arr
