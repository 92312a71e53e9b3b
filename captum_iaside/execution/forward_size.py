r"""The forward size of ``perturbations_per_eval="auto"``, chosen from paired timings and checked again.

A single timing per size is at the mercy of whatever else the machine does: on a shared machine one
burst of load makes a size look slow, or a quiet moment makes a small one look fast. The choice is
therefore a sequence of **contests** between the size in use (the incumbent) and one neighbour on the
ladder of sizes (the challenger):

1. Each size's first forward is a warm-up and is not timed (it pays for allocations and the
   kernels' set-up for a new shape).
2. A contest runs rounds of one forward at each size, back to back, in alternating order, and keeps
   the ratio of their seconds per image: load that comes and goes hits both forwards of a round
   alike, so the ratio holds where the timings do not.
3. After at least :data:`MIN_ROUNDS` rounds, the median log-ratio and its robust standard error
   (from the median absolute deviation) decide: a **larger** size wins only if it is faster per
   image by more than :data:`GAIN` beyond two standard errors (it costs memory); a **smaller** size
   wins if it is at most half that slower (within noise, it saves memory). A contest still open
   after :data:`MAX_ROUNDS` rounds keeps the incumbent.
4. The run starts at the smallest size and climbs while the next size wins; then it keeps its size
   and, after :data:`RECHECK_FACTOR` times the length of the last contest (at least
   :data:`RECHECK_SECONDS` of forwards), contests a neighbour again, larger and smaller in turn —
   so a size chosen under a burst of load does not stay if it becomes slow, and the forwards of a
   contest are the run's own work, not extra.

Sizes whose forward is predicted to exceed the memory budget are never tried (see
:class:`~captum_iaside.execution.memory.MemoryGauge`), and a size that runs out of memory is dropped
with every larger one.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Images per forward that ``"auto"`` may use on a CPU (a CUDA device also has :data:`AUTO_IMAGES_PER_FORWARD_GPU`).
AUTO_IMAGES_PER_FORWARD = (8, 16, 32, 64, 128, 256)
#: The larger sizes a CUDA device may also use.
AUTO_IMAGES_PER_FORWARD_GPU = (512, 1024)
#: Rounds before a contest may be decided, and after which it keeps the incumbent.
MIN_ROUNDS, MAX_ROUNDS = 3, 7
#: Log of the speed-up per image a larger size must show to be worth its memory (5 %).
GAIN = math.log(1 / 0.95)
#: A neighbour is contested again after this many times the last contest's seconds of forwards ...
RECHECK_FACTOR = 3.0
#: ... and at least this many seconds of forwards.
RECHECK_SECONDS = 2.0


@dataclass(frozen=True)
class SizeTiming:
    r"""
    The timed forwards of one size.

    Attributes:
        perturbations_per_eval (int): Coalitions per forward.
        images_per_forward (int): Images per forward (coalitions × images of the batch).
        seconds_per_image (float): Median seconds per image over the timed forwards.
        spread (float): Median absolute deviation of those timings, relative to the median.
        forwards (int): Timed forwards.
    """

    perturbations_per_eval: int
    images_per_forward: int
    seconds_per_image: float
    spread: float
    forwards: int

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict of the fields."""
        return {
            "perturbations_per_eval": self.perturbations_per_eval,
            "images_per_forward": self.images_per_forward,
            "seconds_per_image": self.seconds_per_image,
            "spread": self.spread,
            "forwards": self.forwards,
        }


@dataclass(frozen=True)
class ForwardSizeChoice:
    r"""
    What the automatic forward size did.

    Attributes:
        perturbations_per_eval (int): The size in use at the end.
        images_per_forward (int): Its images per forward.
        timings (tuple of SizeTiming): Every size timed, smallest first.
        contests (int): Contests run (the climb at the start and the checks during the run).
        sizes (tuple of int): The sizes held, in order (a change during the run adds one).
    """

    perturbations_per_eval: int
    images_per_forward: int
    timings: tuple[SizeTiming, ...]
    contests: int
    sizes: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict of the fields."""
        return {
            "perturbations_per_eval": self.perturbations_per_eval,
            "images_per_forward": self.images_per_forward,
            "timings": [t.to_dict() for t in self.timings],
            "contests": self.contests,
            "sizes": list(self.sizes),
        }


@dataclass
class _Contest:
    incumbent: int
    challenger: int
    ratios: list[float] = field(default_factory=list)
    pending: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0

    def wanted(self) -> int:
        r"""The size whose timing the current round still needs (order alternates between rounds)."""
        first, second = (
            (self.incumbent, self.challenger) if len(self.ratios) % 2 == 0 else (self.challenger, self.incumbent)
        )
        return first if first not in self.pending else second

    def add(self, size: int, seconds_per_image: float) -> bool:
        r"""Note a timing; True when it completed a round."""
        self.pending[size] = seconds_per_image
        if len(self.pending) < 2:
            return False
        self.ratios.append(math.log(self.pending[self.challenger] / self.pending[self.incumbent]))
        self.pending = {}
        return True

    def verdict(self) -> bool | None:
        r"""True: the challenger wins; False: the incumbent stays; None: undecided."""
        n = len(self.ratios)
        if n < MIN_ROUNDS:
            return None
        med = statistics.median(self.ratios)
        mad = 1.4826 * statistics.median(abs(r - med) for r in self.ratios)
        se = 1.2533 * mad / math.sqrt(n)  # the standard error of a median
        # a larger size must be faster by GAIN; a smaller one may be slower by GAIN / 2 (it saves memory)
        threshold = -GAIN if self.challenger > self.incumbent else GAIN / 2
        if med + 2 * se < threshold:
            return True
        if med - 2 * se >= threshold or n >= MAX_ROUNDS:
            return False
        return None


class ForwardSizeChooser:
    r"""
    The state of ``perturbations_per_eval="auto"`` over a run (see the module's description).

    Args:
        fits (callable, optional): ``fits(images_per_forward) -> bool``, whether a forward of that
                    many images is predicted to stay within the memory budget.
                    Default: every size fits

    Examples::

        >>> chooser = ForwardSizeChooser()
        >>> chooser.calibrate(n_images=7, cuda=False)
        >>> size, timed = chooser.next_size(7, remaining=254)   # (1, False): the warm-up forward
    """

    def __init__(self, fits: Callable[[int], bool] | None = None) -> None:
        self._fits = fits or (lambda images: True)
        self.n_images: int | None = None
        self.candidates: list[int] = []
        self.size: int | None = None
        self._seen: set[int] = set()
        self._times: dict[int, list[float]] = {}
        self._contest: _Contest | None = None
        self._climbing = True
        self._direction_up = True
        self._since_contest = 0.0
        self._last_contest = 0.0
        self._contests = 0
        self._sizes: list[int] = []
        self._resume: int | None = None

    def resume(self, size: int) -> None:
        r"""Start at ``size`` (a resumed run's): no climb from the smallest size, the checks during the run go on."""
        self._resume = size

    def calibrate(self, n_images: int, cuda: bool) -> None:
        r"""Set the ladder of sizes for batches of ``n_images`` images (once, at the run's first game)."""
        if self.n_images is not None:
            return
        sizes = AUTO_IMAGES_PER_FORWARD + (AUTO_IMAGES_PER_FORWARD_GPU if cuda else ())
        self.n_images = n_images
        self.candidates = sorted({max(1, round(s / n_images)) for s in sizes})
        if self._resume is not None:
            self.candidates = sorted({*self.candidates, self._resume})
            self._climbing = False
        self._hold(self.candidates[0] if self._resume is None else self._resume)

    def _hold(self, size: int) -> None:
        self.size = size
        if not self._sizes or self._sizes[-1] != size:
            self._sizes.append(size)

    def _neighbour(self, up: bool) -> int | None:
        i = self.candidates.index(self.size)
        if up:
            larger = self.candidates[i + 1] if i + 1 < len(self.candidates) else None
            return larger if larger is not None and self._fits(larger * self.n_images) else None
        return self.candidates[i - 1] if i > 0 else None

    def _start(self, up: bool) -> bool:
        challenger = self._neighbour(up)
        if challenger is None:
            return False
        self._contest = _Contest(self.size, challenger)
        self._contests += 1
        return True

    def next_size(self, n_images: int, remaining: int) -> tuple[int, bool]:
        r"""
        Coalitions for the next forward of a batch of ``n_images`` images with ``remaining``
        coalitions left, and whether that forward is timed.
        """
        if n_images != self.n_images:  # another batch size (a short last batch): the same images per forward
            return min(max(1, round(self.size * self.n_images / n_images)), remaining), False
        if self._contest is None and self._climbing and self.size in self._seen:
            if not self._start(up=True):
                self._climbing = False
        elif (
            self._contest is None
            and not self._climbing
            and self._since_contest >= max(RECHECK_SECONDS, RECHECK_FACTOR * self._last_contest)
        ):
            self._since_contest, up = 0.0, self._direction_up
            self._direction_up = not up
            if not self._start(up):
                self._start(not up)
        if self._contest is None:
            return min(self.size, remaining), False
        wanted = self._contest.wanted()
        if wanted > remaining:  # this game cannot time it: go on with the incumbent
            return min(self.size, remaining), False
        return wanted, wanted in self._seen

    def record(self, size: int, n_images: int, seconds: float, full: bool) -> bool:
        r"""
        Note the seconds of a forward of ``size`` coalitions for ``n_images`` images (``full``: not cut
        short); True when it decided a contest.
        """
        if n_images != self.n_images or not full:
            self._since_contest += seconds
            return False
        if size not in self._seen:  # a warm-up forward: set-up costs, not speed
            self._seen.add(size)
            return False
        per_image = seconds / (size * n_images)
        contest = self._contest
        if contest is None or size != contest.wanted():
            self._since_contest += seconds
            return False
        self._times.setdefault(size, []).append(per_image)
        contest.seconds += seconds
        if not contest.add(size, per_image):
            return False
        verdict = contest.verdict()
        if verdict is None:
            return False
        self._contest, self._last_contest = None, contest.seconds
        if verdict:
            self._climbing = contest.challenger > contest.incumbent  # a larger size won: try the next one up
            self._direction_up = self._climbing
            self._hold(contest.challenger)
        else:
            self._climbing = False
        return True

    def out_of_memory(self, size: int) -> None:
        r"""Drop ``size`` and every larger size after a forward of it ran out of memory."""
        self.candidates = [c for c in self.candidates if c < size]
        if not self.candidates:
            raise MemoryError(
                "even one coalition per forward does not fit in memory; use a smaller batch size or max_memory"
            )
        self._contest = None
        self._climbing = False
        if self.size >= size:
            self._hold(self.candidates[-1])

    def released_larger(self) -> bool:
        r"""Whether a size larger than the one held has been timed (its memory is no longer needed)."""
        return any(s > self.size for s in self._seen)

    def report(self) -> ForwardSizeChoice:
        r"""What was timed and chosen."""
        timings = []
        for size in sorted(self._times):
            times = self._times[size]
            med = statistics.median(times)
            spread = statistics.median(abs(t - med) for t in times) / med if med > 0 else 0.0
            timings.append(SizeTiming(size, size * self.n_images, med, spread, len(times)))
        return ForwardSizeChoice(
            self.size, self.size * self.n_images, tuple(timings), self._contests, tuple(self._sizes)
        )
