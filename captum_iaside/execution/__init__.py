r"""Execution: how the model's forwards are run, and nothing of the mathematics.

A game evaluates its coalition images through a :class:`Workspace` (the reusable buffer, the
forward size, fixed or chosen by :class:`ForwardSizeChooser` from paired timings, and the memory
budget a :class:`MemoryGauge` keeps), with Captum's ``additional_forward_args`` repeated for every
coalition image; :func:`tune_cpu` sets the process up for fast CPU forwards. Grouped apart from the
game because speed is chosen here and correctness is decided there.
"""

from captum_iaside.execution.cpu import CPUTuning, release_memory, tune_cpu
from captum_iaside.execution.forward_args import as_arg_tuple
from captum_iaside.execution.forward_size import (
    AUTO_IMAGES_PER_FORWARD,
    ForwardSizeChoice,
    ForwardSizeChooser,
    SizeTiming,
)
from captum_iaside.execution.memory import MemoryBudget, MemoryGauge
from captum_iaside.execution.workspace import ExecutionReport, Workspace, preferred_memory_format

__all__ = [
    "AUTO_IMAGES_PER_FORWARD",
    "CPUTuning",
    "ExecutionReport",
    "ForwardSizeChoice",
    "ForwardSizeChooser",
    "MemoryBudget",
    "MemoryGauge",
    "SizeTiming",
    "Workspace",
    "as_arg_tuple",
    "preferred_memory_format",
    "release_memory",
    "tune_cpu",
]
