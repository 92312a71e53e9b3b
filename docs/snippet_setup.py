r"""Stand-ins for the placeholders of the documentation's Python snippets (``model = ...`` and the like).

``docs/check_snippets.py`` runs every snippet of a page in one namespace that starts with these names, so
a snippet reads as it would in a user's session: small, seeded, CPU-only stand-ins of the same kind.
"""

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from captum_iaside import IASIDE  # noqa: E402

torch.set_num_threads(2)


def classifier(seed: int, classes: int = 10) -> nn.Module:
    r"""A small random CNN on 32 × 32 RGB images, in eval mode."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128, classes)
    )
    return net.eval()


g = torch.Generator().manual_seed(0)
model = classifier(0)
images01 = torch.rand(12, 3, 32, 32, generator=g)  # images in [0, 1]
all_labels = torch.randint(0, 10, (12,), generator=g)
images, labels = images01[:4], all_labels[:4]
dataset = TensorDataset(images01, all_labels)
loader = DataLoader(dataset, batch_size=4)
loader01 = loader
m1, m2 = model, classifier(1)
standard, augmented = m1, m2
models = {"standard": m1, "augmented": m2}
results = {name: IASIDE(net, bands=4).attribute_global(loader, n_bootstrap=20) for name, net in models.items()}
res_a, res_b = results["standard"], results["augmented"]
x_probe, y_probe = images01[:8], torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])  # a probe set: every class twice
epochs = 2


def train_one_epoch(net: nn.Module) -> None:
    r"""One pass of SGD over ``loader``."""
    optimiser = torch.optim.SGD(net.parameters(), lr=0.05)
    net.train()
    for x, y in loader:
        optimiser.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimiser.step()
