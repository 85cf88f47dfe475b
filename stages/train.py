"""The train stage: fit the VAE, save it, and open the MLflow run the later stages log into."""

import click

from mnist_vae.stage_command import Command, input_path, output_path, stage_options


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
def train(**options):
    """Train the VAE on the negative ELBO or the IWAE bound, and log the run to MLflow.

    Uses a GPU whenever the Keras backend sees one. The device, the CPU and the dtype
    policy training computed under are logged as tags, and the speed and peak memory as
    MLflow metrics only: they describe the machine, not the model. The store is checked
    before anything heavy starts; training stops at the first epoch whose loss is not
    finite, and then saves and registers nothing.

    Every train.checkpoint_every epochs the state is saved; a rerun with the same params
    and data (epochs aside) goes on from there, in the same MLflow run.
    """
    from mnist_vae.tracking import mlflow_experiment

    mlflow_experiment.configure()

    from mnist_vae.config import ModelConfig, TrainConfig, from_options
    from mnist_vae.training import training_run

    paths = training_run.Paths.take(options)
    model_config = from_options(ModelConfig, options)
    run_id = training_run.train(paths, model_config, from_options(TrainConfig, options))
    click.echo(f"wrote {paths.model} and {paths.metrics}; MLflow run {run_id}")


if __name__ == "__main__":
    train()
