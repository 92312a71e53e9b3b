import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from captum.robust import FGSM  # noqa: E402
from conftest import tiny_cnn  # noqa: E402

from captum_iaside import IASIDE, SpectralBands, SpectralImportance  # noqa: E402
from captum_iaside.cli.data import embedded_photos, preprocess  # noqa: E402
from captum_iaside.robustness.accuracy import robust_accuracy  # noqa: E402
from captum_iaside.robustness.corruptions import corrupt  # noqa: E402
from captum_iaside.robustness.report import robustness_report  # noqa: E402
from captum_iaside.robustness.snr import spectral_snr  # noqa: E402
from captum_iaside.visualization.robustness import plot_robustness  # noqa: E402
from captum_iaside.visualization.snr import plot_spectral_snr  # noqa: E402


def test_gaussian_noise_snr_falls_from_low_to_high_bands_on_natural_photos():
    photos = embedded_photos(preprocess(64, (0.0,) * 3, (1.0,) * 3)).tensors[0]
    snr = spectral_snr(photos, corrupt(photos, "gaussian_noise", 2, seed=0), bands=8)
    assert snr.shape == (8,)
    assert all(a > b for a, b in zip(snr.tolist(), snr[1:].tolist(), strict=False)), snr


def test_spectral_snr_equals_direct_fourier_energies():
    g = torch.Generator().manual_seed(0)
    x, noise = torch.rand(3, 3, 16, 16, generator=g), 0.1 * torch.randn(3, 3, 16, 16, generator=g)
    bands = SpectralBands(4)
    masks = bands.masks(16, 16, dtype=torch.float64)
    energy = lambda z: (torch.fft.fft2(z.double()).abs().pow(2)[:, :, None] * masks).sum(dim=(0, 1, 3, 4))  # noqa: E731
    expected = 10 * torch.log10(energy(x) / energy(noise))  # Parseval: the 1/HW factors cancel
    assert torch.allclose(spectral_snr(x, x + noise, bands), expected, atol=1e-9)
    batched = spectral_snr([(x[:1], x[:1] + noise[:1]), (x[1:], x[1:] + noise[1:])], bands=bands)
    assert torch.allclose(batched, expected, atol=1e-9)
    with pytest.raises(ValueError, match="shape of clean"):
        spectral_snr(x, x[:1], bands)


def test_robust_accuracy_equals_direct_computation():
    model = tiny_cnn()
    g = torch.Generator().manual_seed(3)
    x = torch.rand(8, 3, 16, 16, generator=g)
    y = model(x).argmax(1)
    y[:2] = (y[:2] + 1) % 5
    batches = [(x[:5], y[:5]), (x[5:], y[5:])]
    acc = robust_accuracy(model, batches, corruptions=["gaussian_noise", "lowpass"], severities=(5,), epsilons=(0.05,))
    assert set(acc) == {"clean", "gaussian_noise@5", "lowpass@5", "FGSM@0.05", "PGD@0.05"}

    def direct(images):
        return float((model(images).argmax(1) == y).float().mean())

    assert acc["clean"] == pytest.approx(direct(x))
    seeds = [int(np.random.SeedSequence([0, k]).generate_state(1)[0]) for k in range(2)]  # (seed, batch index)
    noisy = torch.cat([corrupt(b, "gaussian_noise", 5, seed=s) for (b, _), s in zip(batches, seeds, strict=True)])
    assert acc["gaussian_noise@5"] == pytest.approx(direct(noisy))
    adv = torch.cat([FGSM(model, lower_bound=0.0, upper_bound=1.0).perturb(b, 0.05, t) for b, t in batches])
    assert acc["FGSM@0.05"] == pytest.approx(direct(adv))


def fake_result(name, sid_peak):
    values = torch.tensor([sid_peak, 1.0 - sid_peak, 0.0, 0.0], dtype=torch.float64)
    return SpectralImportance(values, torch.full((4,), 0.01), 100, 0.0, -1.0, config={"model": name})


def test_report_numbers_and_correlation_signs():
    names = ["a", "b", "c", "d"]
    results = {n: fake_result(n, p) for n, p in zip(names, [0.2, 0.4, 0.6, 0.9], strict=True)}
    accuracies = {
        n: {"clean": 0.9, "gaussian_noise@1": c, "contrast@1": c - 0.1, "FGSM@0.1": 1 - c}
        for n, c in zip(names, [0.5, 0.6, 0.65, 0.8], strict=True)
    }
    report = robustness_report(results, accuracies)
    row = report.rows[0]
    assert row["srs"] == pytest.approx(results["a"].srs)
    assert row["corruption_accuracy"] == pytest.approx((0.5 + 0.4) / 2)
    assert row["adversarial_accuracy"] == pytest.approx(0.5)
    assert report.correlations["corruption accuracy"]["spearman"] == pytest.approx(1.0)
    assert report.correlations["corruption accuracy"]["pearson"] > 0.9
    assert report.correlations["adversarial accuracy"]["spearman"] == pytest.approx(-1.0)
    assert "Spearman +1.000" in report.table()
    fig, axes = plot_robustness(report)
    assert "Spearman +1.00" in axes[0].get_title() and axes[0].get_xlabel().startswith("spectral robustness")
    two = robustness_report({n: results[n] for n in names[:2]}, {n: accuracies[n] for n in names[:2]})
    assert math.isnan(two.correlations["corruption accuracy"]["spearman"])
    with pytest.raises(ValueError, match="same models"):
        robustness_report(results, {"a": accuracies["a"]})


def test_report_from_real_iaside_results():
    model = tiny_cnn()
    x = torch.rand(6, 3, 16, 16)
    res = IASIDE(model, bands=4).attribute_global([(x, model(x).argmax(1))], perturbations_per_eval=16)
    acc = robust_accuracy(model, [(x, model(x).argmax(1))], corruptions=["contrast"], severities=(1, 5))
    report = robustness_report({"tiny": res}, {"tiny": acc})
    assert report.rows[0]["srs"] == pytest.approx(res.srs)
    assert report.rows[0]["corruption_accuracy"] == pytest.approx((acc["contrast@1"] + acc["contrast@5"]) / 2)


def test_snr_plot():
    fig, axes = plot_spectral_snr({"noise": torch.linspace(20, -5, 8), "blur": torch.linspace(30, -20, 8)})
    assert axes[0].get_ylabel() == "SNR (dB)" and len(axes[0].lines) >= 2


def test_corruption_errors_and_mce_as_hendrycks_and_dietterich_define_them():
    from captum_iaside.robustness.report import corruption_errors

    model = {"clean": 0.9, "fog@1": 0.8, "fog@3": 0.6, "snow@1": 0.7, "snow@3": 0.5, "lowpass@1": 0.85}
    ref = {"clean": 0.8, "fog@1": 0.6, "fog@3": 0.4, "snow@1": 0.6, "snow@3": 0.2, "lowpass@1": 0.5}
    errors = corruption_errors(model, ref)
    assert errors["fog"]["error"] == pytest.approx((0.2 + 0.4) / 2)
    assert errors["fog"]["ce"] == pytest.approx((0.2 + 0.4) / (0.4 + 0.6))
    assert errors["snow"]["relative_ce"] == pytest.approx(((0.9 - 0.7) + (0.9 - 0.5)) / ((0.8 - 0.6) + (0.8 - 0.2)))
    results = {n: fake_result(n, p) for n, p in (("model", 0.3), ("ref", 0.6))}
    report = robustness_report(results, {"model": model, "ref": ref}, reference="ref")
    row, own = report.rows[0], report.rows[1]
    assert row["mce_corruptions"] == ["snow", "fog"]  # ImageNet-C's, in its order; our lowpass is not in the mCE
    assert row["mce"] == pytest.approx((errors["fog"]["ce"] + errors["snow"]["ce"]) / 2)
    assert row["relative_mce"] == pytest.approx((errors["fog"]["relative_ce"] + errors["snow"]["relative_ce"]) / 2)
    assert own["mce"] == pytest.approx(1.0) and own["relative_mce"] == pytest.approx(1.0)
    assert "mCE" in report.table() and "normalised by ref" in report.table()
    alone = robustness_report({"model": results["model"]}, {"model": model, "ref": ref}, reference="ref")
    assert alone.rows[0]["mce"] == pytest.approx(row["mce"])  # the reference needs no result
    with pytest.raises(ValueError, match="reference 'nosuch' is not a model of accuracies"):
        robustness_report(results, {"model": model, "ref": ref}, reference="nosuch")


def test_the_mce_against_alexnets_published_errors_by_hand():
    from captum_iaside.robustness.imagenet_c import IMAGENET_C
    from captum_iaside.robustness.report import corruption_errors

    # fog at 0.6 at every severity (error 0.4) against AlexNet's published 0.819324 and clean error 0.435
    fog = {"clean": 0.76, **{f"fog@{s}": 0.6 for s in range(1, 6)}}
    errors = corruption_errors(fog, "alexnet")
    assert errors["fog"]["ce"] == pytest.approx(0.4 / 0.819324)
    assert errors["fog"]["relative_ce"] == pytest.approx((0.4 - 0.24) / (0.819324 - 0.435))
    # every corruption at 1 − (its index + 1) / 20: the mCE is the mean of error / AlexNet's error, by hand
    alexnet = [0.886428, 0.894468, 0.922640, 0.819880, 0.826268, 0.785948, 0.798360, 0.866816, 0.826572, 0.819324,
               0.564592, 0.853204, 0.646056, 0.717840, 0.606500]  # fmt: skip
    acc = {"clean": 0.8, "lowpass@1": 0.7}
    for i, name in enumerate(IMAGENET_C):
        acc.update({f"{name}@{s}": 1 - (i + 1) / 20 for s in range(1, 6)})
    report = robustness_report({"model": fake_result("model", 0.3)}, {"model": acc}, reference="alexnet")
    row = report.rows[0]
    assert row["mce_corruptions"] == list(IMAGENET_C)
    assert row["mce"] == pytest.approx(sum((i + 1) / 20 / e for i, e in enumerate(alexnet)) / 15)
    by_hand = sum(((i + 1) / 20 - 0.2) / (e - 0.435) for i, e in enumerate(alexnet)) / 15
    assert row["relative_mce"] == pytest.approx(by_hand)
    assert "AlexNet's published errors" in report.table()
    assert math.isnan(row["corruption_errors"]["lowpass"]["ce"])  # no published error: not in the mCE


@pytest.mark.parametrize(
    "accuracies,reference,match",
    [
        ({"model": {"clean": 0.9, "fog@1": 0.5, "fog@3": 0.4}}, "alexnet", r"fog was measured at \[1, 3\]"),
        ({"model": {"clean": 0.9}, "alexnet": {"clean": 0.5}}, "alexnet", "a model of accuracies has that name"),
    ],
)
def test_alexnets_published_errors_refuse_what_would_not_compare(accuracies, reference, match):
    with pytest.raises(ValueError, match=match):
        robustness_report({"model": fake_result("model", 0.3)}, accuracies, reference=reference)


def test_a_reference_named_by_a_string_must_be_alexnets():
    from captum_iaside.robustness.report import corruption_errors

    with pytest.raises(ValueError, match="a model's accuracies or 'alexnet'"):
        corruption_errors({"clean": 0.9, "fog@1": 0.5}, "resnet")


def test_robust_accuracy_reads_the_scores_of_model_outputs():
    model = tiny_cnn()
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    y = model(x).argmax(1)
    plain = robust_accuracy(model, [(x, y)], corruptions=["fog"], severities=(2,), epsilons=(0.05,))
    wrapped = robust_accuracy(
        lambda t: {"logits": model(t)}, [(x, y)], corruptions=["fog"], severities=(2,), epsilons=(0.05,)
    )
    assert wrapped == pytest.approx(plain)
    with pytest.raises(ValueError, match="corruptions: unknown \\['jpeg'\\]"):
        robust_accuracy(model, [(x, y)], corruptions=["jpeg"])


def test_several_models_are_scored_on_the_same_corrupted_images(monkeypatch):
    import captum_iaside.robustness.accuracy as accuracy

    calls = []
    real = accuracy.corrupt

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(accuracy, "corrupt", counting)
    models = {"a": tiny_cnn(seed=0), "b": tiny_cnn(seed=1)}
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    y = models["a"](x).argmax(1)
    both = robust_accuracy(models, [(x[:4], y[:4]), (x[4:], y[4:])], corruptions=["fog", "contrast"], severities=(1, 4))
    assert len(calls) == 2 * 2 * 2  # corruptions x severities x batches, not x models
    calls.clear()
    alone = robust_accuracy(
        models["b"], [(x[:4], y[:4]), (x[4:], y[4:])], corruptions=["fog", "contrast"], severities=(1, 4)
    )
    assert both["b"] == pytest.approx(alone) and set(both) == {"a", "b"}


def test_a_reused_batch_buffer_is_corrupted_anew_and_batches_get_their_own_noise():
    model = tiny_cnn()
    g = torch.Generator().manual_seed(7)
    first, second = torch.rand(4, 3, 32, 32, generator=g), torch.rand(4, 3, 32, 32, generator=g)
    buffer = first.clone()

    def refilled():  # one buffer, refilled in place, as some loaders do
        for images in (first, second):
            buffer.copy_(images)
            yield buffer, model(images).argmax(1)

    models = {"a": model, "b": tiny_cnn(seed=1)}
    shared = robust_accuracy(models, refilled(), corruptions=["gaussian_noise"], severities=(5,))
    apart = robust_accuracy(
        models,
        [(first.clone(), model(first).argmax(1)), (second.clone(), model(second).argmax(1))],
        corruptions=["gaussian_noise"],
        severities=(5,),
    )
    assert shared == apart
    from captum_iaside.robustness.accuracy import _BatchCorruptions

    cache = _BatchCorruptions(n_models=1)
    cache.next_batch()
    a = cache(first, "gaussian_noise", 3, 0)
    cache.next_batch()
    b = cache(first, "gaussian_noise", 3, 0)
    assert not torch.equal(a, b) and not cache.done  # a fresh draw per batch, nothing held for one model


def test_dict_batches_and_a_report_that_names_its_reference():
    model = tiny_cnn()
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(8))
    y = model(x).argmax(1)
    acc = robust_accuracy(model, [{"pixel_values": x, "label": y}], corruptions=["fog"], severities=(1,))
    assert acc["clean"] == 1.0
    res = fake_result("m", 0.5)
    report = robustness_report({"m": res}, {"m": acc, "ref": {"clean": 1.0, "fog@1": 0.5}}, reference="ref")
    assert report.to_dict()["reference"] == "ref" and report.rows[0]["mce_corruptions"] == ["fog"]
    with pytest.raises(ValueError, match="labelled batches"):
        robust_accuracy(model, [x], corruptions=["fog"], severities=(1,))
    with pytest.raises(ValueError, match="batch 0 holds 4 images and 1 labels"):
        robust_accuracy(model, [(x, y[:1])], corruptions=["fog"], severities=(1,))
    with pytest.raises(ValueError, match="seed must be at least 0"):
        robust_accuracy(model, [(x, y)], corruptions=["fog"], severities=(1,), seed=-3)


def test_the_energy_share_of_a_perturbation_by_hand():
    from reference import band_index

    from captum_iaside.robustness.snr import perturbation_energy_share

    g = torch.Generator().manual_seed(3)
    x, delta = torch.rand(4, 3, 16, 16, generator=g), torch.randn(4, 3, 16, 16, generator=g, dtype=torch.float64)
    share = perturbation_energy_share(x.double(), x.double() + delta, bands=4)
    power = torch.fft.fft2(delta).abs().pow(2).sum(dim=(0, 1))  # Parseval: the energy of each bin
    index = band_index(16, 16, 4, "square")
    by_hand = torch.stack([power[index == i].sum() for i in range(4)]) / power.sum()
    assert torch.allclose(share, by_hand, atol=1e-12) and share.sum().item() == pytest.approx(1.0)
    only_band_2 = SpectralBands(4).decompose(delta)[:, 2]  # a perturbation confined to band 2
    assert torch.allclose(
        perturbation_energy_share(x.double(), x.double() + only_band_2, 4), torch.tensor([0, 0, 1, 0.0]).double(),
        atol=1e-12,
    )  # fmt: skip
    with pytest.raises(ValueError, match="perturbed equals clean"):
        perturbation_energy_share(x, x.clone())


def test_every_measure_is_correlated_with_its_interval_over_the_models_and_their_count():
    names = ["a", "b", "c", "d", "e"]
    results = {n: fake_result(n, p) for n, p in zip(names, [0.2, 0.4, 0.6, 0.8, 0.9], strict=True)}
    accuracies = {
        n: {"clean": 0.9 - i / 100, "fog@1": 0.5 + i / 10, "ood:sketch": 0.3 + i / 20, "ood:r": 0.1}
        for i, n in enumerate(names)
    }
    report = robustness_report(results, accuracies, confidence=0.9)
    assert report.measures() == ["clean accuracy", "corruption accuracy", "OOD sketch accuracy", "OOD r accuracy"]
    rising = report.correlations["OOD sketch accuracy"]
    assert rising["spearman"] == pytest.approx(1.0) and rising["models"] == 5 and rising["confidence"] == 0.9
    assert rising["spearman_ci"] == pytest.approx([1.0, 1.0])  # every resample of a monotone relation is monotone
    assert report.correlations["clean accuracy"]["spearman"] == pytest.approx(-1.0)
    flat = report.correlations["OOD r accuracy"]  # no spread: no ρ, and the table says why
    assert math.isnan(flat["spearman"]) and flat["spearman_ci"] is None
    assert "SRS vs OOD r accuracy: ρ undefined: the 5 models do not differ in it (or in their SRS)" in report.table()
    assert "sketch" in report.table().splitlines()[0]
    # a noisy relation: an interval within [-1, 1]
    g = torch.Generator().manual_seed(0)
    noisy = {n: {"clean": float(torch.rand(1, generator=g))} for n in names}
    c = robustness_report(results, noisy).correlations["clean accuracy"]
    assert -1 <= c["spearman_ci"][0] <= c["spearman_ci"][1] <= 1 and -1 <= c["spearman"] <= 1
    from captum_iaside.visualization.robustness import plot_robustness_measures

    fig, axes = plot_robustness_measures(report)
    assert len(axes) == 4 and "5 models" in axes[2].get_title() and "ρ undefined" in axes[3].get_title()


def test_imagenet_c_bar_corruptions_count_as_corruptions_and_attacks_do_not():
    results = {n: fake_result(n, p) for n, p in (("a", 0.3), ("b", 0.6))}
    acc = {"clean": 0.9, "blue_noise_sample@3": 0.5, "fog@2": 0.7, "PGD@0.01": 0.1, "ood:r": 0.2}
    row = robustness_report(results, {"a": acc, "b": acc}).rows[0]
    assert row["corruption_accuracy"] == pytest.approx(0.6) and row["adversarial_accuracy"] == pytest.approx(0.1)
    assert row["measures"]["OOD r accuracy"] == 0.2
    with pytest.raises(ValueError, match="no 'clean' accuracy"):
        robustness_report(results, {"a": {"fog@1": 0.5}, "b": acc})
