"""One pipeline-like writer: opens a run in the store and logs many steps into it.

Run by test_store.py as several processes at once against one fresh SQLite store.
"""

import sys

from mnist_vae.tracking import mlflow_experiment, runs

name, steps = sys.argv[1], int(sys.argv[2])
mlflow_experiment.configure()
with runs.start_run({"writer": name}, tags={}) as run:
    for step in range(steps):
        run.metrics({"loss": float(step)}, step=step)
