"""Sphinx configuration of the captum-iaside documentation."""

import os
import shutil
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import captum_iaside  # noqa: E402

project = "captum-iaside"
author = "captum-iaside developers"
release = version = captum_iaside.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "furo"
html_title = f"captum-iaside {release}"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # notebooks are rendered from their stored outputs; CI executes them apart
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]
nitpicky = False
# No intersphinx: the documentation builds offline, where the Python, PyTorch and Captum inventories
# cannot be fetched.


def _generated_sources() -> None:
    """Tutorials, the CLI reference, the benchmark table and the band figure, made at build time."""
    here = os.path.dirname(__file__)
    tutorials = os.path.join(here, "_generated", "tutorials")
    os.makedirs(tutorials, exist_ok=True)
    for name in sorted(os.listdir(os.path.join(ROOT, "tutorials"))):
        if name.endswith(".ipynb"):
            shutil.copyfile(os.path.join(ROOT, "tutorials", name), os.path.join(tutorials, name))
    from captum_iaside.cli import build_parser

    with open(os.path.join(here, "_generated", "cli-help.txt"), "w") as fh:
        fh.write(build_parser().format_help())
    shutil.copyfile(os.path.join(ROOT, "benchmarks", "results.md"), os.path.join(here, "_generated", "benchmarks.md"))
    _band_figure(os.path.join(here, "_generated", "bands.png"))


def _band_figure(path: str) -> None:
    import matplotlib.pyplot as plt
    import torch

    from captum_iaside import SpectralBands

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
    for ax, shape in zip(axes, ["square", "circle"], strict=True):
        index = torch.fft.fftshift(SpectralBands(8, shape=shape).index(64, 64))
        im = ax.imshow(index.numpy(), cmap="viridis", extent=(-0.5, 0.5, 0.5, -0.5))
        ax.set_title(f'SpectralBands(8, shape="{shape}") at 64 × 64')
        ax.set_xlabel("horizontal frequency (cycles/pixel)")
        ax.set_ylabel("vertical frequency (cycles/pixel)")
    fig.colorbar(im, ax=axes, label="band")
    fig.savefig(path, dpi=90)
    plt.close(fig)


_generated_sources()
