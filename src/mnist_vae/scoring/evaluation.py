"""Scoring a trained VAE on held-out images, in nats per image.

The negative ELBO and the importance-weighted bound (Burda et al., 2016) come from the
same k posterior samples per image: log w = log p(x|z) + log p(z) - log q(z|x). The ELBO
estimate is the mean of log w, the IW bound the log of the mean of w; by Jensen's
inequality the IW estimate of -log p(x) is at most the -ELBO for every image, every run.
"""

import functools
import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
from keras import ops

from mnist_vae.errors import PipelineError, not_finite
from mnist_vae.runtime.countdown import Countdown
from mnist_vae.runtime.execution import compiled
from mnist_vae.vae import losses
from mnist_vae.vae.model import VAE

ACTIVE_THRESHOLD = 0.01


def score(
    vae: VAE, x: np.ndarray, k: int, batch_size: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Scores every image with k posterior samples.

    Args:
        vae: the model.
        x: inputs ``(n, 784)``, binarized as the model expects.
        k: importance samples per image.
        batch_size: latent points decoded per pass; images are taken ``batch_size // k``
            at a time (at least one), so memory stays flat as k grows.
        seed: seeds the posterior samples.

    Returns:
        A table with a row per image (``neg_elbo``, ``iw_nll``, ``reconstruction_nll``,
        ``kl``, ``reconstruction_mse`` and, for a conditional model, ``predicted``), and
        the posterior means ``(n, latent_dim)``.
    """
    step = max(1, batch_size // k)
    chunks = [x[i : i + step] for i in range(0, len(x), step)]
    terms = compiled(functools.partial(_sample_terms, vae))
    latent_dim = vae.model_config.latent_dim
    calls = (
        functools.partial(_score_chunk, vae, terms, chunk, epsilon)
        for chunk, epsilon in zip(chunks, _draws(seed, chunks, k, latent_dim), strict=True)
    )
    countdown = Countdown(len(chunks), f"scoring {len(x)} images at k={k}: chunk")
    parts = [countdown.step(part) for part in _two_at_a_time(calls)]
    rows = pd.concat([rows for rows, _ in parts], ignore_index=True)
    return rows, np.concatenate([z_mean for _, z_mean in parts])


def _draws(seed: int, chunks: list[np.ndarray], k: int, latent_dim: int) -> Iterator[np.ndarray]:
    """Standard normals for each chunk in turn, from numpy, so that a score does not
    depend on the backend, and in the order they always came."""
    rng = np.random.default_rng(seed)
    for chunk in chunks:
        yield rng.standard_normal((k, len(chunk), latent_dim)).astype(np.float32)


def _two_at_a_time(calls: Iterator[Callable]) -> Iterator:
    """Each call's result in order, with two calls running at once while the calling
    thread makes the next one's arguments.

    At k=5000 numpy's draws are about a seventh of the CPU time. Drawn beside a single
    compiled call, they held one of its two threads back, and the call, whose threads
    split the work in halves, waited for it. With a second call in flight the other
    core always has work. Every chunk goes through the same compiled function as
    before, so the scores are the same to the last bit. At most three chunks' draws
    are held at a time.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: deque[Future] = deque()
        for call in calls:
            pending.append(pool.submit(call))
            if len(pending) > 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _score_chunk(vae: VAE, terms, x: np.ndarray, epsilon) -> tuple[pd.DataFrame, np.ndarray]:
    """The heavy part runs compiled, and the sums over the k samples in float64."""
    k = len(epsilon)
    out = {name: ops.convert_to_numpy(value) for name, value in terms(x, epsilon).items()}
    reconstruction, log_q, log_p, squared = (
        out[name].astype(np.float64) for name in ("reconstruction", "log_q", "log_p", "squared")
    )
    log_w = -reconstruction + log_p - log_q
    rows = {
        "neg_elbo": -log_w.mean(axis=0),
        "iw_nll": math.log(k) - _logsumexp(log_w),
        "reconstruction_nll": reconstruction.mean(axis=0),
        "kl": (log_q - log_p).mean(axis=0),
        "reconstruction_mse": squared.mean(axis=0),
    }
    if vae.model_config.conditional:
        rows["predicted"] = out["class_logits"].argmax(axis=-1)
    return pd.DataFrame(rows), out["z_mean"]


def _sample_terms(vae: VAE, x, epsilon) -> dict:
    """Per sample and image ``(k, b)``: -log p(x|z), log q(z|x), log p(z) and the squared
    error of the decoder's mean, at z = mean + sigma * epsilon."""
    encoded = vae.encode(x)
    mean, log_var = encoded["z_mean"], encoded["z_log_var"]
    k, b, d = ops.shape(epsilon)
    z = mean + ops.exp(0.5 * log_var) * epsilon
    digits = None
    if vae.model_config.conditional:
        digits = ops.tile(ops.softmax(encoded["class_logits"]), (k, 1))
    logits = ops.reshape(vae.decode(ops.reshape(z, (k * b, d)), digits), (k, b, -1))
    reconstruction, decoded = vae.reconstruction_nll_and_mean(x, logits)
    out = {
        "reconstruction": reconstruction,
        "log_q": losses.log_normal(z, mean, log_var),
        "log_p": losses.log_normal(z, 0.0, 0.0),
        "squared": ops.mean(ops.square(x - decoded), axis=-1),
        "z_mean": mean,
    }
    if vae.model_config.conditional:
        out["class_logits"] = encoded["class_logits"]
    return out


def _logsumexp(log_w: np.ndarray) -> np.ndarray:
    peak = log_w.max(axis=0)
    return peak + np.log(np.exp(log_w - peak).sum(axis=0))


def summarize(rows: pd.DataFrame, labels: np.ndarray, z_mean: np.ndarray) -> dict:
    """The test metrics: means of the per-image scores, with the -ELBO's standard error."""
    summary = {name: float(rows[name].mean()) for name in rows if name != "predicted"}
    summary["neg_elbo_stderr"] = float(rows["neg_elbo"].std(ddof=1) / math.sqrt(len(rows)))
    summary["active_units"] = int((unit_activity(z_mean) > ACTIVE_THRESHOLD).sum())
    if "predicted" in rows:
        summary["accuracy"] = float((rows["predicted"].to_numpy() == labels).mean())
    return summary


def require_finite(scores: dict, model_path) -> dict:
    """``scores``, if every one is finite: a NaN metric would read as neither better nor
    worse than any other, in ``dvc metrics diff`` and in the registry alike.

    Raises:
        PipelineError: naming the model and the scores that are not finite.
    """
    bad = not_finite(scores)
    if bad:
        raise PipelineError(
            f"{model_path}: test scores not finite ({', '.join(bad)}); the model is "
            "broken, so nothing was written: retrain it"
        )
    return scores


def per_image(rows: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Every test image's scores, named as the test metrics they average to (a conditional
    model's ``accuracy`` is 1 where its classifier was right): what a review pairs image by
    image to tell a real change from the test set's sampling noise."""
    table = rows.assign(digit=labels)
    if "predicted" in table:
        table["accuracy"] = (table.pop("predicted").to_numpy() == labels).astype(int)
    return table.rename_axis("image")


def unit_activity(z_mean: np.ndarray) -> np.ndarray:
    """Cov_x(E_q[z_i]) per latent dimension; a unit is active above 0.01 (Burda et al.)."""
    return z_mean.var(axis=0)


def latent_units(vae: VAE, x: np.ndarray, z_mean: np.ndarray) -> pd.DataFrame:
    """Per latent dimension: its activity and its mean KL to the prior, in closed form."""
    log_var = ops.convert_to_numpy(vae.encode(x)["z_log_var"])
    kl = ops.convert_to_numpy(losses.gaussian_kl_per_dim(z_mean, log_var)).mean(axis=0)
    activity = unit_activity(z_mean)
    return pd.DataFrame(
        {"activity": activity, "kl": kl, "active": activity > ACTIVE_THRESHOLD},
        index=pd.RangeIndex(len(kl), name="dim"),
    )


def per_digit(rows: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """-ELBO, reconstruction term and image count for each digit."""
    table = rows.assign(digit=labels).groupby("digit")
    return table.agg(
        neg_elbo=("neg_elbo", "mean"),
        reconstruction_nll=("reconstruction_nll", "mean"),
        count=("neg_elbo", "size"),
    )
