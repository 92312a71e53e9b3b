import math
import warnings

import pytest
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

from captum_iaside import IASIDE, compare_global
from captum_iaside.global_run.accumulators import stratum_groups
from captum_iaside.global_run.strata import check_strata, dataset_targets, stratified_order

M = 4


def pool(sizes=(30, 20, 10), size=8, seed=0):
    """Images whose spectra depend on their class (class c: smooth ramps of frequency c + 1, plus noise), so
    φ varies far more between classes than within them."""
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    grid = torch.linspace(0, 2 * math.pi, size)
    for c, n in enumerate(sizes):
        wave = torch.sin((c + 1) * grid)[None, :] * torch.cos((c + 1) * grid)[:, None]
        xs.append(wave + 0.3 * torch.randn(n, 1, size, size, generator=g))
        ys.append(torch.full((n,), c))
    return torch.cat(xs), torch.cat(ys)


def scorer(x):
    """Three class scores: the image's energy at low, high and all frequencies (a plain function)."""
    f = torch.fft.fft2(x).abs().flatten(1)
    return torch.stack([f[:, :20].sum(1) / 20, f[:, 20:].sum(1) / 44, f.sum(1) / 70], dim=1)


def exact_phi(x, model=scorer):
    """Exact φ of every image for the class the model predicts (as a label-free global run explains)."""
    return IASIDE(model, bands=M, value="logit").attribute(x, target=model(x).argmax(1)).double()


def run(x, y, model=scorer, **kw):
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    return IASIDE(model, bands=M, value="logit").attribute_global(loader, use_labels=False, **kw)


def naive_stratified(phi, y):
    """Σ_h W_h mean_h and sqrt(Σ_h W_h² s_h² / n_h), by hand."""
    est, var = torch.zeros(phi.shape[1], dtype=torch.float64), torch.zeros(phi.shape[1], dtype=torch.float64)
    for c in y.unique():
        rows = phi[y == c]
        w = rows.shape[0] / phi.shape[0]
        est += w * rows.mean(0)
        var += w**2 * rows.var(0) / rows.shape[0]
    return est, var.sqrt()


# ------------------------------------------------------------------ the pieces


def test_every_prefix_of_the_stratified_order_holds_each_stratum_in_proportion():
    ids = torch.tensor([0] * 50 + [1] * 30 + [2] * 7 + [3] * 1)
    order = stratified_order(ids, torch.Generator().manual_seed(3))
    assert sorted(order.tolist()) == list(range(88))
    for n in range(1, 89):
        seen = torch.bincount(ids[order[:n]], minlength=4).double()
        assert ((seen - n * torch.tensor([50, 30, 7, 1]) / 88).abs() < 1 + 1e-9).all(), n


def test_labels_are_read_without_the_images():
    x, y = torch.zeros(6, 1, 4, 4), torch.tensor([2, 0, 1, 2, 0, 1])
    assert torch.equal(dataset_targets(TensorDataset(x, y)), y)
    assert torch.equal(dataset_targets(Subset(TensorDataset(x, y), [5, 0])), torch.tensor([1, 2]))

    class Folder(torch.utils.data.Dataset):  # ImageFolder and torchvision's data sets keep a list of targets
        targets = [1, 1, 0]

        def __len__(self):
            return 3

    assert dataset_targets(Folder()).tolist() == [1, 1, 0]
    assert dataset_targets(TensorDataset(x)) is None and dataset_targets(TensorDataset(x, x)) is None


def test_strata_of_fewer_than_two_images_are_pooled_and_unseen_ones_left_out():
    groups, missing = stratum_groups({0: 5, 1: 1, 2: 1}, {0: 50, 1: 20, 2: 10, 3: 20})
    assert [g.members for g in groups] == [[0], [1, 2]] and missing == pytest.approx(0.2)
    assert [g.weight for g in groups] == pytest.approx([50 / 80, 30 / 80])
    groups, missing = stratum_groups({0: 5, 1: 2, 2: 1}, {0: 50, 1: 20, 2: 10})  # one image alone joins stratum 1
    assert [g.members for g in groups] == [[0], [1, 2]] and [g.weight for g in groups] == pytest.approx([5 / 8, 3 / 8])
    assert stratum_groups({}, {0: 3}) == ([], 1.0)


@pytest.mark.parametrize(
    "strata, error, words",
    [
        ("class", ValueError, "strata='class' is not known"),
        (torch.tensor([0.5, 1.0]), TypeError, "1-D integer tensor"),
        (torch.zeros(2, 3, dtype=torch.long), TypeError, "1-D integer tensor"),
        (torch.zeros(0, dtype=torch.long), ValueError, "empty"),
        (3, TypeError, "strata must be"),
    ],
)
def test_bad_strata_are_named(strata, error, words):
    with pytest.raises(error, match=words):
        check_strata(strata)
    with pytest.raises(error, match="strata"):
        run(*pool(), strata=strata)


def test_strata_the_data_cannot_give_are_refused_before_the_work():
    x, y = pool()
    calls = []

    def counted(t):
        calls.append(1)
        return scorer(t)

    stream = ((x[i : i + 8], y[i : i + 8]) for i in range(0, 60, 8))
    with pytest.raises(ValueError, match="strata='target'.*not known before the run"):
        IASIDE(counted, bands=M).attribute_global(stream, strata="target")
    with pytest.raises(ValueError, match="strata='target'.*use_labels=False"):
        run(x, y, counted, strata="target")
    with pytest.raises(ValueError, match="strata has 59 ids, but the DataLoader's dataset holds 60"):
        run(x, y, counted, strata=y[:59])
    batched = DataLoader(TensorDataset(x, y), batch_sampler=[list(range(i, i + 6)) for i in range(0, 60, 6)])
    with pytest.raises(ValueError, match="strata as a tensor needs a DataLoader with a batch_size"):
        IASIDE(counted, bands=M).attribute_global(batched, strata=y)
    with pytest.raises(ValueError, match="strata has 59 ids, but the data yield 60"):
        IASIDE(counted, bands=M).attribute_global([(x, y)], strata=y[:59])
    assert not calls


# ------------------------------------------------------------------ the estimate


def test_a_census_is_the_stratified_mean_with_the_within_strata_error():
    x, y = pool()
    phi = exact_phi(x)
    res = run(x, y, strata=y, n_bootstrap=0)
    est, se = naive_stratified(phi, y)
    assert torch.allclose(res.values, phi.mean(0), atol=1e-9)  # proportional: the plain mean
    assert torch.allclose(res.values, est, atol=1e-9) and torch.allclose(res.stderr, se, atol=1e-9)
    plain = run(x, y, strata=None, n_bootstrap=0)
    assert torch.allclose(plain.stderr, phi.std(0) / math.sqrt(60), atol=1e-9)
    assert (res.stderr < plain.stderr).all()  # the between-class spread dropped out
    assert res.config["strata"] == {
        "source": "tensor",
        "strata": 3,
        "images": 60,
        "allocation": "proportional",
        "weights": "known",
        "strata_seen": 3,
        "strata_pooled": 0,
        "weight_unseen": 0.0,
    }
    assert plain.config["strata"] is None


def test_the_images_a_budget_reaches_are_in_proportion_and_the_default_uses_the_labels():
    x, y = pool()
    ia = IASIDE(scorer, bands=M, value="logit")
    res = ia.attribute_global(
        DataLoader(TensorDataset(x, y), batch_size=8), max_evaluations=30 * (M + 1), by_class=True
    )
    assert res.config["strata"]["source"] == "target" and res.n_samples >= 30
    counts = {c: v["n_samples"] for c, v in res.by_class.items()}
    assert all(abs(counts[c] - res.n_samples * n / 60) <= 1 for c, n in enumerate((30, 20, 10))), counts
    assert res.config["evaluations"] <= 30 * (M + 1)
    label_free = ia.attribute_global(DataLoader(TensorDataset(x), batch_size=8), max_evaluations=30 * (M + 1))
    assert label_free.config["strata"] is None


def test_stratified_runs_are_unbiased_and_their_intervals_cover():
    x, y = pool()
    truth = exact_phi(x).mean(0)
    estimates, hits, variances = [], 0, []
    runs = 120
    for seed in range(runs):
        res = run(x, y, strata=y, max_evaluations=20 * (M + 1), seed=seed, n_bootstrap=100)
        estimates.append(res.values)
        variances.append(res.stderr**2)
        hits += int(((res.values_ci[0] <= truth) & (truth <= res.values_ci[1])).all())
    est = torch.stack(estimates)
    se_of_mean = est.std(0) / math.sqrt(runs)
    assert ((est.mean(0) - truth).abs() < 4 * se_of_mean).all()
    # the reported variance is that of a sample from an infinite population: at most a little above the
    # spread over runs on this pool of 60 (a third of it reached), never below it
    ratio = torch.stack(variances).mean(0) / est.var(0)
    assert ((ratio > 0.8) & (ratio < 2.0)).all(), ratio
    assert hits / runs >= 0.85  # all four bands at once


def test_strata_reached_once_or_not_at_all_still_give_an_error_and_say_so():
    x, y = pool(sizes=(30, 20, 1, 1))
    with pytest.warns(UserWarning, match="held none of 1 strata"):
        res = run(x, y, strata=y, max_evaluations=21 * (M + 1), n_bootstrap=50, seed=1)
    cfg = res.config["strata"]
    assert cfg["strata_seen"] == 3 and cfg["strata_pooled"] == 1 and cfg["weight_unseen"] == pytest.approx(1 / 52)
    assert torch.isfinite(res.stderr).all() and res.srs_ci is not None
    many = torch.arange(52)  # every image a stratum of its own: all pooled, the plain mean and its error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        census = run(x, y, strata=many, n_bootstrap=0)
    plain = run(x, y, strata=None, n_bootstrap=0)
    assert torch.allclose(census.values, plain.values) and torch.allclose(census.stderr, plain.stderr)
    assert census.config["strata"]["strata_pooled"] == 52


def test_a_stream_is_post_stratified_with_the_weights_of_its_ids():
    x, y = pool(sizes=(10, 20, 10))  # in class order: the first 25 images hold classes 0 and 1 alone
    stream = ((x[i : i + 5], y[i : i + 5]) for i in range(0, 40, 5))
    with pytest.warns(UserWarning, match="held none of 1 strata"):
        res = IASIDE(scorer, bands=M, value="logit").attribute_global(
            stream, strata=y, n_samples=25, n_bootstrap=0, use_labels=False
        )
    phi = exact_phi(x[:25])
    expected = phi[:10].mean(0) * 10 / 30 + phi[10:25].mean(0) * 20 / 30  # the tensor's weights, not 10 : 15
    assert res.config["strata"]["allocation"] == "post-stratified" and res.n_samples == 25
    assert torch.allclose(res.values, expected, atol=1e-9)
    assert res.config["strata"]["weight_unseen"] == pytest.approx(0.25)


def test_compared_models_are_stratified_alike_and_their_differences_paired():
    x, y = pool()

    def other(t):
        return scorer(t.flip(-1)) * 1.5

    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    comp = compare_global({"a": scorer, "b": other}, loader, bands=M, value="logit", use_labels=False, strata=y)
    phi_a = exact_phi(x)
    phi_b = exact_phi(x, other)
    est, se = naive_stratified(phi_a - phi_b, y)
    diff = comp.values_difference("a", "b")
    assert torch.allclose(diff.values, est, atol=1e-9) and torch.allclose(diff.stderr, se, atol=1e-9)
    alone = IASIDE(other, bands=M, value="logit").attribute_global(loader, use_labels=False, strata=y)
    assert torch.equal(comp.results["b"].values, alone.values) and torch.equal(comp.results["b"].stderr, alone.stderr)


def test_the_loader_is_rebuilt_with_its_settings_and_no_random_state_is_drawn():
    x, y = pool(sizes=(21, 21))
    g = torch.Generator().manual_seed(4)
    sampler = torch.utils.data.SubsetRandomSampler(list(range(40)), generator=g)  # draws other images each time
    loader = DataLoader(
        TensorDataset(x, y), batch_size=8, sampler=sampler, drop_last=True, generator=torch.Generator().manual_seed(0)
    )  # a loader with a generator draws its workers' seeds from it, never from the global state
    ours, theirs = torch.get_rng_state(), g.get_state()
    res = IASIDE(scorer, bands=M, value="logit").attribute_global(loader, strata="target", by_class=True)
    assert torch.equal(torch.get_rng_state(), ours) and torch.equal(g.get_state(), theirs)
    assert res.n_samples == 40 and res.config["strata"]["images"] == 40  # 5 whole batches of the 40 drawn
    assert {c: v["n_samples"] for c, v in res.by_class.items()} == {0: 21, 1: 19}


def test_labels_that_drift_from_the_ids_are_refused():
    x, y = pool()

    def drop_first(items):  # a collate that leaves an image out shifts every later stratum id
        return torch.utils.data.default_collate(items[1:])

    loader = DataLoader(TensorDataset(x, y), batch_size=8, collate_fn=drop_first)
    with pytest.raises(ValueError, match="labels of the batch at image 0 differ.*collate_fn"):
        IASIDE(scorer, bands=M, value="logit").attribute_global(loader, strata="target")


def test_every_model_of_a_comparison_reads_its_own_data_in_the_same_order():
    x, y = pool()
    flipped = DataLoader(TensorDataset(x.flip(-1), y), batch_size=8)  # model b's own preprocessing
    comp = compare_global(
        {"a": scorer, "b": lambda t: scorer(t.flip(-1))},
        {"a": DataLoader(TensorDataset(x, y), batch_size=8), "b": flipped},
        bands=M,
        value="logit",
        max_evaluations=20 * (M + 1),
        n_bootstrap=0,
    )
    assert comp.results["a"].config["strata"]["source"] == "target"
    assert torch.allclose(comp.results["a"].values, comp.results["b"].values, atol=1e-6)  # the same images
    stream = ((x[i : i + 8], y[i : i + 8]) for i in range(0, 60, 8))  # cannot follow the order: not stratified
    mixed = compare_global(
        {"a": scorer, "b": scorer}, {"a": DataLoader(TensorDataset(x, y), batch_size=8), "b": stream}, bands=M
    )
    assert mixed.results["a"].config["strata"] is None


def test_a_second_pass_keeps_each_image_in_its_stratum():
    # data of unknown length, post-stratified: the second pass (exact values) meets every image at the same
    # position, so its stratum is the first pass's and the result is the exact stratified estimate
    x, y = pool()

    class Unsized:
        def __iter__(self):
            return ((x[i : i + 8], y[i : i + 8]) for i in range(0, 60, 8))

    ia = IASIDE(scorer, bands=M, value="logit")
    res = ia.attribute_global(Unsized(), strata=y, use_labels=False, max_evaluations=60 * (M + 1 + 2**M))
    assert res.config["passes"] == 2 and res.config["strata"]["allocation"] == "post-stratified"
    est, se = naive_stratified(exact_phi(x), y)
    assert torch.allclose(res.values, est, atol=1e-9) and torch.allclose(res.stderr, se, atol=1e-9)
