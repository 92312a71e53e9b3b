r"""What an estimator may ask of a game: the contract between the game and the estimators, and the check of
``v(∅)`` and ``v(N)`` every game makes for it."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from captum_iaside.errors import NonFiniteValueError


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


def check_finite_ends(v_empty: Tensor, v_full: Tensor, n_bands: int, subject: str, advice: str = "") -> None:
    r"""
    Raise :class:`~captum_iaside.errors.NonFiniteValueError` for the first image whose ``v(∅)`` or ``v(N)``
    is not finite, naming the image and the coalition: what every game's ``check_ends`` does.
    """
    for members, what, v in (
        ([], "empty coalition: the baseline", v_empty),
        (list(range(n_bands)), "grand coalition: the image", v_full),
    ):
        bad = ~torch.isfinite(v)
        if bool(bad.any()):
            image = int(bad.nonzero()[0])
            raise NonFiniteValueError(
                f"{subject} is not finite for image {image} of the batch on the coalition of bands {members} "
                f"(the {what}){advice}",
                image,
                members,
            )
