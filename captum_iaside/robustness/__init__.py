r"""Robustness: does spectral importance explain it?

I-ASIDE's premise (Luo et al., 2024): perturbations of natural images have a signal-to-noise ratio that
falls with frequency, so models that draw their predictive power from low bands (a high SRS) should be
more robust. :func:`spectral_snr` measures the first half on any corruption (:func:`corrupt`: ImageNet-C's
through ``imagecorruptions-imaug``, and our spectral filters); :func:`robust_accuracy` measures accuracy
under corruptions and :mod:`captum.robust` attacks, :func:`released_accuracy` on the released ImageNet-C,
CIFAR-10-C and out-of-distribution images (:func:`imagenet_c_sets`, :func:`cifar10_c_sets`, :func:`ood_set`),
and :func:`robustness_report` checks the second half on your models, with the mCE against a reference model
or AlexNet's published errors; :func:`adversarial_spectrum` says where an attack puts its energy, beside ψ.
"""

from captum_iaside.robustness.accuracy import attack_comparator, robust_accuracy
from captum_iaside.robustness.adversarial import AdversarialSpectrum, adversarial_spectrum
from captum_iaside.robustness.corruptions import CORRUPTIONS, SEVERITIES, SPECTRAL_FILTERS, corrupt
from captum_iaside.robustness.fourier_heat_map import fourier_basis, fourier_heat_map
from captum_iaside.robustness.imagenet_c import IMAGENET_C, IMAGENET_C_EXTRA, imagenet_c
from captum_iaside.robustness.released import cifar10_c_sets, imagenet_c_sets, ood_set, released_accuracy
from captum_iaside.robustness.report import RobustnessReport, corruption_errors, robustness_report
from captum_iaside.robustness.snr import perturbation_energy_share, spectral_snr

__all__ = [
    "CORRUPTIONS",
    "IMAGENET_C",
    "IMAGENET_C_EXTRA",
    "SEVERITIES",
    "SPECTRAL_FILTERS",
    "AdversarialSpectrum",
    "RobustnessReport",
    "adversarial_spectrum",
    "attack_comparator",
    "cifar10_c_sets",
    "corrupt",
    "corruption_errors",
    "fourier_basis",
    "fourier_heat_map",
    "imagenet_c",
    "imagenet_c_sets",
    "ood_set",
    "perturbation_energy_share",
    "released_accuracy",
    "robust_accuracy",
    "robustness_report",
    "spectral_snr",
]
