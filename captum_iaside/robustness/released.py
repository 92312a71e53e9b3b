r"""The released robustness data sets, read as they lie on disk, and the accuracy of models on them.

Robustness is reported on the **released** images, not on corruptions generated again:

- ImageNet-C (Hendrycks & Dietterich, 2019), and Tiny-ImageNet-C and ImageNet-C-bar in the same layout:
  ``<root>/<corruption>/<severity>/<class>/<image>`` (:func:`imagenet_c_sets`);
- CIFAR-10-C: ``<root>/<corruption>.npy``, the 5 severities of 10,000 images one after the other (``(50000, 32,
  32, 3)`` uint8), and ``<root>/labels.npy`` (:func:`cifar10_c_sets`);
- out-of-distribution sets in ImageFolder's layout (ImageNet-R, -Sketch, -A), often of a subset of the model's
  classes (:func:`ood_set`).

Folder names are mapped to the model's class indices by ``classes``, the model's class names in the order of its
outputs (WordNet ids such as ``n01440764``, or names): a folder whose name is not one of them is refused before
any image is read. Each set is a :class:`~torch.utils.data.Dataset` of ``(image, label)`` through the same
``transform`` as the clean data, and :func:`released_accuracy` scores models on them with the keys
:func:`~captum_iaside.robustness.report.robustness_report` reads (``"fog@3"``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import ImageFolder
from tqdm import tqdm

from captum_iaside._utils.checks import check_positive_int
from captum_iaside.game.value_functions import scores_of
from captum_iaside.global_run.batches import split_batch
from captum_iaside.global_run.distributed import summed, world
from captum_iaside.robustness.corruptions import SEVERITIES, check_severities
from captum_iaside.robustness.imagenet_c import IMAGENET_C


def class_folders(path: str) -> list[str]:
    r"""The sub-folders of ``path``, sorted: ImageFolder's classes, in the order of their indices."""
    return sorted(entry.name for entry in os.scandir(path) if entry.is_dir())


def class_map(folders: Sequence[str], classes: Sequence[str] | None, argument: str) -> dict[str, int]:
    r"""
    Folder name → the model's class index: the position of the folder's name in ``classes`` (the model's class
    names in the order of its outputs), or, without ``classes``, the folders' sorted order (ImageFolder's, which is
    ImageNet's for its 1,000 WordNet ids). A folder whose name is not a class raises ``ValueError`` naming it.
    """
    if classes is None:
        return {name: i for i, name in enumerate(sorted(folders))}
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise TypeError(f"classes must be a list of the model's class names, got {type(classes).__name__}")
    index = {str(name): i for i, name in enumerate(classes)}
    unknown = [name for name in folders if name not in index]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ValueError(
            f"{argument}: the folders {shown} name no class of the model (classes holds {len(index)} names, e.g. "
            f"{', '.join(list(index)[:3])})"
        )
    return {name: index[name] for name in folders}


class _MappedFolder(ImageFolder):
    r"""An :class:`~torchvision.datasets.ImageFolder` whose labels are the model's indices of its folders' names."""

    def __init__(self, root: str, mapping: Mapping[str, int], transform: Callable[..., Any] | None) -> None:
        self._mapping = dict(mapping)
        super().__init__(root, transform=transform, allow_empty=True)

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        present = class_folders(directory)
        return present, {name: self._mapping[name] for name in present}


def _check_severities(severities: Sequence[int]) -> list[int]:
    r"""The severities of a released set: :func:`check_severities`, and at least one."""
    if not severities:
        raise ValueError(f"severities must be among {list(SEVERITIES)}, got none")
    return check_severities(severities)


def imagenet_c_sets(
    root: str,
    transform: Callable[..., Any] | None = None,
    corruptions: Sequence[str] | None = None,
    severities: Sequence[int] = SEVERITIES,
    classes: Sequence[str] | None = None,
) -> dict[str, Dataset]:
    r"""
    The released ImageNet-C images (or Tiny-ImageNet-C's, ImageNet-C-bar's: the same layout
    ``<root>/<corruption>/<severity>/<class>/<image>``), one data set per corruption and severity. The whole
    layout is checked before any image is read.

    Args:
        root (str): The folder that holds one folder per corruption.
        transform (callable, optional): Maps a PIL image to the model's input (the clean data's transform).
                    Default: None (PIL images)
        corruptions (sequence of str, optional): The corruption folders to read.
                    Default: ImageNet-C's 15 (:data:`~captum_iaside.robustness.imagenet_c.IMAGENET_C`) where
                    ``root`` holds them all, else every folder of ``root`` (ImageNet-C-bar's names)
        severities (sequence of int, optional): Severities among 1–5.
                    Default: ``(1, 2, 3, 4, 5)``
        classes (sequence of str, optional): The model's class names in the order of its outputs; the class
                    folders are mapped by name (a subset of the classes is fine).
                    Default: None (the sorted folder names are the classes 0, 1, …: ImageNet's order)

    Returns:
        *dict* ``"<corruption>@<severity>"`` → data set of ``(image, label)``.

    Examples::

        >>> sets = imagenet_c_sets("/data/ImageNet-C", transform=preprocess, severities=(1, 3, 5))
        >>> acc = released_accuracy({"r50": resnet50, "vit": vit}, sets, batch_size=128)
    """
    if not isinstance(root, (str, os.PathLike)) or not os.path.isdir(root):
        raise ValueError(f"corruptions root {root!r} is not a folder (expected <root>/<corruption>/<severity>/<class>)")
    severities = _check_severities(severities)
    present = class_folders(root)
    if corruptions is None:
        corruptions = list(IMAGENET_C) if set(IMAGENET_C) <= set(present) else present
    missing = [c for c in corruptions if c not in present]
    if missing or not corruptions:
        raise ValueError(
            f"corruptions root {os.fspath(root)!r} lacks the corruption folders {missing or 'of any corruption'}; "
            f"it holds {present[:8]}"
        )
    folders: dict[str, str] = {}
    for corruption in corruptions:
        for severity in severities:
            path = os.path.join(root, corruption, str(severity))
            if not os.path.isdir(path):
                raise ValueError(f"corruptions root: {corruption} has no folder of severity {severity} ({path!r})")
            folders[f"{corruption}@{severity}"] = path
    names = sorted({name for path in folders.values() for name in class_folders(path)})
    if not names:
        raise ValueError(f"corruptions root: {next(iter(folders.values()))!r} holds no class folders")
    mapping = class_map(names, classes, "corruptions root")
    return {key: _MappedFolder(path, mapping, transform) for key, path in folders.items()}


class ArrayImages(Dataset):
    r"""
    ``(N, H, W, C)`` uint8 images of an array (a memory-mapped ``.npy`` reads only what is asked) with their
    labels, as ``(image, label)``: through ``transform`` (given the image as a ``(C, H, W)`` uint8 tensor), or in
    ``[0, 1]`` as float32.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable[..., Any] | None = None) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        image = torch.from_numpy(np.array(self.images[i])).permute(2, 0, 1)
        image = image.float() / 255 if self.transform is None else self.transform(image)
        return image, int(self.labels[i])


def cifar10_c_sets(
    root: str,
    transform: Callable[..., Any] | None = None,
    corruptions: Sequence[str] | None = None,
    severities: Sequence[int] = SEVERITIES,
) -> dict[str, Dataset]:
    r"""
    The released CIFAR-10-C arrays: ``<root>/<corruption>.npy`` holds the 5 severities of the same 10,000 test
    images one after the other, ``<root>/labels.npy`` their labels (10,000, or 50,000 repeated per severity). Every
    array's shape is checked before any image is read; the arrays are memory-mapped.

    Args:
        root (str): The folder of the arrays.
        transform (callable, optional): Maps a ``(C, H, W)`` uint8 tensor to the model's input.
                    Default: None (images in ``[0, 1]``)
        corruptions (sequence of str, optional): The arrays to read (names without ``.npy``).
                    Default: every array of ``root`` but ``labels``
        severities (sequence of int, optional): Severities among 1–5.
                    Default: ``(1, 2, 3, 4, 5)``

    Returns:
        *dict* ``"<corruption>@<severity>"`` → data set of ``(image, label)``.
    """
    if not isinstance(root, (str, os.PathLike)) or not os.path.isdir(root):
        raise ValueError(f"corruptions root {root!r} is not a folder (expected <root>/<corruption>.npy, labels.npy)")
    severities = _check_severities(severities)
    labels_path = os.path.join(root, "labels.npy")
    if not os.path.isfile(labels_path):
        raise ValueError(f"corruptions root {os.fspath(root)!r} has no labels.npy (CIFAR-10-C's layout)")
    arrays = sorted(f[:-4] for f in os.listdir(root) if f.endswith(".npy") and f != "labels.npy")
    corruptions = arrays if corruptions is None else list(corruptions)
    missing = [c for c in corruptions if c not in arrays]
    if missing or not corruptions:
        raise ValueError(f"corruptions root lacks the arrays {[f'{c}.npy' for c in missing] or 'of any corruption'}")
    labels = np.load(labels_path, mmap_mode="r")
    out: dict[str, Dataset] = {}
    for corruption in corruptions:
        images = np.load(os.path.join(root, f"{corruption}.npy"), mmap_mode="r")
        n = len(images) // len(SEVERITIES)
        if images.ndim != 4 or images.dtype != np.uint8 or len(images) != len(SEVERITIES) * n or n == 0:
            raise ValueError(
                f"corruptions root: {corruption}.npy holds {images.shape} {images.dtype}, not 5 severities of (N, H, "
                "W, C) uint8 images"
            )
        if len(labels) not in (n, len(images)):
            raise ValueError(
                f"corruptions root: {corruption}.npy holds 5 x {n} images but labels.npy {len(labels)} labels "
                f"(expected {n}, or {len(images)} repeated per severity)"
            )
        for s in severities:
            rows = slice((s - 1) * n, s * n)
            own = labels[rows] if len(labels) == len(images) else labels
            out[f"{corruption}@{s}"] = ArrayImages(images[rows], own, transform)
    return out


def ood_set(root: str, transform: Callable[..., Any] | None = None, classes: Sequence[str] | None = None) -> Dataset:
    r"""
    An out-of-distribution set in ImageFolder's layout (ImageNet-R, -Sketch, -A: one folder per class, often a
    subset of the model's classes), its folders mapped to the model's class indices by name.

    Args:
        root (str): The folder of class folders.
        transform (callable, optional): Maps a PIL image to the model's input. Default: None
        classes (sequence of str, optional): The model's class names in the order of its outputs.
                    Default: None (the sorted folder names are the classes 0, 1, …)

    Returns:
        *Dataset* of ``(image, label)``.
    """
    if not isinstance(root, (str, os.PathLike)) or not os.path.isdir(root):
        raise ValueError(f"ood folder {root!r} is not a folder (expected one sub-folder per class)")
    names = class_folders(root)
    if not names:
        raise ValueError(f"ood folder {os.fspath(root)!r} holds no class folders")
    return _MappedFolder(os.fspath(root), class_map(names, classes, f"ood folder {os.fspath(root)!r}"), transform)


def _images(data: Dataset | Iterable) -> int | None:
    r"""The images of a data set, or of a :class:`~torch.utils.data.DataLoader`'s; None for another iterable."""
    dataset = data if isinstance(data, Dataset) else getattr(data, "dataset", None)
    return len(dataset) if isinstance(dataset, Dataset) and hasattr(dataset, "__len__") else None


def released_accuracy(
    model: Callable[..., Any] | Mapping[str, Callable[..., Any]],
    sets: Mapping[str, Dataset | Iterable],
    batch_size: int = 64,
    device: torch.device | str | None = None,
    show_progress: bool = False,
    classes: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, Any]:
    r"""
    Top-1 accuracy of one or several models on each of ``sets`` (the clean set, the released corruptions, OOD
    sets), every model on the same images (put the models in eval mode first).

    Args:
        model (callable or dict): The model's input (what the sets' transform gives) → class scores; or a dict
                    name → such a model.
        sets (dict): Key → a data set of ``(image, label)`` (batched by ``batch_size``) or an iterable of
                    batches. Keys as :func:`~captum_iaside.robustness.report.robustness_report` reads them:
                    ``"clean"``, ``"fog@3"``; any other key (``"ood:imagenet-r"``) is reported as it is.
        batch_size (int, optional): Images per batch of a data set. Default: 64
        device (torch.device or str, optional): Where the images go. Default: None (where they are)
        show_progress (bool, optional): A progress bar of the images scored (rank 0 only under torch.distributed).
                    Default: False
        classes (dict, optional): Key → the model's class indices a set is scored over: the prediction is the
                    best of those outputs (ImageNet-R's and -A's protocol, over their 200 classes: pass
                    ``sorted(set(ood.class_to_idx.values()))`` of an :func:`ood_set`).
                    Default: None (every set over all the model's outputs)

    Returns:
        *dict* key → accuracy; for a dict of models, model name → such a dict. Under torch.distributed each rank
        scores the images it is given (its shard of each set) and the counts are summed over the ranks: every rank
        returns the accuracies over all of them.
    """
    check_positive_int(batch_size, "batch_size")
    named = dict(model) if isinstance(model, Mapping) else {"": model}
    if not named:
        raise ValueError("model is an empty dict; give a model or a dict name -> model")
    if not isinstance(sets, Mapping) or not sets:
        raise ValueError("sets must be a non-empty dict key -> data set")
    classes = dict(classes or {})
    unknown = [key for key in classes if key not in sets]
    if unknown:
        raise ValueError(f"classes names sets that sets lacks: {unknown}")
    masks = {key: torch.as_tensor(list(indices), dtype=torch.long) for key, indices in classes.items()}
    if any(m.numel() == 0 for m in masks.values()):
        raise ValueError("classes gives a set no class to be scored over")
    counts: dict[tuple[str, str | None], int] = {}
    sizes = [_images(data) for data in sets.values()]
    total = None if None in sizes else sum(sizes)
    bar = tqdm(total=total, desc="accuracy", unit="image", disable=not show_progress or world()[0] != 0)
    for key, data in sets.items():
        batches = DataLoader(data, batch_size=batch_size) if isinstance(data, Dataset) else data
        counts.update({(key, name): 0 for name in named} | {(key, None): 0})
        bar.set_postfix_str(key, refresh=False)
        with torch.no_grad():
            for batch in batches:
                x, y = split_batch(batch)
                if y is None:
                    raise ValueError(f"sets[{key!r}] yields batches without labels")
                if len(y) == 0:  # every image of the batch skipped as unreadable
                    continue
                x, y = (x, y) if device is None else (x.to(device), y.to(device))
                for name, m in named.items():
                    scores: Tensor = scores_of(m(x))
                    if key in masks:
                        over = masks[key].to(scores.device)
                        predicted = over[scores[:, over].argmax(dim=1)]
                    else:
                        predicted = scores.argmax(dim=1)
                    counts[key, name] += int((predicted == y).sum())
                counts[key, None] += len(y)
                bar.update(len(y))
    bar.close()
    counts = summed(counts)
    out: dict[str, dict[str, float]] = {name: {} for name in named}
    for key in sets:
        if counts[key, None] == 0:
            raise ValueError(f"sets[{key!r}] holds no images")
        for name in named:
            out[name][key] = counts[key, name] / counts[key, None]
    return out if isinstance(model, Mapping) else out[""]
