"""Runs shapiq's estimators on stored games, in shapiq's own environment (numpy only; no captum-iaside).

    PYTHON_OF_SHAPIQ benchmarks/peer_shapiq.py GAMES.npz OUT.npz

GAMES.npz holds ``tables`` (G, 2^M) — every coalition value of each game, coalition T holding player i
iff bit i of T is set — ``budgets`` and ``seeds``. OUT.npz gets, for each of shapiq's estimators in
``PEERS`` (kADDSHAP of max_order 2, KernelSHAP with the pairing trick, SVARM, permutation sampling), a
(budgets, seeds, G, M) array of its Shapley value estimates.
"""

import sys

import numpy as np
from shapiq.approximator import SVARM, KernelSHAP, PermutationSamplingSV, kADDSHAP

PEERS = {
    "kadd": lambda m, seed: kADDSHAP(n=m, max_order=2, random_state=seed),
    "kernel": lambda m, seed: KernelSHAP(n=m, pairing_trick=True, random_state=seed),
    "svarm": lambda m, seed: SVARM(n=m, random_state=seed),
    "permutation": lambda m, seed: PermutationSamplingSV(n=m, random_state=seed),
}


def first_order(values, m):
    return np.array([values[(i,)] for i in range(m)])


def main() -> None:
    games = np.load(sys.argv[1])
    tables, budgets, seeds = games["tables"], games["budgets"], games["seeds"]
    m = int(np.log2(tables.shape[1]))
    powers = 2 ** np.arange(m)
    out = {name: np.zeros((len(budgets), len(seeds), len(tables), m)) for name in PEERS}
    for g, table in enumerate(tables):

        def game(coalitions, table=table):
            return table[(np.atleast_2d(np.asarray(coalitions, dtype=np.int64)) * powers).sum(axis=1)]

        for b, budget in enumerate(budgets):
            for s, seed in enumerate(seeds):
                for name, make in PEERS.items():
                    estimate = make(m, int(seed)).approximate(int(budget), game)
                    out[name][b, s, g] = first_order(estimate, m)
    np.savez(sys.argv[2], **out)


if __name__ == "__main__":
    main()
