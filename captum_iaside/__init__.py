r"""captum-iaside: global spectral Shapley importance (I-ASIDE) for image classifiers, on Captum."""

from captum_iaside.band_stack import BandStackModel
from captum_iaside.bands import SpectralBands
from captum_iaside.compare import compare_global
from captum_iaside.estimators import BandShapley, ExactShapley, KernelShapley, PermutationShapley, ShapleyEstimator
from captum_iaside.fourier import FourierModel
from captum_iaside.gates import SpectralGates
from captum_iaside.iaside import IASIDE
from captum_iaside.importance import (
    SpectralComparison,
    SpectralImportance,
    spectral_importance_distribution,
    spectral_robustness_score,
)

__version__ = "0.1.0"

__all__ = [
    "IASIDE",
    "compare_global",
    "SpectralBands",
    "SpectralImportance",
    "SpectralComparison",
    "ShapleyEstimator",
    "BandShapley",
    "ExactShapley",
    "PermutationShapley",
    "KernelShapley",
    "SpectralGates",
    "FourierModel",
    "BandStackModel",
    "spectral_importance_distribution",
    "spectral_robustness_score",
]
