"""SpectralMonitor.measure_checkpoints: state dicts with a factory and TorchScript files give what the models give
directly; paths are checked before any is loaded, and a file that does not load is named."""

import copy

import pytest
import torch
from conftest import tiny_cnn

from captum_iaside import SpectralMonitor

LABELS = torch.tensor([0, 1, 0, 1, 2, 2])


@pytest.fixture
def probe():
    return torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(4))


@pytest.fixture
def models():
    return [tiny_cnn(seed=s) for s in (0, 1, 2)]


def direct(probe, models, steps):
    monitor = SpectralMonitor(probe, LABELS, bands=3, n_bootstrap=0)
    return [monitor(copy.deepcopy(m), s) for m, s in zip(models, steps, strict=True)]


def test_state_dicts_with_a_factory(probe, models, tmp_path):
    paths = []
    for k, m in enumerate(models):
        paths.append(tmp_path / f"epoch{k}.pt")
        torch.save({"state_dict": m.state_dict()}, paths[-1])
    monitor = SpectralMonitor(probe, LABELS, bands=3, n_bootstrap=0)
    results = monitor.measure_checkpoints(paths, model=tiny_cnn, steps=[1, 5, 9])
    assert monitor.steps == [1, 5, 9]
    for got, want in zip(results, direct(probe, models, [1, 5, 9]), strict=True):
        assert torch.allclose(got.values, want.values, atol=1e-12)


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_torchscript_files_by_step(probe, models, tmp_path):
    paths = {}
    for k, m in zip((2, 4), models[:2], strict=True):
        paths[k] = str(tmp_path / f"step{k}.ts")
        torch.jit.save(torch.jit.trace(m, probe[:1]), paths[k])
    monitor = SpectralMonitor(probe, LABELS, bands=3, n_bootstrap=0)
    results = monitor.measure_checkpoints(paths)
    for got, want in zip(results, direct(probe, models[:2], [2, 4]), strict=True):
        assert torch.allclose(got.values, want.values, atol=1e-6)


def test_paths_are_checked_before_any_is_loaded(probe, models, tmp_path):
    good = tmp_path / "good.pt"
    torch.save(models[0].state_dict(), good)
    monitor = SpectralMonitor(probe, LABELS, bands=3, n_bootstrap=0)
    with pytest.raises(ValueError, match=r"checkpoints\[1\].*not a file"):
        monitor.measure_checkpoints([good, tmp_path / "missing.pt"], model=tiny_cnn)
    with pytest.raises(ValueError, match="steps has 1"):
        monitor.measure_checkpoints([good, good], model=tiny_cnn, steps=[0])
    with pytest.raises(ValueError, match="step 3 is given twice"):
        monitor.measure_checkpoints([good, good], model=tiny_cnn, steps=[3, 3])
    with pytest.raises(TypeError, match="checkpoints"):
        monitor.measure_checkpoints(str(good), model=tiny_cnn)
    assert monitor.steps == []


def test_a_checkpoint_that_does_not_load_is_named_and_the_steps_before_it_stay(probe, models, tmp_path):
    good, bad, other = tmp_path / "good.pt", tmp_path / "bad.pt", tmp_path / "other.pt"
    torch.save(models[0].state_dict(), good)
    bad.write_bytes(b"not a checkpoint")
    torch.save(tiny_cnn(n_classes=7).state_dict(), other)
    monitor = SpectralMonitor(probe, LABELS, bands=3, n_bootstrap=0)
    with pytest.raises(ValueError, match=r"checkpoints\[1\] does not load"):
        monitor.measure_checkpoints([good, bad], model=tiny_cnn)
    assert monitor.steps == [0]
    with pytest.raises(ValueError, match=r"checkpoints\[3\] does not load.*shape"):
        monitor.measure_checkpoints({3: other}, model=tiny_cnn)
    with pytest.raises(ValueError, match="step 0 was measured already"):
        monitor.measure_checkpoints([good], model=tiny_cnn)
    with pytest.raises(ValueError, match=r"checkpoints\[5\] does not load.*state dict.*factory"):
        monitor.measure_checkpoints({5: good})  # a state dict without the architecture
    with pytest.raises(TypeError, match="factory"):
        monitor.measure_checkpoints({6: good}, model=tiny_cnn())  # a module, not a factory
