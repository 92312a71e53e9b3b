r"""Models in files and modules: TorchScript, ``torch.save``'d full models (asked for), and ``module:factory``."""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from captum_iaside.models.loaded import IMAGENET_MEAN, IMAGENET_STD, LoadedModel, ModelSpecError, build, seeded
from captum_iaside.models.weights import load_weights, weights_file


def load_file(spec: str, allow_pickle: bool) -> nn.Module:
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


def load_factory(spec: str, weights: str | None, model_args: Mapping[str, Any]) -> LoadedModel:
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
                made = build(factory, None, spec, model_args)
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
