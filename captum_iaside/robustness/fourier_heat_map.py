r"""Fourier heat maps (Yin et al., 2019): a model's error under a single Fourier-basis perturbation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from captum_iaside._utils.checks import check_images, check_positive, check_positive_int, check_seed
from captum_iaside.execution.model_state import preserved_buffers
from captum_iaside.game.partition import conjugate_representative
from captum_iaside.game.value_functions import resolve_target, scores_of


def fourier_basis(h: int, w: int, u: int, v: int, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""
    The real Fourier basis image of DFT bin ``(u, v)`` (unshifted layout), of unit L2 norm: the
    inverse transform of the bin and its conjugate, ``(H, W)``.
    """
    spectrum = torch.zeros(h, w, dtype=torch.complex128)
    spectrum[u, v] = 1.0
    spectrum[(-u) % h, (-v) % w] = 1.0
    image = torch.fft.ifft2(spectrum).real
    return (image / image.norm()).to(dtype)


def fourier_heat_map(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    target: Any = None,
    eps: float = 4.0,
    batch_size: int = 256,
    seed: int = 0,
    show_progress: bool = False,
) -> Tensor:
    r"""
    The Fourier heat map of a model (Yin et al., 2019, "A Fourier Perspective on Model Robustness in
    Computer Vision", https://arxiv.org/abs/1906.08988): for every frequency ``(u, v)`` the error rate
    on ``x + eps · r · U_{u,v}``, ``U`` the real Fourier basis image of unit L2 norm
    (:func:`fourier_basis`) and ``r`` a random sign per image and channel. It reads how sensitive
    the model is to energy at each frequency — the error under a perturbation, not a share of
    its prediction; set it beside the Shapley Fourier map of a :class:`~captum_iaside.FourierGrid`
    run, where ψ says how much of the prediction each cell carries.

    One forward per image and conjugate pair of bins (``about H·W/2`` per image); a bin and its
    conjugate give the same basis image and share the value.

    Args:
        forward_func (callable): The model: images ``(B, C, H, W)`` → class scores ``(B, K)``.
        inputs (Tensor): Images ``(B, C, H, W)`` in the model's input units.
        target (int, list, Tensor or None, optional): The true class per image; None takes the
                    class predicted on the unperturbed image (the map is then the rate of changed
                    predictions).
                    Default: None
        eps (float, optional): L2 norm of the perturbation per channel, in input units (Yin et
                    al. use 4 on CIFAR-10 images in [0, 1]).
                    Default: 4.0
        batch_size (int, optional): Perturbed images per forward.
                    Default: 256
        seed (int, optional): Seed of the signs.
                    Default: 0
        show_progress (bool, optional): Show a tqdm bar over the frequencies.
                    Default: False

    Returns:
        *Tensor* ``(H, W)`` float64 of error rates in ``[0, 1]``, centred (:func:`torch.fft.fftshift`:
        zero frequency in the middle), as :func:`~captum_iaside.visualization.heat_map.plot_fourier_heat_map`
        draws it.

    Examples::

        >>> heat = fourier_heat_map(model, images, target=labels, eps=2.0)   # (H, W)
        >>> fig, axes = plot_fourier_heat_map(heat, result)                  # beside the Shapley Fourier map
    """
    check_images(inputs, "inputs")
    eps = check_positive(eps, "eps")
    check_positive_int(batch_size, "batch_size")
    check_seed(seed)
    b, c, h, w = inputs.shape
    x = inputs.detach()
    representatives, pair_of_bin = torch.unique(conjugate_representative(h, w).flatten(), return_inverse=True)
    pairs = representatives.tolist()
    generator = torch.Generator().manual_seed(int(seed))
    signs = torch.randint(0, 2, (len(pairs), b, c, 1, 1), generator=generator).to(x.dtype) * 2 - 1
    error = torch.zeros(len(pairs), dtype=torch.float64)  # per conjugate pair
    with torch.no_grad(), preserved_buffers([forward_func]):
        truth = resolve_target(target, b, x.device)
        if truth is None:
            truth = scores_of(forward_func(x)).argmax(dim=1)
        per_call = max(1, batch_size // b)
        for start in tqdm(range(0, len(pairs), per_call), desc="Fourier heat map", disable=not show_progress):
            chunk = pairs[start : start + per_call]
            basis = torch.stack([fourier_basis(h, w, p // w, p % w, x.dtype) for p in chunk]).to(x.device)
            noise = eps * signs[start : start + len(chunk)].to(x.device) * basis[:, None, None]
            scores = scores_of(forward_func((x[None] + noise).reshape(-1, c, h, w)))
            wrong = scores.argmax(dim=1).reshape(len(chunk), b) != truth[None]
            error[start : start + len(chunk)] = wrong.double().mean(dim=1).cpu()
    return torch.fft.fftshift(error[pair_of_bin].reshape(h, w))
