"""The command line under torchrun: 2 gloo processes on the CPU against one process."""

import json
import os
import subprocess
import sys

import pytest

from .helpers import make_folder

FACTORY = """
import torch
from torch import nn

def make():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
"""

COMMON = ["--model", "tinyfactory:make", "--data", "data", "--resolution", "16", "--bands", "4", "--quiet"]


def launch(tmp_path, n_processes, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    if n_processes == 1:
        command = [sys.executable, "-m", "captum_iaside"]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n_processes}"]
        command += ["-m", "captum_iaside"]
    done = subprocess.run(
        [*command, *COMMON, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture
def folder(tmp_path):
    from PIL import Image

    (tmp_path / "tinyfactory.py").write_text(FACTORY)
    make_folder(tmp_path / "data", n_per_class=3, size=16)  # 6 images
    for corruption in ("fog", "contrast"):  # released-style corruptions of the same two classes
        for severity in (1, 4):
            for cls in ("a", "b"):
                path = tmp_path / "corrupted" / corruption / str(severity) / cls
                path.mkdir(parents=True)
                for i in range(3):
                    value = 30 * severity + 7 * i + (cls == "b") * 90
                    Image.new("RGB", (16, 16), (value, 255 - value, value // 2)).save(path / f"{i}.png")
    return tmp_path


#: The robustness options: each rank scores its share of every set, the counts summed.
ROBUST = ["--labels", "folder", "--corruptions", "corrupted", "--severities", "1", "4", "--ood", "same=data"]
ROBUST += ["--attack-epsilon", "0.05", "--pgd-steps", "2"]


def result(folder, out):
    report = json.loads((folder / out / "results.json").read_text())
    return report["models"][0]["result"], report["config"]


def test_two_ranks_give_the_results_of_one_process(folder):
    one = launch(folder, 1, "--out", "one", "--samples", "5", *ROBUST)
    two = launch(folder, 2, "--out", "two", "--samples", "5", "--checkpoint", "run.ckpt", *ROBUST)
    a, _ = result(folder, "one")
    b, config = result(folder, "two")
    assert b["n_samples"] == a["n_samples"] == 5 and config["world_size"] == 2
    assert b["values"] == pytest.approx(a["values"], abs=1e-9) and b["v_full"] == pytest.approx(a["v_full"])
    assert two.stdout.count("K = 5 images") == 1 == one.stdout.count("K = 5 images")  # rank 0 alone reports
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("run.ckpt")) == [
        "run.ckpt.rank0",
        "run.ckpt.rank1",
    ]
    # the robustness sets: the same accuracies and adversarial spectra from two ranks as from one process
    robust = [json.loads((folder / out / "results.json").read_text())["robustness"] for out in ("one", "two")]
    acc_one, acc_two = (r["rows"][0]["accuracies"] for r in robust)
    keys = {"clean", "fog@1", "fog@4", "contrast@1", "contrast@4", "ood:same", "FGSM@0.05", "PGD@0.05"}
    assert set(acc_one) == set(acc_two) == keys and acc_two == pytest.approx(acc_one)
    # the same images as clean, scored over their own 2 of the model's 3 classes: right wherever clean is right
    assert acc_one["ood:same"] >= acc_one["clean"]
    spectra = [r["adversarial"]["tinyfactory:make"] for r in robust]
    assert spectra[1]["images"] == spectra[0]["images"] == 6
    assert spectra[1]["energy_share"] == pytest.approx(spectra[0]["energy_share"], rel=1e-5)
    assert two.stdout.count("Robustness (the SRS") == 1 == one.stdout.count("Robustness (the SRS")


def test_a_rank_without_images_still_takes_part(folder):
    launch(folder, 2, "--out", "one-image", "--samples", "1", "--bootstrap", "0")
    res, config = result(folder, "one-image")
    assert res["n_samples"] == 1 and config["world_size"] == 2


def test_two_ranks_share_a_budget(folder):
    launch(folder, 2, "--out", "budget", "--max-evaluations", "60", "--bootstrap", "50")
    res, config = result(folder, "budget")
    assert (
        config["world_size"] == res["config"]["world_size"] == 2
        and res["config"]["evaluations"] <= 60
        and res["n_samples"] >= 2
        and len(res["values"]) == 4
    )


def test_cuda_ranks_get_their_local_gpu_or_one_line(monkeypatch):
    import torch

    from captum_iaside.cli.command import _device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert _device("cuda", 1, 2, 2) == torch.device("cuda", 1) and _device("auto", 0, 2, 2) == torch.device("cuda", 0)
    assert _device("cuda", 0, 1, 1) == torch.device("cuda")  # a single process keeps the current GPU
    assert _device("cuda", 0, 1, 4) == torch.device("cuda", 0)  # one rank per node on 4 nodes
    with pytest.raises(ValueError, match="would put all 2 ranks of this node on one GPU"):
        _device("cuda:1", 0, 2, 2)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="needs a GPU per rank: 4 ranks on this node, 1 GPU"):
        _device("cuda", 0, 4, 4)
