r"""Models of timm's registry, with timm's data configuration (resolution, normalisation, crop)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from captum_iaside.models.loaded import LoadedModel, ModelSpecError, build, no_weights, seeded, unknown_model
from captum_iaside.models.weights import load_weights, weights_file


def load_timm(name: str, weights: str | None, model_args: Mapping[str, Any]) -> LoadedModel:
    r"""A model of timm's registry with timm's data configuration (resolution, normalisation, crop)."""
    try:
        import timm
        from timm.data import create_transform, resolve_data_config
    except ImportError as exc:
        raise ModelSpecError(f"timm:{name} needs timm: pip install timm (or captum-iaside[zoo])") from exc
    available = timm.list_models()
    if name not in available:
        raise unknown_model("timm", name, available)
    file = weights_file(weights)
    try:
        pretrained = not no_weights(weights) and file is None
        with seeded():
            model = build(timm.create_model, name, f"timm:{name}", model_args, pretrained=pretrained)
    except (OSError, RuntimeError) as exc:  # the pretrained weights must be downloaded
        raise ModelSpecError(
            f"the pretrained weights of timm:{name} could not be loaded ({type(exc).__name__}); without internet, "
            "pass --weights none (weights='none') for random weights"
        ) from exc
    if file is not None:
        load_weights(model, file, f"timm:{name}")
    config = resolve_data_config({}, model=model)
    side = int(config["input_size"][-1])
    mean, std = tuple(config["mean"]), tuple(config["std"])
    return LoadedModel(f"timm:{name}", model.eval(), side, mean, std, transform=create_transform(**config))
