"""Partitions of the Fourier plane beyond radial bands: exact, conjugate-symmetric, checked against a naive loop."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from captum_iaside import IASIDE, CustomPartition, FourierGrid, OrientedBands, SpectralBands
from captum_iaside.game import partition_from_config

SIZES = [(32, 32), (31, 40), (17, 16), (16, 17), (33, 33)]


def signed(n):
    return [u if u < (n + 1) // 2 else u - n for u in range(n)]


def naive_sector(ky, kx, h, w, a):
    """The sector from a float angle, or None for a bin within rounding of a boundary (or on a Nyquist line)."""
    if ky == 0 and kx == 0:
        return 0
    if (h % 2 == 0 and ky == -h // 2) or (w % 2 == 0 and kx == -w // 2):
        return None  # aliases its conjugate: decided by the pair's first member
    theta = math.atan2(ky / h, kx / w) % math.pi
    t = theta / math.pi * a + 0.5  # sectors centred on a·π/A
    if abs(t - round(t)) < 1e-9:
        return None
    return int(t) % a


@pytest.mark.parametrize("h,w", SIZES)
@pytest.mark.parametrize("rings,a", [(1, 2), (2, 3), (3, 4), (2, 6)])
def test_oriented_bands_match_a_naive_loop(h, w, rings, a):
    players = OrientedBands(rings, a)
    ids = players.index(h, w)
    ring = SpectralBands(rings).index(h, w) if rings > 1 else torch.zeros(h, w, dtype=torch.int64)
    checked = 0
    for u, ky in enumerate(signed(h)):
        for v, kx in enumerate(signed(w)):
            sector = naive_sector(ky, kx, h, w, a)
            if sector is None:
                continue
            assert int(ids[u, v]) == int(ring[u, v]) * a + sector, (u, v)
            checked += 1
    assert checked > 0.8 * h * w


def test_sectors_are_centred_on_the_axes_and_exact_on_the_diagonals():
    sectors = OrientedBands(1, 4).sectors(16, 16)  # 0° ± 22.5°, 45°, 90°, 135°
    assert int(sectors[0, 5]) == 0 and int(sectors[5, 0]) == 2 and int(sectors[16 - 5, 0]) == 2
    assert int(sectors[3, 3]) == 1 and int(sectors[3, 16 - 3]) == 3
    assert int(sectors[1, 5]) == 0 and int(sectors[16 - 1, 5]) == 0  # just either side of the horizontal axis
    # A = 2: boundaries at exactly 45° and 135°, met by the diagonal bins of a square image, decided in integers
    halves = OrientedBands(1, 2).sectors(16, 16)
    assert int(halves[3, 3]) == 1 and int(halves[3, 16 - 3]) == 0 and int(halves[2, 3]) == 0


def naive_cell(ky, kx, h, w, g):
    """The cell of a bin on the centred plane [-1/2, 1/2)², cut into G x G squares (exact fractions)."""
    row = math.floor((Fraction(ky, h) + Fraction(1, 2)) * g)
    col = math.floor((Fraction(kx, w) + Fraction(1, 2)) * g)
    return row * g + col


@pytest.mark.parametrize("h,w", SIZES)
@pytest.mark.parametrize("g", [2, 3, 4, 8])
def test_grid_cells_match_a_naive_loop(h, w, g):
    ids = FourierGrid(g).index(h, w)
    canon = lambda c: min(c, g * g - 1 - c)  # noqa: E731  a cell and its mirror are one player
    consistent = 0
    for u, ky in enumerate(signed(h)):
        for v, kx in enumerate(signed(w)):
            cell = naive_cell(ky, kx, h, w, g)
            mate = naive_cell(signed(h)[(-u) % h], signed(w)[(-v) % w], h, w, g)  # the conjugate bin's cell
            if mate == g * g - 1 - cell:  # the pair lies in mirror cells: the player is theirs
                assert int(ids[u, v]) == canon(cell), (u, v)
                consistent += 1
            else:  # a pair split by a boundary: the player of one of its two cells
                assert int(ids[u, v]) in (canon(cell), canon(mate)), (u, v)
    assert consistent > 0.25 * h * w  # the strict branch is the common one


@pytest.mark.parametrize(
    "players",
    [SpectralBands(4), OrientedBands(3, 4), OrientedBands(2, 3, shape="circle"), FourierGrid(4), FourierGrid(5)],
    ids=repr,
)
@pytest.mark.parametrize("h,w", SIZES)
def test_every_partition_is_exact_and_conjugate_symmetric(players, h, w):
    masks = players.masks(h, w)
    assert masks.shape == (players.n_bands, h, w)
    assert torch.equal(masks.sum(0), torch.ones(h, w))
    assert bool((masks.sum(dim=(1, 2)) > 0).all())
    flipped = torch.roll(torch.flip(masks, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))  # m[-u, -v]
    assert torch.equal(masks, flipped)
    x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))
    parts = players.decompose(x)
    assert (parts.sum(1) - x).abs().max() <= 1e-5
    full = np.fft.ifft2(np.fft.fft2(x.numpy())[:, None] * masks.numpy()[None, :, None])
    assert np.abs(full.imag).max() < 1e-6


def test_oriented_rings_sum_to_the_radial_bands():
    players = OrientedBands(4, 4)
    merged = (players.rings() @ players.masks(32, 32).flatten(1).double()).reshape(4, 32, 32)
    assert torch.equal(merged, SpectralBands(4).masks(32, 32, dtype=torch.float64))


def test_custom_partition_from_masks_and_centred_ids():
    ids = FourierGrid(3).index(20, 20)
    masks = torch.stack([ids == p for p in range(5)])
    assert torch.equal(CustomPartition(masks).index(20, 20), ids)
    assert torch.equal(CustomPartition(torch.fft.fftshift(ids), centred=True).index(20, 20), ids)


@pytest.mark.parametrize(
    "masks, match",
    [
        (torch.zeros(2, 8, 8), "bin \\(0, 0\\) is in no player"),
        (torch.ones(2, 8, 8), "more than one player"),
        ((torch.arange(64).reshape(8, 8) == 8).long(), "not conjugate-symmetric"),
        (torch.zeros(8, 8, dtype=torch.int64), "at least 2 players"),
        (torch.full((8, 8), 0.5), "integer player ids"),
        (torch.tensor([[0, 2], [2, 0]]), "hold no bin"),
        (torch.zeros(0, 0, dtype=torch.long), r"masks is empty \(shape \(0, 0\)\)"),
        (torch.zeros(2, 0, 4), r"masks is empty"),
    ],
)
def test_custom_partition_refuses_what_is_not_a_partition(masks, match):
    with pytest.raises((ValueError, TypeError), match=match):
        CustomPartition(masks)


def test_custom_partition_copies_its_masks_and_refuses_an_empty_one():
    ids = FourierGrid(2).index(12, 12).clone()
    players = CustomPartition(ids)
    ids.zero_()
    assert players.n_bands == 2 and int(players.index(12, 12).max()) == 1
    masks = torch.stack([FourierGrid(2).index(12, 12) == p for p in range(2)] + [torch.zeros(12, 12, dtype=torch.bool)])
    with pytest.raises(ValueError, match=r"mask\(s\) \[2\] hold no bin"):
        CustomPartition(masks)


def test_custom_partition_refuses_another_size():
    with pytest.raises(ValueError, match="was given for 20 x 20 images, not 16 x 16"):
        CustomPartition(FourierGrid(3).index(20, 20)).index(16, 16)


@pytest.mark.parametrize(
    "players, size, match",
    [
        (OrientedBands(4, 8), 16, "fewer rings or orientations"),
        (FourierGrid(8), 8, "smallest square size that fills it is 9 x 9"),
    ],
)
def test_too_many_players_for_the_image_name_the_limit(players, size, match):
    with pytest.raises(ValueError, match=match):
        players.index(size, size)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"orientations": 1}, "orientations"),
        ({"n_rings": 0}, "n_rings"),
        ({"n_rings": 1, "shape": "bogus"}, "shape must be one of"),
        ({"n_rings": 1, "edges": [0, 0.3, 1]}, "edges divide the plane into rings"),
    ],
)
def test_oriented_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OrientedBands(**kwargs)


def test_grid_argument_is_checked():
    with pytest.raises(ValueError, match="grid"):
        FourierGrid(1)


@pytest.mark.parametrize("players", [SpectralBands(6, shape="circle"), OrientedBands(2, 4), FourierGrid(3)], ids=repr)
def test_config_round_trip(players):
    again = partition_from_config(players.config(), players.n_bands)
    assert again == players and torch.equal(again.index(24, 24), players.index(24, 24))
    assert len(players.labels()) == players.n_bands


def test_custom_partition_config_round_trip():
    players = CustomPartition(FourierGrid(2).index(12, 12), labels=["lower", "upper"])
    again = partition_from_config(players.config(), 2)
    assert torch.equal(again.index(12, 12), players.index(12, 12))
    assert again.labels() == ["lower", "upper"]


def test_the_game_runs_unchanged_on_any_partition():
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3)]
    model = torch.nn.Sequential(*layers)
    x = torch.rand(2, 3, 20, 20)
    for players in (OrientedBands(2, 2), FourierGrid(3)):
        ia = IASIDE(model.eval(), bands=players)
        exact, delta = ia.attribute(x, target=0, return_convergence_delta=True)
        assert exact.shape == (2, players.n_bands) and float(delta.abs().max()) < 1e-4
        for estimator in ("permutation", "kernel", "kadd", "kadd3"):  # sampling at the full budget: exact again
            sampled = ia.attribute(x, target=0, estimator=estimator, budget=4 * 2**players.n_bands)
            assert torch.allclose(sampled, exact, atol=1e-4), estimator
        for baseline in ("shuffle", "gaussian", "mean"):
            phi, delta = ia.attribute(x, target=0, baselines=baseline, return_convergence_delta=True)
            assert float(delta.abs().max()) < 1e-4


def test_a_report_of_a_custom_partition_draws_it_at_its_own_size(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from captum_iaside import write_report

    layers = [torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3)]
    model = torch.nn.Sequential(*layers).eval()
    players = CustomPartition(FourierGrid(2).index(16, 16), labels=["low-ish", "high-ish"])
    res = IASIDE(model, bands=players).attribute_global([torch.rand(4, 3, 16, 16)], n_bootstrap=10)
    files = write_report(res, tmp_path / "rep")
    assert "fourier_Sequential.png" in files and res.n_bands == 2
