"""Runs shapiq's estimators on stored games, in shapiq's own environment (numpy only; no captum-iaside).

    PYTHON_OF_SHAPIQ benchmarks/peer_shapiq.py GAMES.npz OUT.npz

GAMES.npz holds ``tables`` (G, 2^M) — every coalition value of each game, coalition T holding player i
iff bit i of T is set — ``budgets`` and ``seeds``. OUT.npz gets ``kadd`` and ``kernel``: (budgets, seeds,
G, M) first-order Shapley estimates of kADDSHAP (max_order 2) and paired KernelSHAP.
"""

import sys

import numpy as np
from shapiq.approximator import KernelSHAP, kADDSHAP


def first_order(values, m):
    return np.array([values[(i,)] for i in range(m)])


def main() -> None:
    games = np.load(sys.argv[1])
    tables, budgets, seeds = games["tables"], games["budgets"], games["seeds"]
    m = int(np.log2(tables.shape[1]))
    powers = 2 ** np.arange(m)
    out = {name: np.zeros((len(budgets), len(seeds), len(tables), m)) for name in ("kadd", "kernel")}
    for g, table in enumerate(tables):

        def game(coalitions, table=table):
            return table[(np.asarray(coalitions, dtype=np.int64) * powers).sum(axis=1)]

        for b, budget in enumerate(budgets):
            for s, seed in enumerate(seeds):
                kadd = kADDSHAP(n=m, max_order=2, random_state=int(seed))
                kernel = KernelSHAP(n=m, pairing_trick=True, random_state=int(seed))
                out["kadd"][b, s, g] = first_order(kadd.approximate(int(budget), game), m)
                out["kernel"][b, s, g] = first_order(kernel.approximate(int(budget), game), m)
    np.savez(sys.argv[2], **out)


if __name__ == "__main__":
    main()
