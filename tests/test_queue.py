"""A queued sweep run by two DVC queue workers into one SQLite store, compared with MLflow."""

import json
import time

import mlflow
import pytest
from pipeline_repo import dvc, git, make_repo

pytestmark = pytest.mark.slow

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

    dvc(repo, "queue", "start", "-j", "2")
    status = _wait_for_queue(repo)

    assert status.count("Success") == len(SWEEP), status
    for name in SWEEP:
        log = dvc(repo, "queue", "logs", name)
        assert "database is locked" not in log and "Traceback" not in log, log
    shown = _experiments(json.loads(dvc(repo, "exp", "show", "--json")))
    assert set(shown) == set(SWEEP)
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["mnist-vae"], output_format="list")
    named = {run.info.run_name: run for run in runs if "dvc.exp_name" in run.data.tags}
    assert set(named) == set(SWEEP)
    for name, (params, metrics) in shown.items():
        run = named[name]
        assert run.info.status == "FINISHED"
        assert run.data.tags["dvc.exp_name"] == name
        assert run.data.tags["dvc.baseline_rev"] == baseline
        for key in ("train.latent_dim", "train.learning_rate"):
            assert run.data.params[key] == str(params[key]), key
        for key, value in metrics.items():
            assert run.data.metrics[f"test.{key}"] == pytest.approx(value), key
    versions = mlflow.MlflowClient().search_model_versions("name = 'mnist-vae'")
    assert len(versions) == 1 + len(SWEEP)


def _wait_for_queue(repo, timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status")
        if not any(word in status for word in ("Queued", "Running")):
            return status
        time.sleep(3)
    dvc(repo, "queue", "stop", "--kill")
    raise AssertionError(f"the queue did not finish in {timeout} s:\n{status}")


def _experiments(shown: list) -> dict[str, tuple[dict, dict]]:
    """``dvc exp show --json`` as {name: (train params, test metrics)}."""
    found = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                data = rev["data"]
                params = data["params"]["params.yaml"]["data"]["train"]
                metrics = data["metrics"]["metrics/evaluate.json"]["data"]["test"]
                found[rev["name"]] = (
                    {f"train.{key}": value for key, value in params.items()},
                    metrics,
                )
    return found
