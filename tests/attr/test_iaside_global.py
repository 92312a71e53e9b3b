import os
import subprocess
import sys

import pytest
import torch
from conftest import tiny_cnn
from torch.utils.data import DataLoader, TensorDataset

from captum_iaside import IASIDE, spectral_importance_distribution, spectral_robustness_score

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "global_run.py")


def data(n=24, seed=11, batch_size=4, shuffle_seed=None):
    g = torch.Generator().manual_seed(seed)
    ds = TensorDataset(torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, 5, (n,), generator=g))
    if shuffle_seed is None:
        return DataLoader(ds, batch_size=batch_size), ds
    return DataLoader(
        ds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(shuffle_seed)
    ), ds


def test_tolerance_stops_early_and_says_why(model):
    loader, _ = data(n=200, batch_size=10)
    ia = IASIDE(model, bands=4)
    full = ia.attribute_global(loader, perturbations_per_eval=16)
    assert full.stop_reason == "data exhausted" and full.n_samples == 200
    early = ia.attribute_global(loader, perturbations_per_eval=16, tolerance=0.2)
    assert 10 <= early.n_samples < 200
    assert early.stop_reason.startswith("tolerance: max stderr / range(psi) = ")
    assert float(early.stderr.max() / (early.values.max() - early.values.min())) <= 0.2
    capped = ia.attribute_global(loader, n_samples=30, perturbations_per_eval=16)
    assert capped.stop_reason == "n_samples=30 reached"


def test_bootstrap_intervals_cover_the_population_value(model):
    ia = IASIDE(model, bands=4)
    population, ds = data(n=240, batch_size=40)
    truth = ia.attribute_global(population, perturbations_per_eval=16, n_bootstrap=0)
    assert truth.sid_ci is None and truth.srs_ci is None
    sample, _ = data(n=240, batch_size=20, shuffle_seed=1)
    res = ia.attribute_global(sample, n_samples=80, perturbations_per_eval=16, n_bootstrap=300, seed=2)
    lo, hi = res.srs_ci
    assert lo <= res.srs <= hi
    assert lo <= truth.srs <= hi
    assert (res.sid_ci[0] <= truth.sid + 1e-12).all() and (truth.sid <= res.sid_ci[1] + 1e-12).all()
    assert spectral_robustness_score(spectral_importance_distribution(res.values)) == pytest.approx(res.srs)


def test_by_class_means(model):
    loader, ds = data()
    ia = IASIDE(model, bands=4)
    res = ia.attribute_global(loader, perturbations_per_eval=16, by_class=True)
    x, y = ds.tensors
    phi = ia.attribute(x, target=y).double()
    assert sum(d["n_samples"] for d in res.by_class.values()) == 24
    for c, d in res.by_class.items():
        assert d["n_samples"] == int((y == c).sum())
        assert torch.allclose(d["values"], phi[y == c].mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="by_class=True needs class targets"):
        scalar = IASIDE(lambda z: model(z)[:, 0], bands=4, value="logit")
        scalar.attribute_global([x[:4]], by_class=True)


def run_script(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("design", [[], ["--max-evaluations", "160"]])
def test_resume_after_sigkill_is_bitwise_identical(tmp_path, design):
    ref = tmp_path / "ref.pt"
    assert run_script(ref, "--baseline", "gaussian", *design).returncode == 0
    ckpt = tmp_path / "run.ckpt"
    killed = run_script(
        tmp_path / "never.pt", "--baseline", "gaussian", "--checkpoint", ckpt, "--kill-at-batch", 3, *design
    )
    assert killed.returncode == -9 and ckpt.exists() and not (tmp_path / "never.pt").exists()
    saved = torch.load(ckpt, weights_only=True)
    strata = saved["state"]["accumulators"]["model"]["strata"]
    assert saved["state"]["batches_done"] == 3 and sum(s["moments"]["count"] for s in strata.values()) == 12
    resumed = tmp_path / "resumed.pt"
    assert run_script(resumed, "--baseline", "gaussian", "--checkpoint", ckpt, *design).returncode == 0
    a, b = torch.load(ref, weights_only=False), torch.load(resumed, weights_only=False)
    assert a["n"] == b["n"] == 24 and a["config"]["design"] == b["config"]["design"]
    assert a["config"]["design"]["automatic"] == bool(design)
    for key in ["values", "stderr", "sid_ci"]:
        assert torch.equal(a[key], b[key]), key
    assert a["srs_ci"] == b["srs_ci"] and a["v_full"] == b["v_full"]
    for c in a["by_class"]:
        assert torch.equal(a["by_class"][c]["values"], b["by_class"][c]["values"])


def test_finished_checkpoint_returns_without_recomputing(tmp_path):
    loader, _ = data()
    ckpt = str(tmp_path / "done.ckpt")
    model = tiny_cnn()
    ia = IASIDE(model, bands=4)
    first = ia.attribute_global(loader, perturbations_per_eval=16, checkpoint=ckpt)
    calls = []
    model.register_forward_pre_hook(lambda m, i: calls.append(1))
    again = ia.attribute_global(loader, perturbations_per_eval=16, checkpoint=ckpt)
    # only the two forwards that identify the model by what it does: v(∅) and v(N) of the first batch
    assert len(calls) == 2 and torch.equal(first.values, again.values) and again.stop_reason == "data exhausted"


def test_checkpoint_of_another_configuration_is_refused_and_kept(tmp_path, model):
    loader, _ = data()
    ckpt = tmp_path / "other.ckpt"
    IASIDE(model, bands=4).attribute_global(loader, perturbations_per_eval=16, checkpoint=str(ckpt))
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match=r"different run \(differs in: bands"):
        IASIDE(model, bands=5).attribute_global(loader, perturbations_per_eval=16, checkpoint=str(ckpt))
    with pytest.raises(ValueError, match="differs in: .*seed"):  # and so the stratified order, the data read
        IASIDE(model, bands=4).attribute_global(loader, perturbations_per_eval=16, checkpoint=str(ckpt), seed=1)
    assert ckpt.read_bytes() == before
    (tmp_path / "junk.ckpt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        IASIDE(model, bands=4).attribute_global(loader, checkpoint=str(tmp_path / "junk.ckpt"))


def run_two_ranks(tmp_path, *args):
    init = tmp_path / "init"
    procs = [
        subprocess.Popen(
            [sys.executable, SCRIPT, str(tmp_path / f"rank{r}.pt"), *args, "--distributed", str(r), "2", str(init)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]


@pytest.mark.parametrize("args", [["--unequal"], ["--unequal", "--tolerance", "0.01"]])
def test_ranks_with_unequal_data_finish_together(tmp_path, args):
    # rank 0 has 4 batches, rank 1 has 2: every rank reaches every collective, and both return one result
    single = tmp_path / "single.pt"
    assert run_script(single).returncode == 0
    ranks = run_two_ranks(tmp_path, *args)
    one = torch.load(single, weights_only=False)
    for many in ranks:
        assert many["n"] == 24 and many["stop_reason"] == "data exhausted"
        assert torch.allclose(many["values"], one["values"], atol=1e-12)
    assert torch.equal(ranks[0]["sid_ci"], ranks[1]["sid_ci"])


@pytest.mark.parametrize("args", [["--max-evaluations", "150"], ["--max-evaluations", "150", "--unequal"]])
def test_ranks_share_the_budget_of_an_automatic_design(tmp_path, args):
    ranks = run_two_ranks(tmp_path, *args)
    assert ranks[0]["config"]["evaluations"] == ranks[1]["config"]["evaluations"] <= 150
    assert ranks[0]["config"]["design"]["estimator"]["stratified"]
    assert torch.equal(ranks[0]["values"], ranks[1]["values"]) and ranks[0]["n"] == ranks[1]["n"]


def test_two_gloo_processes_equal_one(tmp_path):
    single = tmp_path / "single.pt"
    assert run_script(single).returncode == 0
    one = torch.load(single, weights_only=False)
    for many in run_two_ranks(tmp_path):
        assert many["n"] == one["n"] == 24
        assert torch.allclose(many["values"], one["values"], atol=1e-12)
        assert torch.allclose(many["stderr"], one["stderr"], atol=1e-12)
        assert many["v_full"] == pytest.approx(one["v_full"], abs=1e-12)
        for c in one["by_class"]:
            assert torch.allclose(many["by_class"][c]["values"], one["by_class"][c]["values"], atol=1e-12)


def test_two_gloo_processes_merge_interactions(tmp_path):
    single = tmp_path / "single.pt"
    assert run_script(single, "--interactions").returncode == 0
    one = torch.load(single, weights_only=False)
    for many in run_two_ranks(tmp_path, "--interactions"):
        assert one["interactions"].shape == (4, 4) and many["n"] == 24
        assert torch.allclose(many["interactions"], one["interactions"], atol=1e-12)
        assert torch.allclose(many["interactions_stderr"], one["interactions_stderr"], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"n_bootstrap": -1}, "n_bootstrap"),
        ({"confidence": 1.5}, "confidence"),
        ({"tolerance": 0}, "tolerance must be positive"),
        ({"checkpoint_every": 0}, "checkpoint_every"),
    ],
)
def test_global_argument_errors(model, kwargs, match):
    loader, _ = data()
    with pytest.raises(ValueError, match=match):
        IASIDE(model, bands=4).attribute_global(loader, **kwargs)


def test_an_empty_batch_is_skipped(model):
    _, ds = data(n=8)
    x, y = ds.tensors
    ia = IASIDE(model, bands=4)
    with_gap = ia.attribute_global([(x[:4], y[:4]), (x[:0], y[:0]), (x[4:], y[4:])], n_bootstrap=0)
    without = ia.attribute_global([(x[:4], y[:4]), (x[4:], y[4:])], n_bootstrap=0)
    assert with_gap.n_samples == 8 and with_gap.stop_reason == "data exhausted"
    assert torch.equal(with_gap.values, without.values)


def test_a_checkpoint_of_other_weights_or_other_data_is_refused(tmp_path):
    loader, ds = data()
    ckpt = tmp_path / "run.ckpt"
    IASIDE(tiny_cnn(seed=0), bands=4).attribute_global(loader, perturbations_per_eval=16, checkpoint=str(ckpt))
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match=r"different run \(differs in: models"):
        IASIDE(tiny_cnn(seed=1), bands=4).attribute_global(loader, perturbations_per_eval=16, checkpoint=str(ckpt))
    other, _ = data(seed=12)
    with pytest.raises(ValueError, match=r"differs in: data"):
        IASIDE(tiny_cnn(seed=0), bands=4).attribute_global(other, perturbations_per_eval=16, checkpoint=str(ckpt))
    fewer, _ = data(n=20)
    with pytest.raises(ValueError, match=r"differs in: data"):
        IASIDE(tiny_cnn(seed=0), bands=4).attribute_global(fewer, perturbations_per_eval=16, checkpoint=str(ckpt))
    assert ckpt.read_bytes() == before


def test_a_scripted_model_is_fingerprinted_by_its_weights(tmp_path):
    loader, ds = data()
    x = ds.tensors[0][:2]
    ckpt = tmp_path / "run.ckpt"
    a, b = torch.jit.trace(tiny_cnn(seed=0), x), torch.jit.trace(tiny_cnn(seed=1), x)
    IASIDE(a, bands=4).attribute_global(loader, perturbations_per_eval=16, checkpoint=str(ckpt))
    with pytest.raises(ValueError, match="differs in: models"):
        IASIDE(b, bands=4).attribute_global(loader, perturbations_per_eval=16, checkpoint=str(ckpt))


def test_shuffle_survives_a_last_batch_of_one_image(model):
    _, ds = data(n=9)
    loader = DataLoader(ds, batch_size=4)  # batches of 4, 4 and 1
    ia = IASIDE(model, bands=4, baseline="shuffle")
    res = ia.attribute_global(loader, perturbations_per_eval=16, seed=3)
    assert res.n_samples == 9 and res.stop_reason == "data exhausted"
    again = ia.attribute_global(loader, perturbations_per_eval=16, seed=3)
    assert torch.equal(res.values, again.values)  # the donor of the single image is seeded
    with pytest.raises(ValueError, match="needs at least 2 images"):
        ia.attribute(ds.tensors[0][:1], target=0)
