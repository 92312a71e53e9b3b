r"""Fashion-MNIST from Debian's ``dataset-fashion-mnist`` (offline), for the benchmarks and tests.

Debian ships the four IDX files gzipped in :data:`FASHION_MNIST_ROOT`; torchvision's
:class:`~torchvision.datasets.FashionMNIST` reads them once they are unpacked into its ``raw`` folder.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from torch.utils.data import TensorDataset
from torchvision.datasets import FashionMNIST

#: Where Debian's package ``dataset-fashion-mnist`` puts Fashion-MNIST.
FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "captum-iaside"


def fashion_mnist(split: str = "train", root: str = FASHION_MNIST_ROOT) -> TensorDataset:
    r"""
    Fashion-MNIST as installed by ``apt-get install dataset-fashion-mnist``.

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
    files = sorted(Path(root).glob("*-ubyte.gz"))
    if len(files) != 4:
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {root!r}: on Debian, apt-get install dataset-fashion-mnist"
        )
    raw = _CACHE / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in files:
        if not (raw / gz.stem).exists():
            (raw / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    data = FashionMNIST(str(_CACHE), train=split == "train")
    return TensorDataset(data.data[:, None].float().div_(255), data.targets.long())
