"""The evaluate stage: score the model on the test set and draw what it learned."""

import click

from mnist_vae.cli import Command, input_path, output_path, params_file, seed_option


@click.command(cls=Command)
@params_file("evaluate")
@click.option(
    "--iw-samples",
    type=click.IntRange(min=1),
    required=True,
    help="Importance samples per image (k) for the -ELBO and the IW bound.",
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), required=True, help="Latent points per pass."
)
@seed_option
@input_path("--model", "The trained model (.keras).")
@input_path("--run-file", "The MLflow run id written by the train stage.")
@input_path("--test-data", "test.npz from the prepare stage.")
@output_path("--metrics", "JSON of the test metrics.")
@output_path("--per-image", "CSV of every test image's scores, for paired comparisons.")
@output_path("--per-digit", "CSV of the -ELBO, reconstruction term and count per digit.")
@output_path("--latent-units", "CSV of each latent dimension's activity and KL.")
@output_path("--reconstructions", "PNG of test images above their reconstructions.")
@output_path("--latent-space", "PNG of the test set's posterior means, coloured by digit.")
@output_path("--interpolation", "PNG of decoded paths between pairs of test images.")
def evaluate(
    iw_samples, batch_size, seed, model, run_file, test_data, metrics, per_image, per_digit,
    latent_units, **figure_paths,
):  # fmt: skip
    """Score the test set: -ELBO, the IW bound on -log p(x), active units, and per digit."""
    from mnist_vae import data, evaluation, figures, plotting, tracking
    from mnist_vae import model as model_lib
    from mnist_vae.atomic import write_json, write_text

    vae = model_lib.load(model)
    test = data.load(test_data)
    x = data.as_inputs(test.images, vae.config.binarize, seed)
    params = {"iw_samples": iw_samples, "batch_size": batch_size, "seed": seed}
    with tracking.resume_run(run_file, "evaluate", tracking.prefixed("evaluate", params)) as run:
        rows, z_mean = evaluation.score(vae, x, iw_samples, batch_size, seed)
        scores = evaluation.require_finite(evaluation.summarize(rows, test.labels, z_mean), model)
        write_text(per_image, evaluation.per_image(rows, test.labels).to_csv())
        write_text(per_digit, evaluation.per_digit(rows, test.labels).to_csv())
        write_text(latent_units, evaluation.latent_units(vae, x, z_mean).to_csv())
        for name, figure in figures.evaluation_figures(vae, x, test.labels, z_mean).items():
            plotting.save(figure, figure_paths[name])
            run.artifact(figure_paths[name])
        write_json(metrics, {"test": scores})
        run.metrics(tracking.prefixed("test", scores))


if __name__ == "__main__":
    evaluate()
