r"""Robustness: does spectral importance explain it?

I-ASIDE's premise (Luo et al., 2024): perturbations of natural images have a signal-to-noise ratio that
falls with frequency, so models that draw their predictive power from low bands (a high SRS) should be
more robust. :func:`spectral_snr` measures the first half on any corruption (:func:`corrupt`);
:func:`robust_accuracy` measures accuracy under corruptions and :mod:`captum.robust` attacks, and
:func:`robustness_report` checks the second half on your models.
"""

from captum_iaside.robustness.accuracy import attack_comparator, robust_accuracy
from captum_iaside.robustness.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from captum_iaside.robustness.report import RobustnessReport, robustness_report
from captum_iaside.robustness.snr import spectral_snr

__all__ = [
    "CORRUPTIONS",
    "SEVERITIES",
    "RobustnessReport",
    "attack_comparator",
    "corrupt",
    "robust_accuracy",
    "robustness_report",
    "spectral_snr",
]
