r"""Per-band signal-to-noise ratio of a perturbation: the premise of I-ASIDE measured on any corruption."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from captum_iaside._utils.checks import check_images
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import as_bands


def spectral_snr(
    clean: Tensor | Iterable[tuple[Tensor, Tensor]],
    perturbed: Tensor | None = None,
    bands: int | FourierPartition = 8,
) -> Tensor:
    r"""
    Signal-to-noise ratio of a perturbation in every frequency band, over a data set:
    ``SNR_i = 10 log10(Σ ‖x_i‖² / Σ ‖(x' − x)_i‖²)`` in dB, sums over all images.

    Args:
        clean (Tensor or iterable): Clean images ``(B, C, H, W)``, or an iterable of
                    ``(clean, perturbed)`` batches.
        perturbed (Tensor, optional): The perturbed images, when ``clean`` is a tensor.
        bands (int or FourierPartition, optional): The bands (or other players).
                    Default: 8

    Returns:
        *Tensor* ``(M,)`` float64, in dB (``inf`` for a band the perturbation leaves intact).

    Examples::

        >>> x = torch.rand(8, 3, 64, 64)
        >>> spectral_snr(x, corrupt(x, "gaussian_noise", 3))   # falls from band 0 to band 7
    """
    bands = as_bands(bands)
    pairs = [(clean, perturbed)] if isinstance(clean, Tensor) else clean
    signal = torch.zeros(bands.n_bands, dtype=torch.float64)
    noise = torch.zeros(bands.n_bands, dtype=torch.float64)
    for x, y in pairs:
        check_images(x, "clean")
        if not isinstance(y, Tensor) or y.shape != x.shape:
            raise ValueError(f"perturbed must have the shape of clean {tuple(x.shape)}")
        signal += bands.decompose(x.double()).pow(2).sum(dim=(0, 2, 3, 4)).cpu()
        noise += bands.decompose((y - x).double()).pow(2).sum(dim=(0, 2, 3, 4)).cpu()
    return 10 * torch.log10(signal / noise)
