"""``mnist-vae``: what is not a stage. Crowning the registry's champion, measuring the seed
band, writing a reviewer's report, running a research preset, serving a model, and a
teammate's account on the team's MLflow server.

Every path is an option whose default is where ``dvc.yaml`` puts the file.
"""

from pathlib import Path

import click

from mnist_vae.stage_command import Command
from mnist_vae.tracking.accounts import ROLES

PARAMS = "params.yaml"
TEST_DATA = "data/prepared/test.npz"
TEST_METRICS = "metrics/evaluate.json"
SEED_BAND = "metrics/seed_band.json"


@click.group()
def main():
    """The MNIST VAE pipeline's commands beside its DVC stages."""


@main.command(cls=Command)
@click.option("--alias", default="champion", show_default=True, help="The alias to set.")
@click.option(
    "--like",
    metavar="VERSION",
    help="Compete among versions comparable with this one, not with the workspace.",
)
@click.option(
    "--params",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=PARAMS,
    show_default=True,
    help="The params whose model and evaluation the workspace's key comes from.",
)
@click.option(
    "--test-data",
    type=click.Path(dir_okay=False, path_type=Path),
    default=TEST_DATA,
    show_default=True,
    help="The test set the workspace's key names.",
)
def champion(alias, like, params, test_data):
    """Set ALIAS on the registered model version with the best test -ELBO, among versions
    whose scores compare with the workspace's: the same likelihood, inputs (gray or
    binarized), conditioning and test set (see docs/mlflow-and-serving.md).

    Uses the same MLflow store as the stages (MLFLOW_TRACKING_URI, else mlflow.db at the
    repository root). Only versions whose run finished with a finite score compete.
    """
    from mlflow.tracking import MlflowClient

    from mnist_vae.config import EvaluateConfig, ModelConfig, from_params
    from mnist_vae.mnist import data
    from mnist_vae.scoring import comparable
    from mnist_vae.tracking import mlflow_experiment, registry

    mlflow_experiment.configure()
    client = MlflowClient()
    if like is None:
        model_config = from_params(ModelConfig, params)
        seed = from_params(EvaluateConfig, params).seed
        key = comparable.key(model_config, seed, data.load(test_data))
    else:
        key = registry.key_of(client, registry.NAME, like)
    crowned = registry.crown(client, registry.NAME, alias, key)
    for skipped in crowned.skipped:
        click.echo(f"Warning: {registry.NAME} {skipped}; skipped", err=True)
    best = crowned.version
    click.echo(
        f"{registry.NAME}@{alias} -> version {best.version} (run {best.run_id}, "
        f"{registry.METRIC} {crowned.value:.3f}), best of {crowned.among} like "
        f"{comparable.spelled(key)}"
    )


@main.command("seed-band", cls=Command)
@click.option(
    "--seeds",
    type=click.IntRange(min=2),
    default=8,
    show_default=True,
    help="Seeds 0 .. SEEDS-1, one experiment each.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=SEED_BAND,
    show_default=True,
    help="The band's JSON file (commit it).",
)
@click.option(
    "--test-metrics", default=TEST_METRICS, show_default=True, help="evaluate's metrics."
)
def seed_band(seeds, output, test_metrics):
    """Measure how much each test metric moves with train.seed alone, and write the band.

    Runs the missing seeds as DVC experiments of the workspace's params, one at a time,
    then writes each test metric's mean and standard deviation over the seeds.
    """
    from mnist_vae.review import seed_band as band_lib

    band = band_lib.measure(seeds, output, test_metrics)
    mean, std = band["test"]["neg_elbo"]["mean"], band["test"]["neg_elbo"]["std"]
    click.echo(f"wrote {output}: test -ELBO {mean:.3f} ± {std:.3f} over {seeds} seeds")


@main.command(cls=Command)
@click.option(
    "--baseline", default="HEAD", show_default=True, help="The git revision to compare with."
)
@click.option(
    "--rev", default=None, help="A revision or DVC experiment name; the workspace if absent."
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Markdown file to write; images go beside it.",
)
@click.option(
    "--test-metrics", default=TEST_METRICS, show_default=True, help="evaluate's metrics."
)
@click.option(
    "--per-image",
    default="data/per_image.csv",
    show_default=True,
    help="evaluate's per-image scores.",
)
@click.option(
    "--history", default="metrics/history.csv", show_default=True, help="train's loss curves."
)
@click.option(
    "--run-file", default="models/mlflow_run.json", show_default=True, help="train's run file."
)
@click.option("--seed-band", default=SEED_BAND, show_default=True, help="The committed seed band.")
@click.option(
    "--image",
    "images",
    multiple=True,
    default=("plots/samples.png", "plots/reconstructions.png"),
    show_default=True,
    help="An image output to show side by side; repeat for several.",
)
def review(baseline, rev, output, **paths):
    """Write a Markdown review of metric, param and image changes against BASELINE, with
    charts, and the same review as a self-contained HTML page beside it."""
    from mnist_vae.review import compare as review_lib

    review_lib.write(baseline, rev, output, review_lib.Paths(**paths))
    click.echo(f"wrote {output} and {output.with_suffix('.html')}")


@main.command(cls=Command)
@click.option(
    "-m", "--model-uri", default="models:/mnist-vae@champion", show_default=True,
    help="The model to serve: models:/NAME@ALIAS, models:/NAME/VERSION or runs:/ID/model.",
)  # fmt: skip
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to serve other machines."
)
@click.option("--port", type=click.IntRange(1, 65535), default=5001, show_default=True)
def serve(model_uri, host, port):
    """Serve a model's images over HTTP, as mlflow models serve --env-manager local does
    (POST /invocations, GET /ping), with each request's size bounded before it is read
    whole: 4 MiB, room for 1,000 rows of z."""
    import mlflow
    import uvicorn

    from mnist_vae.tracking import mlflow_experiment, model_server

    mlflow.set_tracking_uri(mlflow_experiment.tracking_uri())  # the stages' store
    click.echo(f"serving {model_uri} on http://{host}:{port}/invocations")
    uvicorn.run(model_server.app(model_uri), host=host, port=port, log_level="warning")


@main.command(cls=Command)
@click.argument("name")
@click.option(
    "-S",
    "--set-param",
    "extra",
    multiple=True,
    metavar="KEY=VALUE",
    help="A further change, after the preset's (as dvc exp run -S); repeatable.",
)
@click.option("--queue", is_flag=True, help="Queue it (dvc queue start runs the queue).")
def preset(name, extra, queue):
    """Run the research protocol NAME of presets.yaml as a DVC experiment named NAME.

    Its param changes are passed as dvc exp run -S options; see presets.yaml for the
    protocols and what each sets.
    """
    from mnist_vae import presets

    presets.run(name, extra, queue)


@main.command(cls=Command)
@click.option(
    "-S",
    "--set-param",
    "sets",
    multiple=True,
    metavar="KEY=VALUES",
    help="A param and its values, in dvc exp run's grid syntax (a,b; range(); choice()).",
)
@click.option("--preset", help="A presets.yaml protocol every point starts from.")
@click.option("--slurm", is_flag=True, help="Submit the points as one Slurm job array.")
@click.option("--collect", is_flag=True, help="Pull the sweep's experiments and report it.")
@click.option("--remote", default="origin", show_default=True, help="The team's git remote.")
@click.option("--cpus-per-task", default=2, show_default=True, help="CPUs each task asks for.")
@click.option("--mem", help="Memory each task asks for (sbatch --mem).")
@click.option("--time", help="Each task's time limit (sbatch --time).")
@click.option("--gres", help="Generic resources, e.g. gpu:1 (sbatch --gres).")
@click.option("--partition", help="The Slurm partition.")
@click.option("--account", help="The Slurm account to charge.")
@click.option("--sbatch-arg", "extra", multiple=True, help="A further sbatch option; repeatable.")
@click.option(
    "--venv",
    type=click.Path(file_okay=False, path_type=Path),
    help="The Python environment the nodes run (a shared path); this one by default.",
)
@click.option("--dry-run", is_flag=True, help="Print the sbatch command and script only.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default="review/sweep.md",
    show_default=True,
    help="--collect: the review of the best point against the sweep's commit.",
)
@click.pass_context
def sweep(ctx, sets, preset, slurm, collect, remote, venv, dry_run, output, **resources):
    """Run a grid of DVC experiments, one per point, each named after what it changes.

    With --slurm, each point is a task of one Slurm job array: it clones REMOTE at HEAD
    (which must be pushed), pulls prepare's outputs from the DVC remote, runs the point with
    dvc exp run against MLFLOW_TRACKING_URI and pushes the experiment back. Points whose
    experiment is already on REMOTE are not run again. Without it, the points go to DVC's
    local queue. --collect pulls the experiments, prints the grid and writes the review of
    the best point.
    """
    import sys

    from mnist_vae import presets
    from mnist_vae.sweeps import collect as collect_lib
    from mnist_vae.sweeps import grid, submit
    from mnist_vae.sweeps.slurm import Resources

    base = presets.sets(presets.changes(preset)) if preset else ()
    points = grid.expand(sets, base, preset or "")
    if not (slurm or collect):
        click.echo(submit.to_queue(points))
        return
    the_sweep = submit.at_head(remote, points)
    if slurm:
        venv = venv or Path(sys.prefix)
        click.echo(submit.to_slurm(the_sweep, Resources(**resources), venv, dry_run))
    if collect:
        table = collect_lib.rows(the_sweep, remote)
        click.echo(collect_lib.markdown(table))
        top = collect_lib.best(table)
        if top is None:
            raise click.ClickException("no point of the sweep finished")
        ctx.invoke(review, baseline=the_sweep.commit, rev=top.name, output=output)


@main.command("sweep-task", cls=Command, hidden=True)
@click.argument("index", type=int)
def sweep_task(index):
    """Run point INDEX of the grid on standard input ({index: {name, changes}}), in this
    clone: what each task of mnist-vae sweep --slurm runs."""
    import json
    import sys

    from mnist_vae.sweeps import task

    point = json.load(sys.stdin)[str(index)]
    task.run(point["name"], point["changes"])


@main.command("team-account", cls=Command)
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="What it may do.")
def team_account(username, role):
    """Give USERNAME a ROLE on the team's MLflow server (MLFLOW_TRACKING_URI), run as its
    admin. A new account's password (12 characters or more) is asked for, or read from
    standard input when that is a pipe, never taken as an option: an option stays in the
    shell's history and shows in ps.

    reviewer: reads runs and models. trainer: also creates runs and model versions.
    maintainer: also moves the registered model's aliases, @champion among them.
    """
    import sys

    from mnist_vae.tracking import accounts

    def password():
        if not sys.stdin.isatty():
            return sys.stdin.readline().rstrip("\n")
        return click.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True)

    opened = accounts.grant(username, role, password)
    click.echo(f"{username}: {role}{' (new account)' if opened else ''}")
