r"""The options of a global run, checked once for every entry point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


@dataclass
class RunOptions:
    r"""
    The options of a global run, checked once (see
    :meth:`IASIDE.attribute_global <captum_iaside.IASIDE.attribute_global>` for their meaning).
    """

    n_samples: int | None = None
    use_labels: bool = True
    additional_forward_args: tuple[Any, ...] = ()
    perturbations_per_eval: int | str = 1
    max_evaluations: int | None = None
    tolerance: float | None = None
    n_bootstrap: int = 200
    confidence: float = 0.95
    by_class: bool = False
    checkpoint: str | None = None
    checkpoint_every: int = 1
    seed: int = 0
    device: torch.device | None = None
    show_progress: bool = False
    autocast_dtype: torch.dtype | None = None

    def __post_init__(self) -> None:
        if self.n_samples is not None:
            positive_int(self.n_samples, "n_samples")
        if self.perturbations_per_eval != "auto":
            positive_int(self.perturbations_per_eval, "perturbations_per_eval")
        if self.max_evaluations is not None:
            positive_int(self.max_evaluations, "max_evaluations")
        positive_int(self.checkpoint_every, "checkpoint_every")
        if isinstance(self.n_bootstrap, bool) or not isinstance(self.n_bootstrap, int) or self.n_bootstrap < 0:
            raise ValueError(f"n_bootstrap must be a non-negative int, got {self.n_bootstrap!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must lie in (0, 1), got {self.confidence}")
        if self.tolerance is not None and not self.tolerance > 0:
            raise ValueError(f"tolerance must be positive, got {self.tolerance}")
        if self.autocast_dtype is not None and not isinstance(self.autocast_dtype, torch.dtype):
            raise TypeError(f"autocast_dtype must be a torch.dtype, got {type(self.autocast_dtype).__name__}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {type(self.seed).__name__}")
        self.device = None if self.device is None else torch.device(self.device)

    def fingerprint(self) -> dict[str, Any]:
        r"""The options that change the result (for checkpoints and ``config``)."""
        return {
            "n_samples": self.n_samples,
            "use_labels": bool(self.use_labels),
            "max_evaluations": self.max_evaluations,
            "tolerance": self.tolerance,
            "n_bootstrap": self.n_bootstrap,
            "by_class": bool(self.by_class),
            "seed": int(self.seed),
            "autocast_dtype": None if self.autocast_dtype is None else str(self.autocast_dtype),
        }
