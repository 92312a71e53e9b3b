r"""Pictures of spectral importance, on matplotlib and :mod:`captum.attr.visualization`.

Every function returns ``(fig, axes)`` and never calls ``plt.show()``; images handed to Captum's
visualisation are NumPy arrays in HWC layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from captum.attr import visualization as captum_viz
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from torch import Tensor

from captum_iaside.bands import SpectralBands
from captum_iaside.importance import SpectralImportance


def _label(res: SpectralImportance, i: int) -> str:
    return str(res.config.get("model", f"model {i}"))


def _bands_of(res: SpectralImportance) -> SpectralBands:
    cfg = res.config.get("bands", {})
    return SpectralBands(n_bands=res.n_bands, shape=cfg.get("shape", "square"), edges=cfg.get("edges"))


def _band_ticks(bands: SpectralBands) -> list[str]:
    e = bands.band_edges()
    return [f"{i}\n{e[i]:.2f}–{e[i + 1]:.2f}" for i in range(bands.n_bands)]


def plot_spectral_importance(
    results: SpectralImportance | Sequence[SpectralImportance],
    kind: str = "sid",
    labels: Sequence[str] | None = None,
) -> tuple[Figure, np.ndarray]:
    r"""
    Bar chart of spectral importance per band with error bars (the bootstrap intervals where the
    results have them, else ±1 standard error); for several results, grouped bars and their
    spectral robustness scores, coloured by the side of the spectrum each SID leans to (the SRS
    itself is symmetric about a uniform SID).

    Args:
        results (SpectralImportance or sequence): One result, or several to compare.
        kind (str, optional): ``"sid"`` (the paper's distribution, error bars
                    :attr:`~SpectralImportance.sid_stderr`) or ``"values"`` (ψ ± stderr).
                    Default: ``"sid"``
        labels (sequence of str, optional): Legend names.
                    Default: each result's ``config["model"]``

    Returns:
        ``(fig, axes)``: one axis for a single result, two (bars, SRS ranking) for several.

    Examples::

        >>> fig, axes = plot_spectral_importance([res_a, res_b], labels=["A", "B"])
        >>> fig.savefig("comparison.png")
    """
    if kind not in ("sid", "values"):
        raise ValueError(f"kind must be 'sid' or 'values', got {kind!r}")
    many = not isinstance(results, SpectralImportance)
    results = list(results) if many else [results]
    if not results:
        raise ValueError("results is empty")
    if len({r.n_bands for r in results}) != 1:
        raise ValueError("results to compare must have the same number of bands")
    labels = list(labels) if labels is not None else [_label(r, i) for i, r in enumerate(results)]
    if len(labels) != len(results):
        raise ValueError(f"labels has {len(labels)} names for {len(results)} results")
    m = results[0].n_bands
    if many:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1.3]})
    else:
        fig, ax = plt.subplots(figsize=(7, 4))
        axes = np.array([ax])
    ax = axes[0]
    width = 0.8 / len(results)
    x = np.arange(m)
    intervals = all((r.sid_ci if kind == "sid" else r.values_ci) is not None for r in results)
    for i, (res, name) in enumerate(zip(results, labels, strict=True)):
        height = res.sid if kind == "sid" else res.values
        if intervals:  # the bootstrap interval, as asymmetric error bars
            ci = res.sid_ci if kind == "sid" else res.values_ci
            err = np.stack([(height - ci[0]).clamp(min=0).numpy(), (ci[1] - height).clamp(min=0).numpy()])
        else:
            err = np.nan_to_num((res.sid_stderr if kind == "sid" else res.stderr).numpy())
        offset = (i - (len(results) - 1) / 2) * width
        ax.bar(
            x + offset,
            height.numpy(),
            width,
            yerr=err,
            capsize=3,
            label=f"{name} (SRS {res.srs:.3f}, leans {res.direction})",
        )
    ax.set_xticks(x, _band_ticks(_bands_of(results[0])), fontsize=8)
    ax.set_xlabel("frequency band (normalised radius, low → high)")
    ax.set_ylabel("SID" if kind == "sid" else "ψ (mean Shapley value)")
    what = "Spectral importance distribution" if kind == "sid" else "Spectral importance ψ"
    bars = f"{results[0].config.get('confidence', 0.95):.0%} bootstrap intervals" if intervals else "±1 s.e."
    ax.set_title(f"{what}, {bars} (K = {', '.join(str(r.n_samples) for r in results)})")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(fontsize=8)
    if many:
        order = np.argsort([r.srs for r in results])
        srs_ax = axes[1]
        colours = ["tab:green" if results[j].signed_srs >= 0 else "tab:orange" for j in order]
        srs_ax.barh([labels[j] for j in order], [results[j].srs for j in order], color=colours)
        srs_ax.set_xlabel(f"spectral robustness score (M = {m})")
        srs_ax.set_title("SRS (green: leans to low bands,\norange: to high; compare at equal M)", fontsize=9)
    fig.tight_layout()
    return fig, axes


def plot_fourier_importance(
    result: SpectralImportance | Tensor,
    size: int = 64,
    bands: SpectralBands | None = None,
    title: str | None = None,
) -> tuple[Figure, np.ndarray]:
    r"""
    Band importances painted on the centred Fourier plane, with frequency axes in cycles/pixel
    and the band boundaries drawn (drawn by :func:`captum.attr.visualization.visualize_image_attr`).

    Args:
        result (SpectralImportance or Tensor): A global result, or ``(M,)`` per-band values
                    (e.g. one row of :meth:`IASIDE.attribute`).
        size (int, optional): Side of the plane drawn, in DFT bins.
                    Default: 64
        bands (SpectralBands, optional): The bands, needed when ``result`` is a tensor.
                    Default: the result's configuration
        title (str, optional): Axis title.
                    Default: a description of the values

    Returns:
        ``(fig, axes)`` with a single axis.
    """
    colorbar_label = "band attribution"
    if isinstance(result, SpectralImportance):
        values, bands = result.values, bands or _bands_of(result)
        title = title or f"ψ on the Fourier plane ({result.config.get('model', 'model')})"
        colorbar_label = f"ψ ({result.config.get('value', 'value')})"
    else:
        values = torch.as_tensor(result, dtype=torch.float64).flatten()
        if bands is None:
            raise ValueError("bands is required when result is a tensor of band values")
        title = title or "band attributions on the Fourier plane"
    if values.numel() != bands.n_bands:
        raise ValueError(f"{values.numel()} values for {bands.n_bands} bands")
    index = torch.fft.fftshift(bands.index(size, size))
    return _draw_fourier_plane(values.to(torch.float64)[index].numpy(), index.numpy(), title, colorbar_label)


def plot_fourier_attribution(
    attributions: Tensor,
    bands: SpectralBands | None = None,
    title: str = "attribution on the Fourier plane",
) -> tuple[Figure, np.ndarray]:
    r"""
    Per-bin attributions of the Fourier-plane door (:class:`~captum_iaside.fourier.FourierModel`)
    as a heat map with frequency axes, averaged over channels and real/imaginary parts.

    Args:
        attributions (Tensor): ``(C, H, W, 2)`` or ``(1, C, H, W, 2)`` attributions of one image
                    on the centred spectrum, or an ``(H, W)`` centred map.
        bands (SpectralBands, optional): Bands whose boundaries to draw.
                    Default: None
        title (str, optional): Axis title.
                    Default: ``"attribution on the Fourier plane"``

    Returns:
        ``(fig, axes)`` with a single axis.
    """
    attr = torch.as_tensor(attributions).detach().to("cpu", torch.float64)
    if attr.dim() == 5 and attr.shape[0] == 1:
        attr = attr[0]
    if attr.dim() == 4 and attr.shape[-1] == 2:
        attr = attr.mean(dim=(0, 3))
    if attr.dim() != 2:
        raise ValueError(
            f"attributions must be (C, H, W, 2), (1, C, H, W, 2) or (H, W), got {tuple(attributions.shape)}"
        )
    index = None if bands is None else torch.fft.fftshift(bands.index(*attr.shape)).numpy()
    return _draw_fourier_plane(attr.numpy(), index, title, "attribution")


def _draw_fourier_plane(
    plane: np.ndarray, band_index: np.ndarray | None, title: str, colorbar_label: str
) -> tuple[Figure, np.ndarray]:
    h, w = plane.shape
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    # Captum draws the map scaled by max |value|; the colour bar gives real units. (outlier_perc=0
    # can select no threshold at all in Captum through rounding, a tiny positive one cannot.)
    captum_viz.visualize_image_attr(
        plane[..., None],
        method="heat_map",
        sign="all",
        outlier_perc=1e-6,
        show_colorbar=False,
        plt_fig_axis=(fig, ax),
        use_pyplot=False,
        title=title,
    )
    scale = max(float(np.abs(plane).max()), 1e-12)
    cmap = LinearSegmentedColormap.from_list("RdWhGn", ["red", "white", "green"])
    fig.colorbar(ScalarMappable(Normalize(-scale, scale), cmap), ax=ax, label=colorbar_label)
    if band_index is not None:
        levels = np.arange(int(band_index.max())) + 0.5
        ax.contour(band_index, levels=levels, colors="black", linewidths=0.6)
    freqs = np.array([-0.5, -0.25, 0.0, 0.25])
    labels = [f"{f:g}" for f in freqs]
    # fftshift puts frequency f at index f * n + n // 2
    ax.set_xticks(freqs * w + w // 2, labels)
    ax.set_yticks(freqs * h + h // 2, labels)
    ax.tick_params(left=True, bottom=True, labelleft=True, labelbottom=True)
    ax.set_xlabel("horizontal frequency (cycles/pixel)")
    ax.set_ylabel("vertical frequency (cycles/pixel)")
    fig.tight_layout()
    return fig, np.array([ax])


def to_hwc(image: Tensor | np.ndarray, name: str = "image") -> np.ndarray:
    r"""
    An image or map as the HWC NumPy array Captum's visualisation needs.

    A torch tensor is read as CHW (PyTorch's layout) and transposed; a NumPy array must already
    be HWC, and one that looks CHW (``(1|3, H, W)`` with a wide last axis) is refused rather than
    drawn wrong.

    Args:
        image (Tensor or ndarray): ``(C, H, W)`` tensor, or ``(H, W, C)`` / ``(H, W)`` array.
        name (str, optional): Argument name used in error messages.
                    Default: ``"image"``

    Returns:
        *ndarray* ``(H, W, C)`` of float64.
    """
    if isinstance(image, Tensor):
        t = image.detach().to("cpu", torch.float64)
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3:
            raise ValueError(f"{name} as a tensor must be CHW (C, H, W), got shape {tuple(image.shape)}")
        return t.permute(1, 2, 0).numpy()
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 2:
        return arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"{name} must be an HWC array, got shape {arr.shape}")
    if arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{name} looks like a CHW array {arr.shape}; Captum's visualisation needs HWC: pass "
            f"{name}.transpose(1, 2, 0) or the torch tensor"
        )
    return arr


def plot_band_saliency(
    image: Tensor,
    band_maps: Tensor | np.ndarray,
    bands: SpectralBands,
    phi: Tensor | Sequence[float] | None = None,
    sign: str = "absolute_value",
) -> tuple[Figure, np.ndarray]:
    r"""
    Space × frequency for one image: each band component above its saliency map (e.g. integrated
    gradients on :class:`~captum_iaside.band_stack.BandStackModel`), the band's Shapley value in
    the title. Maps are drawn by :func:`captum.attr.visualization.visualize_image_attr`.

    Args:
        image (Tensor): ``(C, H, W)`` or ``(1, C, H, W)`` in the model's input space.
        band_maps (Tensor or ndarray): ``(M, C, H, W)`` tensor (or ``(1, M, C, H, W)``), or a
                    sequence of ``M`` HWC arrays.
        bands (SpectralBands): The bands.
        phi (Tensor or sequence of float, optional): ``(M,)`` Shapley values for the titles.
                    Default: None
        sign (str, optional): Captum's ``sign`` for the maps (``"absolute_value"``, ``"all"``,
                    ``"positive"``, ``"negative"``).
                    Default: ``"absolute_value"``

    Returns:
        ``(fig, axes)`` with axes of shape ``(2, M)``.
    """
    m = bands.n_bands
    if isinstance(band_maps, Tensor) and band_maps.dim() == 5 and band_maps.shape[0] == 1:
        band_maps = band_maps[0]
    if len(band_maps) != m:
        raise ValueError(f"band_maps must hold one map per band ({m}), got {len(band_maps)}")
    maps = [to_hwc(band_maps[i], f"band_maps[{i}]") for i in range(m)]
    if isinstance(image, Tensor) and image.dim() == 3:
        image = image[None]
    parts = bands.decompose(image)[0]
    values = None if phi is None else torch.as_tensor(phi, dtype=torch.float64).flatten().tolist()
    fig, axes = plt.subplots(2, m, figsize=(2.1 * m, 4.6), squeeze=False)
    for i in range(m):
        part = to_hwc(parts[i])
        shown = 0.5 + part / (2 * max(np.abs(part).max(), 1e-12))
        axes[0, i].imshow(shown.squeeze(-1) if shown.shape[-1] == 1 else shown, cmap="gray", vmin=0, vmax=1)
        head = f"band {i}" if values is None else f"band {i}: φ = {values[i]:+.3f}"
        axes[0, i].set_title(head, fontsize=8)
        captum_viz.visualize_image_attr(
            maps[i],
            method="heat_map",
            sign=sign,
            show_colorbar=False,
            plt_fig_axis=(fig, axes[1, i]),
            use_pyplot=False,
            title="saliency",
        )
        axes[1, i].title.set_fontsize(8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig, axes


#: panels per row of :func:`plot_band_decomposition` when ``ncols`` is not given
_DECOMPOSITION_COLUMNS = 5


def plot_band_decomposition(
    image: Tensor,
    bands: SpectralBands,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
) -> tuple[Figure, np.ndarray]:
    r"""
    An image and its band components in a grid, read row by row (each component contrast-stretched
    around zero, so that a zero-mean band-pass image shows as mid-grey with its structure).

    Args:
        image (Tensor): ``(C, H, W)`` or ``(1, C, H, W)`` in the model's input space.
        bands (SpectralBands): The bands.
        titles (sequence of str, optional): One title per band.
                    Default: band index and radius range
        ncols (int, optional): Panels per row; the ``M + 1`` panels wrap onto
                    ``ceil((M + 1) / ncols)`` rows. ``ncols=M + 1`` draws them all in one row.
                    Default: at most 5 panels per row

    Returns:
        ``(fig, axes)``: ``axes`` is a flat array of the ``M + 1`` axes drawn, the image first, then
        band ``0`` to ``M - 1``; the grid's unused cells are removed from the figure.

    Examples::

        >>> fig, axes = plot_band_decomposition(images[0], SpectralBands(8))  # 9 panels: 2 rows of 5
        >>> axes[1].get_title()
        'band 0: 0.00–0.12'
        >>> fig, axes = plot_band_decomposition(images[0], SpectralBands(8), ncols=3)  # 3 rows of 3
    """
    if isinstance(image, Tensor) and image.dim() == 3:
        image = image[None]
    parts = bands.decompose(image)[0]  # (M, C, H, W), checks the input
    m = bands.n_bands
    edges = bands.band_edges()
    titles = list(titles) if titles is not None else [f"band {i}: {edges[i]:.2f}–{edges[i + 1]:.2f}" for i in range(m)]
    if len(titles) < m:
        raise ValueError(f"titles must hold one title per band ({m}), got {len(titles)}")
    n_panels = m + 1
    if ncols is None:
        ncols = _DECOMPOSITION_COLUMNS
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = min(int(ncols), n_panels)
    nrows = -(-n_panels // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(2.0 * ncols, 2.4 * nrows), squeeze=False)
    for ax in grid.flat[n_panels:]:
        ax.remove()  # the last row's unused cells
    axes = grid.ravel()[:n_panels]
    img = image[0].permute(1, 2, 0).to(torch.float64).numpy()
    img = (img - img.min()) / max(np.ptp(img), 1e-12)
    axes[0].imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray")
    axes[0].set_title("image", fontsize=9)
    for i in range(m):
        part = parts[i].permute(1, 2, 0).to(torch.float64).numpy()
        shown = 0.5 + part / (2 * max(np.abs(part).max(), 1e-12))
        axes[i + 1].imshow(shown.squeeze(-1) if shown.shape[-1] == 1 else shown, cmap="gray", vmin=0, vmax=1)
        axes[i + 1].set_title(titles[i], fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig, axes


def plot_spectral_snr(snr: dict[str, Tensor], bands: SpectralBands | None = None) -> tuple[Figure, np.ndarray]:
    r"""
    Per-band signal-to-noise ratio of perturbations (the paper's motivating figure), one line per
    perturbation, from :func:`captum_iaside.robustness.spectral_snr`.

    Args:
        snr (dict): Perturbation name → ``(M,)`` SNR in dB.
        bands (SpectralBands, optional): For the band labels.
                    Default: equal-width square bands

    Returns:
        ``(fig, axes)`` with a single axis.
    """
    if not snr:
        raise ValueError("snr is empty")
    m = len(next(iter(snr.values())))
    bands = bands or SpectralBands(m)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in snr.items():
        ax.plot(np.arange(m), torch.as_tensor(values, dtype=torch.float64).numpy(), marker="o", label=name)
    ax.set_xticks(np.arange(m), _band_ticks(bands), fontsize=8)
    ax.set_xlabel("frequency band (normalised radius, low → high)")
    ax.set_ylabel("SNR (dB)")
    ax.set_title("Signal-to-noise ratio of perturbations per band")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig, np.array([ax])


#: label positions around a point tried by :func:`_place_labels`, in order: (x sign, y sign, ha, va)
_LABEL_SIDES = (
    (1, 1, "left", "bottom"),
    (1, -1, "left", "top"),
    (-1, 1, "right", "bottom"),
    (-1, -1, "right", "top"),
    (0, 1, "center", "bottom"),
    (0, -1, "center", "top"),
    (1, 0, "left", "center"),
    (-1, 0, "right", "center"),
)


#: how far :func:`_place_labels` looks: up to this many times its first distance
_LABEL_LEVELS = 8


def _renderer(fig: Figure) -> Any:
    canvas = fig.canvas
    return canvas.get_renderer() if hasattr(canvas, "get_renderer") else fig._get_renderer()


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Area shared by two boxes ``[x0, y0, x1, y1]``."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return float(w * h) if w > 0 and h > 0 else 0.0


def _place_labels(
    ax: Any,
    points: Sequence[tuple[float, float]],
    labels: Sequence[str],
    obstacles: Sequence[np.ndarray] = (),
    fontsize: float = 8,
    step: float = 5.0,
) -> list[Any]:
    r"""
    Annotate each point with its label where the label covers no other label, no obstacle (markers,
    error bars; boxes ``[x0, y0, x1, y1]`` in display coordinates) and stays inside the axes.

    Greedy, in the order given: the positions of :data:`_LABEL_SIDES` at ``step`` points from the
    point, then at 2, 3, ... :data:`_LABEL_LEVELS` times that distance (a thin leader line joins a label
    set that far to its point); the first free position is taken, else the one with the least overlap
    (another label counting ten times an obstacle). Call it once the figure's layout is final: the
    offsets are in points, so the labels keep apart at any dpi.

    Returns:
        The annotations, in the order of ``points``.
    """
    fig = ax.figure
    renderer = _renderer(fig)
    pt = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer).extents
    frame_area = max((frame[2] - frame[0]) * (frame[3] - frame[1]), 1.0)
    placed: list[np.ndarray] = []
    annotations = []
    pad = 1.0 * pt
    for (x, y), text in zip(points, labels, strict=True):
        probe = ax.annotate(text, (x, y), xytext=(0, 0), textcoords="offset points", fontsize=fontsize)
        best = None
        for level in range(1, _LABEL_LEVELS + 1):
            for k, (sx, sy, ha, va) in enumerate(_LABEL_SIDES):
                offset = (sx * step * level, sy * step * level)
                probe.xyann = offset
                probe.set_ha(ha)
                probe.set_va(va)
                box = probe.get_window_extent(renderer).extents
                outside = (box[2] - box[0]) * (box[3] - box[1]) - _overlap(box, frame)
                padded = box + np.array([-pad, -pad, pad, pad])  # labels keep a little apart
                # a label over another is unreadable, over an error bar merely untidy, outside the axes cut off
                cost = 10 * sum(_overlap(padded, other) for other in placed)
                cost += sum(_overlap(box, o) for o in obstacles) + frame_area * (outside > 1e-6)
                key = (cost, level, k)
                if best is None or key < best[0]:
                    best = (key, offset, ha, va, box)
                if cost == 0:
                    break
            if best[0][0] == 0:
                break
        probe.remove()
        (_, level, _), offset, ha, va, box = best
        arrow = dict(arrowstyle="-", color="0.5", lw=0.6, shrinkA=0, shrinkB=3) if level > 1 else None
        annotations.append(
            ax.annotate(
                text,
                (x, y),
                xytext=offset,
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=fontsize,
                arrowprops=arrow,
            )
        )
        placed.append(box)
    return annotations


def plot_robustness(report: Any, accuracy: str = "corruption_accuracy") -> tuple[Figure, np.ndarray]:
    r"""
    Scatter of the spectral robustness score against robust accuracy, one labelled point per model,
    with the SRS bootstrap interval as a horizontal error bar.

    The model names are placed apart: each label takes the first position around its point (right,
    left, above or below, then farther out with a leader line) where it covers no other label, point
    or error bar and stays inside the axes.

    Args:
        report (RobustnessReport): From :func:`captum_iaside.robustness.robustness_report`.
        accuracy (str, optional): ``"corruption_accuracy"``, ``"adversarial_accuracy"`` or
                    ``"clean_accuracy"``.
                    Default: ``"corruption_accuracy"``

    Returns:
        ``(fig, axes)`` with a single axis; the model names are its annotations (``axes[0].texts``), in
        the order of ``report.rows``.

    Examples::

        >>> report = robustness_report(results, accuracies)
        >>> fig, axes = plot_robustness(report, accuracy="adversarial_accuracy")
        >>> [t.get_text() for t in axes[0].texts]
        ['standard', 'noise σ=0.1', 'low-pass training']
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    points, bars = [], []
    for row in report.rows:
        x, y = row["srs"], row[accuracy]
        if y is None:
            raise ValueError(f"the report has no {accuracy}")
        xerr = None
        if row["srs_ci"] is not None:
            xerr = [[x - row["srs_ci"][0]], [row["srs_ci"][1] - x]]
        ax.errorbar(x, y, xerr=xerr, fmt="o", capsize=3)
        points.append((x, y))
        bars.append(row["srs_ci"] or (x, x))
    ax.margins(0.08)
    label = accuracy.replace("_", " ")
    corr = report.correlations.get(label)
    title = f"SRS vs {label}"
    if corr is not None:
        title += f" (Spearman {corr['spearman']:+.2f}, Pearson {corr['pearson']:+.2f})"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("spectral robustness score (95% bootstrap CI)")
    ax.set_ylabel(label)
    fig.tight_layout()
    if points:
        fig.draw_without_rendering()  # the final limits and layout, before measuring in display space
        pt = fig.dpi / 72.0
        obstacles = []
        for (x, y), (lo, hi) in zip(points, bars, strict=True):
            cx, cy = ax.transData.transform((x, y))
            x0, x1 = ax.transData.transform([(lo, y), (hi, y)])[:, 0]
            obstacles.append(np.array([cx - 3.5 * pt, cy - 3.5 * pt, cx + 3.5 * pt, cy + 3.5 * pt]))  # marker
            obstacles.append(np.array([x0 - pt, cy - 3 * pt, x1 + pt, cy + 3 * pt]))  # error bar and caps
        _place_labels(ax, points, [str(row["model"]) for row in report.rows], obstacles)
    return fig, np.array([ax])
