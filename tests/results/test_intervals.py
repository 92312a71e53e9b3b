import math

import numpy as np
import pytest
import torch
from reference import anchored_by_hand, candidates_by_hand, sid_by_hand, srs_by_hand

from captum_iaside import (
    FourierGrid,
    OrientedBands,
    SpectralImportance,
    spectral_importance_distribution,
    spectral_robustness_score,
)
from captum_iaside.results.intervals import percentile_interval, srs_interval, weakest_candidates
from captum_iaside.results.summaries import anchored_sid_rows, sid_rows, srs_rows


def replicates(psi, n_images=40, n_reps=200, seed=0):
    """Per-image values around ``psi`` (sd 0.3 per band) and their Poisson bootstrap replicates of the mean."""
    g = torch.Generator().manual_seed(seed)
    phi = torch.tensor(psi, dtype=torch.float64) + 0.3 * torch.randn(
        n_images, len(psi), generator=g, dtype=torch.float64
    )
    w = torch.poisson(torch.ones(n_reps, n_images, dtype=torch.float64), generator=g)
    return phi, (w @ phi) / w.sum(1, keepdim=True)


TIE = [2.0, 1.2, 0.8, 0.5, 0.1, 0.1]  # bands 4 and 5 tie
SEPARATED = [2.0, 1.2, 0.8, 0.5, 0.1, -0.9]


def test_anchored_sid_is_the_sid_at_the_weakest_band_and_raises_lower_bands_elsewhere():
    reps = torch.tensor([[2.5, 1.0, 0.0, 0.5], [1.0, 2.0, 0.3, 0.4]], dtype=torch.float64)
    assert torch.allclose(anchored_sid_rows(reps, 2), sid_rows(reps))
    assert torch.allclose(anchored_sid_rows(reps, 3), torch.tensor(anchored_by_hand(reps.numpy(), 3)))
    assert torch.equal(anchored_sid_rows(torch.ones(1, 3), 1), torch.full((1, 3), 1 / 3))  # all equal: uniform
    with pytest.raises(ValueError, match="anchor"):
        anchored_sid_rows(reps, 4)


@pytest.mark.parametrize("psi, expected", [(TIE, [4, 5]), (SEPARATED, [5])])
def test_weakest_candidates_against_numpy(psi, expected):
    phi, reps = replicates(psi)
    values = phi.mean(0)
    got = weakest_candidates(reps, values, 0.95)
    assert list(got) == candidates_by_hand(reps.numpy(), values.numpy(), 0.95)
    assert sorted(got) == expected and got[0] == int(values.argmin())


def test_a_nan_replicate_keeps_its_ring_a_candidate():
    # band 2 is far above the weakest (band 5), but a NaN replicate leaves its difference unknown: keep it
    phi, reps = replicates(SEPARATED)
    reps[3, 2] = math.nan
    got = weakest_candidates(reps, phi.mean(0), 0.95)
    assert got == (5, 2)
    assert list(got) == candidates_by_hand(reps.numpy(), phi.mean(0).numpy(), 0.95)


def test_the_srs_interval_is_the_percentile_one_where_the_minimum_is_identified():
    phi, reps = replicates(SEPARATED)
    interval = srs_interval(reps, phi.mean(0), 0.95)
    assert interval.candidates == (5,)
    expected = np.percentile(srs_by_hand(sid_by_hand(reps.numpy())), [2.5, 97.5])
    assert (interval.low, interval.high) == pytest.approx(tuple(expected), abs=1e-12)


def test_the_srs_interval_at_a_tie_is_the_hull_over_the_candidates():
    phi, reps = replicates(TIE)
    interval = srs_interval(reps, phi.mean(0), 0.95)
    assert sorted(interval.candidates) == [4, 5]
    ends = np.array([np.percentile(srs_by_hand(anchored_by_hand(reps.numpy(), j)), [2.5, 97.5]) for j in (4, 5)])
    assert (interval.low, interval.high) == pytest.approx((ends[:, 0].min(), ends[:, 1].max()), abs=1e-12)
    plain_high = np.percentile(srs_by_hand(sid_by_hand(reps.numpy())), 97.5)
    assert interval.high > plain_high  # the plug-in's interval is pulled down by the minimum


def test_the_hull_restores_coverage_at_a_tie_that_no_single_anchored_interval_reaches():
    # 400 seeded draws of 32 images at an exact tie of bands 4 and 5 (the numbers srs_interval's docstring
    # quotes): the plain percentile interval misses the true SRS (biased low by the minimum of the two noisy
    # means); the interval anchored on either tied band, though anchored on a true weakest band, still
    # under-covers (max(ψ_4, ψ_5) has a kink at the tie); only their hull reaches the level, missing below
    truth = spectral_robustness_score(spectral_importance_distribution(TIE))
    n = 400
    plain = hull = below = 0
    anchored = np.zeros(2)
    bias = np.zeros(3)  # of the plug-in, and of the SRS anchored on band 4 and on band 5
    for seed in range(n):
        phi, reps = replicates(TIE, n_images=32, seed=seed)
        values = phi.mean(0)
        lo, hi = percentile_interval(srs_rows(sid_rows(reps)), 0.95).tolist()
        plain += lo <= truth <= hi
        for i, j in enumerate((4, 5)):
            lo, hi = percentile_interval(srs_rows(anchored_sid_rows(reps, j)), 0.95).tolist()
            anchored[i] += lo <= truth <= hi
        points = [sid_rows(values[None]), anchored_sid_rows(values[None], 4), anchored_sid_rows(values[None], 5)]
        bias += [float(srs_rows(p)[0]) - truth for p in points]
        interval = srs_interval(reps, values, 0.95)
        hull += interval.low <= truth <= interval.high
        below += interval.high < truth
    assert plain / n < 0.85
    assert anchored.tolist() == [363, 374] and hull == 385 and below == n - hull  # 90.75 %, 93.5 %, 96.25 %
    assert (bias / n).round(4).tolist() == [-0.0105, -0.0034, -0.0033]


def test_no_candidates_without_a_bootstrap_or_a_defined_sid():
    assert SpectralImportance(torch.tensor([0.5, 0.1]), torch.zeros(2), 3, 0.0, 0.6).minimum_identified is None
    flat = SpectralImportance(torch.zeros(3), torch.zeros(3), 3, 0.0, 0.0, weakest_candidates=(0, 1))
    assert flat.weakest_candidates is None and flat.minimum_identified is None
    old = SpectralImportance.from_dict({"values": [0.5, 0.1], "stderr": [0, 0], "n_samples": 3})  # 0.2's JSON
    assert old.weakest_candidates is None and old.minimum_identified is None


ORIENTED = OrientedBands(3, 2).config()  # 6 players, rings 0-2
GRID = FourierGrid(3).config()  # no radial order: no rings


@pytest.mark.parametrize(
    "config, candidates",
    [({}, ()), ({}, (1, 3)), ({}, (-1,)), ({"bands": ORIENTED}, (3,)), ({"bands": GRID}, (0,))],
    ids=["empty", "past-the-last-band", "negative", "a-player-not-a-ring", "no-rings"],
)
def test_weakest_candidates_must_be_rings_of_the_result(config, candidates):
    n = config["bands"]["n_bands"] if config else 3
    values = torch.linspace(1.0, 0.1, n, dtype=torch.float64)
    with pytest.raises(ValueError, match="weakest_candidates"):
        SpectralImportance(values, torch.zeros(n), 3, 0.0, 1.0, config, weakest_candidates=candidates)


def test_weakest_candidates_index_the_rings_of_oriented_bands():
    values = torch.linspace(1.0, 0.1, 6, dtype=torch.float64)
    res = SpectralImportance(values, torch.zeros(6), 3, 0.0, 1.0, {"bands": ORIENTED}, weakest_candidates=(2, 1))
    assert res.weakest_candidates == (2, 1) and res.minimum_identified is False
