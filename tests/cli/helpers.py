"""What the command-line tests share."""

import os
import time

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


def tiny_vit_folder(folder, transformers):
    r"""A randomly initialised (seeded) Hugging Face ViT image classifier of 32 px images, saved in ``folder``."""
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
    )
    transformers.ViTForImageClassification(config).save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def undecodable_png(path, size=20):
    r"""A PNG whose header and chunk checksums read (it passes the check before the run) but whose pixels fail to
    decode: its compressed data are overwritten and the chunk's CRC recomputed."""
    import struct
    import zlib

    pixels = torch.randint(0, 256, (size, size, 3), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    Image.fromarray(pixels.numpy()).save(path)
    raw = bytearray(open(path, "rb").read())
    start = raw.find(b"IDAT")
    length = struct.unpack(">I", raw[start - 4 : start])[0]
    data = bytearray(raw[start + 4 : start + 4 + length])
    data[2:12] = b"\xff" * 10
    raw[start + 4 : start + 4 + length] = data
    raw[start + 4 + length : start + 8 + length] = struct.pack(">I", zlib.crc32(b"IDAT" + bytes(data)))
    open(path, "wb").write(bytes(raw))
    return path


def run_refused(main, args, capsys):
    r"""Run the command line on ``args`` (argparse's own exits included): its exit status, its stderr and seconds."""
    start = time.perf_counter()
    try:
        status = main(args)
    except SystemExit as exc:  # argparse
        status = exc.code
    return status, capsys.readouterr().err.strip(), time.perf_counter() - start


def count_runs(monkeypatch):
    r"""A list that gains an item each time a global run starts (so a test can show that none did)."""
    import captum_iaside.attr.compare

    calls = []
    real = captum_iaside.attr.compare.run_global

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(captum_iaside.attr.compare, "run_global", counting)
    return calls
