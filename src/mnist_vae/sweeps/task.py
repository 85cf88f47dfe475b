"""One point of a sweep, as a Slurm array task runs it (``python -m mnist_vae sweep-task``):
inside a fresh clone at the sweep's commit, prepare's outputs pulled from the DVC remote,
the point run with ``dvc exp run`` (which logs to the team's MLflow server,
``MLFLOW_TRACKING_URI``), and the experiment pushed back to the git remote the clone came
from, its outputs to the DVC remote. A point whose run fails pushes nothing: its MLflow
run says why. Each step's time goes to the task's log: what leaving the machine costs."""

import os
import sys
import time

from mnist_vae import dvc_command


def run(name: str, changes: list[str]) -> None:
    print(f"{name} on {os.uname().nodename}", file=sys.stderr, flush=True)
    _timed("dvc pull prepare", "pull", "prepare")
    _timed("dvc exp run", "exp", "run", "-n", name, *dvc_command.set_options(changes))
    _timed("dvc exp push", "exp", "push", "origin", name)


def _timed(what: str, *args: str) -> None:
    start = time.monotonic()
    dvc_command.run(*args)
    print(f"{what}: {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
