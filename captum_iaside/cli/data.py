r"""Images for the command line: the embedded photos (no download) and image folders."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, TensorDataset, default_collate
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

#: Real photos bundled with scikit-image and scikit-learn (name -> loader of an HWC uint8 array).
EMBEDDED_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "motorcycle", "china", "flower")


class DataSpecError(ValueError):
    r"""A data specification that cannot be used (missing path, no images)."""


def _photo(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


def preprocess(resolution: int, mean: Sequence[float], std: Sequence[float]) -> Callable[[Tensor], Tensor]:
    r"""
    Resize the short side to ``resolution``, centre-crop a square, scale to [0, 1], normalise.
    Takes a PIL image, an HWC uint8 array or a CHW uint8 tensor.
    """
    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(resolution, antialias=True),
            v2.CenterCrop(resolution),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


def embedded_photos(transform: Callable[[Tensor], Tensor], names: Sequence[str] = EMBEDDED_PHOTOS) -> Dataset:
    r"""
    The photos bundled with scikit-image and scikit-learn as an unlabelled dataset.

    Args:
        transform (callable): Maps an ``(H, W, 3)`` uint8 array to the model's input.
        names (sequence of str, optional): Which photos.
                    Default: all of :data:`EMBEDDED_PHOTOS`

    Returns:
        *TensorDataset* of transformed images (one tensor per item, label-free).
    """
    try:
        images = [transform(np.array(_photo(n))) for n in names]
    except ImportError as exc:
        raise DataSpecError(
            "the embedded photos need scikit-image and scikit-learn: pip install scikit-image scikit-learn"
        ) from exc
    return TensorDataset(torch.stack(images))


#: PIL modes of more than 8 bits per sample, with the largest value they hold.
_HIGH_DEPTH = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535}


def read_image(path: str) -> Any:
    r"""
    An image file as an RGB PIL image, as every transform takes it. PIL's RGB conversion saturates 16-bit
    files (every value above 255 becomes white), so they are scaled by their bit depth to 8 bits first. A
    mode whose range cannot be known (32-bit float, integers above 16 bits) raises a :class:`DataSpecError`
    naming the file.
    """
    from PIL import Image

    with Image.open(path) as im:
        if im.mode in _HIGH_DEPTH:
            a = np.asarray(im, dtype=np.int64)
            if a.min() < 0 or a.max() > _HIGH_DEPTH[im.mode]:
                raise DataSpecError(f"{path} holds {im.mode} values outside 0..65535; convert it to 8 or 16 bits")
            eight = np.rint(a * (255 / _HIGH_DEPTH[im.mode])).astype(np.uint8)
            return Image.fromarray(eight).convert("RGB")
        if im.mode == "F":
            raise DataSpecError(f"{path} is a 32-bit float image, whose range is unknown; convert it to 8 or 16 bits")
        return im.convert("RGB")


def _readable(path: str) -> str | None:
    r"""None if ``path`` opens as an image (its header is read), else why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            mode = im.mode
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if mode == "F":
        return "a 32-bit float image, whose range is unknown; convert it to 8 or 16 bits"
    return None


def image_folder(path: str, transform: Callable[[Tensor], Tensor], skip_bad_files: bool = False) -> Dataset:
    r"""
    A torchvision :class:`~torchvision.datasets.ImageFolder` (one sub-folder per class) whose
    files are checked before any computation.

    Every file is opened once up front (only its header is read): a file that is not a readable
    image raises a :class:`DataSpecError` naming it, or with ``skip_bad_files=True`` is left out
    with a warning naming it. A file that opens but fails to decode later does the same then.

    Args:
        path (str): The folder.
        transform (callable): Maps a PIL image to the model's input.
        skip_bad_files (bool, optional): Leave unreadable files out (with a warning) instead of
                    stopping.
                    Default: False

    Returns:
        *Dataset* of ``(image, class index)`` pairs; classes are the sorted sub-folder names.
    """
    if os.path.isfile(path):
        raise DataSpecError(
            f"data {path!r} is a file; give a folder of images in ImageFolder's layout (one sub-folder per class)"
        )
    if not os.path.isdir(path):
        raise DataSpecError(f"data folder {path!r} does not exist")
    try:
        dataset = CheckedImageFolder(path, transform=transform, skip_bad_files=skip_bad_files)
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataSpecError(f"no images found in {path!r}: {exc}") from exc
    if len(dataset) == 0:
        raise DataSpecError(f"no readable images in {path!r}")
    return dataset


class CheckedImageFolder(ImageFolder):
    r"""An :class:`~torchvision.datasets.ImageFolder` that names the files it cannot read (see :func:`image_folder`)."""

    def __init__(self, root: str, transform: Callable, skip_bad_files: bool = False) -> None:
        super().__init__(root, transform=transform, loader=read_image)
        self.skip_bad_files = skip_bad_files
        kept = []
        for sample in self.samples:
            why = _readable(sample[0])
            if why is None:
                kept.append(sample)
            elif skip_bad_files:
                warnings.warn(f"skipping {sample[0]}: not a readable image ({why})", stacklevel=2)
            else:
                raise DataSpecError(
                    f"{sample[0]} is not a readable image ({why}); remove it, or pass --skip-bad-files "
                    "to leave such files out"
                )
        self.samples = self.imgs = kept
        self.targets = [t for _, t in kept]

    def __getitem__(self, index: int) -> Any:
        try:
            return super().__getitem__(index)
        except DataSpecError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:
            path = self.samples[index][0]
            if not self.skip_bad_files:
                raise DataSpecError(f"{path} cannot be decoded ({type(exc).__name__}: {exc})") from exc
            warnings.warn(f"skipping {path}: it cannot be decoded ({exc})", stacklevel=2)
            return None


def first_image(dataset: Dataset) -> Tensor | None:
    r"""
    The first image of ``dataset`` that can be read (items that :class:`CheckedImageFolder` skipped as
    undecodable are None); None for an empty dataset.

    Raises:
        DataSpecError: when no item can be decoded.
    """
    for index in range(len(dataset)):
        item = dataset[index]
        if item is not None:
            return item[0]
    if len(dataset):
        raise DataSpecError("none of the images can be decoded (every file was skipped)")
    return None


def collate_readable(batch: list[Any]) -> Any:
    r"""``default_collate`` of the items that are not None (images skipped as unreadable)."""
    kept = [item for item in batch if item is not None]
    if not kept:
        return (torch.empty(0), torch.empty(0, dtype=torch.int64))
    return default_collate(kept)
