r"""Where a perturbation lies in frequency: its signal-to-noise ratio per band (the premise of I-ASIDE measured on any
corruption) and the share of its energy in each band (where an adversarial perturbation puts it, beside ψ)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from captum_iaside._utils.checks import check_images
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import as_bands


def band_energies(
    clean: Tensor | Iterable[tuple[Tensor, Tensor]], perturbed: Tensor | None, bands: FourierPartition
) -> tuple[Tensor, Tensor]:
    r"""The energy of the clean images and of the perturbation in each band, summed over the data: two ``(M,)``."""
    pairs = [(clean, perturbed)] if isinstance(clean, Tensor) else clean
    signal = torch.zeros(bands.n_bands, dtype=torch.float64)
    noise = torch.zeros(bands.n_bands, dtype=torch.float64)
    for x, y in pairs:
        check_images(x, "clean")
        if not isinstance(y, Tensor) or y.shape != x.shape:
            raise ValueError(f"perturbed must have the shape of clean {tuple(x.shape)}")
        signal += bands.decompose(x.double()).pow(2).sum(dim=(0, 2, 3, 4)).cpu()
        noise += bands.decompose((y - x).double()).pow(2).sum(dim=(0, 2, 3, 4)).cpu()
    return signal, noise


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
    signal, noise = band_energies(clean, perturbed, as_bands(bands))
    return 10 * torch.log10(signal / noise)


def perturbation_energy_share(
    clean: Tensor | Iterable[tuple[Tensor, Tensor]],
    perturbed: Tensor | None = None,
    bands: int | FourierPartition = 8,
) -> Tensor:
    r"""
    The share of a perturbation's energy in every frequency band, over a data set:
    ``Σ ‖(x' − x)_i‖² / Σ ‖x' − x‖²`` (sums over all images; the bands partition the spectrum, so the shares add
    up to 1). For an adversarial perturbation ``δ = x_adv − x``, compare it with the model's ψ: an attack spends
    its energy where the model listens.

    Args:
        clean (Tensor or iterable): Clean images ``(B, C, H, W)``, or an iterable of ``(clean, perturbed)``
                    batches.
        perturbed (Tensor, optional): The perturbed images, when ``clean`` is a tensor.
        bands (int or FourierPartition, optional): The bands (or other players).
                    Default: 8

    Returns:
        *Tensor* ``(M,)`` float64 of shares in ``[0, 1]`` that add up to 1.

    Examples::

        >>> x_adv = PGD(model, lower_bound=0, upper_bound=1).perturb(x, radius=0.03, step_size=0.01, step_num=10,
        ...                                                       target=y)
        >>> perturbation_energy_share(x, x_adv)   # beside IASIDE(model).attribute_global(...).values
    """
    _, energy = band_energies(clean, perturbed, as_bands(bands))
    total = energy.sum()
    if not total > 0:
        raise ValueError("perturbed equals clean: a perturbation without energy has no spectrum")
    return energy / total
