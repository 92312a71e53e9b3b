r"""What an estimator may ask of a game: the contract between the game and the estimators."""

from __future__ import annotations

from typing import Protocol

from torch import Tensor


class Game(Protocol):
    r"""What an estimator needs of a game (:class:`~captum_iaside.game.spectral_game.SpectralGame` is one)."""

    n_images: int
    n_bands: int
    target: Tensor | None
    evaluations: int

    def v_empty(self) -> Tensor: ...

    def v_full(self) -> Tensor: ...

    def values(self, coalitions: Tensor) -> Tensor: ...
