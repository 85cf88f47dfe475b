"""Image grids. Each function returns a Figure; the caller saves it or logs it.

Figures are made with ``matplotlib.figure.Figure`` directly, not pyplot, so no GUI backend
or global figure state is involved.
"""

import math
import os

import numpy as np
from matplotlib.figure import Figure

from mnist_vae.atomic import atomic_path


def image_grid(images: np.ndarray, title: str) -> Figure:
    """Tiles ``(n, 28, 28)`` images in [0, 1] into a near-square grid."""
    ncols = math.ceil(math.sqrt(len(images)))
    return _show(_tile(images, ncols), title)


def reconstruction_grid(originals: np.ndarray, reconstructions: np.ndarray, ncols: int) -> Figure:
    """Rows of originals, each directly above the row of their reconstructions."""
    rows = []
    for start in range(0, len(originals), ncols):
        rows.append(_tile(originals[start : start + ncols], ncols))
        rows.append(_tile(reconstructions[start : start + ncols], ncols))
    return _show(np.vstack(rows), "originals (odd rows) above reconstructions (even rows)")


def save(figure: Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")


def _tile(images: np.ndarray, ncols: int, pad: int = 1) -> np.ndarray:
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
