"""Every figure the pipeline draws. Each function returns a Figure; the caller saves it or
logs it.

Figures are made with ``matplotlib.figure.Figure`` directly, not pyplot, so no GUI backend
or global figure state is involved (the Agg canvas renders them) and nothing is shown.
"""

import math
import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mnist_vae.atomic import atomic_path

_CURVES = (("loss", "training loss"), ("reconstruction_nll", "reconstruction"), ("kl", "KL"))


def image_grid(images: np.ndarray, title: str, ncols: int | None = None) -> Figure:
    """Tiles ``(n, 28, 28)`` images in [0, 1], in rows of ``ncols`` (near-square if None)."""
    return _show(tile(images, ncols or math.ceil(math.sqrt(len(images)))), title)


def reconstruction_grid(originals: np.ndarray, reconstructions: np.ndarray, ncols: int) -> Figure:
    """Rows of originals, each directly above the row of their reconstructions."""
    rows = []
    for start in range(0, len(originals), ncols):
        rows.append(tile(originals[start : start + ncols], ncols))
        rows.append(tile(reconstructions[start : start + ncols], ncols))
    return _show(np.vstack(rows), "originals (odd rows) above reconstructions (even rows)")


def loss_curves(history: pd.DataFrame) -> Figure:
    """Train and validation curves per epoch, one panel per term of the loss."""
    figure = Figure(figsize=(12, 3.5), layout="constrained")
    for axes, (column, label) in zip(figure.subplots(1, 3), _CURVES, strict=True):
        axes.plot(history["epoch"], history[column], marker=".", label="train")
        axes.plot(history["epoch"], history[f"val_{column}"], marker=".", label="validation")
        axes.set(title=label, xlabel="epoch", ylabel="nats per image")
        axes.legend()
        later = history.loc[history["epoch"] > 1, [column, f"val_{column}"]]
        if len(later) > 1:  # the first epoch's loss would squash the rest of the curve
            low, high = later.min().min(), later.max().max()
            axes.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    return figure


def latent_scatter(points: np.ndarray, labels: np.ndarray, axis_name: str) -> Figure:
    """Test images in a 2-D view of the latent space, coloured by digit."""
    figure = Figure(figsize=(7, 6), layout="constrained")
    axes = figure.add_subplot()
    cloud = axes.scatter(
        points[:, 0], points[:, 1], c=labels, cmap="tab10", s=3, vmin=-0.5, vmax=9.5
    )
    figure.colorbar(cloud, ax=axes, ticks=range(10), label="digit")
    axes.set(title=f"test set in latent space: {axis_name}", xlabel="1st axis", ylabel="2nd axis")
    return figure


def save(figure: Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")


def tile(images: np.ndarray, ncols: int, pad: int = 1) -> np.ndarray:
    """Lays ``(n, h, w)`` images out on one canvas, ``ncols`` to a row, with white gaps."""
    nrows = math.ceil(len(images) / ncols)
    h, w = images.shape[1:]
    canvas = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad), dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = image
    return canvas


def _show(canvas: np.ndarray, title: str) -> Figure:
    figure = Figure(figsize=(canvas.shape[1] / 40, canvas.shape[0] / 40 + 0.4))
    axes = figure.add_subplot()
    axes.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    axes.set_axis_off()
    axes.set_title(title, fontsize=8)
    return figure
