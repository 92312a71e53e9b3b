r"""Baselines: what replaces a band that is absent from a coalition.

A baseline maps a batch of images ``x`` to reference images ``r`` of shape ``(1 | B, C, H, W)``;
a band left out of a coalition is replaced by the same band of ``r``. Random baselines draw
from the ``torch.Generator`` they are given, so runs are reproducible.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import Tensor

from captum_iaside._utils.checks import check_images, check_seed
from captum_iaside._utils.digest import tensor_digest


class Baseline(ABC):
    r"""
    Base class: ``baseline(x, generator, donors) -> r`` with ``r`` of shape ``(1 | B, C, H, W)``.

    Every baseline takes the same arguments: the batch ``x``, the ``torch.Generator`` its
    randomness comes from, and ``donors`` — images of the data seen before this batch (None when
    there are none), which a baseline may use and most ignore.
    """

    #: Name used in configurations and reports.
    name: str = "baseline"

    @abstractmethod
    def __call__(self, x: Tensor, generator: torch.Generator, donors: Tensor | None = None) -> Tensor:
        r"""Reference images for the batch ``x``."""

    def config(self) -> dict:
        r"""JSON-serialisable description of the baseline."""
        return {"name": self.name}


class ZeroBaseline(Baseline):
    r"""``r = 0``: a removed band is deleted (the paper's default)."""

    name = "zero"

    def __call__(self, x: Tensor, generator: torch.Generator, donors: Tensor | None = None) -> Tensor:
        return torch.zeros_like(x[:1])


class ShuffleBaseline(Baseline):
    r"""
    ``r`` = another image of the data: a removed band is replaced by the same band of another
    image, the paper's "random" fill. Within a batch of two or more images the pairing is a
    seeded derangement (no image is its own baseline); a batch of one image (the last batch of a
    data set, say) takes a seeded random image of ``donors``, which a global run fills with the
    images of the batch before.
    """

    name = "shuffle"

    def __call__(self, x: Tensor, generator: torch.Generator, donors: Tensor | None = None) -> Tensor:
        n = x.shape[0]
        if n >= 2:
            return x[derangement(n, generator).to(x.device)]
        if donors is not None and donors.shape[0] > 0:
            pick = torch.randint(donors.shape[0], (1,), generator=generator)
            return donors[pick.to(donors.device)].to(device=x.device, dtype=x.dtype)
        raise ValueError(
            "baseline='shuffle' needs at least 2 images to pair each image with another one, got a batch of "
            f"{n}; attribute more images at once or use another baseline"
        )


class GaussianBaseline(Baseline):
    r"""
    ``r`` = white Gaussian noise of standard deviation ``std`` in input units, seeded.

    Args:
        std (float, optional): Standard deviation of the noise, in the units of the model's
                    input (e.g. after normalisation).
                    Default: 1.0
    """

    name = "gaussian"

    def __init__(self, std: float = 1.0) -> None:
        if not float(std) > 0:
            raise ValueError(f"std must be positive, got {std}")
        self.std = float(std)

    def __call__(self, x: Tensor, generator: torch.Generator, donors: Tensor | None = None) -> Tensor:
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        return (self.std * noise).to(device=x.device, dtype=x.dtype)

    def config(self) -> dict:
        return {"name": self.name, "std": self.std}


class ConstantBaseline(Baseline):
    r"""
    ``r = c`` everywhere: a constant image (Captum's scalar ``baselines=c``).

    Args:
        value (float): The constant, in the model's input units.
    """

    name = "constant"

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def __call__(self, x: Tensor, generator: torch.Generator, donors: Tensor | None = None) -> Tensor:
        return torch.full_like(x[:1], self.value)

    def config(self) -> dict:
        return {"name": self.name, "value": self.value}


class MeanBaseline(Baseline):
    r"""``r`` = the per-channel mean of the batch, a constant image per channel."""

    name = "mean"

    def __call__(self, x: Tensor, generator: torch.Generator, donors: Tensor | None = None) -> Tensor:
        return x.mean(dim=(0, 2, 3), keepdim=True).expand(1, -1, *x.shape[2:]).clone()


class TensorBaseline(Baseline):
    r"""
    A fixed reference image (or one per input image).

    Args:
        reference (Tensor): Shape ``(C, H, W)``, ``(1, C, H, W)`` or ``(B, C, H, W)``.
    """

    name = "tensor"

    def __init__(self, reference: Tensor) -> None:
        if reference.dim() == 3:
            reference = reference[None]
        check_images(reference, "baselines")
        self.reference = reference

    def __call__(self, x: Tensor, generator: torch.Generator, donors: Tensor | None = None) -> Tensor:
        return self.reference.to(device=x.device, dtype=x.dtype)

    def config(self) -> dict:
        r"""The name and a digest of the reference image (so a checkpoint knows one tensor from another)."""
        return {"name": self.name, "shape": list(self.reference.shape), "digest": tensor_digest(self.reference)}


class CallableBaseline(Baseline):
    r"""A user function ``x -> r`` (e.g. a blurred copy of ``x``)."""

    name = "callable"

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.fn = fn

    def __call__(self, x: Tensor, generator: torch.Generator, donors: Tensor | None = None) -> Tensor:
        return self.fn(x)

    def config(self) -> dict:
        return {"name": self.name, "fn": getattr(self.fn, "__name__", repr(self.fn))}


BaselineSpec = str | float | Tensor | Baseline | Callable[[Tensor], Tensor] | tuple

_NAMED = {
    "zero": ZeroBaseline,
    "shuffle": ShuffleBaseline,
    "gaussian": GaussianBaseline,
    "mean": MeanBaseline,
}


def resolve_baseline(spec: BaselineSpec | None) -> Baseline:
    r"""
    Turn a user's baseline argument into a :class:`Baseline`.

    Args:
        spec (str, float, Tensor, Baseline or callable, optional): ``"zero"``, ``"shuffle"``,
                    ``"gaussian"``, ``"mean"``, a number (a constant image, as Captum's scalar
                    baselines; 0 is ``"zero"``), a tensor ``(1 | B, C, H, W)``, a
                    :class:`Baseline`, a callable ``x -> tensor``, or a 1-tuple of any of these
                    (Captum's form for one input). ``None`` means ``"zero"``.

    Returns:
        *Baseline*.
    """
    if isinstance(spec, tuple):
        if len(spec) != 1:
            raise TypeError(f"baselines as a tuple must hold one entry (one input), got {len(spec)}")
        spec = spec[0]
    if spec is None:
        return ZeroBaseline()
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return ZeroBaseline() if spec == 0 else ConstantBaseline(spec)
    if isinstance(spec, Baseline):
        return spec
    if isinstance(spec, str):
        if spec not in _NAMED:
            raise ValueError(f"unknown baseline {spec!r}; expected one of {sorted(_NAMED)}, a tensor or a callable")
        return _NAMED[spec]()
    if isinstance(spec, Tensor):
        return TensorBaseline(spec)
    if callable(spec):
        return CallableBaseline(spec)
    raise TypeError(
        "baselines must be a name, a number, a tensor (1|B, C, H, W), a Baseline or a callable, "
        f"got {type(spec).__name__}"
    )


def reference_images(baseline: Baseline, x: Tensor, generator: torch.Generator, donors: Tensor | None = None) -> Tensor:
    r"""
    Evaluate ``baseline`` on ``x`` and check that the result broadcasts against it; ``donors``
    (images seen before) serve a :class:`ShuffleBaseline` on a batch of one image.
    """
    r = baseline(x, generator, donors)
    if not isinstance(r, Tensor):
        raise TypeError(f"the baseline returned {type(r).__name__}, expected a tensor")
    r = r.detach()  # a baseline that requires grad (an nn.Parameter, say) is used as a constant
    if r.dim() == 3:
        r = r[None]
    if r.dim() != 4 or r.shape[1:] != x.shape[1:] or r.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            f"baselines must have shape (1, C, H, W) or (B, C, H, W) = (1 or {x.shape[0]}, "
            f"{', '.join(map(str, x.shape[1:]))}), got {tuple(r.shape)}"
        )
    return r.to(device=x.device, dtype=x.dtype)


def prepared_reference(
    inputs: Tensor, baseline: Baseline, override: BaselineSpec | None = None, seed: int = 0
) -> tuple[Tensor, Tensor]:
    r"""
    Detached ``inputs`` and their reference images expanded to ``(B, C, H, W)`` (for the
    ``prepare`` methods of the Captum doors), drawn with a generator seeded by ``seed``.
    """
    check_images(inputs, "inputs")
    check_seed(seed)
    chosen = baseline if override is None else resolve_baseline(override)
    with torch.no_grad():
        inputs = inputs.detach()
        reference = reference_images(chosen, inputs, torch.Generator().manual_seed(int(seed)))
        return inputs, reference.expand_as(inputs).contiguous()


def derangement(n: int, generator: torch.Generator) -> Tensor:
    r"""
    A uniformly random permutation of ``range(n)`` without fixed points (``n >= 2``), drawn by
    rejection from ``generator``.
    """
    while True:
        perm = torch.randperm(n, generator=generator)
        if not bool((perm == torch.arange(n)).any()):
            return perm
