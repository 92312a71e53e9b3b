r"""How a global run spends its evaluations: the design chosen for a budget and a data set.

With ``F`` model evaluations and ``b`` of them per image, the squared error of ψ̂ is about
``(σ²_between + σ²_within(b)) · b / F`` per band, where ``σ²_between = Var_x φ_i(x)`` and
``σ²_within(b)`` is the estimator's noise on one image (0 for exact enumeration, ``b = 2^M``). On
real models the between-image variance dominates the strong bands, so when images are plentiful
the cheapest per-image estimate on as many images as the budget reaches beats exact values on few
images: one stratified permutation per image, ``b = M + 1``. When the budget covers every image
with more than that, it is spread over all of them; when it covers ``2^M`` per image, exact values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from captum_iaside.estimators.base import ShapleyEstimator
from captum_iaside.estimators.exact import MAX_EXACT_BANDS, ExactShapley
from captum_iaside.estimators.selection import as_estimator, resolve_estimator, stratified_permutation_estimator


@dataclass(frozen=True)
class GlobalDesign:
    r"""
    The plan of a global run.

    Attributes:
        estimator (ShapleyEstimator): The per-image estimator.
        budget (int, optional): Evaluations per image (None: exact enumeration, ``2^M``).
        n_images (int, optional): Images the evaluation budget reaches (None: all the data
                    yields).
        automatic (bool): Whether the design was chosen automatically (``estimator=None``).
        second_pass (bool): Whether the data may be passed over a second time with fresh draws
                    when they run out before the evaluation budget does (the number of images
                    was not known in advance).
        spread (bool): Whether the budget is spread over a known number of images, each batch
                    getting what is left per image still to come (else evaluations a batch saves
                    buy more images).
    """

    estimator: ShapleyEstimator
    budget: int | None
    n_images: int | None = None
    automatic: bool = False
    second_pass: bool = False
    spread: bool = False

    def evaluations_per_image(self, n_bands: int) -> int:
        r"""The most evaluations one image can cost."""
        return 2**n_bands if self.budget is None else self.budget

    def batch_budget(self, planned: int | None, images_done: int, spent: int, share: int | None) -> int | None:
        r"""
        Evaluations per image for the next batch, ``images_done`` of ``planned`` images evaluated with ``spent`` of
        the rank's ``share`` of ``max_evaluations``. A design that spreads its budget over all images gives each
        batch what is left per image still to come, so what one batch saves (a shared baseline image, the remainder
        of whole permutations) goes to the next ones.
        """
        if not self.spread or share is None:
            return self.budget
        remaining = (planned or 0) - images_done
        if remaining <= 0:
            return self.budget
        return max(self.budget, (share - spent) // remaining)

    def config(self) -> dict[str, Any]:
        r"""JSON-serialisable description (goes into the result's ``config["design"]``)."""
        return {
            "estimator": self.estimator.config(),
            "budget_per_image": self.budget,
            "images_planned": self.n_images,
            "automatic": self.automatic,
            "second_pass": self.second_pass,
            "spread": self.spread,
        }


def _check_max_evaluations(max_evaluations: int | None, n_bands: int) -> int | None:
    r"""
    Refuse a ``max_evaluations`` (an int, checked by :class:`~captum_iaside.global_run.options.RunOptions`)
    below ``M + 1``, one image's cheapest estimate.
    """
    if max_evaluations is None:
        return None
    if max_evaluations < n_bands + 1:
        raise ValueError(
            f"max_evaluations={max_evaluations} is smaller than one image's cheapest estimate, "
            f"M + 1 = {n_bands + 1} evaluations (one permutation of the {n_bands} bands)"
        )
    return max_evaluations


def plan_global(
    estimator: str | ShapleyEstimator | None,
    budget: int | None,
    max_evaluations: int | None,
    n_bands: int,
    n_images: int | None,
) -> GlobalDesign:
    r"""
    Choose the design of a global run.

    - An explicit ``estimator`` (or a per-image ``budget``) is used as given; a sampling
      estimator without a budget gets ``max_evaluations // n_images`` per image (at least its
      minimum).
    - ``estimator=None`` without ``max_evaluations``: exact values on every image (``M`` ≤ 12); with
      more players, one stratified permutation per image (``M + 1`` evaluations) on every image.
    - ``estimator=None`` with ``max_evaluations = F`` and ``K`` images: exact on every image if
      ``F ≥ K · 2^M``; else ``b = F // K`` evaluations per image with stratified permutations if
      ``b ≥ M + 1``; else one stratified permutation per image (``b = M + 1``) on the first
      ``F // (M + 1)`` images. With ``K`` unknown: one permutation per image, and if the data end
      before the budget does, a second pass spreads the rest over the images seen.

    Args:
        estimator (str, ShapleyEstimator or None): As in
                    :meth:`IASIDE.attribute_global <captum_iaside.IASIDE.attribute_global>`.
        budget (int, optional): Evaluations per image.
        max_evaluations (int, optional): Evaluations for the whole run (this process's share
                    under ``torch.distributed``).
        n_bands (int): ``M``.
        n_images (int, optional): Images the data will yield (None if unknown).

    Returns:
        :class:`GlobalDesign`.
    """
    m = n_bands
    f = _check_max_evaluations(max_evaluations, m)
    explicit = as_estimator(estimator)
    if explicit is not None or budget is not None or f is None:
        if f is not None and budget is None and explicit is not None and explicit.samples:
            least = explicit.minimum_budget(m)
            budget = max(least, f // n_images) if n_images else least
        if explicit is None and budget is None and m > MAX_EXACT_BANDS:  # many players: permutations on every image
            return GlobalDesign(stratified_permutation_estimator(), m + 1, n_images=n_images, automatic=True)
        est, b = resolve_estimator(explicit, budget, m)
        return GlobalDesign(est, b, n_images=_reach(f, b, m, n_images))
    if n_images is None:
        return GlobalDesign(stratified_permutation_estimator(), m + 1, n_images=None, automatic=True, second_pass=True)
    covering = _covering(f // max(n_images, 1), m, n_images)
    if covering is not None:
        return covering
    return GlobalDesign(stratified_permutation_estimator(), m + 1, n_images=f // (m + 1), automatic=True)


def second_pass_design(remaining: int, n_images: int, n_bands: int) -> GlobalDesign | None:
    r"""
    The design of a second pass over ``n_images`` images with ``remaining`` evaluations, or
    None when they do not buy another permutation for every image.
    """
    return _covering(remaining // max(n_images, 1), n_bands, n_images)


def _covering(per_image: int, m: int, n_images: int) -> GlobalDesign | None:
    r"""
    A design that reaches all ``n_images`` images with ``per_image`` evaluations each: exact values when
    ``2^M`` fit, else stratified permutations spread over them; None below one permutation per image.
    """
    if m <= MAX_EXACT_BANDS and per_image >= 2**m:
        return GlobalDesign(ExactShapley(), None, n_images=n_images, automatic=True)
    if per_image >= m + 1:
        return GlobalDesign(
            stratified_permutation_estimator(), per_image, n_images=n_images, automatic=True, spread=True
        )
    return None


def _reach(f: int | None, budget: int | None, m: int, n_images: int | None) -> int | None:
    if f is None:
        return n_images
    cost = 2**m if budget is None else budget
    reach = f // cost
    return reach if n_images is None else min(reach, n_images)
