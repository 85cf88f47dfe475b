"""One point of a sweep, as a Slurm array task runs it (``python -m mnist_vae sweep-task``):
inside a fresh clone at the sweep's commit, prepare's outputs pulled from the DVC remote,
the point run with ``dvc exp run`` (which logs to the team's MLflow server,
``MLFLOW_TRACKING_URI``), and the experiment pushed back to the git remote the clone came
from, its outputs to the DVC remote. A point whose run fails pushes nothing: its MLflow
run says why."""

import os
import sys

from mnist_vae import dvc_command


def run(name: str, changes: list[str]) -> None:
    print(f"{name} on {os.uname().nodename}: dvc pull prepare", file=sys.stderr, flush=True)
    dvc_command.run("pull", "prepare")
    dvc_command.run("exp", "run", "-n", name, *(a for c in changes for a in ("-S", c)))
    dvc_command.run("exp", "push", "origin", name)
    print(f"{name}: pushed to origin", file=sys.stderr, flush=True)
