r"""Models of torchvision's registry, with the transforms of their weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from captum_iaside.models.loaded import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LoadedModel,
    ModelSpecError,
    build,
    no_weights,
    seeded,
    unknown_model,
)
from captum_iaside.models.weights import load_weights, weights_file


def load_torchvision(name: str, weights: str | None, model_args: Mapping[str, Any]) -> LoadedModel:
    r"""A model of torchvision's registry (``weights`` as torchvision names them; may download)."""
    import torchvision

    available = torchvision.models.list_models()
    if name not in available:
        raise unknown_model("torchvision", name, available, "resnet18, resnet50, vit_b_16")
    file, w = weights_file(weights), None
    if not no_weights(weights) and file is None:
        try:
            w = torchvision.models.get_model_weights(name)[weights]
        except (ValueError, KeyError) as exc:
            raise ModelSpecError(f"torchvision model {name!r} has no weights {weights!r}") from exc
    try:
        with seeded():
            model = build(torchvision.models.get_model, name, f"torchvision:{name}", model_args, weights=w).eval()
    except (OSError, RuntimeError) as exc:  # URLError is an OSError: the weights must be downloaded
        raise ModelSpecError(
            f"the weights {weights!r} of torchvision:{name} could not be loaded ({type(exc).__name__}: {exc}); "
            "without internet, pass --weights none (weights='none') for random weights, or an embedded model "
            "(efficientnet-lite0|1|2)"
        ) from exc
    if file is not None:
        load_weights(model, file, f"torchvision:{name}")
    if w is None:
        return LoadedModel(f"torchvision:{name}", model, 224, IMAGENET_MEAN, IMAGENET_STD)
    t = w.transforms()
    size = int(t.crop_size[0]) if hasattr(t, "crop_size") else 224
    mean, std = tuple(getattr(t, "mean", IMAGENET_MEAN)), tuple(getattr(t, "std", IMAGENET_STD))
    return LoadedModel(f"torchvision:{name}", model, size, mean, std, transform=t)
