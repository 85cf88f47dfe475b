"""Stage processes as DVC starts them, and the MLflow store they write, for the tests that
signal, interrupt or outlive a stage."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT
from mlflow.tracking import MlflowClient
from reaping import started

from mnist_vae.tracking import store


def store_client(location: Path | str) -> MlflowClient:
    """A client that opens a SQLite store as the stages do, under their lock: polling a
    store that a stage is creating, MLflow would create its tables a second time."""
    if str(location).startswith("http"):
        return MlflowClient(location)
    uri = f"sqlite:///{location}"
    with store.created(uri):
        client = MlflowClient(uri)
        client.search_experiments(max_results=1)
    return client


def store_runs(location: Path | str, filter_string: str = "", oldest_first: bool = False) -> list:
    """The runs of the experiment ``mnist-vae``, none where it does not exist yet; newest
    first, as MLflow lists them, unless ``oldest_first``."""
    client = store_client(location)
    experiment = client.get_experiment_by_name("mnist-vae")
    if experiment is None:
        return []
    order = ["attributes.start_time"] if oldest_first else None
    return client.search_runs([experiment.experiment_id], filter_string, order_by=order)


def stage_process(
    stage: str, args: list[str], backend: str = "tensorflow", **env: str
) -> subprocess.Popen:
    """A stage as DVC starts it: its own process, its errors on stderr; killed, if still
    running, when the test ends."""
    return started(
        subprocess.Popen(
            [sys.executable, str(ROOT / "stages" / f"{stage}.py"), *args],
            env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "KERAS_BACKEND": backend, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_as_from_a_terminal,
        )
    )


def _as_from_a_terminal() -> None:
    """SIGINT as a terminal delivers it: a shell starting a job in the background (``&``,
    as a CI runner may) has it ignored, and Python keeps an inherited ignore."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(
    condition, process: subprocess.Popen, what: str, timeout: float = 240, every: float = 0.2
) -> None:
    """Waits until ``condition()`` holds while the stage ``process`` runs, looking
    ``every`` seconds. The timeout guards against a hang only: a tiny model reaches any of
    these points within seconds, also on the slowest CPU measured (an AMD EPYC Zen 3)
    beside another test."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"ended before {what}: " + process.stderr.read()
        assert time.monotonic() < deadline, f"no {what} in {timeout} s; the stage still runs"
        time.sleep(every)
