r"""The Captum-facing layer: attribution methods and modules that Captum's methods run on.

:class:`IASIDE` (a :class:`captum.attr.PerturbationAttribution`, one method a file as in Captum's
``attr/_core``) with its global entry points, :func:`compare_global` for paired comparisons, and
three doors that let any Captum method attribute to frequency bands: :class:`SpectralGates` (the
bands as a ``(B, M)`` input), :class:`FourierModel` (the model as a function of its spectrum) and
:class:`BandStackModel` (the model as a function of the band stack).
"""

from captum_iaside.attr.band_stack import BandStackModel
from captum_iaside.attr.compare import compare_global
from captum_iaside.attr.fourier_model import FourierModel, bin_feature_mask
from captum_iaside.attr.gates import SpectralGates
from captum_iaside.attr.iaside import IASIDE

__all__ = ["IASIDE", "BandStackModel", "FourierModel", "SpectralGates", "bin_feature_mask", "compare_global"]
