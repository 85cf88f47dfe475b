"""One point of a sweep, as a Slurm array task runs it: inside a fresh clone at the
sweep's commit, prepare's outputs pulled from the DVC remote, the point run with ``dvc exp
run`` (which logs to the team's MLflow server, ``MLFLOW_TRACKING_URI``), and the
experiment pushed back to the git remote the clone came from, its outputs to the DVC
remote. A point whose run fails pushes nothing: its MLflow run says why."""

import json
import os
import sys

import click

from mnist_vae import dvc_command
from mnist_vae.stage_command import Command


@click.command(cls=Command)
@click.argument("index", type=int)
def main(index):
    """Run point INDEX of the grid read from standard input ({index: {name, changes}})."""
    point = json.load(sys.stdin)[str(index)]
    name = point["name"]
    click.echo(f"{name} on {os.uname().nodename}: dvc pull prepare", err=True)
    dvc_command.run("pull", "prepare")
    sets = [arg for change in point["changes"] for arg in ("-S", change)]
    dvc_command.run("exp", "run", "-n", name, *sets)
    dvc_command.run("exp", "push", "origin", name)
    click.echo(f"{name}: pushed to origin", err=True)


if __name__ == "__main__":
    main()
