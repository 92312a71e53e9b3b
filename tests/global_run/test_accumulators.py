import json
import math

import numpy as np
import pytest
import torch
from reference import sid_by_hand, srs_interval_by_hand

from captum_iaside import OrientedBands, SpectralBands, SpectralImportance
from captum_iaside.estimators.base import BandShapley
from captum_iaside.global_run.accumulators import GlobalAccumulator, MomentAccumulator


def shapley(phi, targets=None):
    phi = torch.as_tensor(phi, dtype=torch.float64)
    n = phi.shape[0]
    return BandShapley(phi, -torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64), targets, 0)


def test_moment_accumulator_matches_torch_std():
    rows = torch.randn(37, 4, dtype=torch.float64)
    acc = MomentAccumulator(4)
    for chunk in rows.split(5):
        acc.update(chunk)
    assert acc.count == 37
    assert torch.allclose(acc.mean, rows.mean(0))
    assert torch.allclose(acc.stderr(), rows.std(0) / math.sqrt(37))
    one = MomentAccumulator(2)
    one.update(torch.ones(1, 2))
    assert torch.isnan(one.stderr()).all()


def test_covariance_and_merge_match_torch():
    rows = torch.randn(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, b = MomentAccumulator(3, covariance=True), MomentAccumulator(3, covariance=True)
    a.update(rows[:20])
    b.update(rows[20:])
    a.merge(b)
    assert torch.allclose(a.m2 / 49, torch.cov(rows.T))
    assert torch.allclose(a.variance(), rows.var(0))


def test_remove_is_the_inverse_of_update():
    g = torch.Generator().manual_seed(1)
    rows = torch.randn(30, 3, dtype=torch.float64, generator=g)
    acc = MomentAccumulator(3, covariance=True)
    for chunk in rows.split(7):
        acc.update(chunk)
    acc.remove(rows[7:14])
    kept = torch.cat([rows[:7], rows[14:]])
    assert acc.count == 23
    assert torch.allclose(acc.mean, kept.mean(0))
    assert torch.allclose(acc.m2 / 22, torch.cov(kept.T))
    acc.remove(kept)
    assert acc.count == 0 and bool((acc.mean == 0).all())


def test_bootstrap_interval_survives_replicates_that_draw_no_image():
    acc = GlobalAccumulator(3, n_bootstrap=60)
    weights = torch.poisson(torch.ones(2, 60, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    acc.update(shapley([[0.5, 0.3, 0.1], [0.2, 0.6, 0.1]]), weights)
    assert (weights.sum(0) == 0).any()  # with 2 images, e^-2 of the replicates draw none
    res = acc.result({})
    assert res.srs_ci is not None and res.srs_ci[0] <= res.srs_ci[1]
    assert res.values_ci.shape == (2, 3) and bool((res.values_ci[0] <= res.values_ci[1]).all())
    assert (res.v_empty, res.v_full) == (-1.0, 0.0)


def test_global_accumulator_remove_restores_the_state():
    g = torch.Generator().manual_seed(2)
    phi = torch.randn(10, 4, dtype=torch.float64, generator=g)
    targets = torch.tensor([0, 1] * 5)
    w = torch.poisson(torch.ones(10, 8, dtype=torch.float64), generator=g)
    acc = GlobalAccumulator(4, n_bootstrap=8, by_class=True)
    acc.update(shapley(phi[:6], targets[:6]), w[:6])
    before = acc.state_dict()
    acc.update(shapley(phi[6:], targets[6:]), w[6:])
    acc.update(shapley(phi[6:], targets[6:]), w[6:], remove=True)
    after, before = acc.state_dict(), before
    stratum, was = after["strata"][0], before["strata"][0]
    assert stratum["moments"]["count"] == was["moments"]["count"] == 6
    for key in ["mean", "m2"]:
        assert torch.allclose(stratum["moments"][key], was["moments"][key])
    for key in ["boot_sum", "boot_weight"]:
        assert torch.allclose(stratum[key], was[key])
    assert torch.allclose(after["classes"][1]["mean"], before["classes"][1]["mean"])


RADIAL = {"bands": SpectralBands(6).config()}
ORIENTED = {"bands": OrientedBands(3, 2).config()}  # player 2r + a is sector a of ring r


def bootstrapped(psi, n_images=40, n_bootstrap=200, seed=0):
    """An accumulator fed per-image values around ``psi`` (sd 0.3 per player), and numpy's replicates of its mean
    with the same Poisson weights."""
    g = torch.Generator().manual_seed(seed)
    phi = torch.tensor(psi, dtype=torch.float64) + 0.3 * torch.randn(
        n_images, len(psi), generator=g, dtype=torch.float64
    )
    weights = torch.poisson(torch.ones(n_images, n_bootstrap, dtype=torch.float64), generator=g)
    acc = GlobalAccumulator(len(psi), n_bootstrap=n_bootstrap)
    acc.update(shapley(phi), weights)
    w, x = weights.numpy(), phi.numpy()
    return acc, x, (w.T @ x) / w.sum(0)[:, None]


@pytest.mark.parametrize(
    "psi, identified", [([2.0, 1.2, 0.8, 0.5, 0.1, 0.1], False), ([2.0, 1.2, 0.8, 0.5, 0.1, -0.9], True)]
)
def test_the_result_says_whether_the_minimum_is_identified_and_keeps_it_in_json(psi, identified):
    acc, phi, reps = bootstrapped(psi)
    res = acc.result(RADIAL)
    low, high, candidates = srs_interval_by_hand(reps, phi.mean(0), 0.95)
    assert list(res.weakest_candidates) == candidates and res.srs_ci == pytest.approx((low, high), abs=1e-12)
    assert res.minimum_identified is identified
    d = json.loads(json.dumps(res.to_dict()))
    assert d["minimum_identified"] is identified and d["weakest_candidates"] == candidates
    back = SpectralImportance.from_dict(d)
    assert back.weakest_candidates == res.weakest_candidates and back.minimum_identified is identified


@pytest.mark.parametrize(
    "psi, rings",  # rings 1 and 2 tie in their sums though no two players do; then ring 2 is 1.0 below ring 1
    [([1.5, 0.9, 0.3, 0.1, 0.25, 0.15], [1, 2]), ([1.5, 0.9, 0.3, 0.1, -0.4, -0.2], [2])],
)
def test_the_srs_of_oriented_bands_reads_the_ring_sums(psi, rings):
    acc, phi, reps = bootstrapped(psi)
    res = acc.result(ORIENTED)
    ring_phi, ring_reps = phi.reshape(-1, 3, 2).sum(-1), reps.reshape(-1, 3, 2).sum(-1)
    low, high, candidates = srs_interval_by_hand(ring_reps, ring_phi.mean(0), 0.95)
    assert sorted(candidates) == rings and list(res.weakest_candidates) == candidates
    assert res.srs_ci == pytest.approx((low, high), abs=1e-12)
    assert res.radial_sid.numpy() == pytest.approx(sid_by_hand(ring_phi.mean(0)[None])[0], abs=1e-12)
    assert res.minimum_identified is (len(rings) == 1)


def test_the_srs_interval_uses_the_results_beta():
    acc, phi, reps = bootstrapped([2.0, 1.2, 0.8, 0.5, 0.1, 0.1])
    res = acc.result(RADIAL, beta=0.5)
    low, high, _ = srs_interval_by_hand(reps, phi.mean(0), 0.95, beta=0.5)
    assert res.beta == 0.5 and res.srs_ci == pytest.approx((low, high), abs=1e-12)
    assert res.srs_ci != pytest.approx(acc.result(RADIAL).srs_ci, abs=1e-3)
    assert np.isfinite(res.srs) and res.srs != pytest.approx(acc.result(RADIAL).srs, abs=1e-3)
