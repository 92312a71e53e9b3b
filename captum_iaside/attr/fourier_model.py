r"""The Fourier-plane door: the model as a function of the image's spectrum, for Captum.

:func:`spectrum_of` writes an image's centred 2-D spectrum in a real layout ``(B, C, H, W, 2)``
(real and imaginary parts, zero frequency in the middle), :class:`FourierModel` feeds the model
``Re(ifft2(spectrum))``, and feature masks group the bins — by band
(:meth:`SpectralBands.feature_mask <captum_iaside.SpectralBands.feature_mask>`), band × orientation,
or single conjugate pairs (:func:`bin_feature_mask`). ``FeatureAblation``, ``ShapleyValueSampling``
or ``Occlusion`` on that input return per-bin attributions shaped like the spectrum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from captum_iaside._utils.checks import check_callable, check_images
from captum_iaside.game.baselines import BaselineSpec, prepared_reference, resolve_baseline
from captum_iaside.game.partition import conjugate_representative
from captum_iaside.game.value_functions import scores_of


def spectrum_of(images: Tensor) -> Tensor:
    r"""
    The centred spectrum of real images in a real layout.

    Args:
        images (Tensor): ``(B, C, H, W)`` real images.

    Returns:
        *Tensor* ``(B, C, H, W, 2)``: real and imaginary parts of ``fftshift(fft2(images))``.
    """
    check_images(images, "images")
    work = torch.float64 if images.dtype == torch.float64 else torch.float32
    spec = torch.fft.fftshift(torch.fft.fft2(images.to(work)), dim=(-2, -1))
    return torch.view_as_real(spec).to(images.dtype)


def image_of(spectrum: Tensor) -> Tensor:
    r"""The real images ``Re(ifft2(ifftshift(spectrum)))`` of a ``(B, C, H, W, 2)`` spectrum."""
    if spectrum.dim() != 5 or spectrum.shape[-1] != 2:
        raise ValueError(f"spectrum must have shape (B, C, H, W, 2), got {tuple(spectrum.shape)}")
    work = torch.float64 if spectrum.dtype == torch.float64 else torch.float32
    spec = torch.view_as_complex(spectrum.to(work).contiguous())
    return torch.fft.ifft2(torch.fft.ifftshift(spec, dim=(-2, -1))).real.to(spectrum.dtype)


def bin_feature_mask(h: int, w: int) -> Tensor:
    r"""
    One feature per DFT bin and its conjugate (the finest grouping that keeps images real),
    numbered ``0 .. n - 1`` on the centred layout; shape ``(1, 1, H, W, 1)``.
    """
    ids = torch.unique(conjugate_representative(h, w), return_inverse=True)[1]
    return torch.fft.fftshift(ids)[None, None, :, :, None]


class FourierModel(nn.Module):
    r"""
    The model as a function of the centred spectrum ``(B, C, H, W, 2)`` of its input.

    Args:
        forward_func (callable): The model, ``f(images, *additional_forward_args)``.
        baseline (str, Tensor or callable, optional): The reference image whose spectrum
                    :meth:`prepare` returns as Captum ``baselines``.
                    Default: ``"zero"``

    Examples::

        >>> from captum.attr import FeatureAblation
        >>> fm = FourierModel(model)
        >>> spectrum, baselines = fm.prepare(images)
        >>> attr = FeatureAblation(fm).attribute(spectrum, baselines=baselines, target=labels,
        ...                                      feature_mask=SpectralBands(8).feature_mask(32, 32))
        >>> attr.shape                           # (B, C, 32, 32, 2), one value per band
    """

    def __init__(self, forward_func: Callable[..., Tensor], baseline: BaselineSpec = "zero") -> None:
        super().__init__()
        check_callable(forward_func, "forward_func")
        self.forward_func = forward_func
        self.baseline = resolve_baseline(baseline)

    def prepare(self, inputs: Tensor, baselines: BaselineSpec | None = None, seed: int = 0) -> tuple[Tensor, Tensor]:
        r"""
        ``(spectrum, baseline_spectrum)`` of a batch of images, both ``(B, C, H, W, 2)``.

        Args:
            inputs (Tensor): Images ``(B, C, H, W)``.
            baselines (str, Tensor or callable, optional): Overrides the constructor's baseline.
                        Default: None
            seed (int, optional): Seed of random baselines.
                        Default: 0
        """
        inputs, reference = prepared_reference(inputs, self.baseline, baselines, seed)
        return spectrum_of(inputs), spectrum_of(reference)

    def forward(self, spectrum: Tensor, *args: Any) -> Tensor:
        return scores_of(self.forward_func(image_of(spectrum), *args))
