"""plot_dynamics: ψ of each player and the SRS against the step, from a monitor or its rows."""

import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from captum_iaside import plot_dynamics  # noqa: E402
from captum_iaside.results.dynamics import StepRow  # noqa: E402


def rows(bootstrap=True):
    out = []
    for step in (0, 1, 3):
        for player in range(3):
            psi = 0.1 * (player + 1) * (step + 1)
            out.append(
                StepRow(
                    step, player, f"b{player}", psi, 0.01, psi - 0.02 if bootstrap else None,
                    psi + 0.02 if bootstrap else None, 1 / 3, 0.5 + 0.1 * step,
                    0.4 if bootstrap else None, 0.9 if bootstrap else None,
                )
            )  # fmt: skip
    return out


@pytest.mark.parametrize("bootstrap", [True, False])
def test_one_line_per_player_and_the_srs(bootstrap):
    fig, axes = plot_dynamics(rows(bootstrap))
    left, right = axes
    assert [line.get_label() for line in left.get_lines()[:3]] == ["b0", "b1", "b2"]
    assert list(left.get_lines()[2].get_ydata()) == pytest.approx([0.3, 0.6, 1.2])
    assert list(right.get_lines()[0].get_xdata()) == [0, 1, 3]
    assert len(right.collections) == (1 if bootstrap else 0)
    assert len(left.collections) == 3  # an interval band per player, ±2 standard errors without a bootstrap


def test_a_monitor_is_read_through_its_history():
    class Monitor:
        history = rows()

    fig, axes = plot_dynamics(Monitor(), title="run 7")
    assert fig._suptitle.get_text() == "run 7"


def test_an_undefined_srs_says_so():
    nan_rows = [StepRow(s, 0, "c0", 0.1, 0.0, None, None, math.nan, math.nan, None, None) for s in (0, 1)]
    fig, (_, right) = plot_dynamics(nan_rows)
    assert "not defined" in right.texts[0].get_text()


def test_bad_history():
    with pytest.raises(ValueError, match="history"):
        plot_dynamics([])
    with pytest.raises(ValueError, match="history"):
        plot_dynamics([1, 2])
