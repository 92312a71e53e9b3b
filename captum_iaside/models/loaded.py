r"""What every loader returns: the model with the input pipeline it expects; and the error of a spec that fails."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


def unknown_model(zoo: str, name: str, available: list[str], examples: str = "") -> ModelSpecError:
    r"""The error for a name ``zoo`` lacks: with the names closest to it, else with ``examples`` where given."""
    close = difflib.get_close_matches(name, available, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else (f"; e.g. {examples}" if examples else "")
    return ModelSpecError(f"{zoo} has no model {name!r}{hint}")


def no_weights(weights: str | None) -> bool:
    r"""Whether ``weights`` asks for random weights (``none``)."""
    return weights in (None, "none", "None")


def build(make: Callable[..., Any], name: str | None, spec: str, model_args: Mapping[str, Any], **kwargs: Any) -> Any:
    r"""``make(name, **kwargs, **model_args)``; a keyword the builder does not take is one line naming it."""
    args = (name,) if name is not None else ()
    try:
        return make(*args, **kwargs, **model_args)
    except TypeError as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in model_args.items()) or "no arguments"
        raise ModelSpecError(f"{spec} cannot be built with {given} (--model-arg): {exc}") from exc
