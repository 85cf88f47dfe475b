"""The generate stage: draw digits from the prior, and map the decoder's manifold."""

import click

from mnist_vae.cli import Command, input_path, output_path, params_file, seed_option


@click.command(cls=Command)
@params_file("generate")
@click.option("--n-samples", type=click.IntRange(min=1), required=True, help="Digits to draw.")
@click.option(
    "--digits",
    type=click.STRING,
    required=True,
    callback=lambda ctx, param, value: _digits(value),
    help="For a conditional model, the digits to ask for, as a string such as 0123456789: "
    "a row per digit, the columns sharing style vectors.",
)
@seed_option
@input_path("--model", "The trained model (.keras).")
@input_path("--run-file", "The MLflow run id written by the train stage.")
@output_path("--samples", "NPZ of the latent points (z), the digits asked for and the images.")
@output_path("--grid", "PNG grid of the samples.")
@output_path("--manifold", "PNG of the decoded grid over the first two latent dimensions.")
def generate(n_samples, digits, seed, model, run_file, samples, grid, manifold):
    """Decode N_SAMPLES draws from the prior N(0, I) into images.

    A conditional model draws ceil(N_SAMPLES / len(DIGITS)) style vectors and decodes each
    with every asked digit.
    """
    import math

    import numpy as np

    from mnist_vae import figures, plotting, sampling, tracking
    from mnist_vae import model as model_lib
    from mnist_vae.atomic import atomic_path

    vae = model_lib.load(model)
    params = {"n_samples": n_samples, "digits": "".join(map(str, digits)), "seed": seed}
    with tracking.resume_run(run_file, "generate", tracking.prefixed("generate", params)) as run:
        if vae.config.conditional:
            styles = math.ceil(n_samples / len(digits))
            z, labels, images = sampling.digit_grid(vae, digits, styles, seed)
            title, ncols = f"rows: digits {params['digits']}; columns: shared styles", styles
        else:
            z = sampling.prior_latents(n_samples, vae.config.latent_dim, seed)
            labels, images = np.full(n_samples, -1), sampling.decode_means(vae, z)
            title, ncols = f"{n_samples} samples from the prior", None
        with atomic_path(samples) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, z=z, digits=labels, images=images)
        plotting.save(plotting.image_grid(images, title, ncols), grid)
        plotting.save(figures.manifold_figure(vae), manifold)
        run.artifact(grid)
        run.artifact(manifold)


def _digits(value: str) -> list[int]:
    if not value or not value.isdigit():
        raise click.BadParameter(f"{value!r} is not a string of digits such as 0123456789")
    return [int(c) for c in value]


if __name__ == "__main__":
    generate()
