"""The train stage: fit the VAE, save it, and open the MLflow run the later stages log into."""

import click

from mnist_vae.cli import Command, input_path, output_path, seed_option
from mnist_vae.config import ACTIVATIONS


@click.command(cls=Command)
@click.option("--latent-dim", type=click.IntRange(min=1), required=True, help="Size of z.")
@click.option(
    "--hidden-size", type=click.IntRange(min=1), required=True, help="Units per hidden layer."
)
@click.option(
    "--hidden-layers", type=click.IntRange(min=1), required=True, help="Hidden layers per MLP."
)
@click.option(
    "--activation", type=click.Choice(ACTIVATIONS), required=True, help="Hidden activation."
)
@click.option(
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    required=True,
    help="Adam's step size.",
)
@click.option("--batch-size", type=click.IntRange(min=1), required=True, help="Images per step.")
@click.option("--epochs", type=click.IntRange(min=1), required=True, help="Passes over the data.")
@seed_option
@input_path("--train-data", "train.npz from the prepare stage.")
@input_path("--val-data", "val.npz from the prepare stage.")
@input_path("--prepare-params", "params.json from the prepare stage, logged with the run.")
@output_path("--model", "Where to save the trained model (.keras).")
@output_path("--run-file", "Where to write the MLflow run id for the later stages.")
@output_path("--history", "Per-epoch CSV of train and validation losses.")
@output_path("--metrics", "JSON of the final losses and the training speed.")
def train(
    latent_dim,
    hidden_size,
    hidden_layers,
    activation,
    learning_rate,
    batch_size,
    epochs,
    seed,
    train_data,
    val_data,
    prepare_params,
    model,
    run_file,
    history,
    metrics,
):
    """Train the VAE on the negative ELBO and log the run to MLflow.

    Uses a GPU whenever the Keras backend sees one; the device is logged as a tag.
    """
    import json
    import sys
    from dataclasses import asdict
    from pathlib import Path

    import mlflow

    from mnist_vae import data, tracking, training
    from mnist_vae.atomic import atomic_path, write_json
    from mnist_vae.config import ModelConfig, TrainConfig
    from mnist_vae.history import HistoryWriter

    model_config = ModelConfig(latent_dim, hidden_size, hidden_layers, activation)
    train_config = TrainConfig(learning_rate, batch_size, epochs, seed)
    train_x = data.as_inputs(data.load(train_data).images)
    val_x = data.as_inputs(data.load(val_data).images)
    params = {
        **_prefixed("prepare", json.loads(Path(prepare_params).read_text())),
        **_prefixed("train", {**asdict(model_config), **asdict(train_config)}),
    }
    writer = HistoryWriter(history)
    with tracking.start_run(params, tags={"device": training.device()}) as run:
        vae, speed = training.train(
            model_config,
            train_config,
            train_x,
            val_x,
            on_epoch_end=[writer, tracking.log_epoch],
            verbose=1 if sys.stdout.isatty() else 2,
        )
        mlflow.log_metrics(speed)
        tracking.log_model(vae, val_x[:5])
        with atomic_path(model) as tmp:
            vae.save(tmp)
        write_json(metrics, {**writer.last, **speed})
        tracking.write_run_file(run_file, run)


def _prefixed(section: str, values: dict) -> dict:
    return {f"{section}.{key}": value for key, value in values.items()}


if __name__ == "__main__":
    train()
