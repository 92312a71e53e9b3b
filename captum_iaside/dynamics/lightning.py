r"""A PyTorch Lightning callback that measures the module with a :class:`SpectralMonitor` after every training
epoch (``pip install "captum-iaside[lightning]"``; ``lightning`` or the older ``pytorch_lightning``)."""

from __future__ import annotations

from typing import Any

from captum_iaside._utils.checks import check_positive_int
from captum_iaside.dynamics.monitor import SpectralMonitor

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the package's older name
    try:
        from pytorch_lightning.callbacks import Callback
    except ImportError as exc:
        raise ImportError(
            'SpectralMonitorCallback needs PyTorch Lightning: pip install "captum-iaside[lightning]"'
        ) from exc


class SpectralMonitorCallback(Callback):
    r"""
    Measure the LightningModule with ``monitor`` at the end of every ``every_n_epochs``-th training epoch and of the
    last one (the step is the epoch), on the first process only (the probe is small and the others would repeat
    it), and log its ψ, SID and SRS through the module's logger (``self.log``; nothing where the trainer has no
    logger). An epoch the monitor has measured already (a run resumed with the monitor's ``path=``) is skipped.
    The module runs whole on the first process, so a model sharded across processes (FSDP, DeepSpeed stage 3)
    is measured from its checkpoints instead
    (:meth:`~captum_iaside.dynamics.SpectralMonitor.measure_checkpoints`).

    Args:
        monitor (SpectralMonitor): The monitor, built once from the probe set and the I-ASIDE settings.
        every_n_epochs (int, optional): Measure every this many epochs (and after the last).
                    Default: 1

    Examples::

        >>> callback = SpectralMonitorCallback(SpectralMonitor(x_probe, y_probe))
        >>> trainer = lightning.pytorch.Trainer(max_epochs=10, callbacks=[callback])
        >>> trainer.fit(module, loader)
        >>> callback.monitor.difference(9, 0).values
    """

    def __init__(self, monitor: SpectralMonitor, every_n_epochs: int = 1) -> None:
        if not isinstance(monitor, SpectralMonitor):
            raise TypeError(f"monitor must be a SpectralMonitor, got {type(monitor).__name__}")
        self.monitor = monitor
        self.every_n_epochs = check_positive_int(every_n_epochs, "every_n_epochs")

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        epoch = trainer.current_epoch
        last = trainer.max_epochs is not None and 0 < trainer.max_epochs <= epoch + 1  # -1: no last epoch
        due = (epoch + 1) % self.every_n_epochs == 0 or last
        if not trainer.is_global_zero or not due or epoch in self.monitor.results:
            return
        self.monitor(pl_module, step=epoch)
        if trainer.logger is not None:
            self.monitor.log(_ModuleWriter(pl_module))


class _ModuleWriter:
    r"""TensorBoard's ``add_scalar`` as a LightningModule's ``log`` (the step is the trainer's)."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.module.log(tag, value, rank_zero_only=True)
