import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from captum_iaside import SpectralBands, SpectralImportance  # noqa: E402
from captum_iaside.visualization import (  # noqa: E402
    plot_band_decomposition,
    plot_fourier_importance,
    plot_spectral_importance,
)


def result(name, values):
    v = torch.tensor(values, dtype=torch.float64)
    return SpectralImportance(
        v,
        torch.full_like(v, 0.05),
        10,
        0.0,
        -1.0,
        config={"model": name, "value": "log_prob", "bands": SpectralBands(len(values)).config()},
    )


def test_spectral_importance_single_and_comparison():
    fig, axes = plot_spectral_importance(result("A", [0.6, 0.3, 0.1, 0.0]))
    ax = axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() == "SID"
    assert any(isinstance(c, ErrorbarContainer) for c in ax.containers)
    fig, axes = plot_spectral_importance(
        [result("A", [0.6, 0.3, 0.1, 0.0]), result("B", [0.1, 0.2, 0.3, 0.4])], kind="values"
    )
    assert len(axes) == 2 and axes[1].get_xlabel() == "spectral robustness score (M = 4)"
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["B", "A"]  # ranked by SRS
    # B leans to the high bands: its bar says so by its colour, and the title says SRS is symmetric
    colours = [p.get_facecolor() for p in axes[1].patches]
    assert colours[0] != colours[1] and "leans to low bands" in axes[1].get_title()
    assert "leans high" in axes[0].get_legend().get_texts()[1].get_text()
    assert result("A", [0.6, 0.3, 0.1, 0.0]).plot()[0] is not None
    with pytest.raises(ValueError, match="same number of bands"):
        plot_spectral_importance([result("A", [1.0, 0.0, 0.0, 0.0]), result("C", [1.0, 0.0])])


def test_fourier_map_has_frequency_axes():
    fig, axes = plot_fourier_importance(result("A", [0.6, 0.3, 0.1, 0.0]), size=32)
    ax = axes[0]
    assert "cycles/pixel" in ax.get_xlabel() and "cycles/pixel" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-0.5", "-0.25", "0", "0.25"]
    assert ax.get_title()
    with pytest.raises(ValueError, match="bands is required"):
        plot_fourier_importance(torch.ones(4))
    fig, _ = plot_fourier_importance(torch.tensor([1.0, -1.0, 0.5, 0.0]), bands=SpectralBands(4), size=16)


def test_band_decomposition_panels():
    fig, axes = plot_band_decomposition(torch.rand(3, 32, 32), SpectralBands(4))
    assert len(axes) == 5
    assert axes[1].get_title().startswith("band 0")


def test_fourier_attribution_from_the_fourier_door():
    from captum_iaside.visualization.fourier import plot_fourier_attribution

    attr = torch.randn(3, 16, 16, 2)
    fig, axes = plot_fourier_attribution(attr, bands=SpectralBands(4))
    assert "cycles/pixel" in axes[0].get_xlabel()
    with pytest.raises(ValueError, match=r"\(C, H, W, 2\)"):
        plot_fourier_attribution(torch.randn(3, 16, 16))


def test_band_saliency_grid_titles_carry_shapley_values():
    from captum_iaside.visualization.saliency import plot_band_saliency

    bands = SpectralBands(4)
    fig, axes = plot_band_saliency(torch.rand(3, 16, 16), torch.randn(4, 3, 16, 16), bands, phi=[0.5, -0.25, 0.0, 1.0])
    assert axes.shape == (2, 4)
    assert axes[0, 1].get_title() == "band 1: φ = -0.250"
    hwc = [torch.randn(3, 16, 16).permute(1, 2, 0).numpy() for _ in range(4)]
    plot_band_saliency(torch.rand(3, 16, 16), hwc, bands)


def test_chw_array_by_mistake_is_refused():
    from captum_iaside.visualization.common import to_hwc
    from captum_iaside.visualization.saliency import plot_band_saliency

    chw = torch.randn(3, 16, 16).numpy()
    with pytest.raises(ValueError, match="looks like a CHW array"):
        to_hwc(chw)
    assert to_hwc(torch.randn(3, 16, 16)).shape == (16, 16, 3)
    with pytest.raises(ValueError, match=r"band_maps\[0\] looks like a CHW array"):
        plot_band_saliency(torch.rand(3, 16, 16), [chw] * 4, SpectralBands(4))


def subplot_rows_and_cols(axes):
    spans = [ax.get_subplotspec() for ax in axes]
    return {s.rowspan.start for s in spans}, {s.colspan.start for s in spans}


def test_band_decomposition_wraps_many_bands_onto_rows():
    image = torch.rand(3, 32, 32)
    fig, axes = plot_band_decomposition(image, SpectralBands(8))  # 9 panels: 5 per row by default
    assert isinstance(axes, np.ndarray) and axes.shape == (9,)
    rows, cols = subplot_rows_and_cols(axes)
    assert rows == {0, 1} and cols == set(range(5))
    assert len(fig.axes) == 9  # the grid's tenth cell is not left empty on the figure
    assert axes[0].get_title() == "image" and axes[1].get_title().startswith("band 0")
    assert axes[8].get_title().startswith("band 7")
    assert fig.get_size_inches()[0] <= 10.0  # fits a page width, where nine panels in a row did not
    fig, axes = plot_band_decomposition(image, SpectralBands(8), ncols=3)
    assert subplot_rows_and_cols(axes) == ({0, 1, 2}, {0, 1, 2}) and len(fig.axes) == 9
    fig, axes = plot_band_decomposition(image, SpectralBands(8), ncols=9)
    assert subplot_rows_and_cols(axes)[0] == {0}
    fig, axes = plot_band_decomposition(image, SpectralBands(4), ncols=20)  # more columns than panels
    assert len(axes) == 5 and subplot_rows_and_cols(axes) == ({0}, set(range(5)))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="ncols"):
            plot_band_decomposition(image, SpectralBands(4), ncols=bad)
    with pytest.raises(ValueError, match="one title per band"):
        plot_band_decomposition(image, SpectralBands(4), titles=["a", "b"])


def close_points_report():
    from captum_iaside.robustness.report import RobustnessReport

    names = ["standard", "noise σ=0.1", "noise σ=0.2", "label noise 20%", "low-pass training"]
    rows = [
        {
            "model": name,
            "srs": 0.300 + 0.002 * i,
            "srs_ci": [0.290 + 0.002 * i, 0.310 + 0.002 * i],
            "clean_accuracy": 0.9,
            "corruption_accuracy": 0.700 + 0.001 * i,
            "adversarial_accuracy": None,
        }
        for i, name in enumerate(names)
    ]
    rows.append(
        {
            "model": "far away",
            "srs": 0.5,
            "srs_ci": None,
            "clean_accuracy": 0.9,
            "corruption_accuracy": 0.6,
            "adversarial_accuracy": None,
        }
    )
    return RobustnessReport(rows, {})


def test_robustness_labels_of_close_points_do_not_overlap():
    from captum_iaside.visualization.robustness import plot_robustness

    report = close_points_report()
    fig, axes = plot_robustness(report)
    ax = axes[0]
    assert [t.get_text() for t in ax.texts] == [r["model"] for r in report.rows]
    for dpi in (72, 150):  # the offsets are in points: the layout holds at any resolution
        fig.set_dpi(dpi)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]  # the text, without its leader line
        frame = ax.get_window_extent(renderer)
        for i, a in enumerate(boxes):
            assert frame.x0 <= a.x0 and a.x1 <= frame.x1 and frame.y0 <= a.y0 and a.y1 <= frame.y1, ax.texts[i]
            for j in range(i + 1, len(boxes)):
                assert not a.overlaps(boxes[j]), (ax.texts[i].get_text(), ax.texts[j].get_text())
            # no label covers a point
            for row in report.rows:
                px, py = ax.transData.transform((row["srs"], row["corruption_accuracy"]))
                assert not a.contains(px, py), (ax.texts[i].get_text(), row["model"])
    # a point on its own keeps its label next to it, without a leader line
    far = ax.texts[-1]
    assert far.arrow_patch is None and max(abs(v) for v in far.xyann) <= 6


def test_the_title_names_a_shared_image_count_once():
    import torch

    from captum_iaside import SpectralImportance
    from captum_iaside.visualization import plot_spectral_importance

    def result(n):
        return SpectralImportance(torch.tensor([0.5, 0.2, 0.1, 0.0]), torch.full((4,), 0.01), n, -2.0, -1.2)

    _, axes = plot_spectral_importance([result(500)] * 7)
    assert axes[0].get_title().endswith("(K = 500 each)")
    _, axes = plot_spectral_importance([result(500), result(300)])
    assert axes[0].get_title().endswith("(K = 500, 300)")
    _, axes = plot_spectral_importance(result(40))
    assert axes[0].get_title().endswith("(K = 40)")
