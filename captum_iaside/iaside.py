r"""I-ASIDE as a Captum attribution method: exact spectral Shapley values, local and global."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from captum.attr import PerturbationAttribution
from captum.log import log_usage
from torch import Tensor, nn
from tqdm import tqdm

from captum_iaside.bands import SpectralBands, as_bands, check_images
from captum_iaside.baselines import BaselineSpec, reference_images, resolve_baseline
from captum_iaside.checkpoint import load_checkpoint, save_checkpoint
from captum_iaside.coalitions import coalition_matrix
from captum_iaside.distributed import merged, world
from captum_iaside.game import SpectralGame, as_arg_tuple
from captum_iaside.importance import GlobalAccumulator, SpectralImportance
from captum_iaside.sampling import (
    choose_estimator,
    kernel_coalitions,
    kernel_shapley,
    n_draws,
    permutation_coalitions,
    permutation_shapley,
)
from captum_iaside.shapley import exact_shapley
from captum_iaside.values import TargetSpec, ValueFunction, ValueSpec, resolve_target


def batch_generator(seed: int, batch_index: int = 0, rank: int = 0) -> torch.Generator:
    r"""A CPU generator for batch ``batch_index`` (of process ``rank``) of a run seeded with ``seed``."""
    state = np.random.SeedSequence([int(seed), int(batch_index), int(rank)]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _split_batch(batch: Any) -> tuple[Tensor, Any]:
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and 1 <= len(batch) and isinstance(batch[0], Tensor):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    raise TypeError(
        f"data must yield image tensors or (images, targets) batches, got a batch of type {type(batch).__name__}"
    )


class IASIDE(PerturbationAttribution):
    r"""
    I-ASIDE: Image Axiomatic Spectral Importance Decomposition Explanation.

    The players of a cooperative game are ``M`` radial frequency bands of the image
    (:class:`SpectralBands`). A coalition ``S`` keeps the bands in ``S`` and replaces the others
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

    Paper: Luo, McDermott, O'Riordan, "Interpretable Spectral Importance Decomposition of image
    classifiers", TMLR 2024, https://arxiv.org/abs/2408.01139

    Args:
        forward_func (callable): The model, or any function of the images (and of
                    ``additional_forward_args``) returning class scores ``(B, K)`` or one
                    number per image ``(B,)``.
        bands (int or SpectralBands, optional): The number of equal-width square bands ``M``,
                    or a :class:`SpectralBands`.
                    Default: 8
        baseline (str, Tensor or callable, optional): What replaces a removed band:
                    ``"zero"``, ``"shuffle"`` (another image of the batch, seeded derangement),
                    ``"gaussian"`` (white noise, std 1 in input units; use
                    :class:`~captum_iaside.baselines.GaussianBaseline` for another std),
                    ``"mean"`` (per-channel mean of the batch), a tensor ``(1 | B, C, H, W)``,
                    a :class:`~captum_iaside.baselines.Baseline` or a callable ``x -> r``.
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
        bands: int | SpectralBands = 8,
        baseline: BaselineSpec = "zero",
        value: ValueSpec = "log_prob",
    ) -> None:
        if not callable(forward_func):
            raise TypeError(f"forward_func must be callable, got {type(forward_func).__name__}")
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
    def _warn_if_training(self, stacklevel: int) -> None:
        if isinstance(self.forward_func, nn.Module) and self.forward_func.training:
            warnings.warn(
                "the model is in training mode: dropout and batch-norm statistics make coalition "
                "values depend on their batch-mates; call model.eval() first",
                stacklevel=stacklevel,
            )

    def _batch_phi(
        self,
        inputs: Tensor,
        baselines: BaselineSpec | None,
        target: TargetSpec,
        additional_forward_args: Any,
        perturbations_per_eval: int,
        generator: torch.Generator,
        estimator: str,
        budget: int | None,
        progress: Callable[[int], Any] | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        r"""``(phi, v_full, v_empty, target)`` of a batch: Shapley values ``(B, M)`` float64, the
        values of the grand and empty coalitions ``(B,)`` and the class targets used."""
        check_images(inputs, "inputs")
        self.bands.index(*inputs.shape[-2:])  # a clear error if a band is empty at this size
        baseline = self.baseline if baselines is None else resolve_baseline(baselines)
        inputs = inputs.detach()
        m, n = self.bands.n_bands, inputs.shape[0]
        with torch.no_grad():
            reference = reference_images(baseline, inputs, generator)
            game = SpectralGame(
                self.forward_func,
                self.bands,
                inputs,
                reference,
                self.value,
                resolve_target(target, n, inputs.device),
                as_arg_tuple(additional_forward_args),
            )
            if estimator == "exact":
                values = game.evaluate(coalition_matrix(m, dtype=inputs.dtype), perturbations_per_eval, progress)
                return exact_shapley(values), values[:, -1], values[:, 0], game.target
            ends = game.evaluate(torch.stack([torch.zeros(m), torch.ones(m)]).to(inputs.dtype), 2, progress)
            v_empty, v_full = ends[:, 0], ends[:, 1]
            draws = n_draws(estimator, m, budget)
            if estimator == "permutation":
                perms, gates = permutation_coalitions(n, m, draws, generator)
            else:
                gates = kernel_coalitions(n, m, draws, generator)
            values = game.evaluate(gates.to(inputs.dtype), perturbations_per_eval, progress)
            if estimator == "permutation":
                phi = permutation_shapley(perms, values, v_empty, v_full)
            else:
                phi = kernel_shapley(gates, values, v_empty, v_full)
            return phi, v_full, v_empty, game.target

    def _band_map(self, phi: Tensor, inputs: Tensor) -> Tensor:
        index = self.bands.index(*inputs.shape[-2:]).to(phi.device)
        centred = torch.fft.fftshift(phi[:, index], dim=(-2, -1))
        return centred[:, None].expand(-1, inputs.shape[1], -1, -1).contiguous()

    # -------------------------------------------------------------------- public
    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        baselines: BaselineSpec | None = None,
        target: TargetSpec = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        return_input_shape: bool = False,
        return_convergence_delta: bool = False,
        estimator: str | None = None,
        budget: int | None = None,
        seed: int = 0,
    ) -> Tensor | tuple[Tensor, ...]:
        r"""
        Exact per-image spectral Shapley values.

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
            perturbations_per_eval (int, optional): Coalitions evaluated per forward call; a
                        call holds ``B * perturbations_per_eval`` images. The memory knob.
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
            estimator (str, optional): ``"exact"`` (all ``2^M`` coalitions),
                        ``"permutation"`` (antithetic permutation sampling) or ``"kernel"``
                        (paired KernelSHAP, efficiency-constrained); see
                        :mod:`captum_iaside.sampling`. None: exact whenever ``2^M`` fits the
                        budget, else permutation.
                        Default: None
            budget (int, optional): Coalition evaluations per image (grand and empty
                        coalitions included) for the sampling estimators.
                        Default: None
            seed (int, optional): Seed of the random baselines (``"shuffle"``,
                        ``"gaussian"``) and of the sampling estimators.
                        Default: 0

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
        perturbations_per_eval = _positive_int(perturbations_per_eval, "perturbations_per_eval")
        estimator, budget = choose_estimator(estimator, budget, self.bands.n_bands)
        self._warn_if_training(stacklevel=4)  # the caller of the log_usage wrapper
        per_image = 2**self.bands.n_bands if budget is None else budget
        bar = tqdm(total=per_image, desc=self.get_name(), unit="coalition", disable=not show_progress)
        with bar:
            phi, v_full, v_empty, _ = self._batch_phi(
                inputs,
                baselines,
                target,
                additional_forward_args,
                perturbations_per_eval,
                torch.Generator().manual_seed(int(seed)),
                estimator,
                budget,
                bar.update,
            )
        out_dtype = torch.promote_types(inputs.dtype, torch.float32)
        attributions = phi.to(out_dtype)
        if return_input_shape:
            attributions = self._band_map(attributions, inputs)
        if as_tuple:
            attributions = (attributions,)
        if return_convergence_delta:
            delta = phi.sum(dim=1) - (v_full - v_empty)
            return attributions, delta.to(out_dtype)
        return attributions

    def attribute_global(
        self,
        data: Iterable[Any],
        n_samples: int | None = None,
        baselines: BaselineSpec | None = None,
        use_labels: bool = True,
        additional_forward_args: Any = None,
        perturbations_per_eval: int = 1,
        estimator: str | None = None,
        budget: int | None = None,
        tolerance: float | None = None,
        n_bootstrap: int = 200,
        confidence: float = 0.95,
        by_class: bool = False,
        checkpoint: str | None = None,
        checkpoint_every: int = 1,
        seed: int = 0,
        device: str | torch.device | None = None,
        show_progress: bool = False,
    ) -> SpectralImportance:
        r"""
        Global I-ASIDE over a data set: ``ψ = mean_x φ(x)`` with its standard error.

        Every coalition is evaluated on the same images (common random numbers), so the
        Shapley value of the expected game equals the mean of the per-image values. The data
        are streamed; memory is bounded by one batch (the statistics kept are ``O(M)``).

        With an initialised ``torch.distributed`` process group, each rank attributes the
        batches its own ``data`` yields (e.g. through a ``DistributedSampler``) and the
        statistics of all ranks are merged, so every rank returns the global result.

        Args:
            data (iterable): A :class:`torch.utils.data.DataLoader` or any iterable of
                        ``(images, targets)`` batches, or of image batches alone (label-free).
                        Must yield the same batches in the same order to resume a checkpoint.
            n_samples (int, optional): Use at most this many images (per rank when
                        distributed).
                        Default: None (all)
            baselines (str, Tensor or callable, optional): Overrides the constructor's
                        baseline. ``"shuffle"`` pairs images within each batch.
                        Default: None
            use_labels (bool, optional): Use the targets the data yield; False explains the
                        model's own predictions (label-free) even when labels are present.
                        Default: True
            additional_forward_args (Any, optional): Extra model arguments (see
                        :meth:`attribute`).
                        Default: None
            perturbations_per_eval (int, optional): Coalitions per forward call.
                        Default: 1
            estimator (str, optional): ``"exact"``, ``"permutation"`` or ``"kernel"`` (see
                        :meth:`attribute`).
                        Default: None (exact whenever ``2^M`` fits the budget)
            budget (int, optional): Coalition evaluations per image for sampling estimators.
                        Default: None
            tolerance (float, optional): Stop early, after the first batch where
                        ``max(stderr) / (max ψ − min ψ) <= tolerance`` (the convergence
                        criterion of SAGE, Covert et al. 2020); ``stop_reason`` says so.
                        Default: None (use all the data)
            n_bootstrap (int, optional): Replicates of the online Poisson bootstrap over
                        images behind ``sid_ci`` and ``srs_ci`` (0 disables it).
                        Default: 200
            confidence (float, optional): Level of the bootstrap intervals.
                        Default: 0.95
            by_class (bool, optional): Also keep ψ per target class (``result.by_class``).
                        Default: False
            checkpoint (str, optional): File in which the statistics are saved atomically
                        every ``checkpoint_every`` batches. A run started again with the same
                        arguments resumes from it and ends with exactly the result of an
                        uninterrupted run; a finished checkpoint returns its result at once.
                        With ``torch.distributed`` each rank writes ``PATH.rank<r>``.
                        Default: None
            checkpoint_every (int, optional): Batches between checkpoints.
                        Default: 1
            seed (int, optional): Seed of the random baselines, sampling estimators and
                        bootstrap; batch ``k`` draws from a generator seeded with
                        ``(seed, k, rank)``.
                        Default: 0
            device (str or torch.device, optional): Where to move each batch. None uses the
                        device of the model's parameters (CPU for a plain function).
                        Default: None
            show_progress (bool, optional): Show a tqdm progress bar over the images, with
                        the running SRS and the largest standard error.
                        Default: False

        Returns:
            :class:`SpectralImportance` with ``values`` (ψ), ``stderr``, ``n_samples``,
            ``sid``, ``srs``, ``share``, ``v_full``, ``v_empty``, ``sid_ci``, ``srs_ci``,
            ``by_class``, ``stop_reason`` and the configuration.

        Examples::

            >>> loader = DataLoader(dataset, batch_size=32)
            >>> res = IASIDE(model).attribute_global(loader, n_samples=5000, tolerance=0.02,
            ...                                      checkpoint="run.ckpt", show_progress=True)
            >>> print(res.srs, res.srs_ci, res.stop_reason)
        """
        if n_samples is not None:
            n_samples = _positive_int(n_samples, "n_samples")
        perturbations_per_eval = _positive_int(perturbations_per_eval, "perturbations_per_eval")
        checkpoint_every = _positive_int(checkpoint_every, "checkpoint_every")
        if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
            raise ValueError(f"n_bootstrap must be a non-negative int, got {n_bootstrap!r}")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
        if tolerance is not None and not tolerance > 0:
            raise ValueError(f"tolerance must be positive, got {tolerance}")
        m = self.bands.n_bands
        estimator, budget = choose_estimator(estimator, budget, m)
        self._warn_if_training(stacklevel=3)
        device = self._device(device)
        rank, world_size = world()
        baseline = self.baseline if baselines is None else resolve_baseline(baselines)
        config = {
            "method": self.get_name(),
            "model": type(self.forward_func).__name__,
            "bands": self.bands.config(),
            "baseline": baseline.config(),
            "value": self.value.name,
            "estimator": estimator,
            "budget": budget,
            "n_samples": n_samples,
            "use_labels": bool(use_labels),
            "tolerance": tolerance,
            "n_bootstrap": n_bootstrap,
            "by_class": bool(by_class),
            "seed": int(seed),
            "world_size": world_size,
        }
        acc = GlobalAccumulator(m, n_bootstrap, by_class)
        done, labelled, reason = 0, False, ""
        if checkpoint is not None and world_size > 1:
            checkpoint = f"{checkpoint}.rank{rank}"
        saved = load_checkpoint(checkpoint, config) if checkpoint is not None else None
        if saved is not None:
            acc = GlobalAccumulator.from_state_dict(saved["accumulator"])
            done, labelled, reason = int(saved["batches_done"]), bool(saved["labelled"]), str(saved["stop_reason"])

        def save(batches_done: int, stop_reason: str) -> None:
            if checkpoint is not None:
                state = {
                    "fingerprint": config,
                    "batches_done": batches_done,
                    "labelled": labelled,
                    "stop_reason": stop_reason,
                    "accumulator": acc.state_dict(),
                }
                save_checkpoint(checkpoint, state)

        total = n_samples
        if total is None and hasattr(data, "dataset") and hasattr(data.dataset, "__len__"):
            total = len(data.dataset) // world_size
        per_image = 2**m if budget is None else budget
        bar = tqdm(
            total=total,
            initial=acc.count,
            desc=f"{self.get_name()} (global)",
            unit="img",
            disable=not show_progress or rank != 0,
        )
        with bar:
            batches = iter(()) if reason else enumerate(data)
            for k, batch in batches:
                if k < done:
                    continue  # done before the checkpoint
                x, y = _split_batch(batch)
                if n_samples is not None:
                    x = x[: n_samples - acc.count]
                    y = y[: x.shape[0]] if isinstance(y, (Tensor, list, tuple)) else y
                if x.shape[0] == 0:
                    continue  # an empty batch adds nothing
                labelled = labelled or (use_labels and y is not None)
                share = x.shape[0] / per_image  # images done per coalition evaluated
                generator = batch_generator(seed, k, rank)
                phi, v_full, v_empty, used_target = self._batch_phi(
                    x.to(device),
                    baselines,
                    y if use_labels else None,
                    additional_forward_args,
                    perturbations_per_eval,
                    generator,
                    estimator,
                    budget,
                    lambda n, share=share: bar.update(n * share),
                )
                acc.update(phi, v_full, v_empty, generator, used_target)
                done = k + 1
                bar.n = acc.count  # whole images once the batch is done
                err = acc.phi.stderr()
                bar.set_postfix(srs=f"{acc.running_srs():.4f}", max_se=f"{float(err.max()):.3g}")
                if n_samples is not None and acc.count >= n_samples:
                    reason = f"n_samples={n_samples} reached"
                elif tolerance is not None:
                    rel = merged(acc).relative_error()
                    if rel <= tolerance:
                        reason = f"tolerance: max stderr / range(psi) = {rel:.4g} <= {tolerance} after {k + 1} batches"
                if reason:
                    break
                if done % checkpoint_every == 0:
                    save(done, "")
            else:
                reason = reason or "data exhausted"
        final = merged(acc)
        if final.count == 0:
            raise ValueError("data yielded no images")
        save(done, reason)
        config["labels"] = "given" if labelled else "predicted"
        return final.result(config, confidence=confidence, stop_reason=reason)

    def _device(self, device: str | torch.device | None) -> torch.device:
        if device is not None:
            return torch.device(device)
        if isinstance(self.forward_func, nn.Module):
            for p in self.forward_func.parameters():
                return p.device
        return torch.device("cpu")
