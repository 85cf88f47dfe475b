"""Scoring at k=5000: the compiled scorer against the eager one it replaced, side by side.

Both draw the same numpy samples, so their scores must agree to float32 rounding; the
table gives each one's time for the images scored and the time projected to the 10,000
test images. The model is the IWAE paper's architecture (784-200-200-50 tanh), trained
or not (the time does not depend on the weights).

    MNIST_MIRROR=../shared/mnist python benchmarks/evaluate_speed.py --images 40
"""

import math
import os
import time
from pathlib import Path

import click
import numpy as np

TEST_IMAGES = 10_000


@click.command()
@click.option("--images", type=click.IntRange(min=1), default=40, help="Test images scored.")
@click.option("--k", type=click.IntRange(min=1), default=5000, help="Importance samples.")
@click.option("--batch-size", type=click.IntRange(min=1), default=10_000, help="Points a pass.")
@click.option("--model", type=click.Path(exists=True, dir_okay=False), help="A saved .keras VAE.")
def main(images, k, batch_size, model):
    import keras

    from mnist_vae import data, evaluation, machine, official
    from mnist_vae import model as model_lib
    from mnist_vae.config import ModelConfig, from_params

    folder = Path(os.environ.get("MNIST_MIRROR", "../shared/mnist"))
    test = data.split(official.read_official([str(folder)]), 1, 1, images, 0)["test"]
    x = data.as_inputs(test.images, "static", 0)
    if model:
        vae = model_lib.load(model)
    else:
        config = from_params(
            ModelConfig, latent_dim=50, hidden_size=200, hidden_layers=2, activation="tanh"
        )
        keras.utils.set_random_seed(0)
        vae = model_lib.build_vae(config, seed=0)
    rows = {}

    def compiled(*args):
        return evaluation.score(*args)[0]

    for name, score in (("compiled", compiled), ("eager (before)", _eager_score)):
        score(vae, x[: max(1, batch_size // k)], k, batch_size, 0)  # compiles; warms caches
        start = time.perf_counter()
        scores = score(vae, x, k, batch_size, 0)
        rows[name] = (time.perf_counter() - start, scores)
    print(f"CPU: {machine.cpu_model()}; backend {keras.backend.backend()}; k={k}")
    print(f"| scorer | {images} images (s) | 10,000 images (min, projected) | iw_nll |")
    print("| --- | ---: | ---: | ---: |")
    for name, (seconds, scores) in rows.items():
        minutes = seconds * TEST_IMAGES / images / 60
        print(f"| {name} | {seconds:.1f} | {minutes:.1f} | {scores['iw_nll'].mean():.6f} |")
    gap = np.abs(rows["compiled"][1]["iw_nll"] - rows["eager (before)"][1]["iw_nll"]).max()
    print(f"largest per-image |iw_nll| difference: {gap:.2e} nats")


def _eager_score(vae, x, k, batch_size, seed):
    """The scorer as it was before it was compiled (commit da4a81a), for the side-by-side."""
    import pandas as pd
    from keras import ops

    from mnist_vae import losses

    rng = np.random.default_rng(seed)
    step = max(1, batch_size // k)
    rows = []
    for i in range(0, len(x), step):
        chunk = x[i : i + step]
        encoded = vae.encode(chunk)
        mean, log_var = (ops.convert_to_numpy(encoded[n]) for n in ("z_mean", "z_log_var"))
        b, d = mean.shape
        z = mean + np.exp(0.5 * log_var) * rng.standard_normal((k, b, d)).astype(np.float32)
        z = z.reshape(k * b, d)
        logits = vae.decode(ops.convert_to_tensor(z))
        targets = np.tile(chunk, (k, 1))
        reconstruction = _by_sample(vae.reconstruction_nll(targets, logits), k)
        tiled = (np.tile(mean, (k, 1)), np.tile(log_var, (k, 1)))
        log_q = _by_sample(losses.log_normal(z, *tiled), k)
        log_p = _by_sample(losses.log_normal(z, 0.0, 0.0), k)
        squared = _by_sample(ops.mean(ops.square(targets - ops.sigmoid(logits)), axis=-1), k)
        log_w = -reconstruction + log_p - log_q
        peak = log_w.max(axis=0)
        iw = math.log(k) - (peak + np.log(np.exp(log_w - peak).sum(axis=0)))
        rows.append(
            pd.DataFrame(
                {"iw_nll": iw, "neg_elbo": -log_w.mean(axis=0), "mse": squared.mean(axis=0)}
            )
        )
    return pd.concat(rows, ignore_index=True)


def _by_sample(values, k):
    from keras import ops

    return ops.convert_to_numpy(values).astype(np.float64).reshape(k, -1)


if __name__ == "__main__":
    main()
