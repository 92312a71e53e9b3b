r"""The second pass of a global run: the first pass's per-image estimates kept, and averaged with fresh draws."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from captum_iaside.estimators.base import BandShapley
from captum_iaside.global_run.state import RunState


def stored_estimates(results: dict[str, BandShapley]) -> dict[str, dict[str, Tensor | None]]:
    return {
        name: {
            "values": r.values.detach().cpu(),
            "v_empty": r.v_empty.detach().cpu(),
            "v_full": r.v_full.detach().cpu(),
            "target": None if r.target is None else r.target.detach().cpu(),
        }
        for name, r in results.items()
    }


def restored_estimates(d: dict[str, Tensor | None], rows: slice) -> BandShapley:
    target = None if d["target"] is None else d["target"][rows]
    return BandShapley(d["values"][rows], d["v_empty"][rows], d["v_full"][rows], target, 0)


def stored_images(st: RunState, k: int) -> int:
    if not st.store or k not in st.store:
        return 0
    return int(next(iter(st.store[k].values()))["values"].shape[0])


def weighted_average(old: BandShapley, new: BandShapley, w_old: float, w_new: float) -> BandShapley:
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


def replace_estimates(
    st: RunState,
    k: int,
    results: dict[str, BandShapley],
    weights: Tensor | None,
    ids: Tensor | None,
    w_old: float,
    w_new: float,
) -> None:
    r"""
    Second pass: batch ``k``'s first-pass estimates (weight ``w_old``) averaged with the new ``results`` (weight
    ``w_new``) take their place in the state's statistics and store.
    """
    n = next(iter(results.values())).values.shape[0]
    old = {name: restored_estimates(st.store[k][name], slice(0, n)) for name in results}
    combined = {name: weighted_average(old[name], res, w_old, w_new) for name, res in results.items()}
    st.add(old, weights, ids, remove=True)
    st.add(combined, weights, ids)
    for name, new in stored_estimates(combined).items():  # the images past n keep their first estimate
        for key, t in new.items():
            if t is not None:
                st.store[k][name][key] = torch.cat([t, st.store[k][name][key][n:]])
