"""SpectralMonitorCallback in a real Lightning Trainer: a step per epoch, measured on the module as it was then, and
the scalars logged through the module."""

import pytest
import torch
from conftest import tiny_cnn
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from captum_iaside import SpectralMonitor

pl = pytest.importorskip("lightning.pytorch")
from captum_iaside.dynamics.lightning import SpectralMonitorCallback  # noqa: E402

LABELS = torch.tensor([0, 1, 2, 0, 1, 2])


class Module(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = tiny_cnn(n_classes=3)
        self.states = {}  # the weights at the end of each epoch, to measure directly

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def on_train_epoch_end(self):
        self.states[self.current_epoch] = {k: v.clone() for k, v in self.net.state_dict().items()}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


class Logger(pl.loggers.Logger):
    def __init__(self):
        super().__init__()
        self.metrics = []

    name, version = "memory", 0

    def log_metrics(self, metrics, step=None):
        self.metrics.append(metrics)

    def log_hyperparams(self, *args, **kwargs):
        pass


def trainer(callback, logger, epochs):
    return pl.Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        log_every_n_steps=1,
    )


@pytest.fixture
def data():
    x = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    return x, DataLoader(TensorDataset(x, LABELS), batch_size=3)


def test_each_epoch_is_a_step_measured_on_the_module_as_it_was(data):
    x, loader = data
    callback = SpectralMonitorCallback(SpectralMonitor(x, LABELS, bands=3, n_bootstrap=0))
    module, logger = Module(), Logger()
    trainer(callback, logger, 3).fit(module, loader)
    assert callback.monitor.steps == [0, 1, 2]
    direct = SpectralMonitor(x, LABELS, bands=3, n_bootstrap=0)
    for epoch in (0, 2):
        net = tiny_cnn(n_classes=3)
        net.load_state_dict(module.states[epoch])
        assert torch.allclose(direct(net, epoch).values, callback.monitor.results[epoch].values, atol=1e-6)
    logged = {k for m in logger.metrics for k in m}
    assert "iaside/srs" in logged and any(k.startswith("iaside/psi/") for k in logged)


def test_every_n_epochs_and_the_last(data):
    x, loader = data
    callback = SpectralMonitorCallback(SpectralMonitor(x, LABELS, bands=3, n_bootstrap=0), every_n_epochs=2)
    trainer(callback, False, 3).fit(Module(), loader)
    assert callback.monitor.steps == [1, 2]


def test_bad_arguments():
    with pytest.raises(TypeError, match="monitor"):
        SpectralMonitorCallback("monitor")
    x = torch.randn(6, 3, 16, 16)
    with pytest.raises(ValueError, match="every_n_epochs"):
        SpectralMonitorCallback(SpectralMonitor(x, LABELS, bands=3), every_n_epochs=0)
