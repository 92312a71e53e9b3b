r"""How a game runs the model: the reusable coalition buffer, the forward size, the memory budget, the memory format."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from captum_iaside._utils.checks import check_positive_int
from captum_iaside._utils.sizes import format_bytes, parse_memory
from captum_iaside.execution.cpu import release_memory
from captum_iaside.execution.forward_size import ForwardSizeChoice, ForwardSizeChooser, SizeTiming
from captum_iaside.execution.memory import MemoryBudget, MemoryGauge


def preferred_memory_format(forward_func: Callable[..., Any], inputs: Tensor) -> torch.memory_format:
    r"""
    ``torch.channels_last`` when the images or the model's first 4-D weight are channels-last,
    else ``torch.contiguous_format``.
    """
    if inputs.dim() == 4 and inputs.shape[1] > 1 and inputs.shape[-2:].numel() > 1:
        if inputs.is_contiguous(memory_format=torch.channels_last) and not inputs.is_contiguous():
            return torch.channels_last
    if isinstance(forward_func, nn.Module):
        for p in forward_func.parameters():
            if p.dim() == 4:
                cl = p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                return torch.channels_last if cl else torch.contiguous_format
    return torch.contiguous_format


def is_out_of_memory(exc: BaseException) -> bool:
    r"""Whether ``exc`` says that a GPU or the CPU ran out of memory."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    )


@dataclass(frozen=True)
class ExecutionReport:
    r"""
    How a run's forwards ran on one model: the forward size, how it was chosen, and the memory.

    Attributes:
        perturbations_per_eval (int, optional): Coalitions per forward at the end of the run (None if
                    no coalition was evaluated).
        images_per_forward (int, optional): Images per forward at that size.
        choice (ForwardSizeChoice, optional): The timings that chose it (``"auto"`` only).
        memory_floor (int, optional): Bytes the process held before the first forward (CPU: resident
                    memory; CUDA: memory allocated on the device).
        memory_peak (int, optional): The largest memory held by the end of the run, same measure.
        memory_limit (int, optional): The budget in bytes (None: unknown, no limit).
        memory_limit_source (str): ``"max_memory"`` or the default it came from.
    """

    perturbations_per_eval: int | None
    images_per_forward: int | None
    choice: ForwardSizeChoice | None
    memory_floor: int | None
    memory_peak: int | None
    memory_limit: int | None
    memory_limit_source: str

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict of the fields."""
        d = asdict(self)
        d["choice"] = None if self.choice is None else self.choice.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExecutionReport:
        r"""The report :meth:`to_dict` wrote (missing fields are None)."""
        choice = d.get("choice")
        if choice is not None:
            timings = tuple(SizeTiming(**t) for t in choice["timings"])
            choice = ForwardSizeChoice(
                choice["perturbations_per_eval"],
                choice["images_per_forward"],
                timings,
                choice["contests"],
                tuple(choice["sizes"]),
            )
        return cls(
            perturbations_per_eval=d.get("perturbations_per_eval"),
            images_per_forward=d.get("images_per_forward"),
            choice=choice,
            memory_floor=d.get("memory_floor"),
            memory_peak=d.get("memory_peak"),
            memory_limit=d.get("memory_limit"),
            memory_limit_source=d.get("memory_limit_source", ""),
        )

    def summary(self) -> str:
        r"""One line: the forward size, how it was chosen, and the peak memory."""
        if self.perturbations_per_eval is None:
            size = "no coalition forward"
        else:
            per = self.perturbations_per_eval
            size = f"{self.images_per_forward} images per forward ({per} coalition{'s' if per > 1 else ''} per image)"
        if self.choice is not None and self.choice.timings:
            size += f", chosen from {sum(t.forwards for t in self.choice.timings)} timed forwards"
        peak = "peak memory unknown" if self.memory_peak is None else f"peak memory {format_bytes(self.memory_peak)}"
        return f"{size}; {peak}"

    def timings_line(self) -> str:
        r"""The timings behind the choice, one clause a size (empty for a fixed size)."""
        if self.choice is None or not self.choice.timings:
            return ""
        return "; ".join(
            f"{t.images_per_forward} images per forward: {1e3 * t.seconds_per_image:.3g} ms per image "
            f"(± {100 * t.spread:.0f} %, {t.forwards} forwards)"
            for t in self.choice.timings
        )


class _Forward:
    r"""A forward in flight: when it started, whether it is timed, and the peak memory before it."""

    __slots__ = ("tic", "timed", "peak_before")

    def __init__(self, tic: float, timed: bool, peak_before: int | None) -> None:
        self.tic, self.timed, self.peak_before = tic, timed, peak_before


class Workspace:
    r"""
    What the games of one run share on one model: the coalition buffer (reused between chunks and
    batches), the forward size, fixed or chosen by measurement, and the memory budget.

    Args:
        perturbations_per_eval (int or str, optional): Coalitions per forward call, or
                    ``"auto"``: chosen from paired, repeated timings of neighbouring sizes, checked
                    again during the run, a larger size only where it is faster by more than its price
                    (on the CPU, its memory's), else the smaller of sizes equal within the noise (see
                    :mod:`~captum_iaside.execution.forward_size`); :attr:`perturbations_per_eval`
                    holds the size in use.
                    Default: 1
        max_memory (int, float or str, optional): Memory the process may hold (CPU: resident
                    memory; CUDA: memory allocated on the device), e.g. ``"2GB"``. The forward size
                    stays within it, measured from the first forward's memory per image; a budget
                    below what the process holds plus one coalition per forward's images is refused
                    before any forward, and one the first forwards show too small stops the run.
                    Default: None (half of the memory available at the first forward; 80 % of a CUDA
                    device's free memory)
    """

    def __init__(self, perturbations_per_eval: int | str = 1, max_memory: int | float | str | None = None) -> None:
        auto = perturbations_per_eval == "auto"
        if not auto:
            if isinstance(perturbations_per_eval, str):
                raise TypeError(f"perturbations_per_eval must be an int or 'auto', got {perturbations_per_eval!r}")
            check_positive_int(perturbations_per_eval, "perturbations_per_eval")
        # a fixed size, lowered where max_memory cannot hold it; or the chooser of "auto"
        self._fixed = None if auto else int(perturbations_per_eval)
        self._chooser = ForwardSizeChooser(self._fits, self._resident) if auto else None
        self.max_memory = None if max_memory is None else parse_memory(max_memory)
        self._buffer: Tensor | None = None
        self._gauge: MemoryGauge | None = None
        self._timed = False
        self._asked = 0
        self._n_images: int | None = None

    # ---------------------------------------------------------------- buffer
    def buffer(self, numel: int, device: torch.device, dtype: torch.dtype) -> Tensor:
        r"""A flat tensor of at least ``numel`` elements, reused while it is large enough."""
        buf = self._buffer
        if buf is None or buf.numel() < numel or buf.device != device or buf.dtype != dtype:
            self._buffer = None  # free the old one before allocating
            buf = self._buffer = torch.empty(numel, device=device, dtype=dtype)
        return buf[:numel]

    # ---------------------------------------------------------------- memory
    def prepare(self, n_images: int, device: torch.device, bytes_per_coalition: int, bytes_fixed: int) -> None:
        r"""
        Set up the memory gauge and the ladder of sizes at the run's first game, before any forward:
        a ``max_memory`` that cannot hold the game's band components (``bytes_fixed``) and one
        coalition per forward (``bytes_per_coalition``) is refused here.
        """
        if self._gauge is None:
            self._n_images = n_images
            self._gauge = MemoryGauge(MemoryBudget.resolve(self.max_memory, device), device)
            if self._chooser is not None:
                self._chooser.calibrate(n_images, device.type == "cuda")
        self._gauge.check_first(bytes_fixed + bytes_per_coalition, f"one coalition per forward of {n_images} images")

    @property
    def gauge(self) -> MemoryGauge | None:
        r"""The memory gauge (None before the first game)."""
        return self._gauge

    def _fits(self, images: int) -> bool:
        return self._gauge is None or self._gauge.fits(images)

    def _resident(self, images: int) -> int | None:
        r"""
        The resident memory a CPU forward of ``images`` images is predicted to reach (the gauge's estimate, which
        errs towards more; None before the first forward, and on a CUDA device).
        """
        gauge = self._gauge
        return None if gauge is None or gauge.device.type != "cpu" else gauge.predicted(images)

    # ---------------------------------------------------------- forward size
    @property
    def auto(self) -> bool:
        r"""Whether the forward size is chosen by measurement (``perturbations_per_eval="auto"``)."""
        return self._chooser is not None

    @property
    def perturbations_per_eval(self) -> int | None:
        r"""Coalitions per forward in use (``"auto"``: None before the first game)."""
        return self._fixed if self._chooser is None else self._chooser.size

    def resume(self, size: int) -> None:
        r"""Start ``"auto"`` at ``size``, the size a checkpointed run had reached (a fixed size stays as given)."""
        if self._chooser is not None:
            self._chooser.resume(size)

    def chunk_size(self, n_images: int, remaining: int) -> int:
        r"""Coalitions in the next forward call for ``n_images`` images with ``remaining`` left per image."""
        if self._chooser is None:
            self._fixed = self._asked = self._cap(self._fixed, n_images)
            self._timed = False
            return min(self._fixed, remaining)
        while True:
            size, self._timed = self._chooser.next_size(n_images, remaining)
            if self._fits(size * n_images):
                break
            if min(self._chooser.candidates) * self._chooser.n_images >= size * n_images:
                if self.max_memory is not None:  # nothing smaller to take
                    raise self._too_small(n_images)
                break  # the default budget is a guess: go on with the smallest size
            self._chooser.drop_from(size, n_images)  # no longer fits: the chooser goes on below it
        self._asked = size
        return min(size, remaining)

    def _cap(self, size: int, n_images: int) -> int:
        r"""A fixed size, lowered to the largest that ``max_memory`` is predicted to hold."""
        gauge = self._gauge
        if gauge is None or self.max_memory is None or gauge.fits(size * n_images):
            return size
        fitting = next((p for p in range(size - 1, 0, -1) if gauge.fits(p * n_images)), None)
        if fitting is None:
            raise self._too_small(n_images)
        return fitting

    def _too_small(self, n_images: int) -> ValueError:
        return ValueError(
            f"max_memory={format_bytes(self.max_memory)} is too small: a forward of one coalition of {n_images} "
            f"images reaches about {format_bytes(self._gauge.predicted(n_images))} (measured at the first forwards); "
            "raise max_memory or lower the batch size"
        )

    def start_forward(self, device: torch.device) -> _Forward:
        r"""Begin the forward that :meth:`chunk_size` sized (a timed one first waits for a CUDA device's queue)."""
        if self._timed and device.type == "cuda":
            torch.cuda.synchronize(device)
        peak = self._gauge.before_forward() if self._gauge is not None else None
        return _Forward(time.perf_counter(), self._timed, peak)

    def finish_forward(self, forward: _Forward, size: int, n_images: int, images: int, device: torch.device) -> None:
        r"""Note a forward of ``images`` images (up to ``size`` coalitions of ``n_images`` images) that ended."""
        if forward.timed and device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - forward.tic
        if self._gauge is not None:
            self._gauge.after_forward(images, forward.peak_before)
        if self._chooser is not None:
            full = size == self._asked and images == n_images * size
            decided = self._chooser.record(size, n_images, seconds, full)
            if decided and device.type == "cpu" and self._chooser.gave_up_larger():
                release_memory()

    def out_of_memory(self, size: int, n_images: int) -> None:
        r"""
        Drop ``size`` (coalitions of ``n_images`` images) and every larger size after a forward ran out of
        memory (``"auto"`` only).
        """
        self._chooser.drop_from(size, n_images)

    def report(self) -> ExecutionReport:
        r"""The forward size, how it was chosen and the memory, so far."""
        size, gauge = self.perturbations_per_eval, self._gauge
        choice = self._chooser.report() if self._chooser is not None and self._chooser.n_images else None
        return ExecutionReport(
            perturbations_per_eval=size,
            images_per_forward=None if size is None or self._n_images is None else size * self._n_images,
            choice=choice,
            memory_floor=None if gauge is None else gauge.floor,
            memory_peak=None if gauge is None else gauge.peak(),
            memory_limit=None if gauge is None else gauge.budget.limit,
            memory_limit_source="" if gauge is None else gauge.budget.source,
        )
