import csv
import json
import subprocess
import sys

import pytest
import torch

from captum_iaside import SpectralImportance
from captum_iaside.cli.arguments import ESTIMATOR_CHOICES, VALUE_CHOICES
from captum_iaside.cli.command import main
from captum_iaside.estimators.selection import ESTIMATORS
from captum_iaside.game.value_functions import VALUE_NAMES
from captum_iaside.report import RESULT_KEYS

from .helpers import make_folder, tiny_vit_folder, undecodable_png

FACTORY = """
import torch
from torch import nn

def make():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
"""


def read_report(out, n_bands, n_models):
    report = json.loads((out / "results.json").read_text())
    assert set(RESULT_KEYS) <= set(report)
    assert len(report["models"]) == n_models
    for run in report["models"]:
        res = run["result"]
        assert res["n_bands"] == n_bands and len(res["values"]) == n_bands and 0 <= res["srs"] <= 1
        assert {"model", "resolution", "wall_time_s"} <= set(run)
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_bands * n_models
    for name in report["files"]:
        assert (out / name).is_file()
    return report


def test_embedded_model_end_to_end(tmp_path, capsys):
    out = tmp_path / "rep"
    code = main(["--bands", "4", "--resolution", "32", "--samples", "2", "--out", str(out), "--quiet"])
    assert code == 0
    report = read_report(out, 4, 1)
    assert report["models"][0]["model"] == "efficientnet-lite0"
    assert report["models"][0]["result"]["n_samples"] == 2
    for f in [
        "report.html",
        "decomposition.png",
        "sid_efficientnet-lite0.png",
        "fourier_efficientnet-lite0.png",
    ]:
        assert (out / f).stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "embedded default" in printed and "SRS =" in printed
    # the closing line says the forward size and the peak memory, as results.json and report.html record them
    execution = report["models"][0]["execution"]
    closing = printed.strip().splitlines()[-1]
    assert f"{execution['images_per_forward']} images per forward" in closing and "peak memory" in closing
    assert execution["choice"]["timings"] and execution["memory_peak"] >= execution["memory_floor"] > 0
    assert "Forwards: " in (out / "report.html").read_text() and "ms per image" in (out / "report.html").read_text()


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_factory_and_torchscript_on_image_folder(tmp_path, monkeypatch):
    data = make_folder(tmp_path / "data")
    (tmp_path / "tinyfactory.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    import tinyfactory

    scripted = tmp_path / "tiny.pt"
    torch.jit.script(tinyfactory.make()).save(str(scripted))
    out = tmp_path / "rep"
    args = [
        "--model",
        "tinyfactory:make",
        "--model",
        str(scripted),
        "--data",
        str(data),
        "--labels",
        "folder",
        "--bands",
        "4",
        "--resolution",
        "16",
        "--out",
        str(out),
        "--quiet",
        "--batch-size",
        "3",
    ]
    assert main(args) == 0
    report = read_report(out, 4, 2)
    assert [r["result"]["n_samples"] for r in report["models"]] == [4, 4]
    assert report["models"][0]["result"]["config"]["labels"] == "given"
    # the same weights, so the same numbers, and a paired difference of zero
    a, b = (r["result"]["values"] for r in report["models"])
    assert a == pytest.approx(b, abs=1e-5)
    diff = report["comparison"]["models"]["tiny.pt"]["srs_difference"]
    assert diff["estimate"] == pytest.approx(0, abs=1e-5) and diff["interval"][0] <= 1e-5 <= diff["interval"][1] + 2e-5


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_checkpoints_of_one_run_are_read_as_steps(tmp_path, capsys):
    data = make_folder(tmp_path / "data")
    args = ["--data", str(data), "--labels", "folder", "--bands", "4", "--resolution", "16", "--quiet"]
    for epoch in (1, 2, 3):
        torch.manual_seed(epoch)
        model = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
            torch.nn.Linear(4, 2),
        )  # fmt: skip
        torch.jit.script(model).save(str(tmp_path / f"epoch{epoch}.pt"))
        args += ["--model", str(tmp_path / f"epoch{epoch}.pt")]
    out = tmp_path / "rep"
    assert main([*args, "--steps", "30", "10", "20", "--out", str(out)]) == 0
    report = read_report(out, 4, 3)
    assert report["dynamics"]["steps"] == {"epoch2.pt": 10, "epoch3.pt": 20, "epoch1.pt": 30}
    assert [(d["a"], d["b"]) for d in report["dynamics"]["differences"]] == [(20, 10), (30, 20)]
    assert report["config"]["steps"] == [30, 10, 20]
    printed = capsys.readouterr().out
    assert "Over the training steps" in printed and "step 10 → 20 (epoch2.pt → epoch3.pt): ΔSRS = " in printed
    assert "ΔSRS(" not in printed  # the steps replace the comparison against the first model
    assert {"dynamics.csv", "dynamics.png"} <= set(report["files"])
    assert "Over the training steps" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["--model", "torchvision:nosuchnet"], "torchvision has no model 'nosuchnet'"),
        (["--data", "/no/such/folder"], "does not exist"),
        (["--data", "EMPTY"], "no images found"),
        (["--bands", "8", "--resolution", "8"], "smallest square size"),
        (["--bands", "13", "--resolution", "64", "--estimator", "exact"], "limit of M=12"),
        (["--grid", "4", "--orientations", "2"], "--grid and --orientations are two kinds of players"),
        (["--grid", "1"], "grid must be at least 2, got 1"),
        (["--orientations", "1"], "orientations must be at least 2, got 1"),
        (["--grid", "8", "--interactions"], "interactions of M=32 players need a budget"),
        (["--interactions", "STII", "--estimator", "permutation", "--budget", "50"], "gives no interaction indices"),
        (["--orientations", "8", "--bands", "4", "--resolution", "16"], "fewer rings or orientations"),
        (["--labels", "folder"], "--labels folder needs --data FOLDER"),
        (["--strata", "target"], "--strata target stratifies by the folder's classes: it needs --data FOLDER"),
    ],
)
def test_errors_exit_2_with_one_line(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty") if a == "EMPTY" else a for a in args]
    assert main([*args, "--out", str(tmp_path / "rep"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("captum-iaside: error:") and message in err
    assert not (tmp_path / "rep").exists()


def test_module_entry_point_prints_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "captum_iaside", "--model", "nosuchmodel", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "unknown model" in proc.stderr


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in [
        "--model",
        "--data",
        "--bands",
        "--shape",
        "--baseline",
        "--value",
        "--samples",
        "--batch-size",
        "--device",
        "--seed",
        "--out",
        "--labels",
        "--weights",
    ]:
        assert opt in text


def test_two_models_are_compared_with_a_paired_interval(tmp_path, capsys):
    out = tmp_path / "rep"
    args = ["--model", "efficientnet-lite0", "--model", "efficientnet-lite1", "--bands", "4", "--resolution", "32"]
    assert main([*args, "--samples", "3", "--out", str(out), "--quiet", "--max-evaluations", "30"]) == 0
    printed = capsys.readouterr().out
    assert "ΔSRS(efficientnet-lite1 − efficientnet-lite0) = " in printed and "paired bootstrap CI" in printed
    assert all(
        f"{name}: " in printed and "peak memory" in printed for name in ("efficientnet-lite0", "efficientnet-lite1")
    )
    report = read_report(out, 4, 2)
    entry = report["comparison"]["models"]["efficientnet-lite1"]
    assert report["comparison"]["reference"] == "efficientnet-lite0" and len(entry["srs_difference"]["interval"]) == 2
    assert report["models"][0]["result"]["config"]["evaluations"] <= 30


def test_results_json_round_trips(tmp_path):
    out = tmp_path / "rep"
    assert main(["--bands", "4", "--resolution", "32", "--samples", "3", "--out", str(out), "--quiet"]) == 0
    saved = json.loads((out / "results.json").read_text())["models"][0]["result"]
    res = SpectralImportance.from_dict(saved)
    assert res.srs == pytest.approx(saved["srs"]) and res.signed_srs == pytest.approx(saved["signed_srs"])
    fig, _ = res.plot()
    assert fig is not None


def test_long_run_flags(tmp_path):
    data = make_folder(tmp_path / "data", n_per_class=3)
    (tmp_path / "tinyfactory.py").write_text(FACTORY)
    sys.path.insert(0, str(tmp_path))
    try:
        common = ["--model", "tinyfactory:make", "--data", str(data), "--labels", "folder", "--bands", "4"]
        common += ["--resolution", "16", "--quiet", "--by-class", "--bootstrap", "50", "--confidence", "0.9"]
        ckpt = tmp_path / "run.ckpt"
        assert main([*common, "--out", str(tmp_path / "a"), "--checkpoint", str(ckpt)]) == 0
        assert ckpt.exists()
        assert main([*common, "--out", str(tmp_path / "b"), "--checkpoint", str(ckpt)]) == 0  # resumed: finished
    finally:
        sys.path.remove(str(tmp_path))
    a = json.loads((tmp_path / "a" / "results.json").read_text())["models"][0]["result"]
    b = json.loads((tmp_path / "b" / "results.json").read_text())["models"][0]["result"]
    assert a["values"] == b["values"] and set(a["by_class"]) == {"0", "1"}
    assert a["config"]["strata"]["source"] == "target"  # folder labels: stratified by class by default
    assert a["config"]["n_bootstrap"] == 50 and a["values_ci"] is not None


@pytest.mark.parametrize("skip", [False, True])
def test_a_bad_file_is_named_before_any_work(tmp_path, capsys, skip):
    data = make_folder(tmp_path / "data")
    (data / "a" / "notes.png").write_text("not an image")
    args = ["--data", str(data), "--bands", "4", "--resolution", "32", "--out", str(tmp_path / "rep"), "--quiet"]
    if skip:
        with pytest.warns(UserWarning, match="skipping .*notes.png"):
            assert main([*args, "--skip-bad-files"]) == 0
        report = json.loads((tmp_path / "rep" / "results.json").read_text())
        assert report["models"][0]["result"]["n_samples"] == 4
    else:
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "notes.png is not a readable image" in err


def test_a_first_file_that_does_not_decode_is_skipped_by_the_check_of_the_model(tmp_path, capsys):
    data = make_folder(tmp_path / "data")
    undecodable_png(data / "a" / "00.png")  # the first file in sorted order: its header reads, its pixels do not
    args = ["--data", str(data), "--bands", "4", "--resolution", "32", "--quiet", "--skip-bad-files"]
    with pytest.warns(UserWarning, match="skipping .*00.png: it cannot be decoded"):
        assert main([*args, "--out", str(tmp_path / "rep")]) == 0
    assert json.loads((tmp_path / "rep" / "results.json").read_text())["models"][0]["result"]["n_samples"] == 4
    # with the folder's labels the stratified order was drawn before the run: the skipped file shifts the labels
    with pytest.warns(UserWarning, match="skipping"):
        assert main([*args, "--labels", "folder", "--out", str(tmp_path / "labelled")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pass --strata none, or remove the file" in err, err


def test_the_parser_offers_what_the_library_accepts():
    assert set(VALUE_CHOICES) == set(VALUE_NAMES)
    assert set(ESTIMATOR_CHOICES) == {"auto", *ESTIMATORS}


def test_help_shows_each_default_once_and_imports_no_torch():
    code = (
        "import sys, contextlib, io\n"
        "from captum_iaside.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(buf.getvalue())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "(default: None)" not in text and "(default: 8) (default" not in text
    for option, default in [("--bands", "8"), ("--seed", "0"), ("--bootstrap", "200"), ("--confidence", "0.95")]:
        assert text.count(f"{option}") >= 1 and f"(default: {default})" in text


def test_compile_flag_compiles_each_model(tmp_path, monkeypatch):
    import torch as torch_module

    compiled = []
    monkeypatch.setattr(torch_module, "compile", lambda model: compiled.append(model) or model)
    args = ["--bands", "4", "--resolution", "32", "--samples", "2", "--quiet", "--compile", "--out", str(tmp_path)]
    assert main(args) == 0 and len(compiled) == 1


def test_running_out_of_memory_on_the_cpu_is_one_line(tmp_path, capsys, monkeypatch):
    import captum_iaside.global_run.entry

    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: 8 GB")

    monkeypatch.setattr(captum_iaside.global_run.entry, "GlobalRun", no_memory)
    args = ["--bands", "4", "--resolution", "32", "--samples", "2", "--quiet", "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "out of memory" in err and "--batch-size" in err


def test_timm_and_hugging_face_models_from_the_command_line(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("timm")
    tiny_vit_folder(tmp_path / "vit", transformers)
    data = make_folder(tmp_path / "data")
    out = tmp_path / "rep"
    args = ["--model", f"hf:{tmp_path / 'vit'}", "--model", "timm:resnet18", "--weights", "none"]
    args += ["--data", str(data), "--bands", "4", "--resolution", "32", "--quiet", "--out", str(out)]
    assert main(args) == 0
    report = read_report(out, 4, 2)
    assert [r["model"] for r in report["models"]] == ["hf:vit", "timm:resnet18"]


def test_the_models_own_resolution_decides_the_size_of_the_bundled_photos(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    tiny_vit_folder(tmp_path / "vit", transformers)  # its processor says 32 px; the ViT takes nothing else
    out = tmp_path / "rep"
    args = ["--model", f"hf:{tmp_path / 'vit'}", "--bands", "4", "--samples", "2", "--quiet", "--out", str(out)]
    assert main(args) == 0
    assert [r["resolution"] for r in read_report(out, 4, 1)["models"]] == [32]
    capsys.readouterr()
    assert main([*args, "--resolution", "48"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot take the run's images (1, 3, 48, 48)" in err


def test_orientations_grid_and_interactions_on_an_image_folder(tmp_path, monkeypatch):
    data = make_folder(tmp_path / "data", size=16)
    (tmp_path / "tinyfactory.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    common = ["--model", "tinyfactory:make", "--data", str(data), "--resolution", "16", "--quiet", "--bootstrap", "20"]
    out = tmp_path / "oriented"
    assert main([*common, "--bands", "2", "--orientations", "3", "--interactions", "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    result = report["models"][0]["result"]
    assert result["config"]["bands"]["kind"] == "oriented" and result["n_bands"] == 6
    assert len(result["interactions"]) == 6 and result["config"]["interactions"] == "SII"
    assert {"polar_tinyfactory_make.png", "interactions_tinyfactory_make.png", "interactions.csv"} <= set(
        report["files"]
    )
    with open(out / "interactions.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15 and rows[0]["index"] == "SII"
    with open(out / "results.csv") as fh:
        assert next(csv.DictReader(fh))["player"] == "r0 0°"
    out = tmp_path / "grid"
    assert main([*common, "--grid", "3", "--out", str(out)]) == 0
    result = json.loads((out / "results.json").read_text())["models"][0]["result"]
    assert result["n_bands"] == 5 and result["srs"] is None and result["direction"] == "undefined"
    # one ring of 4 sectors, reported into the folder of the oriented run: no radial order, and nothing stale
    out = tmp_path / "oriented"
    assert main([*common, "--bands", "1", "--orientations", "4", "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    assert report["models"][0]["result"]["srs"] is None and report["models"][0]["result"]["n_bands"] == 4
    assert sorted(p.name for p in out.iterdir()) == report["files"]  # no interactions.csv nor picture of before


def test_the_command_lines_run_options_default_to_the_librarys():
    # the flags that are run options take RunOptions' defaults, except the forward size, which the command tunes
    from dataclasses import fields

    from captum_iaside.cli.arguments import build_parser
    from captum_iaside.global_run.options import RunOptions

    flags = {
        "bootstrap": "n_bootstrap",
        "confidence": "confidence",
        "seed": "seed",
        "strata": "strata",
        "max_evaluations": "max_evaluations",
        "tolerance": "tolerance",
        "max_memory": "max_memory",
        "checkpoint": "checkpoint",
        "by_class": "by_class",
    }
    parsed = vars(build_parser().parse_args([]))
    defaults = {f.name: f.default for f in fields(RunOptions)}
    assert {flag: parsed[flag] for flag in flags} == {flag: defaults[option] for flag, option in flags.items()}
    assert parsed["perturbations_per_eval"] == "auto" and defaults["perturbations_per_eval"] == 1
