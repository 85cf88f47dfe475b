"""Telling a real change in a test metric from noise, with two sources of evidence.

1. The seed band (``mnist-vae-seed-band``): how much the metric moves when only the
   training seed changes, as a standard deviation sigma over seeds. Two runs that differ
   in their seed alone differ by sqrt(2) sigma on average, so a change is beyond the
   seed's noise when it exceeds ``Z * sqrt(2) * sigma``.
2. A paired comparison on the same test images: the mean of the per-image differences and
   its standard error. A change is beyond the test set's sampling noise when the mean
   exceeds ``Z`` standard errors.

A change is called better or worse only when it is beyond both, where both are at hand:
on 10,000 test images the paired error is small enough that a seed change alone passes
it, and a tiny test set can hide a change that the seed band would call real.
"""

import math
from dataclasses import dataclass

import pandas as pd

Z = 2.0  # about 95% two-sided, for a difference that is normal
LOWER_IS_BETTER = frozenset({"neg_elbo", "iw_nll", "reconstruction_nll", "reconstruction_mse"})
HIGHER_IS_BETTER = frozenset({"accuracy"})
NOT_JUDGED = frozenset({"neg_elbo_stderr"})  # the spread over images, not a quality


@dataclass(frozen=True)
class Paired:
    """The mean per-image difference (target minus baseline), its standard error, n."""

    mean: float
    stderr: float
    n: int


def paired(baseline: pd.DataFrame, target: pd.DataFrame) -> dict[str, Paired]:
    """Each score both tables hold, differenced image by image; empty when the two were
    not scored on the same images (a changed test set), where pairing means nothing."""
    same_images = baseline.index.equals(target.index) and baseline["digit"].equals(target["digit"])
    if not same_images or len(baseline) < 2:
        return {}
    columns = [c for c in baseline.columns if c in target.columns and c != "digit"]
    differences = {c: (target[c] - baseline[c]).to_numpy(dtype=float) for c in columns}
    return {
        name: Paired(d.mean(), d.std(ddof=1) / math.sqrt(len(d)), len(d))
        for name, d in differences.items()
    }


def seed_noise(band: dict | None) -> float | None:
    """The largest change the seed alone explains, from a metric's band statistics."""
    return None if band is None else Z * math.sqrt(2) * band["std"]


def verdict(metric: str, change: float | None, band: dict | None, pair: Paired | None) -> str:
    """``better``, ``worse`` (``higher`` or ``lower`` for a metric with no better side),
    ``within noise``, or why there is no verdict."""
    if metric in NOT_JUDGED or change is None:
        return "not judged"
    if band is None:
        return "no seed band"
    beyond = abs(change) > seed_noise(band)
    if pair is not None:
        beyond = beyond and abs(pair.mean) > Z * pair.stderr
    if not beyond:
        return "within noise"
    if metric in LOWER_IS_BETTER | HIGHER_IS_BETTER:
        return "better" if (change < 0) == (metric in LOWER_IS_BETTER) else "worse"
    return "higher" if change > 0 else "lower"
