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

    def v_empty(self) -> Tensor:
        r"""``v(∅)`` per image ``(B,)``: the baseline's value."""
        ...

    def v_full(self) -> Tensor:
        r"""``v(N)`` per image ``(B,)``: the unperturbed image's value."""
        ...

    def values(self, coalitions: Tensor | list[Tensor]) -> Tensor | list[Tensor]:
        r"""Values of shared ``(n, M)`` or per-image ``(B, n, M)`` 0/1 coalitions, ``(B, n)``; or of a list of
        ``B`` tensors ``(n_i, M)``, a list of ``(n_i,)``."""
        ...

    def check_ends(self) -> None:
        r"""Raise :class:`~captum_iaside.errors.NonFiniteValueError` if ``v(∅)`` or ``v(N)`` is not finite."""
        ...
