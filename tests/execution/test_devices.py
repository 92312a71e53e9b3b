"""The forward size on devices: out-of-memory handling (everywhere), and what only a CUDA device can show —
results on the right device, bf16 autocast, channels-last coalition images, nccl. The CUDA tests skip without one;
``benchmarks/gpu_check.py`` runs them where a GPU is lent."""

import os
import subprocess
import sys

import pytest
import torch
from conftest import tiny_cnn
from torch import nn

from captum_iaside import IASIDE
from captum_iaside.execution.workspace import preferred_memory_format

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class RunsOutOfMemory(nn.Module):
    """A model that raises PyTorch's out-of-memory error on forwards of more than ``limit`` images."""

    def __init__(self, model, limit):
        super().__init__()
        self.model, self.limit, self.refused = model, limit, 0

    def forward(self, x):
        if x.shape[0] > self.limit:
            self.refused += 1
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate a forward of {x.shape[0]} images")
        return self.model(x)


def test_out_of_memory_drops_the_size_and_the_values_stay_exact(images):
    model = RunsOutOfMemory(tiny_cnn(), limit=12)
    ia = IASIDE(model, bands=5)
    auto = ia.attribute(images, target=[0, 1, 2], perturbations_per_eval="auto")
    fixed = IASIDE(tiny_cnn(), bands=5).attribute(images, target=[0, 1, 2], perturbations_per_eval=1)
    # other forward sizes group the images differently: equal to float32 rounding, not bitwise
    assert torch.allclose(auto, fixed, atol=1e-5) and model.refused >= 1


def test_a_fixed_size_that_runs_out_of_memory_is_the_users_to_change(images):
    ia = IASIDE(RunsOutOfMemory(tiny_cnn(), limit=12), bands=5)
    with pytest.raises(torch.OutOfMemoryError):
        ia.attribute(images, target=[0, 1, 2], perturbations_per_eval=16)


@cuda
def test_values_are_on_the_models_device_and_agree_with_the_cpu(images):
    model = tiny_cnn()
    on_cpu = IASIDE(model, bands=4).attribute_global([(images, torch.tensor([0, 1, 2]))], n_bootstrap=0)
    gpu = IASIDE(tiny_cnn().cuda(), bands=4)
    local = gpu.attribute(images.cuda(), target=torch.tensor([0, 1, 2]).cuda(), perturbations_per_eval="auto")
    assert local.device.type == "cuda"
    res = gpu.attribute_global([(images, torch.tensor([0, 1, 2]))], device="cuda", n_bootstrap=0)
    # TF32 convolutions on the GPU differ from the CPU's float32 by about 1e-3 of a value
    assert torch.allclose(res.values.cpu(), on_cpu.values, atol=5e-3, rtol=5e-3)
    assert res.config["execution"]["model"]["memory_peak"] > 0


@cuda
def test_bf16_autocast_stays_close_and_channels_last_reaches_the_model(images):
    model = tiny_cnn().cuda().to(memory_format=torch.channels_last)
    seen = []
    model.register_forward_pre_hook(lambda m, i: seen.append(i[0].is_contiguous(memory_format=torch.channels_last)))
    x = images.cuda()
    assert preferred_memory_format(model, x) == torch.channels_last
    ia = IASIDE(model, bands=4)
    full = ia.attribute(x, target=[0, 1, 2], perturbations_per_eval=8)
    half = ia.attribute(x, target=[0, 1, 2], perturbations_per_eval=8, autocast_dtype=torch.bfloat16)
    assert all(seen) and half.dtype == full.dtype
    assert float((half - full).abs().max()) <= 0.05 * float(full.abs().max())


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_two_gpus_with_nccl_give_the_result_of_one(tmp_path):
    script = os.path.join(os.path.dirname(os.path.dirname(__file__)), "scripts", "global_run.py")
    out = [tmp_path / f"rank{r}.pt" for r in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, script, str(out[r]), "--nccl", "--distributed", str(r), "2", str(tmp_path / "store")]
        )
        for r in range(2)
    ]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    a, b = (torch.load(p) for p in out)
    assert torch.allclose(a["values"], b["values"])
