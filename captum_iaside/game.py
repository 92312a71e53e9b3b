r"""The spectral cooperative game of one batch: ``v_x(S)`` for every image and coalition.

The bands of ``x − r`` are computed once (one FFT per batch); each coalition image is then a
0/1 combination of them (:func:`~captum_iaside.coalitions.compose`), evaluated by the model in
chunks of ``perturbations_per_eval`` coalitions, under :func:`torch.no_grad`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from captum_iaside.bands import SpectralBands
from captum_iaside.coalitions import compose
from captum_iaside.values import ValueFunction, check_target_range


def as_arg_tuple(additional_forward_args: Any) -> tuple[Any, ...]:
    r"""Captum's convention: None → ``()``, a tuple stays, anything else becomes a 1-tuple."""
    if additional_forward_args is None:
        return ()
    if isinstance(additional_forward_args, tuple):
        return additional_forward_args
    return (additional_forward_args,)


def _repeat_args(args: tuple[Any, ...], n: int, repeats: int) -> tuple[Any, ...]:
    return tuple(
        a.repeat_interleave(repeats, dim=0) if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == n else a
        for a in args
    )


class SpectralGame:
    r"""
    The game ``v_x(S) = value(f(x_S), y)`` for a batch of images.

    Args:
        forward_func (callable): The model, ``f(images, *additional_forward_args)``.
        bands (SpectralBands): The players.
        inputs (Tensor): Images ``x`` of shape ``(B, C, H, W)``.
        reference (Tensor): Baseline images ``r`` of shape ``(1 | B, C, H, W)``.
        value (ValueFunction): Maps outputs and targets to one number per image.
        target (Tensor, optional): ``(B,)`` class indices; None takes the class the model
                    predicts on the unperturbed ``inputs`` where the value needs one.
        additional_forward_args (tuple, optional): Extra model arguments; tensors whose first
                    dimension is ``B`` are repeated for every coalition image.
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        bands: SpectralBands,
        inputs: Tensor,
        reference: Tensor,
        value: ValueFunction,
        target: Tensor | None = None,
        additional_forward_args: tuple[Any, ...] = (),
    ) -> None:
        self.forward_func = forward_func
        self.n_bands = bands.n_bands
        self.n_images = inputs.shape[0]
        self.reference = reference
        self.deltas = bands.decompose(inputs - reference)
        self.value = value
        self.args = additional_forward_args
        self.target = target
        self._checked = False
        if target is None:
            with torch.no_grad():
                out = forward_func(inputs, *additional_forward_args)
            value.check_output(out, self.n_images)
            self._checked = True
            if value.needs_target(out):
                self.target = out.argmax(dim=1)

    def values(self, gates: Tensor) -> Tensor:
        r"""
        Values of the coalitions (or fractional gates) in ``gates``.

        Args:
            gates (Tensor): ``(P, M)`` rows of gates shared by all images, or ``(B, P, M)``
                        per image.

        Returns:
            *Tensor* of shape ``(B, P)``, float64. Non-finite values are returned as they are;
            :meth:`evaluate` reports them.
        """
        b, p = self.n_images, gates.shape[-2]
        images = compose(self.reference, self.deltas, gates).reshape(b * p, *self.deltas.shape[2:])
        target = None if self.target is None else self.target.repeat_interleave(p)
        with torch.no_grad():
            out = self.forward_func(images, *_repeat_args(self.args, b, p))
        if not self._checked:
            self.value.check_output(out, b * p)
            if self.value.needs_target(out) and target is None:
                raise ValueError("target is required for this value on a model with class scores")
            check_target_range(target, out)
            self._checked = True
        v = self.value(out, target).to(torch.float64).reshape(b, p)
        if out.is_floating_point():
            finite = torch.isfinite(out.reshape(b, p, -1)).all(dim=2)
            v = torch.where(finite, v, torch.full_like(v, float("nan")))
        return v

    def evaluate(
        self,
        coalitions: Tensor,
        perturbations_per_eval: int = 1,
        progress: Callable[[int], Any] | None = None,
    ) -> Tensor:
        r"""
        Values of all rows of ``coalitions``, ``perturbations_per_eval`` of them per forward.

        Args:
            coalitions (Tensor): ``(n, M)`` 0/1 rows shared by all images (see
                        :func:`~captum_iaside.coalitions.coalition_matrix`), or ``(B, n, M)``
                        per image.
            perturbations_per_eval (int, optional): Coalitions per forward call; each call
                        evaluates ``B * perturbations_per_eval`` images.
                        Default: 1
            progress (callable, optional): Called with the number of coalitions done after
                        every forward call.

        Returns:
            *Tensor* of shape ``(B, n)``, float64.

        Raises:
            ValueError: naming the coalition and the image, if the model output or the value is
                not finite.
        """
        chunks = []
        for start in range(0, coalitions.shape[-2], perturbations_per_eval):
            rows = coalitions[..., start : start + perturbations_per_eval, :].to(self.deltas.device)
            chunks.append(self.values(rows))
            if progress is not None:
                progress(rows.shape[-2])
        values = torch.cat(chunks, dim=1)
        bad = ~torch.isfinite(values)
        if bool(bad.any()):
            image, col = (int(i) for i in bad.nonzero()[0])
            row = coalitions[col] if coalitions.dim() == 2 else coalitions[image, col]
            members = [i for i, g in enumerate(row.tolist()) if g]
            raise ValueError(
                f"the model output or its value is not finite for image {image} on the coalition "
                f"of bands {members} (coalition row {col}); "
                "check the model and the baseline"
            )
        return values
