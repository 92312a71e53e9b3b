"""What the command-line tests share."""

import os

import torch
from PIL import Image


def make_folder(root, n_per_class=2, size=20):
    g = torch.Generator().manual_seed(0)
    for cls in ["a", "b"]:
        os.makedirs(root / cls)
        for i in range(n_per_class):
            pixels = torch.randint(0, 256, (size, size + 4, 3), generator=g, dtype=torch.uint8).numpy()
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root
