"""The generate stage: draw digits from the prior."""

import click

from mnist_vae.cli import Command, input_path, output_path, seed_option


@click.command(cls=Command)
@click.option("--n-samples", type=click.IntRange(min=1), required=True, help="Digits to draw.")
@seed_option
@input_path("--model", "The trained model (.keras).")
@input_path("--run-file", "The MLflow run id written by the train stage.")
@output_path("--samples", "NPZ of the latent points (z) and the images.")
@output_path("--grid", "PNG grid of the samples.")
def generate(n_samples, seed, model, run_file, samples, grid):
    """Decode N_SAMPLES draws from the prior N(0, I) into images."""
    import mlflow
    import numpy as np

    from mnist_vae import model as model_lib
    from mnist_vae import plotting, sampling, tracking
    from mnist_vae.atomic import atomic_path

    vae = model_lib.load(model)
    params = {"generate.n_samples": n_samples, "generate.seed": seed}
    with tracking.resume_run(run_file, "generate", params):
        z, images = sampling.sample_prior(vae.decoder, n_samples, seed)
        with atomic_path(samples) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, z=z, images=images)
        plotting.save(plotting.image_grid(images, f"{n_samples} samples from the prior"), grid)
        mlflow.log_artifact(grid)


if __name__ == "__main__":
    generate()
