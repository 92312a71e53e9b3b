"""The progress of a global run as a person reads it: a bar per model, whole coalitions, the images done."""

import torch
from conftest import tiny_cnn

from captum_iaside import compare_global


def test_one_progress_bar_per_model_in_whole_coalitions(images, capsys):
    data = [(images, torch.tensor([0, 1, 2]))]
    compare_global({"a": tiny_cnn(seed=0), "b": tiny_cnn(seed=1)}, data, bands=4, show_progress=True, n_bootstrap=0)
    err = capsys.readouterr().err
    finals = {name: err.rsplit(f"I-ASIDE (global) {name}:", 1)[-1].split("]")[0] for name in ("a", "b")}
    for final in finals.values():  # 3 images x 16 coalitions, whole numbers, and the images done beside them
        assert "48/48 coalitions" in final and "images 3/3" in final
