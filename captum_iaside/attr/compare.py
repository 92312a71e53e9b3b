r"""Paired comparison of models: global I-ASIDE of several models with common random numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from captum_iaside.estimators.base import ShapleyEstimator
from captum_iaside.game.baselines import BaselineSpec
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.value_functions import ValueSpec
from captum_iaside.global_run.entry import run_global
from captum_iaside.global_run.options import RunOptions
from captum_iaside.results.comparison import SpectralComparison


def compare_global(
    models: dict[str, Callable[..., Any]],
    data: Iterable[Any] | dict[str, Iterable[Any]],
    bands: int | FourierPartition = 8,
    baseline: BaselineSpec = "zero",
    value: ValueSpec = "log_prob",
    n_samples: int | None = None,
    use_labels: bool = True,
    additional_forward_args: Any = None,
    perturbations_per_eval: int | str = 1,
    max_memory: int | float | str | None = None,
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
    strata: str | Tensor | None = "auto",
    interactions: bool | str = False,
) -> SpectralComparison:
    r"""
    Global I-ASIDE of several models on the same images, with paired uncertainty.

    Every model sees the same images, the same baseline images and the same coalitions per image
    (common random numbers), and the bootstrap gives every image the same replicate weights for
    every model. Per-image differences between models are therefore paired: the between-image
    variance, the largest part of each model's own uncertainty, cancels in their differences.
    Each model's result is exactly what :meth:`IASIDE.attribute_global
    <captum_iaside.IASIDE.attribute_global>` returns for it with the same options and the same
    batches in the same order: both run through one entry point and draw the same random streams
    (tested to the last bit, with and without a budget). Data that yield another order on every pass —
    a ``DataLoader(..., shuffle=True)`` without a seeded ``generator`` — give other images (under a
    budget), other bootstrap weights per image and so other intervals, in either function.

    Args:
        models (dict): Name → model (or forward function returning class scores ``(B, K)``).
                    With labels from the data, all models must have the same classes.
        data (iterable or dict): Batches as for ``attribute_global``; or a dict name → iterable
                    for models that need their own preprocessing, each yielding the same images
                    in the same order.
        bands (int or FourierPartition, optional): The players: ``M`` equal-width square bands,
                    or a partition of the Fourier plane (:class:`~captum_iaside.SpectralBands`,
                    :class:`~captum_iaside.OrientedBands`, :class:`~captum_iaside.FourierGrid`,
                    :class:`~captum_iaside.CustomPartition`).
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
        strata (str, Tensor or None, optional): As for ``attribute_global``; every model reads the
                    same images in the same stratified order (with one data set per model, each
                    a DataLoader over a map-style dataset or a list of batches, of the same length).
                    Default: ``"auto"``
        interactions (bool or str, optional): As for ``attribute_global``: each model's mean
                    pairwise interaction index.
                    Default: False

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
    options = RunOptions(
        n_samples=n_samples,
        use_labels=use_labels,
        additional_forward_args=additional_forward_args,
        perturbations_per_eval=perturbations_per_eval,
        max_memory=max_memory,
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
        strata=strata,
        interactions=interactions,
    )
    return run_global(models, data, bands, baseline, value, options, estimator, budget).comparison()
