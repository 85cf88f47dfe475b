"""The generate stage: draw digits from the prior, and map the decoder's manifold."""

import click

from mnist_vae.stage_command import Command, input_path, output_path, stage_options


@click.command(cls=Command)
@stage_options("generate")
@input_path("--model", "The trained model (.keras).")
@input_path("--run-file", "The MLflow run id written by the train stage.")
@output_path("--samples", "NPZ of the latent points (z), the digits asked for and the images.")
@output_path("--grid", "PNG grid of the samples.")
@output_path("--manifold", "PNG of the decoded grid over the first two latent dimensions.")
def generate(model, run_file, samples, grid, manifold, **options):
    """Decode N_SAMPLES draws from the prior N(0, I) into images.

    A conditional model draws ceil(N_SAMPLES / len(DIGITS)) style vectors and decodes each
    with every asked digit.
    """
    import math

    import numpy as np

    from mnist_vae.atomic import atomic_path
    from mnist_vae.config import GenerateConfig, from_options
    from mnist_vae.scoring import figures, plotting
    from mnist_vae.tracking import runs
    from mnist_vae.vae import decoding, model_file

    config = from_options(GenerateConfig, options)
    n_samples, seed = config.n_samples, config.seed
    vae = model_file.load(model)
    with runs.resume_run(run_file, "generate", runs.params("generate", config)) as run:
        if vae.model_config.conditional:
            styles = math.ceil(n_samples / len(config.digits))
            digits = [int(digit) for digit in config.digits]
            z, labels, images = decoding.digit_grid(vae, digits, styles, seed)
            title, ncols = f"rows: digits {config.digits}; columns: shared styles", styles
        else:
            z = decoding.prior_latents(n_samples, vae.model_config.latent_dim, seed)
            labels, images = np.full(n_samples, -1), decoding.decode_means(vae, z)
            title, ncols = f"{n_samples} samples from the prior", None
        with atomic_path(samples) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, z=z, digits=labels, images=images)
        plotting.save(plotting.image_grid(images, title, ncols), grid)
        plotting.save(figures.manifold_figure(vae), manifold)
        run.artifact(grid)
        run.artifact(manifold)


if __name__ == "__main__":
    generate()
