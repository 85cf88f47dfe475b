"""Training speed: the project's train stage against its peers, a plain Keras ``fit``
(the baseline) and a plain PyTorch eager loop.

Each measurement runs in a process of its own (for a clean peak RSS), the three
implementations in turn for each size and pair, so that the machine's noise hits them
alike. All train on the same data for the same epochs with the same batch size and Adam;
the Keras two start from the same weights, PyTorch from the same initialisation scheme;
each is scored on the test set afterwards, in float32. The peers compute in float32; the
project at its default precision. PyTorch runs in an environment of its own,
``.torch-venv``, made on first use from PyPI (``TORCH``), never in the project's lock.

    python benchmarks/train_speed.py                 # the table, default sizes
    python benchmarks/train_speed.py --epochs 3 --sizes 20x512x128 --sizes 2x512x128
    python benchmarks/train_speed.py --sizes 20x512x128 --levers --jax   # + Keras on JAX
"""

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
SIZES = ("20x512x128", "2x512x128", "20x1024x128", "20x512x1024")
TORCH = "torch==2.13.0"
TORCH_VENV = ROOT / ".torch-venv"
PEERS = ("baseline", "pytorch")
# The two ways a speed is counted: the median epoch after the first, and the whole run,
# whose first epoch traces and compiles (XLA's compile is the project's cost; the peers
# have less of it). Every epoch includes its validation pass, in every implementation.
WAYS = {
    "examples_per_second": "steady state",
    "whole_run_examples_per_second": "whole run",
}
# One lever changed at a time from the default (params.yaml's train section, float32),
# as (TrainConfig changes, environment): the compiled epoch loop, XLA over it, bf16 with
# and without XLA, deterministic ops, TensorFlow's thread pools. Keras's fit turns XLA
# off under op determinism, so its XLA row turns determinism off.
LEVERS = {
    "Keras fit (per-step Python)": ("loop=fit,jit_compile=false", {}),
    "Keras fit + XLA": ("loop=fit,jit_compile=true,deterministic=false", {}),
    "epoch loop, no XLA": ("jit_compile=false", {}),
    "default": ("", {}),
    "bf16 (mixed_bfloat16)": ("precision=mixed_bfloat16", {}),
    "bf16, no XLA (auto on AMX)": ("precision=mixed_bfloat16,jit_compile=false", {}),
    "ops not deterministic": ("deterministic=false", {}),
    "one inter-op thread": ("", {"TF_NUM_INTEROP_THREADS": "1"}),
    "one intra-op thread": ("", {"TF_NUM_INTRAOP_THREADS": "1"}),
}
# With --jax: the project's code under Keras's JAX backend (in the lock, for its tests).
JAX_LEVERS = {
    "Keras on JAX (CPU), epoch loop": ("", {"KERAS_BACKEND": "jax"}),
    "Keras on JAX (CPU), Keras fit": ("loop=fit", {"KERAS_BACKEND": "jax"}),
}


@click.group(invoke_without_command=True)
@click.option("--epochs", type=click.IntRange(min=2), default=5, help="Epochs per run.")
@click.option("--sizes", multiple=True, default=SIZES, help="latent x hidden x batch.")
@click.option("--repeats", type=click.IntRange(min=1), default=1, help="Runs per cell.")
@click.option("--hidden-layers", type=click.IntRange(min=1), default=1, help="Per MLP.")
@click.option("--levers", is_flag=True, help="Also one row per lever, at the first size.")
@click.option("--torch/--no-torch", "with_torch", default=True, help="Run the PyTorch peer.")
@click.option("--jax", "with_jax", is_flag=True, help="With --levers: the project on Keras's JAX.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=ROOT / "data" / "prepared",
)
@click.pass_context
def main(ctx, epochs, sizes, repeats, hidden_layers, levers, with_torch, with_jax, data_dir):
    """Print a table of examples/s, ratio to baseline, test -ELBO and peak RSS."""
    if ctx.invoked_subcommand:
        return
    from mnist_vae.runtime import machine

    print(
        f"CPU: {machine.cpu_model()}; flags: {', '.join(machine.speed_flags()) or 'none of note'}"
    )
    rows = []
    impls = ("baseline", "project", "pytorch") if with_torch else ("baseline", "project")
    for size in sizes:
        for pair in range(repeats):
            for impl in impls:
                row = measure(impl, size, hidden_layers, epochs, data_dir)
                rows.append({**row, "pair": pair})
    chosen = {**LEVERS, **(JAX_LEVERS if with_jax else {})} if levers else {}
    for name, (overrides, env) in chosen.items():
        row = measure("project", sizes[0], hidden_layers, epochs, data_dir, overrides, env)
        rows.append({**row, "impl": name, "pair": None})
    print(_table(rows))


@main.command()
@click.option("--impl", type=click.Choice(["baseline", "project"]), required=True)
@click.option("--size", required=True)
@click.option("--hidden-layers", type=int, required=True)
@click.option("--epochs", type=int, required=True)
@click.option("--data-dir", type=click.Path(path_type=Path), required=True)
@click.option("--set", "overrides", default="", help="TrainConfig fields: a=1,b=x.")
@click.option("--profile", type=click.Path(path_type=Path), help="Trace epoch 2 into this folder.")
def run(impl, size, hidden_layers, epochs, data_dir, overrides, profile):
    """One measurement, printed as JSON (the parent process calls this)."""
    import keras
    import numpy as np

    from mnist_vae.config import ModelConfig, TrainConfig, from_params
    from mnist_vae.mnist import data
    from mnist_vae.runtime import machine
    from mnist_vae.scoring import evaluation
    from mnist_vae.training import trainer
    from mnist_vae.vae import model_file

    latent, hidden, batch = (int(v) for v in size.split("x"))
    splits = {name: data.load(data_dir / f"{name}.npz") for name in ("train", "val", "test")}
    config = from_params(
        TrainConfig,
        learning_rate=1e-3,
        batch_size=batch,
        epochs=epochs,
        seed=0,
        **_fields(overrides),
    )
    if impl == "baseline":  # plain Keras: float32, as a Keras model is by default
        config = dataclasses.replace(config, precision="float32")
    vae = trainer.build(
        from_params(
            ModelConfig,
            latent_dim=latent,
            hidden_size=hidden,
            hidden_layers=hidden_layers,
            activation="relu",
        ),
        config,
    )
    ends = [time.perf_counter()]
    if impl == "project":
        mark = [lambda epoch, metrics: ends.append(time.perf_counter())]
        if profile:
            mark.append(_profiler(profile))
        trainer.fit(vae, config, splits["train"], splits["val"], mark, verbose=0)
    else:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from baseline import PlainVAE

        plain = PlainVAE(vae.encoder, vae.decoder, seed=0)
        plain.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
        plain.fit(
            data.as_inputs(splits["train"].images),
            validation_data=(data.as_inputs(splits["val"].images),),
            batch_size=batch,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            callbacks=[
                keras.callbacks.LambdaCallback(
                    on_epoch_end=lambda *_: ends.append(time.perf_counter())
                )
            ],
        )
    seconds = np.diff(ends)
    x = data.as_inputs(splits["test"].images)
    rows, _ = evaluation.score(model_file.float32_copy(vae), x, k=1, batch_size=10_000, seed=0)
    result = {
        "impl": impl,
        "size": size,
        "precision": vae.dtype_policy.name,
        # Steady state: the median epoch after the first, whose tracing and compiling
        # is reported apart. Every epoch includes its validation pass.
        "examples_per_second": len(splits["train"].labels) / float(np.median(seconds[1:])),
        "whole_run_examples_per_second": epochs * len(splits["train"].labels) / seconds.sum(),
        "first_epoch_seconds": float(seconds[0]),
        "neg_elbo": float(rows["neg_elbo"].mean()),
        "peak_rss_mb": machine.peak_memory_mb(),
    }
    print(json.dumps(result))


def _profiler(folder: Path):
    """An epoch-end hook that traces the second epoch with TensorFlow's profiler: the first
    traces and compiles, the second is the steady state the table reports."""
    import tensorflow as tf

    def hook(epoch, metrics):
        if epoch == 1:
            options = tf.profiler.experimental.ProfilerOptions(host_tracer_level=2)
            tf.profiler.experimental.start(str(folder), options=options)
        elif epoch == 2:
            tf.profiler.experimental.stop()

    return hook


def _fields(overrides: str) -> dict:
    values = {"true": True, "false": False}
    pairs = (item.split("=") for item in overrides.split(",") if item)
    return {key: values.get(value, value) for key, value in pairs}


def _environment(folder: Path, *packages: str) -> Path:
    """The interpreter of an environment of its own with ``packages``, made on first use;
    what a peer or lever needs beyond the lock never enters it."""
    python = folder / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)
    return python


def measure(impl, size, layers, epochs, data_dir, overrides="", env=None, profile=None) -> dict:
    """One run of ``impl`` in a process of its own, its JSON result; ``profile``: a folder
    to trace the project's second epoch into (``benchmarks/step_profile.py``)."""
    if impl == "pytorch":
        python = _environment(TORCH_VENV, TORCH, "numpy")
        command = [str(python), str(ROOT / "benchmarks" / "torch_peer.py")]
    else:
        command = [sys.executable, __file__, "run", "--impl", impl, "--set", overrides]
        command += ["--profile", str(profile)] if profile else []
    command += ["--size", size, "--hidden-layers", str(layers)]
    command += ["--epochs", str(epochs), "--data-dir", str(data_dir)]
    environment = {**os.environ, **(env or {})}
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, env=environment
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _table(rows: list[dict]) -> str:
    """One row per run, and each ratio both ways: steady state, and the whole run with the
    first epoch's tracing and compiling. A project run's ratio to a peer is to that peer's
    run of the same pair, which met about the same machine state; a lever's is to the
    peer's median."""
    present = [peer for peer in PEERS if any(row["impl"] == peer for row in rows)]
    lines = [
        "| latent x hidden x batch | implementation | precision | examples/s | whole run | "
        + "".join(f"vs {peer} | " for peer in present)
        + "first epoch (s) | test -ELBO | peak RSS (MB) |",
        "| --- | --- | --- | ---: | ---: | " + "---: | " * len(present) + "---: | ---: | ---: |",
    ]
    ratios = {}
    for row in rows:
        cells = []
        for peer in present:
            pair = []
            for way in WAYS:
                ratio = row[way] / _peer_speed(rows, peer, row, way)
                if row["impl"] == "project" and row["pair"] is not None:
                    ratios.setdefault((row["size"], peer, way), []).append(ratio)
                pair.append(f"{ratio:.2f}x")
            cells.append(" / ".join(pair))
        lines.append(
            f"| {row['size']} | {row['impl']} | {row['precision']} | "
            f"{row['examples_per_second']:,.0f} | {row['whole_run_examples_per_second']:,.0f} | "
            f"{' | '.join(cells)} | {row['first_epoch_seconds']:.1f} | {row['neg_elbo']:.2f} | "
            f"{row['peak_rss_mb']:,.0f} |"
        )
    lines.append("\nRatios: steady / whole run.")
    for (size, peer, way), values in ratios.items():
        lines.append(
            f"{size}: project / {peer}, {WAYS[way]}, over {len(values)} pairs: median "
            f"{statistics.median(values):.2f}x, min {min(values):.2f}x, max {max(values):.2f}x"
        )
    return "\n".join(lines)


def _peer_speed(rows: list[dict], peer: str, row: dict, way: str) -> float:
    """The peer's speed in ``row``'s pair, or its median when ``row`` is a lever's."""
    runs = [r for r in rows if (r["impl"], r["size"]) == (peer, row["size"])]
    paired = [r[way] for r in runs if row["pair"] is not None and r["pair"] == row["pair"]]
    return paired[0] if paired else statistics.median(r[way] for r in runs)


if __name__ == "__main__":
    main()
