import json
import math

import pytest
import torch

from captum_iaside import SpectralImportance, spectral_importance_distribution, spectral_robustness_score
from captum_iaside.game.bands import SpectralBands
from captum_iaside.game.orientations import OrientedBands
from captum_iaside.results.comparison import SpectralComparison
from captum_iaside.results.summaries import max_spectral_robustness_score


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


def test_result_summaries_and_json():
    res = SpectralImportance(torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64), torch.zeros(3), 10, -1.1, -0.1)
    assert torch.allclose(res.share, torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64))
    assert res.srs == pytest.approx(spectral_robustness_score(res.sid))
    d = json.loads(json.dumps(res.to_dict()))
    assert d["n_bands"] == 3 and d["n_samples"] == 10 and d["srs"] == pytest.approx(res.srs)
    assert set(d) >= {"values", "stderr", "sid", "srs", "share", "v_full", "v_empty", "config"}


@pytest.mark.parametrize("m,expected", [(4, 0.42), (8, 0.52), (12, 0.57)])
def test_the_largest_srs_depends_on_m(m, expected):
    assert max_spectral_robustness_score(m) == pytest.approx(expected, abs=0.005)


def test_srs_is_symmetric_and_the_signed_score_tells_the_side():
    m = 8
    low = [0.25] * 4 + [0.0] * 4  # spread evenly over bands 0-3
    high = [0.0] * 4 + [0.25] * 4  # spread evenly over bands 4-7
    assert spectral_robustness_score(low) == pytest.approx(spectral_robustness_score(high), abs=1e-12)
    assert spectral_robustness_score(low, signed=True) > 0 > spectral_robustness_score(high, signed=True)
    top = [0.0] * (m - 1) + [1.0]  # everything on the highest band scores about what a real CNN scores
    assert spectral_robustness_score(top) == pytest.approx(0.3002, abs=1e-4)
    assert spectral_robustness_score(top, signed=True) == pytest.approx(-spectral_robustness_score(top))
    res = SpectralImportance(torch.tensor(top, dtype=torch.float64), torch.zeros(m), 5, 0.0, 1.0)
    assert res.direction == "high" and res.signed_srs < 0 < res.srs


def test_bands_whose_interval_holds_zero_are_not_significant():
    ci = torch.tensor([[0.1, -0.2, -0.5], [0.4, 0.3, -0.1]], dtype=torch.float64)
    res = SpectralImportance(torch.tensor([0.2, 0.05, -0.3]), torch.ones(3), 9, 0.0, 1.0, values_ci=ci)
    assert res.significant.tolist() == [True, False, True]
    assert SpectralImportance(torch.zeros(3), torch.ones(3), 9, 0.0, 1.0).significant is None


def test_from_dict_round_trips_through_json():
    res = SpectralImportance(
        torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64),
        torch.tensor([0.1, float("nan"), 0.05], dtype=torch.float64),
        10,
        -1.1,
        -0.1,
        config={"model": "m", "bands": {"n_bands": 3, "shape": "square", "edges": None}},
        values_ci=torch.tensor([[0.4, 0.1, 0.0], [0.8, 0.5, 0.2]], dtype=torch.float64),
        sid_ci=torch.tensor([[0.5, 0.2, 0.0], [0.7, 0.5, 0.1]], dtype=torch.float64),
        srs_ci=(0.1, 0.3),
        by_class={2: {"n_samples": 4, "values": torch.tensor([0.5, 0.2, 0.1]), "stderr": torch.zeros(3)}},
        stop_reason="data exhausted",
    )
    back = SpectralImportance.from_dict(json.loads(json.dumps(res.to_dict())))
    for name in ["values", "values_ci", "sid_ci"]:
        assert torch.allclose(getattr(back, name), getattr(res, name).double(), equal_nan=True), name
    assert torch.isnan(back.stderr[1]) and back.stderr[0] == pytest.approx(0.1)
    assert (back.n_samples, back.v_empty, back.v_full, back.srs_ci) == (10, -1.1, -0.1, (0.1, 0.3))
    assert back.srs == pytest.approx(res.srs) and back.config == res.config and back.stop_reason == "data exhausted"
    assert torch.allclose(back.by_class[2]["values"], torch.tensor([0.5, 0.2, 0.1], dtype=torch.float64))
    with pytest.raises(ValueError, match="to_dict"):
        SpectralImportance.from_dict({"srs": 0.3})


def test_comparison_differences_and_bad_names():
    a = SpectralImportance(torch.tensor([1.0, 0.0], dtype=torch.float64), torch.zeros(2), 3, 0.0, 1.0)
    b = SpectralImportance(torch.tensor([0.5, 0.5], dtype=torch.float64), torch.zeros(2), 3, 0.0, 1.0)
    # per-image rows (a0, a1, b0, b1): the differences a - b are [0.5, -0.5] +- [0, 0.3]
    rows = torch.tensor([[1.0, 0.0, 0.5, 0.5], [1.0, 0.3, 0.5, 0.5], [1.0, -0.3, 0.5, 0.5]], dtype=torch.float64)
    centred = rows - rows.mean(0)
    comp = SpectralComparison({"a": a, "b": b}, covariance=centred.T @ centred / (len(rows) - 1) / len(rows))
    diff = comp.values_difference("a", "b")
    assert torch.allclose(diff.values, torch.tensor([0.5, -0.5], dtype=torch.float64))
    expected = (rows[:, :2] - rows[:, 2:]).std(0) / math.sqrt(3)
    assert torch.allclose(diff.stderr, expected)
    est, interval = comp.srs_difference("a", "b")
    assert math.isnan(est) and interval is None  # b's ψ is equal in every band: its SRS is undefined
    c = SpectralImportance(torch.tensor([0.6, 0.4], dtype=torch.float64), torch.zeros(2), 3, 0.0, 1.0)
    est, interval = SpectralComparison({"a": a, "c": c}).srs_difference("a", "c")
    assert est == pytest.approx(a.srs - c.srs) and interval is None
    with pytest.raises(ValueError, match="a='c' is not a compared model"):
        comp.srs_difference("c", "b")
    with pytest.raises(ValueError, match="b=3 is not a compared model"):
        comp.values_difference("a", 3)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("interactions", [[0.0, 0.1], [0.1, 0.0]], r"interactions must have shape \(3, 3\) for the M = 3 players"),
        ("stderr", [0.1, 0.1], r"stderr must have shape \(3,\)"),
        ("values_ci", [[0.0, 0.0, 0.0]], r"values_ci must have shape \(2, 3\)"),
        ("interactions", [[0.0, 0.1], [0.1]], "interactions must be a list of numbers"),
        ("config", {"bands": {"kind": "radial", "n_bands": 4, "shape": "square", "edges": None}}, "describes 4"),
    ],
)
def test_from_dict_refuses_arrays_that_do_not_fit_the_players(field, value, message):
    res = SpectralImportance(torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64), torch.zeros(3), 4, -1.0, 0.0)
    data = json.loads(json.dumps(res.to_dict()))
    data[field] = value
    with pytest.raises(ValueError, match=message):
        SpectralImportance.from_dict(data)


def test_from_dict_names_a_missing_field():
    data = SpectralImportance(torch.tensor([0.5, 0.3]), torch.zeros(2), 4, -1.0, 0.0).to_dict()
    del data["n_samples"]
    with pytest.raises(ValueError, match=r"data lacks \['n_samples'\]"):
        SpectralImportance.from_dict(data)


def test_rounding_noise_is_no_significant_band():
    # a model that sees only the mean brightness: ψ = 5 on band 0 and 0 elsewhere up to rounding, on 10 images
    values = torch.tensor([5.0, 0.0, -1.1e-16, -3.3e-16], dtype=torch.float64)
    res = SpectralImportance(values, torch.zeros(4), 10, -5.0, 0.0, values_ci=torch.stack([values, values]))
    assert res.significant.tolist() == [True, False, False, False]


def test_a_result_is_immutable_and_renamed_by_a_copy():
    import dataclasses

    config = {"bands": OrientedBands(2, 2).config(), "model": "a"}
    res = SpectralImportance(torch.tensor([0.4, 0.3, 0.2, 0.1]), torch.zeros(4), 5, 0.0, 1.0, config)
    config["model"] = "changed"  # the caller's dict is not the result's
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.values = torch.zeros(4)
    with pytest.raises(TypeError):
        res.config["model"] = "b"
    renamed = res.with_model("b")
    assert (res.config["model"], renamed.config["model"]) == ("a", "b") and renamed.players is res.players
    assert isinstance(res.players, OrientedBands) and res.radial_sid.shape == (2,)  # its players, from config


def test_a_result_carries_the_players_it_is_given_and_refuses_others():
    bands = SpectralBands(3)
    res = SpectralImportance(torch.tensor([0.5, 0.3, 0.2]), torch.zeros(3), 5, 0.0, 1.0, players=bands)
    assert res.players is bands
    with pytest.raises(ValueError, match="players describes 4 players"):
        SpectralImportance(torch.tensor([0.5, 0.3, 0.2]), torch.zeros(3), 5, 0.0, 1.0, players=SpectralBands(4))
    with pytest.raises(TypeError, match="players must be a FourierPartition"):
        SpectralImportance(torch.tensor([0.5, 0.3, 0.2]), torch.zeros(3), 5, 0.0, 1.0, players="bands")
