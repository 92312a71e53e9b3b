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

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from captum_iaside.errors import NonFiniteValueError
from captum_iaside.execution.forward_args import has_per_image_args, repeat_args
from captum_iaside.execution.model_state import autocast_to, dtype_mismatch
from captum_iaside.execution.workspace import Workspace, is_out_of_memory, preferred_memory_format
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.protocol import check_finite_ends
from captum_iaside.game.value_functions import ValueFunction, check_target_range, scores_of


class SpectralGame:
    r"""
    The game ``v_x(S) = value(f(x_S), y)`` for a batch of images.

    Args:
        forward_func (callable): The model, ``f(images, *additional_forward_args)``.
        bands (FourierPartition): The players.
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
        bands: FourierPartition,
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
        self._mismatch = dtype_mismatch(forward_func, inputs, autocast_dtype)
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
        per_image = c * h * w * inputs.element_size()
        self.workspace.prepare(
            self.n_images, inputs.device, self.n_images * per_image, self.n_images * self.n_bands * per_image
        )
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
            out = self._forward(self._copy(inputs), self.args)
            self._check_first(out, self.n_images, None)
            scores = scores_of(out)  # a named value's output already is; a callable value's may hold them
            if isinstance(scores, Tensor) and scores.dim() == 2:
                self.target = scores.argmax(dim=1)  # a callable value gets the predicted class too, never None
            self._v_full = self._value(out, self.target, self.n_images)
            self._count(self.n_images, 1)

    # ------------------------------------------------------------- helpers
    def _copy(self, images: Tensor) -> Tensor:
        # the caller's images and baseline go to the model as copies: a model that edits its input in
        # place must not change them
        return images.clone(memory_format=self.memory_format)

    def _count(self, images: int, coalitions: int) -> None:
        self.evaluations += images
        if self.progress is not None:
            self.progress(coalitions)

    def _forward(self, images: Tensor, args: tuple[Any, ...]) -> Any:
        with torch.inference_mode(), autocast_to(images.device, self.autocast_dtype):
            try:
                out = self.forward_func(images, *args)
            except Exception as exc:  # the first forward failing on images of another dtype: say so
                if self._mismatch is not None and not self._checked:
                    raise self._mismatch from exc
                raise
        # a named value reads class scores wherever the model zoo put them (logits, a tuple's first item)
        return out if self.value.fn is not None else scores_of(out)

    def _value(self, out: Any, target: Tensor | None, n: int) -> Tensor:
        r"""Values of ``n`` images as an ordinary float64 tensor, NaN where the output is not finite."""
        if isinstance(out, Tensor) and (out.dim() == 0 or out.shape[0] != n):  # every forward, not only the first
            raise ValueError(
                f"the model returned shape {tuple(out.shape)} for a forward of {n} images; expected ({n}, K) or ({n},)"
            )
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
        if target is not None and isinstance(out, Tensor) and out.dim() == 1 and self.value.fn is None:
            raise ValueError(
                "a target was given, but the model returns one number per image (shape (N,)), which has no "
                "classes to pick from; pass target=None (in a global run, use_labels=False)"
            )
        self.output_classes = out.shape[1] if isinstance(out, Tensor) and out.dim() == 2 else None
        if self.value.needs_target(out):
            check_target_range(target, out)
        self._checked = True

    # ---------------------------------------------------------------- values
    def v_empty(self) -> Tensor:
        r"""``v(∅)``: the values of the baseline images, ``(B,)`` float64 (evaluated once)."""
        if self._v_empty is None:
            b = self.n_images
            shared = self.reference.shape[0] == 1 and not has_per_image_args(self.args, b)
            out = self._forward(self._copy(self.reference), self.args) if shared else None
            if shared and isinstance(out, Tensor) and out.dim() > 0 and out.shape[0] == 1:
                out = out.expand(b, *out.shape[1:])
                images = 1
            else:
                out = self._forward(self._copy(self.reference.expand(b, *self._shape)), self.args)
                images = b + (1 if shared else 0)
            self._check_first(out, b, self.target)
            self._v_empty = self._value(out, self.target, b)
            self._count(images, 1)
        return self._v_empty

    def v_full(self) -> Tensor:
        r"""``v(N)``: the values of the unperturbed images, ``(B,)`` float64 (evaluated once)."""
        if self._v_full is None:
            out = self._forward(self._copy(self.inputs), self.args)
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
                        :func:`~captum_iaside.game.coalitions.coalition_matrix`), ``(B, n, M)`` per
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
            p = self.workspace.chunk_size(b, n - start)
            rows = coalitions[..., start : start + p, :]
            target = None if self.target is None else self.target.repeat_interleave(p)
            args = repeat_args(self.args, b, p)
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
        forward = self.workspace.start_forward(device)
        try:
            out = self._forward(images(), args)
        except (RuntimeError, MemoryError) as exc:
            if not (is_out_of_memory(exc) and self.workspace.auto):
                raise
            if device.type == "cuda":
                torch.cuda.empty_cache()
            self.workspace.out_of_memory(p, self.n_images)
            return None
        self._check_first(out, n, target)
        value = self._value(out, target, n)
        self.workspace.finish_forward(forward, p, self.n_images, n, device)
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
            p = self.workspace.chunk_size(b, -(-(total - start) // b))
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
        raise NonFiniteValueError(
            f"the model output or its value is not finite for image {image} of the batch on the coalition "
            f"of bands {members} (coalition row {col}); "
            "check the model and the baseline",
            image,
            members,
        )

    def check_ends(self) -> None:
        r"""Raise the same clear error as :meth:`values` if ``v(∅)`` or ``v(N)`` is not finite."""
        check_finite_ends(
            self.v_empty(),
            self.v_full(),
            self.n_bands,
            "the model output or its value",
            "; check the model and the baseline",
        )
