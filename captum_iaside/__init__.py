r"""captum-iaside: global spectral Shapley importance (I-ASIDE) for image classifiers, on Captum.

The public names below are imported on first use, so ``import captum_iaside`` (and the command
line's ``--help``) does not pay for PyTorch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # attribution
    "IASIDE": "captum_iaside.iaside",
    "compare_global": "captum_iaside.compare",
    "SpectralBands": "captum_iaside.bands",
    # results and summaries
    "SpectralImportance": "captum_iaside.importance",
    "SpectralComparison": "captum_iaside.importance",
    "spectral_importance_distribution": "captum_iaside.importance",
    "spectral_robustness_score": "captum_iaside.importance",
    # estimators
    "ShapleyEstimator": "captum_iaside.estimators",
    "BandShapley": "captum_iaside.estimators",
    "ExactShapley": "captum_iaside.estimators",
    "PermutationShapley": "captum_iaside.estimators",
    "KernelShapley": "captum_iaside.estimators",
    # baselines
    "Baseline": "captum_iaside.baselines",
    "ZeroBaseline": "captum_iaside.baselines",
    "ShuffleBaseline": "captum_iaside.baselines",
    "GaussianBaseline": "captum_iaside.baselines",
    "ConstantBaseline": "captum_iaside.baselines",
    "MeanBaseline": "captum_iaside.baselines",
    "TensorBaseline": "captum_iaside.baselines",
    "CallableBaseline": "captum_iaside.baselines",
    # Captum doors
    "SpectralGates": "captum_iaside.gates",
    "FourierModel": "captum_iaside.fourier",
    "BandStackModel": "captum_iaside.band_stack",
    # pictures
    "plot_spectral_importance": "captum_iaside.visualization",
    "plot_fourier_importance": "captum_iaside.visualization",
    "plot_fourier_attribution": "captum_iaside.visualization",
    "plot_band_decomposition": "captum_iaside.visualization",
    "plot_band_saliency": "captum_iaside.visualization",
    "plot_spectral_snr": "captum_iaside.visualization",
    "plot_robustness": "captum_iaside.visualization",
    # robustness
    "corrupt": "captum_iaside.corruptions",
    "spectral_snr": "captum_iaside.robustness",
    "robust_accuracy": "captum_iaside.robustness",
    "robustness_report": "captum_iaside.robustness",
    # models and execution
    "load_model": "captum_iaside.models",
    "tune_cpu": "captum_iaside.tuning",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'captum_iaside' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
