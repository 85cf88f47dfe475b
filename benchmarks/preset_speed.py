"""Seconds an epoch of a research preset's model, on each Keras backend, side by side: what
a preset's ``epochs`` are chosen from on the CPU at hand.

A preset's bounds cost very different times an epoch (the ELBO against k=50 is about 15x),
so each bound it trains on is timed alone, on the full training split of
``data/prepared`` (``dvc repro -s prepare`` makes it), with validation, as the train
stage fits it. Each (bound, backend) trains in a process of its own, the backends in turn
within a round, so that the machine's noise hits them alike. The last column projects
the preset's training minutes from the medians, without the stage's per-epoch logging.

    python benchmarks/preset_speed.py cpu-finetune-iwae-k50 --epochs 4 --rounds 2
"""

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "prepared"


@click.command()
@click.argument("name")
@click.option(
    "--epochs", type=click.IntRange(min=2), default=4, help="Epochs a run; the first is not timed."
)
@click.option("--rounds", type=click.IntRange(min=1), default=1, help="Interleaved rounds.")
@click.option("--backends", default="tensorflow,jax", show_default=True, help="Keras backends.")
@click.option("-S", "--set-param", "sets", multiple=True, help="KEY=VALUE, as `mnist-vae preset`.")
@click.option("--worker", hidden=True, help="The train params to time, in this process.")
def main(name, epochs, rounds, backends, sets, worker):
    """Print a table of seconds an epoch for preset NAME's bounds on each backend."""
    if worker:
        print(json.dumps(_time(json.loads(worker))))
        return
    from mnist_vae import presets
    from mnist_vae.runtime import machine

    changes = presets.changes(name) | dict(_parse(change) for change in sets)
    train = {key[6:]: value for key, value in changes.items() if key.startswith("train.")}
    bounds = _bounds(train)
    backends = backends.split(",")
    seconds = {(b, bound["objective"]): [] for b in backends for bound in bounds}
    for _ in range(rounds):
        for bound in bounds:
            for backend in backends:
                seconds[backend, bound["objective"]].append(
                    _run(name, train, bound, epochs, backend)
                )
    flags = ", ".join(machine.speed_flags()) or "none of note"
    print(f"CPU: {machine.cpu_model()}; flags: {flags}; preset {name}")
    print(f"{epochs} epochs a run, the first not timed")
    print(
        "| backend | bound | seconds an epoch, each round | median | preset's epochs | minutes |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for (backend, objective), times in seconds.items():
        count, median = _epochs(train, objective), statistics.median(times)
        each = ", ".join(f"{t:.2f}" for t in times)
        minutes = median * count / 60
        print(f"| {backend} | {objective} | {each} | {median:.2f} | {count} | {minutes:.1f} |")


def _parse(change: str) -> tuple[str, object]:
    import yaml

    key, _, value = change.partition("=")
    return key, yaml.safe_load(value)


def _bounds(train: dict) -> list[dict]:
    """The bounds the preset trains on: the ELBO first under ``elbo_epochs``."""
    elbo = {"objective": "elbo", "samples": 1}
    last = {"objective": train.get("objective", "elbo"), "samples": train.get("samples", 1)}
    if last["objective"] == "elbo":
        return [elbo]
    return [elbo, last] if train.get("elbo_epochs") else [last]


def _epochs(train: dict, objective: str) -> int:
    elbo = train.get("elbo_epochs", 0)
    return elbo if objective == "elbo" and elbo else train["epochs"] - elbo


def _run(name: str, train: dict, bound: dict, epochs: int, backend: str) -> float:
    """Times ``bound`` alone, from the first epoch, for ``epochs`` epochs."""
    params = {**train, **bound, "epochs": epochs, "elbo_epochs": 0}
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, __file__, name, "--worker", json.dumps(params)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def _time(params: dict) -> float:
    """The median seconds of an epoch after the first (which traces and compiles)."""
    from mnist_vae.config import ModelConfig, TrainConfig, from_params
    from mnist_vae.mnist import data
    from mnist_vae.training import trainer

    configs = [from_params(cls, **params) for cls in (ModelConfig, TrainConfig)]
    split, val = data.load(DATA / "train.npz"), data.load(DATA / "val.npz")
    vae = trainer.build(*configs, split)
    stamps = []
    trainer.fit(vae, configs[1], split, val, [lambda *_: stamps.append(time.perf_counter())], 0)
    return statistics.median(b - a for a, b in itertools.pairwise(stamps))


if __name__ == "__main__":
    main()
