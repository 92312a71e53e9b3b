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
from tqdm.auto import tqdm

from captum_iaside.bands import SpectralBands, as_bands, check_images
from captum_iaside.baselines import BaselineSpec, reference_images, resolve_baseline
from captum_iaside.coalitions import coalition_matrix
from captum_iaside.game import SpectralGame, as_arg_tuple
from captum_iaside.importance import MomentAccumulator, SpectralImportance
from captum_iaside.shapley import check_exact, exact_shapley
from captum_iaside.values import TargetSpec, ValueFunction, ValueSpec, resolve_target


def batch_generator(seed: int, batch_index: int = 0) -> torch.Generator:
    r"""A CPU generator for batch ``batch_index`` of a run seeded with ``seed``."""
    state = np.random.SeedSequence([int(seed), int(batch_index)]).generate_state(2, dtype=np.uint32)
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
        check_exact(self.bands.n_bands)
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

    def _coalition_values(
        self,
        inputs: Tensor,
        baselines: BaselineSpec | None,
        target: TargetSpec,
        additional_forward_args: Any,
        perturbations_per_eval: int,
        generator: torch.Generator,
        progress: Callable[[int], Any] | None = None,
    ) -> Tensor:
        check_images(inputs, "inputs")
        self.bands.index(*inputs.shape[-2:])  # a clear error if a band is empty at this size
        baseline = self.baseline if baselines is None else resolve_baseline(baselines)
        inputs = inputs.detach()
        with torch.no_grad():
            reference = reference_images(baseline, inputs, generator)
            game = SpectralGame(
                self.forward_func,
                self.bands,
                inputs,
                reference,
                self.value,
                resolve_target(target, inputs.shape[0], inputs.device),
                as_arg_tuple(additional_forward_args),
            )
            coalitions = coalition_matrix(self.bands.n_bands, dtype=inputs.dtype)
            return game.evaluate(coalitions, perturbations_per_eval, progress)

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
            seed (int, optional): Seed of the random baselines (``"shuffle"``,
                        ``"gaussian"``).
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
        self._warn_if_training(stacklevel=4)  # the caller of the log_usage wrapper
        n_coalitions = 2**self.bands.n_bands
        bar = tqdm(total=n_coalitions, desc=self.get_name(), unit="coalition", disable=not show_progress)
        with bar:
            values = self._coalition_values(
                inputs,
                baselines,
                target,
                additional_forward_args,
                perturbations_per_eval,
                torch.Generator().manual_seed(int(seed)),
                bar.update,
            )
        phi = exact_shapley(values)
        out_dtype = torch.promote_types(inputs.dtype, torch.float32)
        attributions = phi.to(out_dtype)
        if return_input_shape:
            attributions = self._band_map(attributions, inputs)
        if as_tuple:
            attributions = (attributions,)
        if return_convergence_delta:
            delta = phi.sum(dim=1) - (values[:, -1] - values[:, 0])
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
        seed: int = 0,
        device: str | torch.device | None = None,
        show_progress: bool = False,
    ) -> SpectralImportance:
        r"""
        Global I-ASIDE over a data set: ``ψ = mean_x φ(x)`` with its standard error.

        Every coalition is evaluated on the same images (common random numbers), so the
        Shapley value of the expected game equals the mean of the per-image values. The data
        are streamed; memory is bounded by one batch.

        Args:
            data (iterable): A :class:`torch.utils.data.DataLoader` or any iterable of
                        ``(images, targets)`` batches, or of image batches alone (label-free).
            n_samples (int, optional): Use at most this many images.
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
            seed (int, optional): Seed of the random baselines; batch ``k`` draws from a
                        generator seeded with ``(seed, k)``.
                        Default: 0
            device (str or torch.device, optional): Where to move each batch. None uses the
                        device of the model's parameters (CPU for a plain function).
                        Default: None
            show_progress (bool, optional): Show a tqdm progress bar over the images.
                        Default: False

        Returns:
            :class:`SpectralImportance` with ``values`` (ψ), ``stderr``, ``n_samples``,
            ``sid``, ``srs``, ``share``, ``v_full``, ``v_empty`` and the configuration.

        Examples::

            >>> loader = DataLoader(dataset, batch_size=32)
            >>> res = IASIDE(model).attribute_global(loader, n_samples=500, show_progress=True)
            >>> print(res.srs, res.sid)
        """
        if n_samples is not None:
            n_samples = _positive_int(n_samples, "n_samples")
        perturbations_per_eval = _positive_int(perturbations_per_eval, "perturbations_per_eval")
        self._warn_if_training(stacklevel=3)
        device = self._device(device)
        phi_acc = MomentAccumulator(self.bands.n_bands)
        ends_acc = MomentAccumulator(2)
        total = n_samples
        if total is None and hasattr(data, "dataset") and hasattr(data.dataset, "__len__"):
            total = len(data.dataset)
        labelled = False
        bar = tqdm(total=total, desc=f"{self.get_name()} (global)", unit="img", disable=not show_progress)
        with bar:
            for k, batch in enumerate(data):
                x, y = _split_batch(batch)
                if n_samples is not None:
                    x = x[: n_samples - phi_acc.count]
                    y = y[: x.shape[0]] if isinstance(y, (Tensor, list, tuple)) else y
                if x.shape[0] == 0:
                    break
                labelled = labelled or (use_labels and y is not None)
                share = x.shape[0] / 2**self.bands.n_bands  # images done per coalition evaluated
                values = self._coalition_values(
                    x.to(device),
                    baselines,
                    y if use_labels else None,
                    additional_forward_args,
                    perturbations_per_eval,
                    batch_generator(seed, k),
                    lambda n, share=share: bar.update(n * share),
                )
                phi_acc.update(exact_shapley(values))
                ends_acc.update(values[:, [-1, 0]])
                bar.n = phi_acc.count  # whole images once the batch is done
                bar.refresh()
                if n_samples is not None and phi_acc.count >= n_samples:
                    break
        if phi_acc.count == 0:
            raise ValueError("data yielded no images")
        baseline = self.baseline if baselines is None else resolve_baseline(baselines)
        config = {
            "method": self.get_name(),
            "model": type(self.forward_func).__name__,
            "bands": self.bands.config(),
            "baseline": baseline.config(),
            "value": self.value.name,
            "labels": "given" if labelled else "predicted",
            "seed": int(seed),
        }
        return SpectralImportance(
            values=phi_acc.mean.clone(),
            stderr=phi_acc.stderr(),
            n_samples=phi_acc.count,
            v_full=float(ends_acc.mean[0]),
            v_empty=float(ends_acc.mean[1]),
            config=config,
        )

    def _device(self, device: str | torch.device | None) -> torch.device:
        if device is not None:
            return torch.device(device)
        if isinstance(self.forward_func, nn.Module):
            for p in self.forward_func.parameters():
                return p.device
        return torch.device("cpu")
