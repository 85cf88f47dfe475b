"""The small-matrix limit: how many examples/s a CPU could train if every FLOP of the
step ran at the speed of one batch-sized matrix product, the yardstick of issue #14.

numpy's SGEMM at (batch x 784) by (784 x hidden) sets the rate; a step costs three times
its forward products' FLOPs (forward, and the two products of the backward pass). The
table gives the limit for params.yaml's model and for the benchmark's 784-512-20.

    python benchmarks/matmul_limit.py
"""

import statistics
import time

import click
import numpy as np

PIXELS = 784


@click.command()
@click.option("--repeats", type=click.IntRange(min=3), default=200, help="Products timed.")
def main(repeats):
    from mnist_vae.config import ModelConfig, TrainConfig, from_params
    from mnist_vae.runtime import machine

    model = from_params(ModelConfig)
    batch = from_params(TrainConfig).batch_size
    rate = _sgemm_rate(batch, model.hidden_size, repeats)
    print(
        f"CPU: {machine.cpu_model()}; numpy SGEMM at {batch}x{PIXELS} by {PIXELS}x"
        f"{model.hidden_size}: {rate / 1e9:.0f} GFLOP/s"
    )
    print("| model | MFLOP an example (step) | limit (examples/s) |")
    print("| --- | ---: | ---: |")
    shapes = {
        f"params.yaml: {_name(model.hidden_size, model.hidden_layers, model.latent_dim)}": (
            model.hidden_size,
            model.hidden_layers,
            model.latent_dim,
        ),
        "benchmark: 784-512-20": (512, 1, 20),
    }
    for name, (hidden, layers, latent) in shapes.items():
        flops = step_flops(hidden, layers, latent)
        print(f"| {name} | {flops / 1e6:.2f} | {rate / flops:,.0f} |")


def step_flops(hidden: int, layers: int, latent: int) -> int:
    """Multiply-adds of a training step's matrix products, per example, times two."""
    between_hidden = (layers - 1) * hidden * hidden
    encoder = PIXELS * hidden + between_hidden + hidden * 2 * latent
    decoder = latent * hidden + between_hidden + hidden * PIXELS
    return 3 * 2 * (encoder + decoder)


def _sgemm_rate(rows: int, cols: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, PIXELS), dtype=np.float32)
    b = rng.standard_normal((PIXELS, cols), dtype=np.float32)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        seconds.append(time.perf_counter() - start)
    return 2 * rows * PIXELS * cols / statistics.median(seconds)


def _name(hidden: int, layers: int, latent: int) -> str:
    return "-".join(str(n) for n in [PIXELS, *[hidden] * layers, latent])


if __name__ == "__main__":
    main()
