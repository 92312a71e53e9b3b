r"""The spectral cooperative game of one batch: ``v_x(S)`` for every image and coalition.

The bands of ``x − r`` are computed once (one FFT per batch); each coalition image is then a 0/1
combination of them, written straight into a reusable buffer in the memory format the model
prefers (channels-last models get channels-last images without a copy) and evaluated by the model
in chunks of ``perturbations_per_eval`` coalitions under :func:`torch.inference_mode`. Every
tensor stays on the device of the images; the values are checked for finiteness once per call,
not once per chunk, so a GPU run does not wait on the host between forwards.

The grand coalition is the image itself and the empty coalition the baseline: :meth:`v_full`
evaluates the unperturbed images (or reuses the forward that found the predicted class), and
:meth:`v_empty` evaluates a shared baseline image once per batch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from captum_iaside.bands import SpectralBands
from captum_iaside.values import ValueFunction, check_target_range

#: Images per forward tried by ``perturbations_per_eval="auto"`` (CPU; GPUs also try larger).
AUTO_IMAGES_PER_FORWARD = (8, 16, 32, 64, 128, 256)
_AUTO_IMAGES_PER_FORWARD_GPU = (512, 1024)


def as_arg_tuple(additional_forward_args: Any) -> tuple[Any, ...]:
    r"""Captum's convention: None → ``()``, a tuple stays, anything else becomes a 1-tuple."""
    if additional_forward_args is None:
        return ()
    if isinstance(additional_forward_args, tuple):
        return additional_forward_args
    return (additional_forward_args,)


def _per_image(args: tuple[Any, ...], n: int) -> bool:
    return any(isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == n for a in args)


def _repeat_args(args: tuple[Any, ...], n: int, repeats: int) -> tuple[Any, ...]:
    return tuple(
        a.repeat_interleave(repeats, dim=0) if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == n else a
        for a in args
    )


def preferred_memory_format(forward_func: Callable[..., Any], inputs: Tensor) -> torch.memory_format:
    r"""
    ``torch.channels_last`` when the images or the model's first 4-D weight are channels-last,
    else ``torch.contiguous_format``.
    """
    if inputs.dim() == 4 and inputs.shape[1] > 1 and inputs.shape[-2:].numel() > 1:
        if inputs.is_contiguous(memory_format=torch.channels_last) and not inputs.is_contiguous():
            return torch.channels_last
    if isinstance(forward_func, nn.Module):
        for p in forward_func.parameters():
            if p.dim() == 4:
                cl = p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                return torch.channels_last if cl else torch.contiguous_format
    return torch.contiguous_format


def is_out_of_memory(exc: BaseException) -> bool:
    r"""Whether ``exc`` says that a GPU or the CPU ran out of memory."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    )


class Workspace:
    r"""
    What the games of one run share: the coalition buffer (reused between chunks and batches)
    and the forward size, fixed or chosen by measurement.

    Args:
        perturbations_per_eval (int or str, optional): Coalitions per forward call, or
                    ``"auto"``: the first chunks are evaluated at
                    :data:`AUTO_IMAGES_PER_FORWARD` images per forward (and more on a GPU), each
                    timed once, and the fastest size that fits in memory is kept
                    (:attr:`perturbations_per_eval` then holds it).
                    Default: 1
    """

    def __init__(self, perturbations_per_eval: int | str = 1) -> None:
        if perturbations_per_eval == "auto":
            self.auto = True
            self.perturbations_per_eval: int | None = None
        else:
            if isinstance(perturbations_per_eval, bool) or not isinstance(perturbations_per_eval, int):
                raise TypeError(
                    f"perturbations_per_eval must be an int or 'auto', got {type(perturbations_per_eval).__name__}"
                )
            if perturbations_per_eval < 1:
                raise ValueError(f"perturbations_per_eval must be at least 1, got {perturbations_per_eval}")
            self.auto = False
            self.perturbations_per_eval = perturbations_per_eval
        self._buffer: Tensor | None = None
        self._candidates: list[int] | None = None
        self._timings: dict[int, float] = {}
        self._warm = False

    # ---------------------------------------------------------------- buffer
    def buffer(self, numel: int, device: torch.device, dtype: torch.dtype) -> Tensor:
        r"""A flat tensor of at least ``numel`` elements, reused while it is large enough."""
        buf = self._buffer
        if buf is None or buf.numel() < numel or buf.device != device or buf.dtype != dtype:
            self._buffer = None  # free the old one before allocating
            buf = self._buffer = torch.empty(numel, device=device, dtype=dtype)
        return buf[:numel]

    # ---------------------------------------------------------- forward size
    @property
    def tuning(self) -> bool:
        r"""Whether forward sizes are still being measured."""
        return self.auto and self.perturbations_per_eval is None

    def chunk_size(self, n_images: int, remaining: int, device: torch.device) -> int:
        r"""Coalitions in the next forward call for ``n_images`` images."""
        if not self.tuning:
            return min(self.perturbations_per_eval, remaining)
        if self._candidates is None:
            sizes = AUTO_IMAGES_PER_FORWARD + (_AUTO_IMAGES_PER_FORWARD_GPU if device.type == "cuda" else ())
            self._candidates = sorted({max(1, round(s / n_images)) for s in sizes})
        if not self._warm:  # one small forward first: the first call pays for allocations and set-up
            return min(self._candidates[0], remaining)
        untried = [c for c in self._candidates if c not in self._timings]
        return min(untried[0], remaining) if untried else min(self._decide(), remaining)

    def record(self, size: int, n_images: int, seconds: float, full: bool = True) -> None:
        r"""
        Note the time of a forward of ``size`` coalitions for ``n_images`` images (``full``:
        whether the forward held all of them, not a short last chunk).
        """
        if not self.tuning:
            return
        if not self._warm:
            self._warm = True
            return
        if not full or size not in self._candidates or size in self._timings:
            return
        self._timings[size] = seconds / (size * n_images)
        best = min(self._timings.values())
        tried = [c for c in self._candidates if c in self._timings]
        # larger sizes rarely win again after two successive slower ones
        if len(tried) >= 3 and all(self._timings[c] > 1.1 * best for c in tried[-2:]):
            self._candidates = tried
        if all(c in self._timings for c in self._candidates):
            self._decide()

    def out_of_memory(self, size: int) -> None:
        r"""Drop ``size`` and every larger candidate after a forward ran out of memory."""
        self._candidates = [c for c in self._candidates if c < size]
        if not self._candidates:
            raise MemoryError("even one coalition per forward does not fit in memory; use a smaller batch size")
        if all(c in self._timings for c in self._candidates):
            self._decide()

    def _decide(self) -> int:
        best = min(self._timings.values())
        # the smallest size within 3 % of the fastest: as fast, and less memory
        self.perturbations_per_eval = min(c for c, t in self._timings.items() if t <= 1.03 * best)
        return self.perturbations_per_eval

    def timings(self) -> dict[int, float]:
        r"""Measured seconds per image for each tried size (``perturbations_per_eval="auto"``)."""
        return dict(self._timings)


class SpectralGame:
    r"""
    The game ``v_x(S) = value(f(x_S), y)`` for a batch of images.

    Args:
        forward_func (callable): The model, ``f(images, *additional_forward_args)``.
        bands (SpectralBands): The players.
        inputs (Tensor): Images ``x`` of shape ``(B, C, H, W)``.
        reference (Tensor): Baseline images ``r`` of shape ``(1 | B, C, H, W)``.
        value (ValueFunction): Maps outputs and targets to one number per image.
        target (Tensor, optional): ``(B,)`` class indices; None takes the class the model
                    predicts on the unperturbed ``inputs`` where the value needs one.
        additional_forward_args (tuple, optional): Extra model arguments; tensors whose first
                    dimension is ``B`` are repeated for every coalition image.
        workspace (Workspace, optional): Buffer and forward size shared with other games.
                    Default: a new one with one coalition per forward
        progress (callable, optional): Called with the number of coalitions done (per image)
                    after every forward call.
        autocast_dtype (torch.dtype, optional): Run the model under :func:`torch.autocast`
                    with this dtype (e.g. ``torch.bfloat16``); values are computed in float32 or
                    better.
                    Default: None (the model's own precision)
        memory_format (torch.memory_format, optional): Layout of the coalition images.
                    Default: :func:`preferred_memory_format` of the model and images

    Attributes:
        evaluations (int): Images the model has evaluated so far for this game.
        output_classes (int, optional): ``K`` of a model returning class scores ``(B, K)``,
                    known after the first forward.
    """

    def __init__(
        self,
        forward_func: Callable[..., Any],
        bands: SpectralBands,
        inputs: Tensor,
        reference: Tensor,
        value: ValueFunction,
        target: Tensor | None = None,
        additional_forward_args: tuple[Any, ...] = (),
        workspace: Workspace | None = None,
        progress: Callable[[int], Any] | None = None,
        autocast_dtype: torch.dtype | None = None,
        memory_format: torch.memory_format | None = None,
    ) -> None:
        self.forward_func = forward_func
        self.n_bands = bands.n_bands
        self.n_images, c, h, w = inputs.shape
        self.inputs = inputs
        self.reference = reference
        self.value = value
        self.args = additional_forward_args
        self.target = target
        self.workspace = workspace if workspace is not None else Workspace()
        self.progress = progress
        self.autocast_dtype = autocast_dtype
        self.memory_format = memory_format or preferred_memory_format(forward_func, inputs)
        self.evaluations = 0
        self.output_classes: int | None = None
        self._shape = (c, h, w)
        deltas = bands.decompose(inputs - reference)  # (B, M, C, H, W)
        if self.memory_format == torch.channels_last:
            # (B, M, H, W, C): a coalition image viewed as NCHW is then channels-last
            self._deltas = deltas.permute(0, 1, 3, 4, 2).reshape(self.n_images, self.n_bands, -1)
            self._reference = reference.permute(0, 2, 3, 1).reshape(reference.shape[0], 1, -1)
        else:
            self._deltas = deltas.reshape(self.n_images, self.n_bands, -1)
            self._reference = reference.reshape(reference.shape[0], 1, -1)
        self._checked = False
        self._v_empty: Tensor | None = None
        self._v_full: Tensor | None = None
        if target is None:  # label-free: the forward that finds the predicted class is v(N)'s
            out = self._forward(self._as_format(inputs), self.args)
            self._check_first(out, self.n_images, None)
            if value.needs_target(out):
                self.target = out.argmax(dim=1)
            self._v_full = self._value(out, self.target, self.n_images)
            self._count(self.n_images, 1)

    # ------------------------------------------------------------- helpers
    def _as_format(self, images: Tensor) -> Tensor:
        return images.contiguous(memory_format=self.memory_format)

    def _count(self, images: int, coalitions: int) -> None:
        self.evaluations += images
        if self.progress is not None:
            self.progress(coalitions)

    def _forward(self, images: Tensor, args: tuple[Any, ...]) -> Any:
        autocast = (
            torch.autocast(images.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            return self.forward_func(images, *args)

    def _value(self, out: Any, target: Tensor | None, n: int) -> Tensor:
        r"""Values of ``n`` images as an ordinary float64 tensor, NaN where the output is not finite."""
        with torch.inference_mode():
            v = self.value(out, target, n).to(torch.float64)
            if isinstance(out, Tensor) and out.is_floating_point() and out.dim() > 0:
                finite = torch.isfinite(out.reshape(out.shape[0], -1)).all(dim=1)
                v = torch.where(finite, v, torch.full_like(v, float("nan")))
        return v.clone()  # outside inference mode: an ordinary tensor

    def _check_first(self, out: Any, n: int, target: Tensor | None) -> None:
        if self._checked:
            return
        self.value.check_output(out, n)
        self.output_classes = out.shape[1] if isinstance(out, Tensor) and out.dim() == 2 else None
        if self.value.needs_target(out):
            check_target_range(target, out)
        self._checked = True

    # ---------------------------------------------------------------- values
    def v_empty(self) -> Tensor:
        r"""``v(∅)``: the values of the baseline images, ``(B,)`` float64 (evaluated once)."""
        if self._v_empty is None:
            b = self.n_images
            shared = self.reference.shape[0] == 1 and not _per_image(self.args, b)
            out = self._forward(self._as_format(self.reference), self.args) if shared else None
            if shared and isinstance(out, Tensor) and out.dim() > 0 and out.shape[0] == 1:
                out = out.expand(b, *out.shape[1:])
                images = 1
            else:
                out = self._forward(self._as_format(self.reference.expand(b, *self._shape)), self.args)
                images = b + (1 if shared else 0)
            self._check_first(out, b, self.target)
            self._v_empty = self._value(out, self.target, b)
            self._count(images, 1)
        return self._v_empty

    def v_full(self) -> Tensor:
        r"""``v(N)``: the values of the unperturbed images, ``(B,)`` float64 (evaluated once)."""
        if self._v_full is None:
            out = self._forward(self._as_format(self.inputs), self.args)
            self._check_first(out, self.n_images, self.target)
            self._v_full = self._value(out, self.target, self.n_images)
            self._count(self.n_images, 1)
        return self._v_full

    def images(self, gates: Tensor) -> Tensor:
        r"""
        Coalition images ``r + Σ_i g_i (x_i − r_i)`` in the workspace buffer (overwritten by the
        next call).

        Args:
            gates (Tensor): ``(P, M)`` rows shared by all images or ``(B, P, M)`` per image.

        Returns:
            *Tensor* ``(B * P, C, H, W)``, image-major, in :attr:`memory_format`.
        """
        b, p = self.n_images, gates.shape[-2]
        deltas = self._deltas
        out = self.workspace.buffer(b * p * deltas.shape[-1], deltas.device, deltas.dtype).view(b, p, -1)
        g = gates.to(device=deltas.device, dtype=deltas.dtype).expand(b, p, self.n_bands)
        torch.baddbmm(self._reference.expand(b, p, -1), g, deltas, out=out)
        c, h, w = self._shape
        if self.memory_format == torch.channels_last:
            return out.view(b * p, h, w, c).permute(0, 3, 1, 2)
        return out.view(b * p, c, h, w)

    def values(self, coalitions: Tensor | list[Tensor]) -> Tensor | list[Tensor]:
        r"""
        Values of coalitions (or fractional gates), chunked by the workspace's forward size.

        Args:
            coalitions (Tensor or list of Tensor): ``(n, M)`` 0/1 rows shared by all images (see
                        :func:`~captum_iaside.coalitions.coalition_matrix`), ``(B, n, M)`` per
                        image, or a list of ``B`` tensors ``(n_i, M)``: a different number of
                        coalitions for each image.

        Returns:
            *Tensor* of shape ``(B, n)``, float64, on the images' device (a list of ``(n_i,)``
            tensors for a list).

        Raises:
            ValueError: naming the coalition and the image, if the model output or the value is
                not finite.
        """
        if isinstance(coalitions, (list, tuple)):
            return self._ragged_values(list(coalitions))
        b, n = self.n_images, coalitions.shape[-2]
        chunks, start = [], 0
        device = self._deltas.device
        while start < n:
            p = self.workspace.chunk_size(b, n - start, device)
            rows = coalitions[..., start : start + p, :]
            target = None if self.target is None else self.target.repeat_interleave(p)
            args = _repeat_args(self.args, b, p)
            value = self._evaluate_chunk(lambda rows=rows: self.images(rows), args, target, p, b * p)
            if value is None:  # out of memory while measuring forward sizes: try a smaller one
                continue
            chunks.append(value.reshape(b, p))
            start += p
        values = torch.cat(chunks, dim=1) if chunks else torch.empty(b, 0, dtype=torch.float64, device=device)
        bad = ~torch.isfinite(values)
        if bool(bad.any()):  # one host synchronisation per call
            image, col = (int(i) for i in bad.nonzero()[0])
            row = coalitions[col] if coalitions.dim() == 2 else coalitions[image, col]
            self._not_finite(image, col, row)
        return values

    def _evaluate_chunk(
        self, images: Callable[[], Tensor], args: tuple[Any, ...], target: Tensor | None, p: int, n: int
    ) -> Tensor | None:
        r"""
        Values of one forward of ``n`` images (``p`` coalitions per image of the batch); None if it
        ran out of memory while forward sizes are measured.
        """
        device = self._deltas.device
        tic = time.perf_counter()
        try:
            out = self._forward(images(), args)
            if self.workspace.tuning and device.type == "cuda":
                torch.cuda.synchronize(device)
        except (RuntimeError, MemoryError) as exc:
            if not (is_out_of_memory(exc) and self.workspace.tuning):
                raise
            if device.type == "cuda":
                torch.cuda.empty_cache()
            self.workspace.out_of_memory(p)
            return None
        self._check_first(out, n, target)
        value = self._value(out, target, n)
        self.workspace.record(p, self.n_images, time.perf_counter() - tic, full=n == self.n_images * p)
        self._count(n, p)
        return value

    def _ragged_values(self, coalitions: list[Tensor]) -> list[Tensor]:
        b = self.n_images
        if len(coalitions) != b:
            raise ValueError(f"coalitions must hold one tensor per image ({b}), got {len(coalitions)}")
        counts = [int(c.shape[0]) for c in coalitions]
        owner = torch.repeat_interleave(torch.arange(b), torch.tensor(counts, dtype=torch.int64))
        rows = torch.cat(coalitions) if coalitions else torch.zeros(0, self.n_bands)
        total, start, chunks = rows.shape[0], 0, []
        device = self._deltas.device
        while start < total:
            p = self.workspace.chunk_size(b, -(-(total - start) // b), device)
            stop = min(start + b * p, total)
            part, who = rows[start:stop], owner[start:stop]
            target = None if self.target is None else self.target[who.to(self.target.device)]
            args = tuple(
                a[who.to(a.device)] if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == b else a
                for a in self.args
            )
            value = self._evaluate_chunk(
                lambda part=part, who=who: self._ragged_images(part, who), args, target, p, stop - start
            )
            if value is None:
                continue
            chunks.append(value)
            start = stop
        flat = torch.cat(chunks) if chunks else torch.zeros(0, dtype=torch.float64, device=device)
        bad = ~torch.isfinite(flat)
        if bool(bad.any()):
            k = int(bad.nonzero()[0])
            image = int(owner[k])
            self._not_finite(image, k - sum(counts[:image]), rows[k])
        return list(flat.split(counts))

    def _ragged_images(self, rows: Tensor, owner: Tensor) -> Tensor:
        r"""Coalition images of ``rows`` ``(n, M)`` of the images ``owner`` ``(n,)`` (sorted), in the buffer."""
        deltas = self._deltas
        n, k = rows.shape[0], deltas.shape[-1]
        out = self.workspace.buffer(n * k, deltas.device, deltas.dtype).view(n, k)
        g = rows.to(device=deltas.device, dtype=deltas.dtype)
        images, counts = torch.unique_consecutive(owner, return_counts=True)
        start = 0
        for i, c in zip(images.tolist(), counts.tolist(), strict=True):
            ref = self._reference[0 if self._reference.shape[0] == 1 else i]  # (1, K)
            torch.addmm(ref, g[start : start + c], deltas[i], out=out[start : start + c])
            start += c
        c_, h, w = self._shape
        if self.memory_format == torch.channels_last:
            return out.view(n, h, w, c_).permute(0, 3, 1, 2)
        return out.view(n, c_, h, w)

    def _not_finite(self, image: int, col: int, row: Tensor) -> None:
        members = [i for i, g in enumerate(row.tolist()) if g]
        raise ValueError(
            f"the model output or its value is not finite for image {image} of the batch on the coalition "
            f"of bands {members} (coalition row {col}); "
            "check the model and the baseline"
        )

    def check_ends(self) -> None:
        r"""Raise the same clear error as :meth:`values` if ``v(∅)`` or ``v(N)`` is not finite."""
        everything = list(range(self.n_bands))
        for members, what, v in (
            ([], "empty coalition: the baseline", self.v_empty()),
            (everything, "grand coalition: the image", self.v_full()),
        ):
            bad = ~torch.isfinite(v)
            if bool(bad.any()):
                image = int(bad.nonzero()[0])
                raise ValueError(
                    f"the model output or its value is not finite for image {image} of the batch on the coalition "
                    f"of bands {members} (the {what}); check the model and the baseline"
                )


class TableGame:
    r"""
    A game read from a table of every coalition's value, ``(B, 2^M)`` in the bit order of
    :func:`~captum_iaside.coalitions.coalition_matrix`: for evaluating estimators and designs
    offline (each lookup counts as one evaluation).

    Args:
        table (Tensor): ``(B, 2^M)`` coalition values of ``B`` images.
        target (Tensor, optional): ``(B,)`` class targets to report.
                    Default: None

    Examples::

        >>> values = SpectralGame(model, bands, x, r, ValueFunction("log_prob"), y).values(coalition_matrix(8))
        >>> PermutationShapley().estimate(TableGame(values), 30, torch.Generator())
    """

    def __init__(self, table: Tensor, target: Tensor | None = None) -> None:
        n = table.shape[-1]
        m = n.bit_length() - 1
        if table.dim() != 2 or n != 2**m or m < 1:
            raise ValueError(f"table must have shape (B, 2^M), got {tuple(table.shape)}")
        self.table = table
        self.n_images, self.n_bands = table.shape[0], m
        self.target = target
        self.evaluations = 0
        self._powers = 2 ** torch.arange(m, device=table.device)

    def v_empty(self) -> Tensor:
        r"""``v(∅)`` per image."""
        self.evaluations += self.n_images
        return self.table[:, 0]

    def v_full(self) -> Tensor:
        r"""``v(N)`` per image."""
        self.evaluations += self.n_images
        return self.table[:, -1]

    def values(self, coalitions: Tensor | list[Tensor]) -> Tensor | list[Tensor]:
        r"""
        Values of ``(n, M)`` shared or ``(B, n, M)`` per-image 0/1 coalitions, ``(B, n)``; or of a
        list of ``B`` tensors ``(n_i, M)``, a list of ``(n_i,)``.
        """
        if isinstance(coalitions, (list, tuple)):
            out = []
            for i, rows in enumerate(coalitions):
                codes = (rows.to(self.table.device).long() * self._powers).sum(-1)
                self.evaluations += codes.numel()
                out.append(self.table[i, codes])
            return out
        codes = (coalitions.to(self.table.device).long() * self._powers).sum(-1)
        codes = codes.expand(self.n_images, -1) if codes.dim() == 1 else codes
        self.evaluations += codes.numel()
        return torch.gather(self.table, 1, codes)
