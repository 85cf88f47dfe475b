"""Parallel writers to one SQLite store, as ``dvc queue start -j 2`` runs them."""

import subprocess
import sys

import mlflow
from conftest import ROOT

STEPS = 40


def test_two_writers_create_and_share_a_fresh_store(mlflow_store):
    """Without the lock around its creation, both would migrate the new schema at once,
    and one would fail ("duplicate column name", "database is locked")."""
    writer = [sys.executable, ROOT / "tests" / "store_writer.py"]
    processes = [
        subprocess.Popen([*writer, name, str(STEPS)], stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    errors = [process.communicate()[1] for process in processes]

    assert [process.returncode for process in processes] == [0, 0], errors
    assert not any("database is locked" in error for error in errors)
    client = mlflow.MlflowClient(f"sqlite:///{mlflow_store}")
    experiment = client.get_experiment_by_name("mnist-vae")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.data.params["writer"] for run in runs) == ["a", "b"]
    for run in runs:
        assert run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "loss")
        assert sorted(m.step for m in history) == list(range(STEPS))
