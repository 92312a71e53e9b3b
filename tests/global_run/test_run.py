import pytest
import torch
from conftest import tiny_cnn
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from captum_iaside import IASIDE, spectral_importance_distribution, spectral_robustness_score


def dataset(n=120, seed=0, classes=3):
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, classes, (n,), generator=g))


class Counted(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model, self.images = model, 0

    def forward(self, x):
        self.images += x.shape[0]
        return self.model(x)


class Reiterable:
    """Data without a known length (no len), that can be iterated again."""

    def __init__(self, loader):
        self.loader = loader

    def __iter__(self):
        return iter(self.loader)


@pytest.mark.parametrize("budget", [10, 57, 400, 1000, 3000])
def test_the_run_never_spends_more_than_its_budget(budget):
    model = Counted(tiny_cnn(n_classes=3)).eval()
    ia = IASIDE(model, bands=5)
    res = ia.attribute_global(DataLoader(dataset(), batch_size=16), max_evaluations=budget, perturbations_per_eval=8)
    assert model.images == res.config["evaluations"] <= budget
    if res.n_samples < 120:
        assert res.stop_reason.startswith(f"max_evaluations={budget} reached")
        assert budget - model.images < 16 * 32  # at most one batch's worth is left unspent
    else:  # every image done; the budget may have run out with the last batch
        assert res.stop_reason == "data exhausted" or res.stop_reason.startswith("max_evaluations")


def test_budget_with_n_samples_and_tolerance():
    ia = IASIDE(tiny_cnn(n_classes=3), bands=4)
    loader = DataLoader(dataset(400), batch_size=20)
    capped = ia.attribute_global(loader, max_evaluations=10_000, n_samples=60)
    assert capped.n_samples == 60 and capped.stop_reason == "n_samples=60 reached"
    early = ia.attribute_global(loader, max_evaluations=1800, tolerance=0.3)
    assert early.stop_reason.startswith("tolerance: max stderr / range(psi)") and early.config["evaluations"] < 1800


def test_the_automatic_design_is_recorded_and_exact_when_the_budget_allows():
    ia = IASIDE(tiny_cnn(n_classes=3), bands=4)
    loader = DataLoader(dataset(), batch_size=16)
    exact = ia.attribute_global(loader)
    covered = ia.attribute_global(loader, max_evaluations=120 * 16)
    assert covered.config["design"]["estimator"] == {"name": "exact"} and covered.config["design"]["automatic"]
    assert torch.equal(covered.values, exact.values)
    sampled = ia.attribute_global(loader, max_evaluations=120 * 9)
    design = sampled.config["design"]
    assert design["estimator"]["stratified"] and design["budget_per_image"] == 9 and design["images_planned"] == 120
    assert sampled.n_samples == 120 and (sampled.values - exact.values).abs().max() < 6 * sampled.stderr.max()


def test_a_second_pass_spends_the_rest_and_averages_each_image():
    # data of unknown length: one permutation per image first; the rest of the budget buys exact values on
    # the second pass, which replace the first estimates, so the result is the exact one
    ia = IASIDE(tiny_cnn(n_classes=3), bands=4)
    loader = DataLoader(dataset(48), batch_size=16)
    exact = ia.attribute_global(loader, strata=None)  # as the stream of unknown length below is read
    res = ia.attribute_global(Reiterable(loader), max_evaluations=48 * (5 + 16))
    assert res.config["passes"] == 2 and res.config["second_pass_design"]["estimator"] == {"name": "exact"}
    assert res.n_samples == 48 and res.config["evaluations"] <= 48 * 21
    assert torch.allclose(res.values, exact.values, atol=1e-12) and torch.allclose(res.stderr, exact.stderr, atol=1e-12)
    one_shot = ia.attribute_global(iter(loader), max_evaluations=48 * 21)
    assert one_shot.n_samples == 48 and "found no data" in one_shot.stop_reason


def test_a_sampled_second_pass_keeps_every_image_once():
    ia = IASIDE(tiny_cnn(n_classes=3), bands=5)
    loader = DataLoader(dataset(40), batch_size=8)
    res = ia.attribute_global(Reiterable(loader), max_evaluations=40 * 6 + 40 * 14, by_class=True)
    assert res.config["passes"] == 2 and res.config["second_pass_design"]["budget_per_image"] == 14
    assert res.n_samples == 40 and sum(d["n_samples"] for d in res.by_class.values()) == 40


def test_intervals_cover_the_exact_answer_at_a_budget():
    # 300 seeded runs, each one stratified permutation per image on 80 images drawn from a pool whose exact
    # global answer is known: the 95 % bootstrap intervals of psi (per band) and of the SRS must cover it
    model = tiny_cnn(n_classes=3, seed=1)
    ia = IASIDE(model, bands=4)
    pool = TensorDataset(torch.randn(2000, 3, 16, 16, generator=torch.Generator().manual_seed(0)))
    phi = ia.attribute(pool.tensors[0], perturbations_per_eval=16).double()
    psi = phi.mean(0)
    srs = spectral_robustness_score(spectral_importance_distribution(psi))
    reps, hits, hits_srs = 300, torch.zeros(4), 0
    for r in range(reps):
        sampler = RandomSampler(pool, replacement=True, num_samples=80, generator=torch.Generator().manual_seed(r))
        res = ia.attribute_global(
            DataLoader(pool, batch_size=20, sampler=sampler), max_evaluations=80 * 5, seed=r, perturbations_per_eval=8
        )
        assert res.config["design"]["budget_per_image"] == 5
        hits += ((res.values_ci[0] <= psi) & (psi <= res.values_ci[1])).float()
        hits_srs += res.srs_ci[0] <= srs <= res.srs_ci[1]
    coverage = hits / reps
    assert bool(((coverage >= 0.92) & (coverage <= 0.98)).all()), coverage
    assert 0.92 <= hits_srs / reps <= 0.98, hits_srs / reps
