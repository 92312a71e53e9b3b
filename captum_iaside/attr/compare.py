r"""Paired comparison of models: global I-ASIDE of several models with common random numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from captum_iaside.estimators.base import ShapleyEstimator
from captum_iaside.execution.forward_args import as_arg_tuple
from captum_iaside.game.bands import SpectralBands, as_bands
from captum_iaside.game.baselines import BaselineSpec, resolve_baseline
from captum_iaside.game.value_functions import ValueFunction, ValueSpec
from captum_iaside.global_run.options import RunOptions
from captum_iaside.global_run.run import GlobalRun
from captum_iaside.results.comparison import SpectralComparison


def _check_models(models: Any) -> dict[str, Callable[..., Any]]:
    if not isinstance(models, dict):
        raise TypeError(f"models must be a dict of name -> model, got {type(models).__name__}")
    if not models:
        raise ValueError("models is empty; give at least one name -> model")
    for name, model in models.items():
        if not isinstance(name, str):
            raise TypeError(f"models must be keyed by str names, got the key {name!r}")
        if not callable(model):
            raise TypeError(
                f"models[{name!r}] must be callable (a model or forward function), got {type(model).__name__}"
            )
    return dict(models)


def compare_global(
    models: dict[str, Callable[..., Any]],
    data: Iterable[Any] | dict[str, Iterable[Any]],
    bands: int | SpectralBands = 8,
    baseline: BaselineSpec = "zero",
    value: ValueSpec = "log_prob",
    n_samples: int | None = None,
    use_labels: bool = True,
    additional_forward_args: Any = None,
    perturbations_per_eval: int | str = 1,
    estimator: str | ShapleyEstimator | None = None,
    budget: int | None = None,
    max_evaluations: int | None = None,
    tolerance: float | None = None,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    by_class: bool = False,
    checkpoint: str | None = None,
    checkpoint_every: int = 1,
    seed: int = 0,
    device: str | torch.device | None = None,
    show_progress: bool = False,
    autocast_dtype: torch.dtype | None = None,
) -> SpectralComparison:
    r"""
    Global I-ASIDE of several models on the same images, with paired uncertainty.

    Every model sees the same images, the same baseline images and the same coalitions per image
    (common random numbers), and the bootstrap gives every image the same replicate weights for
    every model. Per-image differences between models are therefore paired: the between-image
    variance, the largest part of each model's own uncertainty, cancels in their differences.
    Each model's result equals what :meth:`IASIDE.attribute_global
    <captum_iaside.IASIDE.attribute_global>` returns for it with the same options.

    Args:
        models (dict): Name → model (or forward function returning class scores ``(B, K)``).
                    With labels from the data, all models must have the same classes.
        data (iterable or dict): Batches as for ``attribute_global``; or a dict name → iterable
                    for models that need their own preprocessing, each yielding the same images
                    in the same order.
        bands (int or SpectralBands, optional): The bands.
                    Default: 8
        baseline (str, Tensor or callable, optional): What replaces a removed band.
                    Default: ``"zero"``
        value (str or callable, optional): The value of a coalition.
                    Default: ``"log_prob"``
        max_evaluations (int, optional): Model evaluations for each model's run.
                    Default: None (no limit)
        tolerance (float, optional): Stop once every model's ``max(stderr) / range(ψ)`` is at
                    most this.
                    Default: None

    The other arguments are those of :meth:`IASIDE.attribute_global
    <captum_iaside.IASIDE.attribute_global>`, with the same meaning.

    Returns:
        :class:`~captum_iaside.results.comparison.SpectralComparison`: ``.results[name]`` and the paired
        differences ``.srs_difference(a, b)`` and ``.values_difference(a, b)``.

    Examples::

        >>> comp = compare_global({"standard": m1, "augmented": m2}, loader, max_evaluations=20_000, seed=0)
        >>> est, (lo, hi) = comp.srs_difference("augmented", "standard")
        >>> print(f"ΔSRS = {est:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    """
    models = _check_models(models)
    options = RunOptions(
        n_samples=n_samples,
        use_labels=use_labels,
        additional_forward_args=as_arg_tuple(additional_forward_args),
        perturbations_per_eval=perturbations_per_eval,
        max_evaluations=max_evaluations,
        tolerance=tolerance,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        by_class=by_class,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        seed=seed,
        device=device,
        show_progress=show_progress,
        autocast_dtype=autocast_dtype,
    )
    bands = as_bands(bands)
    baseline = resolve_baseline(baseline)
    value = ValueFunction(value)
    config = {
        "method": "I-ASIDE",
        "bands": bands.config(),
        "baseline": baseline.config(),
        "value": value.name,
    }
    outcome = GlobalRun(models, bands, baseline, value, estimator, budget, options, config).run(data)
    results = {name: outcome.result(name, confidence) for name in models}
    replicates = {name: outcome.accumulators[name].replicates() for name in models}
    joint = outcome.joint
    return SpectralComparison(
        results,
        confidence=confidence,
        replicates=None if any(r is None for r in replicates.values()) else replicates,
        phi_mean=None if joint is None else joint.mean,
        phi_comoment=None if joint is None else joint.m2,
    )
