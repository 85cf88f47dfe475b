"""Scoring at k=5000: the scorer against the ones it replaced, side by side.

All draw the same numpy samples, so their scores must agree: to the last bit for the
scorer one compiled call at a time (before 2026-11-24), to float32 rounding for the
eager one (before commit da4a81a, with ``--eager``, slow). Rounds are interleaved; the
table gives each round's time for the images scored and the time projected to the 10,000
test images. The model is the IWAE paper's architecture (784-200-200-50 tanh), trained
or not (the time does not depend on the weights).

    MNIST_MIRROR=../shared/mnist python benchmarks/evaluate_speed.py --images 1000 --rounds 2
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
@click.option("--rounds", type=click.IntRange(min=1), default=1, help="Interleaved rounds.")
@click.option("--eager", is_flag=True, help="Also time the eager scorer (slow).")
@click.option("--model", type=click.Path(exists=True, dir_okay=False), help="A saved .keras VAE.")
def main(images, k, batch_size, rounds, eager, model):
    import keras

    from mnist_vae.config import ModelConfig, from_params
    from mnist_vae.mnist import data, official
    from mnist_vae.runtime import machine
    from mnist_vae.scoring import evaluation
    from mnist_vae.vae import model as model_lib

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
    scorers = {"now": lambda *args: evaluation.score(*args)[0], "one call at a time": _serial}
    if eager:
        scorers["eager"] = _eager_score
    for score in scorers.values():
        score(vae, x[: max(1, batch_size // k)], k, batch_size, 0)  # compiles; warms caches
    times = {name: [] for name in scorers}
    gaps = dict.fromkeys(scorers, 0.0)
    for _ in range(rounds):
        scores = {}
        for name, score in scorers.items():
            start = time.perf_counter()
            scores[name] = score(vae, x, k, batch_size, 0)["iw_nll"]
            times[name].append(time.perf_counter() - start)
            gap = np.abs(scores[name] - scores["now"]).max()
            gaps[name] = max(gaps[name], gap)
    print(f"CPU: {machine.cpu_model()}; backend {keras.backend.backend()}; k={k}")
    print(f"| scorer | {images} images (s) | 10,000 images (min, projected) | largest gap |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in times.items():
        taken = ", ".join(f"{s:.1f}" for s in seconds)
        minutes = ", ".join(f"{s * TEST_IMAGES / images / 60:.2f}" for s in seconds)
        print(f"| {name} | {taken} | {minutes} | {gaps[name]:.1e} nats |")


def _serial(vae, x, k, batch_size, seed):
    """The scorer as it was before 2026-11-24: one compiled call at a time, with a thread
    drawing the next chunk's normals beside it."""
    import functools
    from concurrent.futures import ThreadPoolExecutor

    import pandas as pd

    from mnist_vae.runtime.execution import compiled
    from mnist_vae.scoring import evaluation

    step = max(1, batch_size // k)
    chunks = [x[i : i + step] for i in range(0, len(x), step)]
    terms = compiled(functools.partial(evaluation._sample_terms, vae))
    draws = evaluation._draws(seed, chunks, k, vae.model_config.latent_dim)
    rows = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, draws)
        for i, chunk in enumerate(chunks):
            epsilon = pending.result()
            if i + 1 < len(chunks):
                pending = pool.submit(next, draws)
            rows.append(evaluation._score_chunk(vae, terms, chunk, epsilon)[0])
    return pd.concat(rows, ignore_index=True)


def _eager_score(vae, x, k, batch_size, seed):
    """The scorer as it was before it was compiled (commit da4a81a), for the side-by-side."""
    import pandas as pd
    from keras import ops

    from mnist_vae.vae import losses

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
