import pytest
import torch

from captum_iaside.cli.data import embedded_photos, preprocess
from captum_iaside.robustness.corruptions import CORRUPTIONS, SEVERITIES, corrupt


@pytest.fixture(scope="module")
def photos():
    # natural photos in [0, 1] (identity normalisation)
    return embedded_photos(
        preprocess(48, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), names=["chelsea", "coffee", "rocket"]
    ).tensors[0]


def total_snr(x, y):
    return float(10 * torch.log10(x.pow(2).sum() / (y - x).pow(2).sum()))


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_shape_range_seed_and_no_mutation(photos, name):
    before = photos.clone()
    out = corrupt(photos, name, 3, seed=1)
    assert out.shape == photos.shape and out.dtype == photos.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(out, corrupt(photos, name, 3, seed=1))
    assert torch.equal(photos, before)
    assert not torch.equal(out, photos)
    if name in ("gaussian_noise", "shot_noise", "impulse_noise"):
        assert not torch.equal(out, corrupt(photos, name, 3, seed=2))


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_snr_falls_as_severity_rises(photos, name):
    snr = [total_snr(photos, corrupt(photos, name, s, seed=0)) for s in SEVERITIES]
    assert all(a > b for a, b in zip(snr, snr[1:], strict=False)), snr


def test_bad_arguments(photos):
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        corrupt(photos, "fog", 1)
    with pytest.raises(ValueError, match="severity must be one of"):
        corrupt(photos, "contrast", 6)
