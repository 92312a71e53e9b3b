r"""The random streams of a global run.

Batch ``k`` of pass ``p`` on rank ``r`` draws its baseline, its coalitions and its bootstrap weights
from three generators seeded by ``(seed, r, p, k, stream)``, so a resumed or distributed run draws
exactly what an uninterrupted one draws; the stratified order of a rank's images comes from a fourth,
``(seed, r, 0, 0, STRATA_STREAM)``. The bootstrap weights do not depend on the pass, so an image
keeps its weights when it is seen again.
"""

from __future__ import annotations

import numpy as np
import torch

BASELINE_STREAM, ESTIMATOR_STREAM, BOOTSTRAP_STREAM, STRATA_STREAM = 0, 1, 2, 3


def batch_generator(seed: int, rank: int, pass_index: int, batch_index: int, stream: int) -> torch.Generator:
    r"""A CPU generator for one random stream of batch ``batch_index`` of pass ``pass_index``."""
    key = [int(seed), int(rank), int(pass_index), int(batch_index), int(stream)]
    state = np.random.SeedSequence(key).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def clone_generator(generator: torch.Generator) -> torch.Generator:
    g = torch.Generator()
    g.set_state(generator.get_state())
    return g
