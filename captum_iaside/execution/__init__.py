r"""Execution: how the model's forwards are run, and nothing of the mathematics.

A game evaluates its coalition images through a :class:`Workspace` (the reusable buffer and the
forward size, fixed or measured), with Captum's ``additional_forward_args`` repeated for every
coalition image; :func:`tune_cpu` sets the process up for fast CPU forwards. Grouped apart from the
game because speed is chosen here and correctness is decided there.
"""

from captum_iaside.execution.cpu import CPUTuning, tune_cpu
from captum_iaside.execution.forward_args import as_arg_tuple
from captum_iaside.execution.workspace import AUTO_IMAGES_PER_FORWARD, Workspace, preferred_memory_format

__all__ = ["AUTO_IMAGES_PER_FORWARD", "CPUTuning", "Workspace", "as_arg_tuple", "preferred_memory_format", "tune_cpu"]
