"""The automatic forward size against simulated machines: quiet, with a real gain, under bursty load, and after
load that starts late. Each simulation plays the forwards of a run on a clock and a seeded model of the machine."""

import random
import statistics

import pytest

from captum_iaside.execution.forward_size import ForwardSizeChooser

N_IMAGES, PER_BATCH = 7, 254  # the main job: 7 photos, 254 coalitions per image besides v(∅) and v(N)


def lite0_memory(images):
    """
    The main job's resident memory during a forward as the gauge predicts it from 14 images (1.26 GB measured over a
    floor of 0.9 GB): 26 MB an image, fixed costs included.
    """
    return int(0.9e9 + 26e6 * images)


class Machine:
    """
    Seconds of a forward of ``images`` images at a time on the clock, with seeded noise, and from ``load_from`` on
    the bursty load of ``benchmarks/load.py``: three PyTorch jobs of two threads and one Python loop, each busy for
    0.2-2 s, then idle for up to 1 s. A forward is 100 layers; each is slowed by the busy threads that share the two
    cores and waits for them at its barrier, a fixed cost per layer. Fitted to the main job (EfficientNet-Lite0 at 160
    px, 145 images/s quiet) under that load: about 1 s per forward of 7 images, 8 s per 259 images, and the fixed
    sizes 4, 8, 16 and 32 at 1.65, 1.25, 1.05 and 1.0 times the best.
    """

    JOBS = (2, 2, 2, 1)  # threads of each competitor
    LAYERS, SLOWER, BARRIER = 100, 0.65, 0.0015  # per busy thread: a layer's work slower by 65 %, 1.5 ms waited

    def __init__(self, seed, per_image=0.0069, per_forward=0.002, noise=0.03, load_from=None, crowd=None):
        self.rng = random.Random(seed)
        self.per_image, self.per_forward, self.noise, self.load_from = per_image, per_forward, noise, load_from
        self.crowd = crowd  # images at which an image costs twice as much (caches overflow), None: never
        self.switch = [None] * len(self.JOBS)
        self.busy = [False] * len(self.JOBS)

    def busy_threads(self, clock):
        if self.load_from is None or clock < self.load_from:
            return 0
        threads = 0
        for job, n in enumerate(self.JOBS):
            if self.switch[job] is None:  # the competitors start within 1.5 s of each other
                self.switch[job] = self.load_from + self.rng.uniform(0.0, 1.5)
            while clock >= self.switch[job]:
                self.busy[job] = not self.busy[job]
                self.switch[job] += self.rng.uniform(0.2, 2.0) if self.busy[job] else self.rng.uniform(0.0, 1.0)
            threads += n * self.busy[job]
        return threads

    def seconds(self, images, clock):
        per_image = self.per_image * (1 + images / self.crowd if self.crowd else 1)
        work = (per_image * images + self.per_forward) * max(0.5, 1 + self.rng.gauss(0, self.noise)) / self.LAYERS
        end = clock
        for _ in range(self.LAYERS):
            threads = self.busy_threads(end)
            end += work * (1 + self.SLOWER * threads) + self.BARRIER * threads
        return end - clock


def play(machine, size=None, batches=1, memory=None):
    """
    Run ``batches`` batches with the chooser (``size=None``) or a fixed size; the clock and the chooser. ``memory``:
    the process's memory during a forward of so many images (the CPU's price of a larger size), None: not priced.
    """
    chooser = ForwardSizeChooser(memory=memory)
    chooser.calibrate(N_IMAGES, cuda=False)
    clock = 0.0
    for _ in range(batches):
        remaining = PER_BATCH
        while remaining:
            asked = size or chooser.next_size(N_IMAGES, remaining)[0]
            p = min(asked, remaining)
            seconds = machine.seconds(p * N_IMAGES, clock)
            clock += seconds
            if not size:
                chooser.record(p, N_IMAGES, seconds, full=p == asked)
            remaining -= p
    return clock, chooser


def test_the_ladder_holds_the_images_per_forward_in_coalitions():
    chooser = ForwardSizeChooser()
    chooser.calibrate(7, cuda=False)
    assert chooser.candidates == [1, 2, 5, 9, 18, 37]
    gpu = ForwardSizeChooser()
    gpu.calibrate(16, cuda=True)
    assert gpu.candidates == [1, 2, 4, 8, 16, 32, 64]
    assert gpu.next_size(16, remaining=254) == (1, False)  # the first forward of a size is a warm-up


def test_a_quiet_machine_with_equal_sizes_keeps_a_small_one():
    # every size costs the same per image (noise 3 %): no larger size is worth its memory
    for seed in range(20):
        _, chooser = play(Machine(seed, per_forward=0.0))
        report = chooser.report()
        assert report.perturbations_per_eval <= 2, (seed, report)
        assert max(t.perturbations_per_eval for t in report.timings) <= 5, (seed, report)  # never tried a large one


def test_a_real_gain_is_taken_and_a_small_one_left():
    # a fixed cost of 0.1 s per forward: 9 coalitions (63 images) are 17 % faster per image than 5, 37 only 4 %
    # faster than 18; the chooser climbs while the gain is larger than the noise and 5 %
    for seed in range(10):
        _, chooser = play(Machine(seed, per_forward=0.1, noise=0.02), batches=20)
        assert chooser.size in (18, 37), (seed, chooser.report())


def test_bursty_load_does_not_fool_the_choice():
    # the main job under bursty load from its start: small forwards wait at every layer, so large sizes are much
    # faster, and single timings range over 5x; the automatic size is within 1.2 x the best fixed size in the median
    # over seeds and 1.5 x in the worst (the target for the benchmark)
    ratios = []
    for seed in range(16):
        best = min(play(Machine(seed, load_from=0.0), size=s)[0] for s in (1, 2, 5, 9, 18, 37))
        ours, _ = play(Machine(seed, load_from=0.0))
        ratios.append(ours / best)
    assert statistics.median(ratios) <= 1.2 and max(ratios) <= 1.5, ratios


def test_a_contest_that_noise_cannot_resolve_is_decided_on_its_throughputs_after_three_rounds():
    # bursts as long as the forwards: one size's timings range over 10x, so even 9 rounds could not resolve 5 %
    chooser = ForwardSizeChooser()
    chooser.calibrate(N_IMAGES, cuda=False)
    per_image = {1: [0.5, 0.02, 0.10, 0.03], 2: [0.5, 0.08, 0.01, 0.02]}  # a warm-up, then one timing a round
    timed = 0
    while True:
        size, _ = chooser.next_size(N_IMAGES, PER_BATCH)
        seconds = per_image[size].pop(0) * size * N_IMAGES
        timed += 1
        if chooser.record(size, N_IMAGES, seconds, full=True):
            break
    assert timed == 8 and chooser.size == 2  # 2 warm-ups and 3 rounds; 2 is faster over them (0.037 s against 0.05)


def test_a_size_chosen_before_the_load_does_not_stay():
    # quiet for the first 5 s (a small size wins), then bursty load: the checks during the run move it up
    ratios = []
    for seed in range(8):
        best = min(play(Machine(seed, load_from=5.0), size=s, batches=2)[0] for s in (1, 2, 5, 9, 18, 37))
        ours, chooser = play(Machine(seed, load_from=5.0), batches=2)
        sizes = chooser.report().sizes
        assert sizes[0] == 1 and max(sizes) >= 9, sizes  # small while quiet, large once the load came
        ratios.append(ours / best)
    assert statistics.median(ratios) <= 1.2, ratios


def test_sizes_that_do_not_fit_are_never_tried():
    chooser = ForwardSizeChooser(fits=lambda images: images <= 40)
    chooser.calibrate(N_IMAGES, cuda=False)
    machine, clock = Machine(0, per_forward=0.1), 0.0
    for _ in range(400):
        p, _ = chooser.next_size(N_IMAGES, PER_BATCH)
        assert p * N_IMAGES <= 40
        seconds = machine.seconds(p * N_IMAGES, clock)
        clock += seconds
        chooser.record(p, N_IMAGES, seconds, full=True)
    assert chooser.size == 5


def test_out_of_memory_drops_the_size_and_every_larger_one():
    chooser = ForwardSizeChooser()
    chooser.calibrate(N_IMAGES, cuda=True)
    chooser.drop_from(9)
    assert chooser.candidates == [1, 2, 5] and chooser.size == 1
    chooser.drop_from(7, n_images=3)  # 7 coalitions of a short batch of 3 images: 21 images per forward are too many
    assert chooser.candidates == [1, 2]
    chooser.drop_from(2)
    with pytest.raises(MemoryError, match="even one coalition per forward"):
        chooser.drop_from(1)


def test_a_challenger_that_no_call_can_time_is_never_contested():
    # 10 coalitions per call (a budget): sizes above 10 cannot be timed, so no contest waits for them forever
    chooser = ForwardSizeChooser()
    chooser.calibrate(1, cuda=False)  # one image a batch: the ladder is 8, 16, 32, ... coalitions
    machine, clock = Machine(0, per_forward=0.1), 0.0
    for _ in range(300):
        asked, _ = chooser.next_size(1, 10)
        p = min(asked, 10)
        seconds = machine.seconds(p, clock)
        clock += seconds
        chooser.record(p, 1, seconds, full=p == asked)
    assert chooser.size == 8 and all(t.perturbations_per_eval <= 10 for t in chooser.report().timings)


def test_a_size_that_stops_fitting_the_budget_ends_the_contest():
    fits = {"limit": 1000}
    chooser = ForwardSizeChooser(fits=lambda images: images <= fits["limit"])
    chooser.calibrate(N_IMAGES, cuda=False)
    machine, clock = Machine(0, per_forward=0.1), 0.0
    for step in range(600):
        if step == 100:
            fits["limit"] = 40  # the memory estimate grew: only 5 coalitions (35 images) fit now
            chooser.drop_from(9)  # as the workspace does with the first size that no longer fits
        asked, _ = chooser.next_size(N_IMAGES, PER_BATCH)
        seconds = machine.seconds(asked * N_IMAGES, clock)
        clock += seconds
        chooser.record(asked, N_IMAGES, seconds, full=True)
    assert chooser.size == 5 and chooser.candidates == [1, 2, 5]


def test_a_resumed_run_starts_where_it_was():
    chooser = ForwardSizeChooser()
    chooser.resume(18)
    chooser.calibrate(N_IMAGES, cuda=False)
    assert chooser.next_size(N_IMAGES, PER_BATCH) == (18, False) and chooser.report().sizes == (18,)


def test_another_batch_size_keeps_the_images_per_forward_and_is_not_timed():
    chooser = ForwardSizeChooser()
    chooser.calibrate(8, cuda=False)
    assert chooser.next_size(3, PER_BATCH) == (3, False)  # 8 images per forward: 3 coalitions of a batch of 3
    chooser.record(3, 3, 1.0, full=True)
    assert chooser.report().timings == ()


def test_on_a_quiet_cpu_the_small_gain_of_the_second_size_does_not_buy_the_memory_of_a_third():
    # the main job on a quiet CPU: 14 images per forward 10 % faster per image than 7, 35 no faster than 14 (caches
    # overflow), and every image 17 MB more memory; the model through 7 and 14 predicts too little for 35's memory
    tried = []
    for seed in range(16):
        _, chooser = play(Machine(seed, per_forward=0.02, noise=0.06, crowd=200), memory=lite0_memory)
        assert chooser.size == 2, (seed, chooser.report())
        tried.append(max(t.perturbations_per_eval for t in chooser.report().timings))
    assert sum(size > 2 for size in tried) <= 4, tried  # the noise of 7 against 14 makes a third size rare


def test_on_the_cpu_a_larger_size_must_pay_for_its_memory():
    # a fixed cost of 0.1 s per forward: 9 coalitions (63 images) are 14 % faster per image than 5 (35 images) but
    # are predicted to hold 2.5 GB against 1.8 GB (log growth 0.34, price 0.17): the climb stops at 5 and never tries
    # 9; unpriced (CUDA) it goes on
    for seed in range(6):
        _, priced = play(Machine(seed, per_forward=0.1, noise=0.02), batches=20, memory=lite0_memory)
        assert priced.size == 5 and max(t.perturbations_per_eval for t in priced.report().timings) <= 5, seed
        _, free = play(Machine(seed, per_forward=0.1, noise=0.02), batches=20)
        assert free.size in (18, 37), seed


def test_once_tried_a_larger_size_wins_on_speed_alone():
    # memory doubles with every step (a price of 0.35 a step): the second size is tried from the smallest, and once its
    # memory is taken a speed-up of 20 % (above GAIN, below the memory's price) is enough for it to stay
    chooser = ForwardSizeChooser(memory=lambda images: images * 10**8)
    chooser.calibrate(N_IMAGES, cuda=False)
    per_image = {1: 0.012, 2: 0.010}
    while True:
        size, _ = chooser.next_size(N_IMAGES, PER_BATCH)
        if chooser.record(size, N_IMAGES, per_image[size] * size * N_IMAGES, full=True):
            break
    assert chooser.size == 2, chooser.report()


class SteadyRate(Machine):
    """Each doubling of the images per forward makes an image 24 % faster (seconds ∝ images ** -0.4, as a busy
    machine's measured sizes fell from 28 to 112 images): no fixed cost per forward that fades."""

    def seconds(self, images, clock):
        return 0.02 * images**0.6 * max(0.5, 1 + self.rng.gauss(0, self.noise))


def test_a_climb_that_outruns_the_fixed_cost_model_goes_on_at_its_measured_rate():
    # the fixed-cost model through 14 and 35 images predicts 14 % for 63 against a price of 17 % (memory 1.8 to 2.5
    # GB), and the climb used to stop at 5; but 35 outran that model's prediction from 14 by more than GAIN, so the
    # rate per doubling is kept (28 %) and the run climbs to 126 or 259 images per forward
    for seed in range(6):
        _, chooser = play(SteadyRate(seed, noise=0.02), batches=20, memory=lite0_memory)
        assert chooser.size in (18, 37), (seed, chooser.report())


def test_after_a_check_that_could_only_look_down_the_next_one_looks_up():
    # a quiet first second (14 images win by 18 %, too little for 35's memory), then load: the first check finds no
    # larger size worth trying and contests the smaller one, whose loss now shows a large speed-up; the next check
    # looks up (it used to look down again, a whole backoff later)
    quiet = {7: 0.012, 14: 0.010, 35: 0.0098, 63: 0.0097, 126: 0.0097, 259: 0.0097}
    busy = {7: 0.040, 14: 0.020, 35: 0.010, 63: 0.008, 126: 0.007, 259: 0.0068}
    chooser = ForwardSizeChooser(memory=lite0_memory)
    chooser.calibrate(N_IMAGES, cuda=False)
    clock, held = 0.0, []
    while len(held) < 3:
        size, _ = chooser.next_size(N_IMAGES, PER_BATCH)
        seconds = (quiet if clock < 1 else busy)[size * N_IMAGES] * size * N_IMAGES
        clock += seconds
        if chooser.record(size, N_IMAGES, seconds, full=True):
            held.append(chooser.size)
    assert held[:2] == [2, 2] and held[2] > 5, held


def test_bursty_load_does_not_fool_the_choice_when_memory_has_a_price():
    # as above with the CPU's price of memory, which a contest timed in a light moment of the load predicts too
    # little to pay: the checks that look up again after each look down keep the worst of 24 seeds at 1.52 x the best
    # fixed size (1.91 x when a check that could not look up made the next one look down again)
    ratios = []
    for seed in range(24):
        best = min(play(Machine(seed, load_from=0.0), size=s)[0] for s in (1, 2, 5, 9, 18, 37))
        ours, _ = play(Machine(seed, load_from=0.0), memory=lite0_memory)
        ratios.append(ours / best)
    assert statistics.median(ratios) <= 1.2 and max(ratios) <= 1.6, ratios


def test_a_contest_that_bursts_of_load_make_futile_goes_to_the_larger_size():
    # bursts of about a second fall on two forwards of 14 images and one of 7: per image the 14-image forwards are
    # slower over the three rounds (the throughputs would keep 7), but the rounds spread so widely that no number of
    # rounds could resolve 5 %; on such a machine the larger forward amortises the threads' waits, and it wins
    chooser = ForwardSizeChooser()
    chooser.calibrate(N_IMAGES, cuda=False)
    seconds = iter([0.05, 0.05, 0.1, 1.2, 0.08, 0.9, 0.05, 1.1])  # warm-ups of 1 and 2, then three rounds
    decided = False
    while not decided:
        size, _ = chooser.next_size(N_IMAGES, PER_BATCH)
        decided = chooser.record(size, N_IMAGES, next(seconds), full=True)
    assert chooser.size == 2 and chooser.report().timings[1].forwards == 3, chooser.report()
