r"""Weights from local files: state dicts read without running code, and loaded into a model that they must fit."""

from __future__ import annotations

import os
import pickle

import torch
from torch import nn

from captum_iaside.models.loaded import ModelSpecError, no_weights


def weights_file(weights: str | None) -> str | None:
    r"""``weights`` if it names a local file; None for ``DEFAULT``, a zoo's weight name or ``none``."""
    if weights is None or no_weights(weights):
        return None
    if os.path.isfile(weights):
        return weights
    if weights.endswith((".pt", ".pth", ".bin", ".safetensors", ".ckpt")) or os.sep in weights:
        raise ModelSpecError(f"weights file {weights!r} does not exist")
    return None


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
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
    state, own = read_state_dict(path), model.state_dict()
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
