"""The train stage: fit the VAE, save it, and open the MLflow run the later stages log into."""

import click

from mnist_vae.cli import Command, input_path, output_path, stage_options

EPOCH_SAMPLES = 50


@click.command(cls=Command)
@stage_options("train")
@input_path("--train-data", "train.npz from the prepare stage.")
@input_path("--val-data", "val.npz from the prepare stage.")
@input_path("--prepare-params", "params.json from the prepare stage, logged with the run.")
@output_path("--model", "Where to save the trained model (.keras).")
@output_path("--run-file", "Where to write the MLflow run id for the later stages.")
@output_path("--history", "Per-epoch CSV of train and validation losses.")
@output_path("--metrics", "JSON of the final train and validation losses.")
@output_path("--curves", "PNG of the train and validation curves.")
@output_path("--checkpoint", "Where to keep the state a rerun resumes from (.npz).")
def train(
    train_data,
    val_data,
    prepare_params,
    model,
    run_file,
    history,
    metrics,
    curves,
    checkpoint,
    **options,
):
    """Train the VAE on the negative ELBO or the IWAE bound, and log the run to MLflow.

    Uses a GPU whenever the Keras backend sees one. The device, the CPU and the dtype
    policy training computed under are logged as tags, and the speed and peak memory as
    MLflow metrics only: they describe the machine, not the model. The store is checked
    before anything heavy starts; training stops at the first epoch whose loss is not
    finite, and then saves and registers nothing.

    Every train.checkpoint_every epochs the state is saved; a rerun with the same params
    and data (epochs aside) goes on from there, in the same MLflow run.
    """
    from mnist_vae import experiment, tracking

    experiment.configure()

    import json
    import sys
    from pathlib import Path

    import pandas as pd

    from mnist_vae import (
        checkpoints,
        data,
        epoch_hooks,
        lineage,
        machine,
        plotting,
        registry,
        saving,
        training,
    )
    from mnist_vae.atomic import write_json
    from mnist_vae.config import ModelConfig, TrainConfig, from_options

    model_config = from_options(ModelConfig, options)
    train_config = from_options(TrainConfig, options)
    params = {
        **tracking.params("prepare", json.loads(Path(prepare_params).read_text())),
        **tracking.params("train", model_config, train_config),
    }
    train_split, val_split = data.load(train_data), data.load(val_data)
    vae = training.build(model_config, train_config, train_split)
    key = checkpoints.fingerprint(model_config, train_config, train_data, val_data)
    state, said = checkpoints.resume(checkpoint, vae, key, train_config.epochs)
    if said:
        click.echo(said, err=True)
    writer = epoch_hooks.HistoryWriter(history, state.history)
    tags = {
        "device": machine.device(),
        "cpu": machine.cpu_model(),
        "precision": vae.dtype_policy.name,
        tracking.CHECKPOINT: key,
    }
    with tracking.start_run(params, tags=tags, resumed=state) as run:
        click.echo(
            f"training on {tags['device']} ({tags['cpu']}), {tags['precision']}: "
            f"{train_config.epochs} epochs of {len(train_split.images)} images"
        )
        lineage.log(run, {"train": (train_data, train_split), "val": (val_data, val_split)})
        speed = training.fit(
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
                checkpoints.Writer(checkpoint, vae, key, train_config, state),
            ],
            verbose=1 if sys.stdout.isatty() else 2,
            initial_epoch=state.epoch,
        )
        run.metrics({**speed, "peak_memory_mb": machine.peak_memory_mb()})
        plotting.save(plotting.loss_curves(pd.read_csv(history)), curves)
        run.artifact(curves)
        saving.save(vae, model)
        registry.log_model(run, model, model_config)
        write_json(metrics, epoch_hooks.objective_named(vae.model_config, writer.last))
        tracking.write_run_file(run_file, run)
    click.echo(f"wrote {model} and {metrics}; MLflow run {run.run_id}")


if __name__ == "__main__":
    train()
