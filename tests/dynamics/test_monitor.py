"""SpectralMonitor: each step against a literal per-image Shapley loop, the paired difference against the per-image
differences by hand, the games fixed across calls, the history file, and its errors."""

import copy
import json
import math

import pytest
import torch
from conftest import tiny_cnn
from reference import band_index, coalition_image, naive_log_prob_shapley, naive_shapley
from torch import nn

from captum_iaside import SpectralMonitor

LABELS = torch.tensor([0, 1, 0, 1, 2, 2, 0])
M = 3


@pytest.fixture
def probe():
    return torch.randn(7, 3, 16, 16, generator=torch.Generator().manual_seed(3))


def nudged(model, scale=0.02, seed=1):
    """The model a little later in training: every weight moved by a small seeded step."""
    later = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in later.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return later


def stratified_stderr(rows, labels):
    """Σ_h W_h² s_h² / n_h with W_h = n_h / n, by hand."""
    n, var = rows.shape[0], torch.zeros(rows.shape[1], dtype=torch.float64)
    for h in labels.unique():
        r = rows[labels == h]
        var += (r.shape[0] / n) ** 2 * r.var(dim=0) / r.shape[0]
    return var.sqrt()


def test_a_step_is_the_stratified_mean_of_literal_per_image_shapley_values(probe):
    model = tiny_cnn()
    monitor = SpectralMonitor(probe, LABELS, bands=M, batch_size=3)  # three games of 3, 3 and 1 images
    res = monitor(model, step=0)
    phi = naive_log_prob_shapley(model, probe, LABELS, M)
    assert torch.allclose(res.values, phi.mean(0), atol=1e-5)  # float32 forwards
    assert torch.allclose(res.stderr, stratified_stderr(phi, LABELS), rtol=1e-3, atol=1e-7)
    assert res.config["step"] == 0 and res.n_samples == 7
    assert monitor.cost == 7 * 2**M + 1


def test_the_same_model_at_two_steps_plays_the_same_games(probe):
    # a sampling estimator and a random baseline: only fixed coalitions and baseline images make them equal
    model = tiny_cnn()
    monitor = SpectralMonitor(probe, LABELS, bands=5, baseline="shuffle", max_evaluations=7 * 11 + 1, n_bootstrap=50)
    a = monitor(model, step=0)
    b = monitor(copy.deepcopy(model), step=1)
    assert torch.equal(a.values, b.values) and a.srs_ci == b.srs_ci
    d = monitor.difference(1, 0)
    assert torch.all(d.values == 0) and torch.all(d.stderr == 0) and d.srs == 0
    assert d.srs_ci == (0.0, 0.0)


def test_the_difference_is_paired_over_the_probe_images(probe):
    model = tiny_cnn()
    later = nudged(model)
    monitor = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=100)
    first, second = monitor(model, 0), monitor(later, 5)
    d = monitor.difference(5, 0)
    delta = naive_log_prob_shapley(later, probe, LABELS, M) - naive_log_prob_shapley(model, probe, LABELS, M)
    assert torch.allclose(d.values, second.values - first.values, atol=1e-10)
    assert torch.allclose(d.values, delta.mean(0), atol=1e-5)
    assert torch.allclose(d.stderr, stratified_stderr(delta, LABELS), rtol=1e-3, atol=1e-7)
    assert torch.allclose(d.unpaired_stderr, (first.stderr**2 + second.stderr**2).sqrt())
    assert bool((d.stderr < d.unpaired_stderr).all())  # a small step: the images' own spread cancels
    assert d.values_ci.shape == (2, M) and bool((d.values_ci[0] <= d.values_ci[1]).all())
    assert math.isclose(d.srs, second.srs - first.srs, abs_tol=1e-12)
    assert d.srs_ci[0] <= d.srs_ci[1]
    assert d.to_dict()["a"] == 5 and json.dumps(d.to_dict())


def test_the_history_is_a_tidy_table(probe):
    monitor = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=20)
    model = tiny_cnn()
    for step in (0, 2):
        monitor(nudged(model, seed=step), step)
    rows = monitor.history
    assert [(r.step, r.player) for r in rows] == [(s, m) for s in (0, 2) for m in range(M)]
    res = monitor.results[2]
    assert [r.psi for r in rows[M:]] == res.values.tolist()
    assert rows[M].srs == res.srs and (rows[M].srs_low, rows[M].srs_high) == res.srs_ci
    assert rows[0].label == res.players.labels()[0]
    assert monitor.steps == [0, 2]


def test_a_model_is_measured_in_eval_mode_and_each_submodule_given_back_as_it_was(probe):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten(), nn.LazyLinear(3))
    model(probe)  # materialise the lazy layer
    model.train()
    model[1].eval()  # a frozen batch norm stays frozen
    before = copy.deepcopy(model.state_dict())
    monitor = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=0)
    res = monitor(model, 0)
    assert model.training and model[0].training and not model[1].training and model[2].training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # batch-norm statistics untouched
    model.eval()
    model[2].train()  # dropout left on by mistake: the monitor measures in eval mode all the same
    again = monitor(model, 1)
    assert torch.allclose(again.values, res.values, atol=1e-6) and model[2].training


def test_a_model_that_edits_its_input_in_place_leaves_the_probe_as_it_was(probe):
    class Normalising(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tiny_cnn()

        def forward(self, x):
            return self.net(x.sub_(0.5))

    monitor = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=0)
    kept = monitor.inputs.clone()
    monitor(Normalising(), 0)
    assert torch.equal(monitor.inputs, kept)


@pytest.mark.parametrize("wrap", [lambda s: (s,), lambda s: {"logits": s}])
def test_outputs_as_the_zoos_return_them(probe, wrap):
    model = tiny_cnn()
    plain = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=0)(model, 0)
    wrapped = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=0)(lambda x: wrap(model(x)), 0)
    assert torch.allclose(plain.values, wrapped.values, atol=1e-12)


def test_the_defaults_give_128_images_16_evaluations_each():
    x = torch.randn(128, 3, 16, 16, generator=torch.Generator().manual_seed(6))
    y = torch.arange(128) % 5
    monitor = SpectralMonitor(x, y)
    assert monitor.budget == 16 and monitor.cost == 2049 and monitor.estimator.name == "permutation"
    too_many = r"max_evaluations=2048 gives each of the 129 probe images 15 .*max_evaluations=2064"
    with pytest.raises(ValueError, match=too_many):
        SpectralMonitor(torch.cat([x, x[:1]]), torch.cat([y, y[:1]]))


def test_per_image_forward_args_follow_their_images(probe):
    # a tensor with one row per probe image goes with its image into every game of 2 images and every coalition
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tiny_cnn()

        def forward(self, x, scale):
            return self.net(x) * scale[:, None]

    scale = torch.linspace(0.5, 2.0, 7)
    res = SpectralMonitor(probe, LABELS, bands=M, batch_size=2)(Scaled(), 0, additional_forward_args=(scale,))
    index = band_index(16, 16, M, "square")

    def value_of(s):
        with torch.no_grad():
            out = tiny_cnn()(coalition_image(probe, torch.zeros_like(probe), index, s)) * scale[:, None]
        return torch.log_softmax(out, 1)[torch.arange(7), LABELS]

    assert torch.allclose(res.values, naive_shapley(value_of, M).mean(0), atol=1e-5)


def test_the_history_file_is_written_after_each_step_and_read_back(probe, tmp_path):
    path = tmp_path / "history.json"
    model = tiny_cnn()
    monitor = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=20, path=str(path))
    monitor(model, 0)
    monitor(nudged(model), 1)
    data = json.loads(path.read_text())
    assert [s["step"] for s in data["steps"]] == [0, 1] and len(data["history"]) == 2 * M
    again = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=20, path=str(path))
    assert again.steps == [0, 1]
    assert torch.allclose(again.results[1].values, monitor.results[1].values)
    assert torch.allclose(again.difference(1, 0).stderr, monitor.difference(1, 0).stderr)

    def broken(x):
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        again(broken, 2)
    assert again.steps == [0, 1]
    assert [s["step"] for s in json.loads(path.read_text())["steps"]] == [0, 1]  # nothing lost
    for other in ({"bands": 4}, {"batch_size": 4}, {"seed": 1}, {"confidence": 0.9}):  # other games or statistics
        with pytest.raises(ValueError, match="path"):
            SpectralMonitor(probe, LABELS, **{"bands": M, "n_bootstrap": 20, **other}, path=str(path))


def test_a_history_in_a_new_folder_and_a_damaged_one(probe, tmp_path):
    path = tmp_path / "runs" / "a" / "history.json"
    SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=0, path=str(path))(tiny_cnn(), 0)
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    data = json.loads(path.read_text())
    data["steps"][0]["per_image"] = [[0.0]]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="damaged"):
        SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=0, path=str(path))


def test_log_writes_scalars_to_anything_with_add_scalar(probe):
    class Writer:
        def __init__(self):
            self.scalars = []

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, value, step))

    monitor = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=0)
    writer = Writer()
    with pytest.raises(ValueError, match="no step"):
        monitor.log(writer)
    res = monitor(tiny_cnn(), 3)
    monitor.log(writer)
    tags = {t: (v, s) for t, v, s in writer.scalars}
    assert tags["iaside/psi/0"] == (float(res.values[0]), 3)  # the player's index: labels hold dashes
    assert tags["iaside/srs"] == (res.srs, 3) and len(writer.scalars) == 2 * M + 1
    with pytest.raises(TypeError, match="writer"):
        monitor.log(object())


def test_a_budget_sets_the_cost_and_is_shared_by_the_images(probe):
    monitor = SpectralMonitor(probe, LABELS, bands=6, max_evaluations=7 * 20 + 1)
    assert monitor.cost == 7 * 20 + 1 and monitor.budget == 20  # one image checks the model's classes
    assert monitor(tiny_cnn(), 0).n_samples == 7


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"target": [0, 1]}, ValueError, "target"),
        ({"target": LABELS - 1}, ValueError, "negative"),
        ({"strata": torch.tensor([0, 0, 1, 1, 2, 2, 3])}, ValueError, "strata"),
        ({"target": torch.tensor([0, 0, 1, 1, 2, 2, 3])}, ValueError, "class 3 has 1"),
        ({"strata": "classes"}, ValueError, "strata"),
        ({"max_evaluations": 6}, ValueError, "max_evaluations"),
        ({"max_evaluations": 0}, ValueError, "max_evaluations"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"confidence": 1.5}, ValueError, "confidence"),
        ({"n_bootstrap": -1}, ValueError, "n_bootstrap"),
    ],
)
def test_bad_settings_are_refused_before_any_forward(probe, kwargs, error, match):
    kwargs = {"target": LABELS, **kwargs}
    with pytest.raises(error, match=match):
        SpectralMonitor(probe, bands=M, **kwargs)


def test_bad_calls_are_refused_and_lose_nothing(probe):
    monitor = SpectralMonitor(probe, LABELS, bands=M, n_bootstrap=0)
    monitor(tiny_cnn(), 0)
    with pytest.raises(ValueError, match="step=0 was measured"):
        monitor(tiny_cnn(), 0)
    with pytest.raises(ValueError, match="step"):
        monitor(tiny_cnn(), -1)
    with pytest.raises(ValueError, match="class scores"):
        monitor(tiny_cnn(n_classes=2), 1)  # the labels reach class 2
    with pytest.raises(ValueError, match="earlier steps 5"):
        monitor(tiny_cnn(n_classes=4), 1)
    with pytest.raises(ValueError, match="b=7"):
        monitor.difference(0, 7)
    with pytest.raises(TypeError, match="model"):
        monitor("model", 1)
    assert monitor.steps == [0]
