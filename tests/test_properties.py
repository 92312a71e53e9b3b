"""Property-based tests over the core: what must hold for every size, band count, baseline and dtype."""

import json
import math

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from captum_iaside import IASIDE, CustomPartition, FourierGrid, OrientedBands, SpectralBands, SpectralImportance

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bands_or_none(m, shape, h, w):
    b = SpectralBands(m, shape=shape)
    try:
        return b, b.index(h, w)
    except ValueError:  # a band without a bin at this size: refused by design
        return b, None


@FAST
@given(h=st.integers(1, 24), w=st.integers(1, 24), m=st.integers(2, 6), shape=st.sampled_from(["square", "circle"]))
def test_band_masks_partition_the_plane_and_are_conjugate_symmetric(h, w, m, shape):
    bands, index = bands_or_none(m, shape, h, w)
    assume(index is not None)
    masks = bands.masks(h, w).to(torch.int64)
    assert torch.equal(masks.sum(0), torch.ones(h, w, dtype=torch.int64))  # every bin in exactly one band
    flipped = torch.roll(torch.flip(index, dims=(0, 1)), shifts=(1, 1), dims=(0, 1))  # bin (-u, -v)
    assert torch.equal(index, flipped)
    x = torch.randn(1, 2, h, w, dtype=torch.float64)
    parts = bands.decompose(x)
    assert torch.allclose(parts.sum(1), x, atol=1e-12)


def tiny_model(channels: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(channels, 3, 3, padding=1), nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


@FAST
@given(
    h=st.integers(4, 12),
    w=st.integers(4, 12),
    m=st.integers(2, 4),
    channels=st.integers(1, 3),
    baseline=st.sampled_from(["zero", "shuffle", "gaussian", "mean", "tensor"]),
    seed=st.integers(0, 2**16),
)
def test_efficiency_in_float64_and_nothing_the_user_passes_changes(h, w, m, channels, baseline, seed):
    bands, index = bands_or_none(m, "square", h, w)
    assume(index is not None)
    model = tiny_model(channels, seed).double().eval()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, channels, h, w, generator=g, dtype=torch.float64)
    spec = torch.rand(1, channels, h, w, generator=g, dtype=torch.float64) if baseline == "tensor" else baseline
    kept = (x.clone(), spec.clone() if baseline == "tensor" else spec, [p.clone() for p in model.parameters()])
    phi, delta = IASIDE(model, bands=bands, baseline=spec).attribute(x, return_convergence_delta=True, seed=seed)
    assert phi.dtype == torch.float64 and float(delta.abs().max()) < 1e-9
    assert torch.equal(x, kept[0]) and not model.training
    if baseline == "tensor":
        assert torch.equal(spec, kept[1])
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), kept[2], strict=True))


BAD = st.one_of(
    st.integers(-5, 0),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.booleans(),
    st.none(),
    st.lists(st.integers()),
)
ARGUMENTS = ["n_samples", "max_evaluations", "checkpoint_every", "n_bootstrap", "seed", "tolerance", "confidence"]


def valid(name, value):
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if name in ("n_samples", "max_evaluations", "tolerance") and value is None:
        return True  # their default
    if name == "tolerance":
        return number and 0 < value < float("inf")
    if name == "confidence":
        return number and 0 < value < 1
    if name == "n_bootstrap":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if name == "seed":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return False


@FAST
@given(name=st.sampled_from(ARGUMENTS), value=BAD)
def test_every_rejected_run_argument_raises_a_clear_error_naming_it(name, value):
    assume(not valid(name, value))
    model = tiny_model(3, 0).eval()
    data = [torch.zeros(2, 3, 8, 8)]
    with pytest.raises((TypeError, ValueError)) as info:
        IASIDE(model, bands=2).attribute_global(data, **{name: value})
    assert name in str(info.value)


@FAST
@given(value=BAD)
def test_every_rejected_band_count_raises_a_clear_error_naming_it(value):
    with pytest.raises((TypeError, ValueError)) as info:
        SpectralBands(value if value is not None else -1)
    assert "n_bands" in str(info.value)


def players_of(kind: str, size: int):
    r"""Players of each kind: ``size`` radial bands, ``size - 1`` rings of 2 sectors, or the 2 × 2 cells of a grid
    (as a :class:`FourierGrid`, and as a :class:`CustomPartition` of its id map)."""
    if kind == "radial":
        return SpectralBands(size)
    if kind == "oriented":  # one ring too: sectors without a radial order
        return OrientedBands(size - 1, 2)
    if kind == "grid":
        return FourierGrid(2)
    return CustomPartition(FourierGrid(2).index(8, 8))


finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


@FAST
@given(
    kind=st.sampled_from(["radial", "oriented", "grid", "custom"]),
    size=st.integers(2, 5),
    data=st.data(),
    extras=st.fixed_dictionaries(
        {"ci": st.booleans(), "interactions": st.booleans(), "by_class": st.booleans(), "nan_stderr": st.booleans()}
    ),
)
def test_from_dict_of_to_dict_is_the_result_for_every_player_type(kind, size, data, extras):
    players = players_of(kind, size)
    m = players.n_bands
    values = torch.tensor(data.draw(st.lists(finite, min_size=m, max_size=m)), dtype=torch.float64)
    stderr = torch.tensor(data.draw(st.lists(st.floats(0, 5), min_size=m, max_size=m)), dtype=torch.float64)
    if extras["nan_stderr"]:
        stderr[0] = math.nan  # a band of one image: no standard error
    ci = torch.stack([values - 1, values + 1]) if extras["ci"] else None
    pairs = torch.tensor(data.draw(st.lists(finite, min_size=m * m, max_size=m * m)), dtype=torch.float64)
    res = SpectralImportance(
        values,
        stderr,
        data.draw(st.integers(1, 10_000)),
        data.draw(finite),
        data.draw(finite),
        config={"bands": players.config(), "seed": 3},
        values_ci=ci,
        by_class={1: {"n_samples": 2, "values": values / 2, "stderr": stderr}} if extras["by_class"] else None,
        interactions=pairs.reshape(m, m) if extras["interactions"] else None,
        interactions_stderr=pairs.abs().reshape(m, m) if extras["interactions"] else None,
        stop_reason="data exhausted",
    )
    written = json.loads(json.dumps(res.to_dict()))  # through JSON, as results.json holds it
    back = SpectralImportance.from_dict(written)
    assert json.dumps(back.to_dict(), sort_keys=True) == json.dumps(written, sort_keys=True)
    assert torch.allclose(back.values, values) and torch.allclose(back.stderr, stderr, equal_nan=True)
    assert math.isnan(back.srs) == math.isnan(res.srs) and (math.isnan(res.srs) or back.srs == pytest.approx(res.srs))


@FAST
@given(n_images=st.integers(1, 4), n_labels=st.integers(0, 6), as_list=st.booleans())
def test_a_labelled_batch_is_run_exactly_when_it_holds_one_label_per_image(n_images, n_labels, as_list):
    x = torch.rand(n_images, 3, 8, 8, generator=torch.Generator().manual_seed(n_images))
    labels = [i % 3 for i in range(n_labels)]
    batch = (x, labels if as_list else torch.tensor(labels, dtype=torch.int64))
    ia = IASIDE(tiny_model(3, 0).eval(), bands=2)
    if n_labels != n_images:
        with pytest.raises(ValueError, match=f"batch 0 holds {n_images} images and {n_labels} labels"):
            ia.attribute_global([batch], use_labels=True, n_bootstrap=0)
        return
    res = ia.attribute_global([batch], use_labels=True, n_bootstrap=0)
    per_image = ia.attribute(x, target=torch.tensor(labels)).double()  # each image explains its own label
    assert res.n_samples == n_images and torch.allclose(res.values, per_image.mean(0), atol=1e-6)
