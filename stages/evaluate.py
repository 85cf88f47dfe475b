"""The evaluate stage: score the model on the test set and draw what it learned."""

import click

from mnist_vae.stage_command import Command, input_path, output_path, stage_options


@click.command(cls=Command)
@stage_options("evaluate")
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
    model, run_file, test_data, metrics, per_image, per_digit, latent_units, reconstructions,
    latent_space, interpolation, **options,
):  # fmt: skip
    """Score the test set: -ELBO, the IW bound on -log p(x), active units, and per digit."""
    from mnist_vae.atomic import write_json, write_text
    from mnist_vae.config import EvaluateConfig, from_options
    from mnist_vae.mnist import data
    from mnist_vae.scoring import comparable, evaluation, figures, plotting
    from mnist_vae.tracking import lineage, runs
    from mnist_vae.vae import model_file

    config = from_options(EvaluateConfig, options)
    figure_paths = {
        "reconstructions": reconstructions,
        "latent_space": latent_space,
        "interpolation": interpolation,
    }
    vae = model_file.load(model)
    test = data.load(test_data)
    x = data.as_inputs(test.images, vae.model_config.binarize, config.seed)
    with runs.resume_run(run_file, "evaluate", runs.params("evaluate", config)) as run:
        lineage.log(run, {"test": (test_data, test)})
        rows, z_mean = evaluation.score(vae, x, config.iw_samples, config.batch_size, config.seed)
        scores = evaluation.require_finite(evaluation.summarize(rows, test.labels, z_mean), model)
        write_text(per_image, evaluation.per_image(rows, test.labels).to_csv())
        write_text(per_digit, evaluation.per_digit(rows, test.labels).to_csv())
        write_text(latent_units, evaluation.latent_units(vae, x, z_mean).to_csv())
        for name, figure in figures.evaluation_figures(vae, x, test.labels, z_mean).items():
            plotting.save(figure, figure_paths[name])
            run.artifact(figure_paths[name])
        write_json(metrics, {"test": scores})
        run.metrics(runs.prefixed("test", scores))
        # What the scores compare under, for the champion and the review (``comparable``).
        key = comparable.tags(comparable.key(vae.model_config, config.seed, test))
        run.tags(key)
        run.version_tags(key)
    click.echo(
        f"test -ELBO {scores['neg_elbo']:.3f}, IW bound {scores['iw_nll']:.3f} "
        f"(k={config.iw_samples}): wrote {metrics}; MLflow run {run.run_id}"
    )


if __name__ == "__main__":
    evaluate()
