"""The spectrum of an adversarial perturbation: against Captum's attack run here and the bands' Fourier energies."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from captum.robust import FGSM, PGD  # noqa: E402
from conftest import tiny_cnn  # noqa: E402

from captum_iaside import SpectralBands, SpectralImportance  # noqa: E402
from captum_iaside.robustness.adversarial import adversarial_spectrum  # noqa: E402
from captum_iaside.visualization.adversarial import plot_adversarial_spectra  # noqa: E402


def energies(z, bands):
    masks = bands.masks(z.shape[-2], z.shape[-1], dtype=torch.float64)
    return (torch.fft.fft2(z.double()).abs().pow(2)[:, :, None] * masks).sum(dim=(0, 1, 3, 4))


def data():
    model = tiny_cnn()
    g = torch.Generator().manual_seed(5)
    x = torch.rand(6, 3, 16, 16, generator=g)
    return model, x, model(x).argmax(1)


def test_the_spectrum_of_pgd_equals_the_fourier_energies_of_captums_own_perturbation():
    model, x, y = data()
    bands = SpectralBands(4)
    spectrum = adversarial_spectrum(model, [(x[:4], y[:4]), (x[4:], y[4:])], bands, epsilon=0.03, pgd_steps=3)
    x_adv = torch.cat(
        [
            PGD(model, lower_bound=0.0, upper_bound=1.0).perturb(b, radius=0.03, step_size=0.0075, step_num=3, target=t)
            for b, t in ((x[:4], y[:4]), (x[4:], y[4:]))
        ]
    )
    noise, signal = energies(x_adv - x, bands), energies(x, bands)
    assert spectrum.images == 6 and spectrum.attack == "PGD" and spectrum.epsilon == 0.03
    assert torch.allclose(spectrum.energy_share, noise / noise.sum(), atol=1e-9)
    assert torch.allclose(spectrum.snr_db, 10 * torch.log10(signal / noise), atol=1e-6)
    assert spectrum.to_dict()["energy_share"] == pytest.approx(spectrum.energy_share.tolist())


def test_fgsm_and_a_cap_on_the_images():
    model, x, y = data()
    spectrum = adversarial_spectrum(model, [(x, y)], 4, epsilon=0.05, attack="FGSM", n_samples=3)
    noise = energies(
        FGSM(model, lower_bound=0.0, upper_bound=1.0).perturb(x[:3], 0.05, y[:3]) - x[:3], SpectralBands(4)
    )
    assert spectrum.images == 3 and torch.allclose(spectrum.energy_share, noise / noise.sum(), atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"attack": "CW"}, "attack must be one of"),
        ({"epsilon": 0.0}, "epsilon must be positive"),
        ({"pgd_steps": 0}, "pgd_steps"),
        ({"n_samples": 0}, "n_samples"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    model, x, y = data()
    with pytest.raises(ValueError, match=message):
        adversarial_spectrum(model, [(x, y)], 4, **kwargs)


def test_unlabelled_data_are_refused():
    model, x, _ = data()
    with pytest.raises(ValueError, match="labelled batches"):
        adversarial_spectrum(model, [x], 4)


def test_the_picture_puts_the_sid_beside_the_energy_share():
    model, x, y = data()
    spectrum = adversarial_spectrum(model, [(x, y)], 4, epsilon=0.03, pgd_steps=2)
    result = SpectralImportance(torch.tensor([0.4, 0.3, 0.2, 0.1]), torch.full((4,), 0.01), 6, 0.0, -1.0)
    fig, axes = plot_adversarial_spectra({"tiny": result}, {"tiny": spectrum})
    heights = [patch.get_height() for patch in axes[0].patches]
    assert heights[:4] == pytest.approx(result.sid.tolist()) and heights[4:] == pytest.approx(
        spectrum.energy_share.tolist()
    )
    with pytest.raises(ValueError, match="without a result"):
        plot_adversarial_spectra({}, {"tiny": spectrum})
