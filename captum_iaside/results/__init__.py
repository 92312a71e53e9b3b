r"""Results: ψ with its uncertainty, and the paper's summaries of it.

:class:`SpectralImportance` is what every I-ASIDE computation over a data set returns (ψ, stderr,
intervals, SID, SRS, by-class values), :class:`SpectralComparison` what a paired comparison of
models returns, :mod:`~captum_iaside.results.dynamics` the rows of a history over training steps and the
paired difference of two steps; :mod:`~captum_iaside.results.summaries` holds the SID and SRS formulas as pure
functions. Grouped because they are the vocabulary the rest of the package reports in: they
import nothing from the game or the run, so the run can build them and the plots and the report
can read them.
"""

from captum_iaside.results.comparison import SpectralComparison, SRSDifference, ValuesDifference
from captum_iaside.results.dynamics import StepDifference, StepRow
from captum_iaside.results.importance import SpectralImportance
from captum_iaside.results.summaries import (
    max_spectral_robustness_score,
    spectral_importance_distribution,
    spectral_robustness_score,
)

__all__ = [
    "SRSDifference",
    "SpectralComparison",
    "SpectralImportance",
    "StepDifference",
    "StepRow",
    "ValuesDifference",
    "max_spectral_robustness_score",
    "spectral_importance_distribution",
    "spectral_robustness_score",
]
