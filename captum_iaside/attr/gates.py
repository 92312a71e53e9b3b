r"""Spectral gates: the bands as a ``(B, M)`` interpretable input for any Captum method.

A gate of 1 keeps a band of the image, 0 replaces it by the baseline's band and values in between
interpolate linearly: the image seen by the model is ``r + Σ_i g_i (x_i − r_i)``. The band
components travel as ``additional_forward_args``, so Captum's perturbation methods (feature
ablation, Shapley sampling, KernelSHAP, LIME) and gradient methods (integrated gradients, saliency,
noise tunnel) all work on gates unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from captum_iaside._utils.checks import check_callable
from captum_iaside.execution.forward_args import as_arg_tuple
from captum_iaside.game.baselines import BaselineSpec, prepared_reference, resolve_baseline
from captum_iaside.game.coalitions import compose
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import as_bands
from captum_iaside.game.value_functions import scores_of

_OUTPUTS = {
    "logits": lambda out: out,
    "log_prob": lambda out: torch.log_softmax(out, dim=-1),
    "prob": lambda out: torch.softmax(out, dim=-1),
}


class SpectralGates(nn.Module):
    r"""
    The model as a function of per-band gates ``g`` of shape ``(B, M)``.

    Args:
        forward_func (callable): The model, ``f(images, *additional_forward_args)``.
        bands (int or FourierPartition, optional): The players: ``M`` equal-width square bands,
                    or a partition of the Fourier plane (:class:`~captum_iaside.SpectralBands`,
                    :class:`~captum_iaside.OrientedBands`, :class:`~captum_iaside.FourierGrid`,
                    :class:`~captum_iaside.CustomPartition`).
                    Default: 8
        baseline (str, Tensor or callable, optional): What a closed gate replaces a band with
                    (as in :class:`~captum_iaside.IASIDE`).
                    Default: ``"zero"``
        output (str, optional): ``"logits"`` (the model's output), ``"log_prob"`` or
                    ``"prob"`` (softmax over the last axis); with ``"log_prob"``, Captum's
                    ``target`` selects the same value as I-ASIDE's default.
                    Default: ``"logits"``

    Examples::

        >>> from captum.attr import ShapleyValueSampling
        >>> sg = SpectralGates(model, bands=8, output="log_prob")
        >>> gates, extra = sg.prepare(images)
        >>> phi = ShapleyValueSampling(sg).attribute(gates, baselines=0, target=labels,
        ...                                          additional_forward_args=extra)   # (B, 8)
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        bands: int | FourierPartition = 8,
        baseline: BaselineSpec = "zero",
        output: str = "logits",
    ) -> None:
        super().__init__()
        check_callable(forward_func, "forward_func")
        if output not in _OUTPUTS:
            raise ValueError(f"output must be one of {sorted(_OUTPUTS)}, got {output!r}")
        self.forward_func = forward_func
        self.bands = as_bands(bands)
        self.baseline = resolve_baseline(baseline)
        self.output = output

    def prepare(
        self,
        inputs: Tensor,
        baselines: BaselineSpec | None = None,
        additional_forward_args: Any = None,
        seed: int = 0,
    ) -> tuple[Tensor, tuple[Any, ...]]:
        r"""
        Gates and ``additional_forward_args`` for a batch of images.

        Args:
            inputs (Tensor): Images ``(B, C, H, W)``.
            baselines (str, Tensor or callable, optional): Overrides the constructor's baseline.
                        Default: None
            additional_forward_args (Any, optional): The model's own extra arguments; they are
                        appended after the band components.
                        Default: None
            seed (int, optional): Seed of random baselines.
                        Default: 0

        Returns:
            ``(gates, extra)``: all-open gates ``(B, M)`` (1.0, the unperturbed images) and the
            tuple ``(deltas, reference, *additional_forward_args)`` to pass to Captum.
        """
        inputs, reference = prepared_reference(inputs, self.baseline, baselines, seed)
        deltas = self.bands.decompose(inputs - reference)
        gates = torch.ones(inputs.shape[0], self.bands.n_bands, dtype=inputs.dtype, device=inputs.device)
        return gates, (deltas, reference, *as_arg_tuple(additional_forward_args))

    def images(self, gates: Tensor, deltas: Tensor, reference: Tensor) -> Tensor:
        r"""The images ``r + Σ_i g_i (x_i − r_i)`` the model sees for ``(B, M)`` gates."""
        if gates.dim() != 2 or gates.shape[1] != self.bands.n_bands:
            raise ValueError(f"gates must have shape (B, {self.bands.n_bands}), got {tuple(gates.shape)}")
        return compose(reference, deltas, gates[:, None, :])[:, 0]

    def forward(self, gates: Tensor, deltas: Tensor, reference: Tensor, *args: Any) -> Tensor:
        return _OUTPUTS[self.output](scores_of(self.forward_func(self.images(gates, deltas, reference), *args)))
