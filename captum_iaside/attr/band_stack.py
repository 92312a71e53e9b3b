r"""Space × frequency: the model as a function of the stack of band components.

The input of :class:`BandStackModel` is the band stack ``(B, M, C, H, W)`` of
:meth:`SpectralBands.decompose <captum_iaside.SpectralBands.decompose>`, whose sum over the band
axis is the image. Captum's ``IntegratedGradients``, ``GradientShap``, ``Saliency`` or
``Occlusion`` on it return one spatial map per band: *where* in the image *which* band matters.
With integrated gradients and the baseline's stack, completeness holds: the maps sum to
``f(x) − f(r)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from captum_iaside._utils.checks import check_callable
from captum_iaside.game.baselines import BaselineSpec, prepared_reference, resolve_baseline
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import as_bands
from captum_iaside.game.value_functions import scores_of


class BandStackModel(nn.Module):
    r"""
    The model applied to the sum of a band stack.

    Args:
        forward_func (callable): The model, ``f(images, *additional_forward_args)``.
        bands (int or FourierPartition, optional): The players: ``M`` equal-width square bands,
                    or a partition of the Fourier plane (:class:`~captum_iaside.SpectralBands`,
                    :class:`~captum_iaside.OrientedBands`, :class:`~captum_iaside.FourierGrid`,
                    :class:`~captum_iaside.CustomPartition`).
                    Default: 8
        baseline (str, Tensor or callable, optional): The reference whose stack
                    :meth:`prepare` returns as Captum ``baselines``.
                    Default: ``"zero"``

    Examples::

        >>> from captum.attr import IntegratedGradients
        >>> bs = BandStackModel(model, bands=8)
        >>> stack, base = bs.prepare(images)
        >>> maps, delta = IntegratedGradients(bs).attribute(stack, base, target=labels,
        ...                                                 return_convergence_delta=True)
        >>> maps.shape                           # (B, 8, C, H, W): a saliency map per band
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        bands: int | FourierPartition = 8,
        baseline: BaselineSpec = "zero",
    ) -> None:
        super().__init__()
        check_callable(forward_func, "forward_func")
        self.forward_func = forward_func
        self.bands = as_bands(bands)
        self.baseline = resolve_baseline(baseline)

    def prepare(self, inputs: Tensor, baselines: BaselineSpec | None = None, seed: int = 0) -> tuple[Tensor, Tensor]:
        r"""``(stack, baseline_stack)`` of a batch of images, both ``(B, M, C, H, W)``."""
        inputs, reference = prepared_reference(inputs, self.baseline, baselines, seed)
        return self.bands.decompose(inputs), self.bands.decompose(reference)

    def forward(self, stack: Tensor, *args: Any) -> Tensor:
        if stack.dim() != 5 or stack.shape[1] != self.bands.n_bands:
            raise ValueError(f"stack must have shape (B, {self.bands.n_bands}, C, H, W), got {tuple(stack.shape)}")
        return scores_of(self.forward_func(stack.sum(dim=1), *args))
