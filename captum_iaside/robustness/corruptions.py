r"""Common corruptions of images in ``[0, 1]``, batched and seeded, at severities 1–5.

The noise, blur, contrast, JPEG and pixelation corruptions follow the spirit of ImageNet-C (Hendrycks &
Dietterich, 2019, https://arxiv.org/abs/1903.12261) with parameters scaled for small images;
``lowpass`` and ``highpass`` remove frequency bands of :class:`~captum_iaside.SpectralBands`. Every
function maps ``(B, C, H, W)`` images in ``[0, 1]`` to images in ``[0, 1]`` and draws its randomness
from the ``seed`` it is given, so it can serve directly as an attack of
:class:`captum.robust.AttackComparator`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from captum_iaside._utils.checks import check_images
from captum_iaside.game.bands import SpectralBands

SEVERITIES = (1, 2, 3, 4, 5)
_GAUSSIAN_STD = (0.04, 0.08, 0.12, 0.18, 0.26)
_SHOT_PHOTONS = (60.0, 25.0, 12.0, 5.0, 3.0)
_IMPULSE_AMOUNT = (0.03, 0.06, 0.09, 0.17, 0.27)
_BLUR_SIGMA = (0.5, 0.75, 1.0, 1.5, 2.0)
_CONTRAST = (0.4, 0.3, 0.2, 0.1, 0.05)
_JPEG_QUALITY = (25, 18, 15, 10, 7)
_PIXELATE_BLOCK = (2, 3, 4, 5, 6)
_FILTER_BANDS = SpectralBands(8)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _noise_like(x: Tensor, seed: int) -> Tensor:
    return torch.randn(x.shape, generator=_generator(seed)).to(device=x.device, dtype=x.dtype)


def gaussian_noise(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""Additive white Gaussian noise, std 0.04 … 0.26."""
    return (x + _GAUSSIAN_STD[severity - 1] * _noise_like(x, seed)).clamp(0, 1)


def shot_noise(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""Poisson (photon) noise with 60 … 3 photons at full intensity."""
    lam = _SHOT_PHOTONS[severity - 1]
    counts = torch.poisson(x.detach().cpu().double() * lam, generator=_generator(seed))
    return (counts / lam).to(device=x.device, dtype=x.dtype).clamp(0, 1)


def impulse_noise(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""Salt-and-pepper noise on 3 % … 27 % of the values."""
    g = _generator(seed)
    hit = torch.rand(x.shape, generator=g) < _IMPULSE_AMOUNT[severity - 1]
    salt = (torch.rand(x.shape, generator=g) < 0.5).to(x.dtype)
    return torch.where(hit.to(x.device), salt.to(x.device), x)


def gaussian_blur(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""Gaussian blur with sigma 0.5 … 2 pixels."""
    sigma = _BLUR_SIGMA[severity - 1]
    size = 2 * int(torch.tensor(3 * sigma).ceil()) + 1
    return TF.gaussian_blur(x, kernel_size=[size, size], sigma=[sigma, sigma])


def contrast(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""Contrast reduced to 40 % … 5 % around each image's mean."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * _CONTRAST[severity - 1] + mean).clamp(0, 1)


def jpeg(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""JPEG compression (torchvision's encoder) at quality 25 … 7."""
    from torchvision.io import decode_jpeg, encode_jpeg

    quality = _JPEG_QUALITY[severity - 1]
    as_bytes = (x.detach().cpu() * 255).round().clamp(0, 255).to(torch.uint8)
    with warnings.catch_warnings():  # torchvision 0.29 announces a move of its codecs to torchcodec
        warnings.simplefilter("ignore", DeprecationWarning)
        decoded = [decode_jpeg(encode_jpeg(img, quality=quality)) for img in as_bytes]
    return (torch.stack(decoded).to(dtype=x.dtype) / 255).to(x.device)


def pixelate(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""Averages blocks of 2 … 6 pixels (blocks at the right and bottom edges may be cut)."""
    b = _PIXELATE_BLOCK[severity - 1]
    h, w = x.shape[-2:]
    blocks = F.avg_pool2d(x, kernel_size=b, stride=b, ceil_mode=True)
    return blocks.repeat_interleave(b, dim=-2).repeat_interleave(b, dim=-1)[..., :h, :w]


def lowpass(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""Removes the ``severity`` highest of 8 square frequency bands (severity 5 keeps bands 0–2)."""
    parts = _FILTER_BANDS.decompose(x)
    return parts[:, : 8 - severity].sum(dim=1).clamp(0, 1)


def highpass(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""Removes the ``severity`` lowest of 8 square frequency bands, keeping each image's mean colour."""
    parts = _FILTER_BANDS.decompose(x)
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (parts[:, severity:].sum(dim=1) + mean).clamp(0, 1)


#: The corruptions by name: ``f(images, severity, seed) -> images``.
CORRUPTIONS: dict[str, Callable[[Tensor, int, int], Tensor]] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "gaussian_blur": gaussian_blur,
    "contrast": contrast,
    "jpeg": jpeg,
    "pixelate": pixelate,
    "lowpass": lowpass,
    "highpass": highpass,
}


def corrupt(images: Tensor, name: str, severity: int, seed: int = 0) -> Tensor:
    r"""
    Apply the corruption ``name`` at ``severity`` (1–5) to images in ``[0, 1]``.

    Args:
        images (Tensor): ``(B, C, H, W)`` in ``[0, 1]``; JPEG needs 1 or 3 channels.
        name (str): One of :data:`CORRUPTIONS`.
        severity (int): 1 (mild) … 5 (severe).
        seed (int, optional): Seed of the random corruptions.
                    Default: 0

    Returns:
        *Tensor* of the same shape, in ``[0, 1]``; the input is not modified.

    Examples::

        >>> x = torch.rand(4, 3, 32, 32)
        >>> corrupt(x, "gaussian_noise", 3, seed=1).shape
        torch.Size([4, 3, 32, 32])
    """
    check_images(images, "images")
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; expected one of {list(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    return CORRUPTIONS[name](images, severity, seed)
