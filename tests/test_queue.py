"""A sweep queued and run by two DVC queue workers into one SQLite store, on the small
data, and compared with MLflow.

Every research preset is queued by ``mnist-vae preset`` with one short epoch, and checked
against the params DVC queued for it. Run end to end, one worker each, are one preset on
the IWAE bound and one variant, which together take every code path of the model that
``test_pipeline.py``'s default run does not: the other likelihood and binarizations, the
IWAE objective, the beta-VAE, the conditional model, and the paper's schedule and output
bias. The other presets differ from the one run only in numbers (batch size, k, epochs),
which the short run overrides anyway."""

import os
import re
import signal
import subprocess
import time
import warnings
from itertools import pairwise
from pathlib import Path

import mlflow
import pytest
from pipeline_repo import dvc, experiments, git, make_repo, run, user_env

from mnist_vae import config, presets

pytestmark = pytest.mark.slow

WORKERS = 2
WORKER_GRACE = 15  # seconds for idle workers to notice `dvc queue stop`
# A guard against a hang: the sweep took under 5 minutes on a 2-core AMD EPYC Zen 3 (the
# slowest CPU measured) with two workers beside another test, so a run on one worker, as
# DVC sometimes leaves it, still ends well inside.
QUEUE_TIMEOUT = 1200
STATUS_EVERY = 20  # seconds between reads of `dvc queue status` while the queue runs

# A variant that takes every path the preset run does not.
VARIANTS = {
    "conditional-gaussian-static-beta": {
        "conditional": True,
        "latent_dim": 2,
        "classification_weight": 2.0,
        "likelihood": "gaussian",
        "decoder_std": 0.5,
        "binarize": "static",
        "beta": 4.0,
        "activation": "elu",
        "hidden_layers": 1,
    },
}
RUN_PRESET = "paper-iwae-k5"
# A preset's protocol on the small data: its settings, but a single short epoch.
SHORT = {"train.epochs": 1, "train.batch_size": 50, "evaluate.iw_samples": 10}
QUEUED = {
    **{name: {f"train.{k}": v for k, v in changes.items()} for name, changes in VARIANTS.items()},
    **{name: {**changes, **SHORT} for name, changes in presets.load().items()},
}
SWEEP = {name: QUEUED[name] for name in (RUN_PRESET, *VARIANTS)}
PLOTS = ("loss_curves", "reconstructions", "latent_space", "interpolation", "samples", "manifold")


def test_queued_sweep_with_two_workers_lands_in_dvc_and_mlflow(tmp_path, mnist_dir):
    repo = make_repo(tmp_path / "repo")
    dvc(repo, "repro", "prepare")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    baseline = git(repo, "rev-parse", "HEAD").strip()
    short = [f"-S{key}={value}" for key, value in SHORT.items()]
    for name in presets.load():
        run(repo, "mnist-vae", "preset", name, "--queue", *short)
    for name in VARIANTS:
        sets = [f"-S{key}={str(config.spell(value))}" for key, value in QUEUED[name].items()]
        dvc(repo, "exp", "run", "--queue", "-n", name, *sets)
    for name, data in experiments(repo).items():
        _check_params(name, data["params"]["params.yaml"]["data"])
    dvc(repo, "queue", "remove", *(name for name in QUEUED if name not in SWEEP))

    status, restarts = _run_queue(repo, baseline)

    if restarts:
        warnings.warn(
            f"DVC's queue lost {restarts} worker(s) with tasks still queued, and `dvc "
            f"queue start -j {WORKERS}` started them again (docs/team-workflow.md)",
            stacklevel=1,
        )
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
    assert len(client.search_model_versions("name = 'mnist-vae'")) == len(SWEEP)
    assert _overlapping(named.values()), "no two experiments of the sweep ran at once"


def _check_params(name: str, params: dict) -> None:
    """What DVC holds for the experiment is what the preset or variant set."""
    for key, value in QUEUED[name].items():
        section, field = key.split(".")
        assert params[section][field] == value, f"{name}: {key}"


def _overlapping(runs) -> bool:
    """Whether two of the runs were open at the same time."""
    spans = sorted((run.info.start_time, run.info.end_time) for run in runs)
    return any(later[0] < earlier[1] for earlier, later in pairwise(spans))


def _check_experiment(client, name: str, data: dict, mlflow_run, baseline: str) -> None:
    """DVC and MLflow hold the same params and metrics, and every plot."""
    params = data["params"]["params.yaml"]["data"]
    scores = data["metrics"]["metrics/evaluate.json"]["data"]["test"]
    assert scores["iw_nll"] <= scores["neg_elbo"]
    assert ("accuracy" in scores) == params["train"]["conditional"]
    assert set(data["outs"]) >= {f"plots/{plot}.png" for plot in PLOTS}
    assert mlflow_run.info.status == "FINISHED"
    assert mlflow_run.data.tags["dvc.exp_name"] == name
    assert mlflow_run.data.tags["dvc.baseline_rev"] == baseline
    _check_params(name, params)
    for key, value in SWEEP[name].items():
        if key.startswith("train."):
            # As params.yaml and `dvc exp show` spell them: true, not True.
            assert mlflow_run.data.params[key] == str(config.spell(value)), f"{name}: {key}"
    for key, value in scores.items():
        assert mlflow_run.data.metrics[f"test.{key}"] == pytest.approx(value), key
    artifacts = {a.path for a in client.list_artifacts(mlflow_run.info.run_id)}
    assert artifacts >= {f"{plot}.png" for plot in PLOTS}
    train = params["train"]
    on_elbo = train["objective"] == "elbo" or train["epochs"] <= train["elbo_epochs"]
    suffix = "elbo" if on_elbo else f"iwae_k{train['samples']}"
    steps = client.get_metric_history(mlflow_run.info.run_id, f"val_loss_{suffix}")
    assert [m.step for m in steps] == list(range(1, train["epochs"] + 1))


def _run_queue(repo: Path, baseline: str) -> tuple[str, int]:
    """Runs the queue to its end with two workers; returns its last status and how many
    workers had to be started again."""
    _start_workers(repo)
    try:
        return _wait_for_queue(repo, baseline)
    finally:
        _stop_workers(repo)


def _start_workers(repo: Path) -> int:
    """``dvc queue start -j 2``, which starts only the workers that are not running;
    returns how many it started. It leaves them running in the background with its own
    stdout, so its output goes to a file: read through a pipe, it would not end before
    they do."""
    log = repo.parent / "queue-start.log"
    with log.open("w") as out:
        command = ["dvc", "queue", "start", "-j", str(WORKERS)]
        subprocess.run(command, cwd=repo, env=user_env(), stdout=out, stderr=out, check=True)
    return int(re.search(r"Started '(\d+)' new", log.read_text())[1])


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


def _wait_for_queue(repo: Path, baseline: str) -> tuple[str, int]:
    """Waits for every task to end. DVC 3.67 sometimes loses a worker, or never starts
    the second one (treeverse/dvc#10562), while tasks are still queued; it is then
    started again, and counted. (Its status can also miss a worker that is alive, whose
    reply came late; starting the workers then starts none.) ``dvc queue status`` costs
    a second of CPU that the workers need, so between its reads the wait counts the
    experiments' git refs, which every experiment of ``baseline`` writes when it ends well."""
    deadline = time.monotonic() + QUEUE_TIMEOUT
    refs = f"refs/exps/{baseline[:2]}/{baseline[2:]}/"
    restarts = 0
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status")
        if not any(word in status for word in ("Queued", "Running")):
            return status, restarts
        if "Queued" in status and _workers(status) < WORKERS:
            restarts += _start_workers(repo)
        _wait_for_refs(repo, refs, len(SWEEP), min(STATUS_EVERY, deadline - time.monotonic()))
    dvc(repo, "queue", "stop", "--kill")
    raise AssertionError(
        f"the queue did not finish in {QUEUE_TIMEOUT} s:\n{status}\n{_worker_logs(repo)}"
    )


def _wait_for_refs(repo: Path, prefix: str, count: int, seconds: float) -> None:
    """Waits up to ``seconds`` for ``count`` git refs under ``prefix``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(git(repo, "for-each-ref", prefix).splitlines()) >= count:
            return
        time.sleep(1)


def _workers(status: str) -> int:
    """The workers alive, busy or idle, from ``dvc queue status``'s last line."""
    found = re.search(r"Worker status: (\d+) active, (\d+) idle", status)
    return int(found[1]) + int(found[2]) if found else 0


def _worker_logs(repo: Path) -> str:
    """The last lines each worker logged: what it was doing when time ran out."""
    logs = sorted((repo / ".dvc" / "tmp" / "exps" / "celery").glob("dvc-exp-worker-*.out"))
    return "\n".join(
        f"{log.name}:\n" + "\n".join(log.read_text().splitlines()[-8:]) for log in logs
    )
