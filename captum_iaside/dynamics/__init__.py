r"""Spectral importance over a model's training: :class:`SpectralMonitor` fixes the games once (probe images,
labels, strata, baseline images, coalitions) and measures a model at each step on them, in a training loop or
from saved checkpoints, with paired differences between steps.

A stage of its own after ``models`` because it is a workflow over the whole pipeline: it plays the games of
``attr`` with the statistics of ``global_run``, returns ``results``, and loads checkpoints with ``models``.
"""

from captum_iaside.dynamics.monitor import SpectralMonitor

__all__ = ["SpectralMonitor"]
