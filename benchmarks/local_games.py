"""The exact games of benchmarks/local_estimators.py: every coalition value of every image, and the split.

A game is one model on a few images at one number of square bands M (zero baseline, log-probability of the
class the model predicts). Its table holds all 2^M coalition values of each image, computed once with the
project's SpectralGame and cached in benchmarks/.cache/local_tables/, so exact Shapley values are known.

The games are split, in this file and before the estimator they judge was designed, into a development half
(DEVELOPMENT: what the automatic choice may be looked at on while it is designed) and a held-out half (HELD_OUT:
evaluated once, at the end). A held-out half is spent once it has been evaluated: the first one (FIRST_HELD_OUT)
judged the first per-image choice and has since been part of the development half, and a fresh one, fixed before
the choice was redesigned, took its place. No held-out image or (model, resolution) pair is in the development
half:

- development: a random CNN (seed 0) with weights ×1 and ×4 on 4 photos (chelsea, coffee, astronaut, rocket) and
  4 noise images (seed 1) at 32 px; the noise-trained Fashion-MNIST CNN on test images 0-7; EfficientNet-Lite0 at
  64 px on the same 4 photos; and the first held-out half: a random CNN (seed 2) with weights ×2 on 3 other photos
  (motorcycle, china, flower) and 5 noise images (seed 3); the standard Fashion-MNIST CNN on test images 8-15;
  EfficientNet-Lite1 at 96 px and EfficientNet-Lite2 at 160 px on those 3 photos.
- held-out: random CNNs of other seeds (×4 of seed 6, ×1 of seed 8) on 3 photos no other game uses (hubble deep
  field, retina, immunohistochemistry) and 5 noise images (seeds 7 and 9); both Fashion-MNIST CNNs on test images
  16-23 (noise-trained) and 24-31 (standard); EfficientNet-Lite0 at 128 px, Lite1 at 64 px and Lite2 at 96 px on
  the 3 new photos.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from fashion_mnist_data import fashion_mnist
from robustness_study import small_cnn as fashion_cnn

from captum_iaside import SpectralBands, load_model
from captum_iaside.cli.data import embedded_photos, preprocess
from captum_iaside.execution.workspace import Workspace
from captum_iaside.game.coalitions import coalition_matrix
from captum_iaside.game.spectral_game import SpectralGame
from captum_iaside.game.value_functions import ValueFunction
from captum_iaside.models.lite import LITE_MEAN, LITE_STD

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache", "local_tables")
DEV_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")
FIRST_HELD_OUT_PHOTOS = ("motorcycle", "china", "flower")
HELD_OUT_PHOTOS = ("hubble_deep_field", "retina", "immunohistochemistry")


@dataclass(frozen=True)
class Source:
    """A model and its images: ``load()`` returns both."""

    name: str
    load: Callable[[], tuple[torch.nn.Module, torch.Tensor]]
    bands: tuple[int, ...]


@dataclass(frozen=True)
class ExactGame:
    """One source at one M: ``table`` (images, 2^M) holds every coalition value (bit i of a column: band i)."""

    name: str
    n_bands: int
    table: torch.Tensor


def random_cnn(scale: float, seed: int) -> torch.nn.Module:
    """Two tanh convolutions with N(0, (0.5 · scale)²) weights: the larger the scale, the stronger the interactions."""
    g = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, padding=1),
        torch.nn.Tanh(),
        torch.nn.Conv2d(6, 6, 3, stride=2, padding=1),
        torch.nn.Tanh(),
        torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(24, 10),
    )
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5 * scale)
    return model.eval()


def photos_and_noise(photos: tuple[str, ...], n_noise: int, seed: int, size: int = 32) -> torch.Tensor:
    x = embedded_photos(preprocess(size, (0.5,) * 3, (0.5,) * 3), names=photos).tensors[0]
    return torch.cat([x, torch.randn(n_noise, 3, size, size, generator=torch.Generator().manual_seed(seed))])


def cnn_source(scale: float, seed: int, photos: tuple[str, ...], noise_seed: int) -> Source:
    return Source(
        f"random CNN ×{scale:g} (seed {seed})",
        lambda: (random_cnn(scale, seed), photos_and_noise(photos, 8 - len(photos), noise_seed)),
        (8, 10, 12, 16),
    )


def fashion_source(weights: str, label: str, first: int) -> Source:
    """One of the two Fashion-MNIST CNNs on test images ``first`` to ``first + 7``."""

    def load() -> tuple[torch.nn.Module, torch.Tensor]:
        model = fashion_cnn()
        path = os.path.join(HERE, "..", "docs", "robustness", weights)
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval(), fashion_mnist("test").tensors[0][first : first + 8]

    return Source(f"Fashion-MNIST CNN, {label}, test {first}-{first + 7}", load, (8, 10, 12))


def lite_source(digit: int, size: int, photos: tuple[str, ...], bands: tuple[int, ...]) -> Source:
    def load() -> tuple[torch.nn.Module, torch.Tensor]:
        x = embedded_photos(preprocess(size, LITE_MEAN, LITE_STD), names=photos).tensors[0]
        return load_model(f"efficientnet-lite{digit}").model, x

    return Source(f"EfficientNet-Lite{digit}, {size} px", load, bands)


FIRST_HELD_OUT = (
    cnn_source(2, 2, FIRST_HELD_OUT_PHOTOS, 3),
    fashion_source("standard.pt", "standard", 8),
    lite_source(1, 96, FIRST_HELD_OUT_PHOTOS, (8, 10, 12)),
    lite_source(2, 160, FIRST_HELD_OUT_PHOTOS, (8, 10)),
)
DEVELOPMENT = (
    cnn_source(1, 0, DEV_PHOTOS, 1),
    cnn_source(4, 0, DEV_PHOTOS, 1),
    fashion_source("noise_sigma_0.4.pt", "noise-trained", 0),
    lite_source(0, 64, DEV_PHOTOS, (8, 10, 12)),
    *FIRST_HELD_OUT,
)
HELD_OUT = (
    cnn_source(4, 6, HELD_OUT_PHOTOS, 7),
    cnn_source(1, 8, HELD_OUT_PHOTOS, 9),
    fashion_source("noise_sigma_0.4.pt", "noise-trained", 16),
    fashion_source("standard.pt", "standard", 24),
    lite_source(0, 128, HELD_OUT_PHOTOS, (8, 10, 12)),
    lite_source(1, 64, HELD_OUT_PHOTOS, (8, 10, 12)),
    lite_source(2, 96, HELD_OUT_PHOTOS, (8, 10)),
)
HALVES = {"development": DEVELOPMENT, "held-out": HELD_OUT}


def table(model: torch.nn.Module, x: torch.Tensor, m: int) -> torch.Tensor:
    """All 2^M coalition values of every image of ``x``, (images, 2^M) float64."""
    with torch.no_grad():
        y = model(x).argmax(1)
    game = SpectralGame(model, SpectralBands(m), x, torch.zeros_like(x[:1]), ValueFunction("log_prob"), y)
    game.workspace = Workspace(max(1, 512 // x.shape[0]))
    z = coalition_matrix(m)
    return torch.cat([game.values(z[i : i + 4096]) for i in range(0, z.shape[0], 4096)], dim=1).double()


def exact_games(half: str) -> list[ExactGame]:
    """The games of ``half`` ("development" or "held-out"), their tables computed once and cached."""
    os.makedirs(CACHE, exist_ok=True)
    out = []
    for source in HALVES[half]:
        loaded = None
        for m in source.bands:
            path = os.path.join(CACHE, f"{source.name}, M={m}.pt".replace("/", "_").replace(" ", "_"))
            if not os.path.exists(path):
                try:
                    loaded = loaded or source.load()
                except FileNotFoundError as exc:  # Fashion-MNIST needs Debian's dataset-fashion-mnist
                    print(f"skipped {source.name}: {exc}")
                    break
                torch.save(table(*loaded, m), path)
            out.append(ExactGame(source.name, m, torch.load(path)))
    return out
