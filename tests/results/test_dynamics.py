"""The rows of a step read a result's fields; a difference serialises."""

import json

import torch

from captum_iaside import SpectralImportance
from captum_iaside.results.dynamics import StepDifference, step_rows


def test_rows_hold_the_fields_of_the_result():
    res = SpectralImportance(
        torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64), torch.tensor([0.01, 0.02, 0.03]), 10, -1.0, 0.0,
        values_ci=torch.tensor([[0.5, 0.2, 0.0], [0.7, 0.4, 0.2]], dtype=torch.float64), srs_ci=(0.2, 0.4),
    )  # fmt: skip
    rows = step_rows(7, res)
    assert [r.player for r in rows] == [0, 1, 2] and {r.step for r in rows} == {7}
    assert [r.psi for r in rows] == res.values.tolist()
    assert [r.stderr for r in rows] == res.stderr.tolist()
    assert [(r.psi_low, r.psi_high) for r in rows] == [(0.5, 0.7), (0.2, 0.4), (0.0, 0.2)]
    assert [r.sid for r in rows] == res.sid.tolist()
    assert all(r.srs == res.srs and (r.srs_low, r.srs_high) == (0.2, 0.4) for r in rows)
    assert json.dumps([r.to_dict() for r in rows])


def test_an_undefined_sid_is_written_as_null():
    res = SpectralImportance(torch.zeros(2, dtype=torch.float64), torch.zeros(2), 4, 0.0, 0.0)
    d = step_rows(0, res)[0].to_dict()
    assert d["sid"] is None and d["srs"] is None and d["psi_low"] is None


def test_a_difference_serialises():
    f64 = torch.float64
    d = StepDifference(3, 1, torch.tensor([0.1, -0.1], dtype=f64), torch.tensor([0.01, 0.02], dtype=f64),
                       torch.tensor([0.03, 0.04], dtype=f64), None, float("nan"), None, 0.95)  # fmt: skip
    out = json.loads(json.dumps(d.to_dict()))
    assert out["values"] == [0.1, -0.1] and out["srs"] is None and out["values_ci"] is None
