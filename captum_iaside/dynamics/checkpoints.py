r"""The models of a training run saved as checkpoints, loaded one at a time for
:meth:`SpectralMonitor.measure_checkpoints <captum_iaside.dynamics.SpectralMonitor.measure_checkpoints>`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from captum_iaside.models.files import load_file
from captum_iaside.models.loaded import ModelSpecError
from captum_iaside.models.weights import load_weights, read_state_dict


def checkpoint_steps(
    checkpoints: Sequence[str | os.PathLike] | Mapping[int, str | os.PathLike], steps: Sequence[int] | None
) -> dict[int, str]:
    r"""
    Step → checkpoint path, every path checked to be a file before any is loaded.

    Args:
        checkpoints (sequence or mapping): Paths in the order of training, or step → path.
        steps (sequence of int, optional): The steps of a sequence of paths. Default: 0, 1, 2, …
    """
    if isinstance(checkpoints, Mapping):
        if steps is not None:
            raise ValueError("steps must be None when checkpoints maps steps to paths")
        pairs = list(checkpoints.items())
    elif isinstance(checkpoints, (str, os.PathLike)) or not isinstance(checkpoints, Sequence):
        raise TypeError(f"checkpoints must be a list of paths or a dict step -> path, got {type(checkpoints).__name__}")
    else:
        steps = list(range(len(checkpoints))) if steps is None else list(steps)
        if len(steps) != len(checkpoints):
            raise ValueError(f"steps has {len(steps)} entries for {len(checkpoints)} checkpoints")
        pairs = list(zip(steps, checkpoints, strict=True))
    if not pairs:
        raise ValueError("checkpoints is empty")
    out: dict[int, str] = {}
    for step, path in pairs:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"checkpoints[{step!r}] must be a path, got {type(path).__name__}")
        if not os.path.isfile(path):
            raise ValueError(f"checkpoints[{step!r}]: {os.fspath(path)!r} is not a file")
        if step in out:
            raise ValueError(f"steps: step {step!r} is given twice")
        out[step] = os.fspath(path)
    return out


def load_checkpoint(step: Any, path: str, model: Callable[[], nn.Module] | None) -> nn.Module:
    r"""
    The model of one checkpoint: a state dict loaded into ``model()`` (a factory of the architecture), or a
    TorchScript file where ``model`` is None. A file that does not load raises ``ValueError`` naming it.
    """
    if isinstance(model, nn.Module):
        raise TypeError("model must be a factory of the architecture (lambda: Net()), not a module")
    try:
        if model is None:
            return _torchscript(path)
        module = model()
        if not isinstance(module, nn.Module):
            raise TypeError(f"model must be a factory returning a torch.nn.Module, it returned {type(module).__name__}")
        load_weights(module, path, getattr(model, "__name__", "the model"))
        return module
    except ModelSpecError as exc:
        raise ValueError(f"checkpoints[{step!r}] does not load: {exc}") from exc


def _torchscript(path: str) -> nn.Module:
    r"""A TorchScript file; a state dict is refused with what to pass instead."""
    try:
        return load_file(path, allow_pickle=False)
    except ModelSpecError as not_script:
        try:
            read_state_dict(path)
        except ModelSpecError:
            raise not_script from None
    raise ModelSpecError(f"{path} is a state dict, not a TorchScript model: pass model=<a factory of the architecture>")
