r"""Percentile intervals of bootstrap replicates."""

from __future__ import annotations

import torch
from torch import Tensor


def percentile_interval(samples: Tensor, confidence: float) -> Tensor:
    r"""``(2, ...)``: the lower and upper ``confidence`` percentiles of ``samples`` along its first axis."""
    q = torch.tensor([(1 - confidence) / 2, (1 + confidence) / 2], dtype=torch.float64, device=samples.device)
    return torch.quantile(samples.to(torch.float64), q, dim=0)
