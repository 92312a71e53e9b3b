r"""The robustness options of the command line: the released sets read and checked, the models scored on them.

``--corruptions ROOT`` (ImageNet-C's folders or CIFAR-10-C's arrays), ``--ood NAME=DIR`` and ``--attack-epsilon``
measure, on the run's models and with each model's own preprocessing, the clean accuracy on ``--data``, the
accuracy under every corruption and severity, on every out-of-distribution set and under FGSM / PGD, and the
spectrum of a PGD perturbation; :func:`~captum_iaside.robustness.report.robustness_report` puts them beside the
SRS. Every set's layout is checked when the options are read, before any model is loaded. Under torchrun each
rank scores its share of every set and the counts are summed.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from captum_iaside.cli.arguments import PGD_STEPS
from captum_iaside.robustness.alexnet import PUBLISHED_ALEXNET
from captum_iaside.robustness.corruptions import SEVERITIES
from captum_iaside.robustness.report import OOD_PREFIX

#: Clean images (spread over the classes, shared by the ranks) whose PGD perturbation gives the adversarial spectrum.
SPECTRUM_IMAGES = 256


@dataclass(frozen=True)
class RobustnessSets:
    r"""
    The robustness sets the options name, read without a transform (each model gets its own):
    ``"fog@3"`` → a corruption's images, ``"ood:<name>"`` → an out-of-distribution set.
    """

    sets: dict[str, Dataset]


def wanted(args: argparse.Namespace) -> bool:
    r"""Whether the options ask for any robustness measure."""
    return bool(args.corruptions or args.ood or args.attack_epsilon or args.reference is not None)


def read_sets(args: argparse.Namespace) -> RobustnessSets:
    r"""
    The sets of ``--corruptions`` and ``--ood``, every layout checked (a ``ValueError`` naming what is missing),
    their class folders mapped to the classes of ``--data``'s folders (ImageNet's order for its 1,000 WordNet ids).
    """
    from captum_iaside.robustness.released import cifar10_c_sets, class_folders, imagenet_c_sets, ood_set

    if args.data == "embedded" or args.labels != "folder":
        raise ValueError(
            "--corruptions, --ood and --attack-epsilon measure accuracy: they need --data FOLDER --labels folder "
            "(the clean images, one sub-folder per class)"
        )
    if args.reference == PUBLISHED_ALEXNET and sorted(args.severities) != list(SEVERITIES):
        raise ValueError(
            f"--reference alexnet normalises by AlexNet's published errors, means over severities {list(SEVERITIES)}: "
            f"measure all five, not --severities {' '.join(map(str, args.severities))}"
        )
    if args.reference is not None and not args.corruptions:
        raise ValueError("--reference normalises corruption errors: it needs --corruptions")
    if sorted(args.severities) != list(SEVERITIES) and not args.corruptions:
        raise ValueError("--severities chooses among the corruptions' severities: it needs --corruptions")
    if args.pgd_steps != PGD_STEPS and not args.attack_epsilon:
        raise ValueError("--pgd-steps sets the PGD attack: it needs --attack-epsilon")
    radii = [f"{eps:g}" for eps in args.attack_epsilon or ()]
    if len(set(radii)) != len(radii):
        raise ValueError(f"--attack-epsilon gives a radius twice: {' '.join(radii)}")
    if importlib.util.find_spec("scipy") is None:
        raise ValueError("the robustness report's correlations need SciPy: pip install 'captum-iaside[robustness]'")
    classes = class_folders(args.data) if os.path.isdir(args.data) else []
    if not classes:
        raise ValueError(f"--data {args.data!r} holds no class folders to map the robustness sets' classes to")
    sets: dict[str, Dataset] = {}
    if args.corruptions:
        root = args.corruptions
        arrays = os.path.isfile(os.path.join(root, "labels.npy"))
        if arrays and args.reference == PUBLISHED_ALEXNET:
            raise ValueError(
                "--reference alexnet normalises by AlexNet's ImageNet-C errors, not CIFAR-10-C's: give --reference "
                "MODEL, a model of the run"
            )
        try:
            if arrays:
                sets.update(cifar10_c_sets(root, severities=args.severities))
            else:
                sets.update(imagenet_c_sets(root, severities=args.severities, classes=classes))
        except ValueError as exc:
            raise ValueError(f"--corruptions: {exc}") from exc
    names = [name for name, _ in args.ood]
    if len(set(names)) != len(names):
        raise ValueError(f"--ood names a set twice: {names}")
    for name, path in args.ood:
        try:
            sets[OOD_PREFIX + name] = ood_set(path, classes=classes)
        except ValueError as exc:
            raise ValueError(f"--ood {name}: {exc}") from exc
    return RobustnessSets(sets)


def _subset(dataset: Dataset, samples: int | None, rank: int, world: int) -> Dataset:
    r"""
    At most ``samples`` images spread evenly over ``dataset`` (an image folder is sorted by class: its first
    images are its first classes), and of them every ``world``-th from ``rank`` on.
    """
    n = len(dataset)
    picked = range(n) if samples is None or samples >= n else [round(i * n / samples) for i in range(samples)]
    picked = list(picked)[rank::world]
    return dataset if len(picked) == n else Subset(dataset, picked)


def _with_transform(dataset: Dataset, transform: Callable[..., Any]) -> Dataset:
    r"""A copy of ``dataset`` (read without a transform) that gives its images through ``transform``."""
    own = copy.copy(dataset)
    own.transform = transform
    return own


class _Pixels(nn.Module):
    r"""A model that takes images in ``[0, 1]``: normalised with its own mean and std before the forward."""

    def __init__(self, model: nn.Module, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", mean[None, :, None, None])
        self.register_buffer("std", std[None, :, None, None])

    def forward(self, x: Tensor) -> Any:
        return self.model((x - self.mean) / self.std)


def _in_pixels(loader: DataLoader, mean: Tensor, std: Tensor) -> Any:
    r"""The batches of ``loader`` (normalised images) back in ``[0, 1]``, with their labels (batches of images all
    skipped as unreadable left out)."""
    for x, y in loader:
        if x.numel():
            yield x * std[None, :, None, None] + mean[None, :, None, None], y


@dataclass(frozen=True)
class Scored:
    r"""What the models were measured on: model name → accuracies (``robustness_report``'s keys) and spectra."""

    accuracies: dict[str, dict[str, float]]
    spectra: dict[str, Any] | None


@dataclass(frozen=True)
class Pipeline:
    r"""How a model's images are made: its transform of a PIL image, its normalisation, and a key equal for models
    that preprocess alike (they share the images)."""

    transform: Callable[..., Any]
    resolution: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    key: tuple


def score(
    args: argparse.Namespace,
    read: RobustnessSets,
    models: Mapping[str, nn.Module],
    clean: Mapping[str, Dataset],
    pipelines: Mapping[str, Pipeline],
    bands: Any,
    device: torch.device,
    rank: int,
    world: int,
) -> Scored:
    r"""
    Score every model on its clean data (``clean``: model name → the whole labelled data set, before any shard)
    and on every robustness set through its own transform (models that preprocess alike share the images), under
    attack where asked, with the spectrum of a PGD perturbation at the largest ε.
    """
    from captum_iaside.cli.data import collate_readable, preprocess
    from captum_iaside.robustness.accuracy import robust_accuracy
    from captum_iaside.robustness.adversarial import adversarial_spectrum
    from captum_iaside.robustness.released import released_accuracy

    def loader(dataset: Dataset, samples: int | None = args.robustness_samples) -> DataLoader:
        chosen = _subset(dataset, samples, rank, world)
        return DataLoader(chosen, batch_size=args.batch_size, collate_fn=collate_readable)

    accuracies: dict[str, dict[str, float]] = {name: {} for name in models}
    groups: dict[tuple, list[str]] = {}
    for name in models:
        groups.setdefault(pipelines[name].key, []).append(name)
    for names in groups.values():
        own = pipelines[names[0]]
        # the corruptions are released at the input size: the model's resolution and normalisation, no crop
        released = preprocess(own.resolution, own.mean, own.std)
        sets = {"clean": loader(clean[names[0]])}
        scored_over = {}
        for key, dataset in read.sets.items():
            ood = key.startswith(OOD_PREFIX)
            sets[key] = loader(_with_transform(dataset, own.transform if ood else released))
            if ood:  # ImageNet-R's and -A's protocol: the best of the set's own classes
                scored_over[key] = sorted(set(dataset.class_to_idx.values()))
        group = {name: models[name] for name in names}
        scored = released_accuracy(group, sets, device=device, show_progress=not args.quiet, classes=scored_over)
        for name in names:
            accuracies[name].update(scored[name])
    if not args.attack_epsilon:
        return Scored(accuracies, None)
    spectra = {}
    for name, model in models.items():
        mean, std = torch.tensor(pipelines[name].mean), torch.tensor(pipelines[name].std)
        pixels = _Pixels(model, mean.to(device), std.to(device)).eval()

        def batches(data: DataLoader, mean: Tensor = mean, std: Tensor = std) -> Any:
            return ((x.to(device), y.to(device)) for x, y in _in_pixels(data, mean, std))

        attacked = robust_accuracy(
            pixels, batches(loader(clean[name])), corruptions=(), epsilons=args.attack_epsilon, pgd_steps=args.pgd_steps
        )
        accuracies[name].update({k: v for k, v in attacked.items() if k != "clean"})
        spread = min(SPECTRUM_IMAGES, args.robustness_samples or SPECTRUM_IMAGES)  # over the classes, all ranks
        spectra[name] = adversarial_spectrum(
            pixels, batches(loader(clean[name], spread)), bands, max(args.attack_epsilon), pgd_steps=args.pgd_steps
        )
    return Scored(accuracies, spectra)
