r"""The second pass of a global run: the first pass's per-image estimates kept, and averaged with fresh draws.

Pure functions over the stored estimates; :class:`~captum_iaside.global_run.state.RunState` keeps the store and
applies them.
"""

from __future__ import annotations

import math

from torch import Tensor

from captum_iaside.estimators.base import BandShapley

#: One model's stored estimates of a batch: ``values``, ``v_empty``, ``v_full`` and ``target`` (or None), on the CPU.
StoredEstimates = dict[str, Tensor | None]


def stored_estimates(results: dict[str, BandShapley]) -> dict[str, StoredEstimates]:
    r"""Each model's estimates of a batch as tensors on the CPU, to be averaged in on the second pass."""
    return {
        name: {
            "values": r.values.detach().cpu(),
            "v_empty": r.v_empty.detach().cpu(),
            "v_full": r.v_full.detach().cpu(),
            "target": None if r.target is None else r.target.detach().cpu(),
        }
        for name, r in results.items()
    }


def restored_estimates(d: StoredEstimates, rows: slice) -> BandShapley:
    r"""The stored estimates of the images ``rows`` as a :class:`BandShapley`."""
    target = None if d["target"] is None else d["target"][rows]
    return BandShapley(d["values"][rows], d["v_empty"][rows], d["v_full"][rows], target, 0)


def weighted_average(old: BandShapley, new: BandShapley, w_old: float, w_new: float) -> BandShapley:
    r"""The first pass's estimates (weight ``w_old``) and the second's (``w_new``; infinite: the new alone) averaged."""
    if math.isinf(w_new):
        return BandShapley(new.values.cpu(), new.v_empty.cpu(), new.v_full.cpu(), old.target, new.evaluations)
    a, b = w_old / (w_old + w_new), w_new / (w_old + w_new)
    return BandShapley(
        a * old.values + b * new.values.cpu(),
        a * old.v_empty + b * new.v_empty.cpu(),
        a * old.v_full + b * new.v_full.cpu(),
        old.target,
        new.evaluations,
    )
