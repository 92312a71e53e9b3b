from html import escape
from pathlib import Path

import pytest
import torch

from captum_iaside import OrientedBands, SpectralBands, SpectralImportance
from captum_iaside.report.html import html_page
from captum_iaside.report.tables import band_rows, format_table, score_line

ROOT = Path(__file__).resolve().parents[2]
NOTE = (
    "weakest {kind} not identified at this K: {kind}s {names} could each be the weakest (the 95% interval of the "
    "difference holds 0), so the SRS may be biased towards 0 and its interval is the hull over taking each as the "
    "weakest"
)


def result(values, bands, candidates):
    n = len(values)
    return SpectralImportance(
        torch.tensor(values, dtype=torch.float64),
        torch.full((n,), 0.05, dtype=torch.float64),
        40,
        -1.0,
        float(sum(values)) - 1.0,
        {"bands": bands.config()},
        values_ci=torch.stack([torch.tensor(values) - 0.1, torch.tensor(values) + 0.1]).double(),
        srs_ci=(0.2, 0.3),
        weakest_candidates=candidates,
    )


TIE = result([2.0, 1.2, 0.8, 0.5, 0.1, 0.1], SpectralBands(6), (5, 4))
SEPARATED = result([2.0, 1.2, 0.8, 0.5, 0.1, -0.9], SpectralBands(6), (5,))
RINGS = result([1.5, 0.9, 0.3, 0.1, 0.25, 0.15], OrientedBands(3, 2), (2, 1))


@pytest.mark.parametrize(
    "res, note",
    [
        (TIE, NOTE.format(kind="band", names="5, 4")),
        (RINGS, NOTE.format(kind="ring", names="2, 1")),
        (SEPARATED, None),
        (result([2.0, 1.2, 0.8, 0.5, 0.1, 0.1], SpectralBands(6), None), None),  # no bootstrap
    ],
    ids=["tie", "rings", "identified", "no-candidates"],
)
def test_the_table_and_the_page_say_when_the_weakest_ring_is_not_identified(res, note):
    lines = format_table("m", res).splitlines()
    score = lines.index(score_line(res))
    page = html_page({"m": res}, {}, {}, None, {}, {}, None)
    if note is None:
        assert "not identified" not in format_table("m", res) and "not identified" not in page
        return
    assert lines[score + 1] == note  # the line under the score
    assert f"<b>{escape(score_line(res))}</b>; {escape(note)}</p>" in page


def test_the_readme_and_the_interpreting_page_print_the_line_the_table_prints():
    # the default run: bands 6 and 7 of 8 could each be the weakest
    line = NOTE.format(kind="band", names="6, 7")
    res = result([4.0, 1.4, 0.6, 0.6, 0.25, 0.14, -0.1, -0.06], SpectralBands(8), (6, 7))
    assert line in format_table("m", res).splitlines()
    for page in (ROOT / "README.md", ROOT / "docs" / "interpreting.md"):
        assert line in page.read_text().splitlines(), page


def test_rounding_noise_is_printed_as_holding_zero():
    # a model that sees only the mean brightness: ψ is 0 beyond band 0 up to rounding, with intervals of no width
    values = torch.tensor([5.0, 0.0, -1.1e-16, -3.3e-16], dtype=torch.float64)
    res = SpectralImportance(values, torch.zeros(4), 10, -5.0, 0.0, values_ci=torch.stack([values, values]))
    assert [row.uncertain for row in band_rows(res)] == [False, True, True, True]
    assert "~ the interval holds 0" in format_table("m", res)
