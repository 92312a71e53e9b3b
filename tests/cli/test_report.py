import csv
import json
import math

import torch

from captum_iaside import IASIDE, SpectralImportance
from captum_iaside.cli.command import main
from captum_iaside.report.tables import format_table

from .helpers import make_folder

CONSTANT = """
import torch
from torch import nn

class Constant(nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([2.0, 0.0]))

    def forward(self, x):
        return self.bias.expand(x.shape[0], 2) + 0 * x.mean()

def make():
    return Constant()
"""


def test_a_constant_model_loses_no_result_and_reports_no_score(tmp_path, monkeypatch, capsys):
    data = make_folder(tmp_path / "data")
    (tmp_path / "constantfactory.py").write_text(CONSTANT)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "rep"
    args = ["--model", "constantfactory:make", "--data", str(data), "--labels", "folder", "--bands", "4"]
    args += ["--resolution", "16", "--value", "correct", "--out", str(out), "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "SID and SRS undefined" in printed and "SRS =" not in printed
    report = json.loads((out / "results.json").read_text())
    res = report["models"][0]["result"]
    # a constant model's ψ is a sum of exact zeros weighted by Shapley coefficients: the weighted sum's rounding
    # depends on the BLAS summation order, so ψ is zero to float64 rounding, not bitwise
    assert max(abs(v) for v in res["values"]) < 1e-12 and res["identified"] is False
    assert res["srs"] is None and res["sid"] == [None] * 4 and res["srs_ci"] is None and res["direction"] == "undefined"
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["srs"] for r in rows] == [""] * 4
    for name in report["files"]:  # every picture was drawn
        assert (out / name).stat().st_size > 0
    assert math.isnan(SpectralImportance.from_dict(res).srs)


def test_rounding_noise_is_not_a_score():
    noise = torch.tensor([1e-17, -2e-17, 0.0, 3e-17], dtype=torch.float64)
    res = SpectralImportance(noise, torch.zeros(4), 10, -1.6, -1.6)
    assert not res.identified and math.isnan(res.srs) and torch.isnan(res.sid).all()
    real = SpectralImportance(torch.tensor([0.5, 0.2, 0.0, 0.1]), torch.zeros(4), 10, -3.0, -2.2)
    assert real.identified and 0 < real.srs < 1


def test_the_table_says_why_the_scores_are_missing(model):
    res = IASIDE(lambda x: torch.zeros(x.shape[0], 3), bands=4).attribute_global([torch.rand(4, 3, 16, 16)])
    table = format_table("constant", res)
    assert "undefined" in table and "n/a" in table


def test_every_plot_survives_an_all_zero_result():
    from captum_iaside.visualization import plot_fourier_importance, plot_spectral_importance

    zero = SpectralImportance(torch.zeros(4, dtype=torch.float64), torch.zeros(4), 3, 0.0, 0.0)
    for fig, _ in (
        plot_spectral_importance(zero),
        plot_spectral_importance([zero, zero]),
        plot_fourier_importance(zero),
    ):
        fig.canvas.draw()
