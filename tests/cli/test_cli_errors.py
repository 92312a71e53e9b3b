"""Every bad input to the command line: exit 2 and one line, before any attribution."""

import urllib.error

import pytest
import torch
from torch import nn

import captum_iaside.attr.compare
from captum_iaside.cli.command import main

from .helpers import count_runs, make_folder, run_refused

FACTORIES = """
import torch
from torch import nn

def runtime():
    raise RuntimeError("weights are corrupt")

def keyerror():
    return {}["missing"]

def fixed_size():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))

def not_a_classifier():
    return nn.Conv2d(3, 2, 3)

def sized(width=4):
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 2))
"""


@pytest.fixture
def setup(tmp_path, monkeypatch):
    (tmp_path / "badfactories.py").write_text(FACTORIES)
    (tmp_path / "brokenmodule.py").write_text("raise KeyError('broken at import')\n")
    monkeypatch.chdir(tmp_path)  # module:factory imports from the current directory
    calls = count_runs(monkeypatch)
    make_folder(tmp_path / "data")
    (tmp_path / "afile.txt").write_text("not a folder")
    wide = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    torch.save(wide.state_dict(), tmp_path / "wide.pt")
    torch.save(wide, tmp_path / "pickled.pt")
    return tmp_path, calls


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model", "badfactories:runtime"], "raised RuntimeError: weights are corrupt"),
        (["--model", "badfactories:keyerror"], "raised KeyError"),
        (["--model", "brokenmodule:make"], "cannot import module 'brokenmodule'"),
        (["--model", "badfactories:fixed_size"], "cannot take the run's images (1, 3, 16, 16)"),
        (["--model", "badfactories:not_a_classifier"], "is not an image classifier"),
        (["--checkpoint", ""], "expected a file path"),
        (["--checkpoint", "afile.txt/run.ckpt"], "which is a file"),
        (["--out", "afile.txt"], "is a file; give a folder"),
        (["--data", "afile.txt"], "is a file; give a folder"),
        (["--bands", "200"], "smallest square size that gives every band a bin is 398 x 398"),
        (["--bands", "x"], "expected a positive integer"),
        (["--seed", "-5"], "expected an integer of 0 or more, got -5"),
        (["--bootstrap", "-1"], "expected an integer of 0 or more, got -1"),
        (["--out", "/proc/rep"], "--out='/proc/rep/results.json' cannot be written"),
        (["--checkpoint", "/proc/x.ckpt"], "--checkpoint='/proc/x.ckpt' cannot be written"),
        (["--no-such-flag"], "unrecognized arguments"),
        (["--model-arg", "depth"], "expected KEY=VALUE (e.g. num_classes=10), got 'depth'"),
        (["--model", "badfactories:sized", "--model-arg", "depth=50"], "cannot be built with depth=50"),
        (["--model", "badfactories:sized", "--weights", "wide.pt"], "'0.weight' has shape (8, 3, 3, 3) in the file"),
        (["--model", "badfactories:sized", "--weights", "pickled.pt"], "pickled object, not a state dict"),
        (["--model", "badfactories:sized", "--weights", "gone.pt"], "weights file 'gone.pt' does not exist"),
        (["--model", "pickled.pt"], "is a pickled model (torch.save(model)), refused"),
        (["--model", "wide.pt"], "is a state dict, not a model"),
        (["--model", "efficientnet-lite0", "--model-arg", "a=1"], "takes no --model-arg"),
        (["--model", "timm:resnet181", "--weights", "none"], "did you mean resnet18"),
        (["--model", "badfactories:sized", "--steps", "1", "2"], "--steps reads models as the steps of one training"),
        (["--model", "a.pt", "--model", "b.pt", "--steps", "1"], "--steps gives 1 step(s) for 2 models"),
        (["--model", "a.pt", "--model", "b.pt", "--steps", "3", "3"], "--steps: step 3 is given twice"),
        (["--model", "a.pt", "--model", "b.pt", "--steps", "-1", "2"], "expected a step: an integer of 0 or more"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_work(setup, capsys, extra, message):
    root, calls = setup
    args = ["--data", "data", "--resolution", "16", "--bands", "4", "--quiet", "--out", "rep"]
    args = args + extra
    if "--model" not in extra:
        args += ["--model", "torchvision:resnet18", "--weights", "none"]
    status, err, seconds = run_refused(main, args, capsys)
    assert status == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not calls and seconds < 20


def test_a_torchscript_file_of_another_size_is_refused_before_the_work(setup, capsys):
    root, calls = setup
    scripted = torch.jit.script(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2)))
    scripted.save(str(root / "small.pt"))
    args = ["--model", "small.pt", "--data", "data", "--resolution", "16", "--bands", "4", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot take the run's images (1, 3, 16, 16)" in err and not calls


def test_ctrl_c_says_whether_a_checkpoint_holds_the_work(setup, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(captum_iaside.attr.compare, "run_global", interrupted)
    common = ["--data", "data", "--resolution", "16", "--bands", "4", "--quiet"]
    common += ["--model", "torchvision:resnet18", "--weights", "none"]
    assert main(common + ["--checkpoint", "run.ckpt"]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert main(common) == 130
    assert "nothing was saved; pass --checkpoint" in capsys.readouterr().err


def test_offline_weights_say_what_to_do(setup, capsys, monkeypatch):
    import torchvision

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.models, "get_model", offline)
    args = ["--model", "torchvision:resnet18", "--data", "data", "--resolution", "16", "--bands", "4", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--weights none" in err
