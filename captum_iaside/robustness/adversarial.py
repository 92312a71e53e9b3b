r"""Where an adversarial perturbation puts its energy, band by band, to read beside the model's ψ.

An L∞ attack (:class:`captum.robust.FGSM` or :class:`captum.robust.PGD`) moves each image by ``δ = x_adv − x``.
Split into the same players as the model's ψ, the share of ``‖δ‖²`` in each band says where the attack found the
model sensitive, and the spectral SNR of ``δ`` how much of each band's signal it had to drown. A model that draws
its predictive power from low bands (a high SRS) is attacked through them too: the perturbation's energy shares
and ψ tend to agree.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from captum.robust import FGSM, PGD
from torch import Tensor

from captum_iaside._utils.checks import check_positive, check_positive_int
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import as_bands
from captum_iaside.game.value_functions import scores_of
from captum_iaside.global_run.batches import check_batch_labels, split_batch
from captum_iaside.global_run.distributed import summed
from captum_iaside.robustness.snr import band_energies

#: The attacks :func:`adversarial_spectrum` runs.
ATTACKS = ("PGD", "FGSM")


@dataclass(frozen=True)
class AdversarialSpectrum:
    r"""
    The spectrum of an adversarial perturbation ``δ = x_adv − x`` over a set of images.

    Attributes:
        attack (str): ``"PGD"`` or ``"FGSM"`` (L∞, in the images' own units).
        epsilon (float): The attack's L∞ radius.
        images (int): Images attacked (summed over the ranks under torch.distributed).
        energy_share (Tensor): ``(M,)`` the share of ``Σ ‖δ_i‖²`` in each player ``i`` (they add up to 1).
        snr_db (Tensor): ``(M,)`` ``10 log10(Σ ‖x_i‖² / Σ ‖δ_i‖²)`` per player, in dB.
    """

    attack: str
    epsilon: float
    images: int
    energy_share: Tensor
    snr_db: Tensor

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict (the tensors as lists)."""
        return {
            "attack": self.attack,
            "epsilon": self.epsilon,
            "images": self.images,
            "energy_share": self.energy_share.tolist(),
            "snr_db": self.snr_db.tolist(),
        }


def adversarial_spectrum(
    model: Callable[..., Any],
    data: Iterable[Any],
    bands: int | FourierPartition = 8,
    epsilon: float = 4 / 255,
    attack: str = "PGD",
    pgd_steps: int = 10,
    n_samples: int | None = None,
) -> AdversarialSpectrum:
    r"""
    Attack the images of ``data`` (L∞, through Captum's :class:`~captum.robust.FGSM` or :class:`~captum.robust.PGD`
    with step ``ε/4``, images kept in ``[0, 1]``) and split the perturbations ``δ = x_adv − x`` into ``bands``: the
    share of their energy in each player and their spectral SNR (as :func:`perturbation_energy_share` and
    :func:`spectral_snr` define them, sums over all images). Under torch.distributed each rank attacks its own
    batches and the energies are summed over the ranks.

    Args:
        model (callable): Images in ``[0, 1]`` → class scores (a tensor, a ``ModelOutput`` or dict with ``logits``,
                    or a tuple whose first item holds them). Put it in eval mode first.
        data (iterable): Labelled batches ``(images, labels)`` (or dicts with ``pixel_values`` and ``label``).
        bands (int or FourierPartition, optional): The players (those of the model's ψ).
                    Default: 8
        epsilon (float, optional): The L∞ radius, in the images' units.
                    Default: 4/255
        attack (str, optional): ``"PGD"`` or ``"FGSM"``.
                    Default: ``"PGD"``
        pgd_steps (int, optional): PGD's steps.
                    Default: 10
        n_samples (int, optional): Attack at most this many images (per rank).
                    Default: None (all)

    Returns:
        :class:`AdversarialSpectrum`.

    Examples::

        >>> spectrum = adversarial_spectrum(model, loader, bands=8, epsilon=4 / 255)
        >>> spectrum.energy_share      # beside IASIDE(model, bands=8).attribute_global(loader).values
    """
    if attack not in ATTACKS:
        raise ValueError(f"attack must be one of {list(ATTACKS)}, got {attack!r}")
    epsilon = check_positive(epsilon, "epsilon")
    check_positive_int(pgd_steps, "pgd_steps")
    if n_samples is not None:
        check_positive_int(n_samples, "n_samples")
    players = as_bands(bands)

    def scores(x: Tensor) -> Tensor:
        return scores_of(model(x))

    if attack == "PGD":
        method = PGD(scores, lower_bound=0.0, upper_bound=1.0)
        kwargs = {"radius": epsilon, "step_size": epsilon / 4, "step_num": pgd_steps}
    else:
        method = FGSM(scores, lower_bound=0.0, upper_bound=1.0)
        kwargs = {"epsilon": epsilon}
    signal = torch.zeros(players.n_bands, dtype=torch.float64)
    noise = torch.zeros(players.n_bands, dtype=torch.float64)
    seen = 0
    for k, batch in enumerate(data):
        if n_samples is not None and seen >= n_samples:
            break
        x, y = split_batch(batch)
        if y is None:
            raise ValueError("data must yield labelled batches: (images, labels) or dicts with 'label'")
        check_batch_labels(y, x.shape[0], k)
        if x.shape[0] == 0:  # every image of the batch skipped as unreadable
            continue
        if n_samples is not None:
            x, y = x[: n_samples - seen], y[: n_samples - seen]
        with warnings.catch_warnings():  # the attack switches input gradients on, and Captum says so
            warnings.filterwarnings("ignore", "Input Tensor 0 did not already require gradients", UserWarning)
            x_adv = method.perturb(x, target=y, **kwargs).detach()
        s, n = band_energies(x.detach(), x_adv, players)
        signal, noise, seen = signal + s, noise + n, seen + x.shape[0]
    totals = summed({"signal": signal, "noise": noise, "seen": seen})
    signal, noise, seen = totals["signal"], totals["noise"], totals["seen"]
    if seen == 0:
        raise ValueError("data yielded no images")
    if not noise.sum() > 0:
        raise ValueError(f"the {attack} attack left every image as it was: its perturbation has no spectrum")
    return AdversarialSpectrum(attack, epsilon, seen, noise / noise.sum(), 10 * torch.log10(signal / noise))
