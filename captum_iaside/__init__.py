r"""captum-iaside: global spectral Shapley importance (I-ASIDE) for image classifiers, on Captum.

The public names below are imported on first use, so ``import captum_iaside`` (and the command
line's ``--help``) does not pay for PyTorch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.3.0"

if TYPE_CHECKING:  # what editors and type checkers see; at run time the names load on first use
    from captum_iaside.attr.band_stack import BandStackModel
    from captum_iaside.attr.compare import compare_global
    from captum_iaside.attr.fourier_model import FourierModel
    from captum_iaside.attr.gates import SpectralGates
    from captum_iaside.attr.iaside import IASIDE
    from captum_iaside.cli.models import load_model
    from captum_iaside.estimators.adaptive import AdaptiveKernelShapley
    from captum_iaside.estimators.base import BandShapley, ShapleyEstimator
    from captum_iaside.estimators.exact import ExactShapley
    from captum_iaside.estimators.kernel import KernelShapley
    from captum_iaside.estimators.permutation import PermutationShapley
    from captum_iaside.execution.cpu import tune_cpu
    from captum_iaside.game.bands import SpectralBands
    from captum_iaside.game.baselines import (
        Baseline,
        CallableBaseline,
        ConstantBaseline,
        GaussianBaseline,
        MeanBaseline,
        ShuffleBaseline,
        TensorBaseline,
        ZeroBaseline,
    )
    from captum_iaside.game.custom import CustomPartition
    from captum_iaside.game.grid import FourierGrid
    from captum_iaside.game.orientations import OrientedBands
    from captum_iaside.game.partition import FourierPartition
    from captum_iaside.report.writer import write_report
    from captum_iaside.results.comparison import SpectralComparison
    from captum_iaside.results.importance import SpectralImportance
    from captum_iaside.results.summaries import spectral_importance_distribution, spectral_robustness_score
    from captum_iaside.robustness.accuracy import robust_accuracy
    from captum_iaside.robustness.corruptions import corrupt
    from captum_iaside.robustness.fourier_heat_map import fourier_heat_map
    from captum_iaside.robustness.report import robustness_report
    from captum_iaside.robustness.snr import spectral_snr
    from captum_iaside.visualization.decomposition import plot_band_decomposition
    from captum_iaside.visualization.fourier import plot_fourier_attribution, plot_fourier_importance
    from captum_iaside.visualization.heat_map import plot_fourier_heat_map
    from captum_iaside.visualization.importance import plot_spectral_importance
    from captum_iaside.visualization.interactions import plot_interactions
    from captum_iaside.visualization.orientation import plot_polar_importance
    from captum_iaside.visualization.robustness import plot_robustness
    from captum_iaside.visualization.saliency import plot_band_saliency
    from captum_iaside.visualization.snr import plot_spectral_snr

_EXPORTS = {
    # attribution
    "IASIDE": "captum_iaside.attr.iaside",
    "compare_global": "captum_iaside.attr.compare",
    # players
    "SpectralBands": "captum_iaside.game.bands",
    "OrientedBands": "captum_iaside.game.orientations",
    "FourierGrid": "captum_iaside.game.grid",
    "CustomPartition": "captum_iaside.game.custom",
    "FourierPartition": "captum_iaside.game.partition",
    # results and summaries
    "SpectralImportance": "captum_iaside.results.importance",
    "SpectralComparison": "captum_iaside.results.comparison",
    "spectral_importance_distribution": "captum_iaside.results.summaries",
    "spectral_robustness_score": "captum_iaside.results.summaries",
    # estimators
    "ShapleyEstimator": "captum_iaside.estimators.base",
    "BandShapley": "captum_iaside.estimators.base",
    "ExactShapley": "captum_iaside.estimators.exact",
    "PermutationShapley": "captum_iaside.estimators.permutation",
    "KernelShapley": "captum_iaside.estimators.kernel",
    "AdaptiveKernelShapley": "captum_iaside.estimators.adaptive",
    # baselines
    "Baseline": "captum_iaside.game.baselines",
    "ZeroBaseline": "captum_iaside.game.baselines",
    "ShuffleBaseline": "captum_iaside.game.baselines",
    "GaussianBaseline": "captum_iaside.game.baselines",
    "ConstantBaseline": "captum_iaside.game.baselines",
    "MeanBaseline": "captum_iaside.game.baselines",
    "TensorBaseline": "captum_iaside.game.baselines",
    "CallableBaseline": "captum_iaside.game.baselines",
    # Captum doors
    "SpectralGates": "captum_iaside.attr.gates",
    "FourierModel": "captum_iaside.attr.fourier_model",
    "BandStackModel": "captum_iaside.attr.band_stack",
    # pictures
    "plot_spectral_importance": "captum_iaside.visualization.importance",
    "plot_fourier_importance": "captum_iaside.visualization.fourier",
    "plot_fourier_attribution": "captum_iaside.visualization.fourier",
    "plot_polar_importance": "captum_iaside.visualization.orientation",
    "plot_interactions": "captum_iaside.visualization.interactions",
    "plot_fourier_heat_map": "captum_iaside.visualization.heat_map",
    "plot_band_decomposition": "captum_iaside.visualization.decomposition",
    "plot_band_saliency": "captum_iaside.visualization.saliency",
    "plot_spectral_snr": "captum_iaside.visualization.snr",
    "plot_robustness": "captum_iaside.visualization.robustness",
    # the report
    "write_report": "captum_iaside.report.writer",
    # robustness
    "corrupt": "captum_iaside.robustness.corruptions",
    "spectral_snr": "captum_iaside.robustness.snr",
    "robust_accuracy": "captum_iaside.robustness.accuracy",
    "robustness_report": "captum_iaside.robustness.report",
    "fourier_heat_map": "captum_iaside.robustness.fourier_heat_map",
    # models and execution
    "load_model": "captum_iaside.cli.models",
    "tune_cpu": "captum_iaside.execution.cpu",
}

__all__ = [
    "IASIDE",
    "compare_global",
    "SpectralBands",
    "OrientedBands",
    "FourierGrid",
    "CustomPartition",
    "FourierPartition",
    "SpectralImportance",
    "SpectralComparison",
    "spectral_importance_distribution",
    "spectral_robustness_score",
    "ShapleyEstimator",
    "BandShapley",
    "ExactShapley",
    "PermutationShapley",
    "KernelShapley",
    "AdaptiveKernelShapley",
    "Baseline",
    "ZeroBaseline",
    "ShuffleBaseline",
    "GaussianBaseline",
    "ConstantBaseline",
    "MeanBaseline",
    "TensorBaseline",
    "CallableBaseline",
    "SpectralGates",
    "FourierModel",
    "BandStackModel",
    "plot_spectral_importance",
    "plot_fourier_importance",
    "plot_fourier_attribution",
    "plot_polar_importance",
    "plot_interactions",
    "plot_fourier_heat_map",
    "plot_band_decomposition",
    "plot_band_saliency",
    "plot_spectral_snr",
    "plot_robustness",
    "write_report",
    "corrupt",
    "spectral_snr",
    "robust_accuracy",
    "robustness_report",
    "fourier_heat_map",
    "load_model",
    "tune_cpu",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'captum_iaside' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
