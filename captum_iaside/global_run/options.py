r"""The options of a global run, checked once for every entry point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from captum_iaside._utils.checks import (
    check_device,
    check_dtype,
    check_int,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_seed,
    check_writable_file,
)
from captum_iaside._utils.digest import tensor_digest
from captum_iaside._utils.sizes import parse_memory
from captum_iaside.estimators.interactions import INTERACTION_INDICES
from captum_iaside.execution.forward_args import as_arg_tuple
from captum_iaside.global_run.strata import check_strata


@dataclass
class RunOptions:
    r"""
    The options of a global run, checked once (see
    :meth:`IASIDE.attribute_global <captum_iaside.IASIDE.attribute_global>` for their meaning).
    """

    n_samples: int | None = None
    use_labels: bool = True
    additional_forward_args: Any = None
    perturbations_per_eval: int | str = 1
    max_memory: int | float | str | None = None
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
    strata: str | torch.Tensor | None = "auto"
    interactions: bool | str = False

    def __post_init__(self) -> None:
        self.additional_forward_args = as_arg_tuple(self.additional_forward_args)
        if self.n_samples is not None:
            check_positive_int(self.n_samples, "n_samples")
        if self.perturbations_per_eval != "auto":
            check_positive_int(self.perturbations_per_eval, "perturbations_per_eval")
        if self.max_memory is not None:
            self.max_memory = parse_memory(self.max_memory, "max_memory")
        if self.max_evaluations is not None:
            check_positive_int(self.max_evaluations, "max_evaluations")
        check_positive_int(self.checkpoint_every, "checkpoint_every")
        check_int(self.n_bootstrap, "n_bootstrap", minimum=0)
        check_open_unit(self.confidence, "confidence")
        if self.tolerance is not None:
            check_positive(self.tolerance, "tolerance")
        check_dtype(self.autocast_dtype, "autocast_dtype")
        check_seed(self.seed)
        self.device = check_device(self.device, "device")
        self.checkpoint = check_writable_file(self.checkpoint, "checkpoint")
        self.strata = check_strata(self.strata)
        self.interactions = check_interactions_option(self.interactions)

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
            "strata_option": self.strata if isinstance(self.strata, str) else {"tensor": tensor_digest(self.strata)},
            "interactions": self.interactions,
        }


def check_interactions_option(interactions: object) -> str | None:
    r"""``interactions=`` of a global run as an index name (True: ``"SII"``) or None (False)."""
    if interactions is None or interactions is False:
        return None
    if interactions is True:
        return "SII"
    if isinstance(interactions, str) and interactions in INTERACTION_INDICES:
        return interactions
    what = f"interactions must be True, False or an index name {list(INTERACTION_INDICES)}, got {interactions!r}"
    raise ValueError(what) if isinstance(interactions, str) else TypeError(what)
