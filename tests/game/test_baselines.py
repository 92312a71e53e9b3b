import pytest
import torch

from captum_iaside.game.baselines import (
    GaussianBaseline,
    MeanBaseline,
    ShuffleBaseline,
    ZeroBaseline,
    derangement,
    reference_images,
    resolve_baseline,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_derangement_has_no_fixed_points_and_is_seeded():
    for n in [2, 3, 7, 50]:
        for seed in range(20):
            p = derangement(n, gen(seed))
            assert sorted(p.tolist()) == list(range(n))
            assert not (p == torch.arange(n)).any()
    assert torch.equal(derangement(9, gen(3)), derangement(9, gen(3)))


def test_shuffle_uses_other_images():
    x = torch.arange(5.0)[:, None, None, None].expand(5, 1, 4, 4)
    r = ShuffleBaseline()(x, gen())
    assert not (r[:, 0, 0, 0] == x[:, 0, 0, 0]).any()
    with pytest.raises(ValueError, match="at least 2 images"):
        ShuffleBaseline()(x[:1], gen())


def test_gaussian_std_in_input_units_and_seeded():
    x = torch.zeros(4, 3, 32, 32)
    r = GaussianBaseline(std=0.5)(x, gen(1))
    assert r.std().item() == pytest.approx(0.5, rel=0.05)
    assert torch.equal(r, GaussianBaseline(std=0.5)(x, gen(1)))
    assert not torch.equal(r, GaussianBaseline(std=0.5)(x, gen(2)))
    with pytest.raises(ValueError, match="std"):
        GaussianBaseline(std=0)


def test_zero_and_mean():
    x = torch.randn(3, 2, 8, 8)
    assert torch.equal(ZeroBaseline()(x, gen()), torch.zeros(1, 2, 8, 8))
    m = MeanBaseline()(x, gen())
    assert m.shape == (1, 2, 8, 8)
    assert torch.allclose(m[0, :, 3, 3], x.mean(dim=(0, 2, 3)))


def test_resolve_forms_and_errors():
    x = torch.randn(2, 3, 8, 8)
    assert isinstance(resolve_baseline(None), ZeroBaseline)
    assert isinstance(resolve_baseline("gaussian"), GaussianBaseline)
    t = torch.ones(3, 8, 8)
    assert torch.equal(reference_images(resolve_baseline(t), x, gen()), torch.ones(1, 3, 8, 8))
    assert torch.equal(reference_images(resolve_baseline(lambda z: z * 2), x, gen()), x * 2)
    with pytest.raises(ValueError, match="unknown baseline 'blur'"):
        resolve_baseline("blur")
    with pytest.raises(TypeError, match="baselines must be"):
        resolve_baseline(object())
    assert torch.equal(reference_images(resolve_baseline(3.0), x, gen()), torch.full((1, 3, 8, 8), 3.0))
    assert resolve_baseline(3.0).config() == {"name": "constant", "value": 3.0}
    assert isinstance(resolve_baseline((0,)), ZeroBaseline)
    with pytest.raises(ValueError, match=r"\(1, C, H, W\) or \(B, C, H, W\)"):
        reference_images(resolve_baseline(torch.ones(1, 3, 4, 4)), x, gen())
    with pytest.raises(ValueError, match=r"\(1 or 2, 3, 8, 8\)"):
        reference_images(resolve_baseline(torch.ones(5, 3, 8, 8)), x, gen())
