r"""A model named as the command line names it, to the loader of its kind."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from captum_iaside.models.files import load_factory, load_file
from captum_iaside.models.hugging_face import load_hugging_face
from captum_iaside.models.lite import LITE_RESOLUTION, load_efficientnet_lite
from captum_iaside.models.loaded import IMAGENET_MEAN, IMAGENET_STD, LoadedModel, ModelSpecError, no_weights
from captum_iaside.models.timm_zoo import load_timm
from captum_iaside.models.torchvision_zoo import load_torchvision
from captum_iaside.models.weights import weights_file


def _spec_kind(spec: str) -> str:
    r"""
    Which loader ``spec`` names, in the order :func:`load_model` tries them: ``"lite"``, ``"torchvision"``,
    ``"timm"``, ``"hf"``, ``"file"`` (TorchScript, or a pickle), ``"factory"`` (``module:factory``) or
    ``"unknown"``.
    """
    if spec in LITE_RESOLUTION:
        return "lite"
    for prefix in ("torchvision", "timm", "hf"):
        if spec.startswith(f"{prefix}:"):
            return prefix
    if os.path.isfile(spec):
        return "file"
    if ":" in spec and not spec.startswith((".", "/")):
        return "factory"
    return "unknown"


def _check_weights(spec: str, kind: str, weights: str | None) -> None:
    r"""
    ``weights`` as a ``kind`` of model can take them: ``DEFAULT``, ``none`` or a state-dict file; torchvision
    also takes its weight names; a TorchScript file holds its own and a factory builds its own.
    """
    if weights is None or weights == "DEFAULT" or kind == "torchvision":
        return
    file, none = weights_file(weights) is not None, no_weights(weights)
    if kind == "file" and (file or none):
        raise ModelSpecError(f"{spec} holds its own weights; --weights FILE or none needs an architecture as --model")
    if kind == "factory" and none:
        raise ModelSpecError(
            f"{spec} builds its own weights: --weights takes DEFAULT (as it builds them) or a state-dict file"
        )
    if not (file or none):
        hint = (
            f"; for one of timm's pretrained tags, name it in the model: timm:{spec[5:]}.TAG" if kind == "timm" else ""
        )
        raise ModelSpecError(
            f"{spec} takes --weights DEFAULT, none or a state-dict file, not {weights!r} (weight names are "
            f"torchvision's){hint}"
        )


def load_model(
    spec: str,
    weights: str | None = "DEFAULT",
    model_args: Mapping[str, Any] | None = None,
    allow_pickle: bool = False,
) -> LoadedModel:
    r"""
    Load a model from a command-line specification, with the input pipeline its weights expect.

    Args:
        spec (str): ``efficientnet-lite0|1|2`` (embedded weights), ``torchvision:NAME``,
                    ``timm:NAME`` (timm's registry, with timm's data configuration),
                    ``hf:PATH_OR_ID`` (a Hugging Face image classifier: a ``save_pretrained`` folder,
                    or a hub id where there is internet, with its processor's size), the path
                    of a TorchScript file, or ``module:factory`` (a callable returning a model or
                    a :class:`LoadedModel`, imported from the current directory or the Python path).
        weights (str, optional): ``DEFAULT`` (the zoo's default weights: embedded, downloaded by
                    torchvision/timm where there is internet, a Hugging Face folder's own), a
                    torchvision weight name (``IMAGENET1K_V1``), ``none`` (random weights, seeded so a
                    checkpointed run resumes), or the path of a local state-dict file (``.pt``,
                    ``.pth``, ``.safetensors``; ``{"state_dict": ...}`` and DDP's ``module.``
                    prefix are unwrapped) for any architecture.
                    Default: ``"DEFAULT"``
        model_args (mapping, optional): Keyword arguments of the builder: ``timm.create_model``,
                    ``torchvision.models.get_model`` or the factory (e.g. ``{"num_classes": 10}``).
                    Default: None
        allow_pickle (bool, optional): Load a ``torch.save``'d full model as ``spec``. Refused by
                    default, because unpickling runs the code the file holds.
                    Default: False

    Returns:
        :class:`LoadedModel`; TorchScript and factory models get 224 px ImageNet preprocessing
        unless the factory returns a :class:`LoadedModel` itself.

    Examples::

        >>> loaded = load_model("timm:resnet18", weights="none", model_args={"num_classes": 10})
        >>> loaded.resolution, loaded.model.fc.out_features
        (224, 10)
    """
    model_args = dict(model_args or {})
    kind = _spec_kind(spec)
    _check_weights(spec, kind, weights)
    if model_args and kind not in ("torchvision", "timm", "factory"):
        raise ModelSpecError(f"{spec} takes no --model-arg; only torchvision:, timm: and module:factory models do")
    name = spec.split(":", 1)[1] if kind in ("torchvision", "timm", "hf") else spec
    if kind == "lite":
        return load_efficientnet_lite(spec, weights)
    if kind == "torchvision":
        return load_torchvision(name, weights, model_args)
    if kind == "timm":
        return load_timm(name, weights, model_args)
    if kind == "hf":
        return load_hugging_face(name, weights)
    if kind == "file":
        model = load_file(spec, allow_pickle)
        return LoadedModel(os.path.basename(spec), model.eval(), 224, IMAGENET_MEAN, IMAGENET_STD)
    if kind == "factory":
        return load_factory(spec, weights, model_args)
    raise ModelSpecError(
        f"unknown model {spec!r}: expected efficientnet-lite0|1|2, torchvision:NAME, timm:NAME, hf:PATH, "
        "a TorchScript file or module:factory"
    )
