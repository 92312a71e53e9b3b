import pytest
import torch

from captum_iaside.game.value_functions import ValueFunction, check_target_range, resolve_target


def test_named_values():
    out = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    y = torch.tensor([1, 0])
    assert torch.allclose(ValueFunction("log_prob")(out, y), torch.log_softmax(out, 1)[[0, 1], [1, 0]])
    assert torch.allclose(ValueFunction("prob")(out, y), torch.softmax(out, 1)[[0, 1], [1, 0]])
    assert torch.equal(ValueFunction("logit")(out, y), torch.tensor([2.0, 0.0]))
    assert torch.equal(ValueFunction("correct")(out, y), torch.tensor([1.0, 0.0]))


def test_log_prob_is_finite_for_extreme_logits():
    out = torch.tensor([[1000.0, -1000.0]])
    assert torch.isfinite(ValueFunction("log_prob")(out, torch.tensor([1]))).all()


def test_scalar_output():
    out = torch.tensor([0.3, 0.7])
    assert torch.equal(ValueFunction("logit")(out, None), out)
    with pytest.raises(ValueError, match="value='logit'"):
        ValueFunction("log_prob").check_output(out, 2)
    with pytest.raises(ValueError, match=r"\(N, K\) or \(N,\)"):
        ValueFunction("prob").check_output(torch.zeros(2, 3, 4), 2)
    with pytest.raises(ValueError, match="for 3 images"):
        ValueFunction("prob").check_output(torch.zeros(2, 3), 3)


def test_callable_value_and_its_checks():
    v = ValueFunction(lambda out, y: out[:, 0] - out[:, 1])
    assert torch.equal(v(torch.tensor([[3.0, 1.0]]), None), torch.tensor([2.0]))
    with pytest.raises(ValueError, match=r"must return shape \(1,\)"):
        ValueFunction(lambda out, y: out)(torch.tensor([[3.0, 1.0]]), None)
    with pytest.raises(ValueError, match="unknown value"):
        ValueFunction("accuracy")
    with pytest.raises(TypeError, match="value must be"):
        ValueFunction(3)


def test_targets():
    dev = torch.device("cpu")
    assert resolve_target(None, 3, dev) is None
    assert resolve_target(2, 3, dev).tolist() == [2, 2, 2]
    assert resolve_target([0, 1, 2], 3, dev).tolist() == [0, 1, 2]
    assert resolve_target(torch.tensor(1), 2, dev).tolist() == [1, 1]
    with pytest.raises(ValueError, match=r"one class index per image \(3,\)"):
        resolve_target([0, 1], 3, dev)
    with pytest.raises(TypeError, match="integer class indices"):
        resolve_target(torch.tensor([0.0, 1.0]), 2, dev)
    with pytest.raises(TypeError, match="got bool"):
        resolve_target(True, 2, dev)
    with pytest.raises(ValueError, match="target 5 is out of range for a model with 3 classes"):
        check_target_range(torch.tensor([0, 5]), torch.zeros(2, 3))


def test_class_scores_are_read_wherever_the_model_zoos_put_them(model):
    from dataclasses import dataclass

    from captum_iaside import IASIDE

    @dataclass
    class Output:  # as a Hugging Face ModelOutput: a dataclass with .logits
        logits: torch.Tensor

    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    expected = IASIDE(model, bands=4).attribute(x)
    for wrap in (lambda t: {"logits": t}, lambda t: Output(t), lambda t: (t, "hidden states")):
        ia = IASIDE(lambda images, wrap=wrap: wrap(model(images)), bands=4)
        assert torch.allclose(ia.attribute(x), expected, atol=1e-6)  # label-free
        assert torch.allclose(ia.attribute(x, target=2), IASIDE(model, bands=4).attribute(x, target=2), atol=1e-6)


def test_a_callable_value_receives_the_predicted_class_label_free(model):
    from captum_iaside import IASIDE

    seen = []

    def value(output, target):
        seen.append(target)
        return output.log_softmax(1).gather(1, target[:, None]).squeeze(1)

    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    phi = IASIDE(model, bands=4, value=value).attribute(x)
    assert all(t is not None for t in seen)
    assert torch.allclose(phi, IASIDE(model, bands=4).attribute(x), atol=1e-6)
