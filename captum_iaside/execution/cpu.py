r"""Process-wide CPU settings that make model forwards fast, applied only when asked.

A CPU forward of a convolutional network at a few hundred images allocates and frees activation
buffers of tens of megabytes. glibc's ``malloc`` serves such blocks with ``mmap`` and hands them
back to the kernel when they are freed, so the next forward faults every page in again: on the
2-core machine of the benchmarks this made EfficientNet-Lite0 spend more time in the kernel than
in PyTorch (35 images/s, against 135 with the setting below). The library itself never changes
process-wide state; :func:`tune_cpu` does, when the user (or the command line, which owns its
process) asks for it.
"""

from __future__ import annotations

import ctypes
import platform
from dataclasses import dataclass, field

import torch

from captum_iaside._utils.checks import check_positive_int

# mallopt parameters of glibc (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
# glibc's documented defaults, restored on exit (the dynamic mmap threshold stays off once set)
_DEFAULTS = {_M_TRIM_THRESHOLD: 128 * 1024, _M_MMAP_THRESHOLD: 128 * 1024, _M_MMAP_MAX: 65536}
_KEEP = {_M_MMAP_MAX: 0, _M_TRIM_THRESHOLD: 2**31 - 1}


def _glibc(function: str) -> ctypes._CFuncPtr | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return getattr(ctypes.CDLL("libc.so.6"), function)
    except (OSError, AttributeError):
        return None


def _mallopt() -> ctypes._CFuncPtr | None:
    return _glibc("mallopt")


def release_memory() -> bool:
    r"""
    Hand the free memory that glibc's ``malloc`` keeps back to the system (``malloc_trim(0)``):
    :func:`tune_cpu` keeps freed memory so that repeated forwards of one size reuse it, and the
    automatic forward size calls this when it gives up a larger size, so the process does not hold
    that size's peak for the rest of the run. Returns whether glibc released anything (False where
    there is no glibc).
    """
    trim = _glibc("malloc_trim")
    return trim is not None and bool(trim(0))


@dataclass
class CPUTuning:
    r"""
    What :func:`tune_cpu` applied; also a context manager that undoes it on exit.

    Attributes:
        malloc (bool): Whether glibc's ``malloc`` now keeps freed memory (no ``mmap`` for large
                    blocks, no trimming of the heap).
        threads (int): PyTorch's intra-op threads after tuning.
        message (str): One line saying what was done (or why the malloc setting was not).
    """

    malloc: bool
    threads: int
    message: str
    _previous_threads: int = field(default=0, repr=False)

    def __enter__(self) -> CPUTuning:
        return self

    def __exit__(self, *exc: object) -> None:
        mallopt = _mallopt()
        if self.malloc and mallopt is not None:
            for param, value in _DEFAULTS.items():
                mallopt(param, value)
        torch.set_num_threads(self._previous_threads)


def tune_cpu(threads: int | None = None) -> CPUTuning:
    r"""
    Make CPU forwards fast for this process: tell glibc's ``malloc`` to keep freed memory in the
    heap (``mallopt(M_MMAP_MAX, 0)``, ``mallopt(M_TRIM_THRESHOLD, 2³¹ − 1)``) and optionally set
    PyTorch's thread count. Where glibc is absent (macOS, Windows, musl) the malloc setting is
    skipped and the returned message says so. The process keeps its peak memory allocated until
    it exits, which is what makes the next forward fast.

    Use it as a call for the rest of the process, or as a context manager that restores glibc's
    default thresholds and the thread count on exit.

    Args:
        threads (int, optional): ``torch.set_num_threads(threads)``.
                    Default: None (leave the thread count as it is)

    Returns:
        :class:`CPUTuning`.

    Examples::

        >>> from captum_iaside import tune_cpu
        >>> with tune_cpu() as tuned:
        ...     print(tuned.message)
        ...     res = IASIDE(model).attribute_global(loader, perturbations_per_eval="auto")
    """
    previous = torch.get_num_threads()
    if threads is not None:
        check_positive_int(threads, "threads")
        torch.set_num_threads(threads)
    mallopt = _mallopt()
    applied = mallopt is not None and all(mallopt(p, v) == 1 for p, v in _KEEP.items())
    if applied:
        message = "glibc malloc keeps freed memory (M_MMAP_MAX=0, M_TRIM_THRESHOLD=2^31-1)"
    elif mallopt is None:
        message = f"malloc left as it is: no glibc here ({platform.system()} {platform.libc_ver()[0] or 'libc'})"
    else:
        message = "malloc left as it is: glibc refused the setting"
    return CPUTuning(applied, torch.get_num_threads(), f"{message}; {torch.get_num_threads()} threads", previous)
