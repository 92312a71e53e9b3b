"""Memory sizes, the budget and the gauge; max_memory from Python and the command line."""

import pytest
import torch
from conftest import tiny_cnn
from torch.utils.data import DataLoader, TensorDataset

from captum_iaside import IASIDE
from captum_iaside._utils.sizes import format_bytes, parse_memory
from captum_iaside.cli.command import main
from captum_iaside.execution import memory
from captum_iaside.execution.memory import MemoryBudget, MemoryGauge, peak_resident_memory, resident_memory
from captum_iaside.execution.workspace import Workspace


@pytest.mark.parametrize(
    "text, size",
    [
        ("2GB", 2 * 10**9),
        ("512MB", 512 * 10**6),
        (2e9, 2 * 10**9),
        ("1.5GiB", 3 * 2**29),
        ("64 kb", 64_000),
        (4096, 4096),
    ],
)
def test_sizes_are_read_in_the_units_people_type(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", [0, -1, "lots", "0GB", "-2GB", "2 parsecs", float("inf"), float("nan")])
def test_a_size_that_is_not_positive_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="max_memory"):
        parse_memory(bad)


@pytest.mark.parametrize("bad", [True, None, [1]])
def test_a_size_of_another_type_is_a_type_error(bad):
    with pytest.raises(TypeError, match="max_memory"):
        parse_memory(bad)


def test_sizes_are_written_for_people():
    assert format_bytes(1.31e9) == "1.31 GB" and format_bytes(512e6) == "512 MB" and format_bytes(12) == "12 B"
    assert format_bytes(999.6e6) == "1.00 GB" and format_bytes(46.1e3) == "46.1 kB"


def test_the_process_memory_is_read_where_linux_says_it():
    now, peak = resident_memory(), peak_resident_memory()
    assert now is None or peak is None or 0 < now <= peak * 1.01  # the peak is at least what is held now


def test_the_gauge_predicts_from_the_largest_forward_and_answers_the_budget():
    gauge = MemoryGauge(MemoryBudget(10**9, "max_memory"), torch.device("cpu"))
    assert gauge.fits(10**6)  # nothing measured: no refusal on a guess
    gauge.floor, gauge.per_image = 4 * 10**8, 10**7  # 10 MB per image over a floor of 400 MB
    assert gauge.predicted(60) == 10**9 and gauge.fits(60) and not gauge.fits(61)


def test_a_larger_forward_is_predicted_from_the_largest_one_measured(monkeypatch):
    # resident peaks of 1.14 GB at 7 images and 1.26 GB at 14 over a floor of 0.9 GB: the cost per image of the
    # largest forward (26 MB, fixed costs included) predicts 35 images at 1.8 GB, which errs towards more
    held = {"peak": 9 * 10**8}
    monkeypatch.setattr(memory, "_used", lambda device: 9 * 10**8)
    monkeypatch.setattr(memory, "_peak", lambda device: held["peak"])
    gauge = MemoryGauge(MemoryBudget(None, "default"), torch.device("cpu"))
    assert gauge.predicted(35) is None  # nothing measured
    for images, peak in ((7, 114 * 10**7), (14, 126 * 10**7)):
        before = gauge.before_forward()
        held["peak"] = peak
        gauge.after_forward(images, before)
    assert gauge.predicted(14) == pytest.approx(1.26e9, rel=1e-6)
    assert gauge.predicted(35) == pytest.approx(0.9e9 + 35 * 0.36e9 / 14, rel=1e-6)


@pytest.mark.skipif(resident_memory() is None, reason="the system does not say what the process holds")
def test_a_budget_below_what_the_process_holds_is_refused_before_any_forward(images):
    calls = []
    model = tiny_cnn()
    model.register_forward_pre_hook(lambda m, i: calls.append(1))
    with pytest.raises(ValueError, match="max_memory=1 MB is too small"):
        IASIDE(model, bands=4).attribute_global([(images, torch.tensor([0, 1, 2]))], max_memory="1MB")
    assert calls == []


def test_a_measured_forward_caps_the_size_to_the_budget():
    workspace = Workspace(16, max_memory="100GB")
    workspace.prepare(4, torch.device("cpu"), 1000, 8000)
    assert workspace.chunk_size(4, 254) == 16
    gauge = workspace.gauge
    gauge.floor, gauge.per_image = 0, workspace.max_memory / 40  # 40 images fit: 10 coalitions of 4 images
    assert workspace.chunk_size(4, 254) == 10 and workspace.perturbations_per_eval == 10
    gauge.per_image = workspace.max_memory / 3  # not even one coalition of 4 images
    with pytest.raises(ValueError, match="max_memory=100.00 GB is too small"):
        workspace.chunk_size(4, 254)


def test_a_fixed_size_with_the_default_budget_stays_as_asked():
    workspace = Workspace(16)
    workspace.prepare(4, torch.device("cpu"), 1000, 8000)
    workspace.gauge.floor, workspace.gauge.per_image = 0, 10**15
    assert workspace.chunk_size(4, 254) == 16


def test_the_run_reports_its_forward_size_timings_and_peak(images):
    data = DataLoader(TensorDataset(images.repeat(3, 1, 1, 1), torch.tensor([0, 1, 2] * 3)), batch_size=9)
    res = IASIDE(tiny_cnn(), bands=5).attribute_global(data, perturbations_per_eval="auto", n_bootstrap=0)
    execution = res.config["execution"]["model"]
    assert execution["perturbations_per_eval"] == res.config["perturbations_per_eval"]
    assert execution["images_per_forward"] == 9 * execution["perturbations_per_eval"]
    assert execution["choice"]["timings"] and all(t["forwards"] >= 1 for t in execution["choice"]["timings"])
    assert execution["memory_peak"] is None or execution["memory_peak"] >= execution["memory_floor"]


@pytest.mark.parametrize("bad", ["lots", "0", "-1"])
def test_the_command_line_refuses_a_bad_max_memory_in_one_line(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--max-memory", bad])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and "--max-memory" in err
