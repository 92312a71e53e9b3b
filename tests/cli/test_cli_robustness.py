"""The paper's study in one command, on tiny released-style trees and arrays built here: ψ and SRS of several models,
their accuracies (clean, each corruption and severity, an out-of-distribution subset, under attack) against a hand
computation, the mCE against AlexNet's published errors, the report's files; and every bad robustness option: exit 2
and one line, before any work."""

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from captum_iaside.cli.command import main
from captum_iaside.cli.data import preprocess
from captum_iaside.models.loaded import IMAGENET_MEAN, IMAGENET_STD
from captum_iaside.robustness.alexnet import ALEXNET_ERRORS

from .helpers import count_runs, make_folder, run_refused

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")

CLASSES = ["a", "b"]
CORRUPTIONS = ["fog", "snow"]


def picture(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    Image.fromarray(torch.randint(0, 256, (18, 20, 3), generator=g, dtype=torch.uint8).numpy()).save(path)


@pytest.fixture
def study(tmp_path):
    data = make_folder(tmp_path / "data")
    corrupted = tmp_path / "ImageNet-C"
    for c, corruption in enumerate(CORRUPTIONS):
        for severity in range(1, 6):
            for k, cls in enumerate(CLASSES):
                for i in range(2):
                    picture(
                        corrupted / corruption / str(severity) / cls / f"{i}.png", 100 * c + 10 * severity + 2 * k + i
                    )
    ood = tmp_path / "ood"
    for i in range(3):
        picture(ood / "b" / f"{i}.png", 1000 + i)  # a subset of --data's classes
    models = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
        path = tmp_path / f"m{seed}.pt"
        torch.jit.script(model.eval()).save(str(path))
        models.append(path)
    return tmp_path, data, corrupted, ood, models


def by_hand(model_path, files_and_labels):
    """The accuracy of a model file on image files, each read and preprocessed here as the run's own data are."""
    model = torch.jit.load(str(model_path)).eval()
    transform = preprocess(16, IMAGENET_MEAN, IMAGENET_STD)
    right = 0
    for path, label in files_and_labels:
        with Image.open(path) as im:
            x = transform(im.convert("RGB"))[None]
        right += int(model(x).argmax(dim=1).item() == label)
    return right / len(files_and_labels)


def labelled(folder):
    return [(p, CLASSES.index(p.parent.name)) for p in sorted(folder.glob("*/*.png"))]


def test_the_study_in_one_command(study, capsys):
    root, data, corrupted, ood, models = study
    out = root / "rep"
    args = ["--data", str(data), "--labels", "folder", "--bands", "4", "--resolution", "16", "--quiet"]
    args += [a for m in models for a in ("--model", str(m))]
    args += ["--corruptions", str(corrupted), "--ood", f"sketch={ood}", "--reference", "alexnet"]
    args += ["--attack-epsilon", "0.05", "--pgd-steps", "2", "--out", str(out)]
    assert main(args) == 0
    report = json.loads((out / "results.json").read_text())
    robustness = report["robustness"]
    assert [row["model"] for row in robustness["rows"]] == [m.name for m in models]
    for row, path in zip(robustness["rows"], models, strict=True):
        acc = row["accuracies"]
        assert acc["clean"] == pytest.approx(by_hand(path, labelled(data)))
        for corruption in CORRUPTIONS:
            for severity in range(1, 6):
                images = labelled(corrupted / corruption / str(severity))
                assert acc[f"{corruption}@{severity}"] == pytest.approx(by_hand(path, images))
        # ImageNet-R's protocol: the best of the set's own classes, here b alone, so every image is right
        assert acc["ood:sketch"] == 1.0
        assert {"FGSM@0.05", "PGD@0.05"} <= set(acc) and 0 <= acc["PGD@0.05"] <= 1
        # the mCE against AlexNet's published errors, by hand: the mean over severities of the error, over AlexNet's
        ce = [np.mean([1 - acc[f"{c}@{s}"] for s in range(1, 6)]) / ALEXNET_ERRORS[c] for c in CORRUPTIONS]
        assert row["mce"] == pytest.approx(np.mean(ce))
        measures = row["measures"]
        assert list(measures) == [
            "clean accuracy",
            "corruption accuracy",
            "mCE",
            "relative mCE",
            "OOD sketch accuracy",
            "adversarial accuracy",
        ]
    correlation = robustness["correlations"]["clean accuracy"]
    ci = correlation["spearman_ci"]
    assert correlation["models"] == 3 and (ci is None or -1 <= ci[0] <= ci[1] <= 1)
    spectra = robustness["adversarial"]
    for name in (m.name for m in models):
        share = spectra[name]["energy_share"]
        assert len(share) == 4 and sum(share) == pytest.approx(1.0) and spectra[name]["attack"] == "PGD"
    with open(out / "robustness.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["measure"] for r in rows} >= {"mCE", "fog@3", "ood:sketch", "PGD@0.05"}
    assert {"robustness.csv", "robustness.png", "adversarial.png", "results.csv"} <= set(report["files"])
    page = (out / "report.html").read_text()
    assert "<h2>Robustness</h2>" in page and "rests on 3 models" in page
    assert "over 2 of ImageNet-C's 15 corruptions (snow, fog)" in page and "mean over FGSM@0.05, PGD@0.05" in page
    assert "FGSM and PGD (2 steps), L∞ radius 0.05 on images in [0, 1]" in page  # the settings table
    printed = capsys.readouterr().out
    assert "Robustness (the SRS beside accuracies" in printed and "SRS vs mCE" in printed


def test_cifar10_c_arrays_are_read_through_each_models_transform(study, tmp_path):
    root, data, _, _, models = study
    arrays = tmp_path / "CIFAR-10-C"
    arrays.mkdir()
    g = np.random.default_rng(0)
    images = g.integers(0, 256, (5 * 4, 12, 12, 3), dtype=np.uint8)
    np.save(arrays / "gaussian_noise.npy", images)
    labels = np.array([0, 1, 1, 0])
    np.save(arrays / "labels.npy", labels)
    out = root / "rep"
    args = ["--data", str(data), "--labels", "folder", "--bands", "4", "--resolution", "16", "--quiet"]
    args += ["--model", str(models[0]), "--corruptions", str(arrays), "--severities", "2", "--out", str(out)]
    assert main(args) == 0
    row = json.loads((out / "results.json").read_text())["robustness"]["rows"][0]
    model = torch.jit.load(str(models[0])).eval()
    transform = preprocess(16, IMAGENET_MEAN, IMAGENET_STD)
    x = torch.stack([transform(torch.from_numpy(image).permute(2, 0, 1)) for image in images[4:8]])
    expected = float((model(x).argmax(dim=1) == torch.as_tensor(labels)).float().mean())
    assert row["accuracies"]["gaussian_noise@2"] == pytest.approx(expected)
    assert "mCE" not in row["measures"]  # no reference: no CE


@pytest.fixture
def counted(study, monkeypatch):
    root, *_ = study
    calls = count_runs(monkeypatch)
    monkeypatch.chdir(root)
    (root / "afile.txt").write_text("not a folder")
    picture(root / "zoo" / "zebra" / "0.png", 7)
    short = root / "short"
    short.mkdir()
    np.save(short / "fog.npy", np.zeros((10, 8, 8, 3), dtype=np.uint8))
    np.save(short / "labels.npy", np.zeros(3, dtype=np.int64))
    return calls


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--corruptions", "afile.txt"], "--corruptions: corruptions root 'afile.txt' is not a folder"),
        (["--corruptions", "data"], "a has no folder of severity 1"),
        (["--corruptions", "short"], "fog.npy holds 5 x 2 images but labels.npy 3 labels"),
        (["--corruptions", "ImageNet-C", "--severities", "6"], "expected a severity of 1 to 5, got 6"),
        (["--corruptions", "ImageNet-C", "--reference", "alexnet", "--severities", "1", "2"], "measure all five"),
        (["--corruptions", "ImageNet-C", "--reference", "nobody"], "--reference 'nobody' is neither alexnet nor"),
        (["--reference", "alexnet"], "--reference normalises corruption errors: it needs --corruptions"),
        (["--ood", "zoo=zoo"], "--ood zoo: ood folder 'zoo': the folders zebra name no class of the model"),
        (["--ood", "x=afile.txt"], "is not a folder"),
        (["--ood", "nameless"], "expected NAME=DIR"),
        (["--ood", "x=ood", "--ood", "x=ood"], "--ood names a set twice"),
        (["--attack-epsilon", "0"], "expected a positive radius"),
    ],
)
def test_bad_robustness_options_are_one_line_and_exit_2_before_any_work(counted, capsys, extra, message):
    args = ["--data", "data", "--labels", "folder", "--resolution", "16", "--bands", "4", "--quiet", "--out", "rep"]
    args += ["--model", "m1.pt", *extra]
    status, err, seconds = run_refused(main, args, capsys)
    assert status == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not counted and seconds < 20


def test_accuracies_need_labelled_data(counted, capsys):
    assert main(["--model", "m1.pt", "--ood", "x=ood", "--resolution", "16", "--bands", "4", "--quiet"]) == 2
    assert "need --data FOLDER --labels folder" in capsys.readouterr().err and not counted
