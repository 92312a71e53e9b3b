import pytest
import torch
from conftest import tiny_cnn

from captum_iaside import IASIDE, SpectralBands
from captum_iaside.execution.workspace import Workspace, preferred_memory_format
from captum_iaside.game.coalitions import coalition_matrix
from captum_iaside.game.spectral_game import SpectralGame
from captum_iaside.game.value_functions import ValueFunction


def game(images, model=None, **kwargs):
    model = model or tiny_cnn()
    return SpectralGame(
        model,
        SpectralBands(4),
        images,
        torch.zeros(1, 3, 16, 16),
        ValueFunction("log_prob"),
        torch.tensor([0, 1, 2]),
        **kwargs,
    )


def test_channels_last_models_get_channels_last_images_with_the_same_values(images):
    seen = []
    model = tiny_cnn().to(memory_format=torch.channels_last)
    model.register_forward_pre_hook(lambda m, i: seen.append(i[0].is_contiguous(memory_format=torch.channels_last)))
    assert preferred_memory_format(model, images) == torch.channels_last
    g = game(images, model=model, workspace=Workspace(5))
    values = g.values(coalition_matrix(4))
    assert all(seen) and len(seen) > 2
    plain = game(images, workspace=Workspace(5)).values(coalition_matrix(4))
    assert torch.allclose(values, plain, atol=1e-5)


def test_the_coalition_buffer_is_reused_between_chunks_and_batches(images):
    pointers = []
    model = tiny_cnn()
    model.register_forward_pre_hook(lambda m, i: pointers.append(i[0].untyped_storage().data_ptr()))
    workspace = Workspace(4)
    for _ in range(2):
        game(images, model=model, workspace=workspace).values(coalition_matrix(4)[1:-1])
    assert len(pointers) == 8 and len(set(pointers)) == 1


def test_models_run_in_inference_mode_and_results_are_ordinary_tensors(images):
    modes = []
    model = tiny_cnn()
    model.register_forward_pre_hook(lambda m, i: modes.append(torch.is_inference_mode_enabled()))
    phi = IASIDE(model, bands=4).attribute(images, target=0, perturbations_per_eval=16)
    assert modes and all(modes)
    phi += 1  # an inference tensor would refuse this outside inference mode
    assert not phi.is_inference()


def test_finiteness_is_checked_once_per_call_not_per_chunk(images, monkeypatch):
    g = game(images, workspace=Workspace(1))  # 14 forwards for 14 coalitions
    calls = []
    original = torch.Tensor.__bool__
    monkeypatch.setattr(torch.Tensor, "__bool__", lambda t: calls.append(1) or original(t))
    g.values(coalition_matrix(4)[1:-1])
    assert len(calls) <= 2  # a host synchronisation per call, whatever the number of chunks


def test_ragged_coalitions_give_the_values_of_the_rectangular_call(images):
    rows = coalition_matrix(4)[1:-1]
    full = game(images, workspace=Workspace(3)).values(rows)
    ragged = game(images, workspace=Workspace(3)).values([rows[:5], rows, rows[3:4]])
    assert torch.allclose(ragged[0], full[0, :5]) and torch.allclose(ragged[1], full[1])
    assert torch.allclose(ragged[2], full[2, 3:4])


def test_a_shared_baseline_image_is_evaluated_once(images):
    sizes = []
    model = tiny_cnn()
    model.register_forward_pre_hook(lambda m, i: sizes.append(i[0].shape[0]))
    g = game(images, model=model)
    g.v_empty()
    assert sizes == [1] and g.evaluations == 1


def test_auto_forward_size_measures_and_keeps_one(images):
    workspace = Workspace("auto")
    g = game(images.repeat(4, 1, 1, 1)[:12], workspace=workspace)
    g.target = torch.zeros(12, dtype=torch.int64)
    g.values(coalition_matrix(4)[1:-1].repeat(8, 1))
    choice = workspace.report().choice
    timed = {t.perturbations_per_eval for t in choice.timings}
    assert workspace.perturbations_per_eval in timed and choice.contests >= 1 and min(timed) == 1
    with pytest.raises(TypeError, match="perturbations_per_eval must be an int or 'auto'"):
        Workspace("fast")


def test_bfloat16_autocast_moves_phi_little(images):
    # mixed precision on a CPU: how far the Shapley values move from float32 (stated in the performance guide)
    ia = IASIDE(tiny_cnn(), bands=4)
    exact = ia.attribute(images, target=1, perturbations_per_eval=16)
    mixed = ia.attribute(images, target=1, perturbations_per_eval=16, autocast_dtype=torch.bfloat16)
    scale = exact.abs().max()
    assert (mixed - exact).abs().max() / scale < 0.05
