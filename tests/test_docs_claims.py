"""The numbers the documentation states about behaviour, computed again in small (not timings)."""

import re
from pathlib import Path

import pytest
import torch

from captum_iaside import IASIDE, KernelShapley, SpectralBands, spectral_robustness_score
from captum_iaside.game.table_game import TableGame
from captum_iaside.results.summaries import max_spectral_robustness_score

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = DOCS.parent / "README.md"


def test_the_share_of_the_last_band_at_160_px():
    text = (DOCS / "interpreting.md").read_text()
    stated = re.search(r"band 7 alone holds ([\d.]+) % of\s+the bins at 160 px, ([\d.]+) % of\s+the continuous", text)
    counts = SpectralBands(8).counts(160, 160).double()
    assert float(stated.group(1)) == pytest.approx(100 * float(counts[7] / counts.sum()), abs=0.05)
    assert float(stated.group(2)) == pytest.approx(100 * (1 - (7 / 8) ** 2), abs=0.05)


def test_paired_kernelshap_at_2m_plus_2_is_the_mean_of_first_and_last_contributions_plus_a_shift():
    m = 6
    table = torch.randn(3, 2**m, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    phi = KernelShapley().estimate(TableGame(table), 2 * m + 2, torch.Generator().manual_seed(1)).values
    empty, full = table[:, 0], table[:, -1]
    first = torch.stack([table[:, 1 << i] - empty for i in range(m)], 1)
    last = torch.stack([full - table[:, (2**m - 1) ^ (1 << i)] for i in range(m)], 1)
    mean = (first + last) / 2
    shift = (full - empty - mean.sum(1)) / m
    assert torch.allclose(phi, mean + shift[:, None], atol=1e-10)


def test_the_main_job_spends_one_evaluation_of_the_shared_baseline():
    # K images, M bands, exact, zero baseline: K (2^M - 1) coalitions per image + the baseline once
    res = IASIDE(lambda x: x.flatten(1)[:, :3], bands=4).attribute_global([torch.rand(7, 3, 16, 16)], n_bootstrap=0)
    assert res.config["evaluations"] == 7 * (2**4 - 1) + 1
    stated = {int(n.replace(",", "")) for n in re.findall(r"([\d,]+) forwards", README.read_text())}
    assert stated == {7 * (2**8 - 1) + 1}  # the README's count of the default run


def test_the_largest_srs_for_each_band_count_and_the_symmetric_spreads():
    text = (DOCS / "interpreting.md").read_text()
    stated = re.search(r"([\d.]+) for M = 4, ([\d.]+) for M = 8, ([\d.]+) for", text)
    for value, m in zip(stated.groups(), (4, 8, 12), strict=True):
        assert float(value) == pytest.approx(max_spectral_robustness_score(m), abs=5e-5)
    low, high = [0.25] * 4 + [0.0] * 4, [0.0] * 4 + [0.25] * 4
    assert spectral_robustness_score(low) == pytest.approx(0.2216, abs=5e-5)
    assert spectral_robustness_score(high) == pytest.approx(spectral_robustness_score(low), abs=1e-12)
    assert spectral_robustness_score([0.0] * 7 + [1.0]) == pytest.approx(0.3002, abs=5e-5)


def test_tutorial_4_reads_the_numbers_its_cells_printed():
    import json
    import os
    import re

    path = os.path.join(os.path.dirname(__file__), "..", "tutorials", "04_robustness.ipynb")
    cells = json.load(open(path))["cells"]
    printed = "".join(
        "".join(out.get("text", "")) for cell in cells if cell["cell_type"] == "code" for out in cell.get("outputs", [])
    )
    reading = "".join(cells[-1]["source"])
    numbers = re.findall(r"[+−-]0\.\d{3}|\d+\.\d %", reading)
    assert len(numbers) >= 12
    for number in numbers:
        assert number.replace("−", "-").replace(" %", "%") in printed, number


def _table_rows(text: str, header: str) -> dict[str, list[str]]:
    """The rows of the Markdown table under ``header`` (its first line), by their first cell."""
    block = text[text.index(header) :].split("\n\n")[0].splitlines()[2:]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip("|").split("|")] for line in block)}


def test_the_fashion_mnist_numbers_quoted_in_the_docs_are_the_studys_own():
    import json

    study = json.loads((DOCS / "robustness" / "results.json").read_text())
    quoted = {
        "interpreting.md": _table_rows(
            (DOCS / "interpreting.md").read_text(),
            "| model | SRS | SRS 95 % CI | clean accuracy | mean corruption accuracy |",
        ),
        "robustness/results.md": _table_rows((DOCS / "robustness" / "results.md").read_text(), "| model | SRS |"),
    }
    for where, rows in quoted.items():
        assert set(rows) == {row["model"] for row in study["rows"]}, where
        for row in study["rows"]:
            srs, ci, clean, corrupted = rows[row["model"]][:4]
            low, high = row["srs_ci"]
            assert (srs, ci) == (f"{row['srs']:.3f}", f"[{low:.3f}, {high:.3f}]"), (where, row["model"])
            assert (clean, corrupted) == (f"{row['clean_accuracy']:.3f}", f"{row['corruption_accuracy']:.3f}"), where
    stated = re.search(
        r"SRS against mean corruption accuracy: Spearman ([+-][\d.]+), Pearson ([+-][\d.]+);\s+against adversarial "
        r"accuracy: Spearman ([+-][\d.]+), Pearson ([+-][\d.]+)",
        (DOCS / "robustness.md").read_text(),
    )
    measured = [study["correlations"][k][c] for k in ("corruption accuracy", "adversarial accuracy") for c in
                ("spearman", "pearson")]  # fmt: skip
    assert [float(v) for v in stated.groups()] == pytest.approx(measured, abs=0.005)
