r"""Corruptions of images in ``[0, 1]``, batched and seeded, at severities 1–5: ImageNet-C's and two of ours.

The 15 corruptions of ImageNet-C and its 4 extras (Hendrycks & Dietterich, 2019,
https://arxiv.org/abs/1903.12261) come from ``imagecorruptions-imaug``
(:mod:`~captum_iaside.robustness.imagenet_c`); ``lowpass`` and ``highpass`` are captum-iaside's own
spectral filters, which remove frequency bands of :class:`~captum_iaside.SpectralBands`. Every
corruption maps ``(B, C, H, W)`` images in ``[0, 1]`` to images in ``[0, 1]`` and draws its randomness
from the ``seed`` it is given, so it can serve directly as an attack of
:class:`captum.robust.AttackComparator`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor

from captum_iaside._utils.checks import check_images, check_seed
from captum_iaside.game.bands import SpectralBands
from captum_iaside.robustness.imagenet_c import IMAGENET_C, IMAGENET_C_EXTRA, imagenet_c

SEVERITIES = (1, 2, 3, 4, 5)
_FILTER_BANDS = SpectralBands(8)


def check_severities(severities: Sequence[int]) -> list[int]:
    r"""``severities`` as a list, each one of :data:`SEVERITIES` (1–5), or ``ValueError`` naming those that are not."""
    bad = [s for s in severities if isinstance(s, bool) or not isinstance(s, int) or s not in SEVERITIES]
    if bad:
        raise ValueError(f"severities must be among {list(SEVERITIES)}, got {bad}")
    return list(severities)


def lowpass(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""
    captum-iaside's low-pass filter: removes the ``severity`` highest of 8 square frequency bands
    (severity 5 keeps bands 0–2).
    """
    parts = _FILTER_BANDS.decompose(x)
    return parts[:, : 8 - severity].sum(dim=1).clamp(0, 1)


def highpass(x: Tensor, severity: int, seed: int = 0) -> Tensor:
    r"""
    captum-iaside's high-pass filter: removes the ``severity`` lowest of 8 square frequency bands, keeping
    each image's mean colour.
    """
    parts = _FILTER_BANDS.decompose(x)
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (parts[:, severity:].sum(dim=1) + mean).clamp(0, 1)


def _standard(name: str) -> Callable[[Tensor, int, int], Tensor]:
    def corruption(x: Tensor, severity: int, seed: int = 0) -> Tensor:
        return imagenet_c(x, name, severity, seed)

    corruption.__name__ = name
    corruption.__doc__ = f"ImageNet-C's {name.replace('_', ' ')} (imagecorruptions-imaug)."
    return corruption


#: captum-iaside's own spectral filters, beside ImageNet-C's corruptions.
SPECTRAL_FILTERS = ("lowpass", "highpass")

#: Every corruption by name: ``f(images, severity, seed) -> images``; ImageNet-C's 15, its 4 extras, then ours.
CORRUPTIONS: dict[str, Callable[[Tensor, int, int], Tensor]] = {
    **{name: _standard(name) for name in IMAGENET_C + IMAGENET_C_EXTRA},
    "lowpass": lowpass,
    "highpass": highpass,
}


def corrupt(images: Tensor, name: str, severity: int, seed: int = 0) -> Tensor:
    r"""
    Apply the corruption ``name`` at ``severity`` (1–5) to images in ``[0, 1]``.

    Args:
        images (Tensor): ``(B, C, H, W)`` in ``[0, 1]``; the ImageNet-C corruptions need 1 or 3 channels.
        name (str): One of :data:`CORRUPTIONS`: ImageNet-C's names (``"gaussian_noise"``, ``"fog"``,
                    ``"jpeg_compression"``, …) or ours (``"lowpass"``, ``"highpass"``).
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
    check_seed(seed)
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; expected one of {list(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    return CORRUPTIONS[name](images, severity, seed=seed)
