r"""How a game runs the model: the reusable coalition buffer, the forward size and the memory format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from captum_iaside._utils.checks import check_positive_int

#: Images per forward tried by ``perturbations_per_eval="auto"`` (CPU; GPUs also try larger).
AUTO_IMAGES_PER_FORWARD = (8, 16, 32, 64, 128, 256)


_AUTO_IMAGES_PER_FORWARD_GPU = (512, 1024)


def preferred_memory_format(forward_func: Callable[..., Any], inputs: Tensor) -> torch.memory_format:
    r"""
    ``torch.channels_last`` when the images or the model's first 4-D weight are channels-last,
    else ``torch.contiguous_format``.
    """
    if inputs.dim() == 4 and inputs.shape[1] > 1 and inputs.shape[-2:].numel() > 1:
        if inputs.is_contiguous(memory_format=torch.channels_last) and not inputs.is_contiguous():
            return torch.channels_last
    if isinstance(forward_func, nn.Module):
        for p in forward_func.parameters():
            if p.dim() == 4:
                cl = p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                return torch.channels_last if cl else torch.contiguous_format
    return torch.contiguous_format


def is_out_of_memory(exc: BaseException) -> bool:
    r"""Whether ``exc`` says that a GPU or the CPU ran out of memory."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    )


class Workspace:
    r"""
    What the games of one run share: the coalition buffer (reused between chunks and batches)
    and the forward size, fixed or chosen by measurement.

    Args:
        perturbations_per_eval (int or str, optional): Coalitions per forward call, or
                    ``"auto"``: the first chunks are evaluated at
                    :data:`AUTO_IMAGES_PER_FORWARD` images per forward (and more on a GPU), each
                    timed once, and the fastest size that fits in memory is kept
                    (:attr:`perturbations_per_eval` then holds it).
                    Default: 1
    """

    def __init__(self, perturbations_per_eval: int | str = 1) -> None:
        if perturbations_per_eval == "auto":
            self.auto = True
            self.perturbations_per_eval: int | None = None
        else:
            if isinstance(perturbations_per_eval, str):
                raise TypeError(f"perturbations_per_eval must be an int or 'auto', got {perturbations_per_eval!r}")
            check_positive_int(perturbations_per_eval, "perturbations_per_eval")
            self.auto = False
            self.perturbations_per_eval = perturbations_per_eval
        self._buffer: Tensor | None = None
        self._candidates: list[int] | None = None
        self._timings: dict[int, float] = {}
        self._warm = False

    # ---------------------------------------------------------------- buffer
    def buffer(self, numel: int, device: torch.device, dtype: torch.dtype) -> Tensor:
        r"""A flat tensor of at least ``numel`` elements, reused while it is large enough."""
        buf = self._buffer
        if buf is None or buf.numel() < numel or buf.device != device or buf.dtype != dtype:
            self._buffer = None  # free the old one before allocating
            buf = self._buffer = torch.empty(numel, device=device, dtype=dtype)
        return buf[:numel]

    # ---------------------------------------------------------- forward size
    @property
    def tuning(self) -> bool:
        r"""Whether forward sizes are still being measured."""
        return self.auto and self.perturbations_per_eval is None

    def chunk_size(self, n_images: int, remaining: int, device: torch.device) -> int:
        r"""Coalitions in the next forward call for ``n_images`` images."""
        if not self.tuning:
            return min(self.perturbations_per_eval, remaining)
        if self._candidates is None:
            sizes = AUTO_IMAGES_PER_FORWARD + (_AUTO_IMAGES_PER_FORWARD_GPU if device.type == "cuda" else ())
            self._candidates = sorted({max(1, round(s / n_images)) for s in sizes})
        if not self._warm:  # one small forward first: the first call pays for allocations and set-up
            return min(self._candidates[0], remaining)
        untried = [c for c in self._candidates if c not in self._timings]
        return min(untried[0], remaining) if untried else min(self._decide(), remaining)

    def record(self, size: int, n_images: int, seconds: float, full: bool = True) -> None:
        r"""
        Note the time of a forward of ``size`` coalitions for ``n_images`` images (``full``:
        whether the forward held all of them, not a short last chunk).
        """
        if not self.tuning:
            return
        if not self._warm:
            self._warm = True
            return
        if not full or size not in self._candidates or size in self._timings:
            return
        self._timings[size] = seconds / (size * n_images)
        best = min(self._timings.values())
        tried = [c for c in self._candidates if c in self._timings]
        # larger sizes rarely win again after two successive slower ones
        if len(tried) >= 3 and all(self._timings[c] > 1.1 * best for c in tried[-2:]):
            self._candidates = tried
        if all(c in self._timings for c in self._candidates):
            self._decide()

    def out_of_memory(self, size: int) -> None:
        r"""Drop ``size`` and every larger candidate after a forward ran out of memory."""
        self._candidates = [c for c in self._candidates if c < size]
        if not self._candidates:
            raise MemoryError("even one coalition per forward does not fit in memory; use a smaller batch size")
        if all(c in self._timings for c in self._candidates):
            self._decide()

    def _decide(self) -> int:
        best = min(self._timings.values())
        # the smallest size within 3 % of the fastest: as fast, and less memory
        self.perturbations_per_eval = min(c for c, t in self._timings.items() if t <= 1.03 * best)
        return self.perturbations_per_eval

    def timings(self) -> dict[int, float]:
        r"""Measured seconds per image for each tried size (``perturbations_per_eval="auto"``)."""
        return dict(self._timings)
