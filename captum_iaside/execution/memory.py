r"""How much memory a run holds and may hold: sizes given by the user, the memory available, and the peak.

On the CPU the budget bounds the process's resident memory (what ``/usr/bin/time -v`` reports as its
maximum resident set size); on a CUDA device it bounds the memory PyTorch allocates there. A
:class:`MemoryGauge` measures what one image of the model costs at the first forwards (the growth of
the peak over the memory held before the run, divided by the images of the largest forward so far)
and answers whether a larger forward fits.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch

from captum_iaside._utils.sizes import format_bytes

#: Share of the memory available at the start of a run that the run may take by default (CPU).
DEFAULT_CPU_SHARE = 0.5
#: Share of a CUDA device's free memory that the run may take by default.
DEFAULT_CUDA_SHARE = 0.8


def resident_memory() -> int | None:
    r"""This process's resident memory now, in bytes (None where the system does not say)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def peak_resident_memory() -> int | None:
    r"""The largest resident memory this process has held, in bytes (None where the system does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def available_memory() -> int | None:
    r"""
    Memory this process could still take, in bytes: the kernel's ``MemAvailable``, or less where the
    process's control group has a lower limit (containers); None where neither is known.
    """
    available = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        with open("/sys/fs/cgroup/memory.current") as fh:
            used = int(fh.read().strip())
        if limit != "max":
            left = max(0, int(limit) - used)
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass
    return available


def _used(device: torch.device) -> int | None:
    if device.type == "cuda":
        return int(torch.cuda.memory_allocated(device))
    return resident_memory()


def _peak(device: torch.device) -> int | None:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return peak_resident_memory()


@dataclass(frozen=True)
class MemoryBudget:
    r"""
    The memory a run may hold.

    Attributes:
        limit (int, optional): Bytes of resident memory of the process (CPU) or of memory PyTorch
                    allocates on the device (CUDA); None where nothing is known (no limit).
        source (str): Where the limit comes from: ``"max_memory"``, or the default share of the
                    memory available when the run started.
    """

    limit: int | None
    source: str

    @classmethod
    def resolve(cls, max_memory: int | None, device: torch.device) -> MemoryBudget:
        r"""``max_memory`` (bytes) if given, else the default share of what ``device`` has available now."""
        if max_memory is not None:
            return cls(max_memory, "max_memory")
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            used = int(torch.cuda.memory_allocated(device))
            cached = int(torch.cuda.memory_reserved(device)) - used  # PyTorch's cache is free for the run too
            source = f"default: {DEFAULT_CUDA_SHARE:.0%} of the device's free memory"
            return cls(used + int(DEFAULT_CUDA_SHARE * (free + cached)), source)
        available, used = available_memory(), resident_memory()
        if available is None or used is None:
            return cls(None, "default: no limit (the memory available is unknown here)")
        return cls(
            used + int(DEFAULT_CPU_SHARE * available), f"default: {DEFAULT_CPU_SHARE:.0%} of the available memory"
        )


class MemoryGauge:
    r"""
    The memory of a run on one device: what the process held before the first forward (the floor),
    the peak since, and what one image of a forward costs.

    A forward's cost is measured as the peak it reached over the floor, divided by its images; the
    largest forward so far gives the estimate, which also carries fixed costs and so errs towards more
    memory. On a CUDA device the peak is PyTorch's, reset before each forward
    (:func:`torch.cuda.reset_peak_memory_stats`); on the CPU it is the process's resident peak, which
    cannot be reset: a forward that does not raise it (an earlier one went higher) is read by the
    memory held after it only while nothing better is known.

    Args:
        budget (MemoryBudget): The limit.
        device (torch.device): Where the forwards run.
    """

    def __init__(self, budget: MemoryBudget, device: torch.device) -> None:
        self.budget = budget
        self.device = device
        self.floor = _used(device)
        self.per_image: float | None = None
        self._largest = 0
        self._highest = 0  # CUDA: the run's peak before the last reset

    def before_forward(self) -> int | None:
        r"""The peak before a forward (pass it to :meth:`after_forward`); on CUDA, the peak starts again here."""
        if self.device.type == "cuda":
            self._highest = max(self._highest, int(torch.cuda.max_memory_allocated(self.device)))
            torch.cuda.reset_peak_memory_stats(self.device)
        return _peak(self.device)

    def after_forward(self, images: int, peak_before: int | None) -> None:
        r"""Note a forward of ``images`` images (the estimate is refined when it is the largest so far)."""
        if self.floor is None or images < self._largest:
            return
        peak, now = _peak(self.device), _used(self.device)
        if peak is not None and peak_before is not None and peak > peak_before:
            reached = peak
        elif now is not None and self.per_image is None:
            reached = now
        else:
            return
        self._largest = images
        self.per_image = max(0.0, reached - self.floor) / images

    def predicted(self, images: int) -> int | None:
        r"""
        The memory a forward of ``images`` images would reach (None before the first measurement): the
        floor and the cost per image of the largest forward so far, an estimate that errs towards more.
        """
        if self.per_image is None or self.floor is None:
            return None
        return int(self.floor + self.per_image * images)

    def fits(self, images: int) -> bool:
        r"""Whether a forward of ``images`` images is predicted to stay within the budget."""
        predicted = self.predicted(images)
        return predicted is None or self.budget.limit is None or predicted <= self.budget.limit

    def check_first(self, extra: int, what: str) -> None:
        r"""
        Refuse, before any forward, a budget that the memory already held plus ``extra`` bytes (the
        coalition buffer and band components of one coalition per forward) exceeds.
        """
        limit, floor = self.budget.limit, self.floor
        if self.budget.source != "max_memory" or limit is None or floor is None:
            return
        if floor + extra > limit:
            raise ValueError(
                f"max_memory={format_bytes(limit)} is too small: the process holds {format_bytes(floor)} and {what} "
                f"needs {format_bytes(extra)} more before the model's own memory; raise max_memory or lower the "
                "batch size"
            )

    def peak(self) -> int | None:
        r"""
        The largest memory held so far: the process's resident peak on the CPU, the peak PyTorch allocated
        on a CUDA device since the run began.
        """
        # the kernel's peak and its count of the memory held now are kept apart and may differ by a few pages
        known = [m for m in (_peak(self.device), _used(self.device), self.floor, self._highest) if m is not None]
        return max(known) if known else None
