r"""AlexNet's published ImageNet-C errors: the reference that normalises the mCE in the literature.

Hendrycks & Dietterich, `Benchmarking Neural Network Robustness to Common Corruptions and Perturbations
<https://arxiv.org/abs/1903.12261>`_ (ICLR 2019), normalise each model's corruption errors by AlexNet's, so that
AlexNet's mCE is 100 % and the numbers of different papers compare. The per-corruption errors below are AlexNet's
top-1 errors averaged over the 5 severities, as the authors released them with ImageNet-C (the values used by the
evaluations of AugMix and of OpenMMLab's ``mmpretrain``); the clean error is the paper's (43.5 %, Table 1).
"""

from __future__ import annotations

#: The name that asks for AlexNet's published errors as the reference of :func:`robustness_report`.
PUBLISHED_ALEXNET = "alexnet"

#: AlexNet's ImageNet-C error per corruption (the mean over severities 1-5), in ImageNet-C's order.
ALEXNET_ERRORS = {
    "gaussian_noise": 0.886428,
    "shot_noise": 0.894468,
    "impulse_noise": 0.922640,
    "defocus_blur": 0.819880,
    "glass_blur": 0.826268,
    "motion_blur": 0.785948,
    "zoom_blur": 0.798360,
    "snow": 0.866816,
    "frost": 0.826572,
    "fog": 0.819324,
    "brightness": 0.564592,
    "contrast": 0.853204,
    "elastic_transform": 0.646056,
    "pixelate": 0.717840,
    "jpeg_compression": 0.606500,
}

#: AlexNet's clean top-1 error on ImageNet's validation set, as the paper gives it (the relative mCE's reference).
ALEXNET_CLEAN_ERROR = 0.435
