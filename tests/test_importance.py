import json
import math

import pytest
import torch

from captum_iaside import SpectralImportance, spectral_importance_distribution, spectral_robustness_score
from captum_iaside.importance import MomentAccumulator


def test_sid_is_min_shifted_and_normalised():
    sid = spectral_importance_distribution([3.0, 1.0, 0.0, -1.0])
    assert torch.allclose(sid, torch.tensor([4.0, 2.0, 1.0, 0.0], dtype=torch.float64) / 7)


def test_sid_of_equal_values_is_uniform_without_nan():
    sid = spectral_importance_distribution(torch.full((8,), 0.3))
    assert torch.allclose(sid, torch.full((8,), 1 / 8, dtype=torch.float64))
    assert spectral_robustness_score(sid) == pytest.approx(0.0, abs=1e-12)


def test_srs_all_mass_on_band_zero_matches_hand_computation():
    m, beta = 8, 0.75
    b = [beta**k for k in range(m)]
    n2 = math.sqrt(sum(x * x for x in b))
    eta = sum(b) / (m * n2)
    expected = abs(1 / n2 - eta) / abs(1 - eta)
    got = spectral_robustness_score([1.0] + [0.0] * 7)
    assert got == pytest.approx(expected, rel=1e-12)
    assert round(got, 4) == 0.5217


def test_srs_decreases_as_importance_moves_up():
    scores = [spectral_robustness_score(torch.eye(8)[k]) for k in range(3)]
    assert scores[0] > scores[1] > scores[2]


@pytest.mark.parametrize("bad", [[1.0], [[1.0, 2.0]], [1.0, float("nan")]])
def test_bad_vectors(bad):
    with pytest.raises(ValueError):
        spectral_importance_distribution(bad)


def test_bad_beta():
    with pytest.raises(ValueError, match="beta"):
        spectral_robustness_score([0.5, 0.5], beta=1.5)


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


def test_result_summaries_and_json():
    res = SpectralImportance(torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64), torch.zeros(3), 10, -0.1, -1.1)
    assert torch.allclose(res.share, torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64))
    assert res.srs == pytest.approx(spectral_robustness_score(res.sid))
    d = json.loads(json.dumps(res.to_dict()))
    assert d["n_bands"] == 3 and d["n_samples"] == 10 and d["srs"] == pytest.approx(res.srs)
    assert set(d) >= {"values", "stderr", "sid", "srs", "share", "v_full", "v_empty", "config"}


def test_bootstrap_interval_survives_replicates_that_draw_no_image():
    from captum_iaside.importance import GlobalAccumulator

    acc = GlobalAccumulator(3, n_bootstrap=60)
    phi = torch.tensor([[0.5, 0.3, 0.1], [0.2, 0.6, 0.1]], dtype=torch.float64)
    acc.update(phi, torch.zeros(2), -torch.ones(2), torch.Generator().manual_seed(0))
    assert (acc.boot_weight == 0).any()  # with 2 images, e^-2 of the replicates draw none
    res = acc.result({})
    assert res.srs_ci is not None and res.srs_ci[0] <= res.srs_ci[1]
