"""The train stage's work, given its files and configs: fit the VAE, resuming from its
checkpoint where one fits, with every epoch logged; then save the model, log and register
it, and write the files the later stages read. (``training`` builds and fits the model
alone, for any caller.)"""

import json
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from mnist_vae.atomic import write_json
from mnist_vae.config import ModelConfig, TrainConfig
from mnist_vae.mnist import data
from mnist_vae.runtime import machine
from mnist_vae.scoring import plotting
from mnist_vae.tracking import lineage, registry, runs
from mnist_vae.training import checkpoints, epoch_hooks, trainer
from mnist_vae.vae import model_file

EPOCH_SAMPLES = 50


@dataclass(frozen=True)
class Paths:
    """The stage's files, by the names of its options."""

    train_data: str
    val_data: str
    prepare_params: str
    model: str
    run_file: str
    history: str
    metrics: str
    curves: str
    checkpoint: str

    @classmethod
    def take(cls, options: dict) -> "Paths":
        """The paths, taken out of a command's ``options``."""
        return cls(**{field.name: options.pop(field.name) for field in fields(cls)})


def train(paths: Paths, model_config: ModelConfig, train_config: TrainConfig) -> str:
    """Trains and registers the model; returns its MLflow run's id."""
    params = {
        **runs.params("prepare", json.loads(Path(paths.prepare_params).read_text())),
        **runs.params("train", model_config, train_config),
    }
    train_split, val_split = data.load(paths.train_data), data.load(paths.val_data)
    vae = trainer.build(model_config, train_config, train_split)
    key = checkpoints.fingerprint(model_config, train_config, paths.train_data, paths.val_data)
    if not Path(paths.checkpoint).exists():
        _say(runs.fetch_checkpoint(key, paths.checkpoint, train_config.epochs))
    state, said = checkpoints.resume(paths.checkpoint, vae, key, train_config.epochs)
    _say(said)
    writer = epoch_hooks.HistoryWriter(paths.history, state.history)
    tags = {
        "device": machine.device(),
        "cpu": machine.cpu_model(),
        "precision": vae.dtype_policy.name,
        runs.CHECKPOINT: key,
    }
    with runs.start_run(params, tags=tags, resumed=state) as run:
        print(
            f"training on {tags['device']} ({tags['cpu']}), {tags['precision']}: "
            f"{train_config.epochs} epochs of {len(train_split.images)} images",
            flush=True,
        )
        splits = {"train": (paths.train_data, train_split), "val": (paths.val_data, val_split)}
        lineage.log(run, splits)
        speed = trainer.fit(
            vae,
            train_config,
            train_split,
            val_split,
            on_epoch_end=[
                writer,
                epoch_hooks.log_epoch(run, model_config, train_config),
                epoch_hooks.EpochSamples(
                    run, vae, EPOCH_SAMPLES, train_config.seed, train_config.epochs
                ),
                checkpoints.Writer(
                    paths.checkpoint,
                    vae,
                    key,
                    train_config,
                    state,
                    lambda path, epoch: runs.keep_checkpoint(run, path, epoch),
                ),  # fmt: skip
            ],
            verbose=1 if sys.stdout.isatty() else 2,
            initial_epoch=state.epoch,
        )
        run.metrics({**speed, "peak_memory_mb": machine.peak_memory_mb()})
        plotting.save(plotting.loss_curves(pd.read_csv(paths.history)), paths.curves)
        run.artifact(paths.curves)
        model_file.save(vae, paths.model)
        registry.log_model(run, paths.model, model_config)
        write_json(paths.metrics, epoch_hooks.objective_named(vae.model_config, writer.last))
        runs.write_run_file(paths.run_file, run)
    return run.run_id


def _say(line: str | None) -> None:
    if line:
        print(line, file=sys.stderr, flush=True)
