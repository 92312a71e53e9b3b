"""The run's state: written only by its own methods, each one event of the run, and saved and read back whole."""

import ast
import dataclasses
from pathlib import Path

import torch

from captum_iaside.estimators.base import BandShapley
from captum_iaside.global_run.accumulators import InteractionAccumulator
from captum_iaside.global_run.state import BatchEstimates, RunState

PACKAGE = Path(__file__).resolve().parents[2] / "captum_iaside"
FIELDS = {f.name for f in dataclasses.fields(RunState)}


def estimates(n, m=3, shift=0.0):
    values = torch.arange(n * m, dtype=torch.float64).reshape(n, m) / 10 + shift
    return BandShapley(values, torch.zeros(n, dtype=torch.float64), values.sum(1), None, 8)


def test_no_module_but_the_state_writes_its_fields():
    # an assignment to a field of RunState on anything but `self` (the state's own methods), anywhere in the package
    writes = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "state.py" and path.parent.name == "global_run":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr in FIELDS
                    and not (isinstance(target.value, ast.Name) and target.value.id == "self")
                ):
                    writes.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{target.attr}")
    assert writes == []


def test_a_recorded_batch_moves_the_run_on_and_a_replaced_one_averages_in():
    st = RunState.fresh(["a"], 3, 0, False, None, interactions=False)
    first = estimates(4)
    st.record_batch(BatchEstimates(0, 5, 4, {"a": first}, spent=8, digest="d0"), keep=True)
    assert (st.batches_done, st.streamed, st.images_done, st.images_first_pass, st.spent) == (1, 5, 4, 4, 8)
    assert st.batch_digests == ["d0"] and st.stored_images(0) == 4 and st.probe["a"]["v_full"].shape == (4,)
    st.begin_second_pass(100, 4)
    assert (st.pass_index, st.batches_done, st.images_done, st.streamed, st.second_pass) == (1, 0, 0, 0, (100, 4))
    second = estimates(2, shift=1.0)  # the first two images again, averaged in with equal weights
    st.replace_batch(BatchEstimates(0, 5, 2, {"a": second}, spent=8), 1.0, 1.0)
    mean = torch.cat([(first.values[:2] + second.values) / 2, first.values[2:]]).mean(0)
    assert torch.allclose(st.accumulators["a"].estimate().values, mean)
    assert torch.allclose(st.store[0]["a"]["values"][2:], first.values[2:]) and st.batch_digests == ["d0"]


def test_the_stop_events():
    st = RunState.fresh(["a"], 3, 0, False, None, interactions=False)
    st.finish("n_samples=4 reached")
    st.exhaust("data exhausted")  # a reason given before stays
    st.end_step("n_samples=4 reached")
    assert (st.finished, st.exhausted, st.local_reason, st.steps) == (True, True, "n_samples=4 reached", 1)


def test_the_state_reads_back_whole():
    st = RunState.fresh(["a", "b"], 3, 4, False, {0: 5, 1: 5}, interactions=True)
    ids = torch.tensor([0, 0, 1, 1])
    pairs = torch.randn(4, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    batch = BatchEstimates(
        0,
        4,
        4,
        {"a": estimates(4), "b": estimates(4, shift=0.5)},
        {"a": pairs, "b": pairs},
        torch.ones(4, 4, dtype=torch.float64),
        ids,
    )
    st.record_batch(batch, keep=False)
    back = RunState.from_dict(st.to_dict())
    assert back.to_dict().keys() == st.to_dict().keys() and back.joint.keys() == st.joint.keys()
    assert torch.equal(back.interactions["a"].estimate().values, st.interactions["a"].estimate().values)
    assert torch.equal(back.accumulators["b"].estimate().values, st.accumulators["b"].estimate().values)


def test_interactions_accumulate_as_matrices_stratified_as_psi():
    # two strata of equal population: the mean is the mean of the strata's means, whatever their sizes
    acc = InteractionAccumulator(2, population={0: 10, 1: 10})
    small, large = torch.ones(2, 2, 2), torch.full((6, 2, 2), 3.0)
    large[::2] += 1.0  # a spread within the stratum
    acc.update(torch.cat([small, large]), torch.tensor([0, 0] + [1] * 6))
    est = acc.estimate()
    assert est.values.shape == est.stderr.shape == (2, 2)
    assert torch.allclose(est.values, torch.full((2, 2), (1.0 + 3.5) / 2, dtype=torch.float64))
    within = torch.tensor([4.0, 3.0] * 3).var() / 6  # stratum 1's variance of its mean; stratum 0's is 0
    assert torch.allclose(est.stderr, torch.full((2, 2), float((0.25 * within).sqrt()), dtype=torch.float64))
    other = InteractionAccumulator(2, population={0: 0, 1: 0})  # a rank that saw nothing of its own
    other.merge(acc)
    assert torch.equal(other.estimate().values, est.values) and other.population == {0: 10, 1: 10}
