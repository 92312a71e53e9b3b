r"""SHA-256 digests of tensors: what identifies weights, data and baselines in a checkpoint's fingerprint."""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import Tensor


def update_digest(h: Any, tensors: list[tuple[str, Tensor]]) -> None:
    r"""Feed ``(name, tensor)`` pairs (name, dtype, shape and bytes) into the hash ``h``."""
    for name, t in tensors:
        t = t.detach()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        if t.numel():
            h.update(t.to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())


def tensor_digest(t: Tensor) -> str:
    r"""A short SHA-256 digest of one tensor's dtype, shape and values."""
    h = hashlib.sha256()
    update_digest(h, [("tensor", t)])
    return h.hexdigest()[:16]
