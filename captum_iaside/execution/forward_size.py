r"""The forward size of ``perturbations_per_eval="auto"``, chosen from paired timings and checked again.

A single timing per size is at the mercy of whatever else the machine does: on a shared machine one
burst of load makes a size look slow, or a quiet moment makes a small one look fast. The choice is
therefore a sequence of **contests** between the size in use (the incumbent) and one neighbour on the
ladder of sizes (the challenger):

1. Each size's first forward is a warm-up and is not timed (it pays for allocations and the
   kernels' set-up for a new shape).
2. A contest runs rounds of one forward at each size, back to back, in alternating order, so load
   that comes and goes falls on both sizes alike.
3. Its verdict compares the two sizes' throughputs over the contest (mean seconds per image, so a
   burst of load counts as much as it cost), as a log-ratio with a standard error from the spread of
   the rounds' own ratios, against :data:`GAIN` for each step of the ladder between them: speed alone,
   since by then the larger size's memory has been taken (the price of that memory is paid where a
   size is tried, in step 4). A **larger** size wins if it is faster by more than that beyond two
   standard errors; a **smaller** size wins if it is at most that much slower beyond two standard
   errors (as fast within the noise: it saves memory). A clear difference — every one of
   :data:`CLEAR_ROUNDS` rounds beyond the threshold, the throughputs by twice :data:`GAIN` more — is
   decided at once (a busy machine makes small forwards much slower, and the run should not spend long
   finding that out). So is a **futile** one: from :data:`FUTILE_ROUNDS` rounds on, where the rounds
   spread so widely that even :data:`MAX_ROUNDS` of them could not resolve :data:`GAIN` (bursts of load
   as long as the forwards), the **larger** size wins: such bursts fall on one forward or the other by
   chance, so a few rounds' throughputs cannot order the sizes (under the benchmark's load they sent runs
   back to 7 images per forward), while on a machine that busy the threads of a forward wait for each other
   at every layer, which a larger forward amortises. Otherwise the contest is decided
   after :data:`MIN_ROUNDS` rounds, where a smaller size without certainty loses (memory is saved only
   where it surely costs no speed), and a larger one without certainty gets more rounds, up to
   :data:`MAX_ROUNDS`, after which its throughput alone decides.
4. The run starts at the smallest size (its first forward also measures what an image costs in
   memory) and contests the second. Beyond it a larger size is only **tried** where it is predicted to
   pay its **price**, since a trial alone holds its memory (the process's peak): :data:`GAIN` for each
   step of the ladder, or on the CPU, where the memory is the machine's and shared,
   :data:`MEMORY_PRICE` times the log of the growth of the process's memory that the step is predicted
   to cost, where that is more (doubling the memory held must buy a 1.41 × speed-up; the memory is the
   gauge's prediction, which errs towards more). The speed-up is
   predicted by the model ``seconds per image = a + b / images`` (a fixed cost ``b`` per forward),
   solved for the two sizes of the last decided contest (timed in the same moments, so under the same
   load), and the challenger is the larger size whose predicted speed-up over the held one exceeds its
   price the most. On a quiet CPU the speed-up of the second size predicts too little for the memory of
   a third, which is then never tried. On a busy machine the threads of a forward wait for each other at
   every layer, and the speed-up of each doubling of the images fades more slowly than a fixed cost
   would: where a contest outran that model's prediction from the contest before it by more than
   :data:`GAIN`, the next prediction keeps the contest's own speed-up per doubling instead. Then the
   run keeps its size and, after as many seconds of forwards as the last contest took (at least
   :data:`RECHECK_SECONDS`, doubled by each check that kept the size, up to ``2 ** MAX_BACKOFF`` times),
   contests a neighbour again, smaller and (where the model says so) larger in turn — a check that finds no
   larger size worth trying contests the smaller one, and the next check looks up again —, so a size chosen in
   a quiet moment does not stay when the machine gets busy. The contests' forwards are the run's own work, not extra.

Sizes whose forward is predicted to exceed the memory budget are never tried (see
:class:`~captum_iaside.execution.memory.MemoryGauge`), and a size that runs out of memory is dropped
with every larger one.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

#: Images per forward that ``"auto"`` may use on a CPU (a CUDA device also has :data:`AUTO_IMAGES_PER_FORWARD_GPU`).
AUTO_IMAGES_PER_FORWARD = (8, 16, 32, 64, 128, 256)
#: The larger sizes a CUDA device may also use.
AUTO_IMAGES_PER_FORWARD_GPU = (512, 1024)
#: Rounds before a contest may be decided, and after which its throughputs alone decide.
MIN_ROUNDS, MAX_ROUNDS = 5, 9
#: Rounds after which a clear contest is decided: every round beyond the threshold, the throughputs by ``2 * GAIN``.
CLEAR_ROUNDS = 2
#: Rounds after which a contest that :data:`MAX_ROUNDS` could not resolve is decided on its throughputs.
FUTILE_ROUNDS = 3
#: Log of the speed-up per image a larger size must show to be worth its memory (5 %).
GAIN = math.log(1 / 0.95)
#: On the CPU, a larger size must also be faster by this share of its growth of the process's memory (in
#: logarithms): doubling the memory held must buy a speed-up of ``2 ** 0.5``, 1.41 ×.
MEMORY_PRICE = 0.5
#: A neighbour is contested again after as many seconds of forwards as the last contest took, and at least these;
#: each check that keeps the size doubles the wait, up to ``2 ** MAX_BACKOFF`` times.
RECHECK_SECONDS = 2.0
MAX_BACKOFF = 4


@dataclass(frozen=True)
class SizeTiming:
    r"""
    The timed forwards of one size.

    Attributes:
        perturbations_per_eval (int): Coalitions per forward.
        images_per_forward (int): Images per forward (coalitions × images of the batch).
        seconds_per_image (float): Mean seconds per image over the timed forwards (the throughput's inverse).
        spread (float): Standard deviation of those timings, relative to their mean (0 for one forward).
        forwards (int): Timed forwards.
    """

    perturbations_per_eval: int
    images_per_forward: int
    seconds_per_image: float
    spread: float
    forwards: int

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict of the fields."""
        return asdict(self)


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
        r"""A JSON-ready dict of the fields (the timings as a list of dicts)."""
        d = asdict(self)
        d["timings"], d["sizes"] = list(d["timings"]), list(d["sizes"])
        return d


@dataclass
class _Contest:
    incumbent: int
    challenger: int
    price: float  # the log speed-up a larger size must show: GAIN for each step of the ladder
    rounds: list[tuple[float, float]] = field(default_factory=list)  # (incumbent, challenger) seconds per image
    pending: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0

    def wanted(self) -> int:
        r"""The size whose timing the current round still needs (order alternates between rounds)."""
        first, second = (
            (self.incumbent, self.challenger) if len(self.rounds) % 2 == 0 else (self.challenger, self.incumbent)
        )
        return first if first not in self.pending else second

    def add(self, size: int, seconds_per_image: float) -> bool:
        r"""Note a timing; True when it completed a round."""
        self.pending[size] = seconds_per_image
        if len(self.pending) < 2:
            return False
        self.rounds.append((self.pending[self.incumbent], self.pending[self.challenger]))
        self.pending = {}
        return True

    def ratio(self) -> float:
        r"""
        The log-ratio of the challenger's seconds per image to the incumbent's over the contest (of the sizes'
        throughputs, so a burst of load counts as much as it cost).
        """
        return math.log(statistics.fmean(c for _, c in self.rounds) / statistics.fmean(i for i, _ in self.rounds))

    def gain(self) -> float:
        r"""The log speed-up per image of the larger size over the smaller one, over the contest's rounds."""
        return -self.ratio() if self.challenger > self.incumbent else self.ratio()

    def futile(self) -> bool:
        r"""Whether the rounds spread so widely that even :data:`MAX_ROUNDS` of them could not resolve :data:`GAIN`."""
        if len(self.rounds) < FUTILE_ROUNDS:
            return False
        spread = statistics.stdev(math.log(c / i) for i, c in self.rounds)
        return 2 * spread / math.sqrt(MAX_ROUNDS) > GAIN

    def verdict(self) -> bool | None:
        r"""True: the challenger wins; False: the incumbent stays; None: undecided."""
        n = len(self.rounds)
        if n < CLEAR_ROUNDS:
            return None
        # a larger size must be faster by its price; a smaller one may be slower by as much (it saves memory)
        up = self.challenger > self.incumbent
        threshold = -self.price if up else self.price
        ratios = [math.log(c / i) for i, c in self.rounds]
        ratio = self.ratio()
        if max(ratios) < threshold and ratio < threshold - 2 * GAIN:  # a clear difference: no more rounds
            return True
        if min(ratios) > threshold and ratio > threshold + 2 * GAIN:
            return False
        if self.futile():  # bursts of load as long as the forwards: the larger size amortises the threads' waits
            return up
        if n < MIN_ROUNDS:
            return None
        se = statistics.stdev(ratios) / math.sqrt(n)
        if ratio + 2 * se < threshold:
            return True
        if not up or ratio - 2 * se >= threshold:  # a smaller size only with certainty, at once
            return False
        return ratio < threshold if n >= MAX_ROUNDS else None  # a larger one on its throughput alone at the end


@dataclass(frozen=True)
class _Fit:
    r"""
    A decided contest's prediction: ``large`` images per forward were faster than ``small`` by the log speed-up
    ``gain`` (timed in the same moments, under the same load), and ``steady_rate`` says whether that contest outran
    the prediction of the contest before it by more than :data:`GAIN` (a busy machine, whose threads wait for each
    other at every layer).
    """

    small: int
    large: int
    gain: float
    steady_rate: bool

    def predicted(self, size: int, larger: int, steady_rate: bool | None = None) -> float:
        r"""
        The log speed-up per image of ``larger`` images per forward over ``size``: by the model ``seconds per image
        = a + b / images`` (a fixed cost ``b`` per forward), solved for the contest's two sizes (with ``a <= 0``
        the fixed cost is all the time there is), whose speed-up fades as the forwards grow; or, with
        ``steady_rate`` (default: the fit's own), at the contest's own speed-up per doubling of the images.
        """
        if self.steady_rate if steady_rate is None else steady_rate:
            return self.gain * math.log(larger / size) / math.log(self.large / self.small)
        b = math.expm1(self.gain) / (1 / self.small - 1 / self.large)  # seconds per image in the larger size's units
        a = 1 - b / self.large
        if a <= 0:
            a, b = 0.0, float(self.large)
        return math.log((a + b / size) / (a + b / larger))


class ForwardSizeChooser:
    r"""
    The state of ``perturbations_per_eval="auto"`` over a run (see the module's description).

    Args:
        fits (callable, optional): ``fits(images_per_forward) -> bool``, whether a forward of that
                    many images is predicted to stay within the memory budget.
                    Default: every size fits
        memory (callable, optional): ``memory(images_per_forward) -> int or None``, the memory the
                    process is predicted to hold during a forward of that many images, which prices the
                    larger sizes (:data:`MEMORY_PRICE`); None where it is not priced (a CUDA device).
                    Default: no size's memory is priced

    Examples::

        >>> chooser = ForwardSizeChooser()
        >>> chooser.calibrate(n_images=7, cuda=False)
        >>> chooser.next_size(7, remaining=254)   # the first forward: the smallest size, a warm-up
        (1, False)
    """

    def __init__(
        self, fits: Callable[[int], bool] | None = None, memory: Callable[[int], int | None] | None = None
    ) -> None:
        self._fits = fits or (lambda images: True)
        self._memory = memory or (lambda images: None)
        self.n_images: int | None = None
        self.candidates: list[int] = []
        self.size: int | None = None
        self._seen: set[int] = set()
        self._times: dict[int, list[float]] = {}  # each size's contest timings (the report)
        self._fit: _Fit | None = None  # the last decided contest's prediction
        self._most = 0  # the most coalitions a call has had left: no larger size can be timed
        self._gave_up = False  # whether the last contest gave up a larger size (its memory can go back)
        self._contest: _Contest | None = None
        self._phase = "first"  # the first forward, then "explore" (moving one way), then "steady"
        self._up = True  # the direction explored, or of the next check
        self._since_contest = 0.0
        self._last_contest = 0.0
        self._backoff = 0  # checks in a row that kept the size: each doubles the wait before the next
        self._contests = 0
        self._sizes: list[int] = []
        self._resume: int | None = None

    def resume(self, size: int) -> None:
        r"""Start at ``size`` (a resumed run's): no exploration from the start, the checks during the run go on."""
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
            self._phase = "steady"
        self._hold(self.candidates[0] if self._resume is None else self._resume)

    def _hold(self, size: int) -> None:
        self.size = size
        if not self._sizes or self._sizes[-1] != size:
            self._sizes.append(size)

    def _neighbour(self, up: bool) -> int | None:
        i = self.candidates.index(self.size)
        if not up:
            return self.candidates[i - 1] if i > 0 else None
        larger = [c for c in self.candidates[i + 1 :] if c <= self._most and self._fits(c * self.n_images)]
        if not larger:
            return None
        if i == 0:  # from the smallest size, the next one costs little memory to try
            return larger[0]
        if self._fit is None:  # no fixed cost per forward to spread: nothing to gain
            return None
        values = {c: self._gain(self.size, c) - self._price(self.size, c) for c in larger}
        best = max(values, key=values.get)  # the first of equal values: the smaller size
        return best if values[best] > 0 else None

    def _gain(self, size: int, larger: int) -> float:
        r"""
        The log speed-up per image of ``larger`` coalitions per forward over ``size`` that the last decided contest
        predicts (:meth:`_Fit.predicted`).
        """
        return self._fit.predicted(size * self.n_images, larger * self.n_images)

    def _ladder(self, size: int, larger: int) -> list[int]:
        r"""The sizes of the ladder from ``size`` to ``larger``, both included."""
        return [c for c in self.candidates if size <= c <= larger]

    def _price(self, size: int, larger: int) -> float:
        r"""
        The log speed-up ``larger`` coalitions per forward must show over ``size``: for each step of the ladder
        between them :data:`GAIN`, or on the CPU :data:`MEMORY_PRICE` times the log of the growth of the memory
        the process is predicted to hold, where that is more.
        """
        price = 0.0
        for lower, upper in itertools.pairwise(self._ladder(size, larger)):
            held, wanted = self._memory(lower * self.n_images), self._memory(upper * self.n_images)
            grows = math.log(wanted / held) if held and wanted and wanted > held else 0.0
            price += max(GAIN, MEMORY_PRICE * grows)
        return price

    def _start(self, up: bool) -> bool:
        challenger = self._neighbour(up)
        if challenger is None:
            return False
        steps = len(self._ladder(*sorted((self.size, challenger)))) - 1
        self._contest = _Contest(self.size, challenger, GAIN * steps)
        self._contests += 1
        return True

    def _settle(self) -> None:
        self._phase, self._since_contest = "steady", 0.0

    def next_size(self, n_images: int, remaining: int) -> tuple[int, bool]:
        r"""
        Coalitions for the next forward of a batch of ``n_images`` images with ``remaining``
        coalitions left (the caller cuts a larger size to ``remaining``), and whether that forward is
        timed.
        """
        if n_images != self.n_images:  # another batch size (a short last batch): the same images per forward
            return max(1, round(self.size * self.n_images / n_images)), False
        self._most = max(self._most, remaining)
        if self._phase == "first" and self.size in self._seen:  # after the first forward: explore upwards
            self._phase = "explore"
        if self._contest is None and self._phase == "explore":
            if not self._start(self._up):
                self._settle()
        elif self._contest is None and self._phase == "steady":
            if self._since_contest >= max(RECHECK_SECONDS, self._last_contest) * 2**self._backoff:
                self._since_contest, up = 0.0, self._up
                if self._start(up) or self._start(not up):  # the next check goes the other way from this one
                    self._up = self._contest.challenger < self._contest.incumbent
        if self._contest is None:
            return self.size, False
        wanted = self._contest.wanted()
        if wanted > remaining:  # this call cannot time it: go on with the incumbent
            return self.size, False
        return wanted, wanted in self._seen

    def record(self, size: int, n_images: int, seconds: float, full: bool) -> bool:
        r"""
        Note the seconds of a forward of ``size`` coalitions for ``n_images`` images (``full``: the size
        :meth:`next_size` gave, not cut to what was left); True when it decided a contest.
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
        larger = max(contest.challenger, contest.incumbent)
        if verdict:  # go on the way that won
            self._hold(contest.challenger)
            self._phase, self._up, self._backoff = "explore", contest.challenger > contest.incumbent, 0
        else:
            self._backoff = min(MAX_BACKOFF, self._backoff + (self._phase == "steady"))
            self._settle()
        self._gave_up = self.size < larger
        small, gain = min(contest.challenger, contest.incumbent) * self.n_images, contest.gain()
        large = larger * self.n_images
        before = self._fit
        steady_rate = before is not None and (
            before.steady_rate  # the same two sizes again: no new prediction to outrun
            if (before.small, before.large) == (small, large)
            else gain > before.predicted(small, large, steady_rate=False) + GAIN
        )
        self._fit = None if gain <= 0 else _Fit(small, large, gain, steady_rate)
        return True

    def gave_up_larger(self) -> bool:
        r"""Whether the contest just decided left a larger size (whose memory is no longer needed)."""
        return self._gave_up

    def drop_from(self, size: int, n_images: int | None = None) -> None:
        r"""
        Drop ``size`` (coalitions of a batch of ``n_images`` images, by default the ladder's) and every larger
        size: they ran out of memory, or no longer fit the budget. The contest in progress ends.

        Raises:
            MemoryError: when no size is left.
        """
        images = size * (n_images or self.n_images)
        self.candidates = [c for c in self.candidates if c * self.n_images < images]
        if not self.candidates:
            raise MemoryError(
                f"even one coalition per forward ({self.n_images} images) does not fit in memory; lower the batch size"
            )
        self._contest = None
        self._settle()
        if self.size not in self.candidates:
            self._hold(self.candidates[-1])

    def report(self) -> ForwardSizeChoice:
        r"""What was timed and chosen."""
        timings = []
        for size in sorted(self._times):
            times = self._times[size]
            mean = statistics.fmean(times)
            spread = statistics.stdev(times) / mean if len(times) > 1 and mean > 0 else 0.0
            timings.append(SizeTiming(size, size * self.n_images, mean, spread, len(times)))
        return ForwardSizeChoice(
            self.size, self.size * self.n_images, tuple(timings), self._contests, tuple(self._sizes)
        )
