r"""I-ASIDE as a Captum attribution method: exact spectral Shapley values, local and global."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch
from captum.attr import NoiseTunnel, PerturbationAttribution
from captum.log import log_usage
from torch import Tensor
from tqdm import tqdm

from captum_iaside._utils.checks import check_callable, check_dtype, check_images, check_seed
from captum_iaside.estimators.base import BandShapley, ShapleyEstimator
from captum_iaside.estimators.interactions import BandInteractions, check_index
from captum_iaside.estimators.selection import resolve_estimator, resolve_interaction_estimator
from captum_iaside.execution.forward_args import as_arg_tuple
from captum_iaside.execution.model_state import preserved_buffers, warn_if_training
from captum_iaside.execution.workspace import Workspace
from captum_iaside.game.baselines import BaselineSpec, ShuffleBaseline, reference_images, resolve_baseline
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import as_bands
from captum_iaside.game.spectral_game import SpectralGame
from captum_iaside.game.value_functions import TargetSpec, ValueFunction, ValueSpec, resolve_target
from captum_iaside.global_run.entry import run_global
from captum_iaside.global_run.options import RunOptions
from captum_iaside.results.importance import SpectralImportance


def _inside_noise_tunnel() -> bool:
    r"""Whether a :class:`captum.attr.NoiseTunnel` is among the callers (it batches noisy copies)."""
    frame = inspect.currentframe()
    while frame is not None:
        if isinstance(frame.f_locals.get("self"), NoiseTunnel):
            return True
        frame = frame.f_back
    return False


class IASIDE(PerturbationAttribution):
    r"""
    I-ASIDE: Image Axiomatic Spectral Importance Decomposition Explanation.

    The players of a cooperative game are ``M`` radial frequency bands of the image
    (:class:`SpectralBands`), or any other partition of its Fourier plane (rings × orientation
    sectors, :class:`~captum_iaside.OrientedBands`; a grid of cells, :class:`~captum_iaside.FourierGrid`).
    A coalition ``S`` keeps the bands in ``S`` and replaces the others
    by the same bands of a baseline image ``r``: ``x_S = r + Σ_{i∈S} (x_i − r_i)``. Its value is
    ``v_x(S) = log_softmax(f(x_S))[y]`` (or another value function), and the importance of band
    ``i`` is its exact Shapley value

        ``φ_i(x) = Σ_{S ⊆ N∖{i}} |S|! (M − |S| − 1)! / M! · (v_x(S ∪ {i}) − v_x(S))``,

    computed from all ``2^M`` coalitions, each evaluated once. The band components are computed
    once per batch with one FFT, so every coalition image is a 0/1 combination of them.
    Averaged over a data set (:meth:`attribute_global`), ``ψ = E_x[φ(x)]`` tells which
    frequency bands the model draws its predictive power from; the paper's spectral robustness
    score summarises how much of it comes from the low, perturbation-robust bands.

    The Shapley values satisfy efficiency, ``Σ_i φ_i(x) = v_x(N) − v_x(∅)``; that gap is the
    convergence delta returned with ``return_convergence_delta=True`` (zero up to rounding).

    Paper: Luo, McDermott, O'Riordan, "Interpreting Global Perturbation Robustness of Image Models
    using Axiomatic Spectral Importance Decomposition", TMLR 2024, https://arxiv.org/abs/2408.01139

    Args:
        forward_func (callable): The model, or any function of the images (and of
                    ``additional_forward_args``) returning class scores ``(B, K)`` — as a
                    tensor, as the ``logits`` of a Hugging Face ``ModelOutput``, a dataclass or
                    a dict, or as the first item of a tuple — or one number per image ``(B,)``.
        bands (int or FourierPartition, optional): The number of equal-width square bands ``M``,
                    or the players: :class:`SpectralBands`, :class:`~captum_iaside.OrientedBands`,
                    :class:`~captum_iaside.FourierGrid` or :class:`~captum_iaside.CustomPartition`.
                    Default: 8
        baseline (str, Tensor or callable, optional): What replaces a removed band:
                    ``"zero"``, ``"shuffle"`` (another image of the batch, seeded derangement),
                    ``"gaussian"`` (white noise, std 1 in input units; use
                    :class:`~captum_iaside.game.baselines.GaussianBaseline` for another std),
                    ``"mean"`` (per-channel mean of the batch), a tensor ``(1 | B, C, H, W)``,
                    a :class:`~captum_iaside.game.baselines.Baseline` or a callable ``x -> r``.
                    Default: ``"zero"``
        value (str or callable, optional): ``"log_prob"``, ``"prob"``, ``"logit"``,
                    ``"correct"`` or a callable ``(output, target) -> (B,)``.
                    Default: ``"log_prob"``

    Examples::

        >>> model = torchvision.models.resnet18(weights="DEFAULT").eval()
        >>> ia = IASIDE(model, bands=8)
        >>> phi = ia.attribute(images, target=labels, perturbations_per_eval=16)   # (B, 8)
        >>> res = ia.attribute_global(loader, n_samples=1000, show_progress=True)
        >>> res.sid, res.srs
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        bands: int | FourierPartition = 8,
        baseline: BaselineSpec = "zero",
        value: ValueSpec = "log_prob",
    ) -> None:
        check_callable(forward_func, "forward_func")
        super().__init__(forward_func)
        self.bands = as_bands(bands)
        self.baseline = resolve_baseline(baseline)
        self.value = ValueFunction(value)

    def has_convergence_delta(self) -> bool:
        return True

    @classmethod
    def get_name(cls) -> str:
        return "I-ASIDE"

    # ----------------------------------------------------------------- internals
    def _band_map(self, phi: Tensor, inputs: Tensor) -> Tensor:
        index = self.bands.index(*inputs.shape[-2:]).to(phi.device)
        centred = torch.fft.fftshift(phi[:, index], dim=(-2, -1))
        return centred[:, None].expand(-1, inputs.shape[1], -1, -1).contiguous()

    def _play(
        self,
        inputs: Tensor,
        budget: int | None,
        play: Callable[[SpectralGame, torch.Generator], Any],
        *,
        baselines: BaselineSpec | None,
        target: TargetSpec,
        additional_forward_args: Any,
        perturbations_per_eval: int | str,
        show_progress: bool,
        seed: int,
        autocast_dtype: torch.dtype | None,
    ) -> Any:
        r"""
        Check a local call's arguments (those of :meth:`attribute`, by name), build the game of ``inputs``
        and ``play`` it with the seed's generator.
        """
        workspace = Workspace(perturbations_per_eval)
        check_seed(seed)
        check_dtype(autocast_dtype, "autocast_dtype")
        warn_if_training(self.forward_func, stacklevel=4)  # _play <- attribute* <- log_usage's wrapper <- the caller
        check_images(inputs, "inputs")
        self.bands.index(*inputs.shape[-2:])  # a clear error if a player is empty at this size
        per_image = 2**self.bands.n_bands if budget is None else budget
        baseline = self.baseline if baselines is None else resolve_baseline(baselines)
        if isinstance(baseline, ShuffleBaseline) and _inside_noise_tunnel():
            raise ValueError(
                "baseline='shuffle' inside NoiseTunnel would pair images with noisy copies of themselves (their "
                "removed bands would stay present); pass a fixed baseline (baselines=0, a tensor) to NoiseTunnel"
            )
        generator = torch.Generator().manual_seed(int(seed))
        inputs = inputs.detach()
        bar = tqdm(total=per_image, desc=self.get_name(), unit="coalition", disable=not show_progress)
        with bar, preserved_buffers([self.forward_func]):
            reference = reference_images(baseline, inputs, generator)
            game = SpectralGame(
                self.forward_func,
                self.bands,
                inputs,
                reference,
                self.value,
                resolve_target(target, inputs.shape[0], inputs.device),
                as_arg_tuple(additional_forward_args),
                workspace=workspace,
                progress=bar.update,
                autocast_dtype=autocast_dtype,
            )
            return play(game, generator)

    # -------------------------------------------------------------------- public
    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        baselines: BaselineSpec | None = None,
        target: TargetSpec = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int | str = 1,
        show_progress: bool = False,
        return_input_shape: bool = False,
        return_convergence_delta: bool = False,
        estimator: str | ShapleyEstimator | None = None,
        budget: int | None = None,
        seed: int = 0,
        autocast_dtype: torch.dtype | None = None,
    ) -> Tensor | tuple[Tensor, ...]:
        r"""
        Per-image spectral Shapley values (exact by default).

        Args:
            inputs (Tensor or tuple of one Tensor): Images ``(B, C, H, W)``, floating point, on
                        the model's device. A 1-tuple (Captum's multi-input form, used e.g. by
                        ``captum.metrics.sensitivity_max``) returns 1-tuple attributions.
            baselines (str, Tensor or callable, optional): Overrides the baseline given at
                        construction for this call (same forms).
                        Default: None (the constructor's baseline)
            target (int, list, Tensor or None, optional): Class index per image (Captum's
                        convention). None takes the class the model predicts on the
                        unperturbed image (label-free); a model returning ``(B,)`` needs none.
                        Default: None
            additional_forward_args (Any, optional): Extra arguments passed to the model after
                        the images; tensors whose first dimension is ``B`` are repeated for
                        every coalition image.
                        Default: None
            perturbations_per_eval (int or str, optional): Coalitions evaluated per forward
                        call; a call holds ``B * perturbations_per_eval`` images. The memory
                        knob. ``"auto"`` chooses it from contests of paired timings, the smaller of
                        sizes equally fast, within a memory budget of half the memory available
                        (see :mod:`~captum_iaside.execution.forward_size`).
                        Default: 1
            show_progress (bool, optional): Show a tqdm progress bar over the coalitions.
                        Default: False
            return_input_shape (bool, optional): Return a ``(B, C, H, W)`` Fourier-plane map
                        in which every DFT bin holds its band's value, fftshift-ed (zero
                        frequency in the centre) for display, instead of ``(B, M)``.
                        Default: False
            return_convergence_delta (bool, optional): Also return
                        ``Σ_i φ_i − (v(N) − v(∅))`` per image.
                        Default: False
            estimator (str or ShapleyEstimator, optional): ``"exact"`` (all ``2^M``
                        coalitions), ``"permutation"`` (antithetic permutation sampling),
                        ``"kernel"`` (paired KernelSHAP, efficiency-constrained), ``"kadd"``,
                        ``"kadd3"`` (k-additive fits of order 2 and 3), ``"adaptive"`` (paired fits
                        of the game's odd part, their order chosen per image by cross-validation) or
                        an estimator object of :mod:`captum_iaside.estimators`. None: exact without a budget or where
                        ``2^M`` fits it, permutations below ``2M + 2``, else ``"adaptive"``
                        (:meth:`estimate` says which fit each image took).
                        Default: None
            budget (int, optional): Coalition evaluations per image (grand and empty
                        coalitions included) for the sampling estimators.
                        Default: None
            seed (int, optional): Seed of the random baselines (``"shuffle"``,
                        ``"gaussian"``) and of the sampling estimators.
                        Default: 0
            autocast_dtype (torch.dtype, optional): Evaluate the model under
                        :func:`torch.autocast` with this dtype (e.g. ``torch.bfloat16``).
                        Default: None (the model's own precision)

        Returns:
            *Tensor* ``(B, M)`` of Shapley values (or ``(B, C, H, W)`` with
            ``return_input_shape=True``), and with ``return_convergence_delta=True`` a tuple
            ``(attributions, delta)`` with ``delta`` of shape ``(B,)``.

        Examples::

            >>> ia = IASIDE(model, bands=4)
            >>> phi, delta = ia.attribute(x, target=3, return_convergence_delta=True)
            >>> phi.shape, delta.abs().max() < 1e-4
            (torch.Size([2, 4]), tensor(True))
        """
        as_tuple = isinstance(inputs, tuple)
        if as_tuple:
            if len(inputs) != 1:
                raise TypeError(f"inputs must be one image tensor (or a 1-tuple of it), got a tuple of {len(inputs)}")
            inputs = inputs[0]
        shapley = self.estimate(
            inputs,
            baselines=baselines,
            target=target,
            additional_forward_args=additional_forward_args,
            perturbations_per_eval=perturbations_per_eval,
            show_progress=show_progress,
            estimator=estimator,
            budget=budget,
            seed=seed,
            autocast_dtype=autocast_dtype,
        )
        inputs = inputs.detach()
        out_dtype = torch.promote_types(inputs.dtype, torch.float32)
        attributions = shapley.values.to(out_dtype)
        if return_input_shape:
            attributions = self._band_map(attributions, inputs)
        if as_tuple:
            attributions = (attributions,)
        if return_convergence_delta:
            return attributions, shapley.delta.to(out_dtype)
        return attributions

    @log_usage()
    def estimate(
        self,
        inputs: Tensor,
        baselines: BaselineSpec | None = None,
        target: TargetSpec = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int | str = 1,
        show_progress: bool = False,
        estimator: str | ShapleyEstimator | None = None,
        budget: int | None = None,
        seed: int = 0,
        autocast_dtype: torch.dtype | None = None,
    ) -> BandShapley:
        r"""
        The whole per-image estimate behind :meth:`attribute`: the Shapley values with ``v(∅)``, ``v(N)``,
        the targets, the evaluations spent and, for an estimator that chooses its fit per image (the
        automatic choice at a budget, ``"adaptive"``), which fit each image took and the cross-validated
        error of every candidate (:class:`~captum_iaside.estimators.base.FitChoice`).

        Args:
            inputs (Tensor): Images ``(B, C, H, W)``.
            baselines (str, Tensor or callable, optional): As for :meth:`attribute`.
                        Default: None (the constructor's baseline)
            target (int, list, Tensor or None, optional): As for :meth:`attribute`.
                        Default: None (the predicted class)
            additional_forward_args (Any, optional): As for :meth:`attribute`.
                        Default: None
            perturbations_per_eval (int or str, optional): As for :meth:`attribute`.
                        Default: 1
            show_progress (bool, optional): Show a tqdm progress bar over the coalitions.
                        Default: False
            estimator (str or ShapleyEstimator, optional): As for :meth:`attribute`.
                        Default: None
            budget (int, optional): Coalition evaluations per image.
                        Default: None (exact)
            seed (int, optional): Seed of random baselines and of the sampling estimators.
                        Default: 0
            autocast_dtype (torch.dtype, optional): As for :meth:`attribute`.
                        Default: None

        Returns:
            :class:`~captum_iaside.BandShapley`, its ``values`` ``(B, M)`` float64 equal to what
            :meth:`attribute` returns for the same arguments.

        Examples::

            >>> est = IASIDE(model, bands=10).estimate(x, target=y, budget=64)
            >>> est.values.shape, est.fits.labels()
            (torch.Size([2, 10]), ['order 1', 'order 3, λ=0.03'])
        """
        estimator, budget = resolve_estimator(estimator, budget, self.bands.n_bands)
        return self._play(
            inputs,
            budget,
            lambda g, r: estimator.estimate(g, budget, r),
            baselines=baselines,
            target=target,
            additional_forward_args=additional_forward_args,
            perturbations_per_eval=perturbations_per_eval,
            show_progress=show_progress,
            seed=seed,
            autocast_dtype=autocast_dtype,
        )

    @log_usage()
    def attribute_interactions(
        self,
        inputs: Tensor | tuple[Tensor],
        target: TargetSpec = None,
        index: str = "SII",
        order: int = 2,
        baselines: BaselineSpec | None = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int | str = 1,
        show_progress: bool = False,
        estimator: str | ShapleyEstimator | None = None,
        budget: int | None = None,
        seed: int = 0,
        autocast_dtype: torch.dtype | None = None,
    ) -> Tensor:
        r"""
        Pairwise interaction indices of the bands (or other players) per image.

        Two bands interact when keeping both changes the value by more than the sum of keeping each:
        ``v(S ∪ {i, j}) − v(S ∪ {i}) − v(S ∪ {j}) + v(S)`` is not zero. ``index`` says how those
        interactions are averaged over the coalitions ``S`` of the other bands
        (:mod:`~captum_iaside.estimators.interactions`): ``"SII"``, the Shapley interaction index
        (Grabisch & Roubens, 1999); ``"STII"``, the Shapley–Taylor index of order 2 (Sundararajan et
        al., 2020, https://arxiv.org/abs/1902.05622), which with the main effects sums to
        ``v(N) − v(∅)``; ``"Moebius"``, the pair's own Möbius coefficient ``m({i, j})``. Exact from
        all ``2^M`` coalition values (``M`` ≤ 12, the default); with a ``budget`` of fewer
        evaluations per image, from the Möbius coefficients of a k-additive fit (by default
        :class:`~captum_iaside.AdaptiveKernelShapley`, whose order each image chooses: an image whose
        additive fit predicts its coalitions best gets no interactions; or
        :class:`~captum_iaside.KernelShapley` of order 2 or 3).

        Args:
            inputs (Tensor or tuple of one Tensor): Images ``(B, C, H, W)`` (a 1-tuple returns a
                        1-tuple, as :meth:`attribute` does).
            target (int, list, Tensor or None, optional): Class per image, as for :meth:`attribute`.
                        Default: None (the predicted class)
            index (str, optional): ``"SII"``, ``"STII"`` or ``"Moebius"``.
                        Default: ``"SII"``
            order (int, optional): Order of the interactions: 2 (pairs).
                        Default: 2
            baselines (str, Tensor or callable, optional): As for :meth:`attribute`.
                        Default: None (the constructor's baseline)
            additional_forward_args (Any, optional): As for :meth:`attribute`.
                        Default: None
            perturbations_per_eval (int or str, optional): As for :meth:`attribute`.
                        Default: 1
            show_progress (bool, optional): Show a tqdm progress bar over the coalitions.
                        Default: False
            estimator (str or ShapleyEstimator, optional): ``"exact"``, ``"kadd"`` (the unpaired
                        pairwise fit), ``"kadd3"`` (the paired third-order fit) or a
                        :class:`~captum_iaside.KernelShapley` of order 2 or 3. None: exact without a
                        budget or where ``2^M`` fits it, else ``"kadd"``.
                        Default: None
            budget (int, optional): Coalition evaluations per image for a k-additive fit.
                        Default: None
            seed (int, optional): Seed of random baselines and of the fit's coalitions.
                        Default: 0
            autocast_dtype (torch.dtype, optional): As for :meth:`attribute`.
                        Default: None

        Returns:
            *Tensor* ``(B, M, M)``, symmetric: the pair's index at ``[b, i, j]`` and on the diagonal
            the index's order-1 term (the Shapley value for SII, the main effect ``m({i})`` for STII
            and the Möbius transform).

        Examples::

            >>> ia = IASIDE(model, bands=6)
            >>> sii = ia.attribute_interactions(x, target=y)                      # (B, 6, 6), exact
            >>> stii = ia.attribute_interactions(x, target=y, index="STII")
            >>> efficiency = stii.diagonal(dim1=1, dim2=2).sum(1) + stii.triu(1).sum(dim=(1, 2))  # v(N) − v(∅)
        """
        as_tuple = isinstance(inputs, tuple)
        if as_tuple:
            if len(inputs) != 1:
                raise TypeError(f"inputs must be one image tensor (or a 1-tuple of it), got a tuple of {len(inputs)}")
            inputs = inputs[0]
        index = check_index(index, order)
        estimator, budget = resolve_interaction_estimator(estimator, budget, self.bands.n_bands)
        found: BandInteractions = self._play(
            inputs,
            budget,
            lambda g, r: estimator.estimate_interactions(g, budget, r, index),
            baselines=baselines,
            target=target,
            additional_forward_args=additional_forward_args,
            perturbations_per_eval=perturbations_per_eval,
            show_progress=show_progress,
            seed=seed,
            autocast_dtype=autocast_dtype,
        )
        values = found.values.to(torch.promote_types(inputs.dtype, torch.float32))
        return (values,) if as_tuple else values

    def attribute_global(
        self,
        data: Iterable[Any],
        n_samples: int | None = None,
        baselines: BaselineSpec | None = None,
        use_labels: bool = True,
        additional_forward_args: Any = None,
        perturbations_per_eval: int | str = 1,
        max_memory: int | float | str | None = None,
        estimator: str | ShapleyEstimator | None = None,
        budget: int | None = None,
        max_evaluations: int | None = None,
        tolerance: float | None = None,
        n_bootstrap: int = 200,
        confidence: float = 0.95,
        by_class: bool = False,
        checkpoint: str | None = None,
        checkpoint_every: int = 1,
        seed: int = 0,
        device: str | torch.device | None = None,
        show_progress: bool = False,
        autocast_dtype: torch.dtype | None = None,
        strata: str | Tensor | None = "auto",
        interactions: bool | str = False,
    ) -> SpectralImportance:
        r"""
        Global I-ASIDE over a data set: ``ψ = E_x φ(x)`` with its standard error and intervals.

        Each image is a game of its own (the same coalitions for all its bands), so the Shapley
        value of the expected game equals the mean of the per-image values. The data are
        streamed; memory is bounded by one batch (the statistics kept are ``O(M)``).

        **A budget for the whole run.** ``max_evaluations=F`` caps the model evaluations
        (coalition images, grand and empty coalitions included). With ``estimator=None`` the
        design is chosen for it (:func:`~captum_iaside.global_run.design.plan_global`): exact values on
        every image when ``F`` covers ``2^M`` per image; otherwise stratified permutation
        sampling spread over as many images as ``F`` reaches — one permutation per image
        (``M + 1`` evaluations) when images are plentiful, since the between-image variance
        dominates. Where the data know their labels before the run, the run reads the
        images in an order that represents every class in proportion and estimates ψ from
        per-class means (``strata``); otherwise shuffle the data (e.g.
        ``DataLoader(..., shuffle=True)``) so that the images the budget reaches are a random
        sample. When the number of images is not known
        in advance and the data end before the budget, a second pass with fresh draws spreads
        the rest over them. The design is in ``result.config["design"]``. Standard errors and
        intervals hold both the between-image and the estimator's within-image variance.

        With an initialised ``torch.distributed`` process group, each rank attributes the
        batches its own ``data`` yields (its shard of the images; a ``DistributedSampler`` repeats images to
        even out shards, which weighs them twice unless the data divide evenly), the budget is
        split evenly between ranks, and the statistics of all ranks are merged, so every rank
        returns the global result. Ranks whose data end first wait for the others.

        Args:
            data (iterable): A :class:`torch.utils.data.DataLoader` or any iterable of
                        ``(images, targets)`` batches, or of image batches alone (label-free).
                        Must yield the same batches in the same order to resume a checkpoint.
            n_samples (int, optional): Use at most this many images (per rank when
                        distributed).
                        Default: None (all)
            baselines (str, Tensor or callable, optional): Overrides the constructor's
                        baseline. ``"shuffle"`` pairs images within each batch (a batch of one
                        image takes an image of the batch before).
                        Default: None
            use_labels (bool, optional): Use the targets the data yield; False explains the
                        model's own predictions (label-free) even when labels are present.
                        Default: True
            additional_forward_args (Any, optional): Extra model arguments (see
                        :meth:`attribute`).
                        Default: None
            perturbations_per_eval (int or str, optional): Coalitions per forward call, or
                        ``"auto"``: chosen from contests of paired timings at the start and checked
                        again during the run; the smaller of two sizes that are equally fast
                        within the noise (less memory), a larger one only where a forward has a
                        fixed cost to spread (see :mod:`~captum_iaside.execution.forward_size`).
                        The size in use at the end is
                        ``result.config["perturbations_per_eval"]``, and the timings that chose it
                        are in ``result.config["execution"]``.
                        Default: 1
            max_memory (int, float or str, optional): Memory the process may hold while the
                        run evaluates (resident memory on the CPU, memory allocated on a CUDA
                        device): ``"2GB"``, ``"512MB"`` or bytes. The forward size stays within it,
                        from the memory per image measured at the first forwards; a budget that
                        cannot hold one coalition per forward's images is refused before any
                        forward (one that the first forwards show too small stops the run). The
                        run's peak is in ``result.config["execution"]``.
                        Default: None (half of the memory available when the run starts; 80 % of
                        a CUDA device's free memory)
            estimator (str or ShapleyEstimator, optional): ``"exact"``, ``"permutation"``,
                        ``"kernel"`` or an estimator object (see :meth:`attribute`).
                        Default: None (the automatic design)
            budget (int, optional): Coalition evaluations per image for sampling estimators.
                        Default: None
            max_evaluations (int, optional): Model evaluations for the whole run (at least
                        ``M + 1``). The run never spends more; ``stop_reason`` says when the
                        budget ended it.
                        Default: None (no limit)
            tolerance (float, optional): Stop early, after the first batch where
                        ``max(stderr) / (max ψ − min ψ) <= tolerance`` (the convergence
                        criterion of SAGE, Covert et al. 2020); ``stop_reason`` says so.
                        Default: None (use all the data)
            n_bootstrap (int, optional): Replicates of the online Poisson bootstrap over
                        images behind ``values_ci``, ``sid_ci`` and ``srs_ci`` (0 disables it).
                        Default: 200
            confidence (float, optional): Level of the bootstrap intervals.
                        Default: 0.95
            by_class (bool, optional): Also keep ψ per target class (``result.by_class``).
                        Default: False
            checkpoint (str, optional): File in which the statistics are saved atomically
                        every ``checkpoint_every`` batches. A run started again with the same
                        arguments resumes from it and ends with exactly the result of an
                        uninterrupted run; a finished checkpoint returns its result at once.
                        A checkpoint is refused, naming what differs and left untouched, when
                        it was written for another configuration (every option, a tensor
                        baseline by a digest of its values), another model (a digest of its
                        weights, and what it does: ``v(∅)`` and ``v(N)`` of the first batch are
                        evaluated again, two forwards, and must agree — so two plain functions,
                        or two callable values or baselines, are told apart), or other data (a
                        digest of every batch read, checked again as the resumed run skips it),
                        or by another version of the checkpoint format. With
                        ``torch.distributed`` each rank writes ``PATH.rank<r>``.
                        Default: None
            checkpoint_every (int, optional): Batches between checkpoints.
                        Default: 1
            seed (int, optional): Seed of the random baselines, sampling estimators and
                        bootstrap.
                        Default: 0
            device (str or torch.device, optional): Where to move each batch. None uses the
                        device of the model's parameters (CPU for a plain function).
                        Default: None
            show_progress (bool, optional): Show a tqdm progress bar over the images, with
                        the running SRS, the largest standard error and the evaluations spent.
                        Default: False
            autocast_dtype (torch.dtype, optional): Evaluate the model under
                        :func:`torch.autocast` with this dtype (e.g. ``torch.bfloat16`` on a GPU).
                        Default: None
            strata (str, Tensor or None, optional): Strata of the images. The images a budget
                        reaches then represent every stratum in proportion to its share ``W_h``
                        of the data, and ψ is estimated as ``Σ_h W_h ψ̂_h`` from the per-stratum
                        means, with a variance from the spread *within* strata only (the spread
                        between classes, most of the between-image variance on real models, drops
                        out; the bootstrap resamples within strata). ``"target"``: the data's
                        labels, read before the run from a DataLoader with a ``batch_size`` over a
                        ``TensorDataset``, ``ImageFolder``, a torchvision data set with
                        ``.targets`` or a ``Subset`` of one (its sampler's images, a
                        ``DistributedSampler``'s shard included), or from a list of
                        ``(images, labels)`` batches; the run then reads those images in a
                        stratified order drawn from ``seed``. A tensor: one stratum id per image
                        of such a DataLoader's dataset (by index), or of other data in the order
                        they yield them (a stream, whose order cannot be chosen, is
                        post-stratified with the weights the tensor gives). ``"auto"``:
                        ``"target"`` where the labels can be read so and ``use_labels=True``
                        (and, for :func:`compare_global` with one data set per model, every
                        model's data can follow the order), else None. Strata that the run
                        reaches with fewer than two images are pooled into one.
                        ``result.config["strata"]`` says what was done.
                        Default: ``"auto"``
            interactions (bool or str, optional): Also estimate the mean pairwise interaction
                        index of the bands over the images, ``result.interactions`` ``(M, M)`` with
                        ``result.interactions_stderr``: ``True`` or ``"SII"`` (the Shapley interaction
                        index), ``"STII"`` (Shapley–Taylor) or ``"Moebius"`` (see
                        :meth:`attribute_interactions`). Each image's index comes from the same
                        coalitions as its Shapley values, so the design is exact enumeration on the
                        images the budget reaches (``M`` ≤ 12; ``2^M`` evaluations each), or the
                        k-additive fit of ``estimator``/``budget``.
                        Default: False

        Returns:
            :class:`SpectralImportance` with ``values`` (ψ), ``stderr``, ``values_ci``,
            ``n_samples``, ``sid``, ``srs``, ``signed_srs``, ``share``, ``v_empty``,
            ``v_full``, ``sid_ci``, ``srs_ci``, ``by_class``, ``stop_reason``, ``interactions``
            and the configuration.

        Examples::

            >>> loader = DataLoader(dataset, batch_size=32, shuffle=True)
            >>> res = IASIDE(model).attribute_global(loader, max_evaluations=50_000, show_progress=True)
            >>> print(res.srs, res.srs_ci, res.stop_reason, res.config["design"])
        """
        baseline = self.baseline if baselines is None else baselines
        options = RunOptions(
            n_samples=n_samples,
            use_labels=use_labels,
            additional_forward_args=additional_forward_args,
            perturbations_per_eval=perturbations_per_eval,
            max_memory=max_memory,
            max_evaluations=max_evaluations,
            tolerance=tolerance,
            n_bootstrap=n_bootstrap,
            confidence=confidence,
            by_class=by_class,
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            seed=seed,
            device=device,
            show_progress=show_progress,
            autocast_dtype=autocast_dtype,
            strata=strata,
            interactions=interactions,
        )
        outcome = run_global(
            {"model": self.forward_func},
            data,
            self.bands,
            baseline,
            self.value,
            options,
            estimator,
            budget,
            per_model_data=False,
        )
        return outcome.result("model", label=type(self.forward_func).__name__)
