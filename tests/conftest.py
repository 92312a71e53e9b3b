import pytest
import torch
from torch import nn

torch.set_num_threads(2)


def tiny_cnn(n_classes: int = 5, channels: int = 3, seed: int = 0, dtype=torch.float32) -> nn.Module:
    """A small random CNN in eval mode (deterministic weights per seed)."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(channels, 6, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(6, 6, 3, stride=2, padding=1),
        nn.Tanh(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(24, n_classes),
    )
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return model.to(dtype).eval()


@pytest.fixture
def model() -> nn.Module:
    return tiny_cnn()


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
