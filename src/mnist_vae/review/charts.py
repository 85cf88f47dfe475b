"""The review's charts, each comparing the two sides on one set of axes: their loss
curves, their -ELBO per digit, and the paired per-image differences against the noise
band. A stage draws none of them; ``review`` draws them from two revisions' files.
"""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mnist_vae.review import verdicts

SCORE = "neg_elbo"


def loss_curves(histories: dict[str, pd.DataFrame]) -> Figure:
    """Each side's training (solid) and validation (dashed) loss per epoch."""
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    for (side, history), color in zip(histories.items(), ("C0", "C1"), strict=False):
        axes.plot(history["epoch"], history["loss"], color=color, label=f"{side}: training")
        axes.plot(
            history["epoch"], history["val_loss"], "--", color=color, label=f"{side}: validation"
        )
    axes.set(title="loss per epoch", xlabel="epoch", ylabel="nats per image")
    axes.legend()
    return figure


def per_digit(scores: dict[str, pd.DataFrame]) -> Figure:
    """Each side's mean test -ELBO per digit, as bars side by side."""
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    width = 0.8 / max(len(scores), 1)
    for i, (side, table) in enumerate(scores.items()):
        means = table.groupby("digit")[SCORE].mean()
        axes.bar(means.index + (i - (len(scores) - 1) / 2) * width, means, width, label=side)
    axes.set(title="test -ELBO per digit", xlabel="digit", ylabel="nats per image")
    axes.set_xticks(range(10))
    axes.legend()
    return figure


def paired_differences(
    baseline: pd.DataFrame, target: pd.DataFrame, band: dict | None, names: tuple[str, str]
) -> Figure:
    """The per-image differences in -ELBO (target minus baseline) as a histogram, their
    mean, and the change the seed alone explains (shaded) where a seed band is at hand."""
    differences = (target[SCORE] - baseline[SCORE]).to_numpy(dtype=float)
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    axes.hist(differences, bins=60, color="C2")
    mean = float(np.mean(differences))
    axes.axvline(mean, color="black", label=f"mean {mean:+.3g}")
    noise_band = verdicts.seed_noise(band["test"].get(SCORE)) if band else None
    if noise_band is not None:
        label = f"seed noise ±{noise_band:.3g} ({verdicts.Z:g}·√2·σ)"
        axes.axvspan(-noise_band, noise_band, color="grey", alpha=0.25, label=label)
    axes.set(
        title=f"per-image -ELBO, {names[1]} minus {names[0]}",
        xlabel="nats per image (lower is better)",
        ylabel="test images",
    )
    axes.legend()
    return figure
