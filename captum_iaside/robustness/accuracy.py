r"""Accuracy under corruptions and attacks, through :class:`captum.robust.AttackComparator`."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
from captum.robust import FGSM, PGD, AttackComparator
from torch import Tensor

from captum_iaside._utils.checks import check_seed
from captum_iaside.game.value_functions import scores_of
from captum_iaside.global_run.batches import check_batch_labels, split_batch
from captum_iaside.global_run.distributed import summed
from captum_iaside.robustness.corruptions import CORRUPTIONS, SEVERITIES, check_severities, corrupt
from captum_iaside.robustness.imagenet_c import IMAGENET_C, IMAGENET_C_EXTRA, imagenet_c_package


def _correct(output: Tensor, target: Tensor) -> Tensor:
    return (output.argmax(dim=1) == target).float()


def _class_scores(model: Callable[..., Any]) -> Callable[[Tensor], Tensor]:
    r"""``model`` returning its class scores as a tensor (a ``ModelOutput``'s or a dict's logits, a tuple's first)."""

    def scores(x: Tensor) -> Tensor:
        return scores_of(model(x))

    return scores


def _check_names(corruptions: Sequence[str], severities: Sequence[int]) -> None:
    unknown = [name for name in corruptions if name not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"corruptions: unknown {unknown}; expected names of {list(CORRUPTIONS)}")
    if any(name in IMAGENET_C + IMAGENET_C_EXTRA for name in corruptions):
        imagenet_c_package()  # a missing package is one line now, not at the first batch
    check_severities(severities)


def _comparator(
    model: Callable[..., Any],
    corrupt_fn: Callable[..., Tensor],
    corruptions: Sequence[str],
    severities: Sequence[int],
    epsilons: Sequence[float],
    pgd_steps: int,
    seed: int,
) -> AttackComparator:
    model = _class_scores(model)
    comparator = AttackComparator(model, metric=_correct)
    for name in corruptions:
        for s in severities:
            comparator.add_attack(partial(corrupt_fn, name=name, severity=s, seed=seed), name=f"{name}@{s}")
    for eps in epsilons:
        comparator.add_attack(
            FGSM(model, lower_bound=0.0, upper_bound=1.0),
            name=f"FGSM@{eps:g}",
            attack_kwargs={"epsilon": eps},
            additional_attack_arg_names=["target"],
        )
        comparator.add_attack(
            PGD(model, lower_bound=0.0, upper_bound=1.0),
            name=f"PGD@{eps:g}",
            attack_kwargs={"radius": eps, "step_size": eps / 4, "step_num": pgd_steps},
            additional_attack_arg_names=["target"],
        )
    return comparator


def attack_comparator(
    model: Callable[[Tensor], Tensor],
    corruptions: Sequence[str] = IMAGENET_C,
    severities: Sequence[int] = SEVERITIES,
    epsilons: Sequence[float] = (),
    pgd_steps: int = 10,
    seed: int = 0,
) -> AttackComparator:
    r"""
    A :class:`captum.robust.AttackComparator` measuring accuracy under every corruption and
    severity (``"gaussian_noise@3"``) and under FGSM and PGD (L∞) at every ``ε`` (``"FGSM@0.03"``,
    ``"PGD@0.03"``, PGD with step ``ε/4``). The model takes images in ``[0, 1]`` and may return a tensor,
    a ``ModelOutput`` or dict with ``logits``, or a tuple whose first item holds the scores.
    """
    _check_names(corruptions, severities)
    return _comparator(model, corrupt, corruptions, severities, epsilons, pgd_steps, seed)


class _BatchCorruptions:
    r"""
    ``corrupt`` of the batch at hand, shared by the models scored on it: each corruption is computed when
    the first model asks for it and dropped once every model has had it, so at most one corrupted copy of
    the batch per model still to come is held. Batch ``k`` draws with the seed ``(seed, k)``, so images in
    the same position of different batches get different noise.
    """

    def __init__(self, n_models: int) -> None:
        self.n_models = n_models
        self.batch_index = -1
        self.done: dict[tuple[str, int], list] = {}

    def next_batch(self) -> None:
        r"""Forget the last batch's corruptions; the next calls are for a new batch."""
        self.batch_index += 1
        self.done = {}

    def __call__(self, images: Tensor, name: str, severity: int, seed: int) -> Tensor:
        key = (name, severity)
        if key not in self.done:
            batch_seed = int(np.random.SeedSequence([seed, self.batch_index]).generate_state(1)[0])
            self.done[key] = [corrupt(images, name, severity, batch_seed), 0]
        entry = self.done[key]
        entry[1] += 1
        if entry[1] == self.n_models:
            del self.done[key]
        return entry[0]


def robust_accuracy(
    model: Callable[..., Any] | Mapping[str, Callable[..., Any]],
    data: Iterable[tuple[Tensor, Tensor]],
    corruptions: Sequence[str] = IMAGENET_C,
    severities: Sequence[int] = SEVERITIES,
    epsilons: Sequence[float] = (),
    pgd_steps: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    r"""
    Accuracy on clean images (``"clean"``), under each corruption and severity, and under FGSM / PGD,
    through :class:`captum.robust.AttackComparator`, averaged over all images of ``data`` (batches of
    images in ``[0, 1]`` and labels). Several models given as a dict are scored on the same corrupted
    images, each corruption computed once per batch.

    Args:
        model (callable or dict): Images in ``[0, 1]`` → class scores (a tensor, a ``ModelOutput`` or
                    dict with ``logits``, or a tuple whose first item holds them); or a dict name → such a
                    model.
        data (iterable): Batches ``(images, labels)`` (or dicts with ``pixel_values`` and ``label``).
        corruptions (sequence of str, optional): Names of :data:`~captum_iaside.robustness.corruptions.CORRUPTIONS`.
                    Default: the 15 of ImageNet-C (:data:`~captum_iaside.robustness.imagenet_c.IMAGENET_C`)
        severities (sequence of int, optional): Severities 1–5 of every corruption.
                    Default: ``(1, 2, 3, 4, 5)``
        epsilons (sequence of float, optional): L∞ radii of FGSM and PGD.
                    Default: ``()`` (no attack)
        pgd_steps (int, optional): PGD steps (step size ``ε/4``).
                    Default: 10
        seed (int, optional): Seed of the random corruptions; batch ``k`` draws with ``(seed, k)``.
                    Default: 0

    Returns:
        *dict* name → accuracy in ``[0, 1]``: ``"clean"``, ``"fog@3"``, ``"FGSM@0.03"``, …; for a dict of
        models, model name → such a dict. Feed it to :func:`~captum_iaside.robustness.report.robustness_report`
        for the corruption errors and the mCE. Under torch.distributed each rank scores its own batches and the
        counts are summed over the ranks: every rank returns the accuracies over all the images.

    Examples::

        >>> acc = robust_accuracy({"a": model_a, "b": model_b}, loader, corruptions=["fog", "gaussian_noise"])
        >>> acc["a"]["fog@3"], acc["b"]["clean"]
    """
    _check_names(corruptions, severities)
    check_seed(seed)
    named = dict(model) if isinstance(model, Mapping) else {"": model}
    if not named:
        raise ValueError("model is an empty dict; give a model or a dict name -> model")
    shared = _BatchCorruptions(len(named))
    comparators = {
        name: _comparator(m, shared, corruptions, severities, epsilons, pgd_steps, seed) for name, m in named.items()
    }
    totals: dict[str, dict[str, float]] = {name: {} for name in named}
    seen = 0
    for k, batch in enumerate(data):
        x, y = split_batch(batch)
        if y is None:
            raise ValueError("data must yield labelled batches: (images, labels) or dicts with 'label'")
        check_batch_labels(y, x.shape[0], k)
        shared.next_batch()
        for name, comparator in comparators.items():
            # per-example results, summed here: the comparator's own summary() weighs every batch
            # equally, whatever its size. The attacks need input gradients; Captum switches them on for
            # each attack step and says so, which is expected here.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Input Tensor 0 did not already require gradients", UserWarning)
                results = comparator.evaluate(x, target=y)
            for key, value in results.items():
                correct = value["mean"] if isinstance(value, dict) else value
                label = "clean" if key == "Original" else key
                totals[name][label] = totals[name].get(label, 0.0) + float(correct.sum())
            comparator.reset()
        seen += x.shape[0]
    counts = summed({(name, k): total for name, t in totals.items() for k, total in t.items()} | {None: seen})
    seen = counts.pop(None)
    if seen == 0:
        raise ValueError("data yielded no images")
    accuracies: dict[str, dict[str, float]] = {name: {} for name in named}
    for (name, k), total in counts.items():
        accuracies[name][k] = total / seen
    return accuracies if isinstance(model, Mapping) else accuracies[""]
