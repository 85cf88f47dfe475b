"""A queued sweep run by two DVC queue workers into one SQLite store, compared with MLflow."""

import os
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import pytest
from pipeline_repo import dvc, experiments, git, make_repo, user_env

pytestmark = pytest.mark.slow

WORKER_GRACE = 15  # seconds for idle workers to notice `dvc queue stop`

SWEEP = {
    "lat2": ["train.latent_dim=2"],
    "lat3": ["train.latent_dim=3"],
    "fast": ["train.learning_rate=0.003"],
}


def test_queued_sweep_with_two_workers_lands_in_dvc_and_mlflow(tmp_path, mnist_dir):
    repo = make_repo(tmp_path / "repo")
    dvc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    baseline = git(repo, "rev-parse", "HEAD").strip()
    for name, overrides in SWEEP.items():
        dvc(repo, "exp", "run", "--queue", "-n", name, *(f"-S{o}" for o in overrides))

    _start_workers(repo)
    try:
        status = _wait_for_queue(repo)
    finally:
        _stop_workers(repo)

    assert status.count("Success") == len(SWEEP), status
    for name in SWEEP:
        log = dvc(repo, "queue", "logs", name)
        assert "database is locked" not in log and "Traceback" not in log, log
    shown = experiments(repo)
    assert set(shown) == set(SWEEP)
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["mnist-vae"], output_format="list")
    named = {run.info.run_name: run for run in runs if "dvc.exp_name" in run.data.tags}
    assert set(named) == set(SWEEP)
    for name, data in shown.items():
        params = data["params"]["params.yaml"]["data"]["train"]
        metrics = data["metrics"]["metrics/evaluate.json"]["data"]["test"]
        run = named[name]
        assert run.info.status == "FINISHED"
        assert run.data.tags["dvc.exp_name"] == name
        assert run.data.tags["dvc.baseline_rev"] == baseline
        for key in ("latent_dim", "learning_rate"):
            assert run.data.params[f"train.{key}"] == str(params[key]), key
        for key, value in metrics.items():
            assert run.data.metrics[f"test.{key}"] == pytest.approx(value), key
    versions = mlflow.MlflowClient().search_model_versions("name = 'mnist-vae'")
    assert len(versions) == 1 + len(SWEEP)


def _start_workers(repo: Path) -> None:
    """``dvc queue start -j 2``. It leaves its workers running in the background with its
    own stdout, so its output goes to a file: read through a pipe, it would not end before
    they do."""
    with (repo.parent / "queue-start.log").open("w") as log:
        command = ["dvc", "queue", "start", "-j", "2"]
        subprocess.run(command, cwd=repo, env=user_env(), stdout=log, stderr=log, check=True)


def _stop_workers(repo: Path) -> None:
    """Stops the workers, as the queue's own idle timeout would. A DVC worker sometimes
    hangs in its own shutdown ("shutting down due to empty queue" logged while a task still
    ran) and then ignores ``dvc queue stop --kill`` too; it is ended through its pid file."""
    dvc(repo, "queue", "stop")
    pid_files = (repo / ".dvc" / "tmp" / "exps" / "celery").glob("dvc-exp-worker-*.pid")
    alive = {int(path.read_text()) for path in pid_files}
    deadline = time.monotonic() + WORKER_GRACE
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if _signal(pid, 0)}
        time.sleep(0.5)
    for pid in alive:
        _signal(pid, signal.SIGTERM)


def _signal(pid: int, number: int) -> bool:
    """Sends ``number`` to ``pid``; False if there is no such process."""
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        return False
    return True


def _wait_for_queue(repo, timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status")
        if not any(word in status for word in ("Queued", "Running")):
            return status
        time.sleep(3)
    dvc(repo, "queue", "stop", "--kill")
    raise AssertionError(f"the queue did not finish in {timeout} s:\n{status}")
