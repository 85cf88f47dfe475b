"""Parallel writers to one SQLite store, as ``dvc queue start -j 2`` runs them."""

import os
import signal
import subprocess
import sys
import threading
import time

import mlflow
import pytest
from conftest import ROOT

from mnist_vae.errors import Terminated
from mnist_vae.tracking import store

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


def test_a_signal_during_a_store_call_waits_until_the_call_returns():
    """Interrupted halfway, a write would keep the database locked against the writes
    that end the run as KILLED. Another thread runs, as TensorFlow's do, so the kernel
    may hand the signal to it rather than to the thread that makes the call."""
    other = threading.Event()
    threading.Thread(target=other.wait, daemon=True).start()
    finished = []

    def write() -> str:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
        finished.append("write")
        return "written"

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        with pytest.raises(Terminated):
            store.retrying(write)
    finally:
        signal.signal(signal.SIGTERM, previous)
        other.set()
    assert finished == ["write"]
