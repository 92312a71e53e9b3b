import csv
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from conftest import tiny_cnn
from PIL import Image

from captum_iaside import IASIDE, OrientedBands, SpectralImportance, compare_global, write_report
from captum_iaside.report import RESULT_KEYS

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.fixture(scope="module")
def images():
    return torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def comparison(images):
    models = {"small": tiny_cnn(seed=0), "other": tiny_cnn(seed=1)}
    return compare_global(models, [images[:3], images[3:]], bands=4, n_bootstrap=50)


def test_a_python_result_gets_the_command_lines_files(tmp_path, images):
    result = IASIDE(tiny_cnn(), bands=4).attribute_global([images], n_bootstrap=50)
    files = write_report(result, str(tmp_path / "rep"), example=images[0])
    assert files == sorted(
        ["results.csv", "results.json", "sid_Sequential.png", "fourier_Sequential.png"]
        + ["decomposition.png", "report.html"]
    )
    report = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert set(RESULT_KEYS) <= set(report) and report["files"] == files and report["comparison"] is None
    again = SpectralImportance.from_dict(report["models"][0]["result"])
    assert torch.allclose(again.values, result.values)
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "<h2>All models</h2>" not in page and "<h2>The bands of the first image</h2>" in page
    assert "<th>holds 0</th>" in page and "share of ψ above the weakest, with its intervals" in page
    # the settings a reader needs as a table; the whole configuration (internal notes included) folded beneath
    settings = page[page.index("<h2>Settings</h2>") : page.index("<details>")]
    evaluations = f"exact, {result.config['evaluations']} model evaluations"
    assert "M = 4 square bands" in settings and evaluations in settings and "{" not in settings
    assert report["config"] == json.loads(json.dumps(dict(result.config)))


def test_a_comparison_reports_its_paired_differences(tmp_path, comparison):
    files = write_report(comparison, str(tmp_path), details={"small": {"resolution": 16}})
    report = json.loads((tmp_path / "results.json").read_text())
    assert "comparison.png" in files and [m["model"] for m in report["models"]] == ["small", "other"]
    assert report["models"][0]["resolution"] == 16
    est, ci = comparison.srs_difference("other", "small")
    assert report["comparison"]["models"]["other"]["srs_difference"]["estimate"] == pytest.approx(est)
    page = (tmp_path / "report.html").read_text()
    assert f"{est:+.4f}" in page and "ΔSRS" in page
    assert "<h2>All models</h2>" in page
    assert page.count("data:image/png;base64,") == len([f for f in files if f.endswith(".png")])
    assert 'src="http' not in page and "<link" not in page  # self-contained


def test_models_read_as_steps_add_their_history_differences_and_section(tmp_path, comparison):
    files = write_report(comparison, str(tmp_path), steps={"small": 5, "other": 2})
    assert {"dynamics.csv", "dynamics.png"} <= set(files)
    over = comparison.as_steps({"small": 5, "other": 2})
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["dynamics"] == json.loads(json.dumps(over.to_dict()))
    assert report["dynamics"]["steps"] == {"other": 2, "small": 5}
    with open(tmp_path / "dynamics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["model"], int(r["step"]), int(r["player"])) for r in rows] == [
        (name, step, m) for name, step in [("other", 2), ("small", 5)] for m in range(4)
    ]
    assert float(rows[5]["psi"]) == pytest.approx(float(comparison.results["small"].values[1]))
    page = (tmp_path / "report.html").read_text()
    d = over.differences[0]
    assert "Over the training steps" in page and "Δψ step 2 → 5" in page
    assert f"{d.srs:+.4f}" in page and f"{float(d.values[0]):+.4f} ± {float(d.stderr[0]):.4f}" in page


def test_bad_arguments(tmp_path, comparison):
    with pytest.raises(TypeError, match="results must be a SpectralImportance"):
        write_report([1, 2], str(tmp_path))
    with pytest.raises(TypeError, match="steps reads the models of a SpectralComparison"):
        write_report(comparison.results["small"], str(tmp_path / "steps"), steps={"small": 1})
    with pytest.raises(ValueError, match="step 1 is given twice"):
        write_report(comparison, str(tmp_path / "steps"), steps={"small": 1, "other": 1})
    assert not (tmp_path / "steps").exists()  # refused before anything is written
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file; give a folder"):
        write_report(comparison, str(tmp_path / "file"))


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_the_page_shows_every_figure_in_a_browser(tmp_path, comparison, images):
    files = write_report(comparison, str(tmp_path), example=images[0], steps={"small": 1, "other": 2})
    page = (tmp_path / "report.html").read_text()
    probe = (
        "<script>window.addEventListener('load', () => { const im = [...document.images];"
        " document.title = 'shown ' + im.filter(i => i.complete && i.naturalWidth > 100).length + ' of ' + im.length"
        " + ' height ' + document.body.scrollHeight; });</script></body>"
    )
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe))
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
    url = (tmp_path / "probe.html").as_uri()
    dom = subprocess.run([*browser, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    shown = re.search(r"<title>shown (\d+) of (\d+) height (\d+)</title>", dom)
    n_pictures = len([f for f in files if f.endswith(".png")])
    assert shown, dom[:500]
    assert int(shown[1]) == int(shown[2]) == n_pictures and int(shown[3]) > 1500
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", "--window-size=1200,2000", (tmp_path / "report.html").as_uri()],
        capture_output=True,
        timeout=120,
    )
    pixels = torch.from_numpy(np.asarray(Image.open(shot).convert("L"), dtype=np.float32))
    assert pixels.std() > 20 and (pixels < 128).float().mean() > 0.01  # not a blank page: text and figures


def test_a_reused_folder_keeps_no_file_of_the_earlier_report_and_every_file_not_its_own(tmp_path, comparison):
    out = tmp_path / "rep"
    first = write_report(comparison, str(out))  # two models: comparison.png and a picture per model
    assert "comparison.png" in first and "sid_other.png" in first
    (out / "notes.txt").write_text("the user's own file")
    single = comparison.results["small"]
    files = write_report(single, str(out))
    on_disk = sorted(p.name for p in out.iterdir())
    assert on_disk == sorted([*files, "notes.txt"])  # no comparison.png nor sid_other.png left behind
    assert json.loads((out / "results.json").read_text())["files"] == files


def test_sectors_without_rings_have_no_srs_and_lose_nothing(tmp_path, images):
    # one ring of four orientation sectors: a partition without a radial order, like a grid
    result = IASIDE(tiny_cnn(), bands=OrientedBands(1, 4)).attribute_global([images], n_bootstrap=20)
    assert result.radial_sid is None and np.isnan(result.srs) and result.direction == "undefined"
    files = write_report(result, str(tmp_path), example=images[0])
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["models"][0]["result"]["srs"] is None and "polar_Sequential.png" in files
    assert SpectralImportance.from_dict(report["models"][0]["result"]).n_bands == 4
