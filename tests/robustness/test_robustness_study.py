"""A reduced, seeded version of benchmarks/robustness_study.py (runs where Fashion-MNIST is installed)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks"))
from fashion_mnist_data import FASHION_MNIST_ROOT  # noqa: E402

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(FASHION_MNIST_ROOT, "t10k-images-idx3-ubyte.gz")),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
)


def test_noise_augmentation_raises_srs_and_noise_accuracy():
    # The study's own recipe (20,000 training images, 3 epochs, seed 0) for its strongest contrast only.
    # With 1 epoch the noise-augmented model is still under-trained and is *less* accurate under
    # Gaussian noise than the standard one (0.751 vs 0.767 on 20,000 images; 0.628 vs 0.665 on 6,000).
    from robustness_study import FAMILY, run

    family = {name: FAMILY[name] for name in ["standard", "noise σ=0.4"]}
    out = run(
        train_size=20000,
        epochs=3,
        k=200,
        eval_size=1000,
        family=family,
        severities=(1, 3, 5),
        epsilons=(),
        corruptions=("gaussian_noise",),
    )
    rows = {r["model"]: r for r in out["report"].rows}
    standard, noisy = rows["standard"], rows["noise σ=0.4"]
    assert standard["clean_accuracy"] > 0.6 and noisy["clean_accuracy"] > 0.6  # both learned the task
    # the strongest contrast of the family, in the direction the paper predicts
    assert noisy["corruption_accuracy"] > standard["corruption_accuracy"]
    assert noisy["srs"] > standard["srs"]
