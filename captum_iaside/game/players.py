r"""The players by argument or by configuration: every built-in partition of the Fourier plane."""

from __future__ import annotations

from typing import Any

import torch

from captum_iaside.game.bands import SpectralBands
from captum_iaside.game.custom import CustomPartition
from captum_iaside.game.grid import FourierGrid
from captum_iaside.game.orientations import OrientedBands
from captum_iaside.game.partition import FourierPartition


def as_bands(bands: int | FourierPartition) -> FourierPartition:
    r"""An int ``M`` as ``SpectralBands(M)``; a :class:`FourierPartition` as it is."""
    if isinstance(bands, FourierPartition):
        return bands
    if isinstance(bands, int) and not isinstance(bands, bool):
        return SpectralBands(bands)
    raise TypeError(
        "bands must be an int, a SpectralBands, an OrientedBands, a FourierGrid or a CustomPartition, "
        f"got {type(bands).__name__}"
    )


def partition_from_config(config: dict[str, Any] | None, n_bands: int) -> FourierPartition:
    r"""
    The partition a result's ``config["bands"]`` describes (a configuration without a ``"kind"``,
    written before there were other partitions, is radial bands).

    Args:
        config (dict, optional): What :meth:`FourierPartition.config` returned.
        n_bands (int): The number of players of the result, used where the configuration is missing.

    Returns:
        :class:`FourierPartition`.
    """
    cfg = dict(config or {})
    kind = cfg.get("kind", "radial")
    if kind == "oriented":
        return OrientedBands(
            cfg["n_rings"], cfg["orientations"], shape=cfg.get("shape", "square"), edges=cfg.get("edges")
        )
    if kind == "grid":
        return FourierGrid(cfg["grid"])
    if kind == "custom":
        return CustomPartition(torch.tensor(cfg["ids"], dtype=torch.int64), labels=cfg.get("labels"))
    return SpectralBands(n_bands=cfg.get("n_bands", n_bands), shape=cfg.get("shape", "square"), edges=cfg.get("edges"))
