r"""The ImageNet-C corruptions (Hendrycks & Dietterich, 2019), through the maintained ``imagecorruptions-imaug``.

`Benchmarking Neural Network Robustness to Common Corruptions and Perturbations
<https://arxiv.org/abs/1903.12261>`_ defines 15 corruptions (:data:`IMAGENET_C`) at 5 severities, plus 4
held out for validation (:data:`IMAGENET_C_EXTRA`). The implementation is the PyPI package
``imagecorruptions-imaug`` (the ``robustness`` extra); this module only adapts tensors to it: batches of
``(B, C, H, W)`` images in ``[0, 1]`` are quantised to 8 bits as ImageNet-C's images are, grey images are
corrupted as grey RGB and averaged back to one channel, images smaller than the 32 px the package
needs are mirrored out to 32 px and cropped back, and the package's draws from NumPy's global random
state are seeded and the state is put back afterwards (impulse noise and glass blur, which draw
from generators of their own, get seeds drawn from it).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import Tensor

#: The 15 corruptions of ImageNet-C, in the paper's order (noise, blur, weather, digital).
IMAGENET_C = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)

#: The 4 extra corruptions of ImageNet-C (held out for validation in the paper; not part of the mCE).
IMAGENET_C_EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")

_MIN_SIDE = 32  # the smallest image imagecorruptions takes


def imagenet_c_package() -> Any:
    r"""The ``imagecorruptions`` module, or an ImportError saying how to install it."""
    try:
        import imagecorruptions
        import imagecorruptions.corruptions
    except ImportError as exc:
        raise ImportError(
            "the ImageNet-C corruptions need imagecorruptions-imaug: pip install 'captum-iaside[robustness]'"
        ) from exc
    return imagecorruptions


def imagenet_c(images: Tensor, name: str, severity: int, seed: int = 0) -> Tensor:
    r"""
    The ImageNet-C corruption ``name`` at ``severity`` (1–5) of every image, seeded.

    Args:
        images (Tensor): ``(B, C, H, W)`` in ``[0, 1]``, with 1 or 3 channels.
        name (str): One of :data:`IMAGENET_C` or :data:`IMAGENET_C_EXTRA`.
        severity (int): 1 … 5.
        seed (int, optional): Seed of NumPy's random state while the package draws (restored after).
                    Default: 0

    Returns:
        *Tensor* of the same shape, dtype and device, in ``[0, 1]`` (multiples of 1/255).
    """
    package = imagenet_c_package()
    if images.shape[1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels for the ImageNet-C corruptions, got {images.shape[1]}")
    h, w = images.shape[-2:]
    top, left = max(0, _MIN_SIDE - h) // 2, max(0, _MIN_SIDE - w) // 2
    pad = ((top, max(0, _MIN_SIDE - h) - top), (left, max(0, _MIN_SIDE - w) - left), (0, 0))
    pixels = (images.detach().to("cpu", torch.float64).clamp(0, 1) * 255).round().to(torch.uint8)
    pixels = pixels.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()
    # impulse noise and glass blur draw from generators of their own, seeded through a keyword
    own_seed = "seed" in inspect.signature(package.corruptions.__dict__[name]).parameters
    state = np.random.get_state()
    np.random.seed(int(seed) % 2**32)
    try:
        out = []
        for image in pixels:
            big = np.pad(image, pad, mode="symmetric")
            kwargs = {"seed": int(np.random.randint(2**31 - 1))} if own_seed else {}
            done = package.corrupt(big, corruption_name=name, severity=int(severity), **kwargs)
            done = np.asarray(done, dtype=np.float64)
            out.append(done[top : top + h, left : left + w])
    finally:
        np.random.set_state(state)
    corrupted = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2) / 255
    if images.shape[1] == 1:
        corrupted = corrupted.mean(dim=1, keepdim=True)
    return corrupted.clamp(0, 1).to(device=images.device, dtype=images.dtype)
