r"""Pictures of spectral importance, one plot a module, on matplotlib and :mod:`captum.attr.visualization`.

Every function returns ``(fig, axes)`` and never calls ``plt.show()``; images handed to Captum's
visualisation are NumPy arrays in HWC layout (:func:`~captum_iaside.visualization.common.to_hwc`).
"""

from captum_iaside.visualization.adversarial import plot_adversarial_spectra
from captum_iaside.visualization.common import to_hwc
from captum_iaside.visualization.decomposition import plot_band_decomposition
from captum_iaside.visualization.dynamics import plot_dynamics
from captum_iaside.visualization.fourier import plot_fourier_attribution, plot_fourier_importance
from captum_iaside.visualization.heat_map import plot_fourier_heat_map
from captum_iaside.visualization.importance import plot_spectral_importance
from captum_iaside.visualization.interactions import plot_interactions
from captum_iaside.visualization.orientation import plot_polar_importance
from captum_iaside.visualization.robustness import plot_robustness, plot_robustness_measures
from captum_iaside.visualization.saliency import plot_band_saliency
from captum_iaside.visualization.snr import plot_spectral_snr

__all__ = [
    "plot_adversarial_spectra",
    "plot_band_decomposition",
    "plot_band_saliency",
    "plot_dynamics",
    "plot_fourier_attribution",
    "plot_fourier_heat_map",
    "plot_fourier_importance",
    "plot_interactions",
    "plot_polar_importance",
    "plot_robustness",
    "plot_robustness_measures",
    "plot_spectral_importance",
    "plot_spectral_snr",
    "to_hwc",
]
