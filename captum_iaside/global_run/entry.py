r"""The one way into a global run, shared by :meth:`IASIDE.attribute_global` and :func:`compare_global`.

Both public functions take the same run arguments (the fields of :class:`RunOptions`, by the same
names and defaults, and the estimator and its budget), build their :class:`RunOptions` (checked
there, once) and hand them here with their models, so the remaining checks, the training-mode
warning and the reported configuration are made in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from torch import Tensor

from captum_iaside._utils.checks import check_callable
from captum_iaside.estimators.base import ShapleyEstimator
from captum_iaside.execution.model_state import preserved_buffers, warn_if_training
from captum_iaside.game.baselines import BaselineSpec, resolve_baseline
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import as_bands
from captum_iaside.game.value_functions import ValueFunction, ValueSpec
from captum_iaside.global_run.batches import IMAGE_KEYS
from captum_iaside.global_run.options import RunOptions
from captum_iaside.global_run.run import GlobalRun, RunOutcome


def check_models(models: Any) -> dict[str, Callable[..., Any]]:
    r"""``models`` as a dict of str names to callables, or a clear error."""
    if not isinstance(models, dict):
        raise TypeError(f"models must be a dict of name -> model, got {type(models).__name__}")
    if not models:
        raise ValueError("models is empty; give at least one name -> model")
    for name, model in models.items():
        if not isinstance(name, str):
            raise TypeError(f"models must be keyed by str names, got the key {name!r}")
        check_callable(model, f"models[{name!r}]")
    return dict(models)


def check_data(data: Any, names: list[str], per_model: bool = True) -> None:
    r"""
    Refuse ``data`` that is not an iterable of batches (or, where ``per_model``, a dict of model name →
    batches), saying what it must be; one batch (a dict of images and labels) is named as such.
    """
    what = (
        "data must be an iterable of batches — a DataLoader, or a list of image tensors (B, C, H, W) or of "
        "(images, targets) pairs"
    )
    if data is None:
        raise TypeError(f"{what}; got None")
    if isinstance(data, Tensor):
        raise TypeError(
            f"{what}; got one tensor of shape {tuple(data.shape)}: pass [images], or "
            "DataLoader(TensorDataset(images, labels), batch_size=...)"
        )
    if isinstance(data, Mapping):
        batch_keys = [k for k in data if k in IMAGE_KEYS]
        if batch_keys and not any(name in data for name in names):
            raise TypeError(
                f"{what}; got one batch (a dict with {batch_keys[0]!r}): pass [batch], or a DataLoader of such dicts"
            )
        if not per_model:
            raise TypeError(f"{what}; got a dict (a dict of model name -> batches is for compare_global)")
        for name in names:
            if name in data:
                check_data(data[name], [name])
        return
    if not isinstance(data, Iterable):
        raise TypeError(f"{what}; got {type(data).__name__}")


def run_global(
    models: dict[str, Callable[..., Any]],
    data: Iterable[Any] | dict[str, Iterable[Any]],
    bands: int | FourierPartition,
    baseline: BaselineSpec,
    value: ValueSpec | ValueFunction,
    options: RunOptions,
    estimator: str | ShapleyEstimator | None,
    budget: int | None,
    per_model_data: bool = True,
) -> RunOutcome:
    r"""
    Check everything, warn about models in training mode, and run.

    Args:
        models (dict): Name → model (one entry for :meth:`IASIDE.attribute_global`).
        data (iterable or dict): The batches, or name → batches.
        bands (int or FourierPartition): The players.
        baseline (str, Tensor, callable or Baseline): What replaces a removed band.
        value (str, callable or ValueFunction): The value of a coalition.
        options (RunOptions): The run's options, checked.
        estimator (str, ShapleyEstimator or None): The estimator of every image (None: the design's).
        budget (int, optional): Coalition evaluations per image for ``estimator``.
        per_model_data (bool, optional): Whether ``data`` may be a dict of name → batches
                    (:func:`compare_global`'s; the one model of :meth:`IASIDE.attribute_global` has no name).
                    Default: True

    Returns:
        :class:`RunOutcome`: the merged statistics, the stop reason and the configuration.
    """
    models = check_models(models)
    check_data(data, list(models), per_model_data)
    for name, model in models.items():
        # the user's call is three frames up: run_global <- attribute_global / compare_global <- user
        warn_if_training(model, stacklevel=3, name=None if len(models) == 1 else name)
    bands = as_bands(bands)
    baseline = resolve_baseline(baseline)
    value = value if isinstance(value, ValueFunction) else ValueFunction(value)
    config = {"method": "I-ASIDE", "bands": bands.config(), "baseline": baseline.config(), "value": value.name}
    run = GlobalRun(models, bands, baseline, value, estimator, budget, options, config)
    with preserved_buffers(models.values()):
        return run.run(data)
