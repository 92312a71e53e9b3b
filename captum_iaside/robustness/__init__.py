r"""Robustness: does spectral importance explain it?

I-ASIDE's premise (Luo et al., 2024): perturbations of natural images have a signal-to-noise ratio that
falls with frequency, so models that draw their predictive power from low bands (a high SRS) should be
more robust. :func:`spectral_snr` measures the first half on any corruption (:func:`corrupt`: ImageNet-C's
through ``imagecorruptions-imaug``, and our spectral filters); :func:`robust_accuracy` measures accuracy
under corruptions and :mod:`captum.robust` attacks, and :func:`robustness_report` checks the second half
on your models, with the mCE against a reference model.
"""

from captum_iaside.robustness.accuracy import attack_comparator, robust_accuracy
from captum_iaside.robustness.corruptions import CORRUPTIONS, SEVERITIES, SPECTRAL_FILTERS, corrupt
from captum_iaside.robustness.fourier_heat_map import fourier_basis, fourier_heat_map
from captum_iaside.robustness.imagenet_c import IMAGENET_C, IMAGENET_C_EXTRA, imagenet_c
from captum_iaside.robustness.report import RobustnessReport, corruption_errors, robustness_report
from captum_iaside.robustness.snr import spectral_snr

__all__ = [
    "CORRUPTIONS",
    "IMAGENET_C",
    "IMAGENET_C_EXTRA",
    "SEVERITIES",
    "SPECTRAL_FILTERS",
    "RobustnessReport",
    "attack_comparator",
    "corrupt",
    "corruption_errors",
    "fourier_basis",
    "fourier_heat_map",
    "imagenet_c",
    "robust_accuracy",
    "robustness_report",
    "spectral_snr",
]
