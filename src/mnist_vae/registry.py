"""The MLflow model registry: every trained model is a version of one registered model,
and the ``champion`` alias names the version with the best test -ELBO."""

import math

import click

from mnist_vae.cli import Command

METRIC = "test.neg_elbo"


def crown(client, name: str, alias: str, metric: str = METRIC):
    """Points ``alias`` at the version of ``name`` whose run has the lowest ``metric``,
    the newest of equals (a rerun of the same pipeline registers the same scores again).

    Only versions whose run FINISHED with a finite ``metric`` compete: NaN compares as
    neither better nor worse than anything, so a diverged model could otherwise win.

    Returns:
        The chosen model version and its metric.

    Raises:
        PipelineError: no version's run has the metric yet.
    """
    from mnist_vae.errors import PipelineError

    scored = []
    for version in client.search_model_versions(f"name = '{name}'"):
        run = client.get_run(version.run_id)
        value = run.data.metrics.get(metric)
        if run.info.status == "FINISHED" and value is not None and math.isfinite(value):
            scored.append((value, int(version.version), version))
    if not scored:
        raise PipelineError(
            f"{name}: no registered version has a FINISHED run with a finite {metric}"
        )
    value, _, best = min(scored, key=lambda item: (item[0], -item[1]))
    client.set_registered_model_alias(name, alias, best.version)
    return best, value


@click.command(cls=Command)
@click.option("--alias", default="champion", show_default=True, help="The alias to set.")
def main(alias):
    """Set ALIAS on the registered model version with the best test -ELBO.

    Uses the same MLflow store as the stages (MLFLOW_TRACKING_URI, else mlflow.db at the
    repository root).
    """
    from mlflow.tracking import MlflowClient

    from mnist_vae import tracking

    tracking.configure()
    best, value = crown(MlflowClient(), tracking.REGISTERED_MODEL, alias)
    click.echo(
        f"{tracking.REGISTERED_MODEL}@{alias} -> version {best.version} "
        f"(run {best.run_id}, {METRIC} {value:.3f})"
    )
