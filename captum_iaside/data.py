r"""Images for the command line: the embedded photos (no download) and image folders."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, TensorDataset
from torchvision.transforms import v2

#: Real photos bundled with scikit-image and scikit-learn (name -> loader of an HWC uint8 array).
EMBEDDED_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "motorcycle", "china", "flower")


#: Where Debian's package ``dataset-fashion-mnist`` puts Fashion-MNIST.
FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"


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


def image_folder(path: str, transform: Callable[[Tensor], Tensor]) -> Dataset:
    r"""A torchvision :class:`~torchvision.datasets.ImageFolder` (one sub-folder per class)."""
    from torchvision.datasets import ImageFolder

    if not os.path.isdir(path):
        raise DataSpecError(f"data folder {path!r} does not exist")
    try:
        return ImageFolder(path, transform=transform)
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataSpecError(f"no images found in {path!r}: {exc}") from exc


def _read_idx(path: str) -> np.ndarray:
    import gzip

    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(split: str = "train", root: str = FASHION_MNIST_ROOT) -> TensorDataset:
    r"""
    Fashion-MNIST from its IDX files (as installed by ``apt-get install dataset-fashion-mnist``).

    Args:
        split (str, optional): ``"train"`` (60,000 images) or ``"test"`` (10,000).
                    Default: ``"train"``
        root (str, optional): Folder of the ``*-idx*-ubyte.gz`` files.
                    Default: :data:`FASHION_MNIST_ROOT`

    Returns:
        *TensorDataset* of images ``(N, 1, 28, 28)`` in ``[0, 1]`` and int64 labels ``(N,)``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    prefix = "train" if split == "train" else "t10k"
    images = os.path.join(root, f"{prefix}-images-idx3-ubyte.gz")
    if not os.path.exists(images):
        raise DataSpecError(f"Fashion-MNIST not found in {root!r}: on Debian, apt-get install dataset-fashion-mnist")
    x = torch.from_numpy(_read_idx(images).copy()).float().div_(255)[:, None]
    y = torch.from_numpy(_read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")).copy()).long()
    return TensorDataset(x, y)
