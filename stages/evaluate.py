"""The evaluate stage: score the model on the test set and draw its reconstructions."""

import click

from mnist_vae.cli import Command, input_path, output_path, seed_option

GRID_COLUMNS = 10
GRID_IMAGES = 20


@click.command(cls=Command)
@click.option(
    "--batch-size", type=click.IntRange(min=1), required=True, help="Images per forward pass."
)
@seed_option
@input_path("--model", "The trained model (.keras).")
@input_path("--run-file", "The MLflow run id written by the train stage.")
@input_path("--test-data", "test.npz from the prepare stage.")
@output_path("--metrics", "JSON of the test metrics.")
@output_path("--reconstructions", "PNG of test images above their reconstructions.")
def evaluate(batch_size, seed, model, run_file, test_data, metrics, reconstructions):
    """Compute the test negative ELBO, its two terms and the reconstruction MSE."""
    import mlflow

    from mnist_vae import data, evaluation, plotting, tracking
    from mnist_vae import model as model_lib
    from mnist_vae.atomic import write_json

    vae = model_lib.load(model)
    test = data.load(test_data)
    x = data.as_inputs(test.images)
    params = {"evaluate.batch_size": batch_size, "evaluate.seed": seed}
    with tracking.resume_run(run_file, "evaluate", params):
        scores = evaluation.evaluate(vae, x, batch_size, seed)
        shown = slice(0, GRID_IMAGES)
        figure = plotting.reconstruction_grid(
            test.images[shown] / 255,
            evaluation.reconstruct(vae, x[shown]).reshape(-1, 28, 28),
            GRID_COLUMNS,
        )
        plotting.save(figure, reconstructions)
        write_json(metrics, {"test": scores})
        mlflow.log_metrics({f"test.{name}": value for name, value in scores.items()})
        mlflow.log_artifact(reconstructions)


if __name__ == "__main__":
    evaluate()
