r"""What a resumed run checks before it trusts a checkpoint: the same data, the same models, the same end.

A checkpoint is refused (and left untouched) when the data yield another batch than the one it digested, when a
finished run's data hold more or fewer batches than it read, or when a model (or the value or baseline) gives
other values ``v(∅)`` and ``v(N)`` on the first batch than it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from captum_iaside.global_run.batches import split_batch
from captum_iaside.global_run.checkpoint import batch_digest
from captum_iaside.global_run.state import RunState


def digest_of_batch(batch: dict[str, Any]) -> str:
    r"""The digest of one batch of every model's data (what :func:`check_digest` compares)."""
    return "/".join(batch_digest(*split_batch(b)) for b in batch.values())


def check_digest(k: int, digest: str, st: RunState, checkpoint: str | None) -> None:
    r"""
    Compare the ``digest`` of batch ``k`` with the one the first pass recorded (as the batch was first seen): a
    resumed run or a second pass on other data is refused, naming the first batch that differs, before anything
    is written. A batch the first pass has not seen yet passes.
    """
    if k < len(st.batch_digests) and digest != st.batch_digests[k]:
        where = "the checkpoint was written with" if st.pass_index == 0 else "the first pass read"
        raise ValueError(
            f"batch {k} of the data differs from the batch {k} {where}: resuming needs data that yield "
            f"the same batches in the same order (checkpoint {checkpoint!r} left untouched)"
        )


def check_finished(batches: Iterable[dict[str, Any]], st: RunState, checkpoint: str | None) -> None:
    r"""
    A finished checkpoint's result is returned only for the data it was computed from: every batch its run
    read is read again (no forward) and compared with its digest, and where that run read the data to their
    end, the data must end there too. Refused otherwise, naming the first batch that differs or the change
    in the number of batches, with the checkpoint left untouched.
    """
    read = len(st.batch_digests)
    to_the_end = st.exhausted or st.pass_index > 0  # a second pass starts only after the first read everything
    seen = 0
    for k, batch in enumerate(batches):
        if k == read:
            if to_the_end:
                raise ValueError(
                    f"the data hold more than the {read} batches ({st.images_first_pass or st.images_done} "
                    f"images) that the finished checkpoint {checkpoint!r} was computed from; it was left "
                    "untouched: pass another checkpoint path or delete it"
                )
            return
        check_digest(k, digest_of_batch(batch), st, checkpoint)
        seen = k + 1
    if seen < read:
        raise ValueError(
            f"the data end after {seen} batches, but the finished checkpoint {checkpoint!r} was computed "
            f"from {read}; it was left untouched: pass another checkpoint path or delete it"
        )


def check_probe(
    first: dict[str, Any], st: RunState, checkpoint: str | None, game_of: Callable[[str, Tensor, Any, int], Any]
) -> None:
    r"""
    Identify each model (and the value and baseline) by what it does: ``v(∅)`` and ``v(N)`` of the first
    batch, stored when it was first evaluated, are computed again by ``game_of(name, images, labels, n)`` (the game
    of the first ``n`` images for model ``name``) and must agree. A plain function has no weights to digest; this
    is what tells two of them apart.
    """
    for name, batch in first.items():
        stored = st.probe.get(name)
        if stored is None:
            continue
        x, y = split_batch(batch)
        n = stored["v_full"].shape[0]
        game = game_of(name, x, y, n)
        for key, now in (("v_empty", game.v_empty()), ("v_full", game.v_full())):
            before = stored[key].to(torch.float64)
            # loose enough for another device or kernel (TF32 convolutions differ by ~1e-3), far tighter
            # than two models differ
            scale = max(1.0, float(before.abs().nan_to_num(0.0).max()))
            if not torch.allclose(now.cpu(), before, rtol=5e-3, atol=5e-3 * scale, equal_nan=True):
                gap = float((now.cpu() - before).abs().nan_to_num(float("inf")).max())
                what = "v(∅) (the baseline's value)" if key == "v_empty" else "v(N) (the image's value)"
                raise ValueError(
                    f"checkpoint {checkpoint!r} was written for a model, value or baseline that behaves "
                    f"differently: {what} of the first batch differs for model {name!r} (max |difference| "
                    f"{gap:.3g}); it was left untouched: pass another checkpoint path or delete it"
                )
