"""Every model variant and research preset, queued and run by two DVC queue workers into
one SQLite store, on the small data, and compared with MLflow.

Presets are queued by ``mnist-vae preset`` with one short epoch, so each one runs end to
end as a DVC experiment; the variants by ``dvc exp run --queue``. Together they take
every code path of the model: each likelihood, binarization and objective, the beta-VAE,
the conditional model, and the paper's schedule and output bias."""

import os
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import pytest
from pipeline_repo import dvc, experiments, git, make_repo, run, user_env

from mnist_vae import presets

pytestmark = pytest.mark.slow

WORKER_GRACE = 15  # seconds for idle workers to notice `dvc queue stop`

# Three variants take every path the presets do not (a diverse pair each, for time).
VARIANTS = {
    "static-beta": {"binarize": "static", "beta": 4.0, "activation": "elu", "hidden_layers": 1},
    "dynamic-gaussian": {
        "binarize": "dynamic",
        "likelihood": "gaussian",
        "decoder_std": 0.5,
        "activation": "tanh",
    },
    "conditional": {"conditional": True, "latent_dim": 2, "classification_weight": 2.0},
}
# A preset's protocol on the small data: its settings, but a single short epoch.
SHORT = {"train.epochs": 1, "train.batch_size": 50, "evaluate.iw_samples": 10}
SWEEP = {
    **{name: {f"train.{k}": v for k, v in changes.items()} for name, changes in VARIANTS.items()},
    **{name: {**changes, **SHORT} for name, changes in presets.load().items()},
}
PLOTS = ("loss_curves", "reconstructions", "latent_space", "interpolation", "samples", "manifold")


def test_queued_sweep_with_two_workers_lands_in_dvc_and_mlflow(tmp_path, mnist_dir):
    repo = make_repo(tmp_path / "repo")
    dvc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    baseline = git(repo, "rev-parse", "HEAD").strip()
    short = [f"-S{key}={value}" for key, value in SHORT.items()]
    for name in presets.load():
        run(repo, "mnist-vae", "preset", name, "--queue", *short)
    for name in VARIANTS:
        sets = [f"-S{key}={presets.spell(value)}" for key, value in SWEEP[name].items()]
        dvc(repo, "exp", "run", "--queue", "-n", name, *sets)

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
    client = mlflow.MlflowClient()
    for name, data in shown.items():
        _check_experiment(client, name, data, named[name], baseline)
    versions = client.search_model_versions("name = 'mnist-vae'")
    assert len(versions) == 1 + len(SWEEP)


def _check_experiment(client, name: str, data: dict, mlflow_run, baseline: str) -> None:
    """DVC and MLflow hold the same params and metrics, and every plot."""
    params = data["params"]["params.yaml"]["data"]
    scores = data["metrics"]["metrics/evaluate.json"]["data"]["test"]
    assert scores["iw_nll"] <= scores["neg_elbo"]
    assert ("accuracy" in scores) == (name == "conditional")
    assert set(data["outs"]) >= {f"plots/{plot}.png" for plot in PLOTS}
    assert mlflow_run.info.status == "FINISHED"
    assert mlflow_run.data.tags["dvc.exp_name"] == name
    assert mlflow_run.data.tags["dvc.baseline_rev"] == baseline
    for key, value in SWEEP[name].items():
        section, field = key.split(".")
        assert params[section][field] == value, f"{name}: {key}"
        if section == "train":
            # As params.yaml and `dvc exp show` spell them: true, not True.
            assert mlflow_run.data.params[key] == presets.spell(value), f"{name}: {key}"
    for key, value in scores.items():
        assert mlflow_run.data.metrics[f"test.{key}"] == pytest.approx(value), key
    artifacts = {a.path for a in client.list_artifacts(mlflow_run.info.run_id)}
    assert artifacts >= {f"{plot}.png" for plot in PLOTS}
    train = params["train"]
    on_elbo = train["objective"] == "elbo" or train["epochs"] <= train["elbo_epochs"]
    suffix = "elbo" if on_elbo else f"iwae_k{train['samples']}"
    steps = client.get_metric_history(mlflow_run.info.run_id, f"val_loss_{suffix}")
    assert [m.step for m in steps] == list(range(1, train["epochs"] + 1))


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
