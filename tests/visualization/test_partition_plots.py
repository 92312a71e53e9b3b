"""The pictures of other partitions: Fourier planes with their boundaries, the polar chart, interactions, heat maps."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from captum_iaside import (  # noqa: E402
    IASIDE,
    FourierGrid,
    OrientedBands,
    plot_fourier_heat_map,
    plot_fourier_importance,
    plot_interactions,
    plot_polar_importance,
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(4, 3)).eval()


X = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))


def test_polar_chart_and_interactions_of_an_oriented_run(model):
    res = IASIDE(model, bands=OrientedBands(2, 4)).attribute_global([X], interactions=True, n_bootstrap=20)
    fig, axes = plot_polar_importance(res)
    assert len(axes) == 2 and len(axes[1].patches) == 4 and len(axes[0].patches) == 16  # 8 wedges, each mirrored
    plt.close(fig)
    fig, axes = plot_interactions(res)
    assert len(axes[0].get_xticklabels()) == 8
    plt.close(fig)


def test_shapley_fourier_map_beside_the_heat_map(model):
    res = IASIDE(model, bands=FourierGrid(3)).attribute_global([X], n_bootstrap=0)
    fig, axes = plot_fourier_importance(res, size=16)
    assert axes[0].get_title().startswith("Shapley Fourier map")
    plt.close(fig)
    fig, axes = plot_fourier_heat_map(torch.rand(16, 16), res)
    assert len(axes) == 2
    plt.close(fig)


def test_plots_refuse_what_they_cannot_draw(model):
    radial = IASIDE(model, bands=4).attribute_global([X], n_bootstrap=0)
    with pytest.raises(ValueError, match="OrientedBands"):
        plot_polar_importance(radial)
    with pytest.raises(ValueError, match="interactions=True"):
        plot_interactions(radial)
    with pytest.raises(ValueError, match=r"stderr must be an \(4, 4\) matrix like the interactions, got shape \(3,\)"):
        plot_interactions(torch.zeros(4, 4), stderr=torch.ones(3))
    with pytest.raises(ValueError, match="heat_map"):
        plot_fourier_heat_map(torch.rand(2, 16, 16))
