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
